//! The gradients the gradient planners use, against central finite differences: the world
//! models' vector–Jacobian products (`WorldModel::rollout_vjp`, linear and the JEPA on the
//! dense kernel) and every cost term's `CostTerm::gradient`.
//!
//! A VJP is checked on the scalar `L(a) = Σ states(a) ⊙ w` for a fixed random `w`, whose
//! gradient is exactly `rollout_vjp(.., states_bar = w, ..)`; a cost gradient on
//! `L = Σ_i cost_i`. Finite differences `(L(x + ε e_j) − L(x − ε e_j)) / 2ε` in every coordinate.

use ami_agent::kernel::{DenseDynamics, DenseMlp, DenseWorldModel, StepKind};
use ami_agent::{
    ActionEnergy, AgentError, Cost, CostKind, CostTerm, GoalDistance, JepaWorldModel,
    LinearWorldModel, Perception, RolloutBatch, WorldModel,
};
use ami_jepa::burn::tensor::Device;
use ami_jepa::{Jepa, JepaConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// Central differences of `f` at `x` in every coordinate, `f` summed in f64.
fn finite_differences(x: &[f32], eps: f32, f: impl Fn(&[f32]) -> f64) -> Vec<f32> {
    (0..x.len())
        .map(|j| {
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[j] += eps;
            minus[j] -= eps;
            ((f(&plus) - f(&minus)) / (2.0 * f64::from(eps))) as f32
        })
        .collect()
}

/// `|got − want| ≤ tol · max(1, max|want|)` elementwise, and the gradient is not all zero.
fn assert_gradient(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    for (j, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{j}]: analytic {g} vs finite differences {w}"
        );
    }
    assert!(want.iter().any(|w| w.abs() > 1e-3), "{what}: zero gradient");
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// Checks `rollout_vjp` and `rollout_and_vjp` of `model` against finite differences.
fn check_vjp(what: &str, model: &dyn WorldModel, s0: &[f32], (n, h): (usize, usize), eps: f32) {
    let (d, a) = (model.state_dim(), model.action_dim());
    let actions = uniform(n * h * a, 1);
    let w = uniform(n * h * d, 2);
    let loss = |acts: &[f32]| dot(&model.rollout(s0, acts, n, h).unwrap(), &w);
    let want = finite_differences(&actions, eps, loss);
    // `rollout_vjp` adds to `actions_bar`.
    let mut got = vec![1.0f32; n * h * a];
    model
        .rollout_vjp(s0, &actions, (n, h), &w, &mut got)
        .unwrap();
    got.iter_mut().for_each(|g| *g -= 1.0);
    assert_gradient(what, &got, &want, 1e-2);
    // The fused version hands over the rollout's states and gives the same VJP.
    let mut fused = vec![0.0f32; n * h * a];
    let states = model.rollout(s0, &actions, n, h).unwrap();
    let mut seen = Vec::new();
    let mut cotangent = |st: &[f32], bar: &mut [f32]| {
        seen = st.to_vec();
        bar.copy_from_slice(&w);
        Ok(())
    };
    model
        .rollout_and_vjp(s0, &actions, (n, h), &mut cotangent, &mut fused)
        .unwrap();
    assert_eq!(seen, states, "{what}: states handed to the cotangent");
    assert_gradient(&format!("{what} fused"), &fused, &want, 1e-2);
    // Wrong cotangent length.
    let err = model
        .rollout_vjp(s0, &actions, (n, h), &w[1..], &mut got)
        .unwrap_err();
    assert!(matches!(err, AgentError::Shape { .. }), "{what}: {err}");
}

#[test]
fn linear_rollout_vjp_matches_central_differences() {
    // A non-symmetric A and a B that mixes the inputs (Aᵀ and Bᵀ must be the transposes).
    let a = vec![0.9, 0.2, 0.0, -0.1, 1.0, 0.3, 0.05, 0.0, 0.8];
    let b = vec![1.0, 0.0, 0.5, -0.5, 0.0, 2.0];
    let model = LinearWorldModel::new(a, b, 3, 2).unwrap();
    check_vjp("linear", &model, &[0.1, -0.2, 0.3], (2, 5), 1e-2);
}

