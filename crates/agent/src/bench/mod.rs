//! The standard performance workloads (issue 4), identical to the PyTorch and JAX peers in
//! `bench/peers/`: float32, fixed seeds, the same shapes and algorithms.
//!
//! * **A** — one JEPA training step: batch 256, encoder 64→512→512→128, predictor
//!   (128+2)→512→512→128, loss `25·MSE(pred(enc(o), a), enc(o')) + 25·(v(x)+v(y))/2 +
//!   c(x)+c(y)` (VICReg terms as in [`ami_jepa::vicreg`]), AdamW lr 1e-3, weight decay 0.01.
//! * **B** — one sampling plan: CEM with 512 candidates, horizon 16, 6 iterations, 64 elites,
//!   cost `Σ_t ‖s_t − g‖²`, all candidates rolled through the predictor at once.
//! * **C** — one gradient plan: 32 action sequences × 16 steps, 20 Adam steps (lr 0.1) on the
//!   actions, back-propagating through the 16-step rollout.
//! * **GEMM** — `m×k · k×n` f32 matrix products, the practical peak of the machine.

use std::time::Instant;

use ami_jepa::burn;
use ami_jepa::burn::module::Module;
use ami_jepa::burn::optim::{AdamWConfig, GradientsParams};
use ami_jepa::burn::tensor::{Device, Distribution, Tensor, TensorData};
use ami_jepa::mlp::Mlp;
use ami_jepa::vicreg::{covariance, variance};

use crate::cost::{Cost, CostKind, GoalDistance};
use crate::error::AgentError;
use crate::jepa_model::batched_rollout;
use crate::planner::{Cem, CemConfig, Planner};
use crate::world_model::{check_rollout_inputs, WorldModel};

/// Observation, action and representation sizes of the workloads.
const OBS: usize = 64;
const ACT: usize = 2;
const REPR: usize = 128;
const HIDDEN: usize = 512;

/// Repetitions of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Repeats {
    /// Untimed calls first.
    pub warmup: usize,
    /// Timed calls (the median is reported).
    pub timed: usize,
}

/// Median of `timed` calls of `f` after `warmup` calls, in seconds.
pub fn median_seconds(
    reps: Repeats,
    mut f: impl FnMut() -> Result<(), AgentError>,
) -> Result<f64, AgentError> {
    for _ in 0..reps.warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(reps.timed);
    for _ in 0..reps.timed.max(1) {
        let t0 = Instant::now();
        f()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}

fn seeded(device: &Device, seed: u64) {
    device.seed(seed);
}

fn read(t: Tensor<1>) -> Result<f32, AgentError> {
    t.into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| AgentError::WorldModel("could not read a scalar".into()))
}

/// Achieved GFLOP/s of an `m×k · k×n` product (median time).
pub fn gemm_gflops(
    device: &Device,
    m: usize,
    k: usize,
    n: usize,
    reps: Repeats,
) -> Result<f64, AgentError> {
    seeded(device, 1);
    let a = Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), device);
    let b = Tensor::<2>::random([k, n], Distribution::Normal(0.0, 1.0), device);
    let s = median_seconds(reps, || {
        let c = a.clone().matmul(b.clone());
        read(c.sum()).map(|_| ())
    })?;
    Ok(2.0 * (m * k * n) as f64 / s / 1e9)
}

/// Encoder and predictor of workload A, optimised together.
#[derive(Module, Debug)]
struct TrainPair {
    enc: Mlp,
    pred: Mlp,
}

