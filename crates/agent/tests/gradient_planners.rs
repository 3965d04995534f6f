//! The gradient planners (`gradient`, `cem+gradient`) on problems with a known optimum.
//!
//! Point mass `s' = s + a` (`LinearWorldModel::point_mass(2)`), `‖a_t‖ ≤ 1`:
//!
//! * horizon 8, `s0 = 0`, goal `g = (3, −2)`, cost `Σ_{t=1}^{8} ‖s_t − g‖²`: since `‖s_t‖ ≤ t`
//!   the optimum moves straight to the goal at full speed, `C* = Σ_{t=1}^{3} (√13 − t)² ≈
//!   9.7334` (as in `planners.rs`, where a projected-gradient solver confirms it);
//! * one step with an action penalty, `C(a) = ‖s0 + a − g‖² + λ ‖a‖²`: the unconstrained
//!   optimum `a* = (g − s0) / (1 + λ)` lies inside the ball, `C* = λ/(1 + λ) · ‖g − s0‖²`.

use ami_agent::pipeline::{Preset, RunConfig};
use ami_agent::{
    ActionEnergy, AgentError, Cem, CemConfig, CemGradient, CemGradientConfig, Cost, CostKind,
    GoalDistance, Gradient, GradientConfig, LinearWorldModel, Plan, PlanContext, Planner,
    PlannerConfig, WorldModel,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GOAL: [f32; 2] = [3.0, -2.0];
const H: usize = 8;

fn optimum() -> f32 {
    let g = 13f32.sqrt();
    (g - 1.0).powi(2) + (g - 2.0).powi(2) + (g - 3.0).powi(2)
}

fn point_mass() -> LinearWorldModel {
    LinearWorldModel::point_mass(2).unwrap()
}

fn goal_cost(goal: &[f32]) -> Cost {
    let term = GoalDistance::new(goal.to_vec()).unwrap().squared(true);
    Cost::new().with_term(CostKind::Task, 1.0, term).unwrap()
}

fn gradient(horizon: usize, cfg: GradientConfig) -> Gradient {
    Gradient::new(GradientConfig { horizon, ..cfg }).unwrap()
}

fn dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

fn max_action_norm(plan: &Plan, act_dim: usize) -> f32 {
    plan.actions
        .chunks(act_dim)
        .map(|a| dist(a, &vec![0.0; act_dim]))
        .fold(0.0, f32::max)
}

#[test]
fn gradient_planner_reaches_the_known_optimum_of_the_point_mass() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    for seed in [0, 9] {
        let cfg = GradientConfig {
            iterations: 60,
            seed,
            ..GradientConfig::default()
        };
        let plan = gradient(H, cfg).plan(&[0.0, 0.0], &cost, &model).unwrap();
        let last = &plan.predicted_states[(H - 1) * 2..];
        eprintln!(
            "seed {seed}: cost {} (C* {}), s_H {last:?}",
            plan.cost,
            optimum()
        );
        assert!(
            plan.cost <= optimum() * 1.005,
            "{} vs {}",
            plan.cost,
            optimum()
        );
        assert!(plan.cost >= optimum() * (1.0 - 1e-4), "below the optimum?");
        assert!(dist(last, &GOAL) < 0.1, "final state {last:?}");
        assert!(max_action_norm(&plan, 2) <= 1.0 + 1e-6);
        assert_eq!(plan.iterations, 60);
    }
}

#[test]
fn gradient_planner_finds_the_penalised_one_step_optimum() {
    let (s0, goal, lambda) = ([0.2f32, -0.1], [0.6f32, 0.2], 0.5f32);
    let cost = goal_cost(&goal)
        .with_term(CostKind::Task, lambda, ActionEnergy)
        .unwrap();
    let want: Vec<f32> = (0..2).map(|j| (goal[j] - s0[j]) / (1.0 + lambda)).collect();
    let c_star = lambda / (1.0 + lambda) * dist(&goal, &s0).powi(2);
    let cfg = GradientConfig {
        iterations: 100,
        ..GradientConfig::default()
    };
    let plan = gradient(1, cfg).plan(&s0, &cost, &point_mass()).unwrap();
    eprintln!(
        "a = {:?} (a* {want:?}), cost {} (C* {c_star})",
        plan.actions, plan.cost
    );
    assert!(dist(&plan.actions, &want) < 5e-3, "{:?}", plan.actions);
    assert!(
        (plan.cost - c_star).abs() < 1e-4,
        "{} vs {c_star}",
        plan.cost
    );
}