/// The JEPA tests seed the device and draw weights from its generator, which the test threads
/// share: run concurrently, their draws interleave and the weights change from run to run
/// (a finite-difference check can then straddle a ReLU kink). Each holds this lock throughout.
static JEPA_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn small_jepa(dev: &Device) -> Jepa {
    dev.seed(31);
    let cfg = JepaConfig {
        obs_dim: 4,
        action_dim: 2,
        repr_dim: 9,
        encoder_hidden: vec![16],
        predictor_hidden: vec![21, 13],
        idm_hidden: vec![8],
        action_scale: 0.25,
        ..JepaConfig::default()
    };
    cfg.init(dev).unwrap()
}

/// A latent JEPA (k = 3): `rollout` follows branch 0, whose first layer carries the latent row
/// as a per-row bias; the taped VJP through it matches central differences.
#[test]
fn latent_jepa_dense_rollout_vjp_matches_central_differences() {
    let _one_at_a_time = JEPA_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::flex();
    dev.seed(33);
    let cfg = JepaConfig {
        obs_dim: 4,
        action_dim: 2,
        repr_dim: 9,
        encoder_hidden: vec![16],
        predictor_hidden: vec![21, 13],
        idm_hidden: vec![8],
        action_scale: 0.25,
        latent: ami_jepa::LatentConfig::discrete(3),
        ..JepaConfig::default()
    };
    let jepa = cfg.init(&dev).unwrap();
    let model = JepaWorldModel::new(jepa, dev.clone(), 4, 9, 2, 2).unwrap();
    assert_eq!(model.latent_count(), 3);
    let s0 = model.encode(&[0.3, -0.2, 0.9, 0.1]).unwrap();
    check_vjp("latent jepa dense", &model, &s0, (3, 4), 1e-3);
}

#[test]
fn jepa_dense_rollout_vjp_matches_central_differences() {
    let _one_at_a_time = JEPA_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::flex();
    let jepa = small_jepa(&dev);
    // Residual predictor, action scale 1/0.25, each action held for 2 predictor steps.
    let model = JepaWorldModel::new(jepa.clone(), dev.clone(), 4, 9, 2, 2).unwrap();
    let s0 = model.encode(&[0.3, -0.2, 0.9, 0.1]).unwrap();
    check_vjp("jepa dense", &model, &s0, (3, 4), 1e-3);
    // Burn's generic path has no VJP: a typed error naming the model.
    let generic = JepaWorldModel::generic(jepa, dev, 4, 9, 2, 2).unwrap();
    let (acts, bar) = (vec![0.0; 8], vec![0.0; 36]);
    let err = generic
        .rollout_vjp(&s0, &acts, (1, 4), &bar, &mut [0.0; 8])
        .unwrap_err();
    match &err {
        AgentError::ModelNotDifferentiable { model, .. } => {
            assert!(model.contains("generic"), "{err}")
        }
        other => panic!("expected ModelNotDifferentiable, got {other:?}"),
    }
    assert!(err.to_string().contains("not differentiable"), "{err}");
}

#[test]
fn plain_dense_dynamics_vjp_matches_central_differences() {
    // s' = MLP([s, c·a]) (not residual), repeat 3.
    let layers = vec![
        ami_agent::kernel::DenseLayer::new(uniform(7 * 10, 5), uniform(10, 6), 7, 10).unwrap(),
        ami_agent::kernel::DenseLayer::new(uniform(10 * 4, 7), uniform(4, 8), 10, 4).unwrap(),
    ];
    let mlp = DenseMlp::from_layers(layers).unwrap();
    let dynamics = DenseDynamics::new(mlp, StepKind::Plain, 0.7, 3).unwrap();
    let model = DenseWorldModel::new(dynamics);
    check_vjp("dense plain", &model, &[0.2, -0.1, 0.4, 0.0], (2, 3), 1e-3);
}

/// A world model without a VJP (the default implementation).
struct Opaque;