/// Workload A: median training steps per second.
pub fn train_steps_per_s(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let ad = device.clone().autodiff();
    seeded(&ad, 0);
    let batch = 256;
    let mut model = Some(TrainPair {
        enc: Mlp::new(&[OBS, HIDDEN, HIDDEN, REPR], &ad),
        pred: Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], &ad),
    });
    let o = Tensor::<2>::random([batch, OBS], Distribution::Normal(0.0, 1.0), &ad);
    let a = Tensor::<2>::random([batch, ACT], Distribution::Normal(0.0, 1.0), &ad);
    let o2 = Tensor::<2>::random([batch, OBS], Distribution::Normal(0.0, 1.0), &ad);
    let mut opt = AdamWConfig::new().with_weight_decay(0.01).init();
    let s = median_seconds(reps, || {
        let m = model
            .take()
            .ok_or_else(|| AgentError::WorldModel("model lost".into()))?;
        let x = m.enc.forward(o.clone());
        let y = m.enc.forward(o2.clone());
        let p = m.pred.forward(Tensor::cat(vec![x.clone(), a.clone()], 1));
        let mse = (p - y.clone()).powi_scalar(2).mean();
        let var = (variance(x.clone(), 1.0) + variance(y.clone(), 1.0)).div_scalar(2.0);
        let loss = mse.mul_scalar(25.0) + var.mul_scalar(25.0) + covariance(x) + covariance(y);
        let value = read(loss.clone())?;
        if !value.is_finite() {
            return Err(AgentError::NonFinite {
                what: "workload A loss".into(),
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(opt.step(1e-3, m, grads));
        Ok(())
    })?;
    Ok(1.0 / s)
}

/// A plain MLP dynamics model `s' = MLP([s, a])` seen as a planner's world model.
pub struct MlpDynamics {
    predictor: Mlp,
    device: Device,
}

impl WorldModel for MlpDynamics {
    fn state_dim(&self) -> usize {
        REPR
    }

    fn action_dim(&self) -> usize {
        ACT
    }

    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        batched_rollout(&self.device, s0, actions, (n, h), (REPR, ACT, 1), |s, a| {
            self.predictor.forward(Tensor::cat(vec![s, a], 1))
        })
    }
}

fn random_vec(n: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// Workload B: median milliseconds per CEM plan.
pub fn sampling_plan_ms(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    seeded(device, 2);
    let model = MlpDynamics {
        predictor: Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], device),
        device: device.clone(),
    };
    let s0 = random_vec(REPR, 3);
    let cost = Cost::new().with_term(
        CostKind::Task,
        1.0,
        GoalDistance::new(random_vec(REPR, 4))?.squared(true),
    )?;
    let cfg = CemConfig {
        horizon: 16,
        samples: 512,
        elites: 64,
        iterations: 6,
        init_std: 1.0,
        min_std: 1e-3,
        momentum: 0.0,
        max_action_norm: 1e6,
        seed: 5,
    };
    let mut cem = Cem::new(cfg)?;
    let s = median_seconds(reps, || {
        cem.reset();
        cem.plan(&s0, &cost, &model).map(|_| ())
    })?;
    Ok(1e3 * s)
}

/// Workload C: median milliseconds per gradient plan (20 Adam steps through the rollout).
pub fn gradient_plan_ms(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let ad = device.clone().autodiff();
    seeded(&ad, 6);
    let predictor = Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], &ad).no_grad();
    let (n, h) = (32, 16);
    let s0 = Tensor::<2>::from_data(TensorData::new(random_vec(REPR, 7), [1, REPR]), &ad)
        .repeat_dim(0, n);
    let goal = Tensor::<2>::from_data(TensorData::new(random_vec(REPR, 8), [1, REPR]), &ad);
    let init = Tensor::<3>::random([n, h, ACT], Distribution::Normal(0.0, 0.01), &ad);
    let (lr, b1, b2, eps) = (0.1f32, 0.9f32, 0.999f32, 1e-8f32);
    let s = median_seconds(reps, || {
        let mut acts = init.clone().detach();
        let mut m = Tensor::<3>::zeros([n, h, ACT], &ad);
        let mut v = Tensor::<3>::zeros([n, h, ACT], &ad);
        for k in 1..=20 {
            let a = acts.clone().require_grad();
            let mut s = s0.clone();
            let mut loss = Tensor::<1>::zeros([1], &ad);
            for t in 0..h {
                let at = a.clone().narrow(1, t, 1).reshape([n, ACT]);
                s = predictor.forward(Tensor::cat(vec![s, at], 1));
                loss = loss + (s.clone() - goal.clone()).powi_scalar(2).sum();
            }
            let grads = loss.backward();
            let g = a
                .grad(&grads)
                .ok_or_else(|| AgentError::WorldModel("no gradient for the actions".into()))?;
            m = m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
            v = v.mul_scalar(b2) + g.powi_scalar(2).mul_scalar(1.0 - b2);
            let mhat = m.clone().div_scalar(1.0 - b1.powi(k));
            let vhat = v.clone().div_scalar(1.0 - b2.powi(k));
            acts = acts - mhat.div(vhat.sqrt().add_scalar(eps)).mul_scalar(lr);
        }
        read(acts.sum()).map(|_| ())
    })?;
    Ok(1e3 * s)
}

/// FLOPs (GFLOP) of one call of each workload, matrix products only (`2·m·k·n` each), counted
/// as the peers count them: A = 3× forward (backward through all weights), including the two
/// VICReg covariance products; B = forward only; C = 2× forward (the predictor is frozen, so
/// the backward pass needs only gradients with respect to its inputs).
pub fn workload_gflop() -> [(char, f64); 3] {
    let mlp = |dims: &[usize]| dims.windows(2).map(|w| 2.0 * (w[0] * w[1]) as f64).sum::<f64>();
    let enc = mlp(&[OBS, HIDDEN, HIDDEN, REPR]);
    let pred = mlp(&[REPR + ACT, HIDDEN, HIDDEN, REPR]);
    let batch = 256.0;
    let cov = 2.0 * 2.0 * (REPR * REPR) as f64 * batch;
    let a = 3.0 * (batch * (2.0 * enc + pred) + cov);
    let b = 6.0 * 512.0 * 16.0 * pred;
    let c = 20.0 * 2.0 * 32.0 * 16.0 * pred;
    [('A', a / 1e9), ('B', b / 1e9), ('C', c / 1e9)]
}