#[test]
fn actions_never_leave_the_ball_even_with_huge_steps() {
    // Random far goals, bounds and step sizes up to 50× the bound: every planned action of
    // every MPC step stays in ‖a_t‖ ≤ max_action_norm.
    let mut rng = StdRng::seed_from_u64(17);
    let model = point_mass();
    for case in 0..20 {
        let bound = rng.gen_range(0.1f32..3.0);
        let goal = [rng.gen_range(-40.0f32..40.0), rng.gen_range(-40.0f32..40.0)];
        let lr = rng.gen_range(0.01f32..50.0);
        let cfg = GradientConfig {
            horizon: 6,
            iterations: 5,
            lr,
            init_std: rng.gen_range(0.0f32..5.0),
            max_action_norm: bound,
            seed: case,
            ..GradientConfig::default()
        };
        let mut planners: Vec<Box<dyn Planner>> = vec![
            Box::new(Gradient::new(cfg.clone()).unwrap()),
            Box::new(
                CemGradient::new(CemGradientConfig {
                    horizon: 6,
                    max_action_norm: bound,
                    cem: CemConfig {
                        samples: 16,
                        elites: 4,
                        iterations: 2,
                        ..CemConfig::default()
                    },
                    gradient: cfg,
                })
                .unwrap(),
            ),
        ];
        let cost = goal_cost(&goal);
        for p in &mut planners {
            let mut s = vec![0.0f32, 0.0];
            for _ in 0..3 {
                let plan = p.plan(&s, &cost, &model).unwrap();
                let worst = max_action_norm(&plan, 2);
                assert!(
                    worst <= bound * (1.0 + 1e-6),
                    "case {case}: {worst} > {bound}"
                );
                s = plan.predicted_states[..2].to_vec();
                p.shift(1);
            }
        }
    }
}

#[test]
fn same_seed_same_plan_reset_restarts_and_shift_keeps_the_tail() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    let cfg = |seed| GradientConfig {
        seed,
        iterations: 5,
        ..GradientConfig::default()
    };
    let (mut a, mut b, mut c) = (
        gradient(H, cfg(3)),
        gradient(H, cfg(3)),
        gradient(H, cfg(4)),
    );
    let pa = a.plan(&[0.0, 0.0], &cost, &model).unwrap();
    assert_eq!(pa, b.plan(&[0.0, 0.0], &cost, &model).unwrap());
    assert_ne!(
        pa.actions,
        c.plan(&[0.0, 0.0], &cost, &model).unwrap().actions
    );
    // The warm start is the plan; shift drops its first rows.
    assert_eq!(a.mean(), &pa.actions[..]);
    a.shift(3);
    assert_eq!(&a.mean()[..(H - 3) * 2], &pa.actions[6..]);
    assert!(a.mean()[(H - 3) * 2..].iter().all(|&x| x == 0.0));
    a.reset();
    assert_eq!(a.plan(&[0.0, 0.0], &cost, &model).unwrap(), pa);
    // A second call from the warm start does not get worse (restart 0 is the warm start).
    let again = b.plan(&[0.0, 0.0], &cost, &model).unwrap();
    assert!(again.cost <= pa.cost, "{} > {}", again.cost, pa.cost);
}