impl WorldModel for Opaque {
    fn state_dim(&self) -> usize {
        1
    }
    fn action_dim(&self) -> usize {
        1
    }
    fn rollout(&self, s0: &[f32], a: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        Ok(vec![s0[0]; a.len().min(n * h)])
    }
}

#[test]
fn a_model_without_vjp_says_so_by_name() {
    let err = Opaque
        .rollout_vjp(&[0.0], &[0.0], (1, 1), &[1.0], &mut [0.0])
        .unwrap_err();
    assert!(
        matches!(&err, AgentError::ModelNotDifferentiable { model, .. } if model.contains("Opaque")),
        "{err}"
    );
    let mut cot = |_: &[f32], _: &mut [f32]| Ok(());
    let err = Opaque
        .rollout_and_vjp(&[0.0], &[0.0], (1, 1), &mut cot, &mut [0.0])
        .unwrap_err();
    assert!(err.to_string().contains("Opaque"), "{err}");
}

/// `(n, h, D, A)` of the cost checks, states and actions.
const N: usize = 2;
const H: usize = 3;
const D: usize = 3;
const A: usize = 2;

fn check_term(what: &str, term: &dyn CostTerm, states: &[f32], actions: &[f32]) {
    let batch = RolloutBatch::new(states, actions, (N, H), (D, A)).unwrap();
    let mut s_bar = vec![0.5f32; N * H * D];
    let mut a_bar = vec![0.5f32; N * H * A];
    term.gradient(&batch, &mut s_bar, &mut a_bar).unwrap();
    // The gradient is added to what the buffers held.
    s_bar
        .iter_mut()
        .chain(a_bar.iter_mut())
        .for_each(|g| *g -= 0.5);
    let total = |st: &[f32], ac: &[f32]| -> f64 {
        let b = RolloutBatch::new(st, ac, (N, H), (D, A)).unwrap();
        term.cost(&b).iter().map(|&c| f64::from(c)).sum()
    };
    let ds = finite_differences(states, 1e-3, |st| total(st, actions));
    let da = finite_differences(actions, 1e-3, |ac| total(states, ac));
    for (part, got, want) in [("states", &s_bar, &ds), ("actions", &a_bar, &da)] {
        let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs()));
        for (j, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            assert!(
                (g - w).abs() <= 2e-3 * scale,
                "{what} ∂/∂{part}[{j}]: analytic {g} vs finite differences {w}"
            );
        }
    }
    assert!(
        s_bar.iter().chain(&a_bar).any(|g| g.abs() > 1e-2),
        "{what}: zero gradient"
    );
}

fn goal() -> Vec<f32> {
    vec![0.3, -0.4, 0.1]
}

/// Every built-in term with a gradient, in each of its variants.
fn terms() -> Vec<(&'static str, Box<dyn CostTerm>)> {
    let g = || GoalDistance::new(goal()).unwrap();
    vec![
        ("goal_distance", Box::new(g())),
        ("goal_distance squared", Box::new(g().squared(true))),
        (
            "goal_distance terminal_weight",
            Box::new(g().terminal_weight(2.5).unwrap()),
        ),
        (
            "goal_distance terminal_only",
            Box::new(g().terminal_only(true)),
        ),
        (
            "goal_distance squared terminal_only",
            Box::new(
                g().squared(true)
                    .terminal_only(true)
                    .terminal_weight(1.0)
                    .unwrap(),
            ),
        ),
        ("action_energy", Box::new(ActionEnergy)),
    ]
}

#[test]
fn every_cost_term_gradient_matches_central_differences() {
    let (states, actions) = (uniform(N * H * D, 11), uniform(N * H * A, 12));
    for (what, term) in terms() {
        check_term(what, term.as_ref(), &states, &actions);
    }
}

