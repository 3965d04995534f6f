//! Integration tests of the MPPI and CEM planners on problems with a known optimum.
//!
//! Main problem: a 2-D point mass `s' = s + a` (`LinearWorldModel` with A = I, B = I),
//! `s0 = (0, 0)`, goal `g = (3, −2)`, `‖a_t‖ ≤ 1`, horizon 8, cost `Σ_{t=1}^{8} ‖s_t − g‖²`.
//! Since `‖s_t‖ ≤ t`, each term is minimised on its own by moving straight to the goal at
//! full speed, so `C* = Σ_{t=1}^{3} (‖g‖ − t)² = (√13−1)² + (√13−2)² + (√13−3)² ≈ 9.7334`;
//! a projected-gradient solver below confirms it.
//!
//! The one-shot tests run 20 iterations instead of the default 6: a single cold-started plan
//! call needs them to get within 3% of `C*`; in the MPC loop the warm start supplies them.

use ami_agent::{
    project_to_ball, AgentError, Cem, CemConfig, Cost, CostKind, GoalDistance, LinearWorldModel,
    Mppi, MppiConfig, Plan, Planner, WorldModel,
};

const GOAL: [f32; 2] = [3.0, -2.0];
const H: usize = 8;
const MAX_NORM: f32 = 1.0;

fn point_mass() -> LinearWorldModel {
    LinearWorldModel::point_mass(2).expect("valid point mass")
}

fn goal_cost(goal: &[f32]) -> Cost {
    let term = GoalDistance::new(goal.to_vec())
        .expect("finite goal")
        .squared(true);
    Cost::new()
        .with_term(CostKind::Task, 1.0, term)
        .expect("valid term")
}

const ITERATIONS: usize = 20;

fn mppi(horizon: usize, seed: u64) -> Mppi {
    Mppi::new(MppiConfig {
        horizon,
        seed,
        iterations: ITERATIONS,
        max_action_norm: MAX_NORM,
        ..MppiConfig::default()
    })
    .expect("valid config")
}

fn cem(horizon: usize, seed: u64) -> Cem {
    Cem::new(CemConfig {
        horizon,
        seed,
        iterations: ITERATIONS,
        max_action_norm: MAX_NORM,
        ..CemConfig::default()
    })
    .expect("valid config")
}

fn planners(horizon: usize, seed: u64) -> Vec<(&'static str, Box<dyn Planner>)> {
    vec![
        ("mppi", Box::new(mppi(horizon, seed))),
        ("cem", Box::new(cem(horizon, seed))),
    ]
}

/// Planners with default settings apart from the horizon.
fn default_planners(horizon: usize) -> Vec<(&'static str, Box<dyn Planner>)> {
    let m = MppiConfig {
        horizon,
        ..MppiConfig::default()
    };
    let c = CemConfig {
        horizon,
        ..CemConfig::default()
    };
    vec![
        ("mppi", Box::new(Mppi::new(m).expect("valid config"))),
        ("cem", Box::new(Cem::new(c).expect("valid config"))),
    ]
}

fn dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

/// Projected gradient descent on `Σ_t ‖s_t − g‖²`, `s_t = s0 + Σ_{k≤t} a_k`:
/// `∂C/∂a_k = Σ_{t≥k} 2 (s_t − g)`.
fn optimal_cost_pgd(s0: &[f32], goal: &[f32], h: usize) -> f64 {
    let d = s0.len();
    let mut a = vec![0.0f32; h * d];
    let cost = |a: &[f32]| -> (f64, Vec<f32>) {
        let mut s = s0.to_vec();
        let mut resid = vec![0.0f32; h * d];
        let mut c = 0.0f64;
        for t in 0..h {
            for j in 0..d {
                s[j] += a[t * d + j];
                resid[t * d + j] = s[j] - goal[j];
                c += f64::from(resid[t * d + j]).powi(2);
            }
        }
        (c, resid)
    };
    for _ in 0..20_000 {
        let (_, resid) = cost(&a);
        let mut acc = vec![0.0f32; d];
        for k in (0..h).rev() {
            for j in 0..d {
                acc[j] += 2.0 * resid[k * d + j];
                a[k * d + j] -= 0.01 * acc[j];
            }
        }
        project_to_ball(&mut a, d, MAX_NORM);
    }
    cost(&a).0
}

fn assert_within_bounds(name: &str, plan: &Plan) {
    for (t, a_t) in plan.actions.chunks(2).enumerate() {
        let n = dist(a_t, &[0.0, 0.0]);
        assert!(n <= MAX_NORM * (1.0 + 1e-6), "{name}: ‖a_{t}‖ = {n}");
    }
}

#[test]
fn reference_optimum_matches_hand_computation() {
    let g = 13f64.sqrt();
    let hand = (g - 1.0).powi(2) + (g - 2.0).powi(2) + (g - 3.0).powi(2);
    let pgd = optimal_cost_pgd(&[0.0, 0.0], &GOAL, H);
    assert!((pgd - hand).abs() < 1e-3, "pgd {pgd} vs hand {hand}");
}

#[test]
fn point_mass_reaches_goal_near_optimal_cost() {
    let optimum = optimal_cost_pgd(&[0.0, 0.0], &GOAL, H) as f32;
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    for seed in [1, 7, 42] {
        for (name, mut p) in planners(H, seed) {
            let plan = p.plan(&[0.0, 0.0], &cost, &model).expect("plan");
            let last = &plan.predicted_states[(H - 1) * 2..];
            eprintln!(
                "{name} seed {seed}: cost {} (C* {optimum}), s_H {last:?}",
                plan.cost
            );
            assert_eq!(
                (plan.actions.len(), plan.predicted_states.len()),
                (H * 2, H * 2)
            );
            assert_eq!(plan.iterations, ITERATIONS);
            assert!(dist(last, &GOAL) < 0.1, "{name}: final state {last:?}");
            assert!(
                plan.cost <= optimum * 1.03,
                "{name}: {} vs {optimum}",
                plan.cost
            );
            assert!(
                plan.cost >= optimum * (1.0 - 1e-4),
                "{name}: below the optimum?"
            );
            assert_within_bounds(name, &plan);
            let total: f32 = plan.cost_breakdown.iter().map(|(_, v)| v).sum();
            assert!(
                (total - plan.cost).abs() < 1e-4 * plan.cost,
                "{name}: breakdown"
            );
        }
    }
}