#[test]
fn cem_gradient_is_never_worse_than_its_cem_stage_and_refines_it() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    for seed in [0, 5] {
        let cem = CemConfig {
            horizon: H,
            iterations: 3,
            samples: 64,
            elites: 8,
            seed,
            ..CemConfig::default()
        };
        let cem_plan = Cem::new(cem.clone())
            .unwrap()
            .plan(&[0.0, 0.0], &cost, &model)
            .unwrap();
        let mut hybrid = CemGradient::new(CemGradientConfig {
            horizon: H,
            cem,
            ..CemGradientConfig::default()
        })
        .unwrap();
        let plan = hybrid.plan(&[0.0, 0.0], &cost, &model).unwrap();
        eprintln!(
            "seed {seed}: CEM {} → CEM+gradient {} (C* {})",
            cem_plan.cost,
            plan.cost,
            optimum()
        );
        assert!(
            plan.cost < cem_plan.cost,
            "{} vs {}",
            plan.cost,
            cem_plan.cost
        );
        assert!(plan.cost >= optimum() * (1.0 - 1e-4));
        assert_eq!(plan.iterations, 3 + 10);
        assert_eq!(hybrid.mean(), &plan.actions[..]);
        hybrid.shift(H);
        assert!(hybrid.mean().iter().all(|&x| x == 0.0));
    }
}

fn context(horizon: usize) -> PlanContext {
    PlanContext {
        horizon,
        max_action_norm: 1.0,
        seed_offset: 11,
        action_set: None,
    }
}

#[test]
fn both_planners_build_by_kind_and_plan() {
    let (model, cost) = (point_mass(), goal_cost(&GOAL));
    for kind in ["gradient", "cem+gradient"] {
        assert!(PlannerConfig::KINDS.contains(&kind));
        let cfg = PlannerConfig::default_of(kind).unwrap();
        assert_eq!(cfg.kind(), kind);
        cfg.validate().unwrap();
        // The TOML form round-trips, with `kind` as the tag.
        let text = toml::to_string(&cfg).unwrap();
        assert!(text.contains(&format!("kind = \"{kind}\"")), "{text}");
        assert_eq!(toml::from_str::<PlannerConfig>(&text).unwrap(), cfg);
        let mut p = cfg.build(context(H)).unwrap();
        assert_eq!(p.horizon(), H);
        // With the default settings, the receding-horizon loop reaches the goal (4 steps at
        // full speed are the least possible) and stays near it: Adam's first steps have size
        // ≈ lr whatever the gradient's scale, so, like the sampling planners' noise in
        // `planners.rs`, a few Adam steps per call hover around the goal rather than sit on it.
        let (mut s, mut worst_after) = (vec![0.0f32, 0.0], 0.0f32);
        let mut reached = None;
        for step in 1..=10 {
            let plan = p.plan(&s, &cost, &model).unwrap();
            assert!(max_action_norm(&plan, 2) <= 1.0 + 1e-6);
            let mut next = vec![0.0; 2];
            model.step_into(&s, &plan.actions[..2], &mut next);
            s = next;
            p.shift(1);
            match reached {
                None if dist(&s, &GOAL) < 0.1 => reached = Some(step),
                None => {}
                Some(_) => worst_after = worst_after.max(dist(&s, &GOAL)),
            }
        }
        eprintln!("{kind}: reached the goal at step {reached:?}, then within {worst_after}");
        assert!(
            reached.is_some_and(|k| k <= 8),
            "{kind}: {reached:?}, at {s:?}"
        );
        assert!(
            worst_after < 0.25,
            "{kind}: wandered {worst_after} from the goal"
        );
    }
}