#[test]
fn euclidean_goal_distance_has_a_zero_subgradient_at_the_goal() {
    // Candidate 0 sits on the goal at step 1, where ‖s − g‖ has no gradient.
    let mut states = uniform(N * H * D, 13);
    states[D..2 * D].copy_from_slice(&goal());
    let actions = uniform(N * H * A, 14);
    let batch = RolloutBatch::new(&states, &actions, (N, H), (D, A)).unwrap();
    let (s_bar, a_bar) = Cost::new()
        .with_term(CostKind::Task, 1.0, GoalDistance::new(goal()).unwrap())
        .unwrap()
        .gradient(&batch)
        .unwrap();
    assert_eq!(&s_bar[D..2 * D], &[0.0; D]);
    assert!(s_bar.iter().all(|g| g.is_finite()));
    // Elsewhere the gradient is the unit vector (s − g) / ‖s − g‖.
    let norm = s_bar[..D].iter().map(|g| g * g).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    assert!(a_bar.iter().all(|&g| g == 0.0));
}

/// A term with a cost but no gradient (the default).
struct Bumpy;

impl CostTerm for Bumpy {
    fn name(&self) -> &str {
        "bumpy"
    }
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        vec![1.0; b.n()]
    }
}

#[test]
fn cost_gradient_is_the_weighted_sum_and_names_terms_without_one() {
    let (states, actions) = (uniform(N * H * D, 15), uniform(N * H * A, 16));
    let batch = RolloutBatch::new(&states, &actions, (N, H), (D, A)).unwrap();
    let goal_term = || GoalDistance::new(goal()).unwrap().squared(true);
    // The intrinsic term sits in the agent's FixedCost: its gradient counts too.
    let fixed = ami_agent::FixedCost::builder()
        .intrinsic(0.5, ActionEnergy)
        .unwrap()
        .build();
    let mut cost = Cost::with_fixed(fixed)
        .with_term(CostKind::Task, 2.0, goal_term())
        .unwrap();
    let (s_bar, a_bar) = cost.gradient(&batch).unwrap();
    let (mut s1, mut a1) = (vec![0.0; s_bar.len()], vec![0.0; a_bar.len()]);
    goal_term().gradient(&batch, &mut s1, &mut a1).unwrap();
    let (mut s2, mut a2) = (vec![0.0; s_bar.len()], vec![0.0; a_bar.len()]);
    ActionEnergy.gradient(&batch, &mut s2, &mut a2).unwrap();
    // Each term depends on one of the two only.
    assert!(a1.iter().chain(&s2).all(|&g| g == 0.0));
    for (j, g) in s_bar.iter().enumerate() {
        assert!((g - 2.0 * s1[j]).abs() < 1e-5, "states[{j}]");
    }
    for (j, g) in a_bar.iter().enumerate() {
        assert!((g - 0.5 * a2[j]).abs() < 1e-5, "actions[{j}]");
    }
    // The whole cost against finite differences too.
    let total = |st: &[f32], ac: &[f32]| -> f64 {
        let b = RolloutBatch::new(st, ac, (N, H), (D, A)).unwrap();
        cost.evaluate(&b)
            .unwrap()
            .iter()
            .map(|&c| f64::from(c))
            .sum()
    };
    let ds = finite_differences(&states, 1e-3, |st| total(st, &actions));
    assert_gradient("cost states", &s_bar, &ds, 2e-3);
    let da = finite_differences(&actions, 1e-3, |ac| total(&states, ac));
    assert_gradient("cost actions", &a_bar, &da, 2e-3);
    // A term without a gradient is an error naming it, unless its weight is zero.
    cost = cost.with_term(CostKind::Task, 1.0, Bumpy).unwrap();
    let err = cost.gradient(&batch).unwrap_err();
    assert!(
        matches!(&err, AgentError::TermNotDifferentiable { term } if term == "bumpy"),
        "{err}"
    );
    assert!(
        err.to_string().contains("`bumpy` is not differentiable"),
        "{err}"
    );
    cost.set_task_weight("bumpy", 0.0).unwrap();
    assert_eq!(cost.gradient(&batch).unwrap(), (s_bar, a_bar));
    // Buffers of the wrong size are shape errors.
    let err = cost
        .gradient_into(&batch, &mut [0.0; 3], &mut [0.0; N * H * A])
        .unwrap_err();
    assert!(err.to_string().contains("states_bar"), "{err}");
}
