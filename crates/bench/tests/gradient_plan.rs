//! The dense gradient plan (workload C) against burn's generic path: the gradient of the
//! planning objective through the JEPA world model's rollout (residual predictor, action
//! scale, action repeat 2) against burn autodiff, and workload C's Adam steps against the
//! same steps written with burn tensors.

use ami_agent::kernel::{DenseDynamics, DenseMlp, StepKind};
use ami_bench::{
    generic_gradient_plan, gradient_plan, loss_and_grad, AdamSettings, GradientPlanBuffers,
    GradientWorkload,
};
use ami_jepa::burn::module::Module;
use ami_jepa::burn::tensor::{Device, Distribution, Tensor, TensorData};
use ami_jepa::{Jepa, JepaConfig};

/// `|a − b| ≤ tol · max|b|` elementwise.
fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "[{i}] {x} vs {y} (scale {scale})"
        );
    }
}

/// Both tests seed the device and draw weights and inputs from its generator, which the test
/// threads share: run concurrently, their draws interleave and the values change from run to
/// run. Each holds this lock throughout.
static DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());

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

fn normal(n: usize, dev: &Device) -> Vec<f32> {
    Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), dev)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

/// `Σ_{i,t} ‖s_{i,t} − g‖²` through the JEPA predictor with burn autodiff (repeat 2).
fn burn_objective_grad(
    jepa: &Jepa,
    s0: &[f32],
    goal: &[f32],
    acts: &[f32],
    n: usize,
    h: usize,
) -> Vec<f32> {
    let ad = jepa.devices()[0].clone();
    let a = Tensor::<3>::from_data(TensorData::new(acts.to_vec(), [n, h, 2]), &ad).require_grad();
    let mut s = Tensor::<2>::from_data(TensorData::new(s0.to_vec(), [1, 9]), &ad).repeat_dim(0, n);
    let g = Tensor::<2>::from_data(TensorData::new(goal.to_vec(), [1, 9]), &ad);
    let mut loss = Tensor::<1>::zeros([1], &ad);
    for t in 0..h {
        let at = a.clone().narrow(1, t, 1).reshape([n, 2]);
        s = jepa.predict(jepa.predict(s, at.clone()), at);
        loss = loss + (s.clone() - g.clone()).powi_scalar(2).sum();
    }
    let grads = loss.backward();
    a.grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn fast_objective_gradient_equals_burn_autodiff() {
    let _one_at_a_time = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::flex().autodiff();
    let jepa = small_jepa(&dev);
    let mlp = DenseMlp::from_mlp(&jepa.predictor).unwrap();
    let dynamics = DenseDynamics::new(mlp, StepKind::Residual, jepa.inv_action_scale(), 2).unwrap();
    let (n, h) = (3, 4);
    let (s0, goal, acts) = (normal(9, &dev), normal(9, &dev), normal(n * h * 2, &dev));
    let want = burn_objective_grad(&jepa, &s0, &goal, &acts, n, h);
    let mut buf = GradientPlanBuffers::default();
    loss_and_grad(&dynamics, (&s0, &goal), &acts, (n, h), &mut buf).unwrap();
    assert_close(&buf.grad, &want, 1e-4);
}

#[test]
fn fast_gradient_plan_adam_steps_equal_burn_version() {
    let _one_at_a_time = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    let w = GradientWorkload::new(&Device::flex()).unwrap();
    let dynamics = DenseDynamics::new(
        DenseMlp::from_mlp(&w.predictor).unwrap(),
        StepKind::Plain,
        1.0,
        1,
    )
    .unwrap();
    let mut buf = GradientPlanBuffers::default();
    for steps in [1, 3] {
        let adam = AdamSettings {
            steps,
            ..AdamSettings::default()
        };
        let want = generic_gradient_plan(&w, adam).unwrap();
        let mut got = w.init.clone();
        gradient_plan(
            &dynamics,
            (&w.s0, &w.goal),
            &mut got,
            w.shape,
            adam,
            &mut buf,
        )
        .unwrap();
        assert_close(&got, &want, 1e-4);
        let moved = got
            .iter()
            .zip(&w.init)
            .filter(|(a, b)| (*a - *b).abs() > 1e-3)
            .count();
        assert!(moved > got.len() / 2, "only {moved} actions moved");
    }
}