#[test]
fn run_config_selects_and_checks_the_new_planners_by_key() {
    let base = RunConfig::preset(Preset::Tiny);
    let set = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        base.clone()
            .with_overrides(&sets)
            .and_then(|c| c.validate().map(|_| c))
    };
    let c = set(&["planner.kind=\"gradient\"", "planner.iterations=7"]).unwrap();
    assert!(matches!(c.planner, PlannerConfig::Gradient(ref g) if g.iterations == 7));
    let c = set(&["planner.kind=\"cem+gradient\"", "planner.gradient.lr=0.3"]).unwrap();
    match &c.planner {
        PlannerConfig::CemGradient(h) => {
            assert_eq!(h.gradient.lr, 0.3);
            // Keys not set keep the cem+gradient defaults, not the gradient planner's.
            assert_eq!(
                h.gradient.samples,
                CemGradientConfig::default().gradient.samples
            );
        }
        other => panic!("{other:?}"),
    }
    for (sets, key) in [
        (
            &["planner.kind=\"gradient\"", "planner.lr=-1"][..],
            "gradient.lr",
        ),
        (
            &["planner.kind=\"gradient\"", "planner.beta2=1.0"],
            "gradient.beta2",
        ),
        (
            &["planner.kind=\"gradient\"", "planner.samples=0"],
            "gradient.samples",
        ),
        (
            &[
                "planner.kind=\"cem+gradient\"",
                "planner.gradient.iterations=0",
            ],
            "gradient.iterations",
        ),
        (
            &["planner.kind=\"cem+gradient\"", "planner.cem.elites=0"],
            "cem.elites",
        ),
        (&["planner.kind=\"gradient\"", "planner.lrate=1"], "lrate"),
        (
            &["planner.kind=\"cem+gradient\"", "planner.gradient.lrate=1"],
            "lrate",
        ),
        (&["planner.kind=\"adam\""], "cem+gradient, beam or mcts"),
    ] {
        let err = set(sets).unwrap_err().to_string();
        assert!(err.contains(key), "{sets:?}: {err}");
    }
}

/// A world model without a VJP.
struct Opaque;

impl WorldModel for Opaque {
    fn state_dim(&self) -> usize {
        2
    }
    fn action_dim(&self) -> usize {
        2
    }
    fn rollout(&self, s0: &[f32], _: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        Ok(s0.repeat(n * h))
    }
}

#[test]
fn gradient_planners_need_a_differentiable_model_and_cost() {
    for kind in ["gradient", "cem+gradient"] {
        let mut p = PlannerConfig::default_of(kind)
            .unwrap()
            .build(context(4))
            .unwrap();
        let err = p.plan(&[0.0, 0.0], &goal_cost(&GOAL), &Opaque).unwrap_err();
        assert!(
            matches!(&err, AgentError::ModelNotDifferentiable { model, .. } if model.contains("Opaque")),
            "{kind}: {err}"
        );
        struct Flat;
        impl ami_agent::CostTerm for Flat {
            fn name(&self) -> &str {
                "flat"
            }
            fn cost(&self, b: &ami_agent::RolloutBatch) -> Vec<f32> {
                vec![0.0; b.n()]
            }
        }
        let cost = Cost::new().with_term(CostKind::Task, 1.0, Flat).unwrap();
        let err = p.plan(&[0.0, 0.0], &cost, &point_mass()).unwrap_err();
        assert!(
            matches!(&err, AgentError::TermNotDifferentiable { term } if term == "flat"),
            "{kind}: {err}"
        );
    }
}

/// A differentiable world model whose predictions are NaN (e.g. a diverged network).
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
    fn rollout_vjp(
        &self,
        _: &[f32],
        _: &[f32],
        _: (usize, usize),
        _: &[f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        actions_bar.fill(f32::NAN);
        Ok(())
    }
}

#[test]
fn nan_predictions_and_bad_shapes_are_errors_not_plans() {
    for kind in ["gradient", "cem+gradient"] {
        let mut p = PlannerConfig::default_of(kind)
            .unwrap()
            .build(context(4))
            .unwrap();
        match p.plan(&[0.0, 0.0], &goal_cost(&GOAL), &NanModel) {
            Err(AgentError::NonFinite { what }) => assert!(what.contains("cost"), "{kind}: {what}"),
            other => panic!("{kind}: expected NonFinite, got {other:?}"),
        }
        let err = p
            .plan(&[0.0; 3], &goal_cost(&GOAL), &point_mass())
            .unwrap_err();
        assert!(matches!(err, AgentError::Shape { .. }), "{kind}: {err}");
        let err = p
            .plan(&[0.0; 2], &goal_cost(&[1.0; 3]), &point_mass())
            .unwrap_err();
        assert!(err.to_string().contains("goal_distance"), "{kind}: {err}");
    }
}
