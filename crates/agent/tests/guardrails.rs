//! Guardrails against planners: a wall of guardrail cost across every path to the goal.
//!
//! Point mass `s' = s + a` (`‖a‖ ≤ 1`) from `(0, 0)` toward the goal `(6, 0)`; the hazard is
//! the strip `x ∈ [2, 3]` (all `y`), read through the identity probe, grown by the minimum
//! margin 0.5 to `x ∈ [1.5, 3.5]`. Every path to the goal crosses it, so the cheapest safe
//! plan stops short of it. Whatever the seed, no planner may return a plan flagged safe whose
//! imagined path meets the grown strip; and from a start inside the strip no plan is safe, so
//! the planner must say so and return the stop plan.

use std::sync::Arc;

use ami_agent::{
    Cem, CemConfig, Cost, CostKind, FixedCost, GoalDistance, HazardGuardrail, LinearWorldModel,
    Mppi, MppiConfig, Planner, StateBox, StateProbe,
};

fn identity_probe() -> Arc<StateProbe> {
    Arc::new(StateProbe {
        repr_dim: 2,
        state_dim: 2,
        weights: vec![1.0, 0.0, 0.0, 1.0],
        bias: vec![0.0, 0.0],
        ridge: 0.0,
        error: None,
        names: Vec::new(),
        feature_p99: Vec::new(),
    })
}

fn strip() -> StateBox {
    StateBox {
        lo: vec![2.0, -1e6],
        hi: vec![3.0, 1e6],
    }
}

fn guarded_cost() -> Cost {
    let guard = HazardGuardrail::new(identity_probe(), &[strip()], 0.0).unwrap();
    let fixed = FixedCost::builder().guardrail(guard).unwrap().build();
    Cost::with_fixed(fixed)
        .with_term(
            CostKind::Task,
            1.0,
            GoalDistance::new(vec![6.0, 0.0]).unwrap(),
        )
        .unwrap()
}

fn planners(seed: u64) -> Vec<(&'static str, Box<dyn Planner>)> {
    vec![
        (
            "mppi",
            Box::new(
                Mppi::new(MppiConfig {
                    horizon: 8,
                    seed,
                    max_action_norm: 1.0,
                    ..MppiConfig::default()
                })
                .unwrap(),
            ),
        ),
        (
            "cem",
            Box::new(
                Cem::new(CemConfig {
                    horizon: 8,
                    seed,
                    max_action_norm: 1.0,
                    ..CemConfig::default()
                })
                .unwrap(),
            ),
        ),
    ]
}

/// Whether the path `s0 → states[0] → states[1] → …` meets the grown strip.
fn path_meets_grown_strip(s0: &[f32], states: &[f32]) -> bool {
    let grown = strip().expanded(0.5);
    let mut prev = s0.to_vec();
    states.chunks(2).any(|p| {
        let hit = grown.meets_segment(&prev, p);
        prev = p.to_vec();
        hit
    })
}

#[test]
fn a_wall_of_guardrail_cost_is_never_crossed_by_a_safe_plan() {
    let model = LinearWorldModel::point_mass(2).unwrap();
    let cost = guarded_cost();
    let s0 = [0.0, 0.0];
    for seed in 0..10 {
        for (name, mut p) in planners(seed) {
            // Several MPC calls, so warm starts that point at the goal are tested too.
            let mut s = s0.to_vec();
            for call in 0..4 {
                let plan = p.plan(&s, &cost, &model).unwrap();
                assert!(
                    !path_meets_grown_strip(&s, &plan.predicted_states),
                    "{name} seed {seed} call {call}: plan flagged safe={} crosses the wall",
                    plan.safe
                );
                if call == 0 {
                    assert!(
                        plan.safe,
                        "{name} seed {seed}: a safe plan exists (stay left)"
                    );
                }
                if !plan.safe {
                    assert!(
                        plan.actions.iter().all(|&a| a == 0.0),
                        "{name}: not the stop plan"
                    );
                }
                s = plan.predicted_states[..2].to_vec();
                p.shift(1);
            }
            // It gets as close as the margin allows: x close to 1.5, never beyond.
            assert!(s[0] < 1.5 && s[0] > 0.5, "{name} seed {seed}: {s:?}");
        }
    }
}

#[test]
fn with_no_safe_candidate_the_planner_says_so_and_stops() {
    let model = LinearWorldModel::point_mass(2).unwrap();
    let cost = guarded_cost();
    for (name, mut p) in planners(3) {
        // Inside the grown strip: every path starts in it.
        let plan = p.plan(&[2.5, 0.0], &cost, &model).unwrap();
        assert!(!plan.safe, "{name}");
        assert!(
            plan.actions.iter().all(|&a| a == 0.0),
            "{name}: {:?}",
            plan.actions
        );
    }
}

#[test]
fn without_the_guardrail_the_same_planner_crosses() {
    // The ablation: the wall is what stops the plans above, not the horizon or the bound.
    let model = LinearWorldModel::point_mass(2).unwrap();
    let cost = Cost::new()
        .with_term(
            CostKind::Task,
            1.0,
            GoalDistance::new(vec![6.0, 0.0]).unwrap(),
        )
        .unwrap();
    for (name, mut p) in planners(0) {
        let plan = p.plan(&[0.0, 0.0], &cost, &model).unwrap();
        assert!(plan.safe, "{name}: no guardrail, nothing is unsafe");
        assert!(
            path_meets_grown_strip(&[0.0, 0.0], &plan.predicted_states),
            "{name}: an unguarded plan should head through x = 2..3"
        );
    }
}