#[test]
fn same_seed_gives_same_plan() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    let mut mppis = [mppi(H, 3), mppi(H, 3), mppi(H, 4)];
    let mut cems = [cem(H, 3), cem(H, 3), cem(H, 4)];
    let check = |ps: &mut [&mut dyn Planner]| {
        let a = ps[0].plan(&[0.0, 0.0], &cost, &model).expect("plan");
        let b = ps[1].plan(&[0.0, 0.0], &cost, &model).expect("plan");
        let c = ps[2].plan(&[0.0, 0.0], &cost, &model).expect("plan");
        assert_eq!(a, b);
        assert_ne!(
            a.actions, c.actions,
            "a different seed should give a different plan"
        );
        // reset() returns the planner to its freshly built state.
        ps[0].reset();
        assert_eq!(ps[0].plan(&[0.0, 0.0], &cost, &model).expect("plan"), a);
    };
    let [m0, m1, m2] = &mut mppis;
    check(&mut [m0, m1, m2]);
    let [c0, c1, c2] = &mut cems;
    check(&mut [c0, c1, c2]);
}

#[test]
fn receding_horizon_loop_reaches_goal_within_ten_steps() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    for (name, mut p) in default_planners(H) {
        let mut s = vec![0.0f32, 0.0];
        let (mut reached, mut worst_after) = (None, 0.0f32);
        for step in 1..=10 {
            let plan = p.plan(&s, &cost, &model).expect("plan");
            assert_within_bounds(name, &plan);
            let mut next = vec![0.0; 2];
            model.step_into(&s, &plan.actions[..2], &mut next);
            s = next;
            p.shift(1);
            if reached.is_some() {
                worst_after = worst_after.max(dist(&s, &GOAL));
            } else if dist(&s, &GOAL) < 0.1 {
                reached = Some(step);
            }
        }
        eprintln!("{name}: reached at step {reached:?}, then within {worst_after}");
        assert!(reached.is_some(), "{name}: state after 10 steps {s:?}");
        // With default settings (6 iterations) the sampling noise makes the agent hover
        // within ~0.15 of the goal once there; it must not wander off.
        assert!(
            worst_after < 0.25,
            "{name}: wandered {worst_after} from the goal"
        );
    }
}

/// A world model whose predictions are NaN (e.g. a diverged network).
struct NanModel;

impl WorldModel for NanModel {
    fn state_dim(&self) -> usize {
        2
    }
    fn action_dim(&self) -> usize {
        2
    }
    fn rollout(&self, _: &[f32], _: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        Ok(vec![f32::NAN; n * h * 2])
    }
}

#[test]
fn nan_world_model_gives_error_not_nan_plan() {
    let cost = goal_cost(&GOAL);
    for (name, mut p) in planners(4, 0) {
        match p.plan(&[0.0, 0.0], &cost, &NanModel) {
            Err(AgentError::NonFinite { what }) => assert!(what.contains("cost"), "{name}: {what}"),
            other => panic!("{name}: expected NonFinite, got {other:?}"),
        }
    }
}

#[test]
fn mismatched_shapes_are_errors() {
    let model = point_mass();
    for (name, mut p) in planners(4, 0) {
        let err = p.plan(&[0.0; 3], &goal_cost(&GOAL), &model).unwrap_err();
        assert!(matches!(err, AgentError::Shape { .. }), "{name}: {err}");
        let err = p
            .plan(&[0.0; 2], &goal_cost(&[1.0; 3]), &model)
            .unwrap_err();
        assert!(err.to_string().contains("goal_distance"), "{name}: {err}");
    }
}

#[test]
fn one_step_unconstrained_optimum_is_found() {
    // h = 1: C(a) = ‖s0 + a − g‖², minimised at a* = g − s0 = (0.3, 0.4), ‖a*‖ = 0.5 < 1.
    let (s0, goal) = ([0.2f32, -0.1], [0.5f32, 0.3]);
    let (model, cost) = (point_mass(), goal_cost(&goal));
    for (name, mut p) in planners(1, 5) {
        let plan = p.plan(&s0, &cost, &model).expect("plan");
        eprintln!("{name}: a = {:?}, cost {}", plan.actions, plan.cost);
        assert!(
            dist(&plan.actions, &[0.3, 0.4]) < 1e-2,
            "{name}: {:?}",
            plan.actions
        );
        assert!(plan.cost < 1e-4, "{name}: cost {}", plan.cost);
    }
}

#[test]
fn shift_keeps_the_tail_of_the_plan() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    let mut p = mppi(H, 0);
    let plan = p.plan(&[0.0, 0.0], &cost, &model).expect("plan");
    p.shift(3);
    assert_eq!(&p.mean()[..(H - 3) * 2], &plan.actions[6..]);
    assert!(p.mean()[(H - 3) * 2..].iter().all(|&x| x == 0.0));
    let mut c = cem(H, 0);
    let plan = c.plan(&[0.0, 0.0], &cost, &model).expect("plan");
    c.shift(H + 1);
    assert!(c.mean().iter().all(|&x| x == 0.0));
    assert_ne!(plan.actions, c.mean());
}
