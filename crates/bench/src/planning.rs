//! Workloads B (CEM sampling plan) and C (gradient plan), each on the dense kernel and on
//! burn's generic tensor path, with identical weights, data and seeds.

use ami_jepa::burn::module::Module;
use ami_jepa::burn::tensor::{Device, Distribution, Tensor, TensorData};
use ami_jepa::mlp::Mlp;

use ami_agent::cost::{Cost, CostKind, GoalDistance};
use ami_agent::jepa_model::batched_rollout;
use ami_agent::kernel::{DenseDynamics, DenseMlp, DenseWorldModel, StepKind};
use ami_agent::planner::{Cem, CemConfig, Planner};
use ami_agent::world_model::{check_rollout_inputs, WorldModel};
use ami_agent::AgentError;

use crate::gradient_plan::{gradient_plan, AdamSettings, GradientPlanBuffers};
use crate::{median_seconds, read, seeded, Repeats, ACT, HIDDEN, REPR};

/// A plain MLP dynamics model `s' = MLP([s, a])` on burn's generic path, seen as a planner's
/// world model.
pub struct MlpDynamics {
    predictor: Mlp,
    device: Device,
}

impl MlpDynamics {
    /// Wraps `predictor` (input `[D + A]`, output `[D]`, with the workload's `D`, `A`).
    pub fn new(predictor: Mlp, device: Device) -> Self {
        Self { predictor, device }
    }
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

/// The workload-B predictor `(128+2)→512→512→128` drawn from `device`'s seeded generator.
fn workload_predictor(device: &Device, seed: u64) -> Mlp {
    seeded(device, seed);
    Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], device)
}

/// Workload B: the CEM planner (512 candidates, horizon 16, 6 iterations, 64 elites), the
/// start state and the cost `Σ_t ‖s_t − g‖²`.
pub fn workload_b_cem() -> Result<(Cem, Vec<f32>, Cost), AgentError> {
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
    Ok((Cem::new(cfg)?, s0, cost))
}

fn time_cem(model: &dyn WorldModel, reps: Repeats) -> Result<f64, AgentError> {
    let (mut cem, s0, cost) = workload_b_cem()?;
    let s = median_seconds(reps, || {
        cem.reset();
        cem.plan(&s0, &cost, model).map(|_| ())
    })?;
    Ok(1e3 * s)
}

/// Workload B on burn's generic path: median milliseconds per CEM plan.
pub fn sampling_plan_ms_generic(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let model = MlpDynamics::new(workload_predictor(device, 2), device.clone());
    time_cem(&model, reps)
}

/// Workload B on the dense kernel (same weights): median milliseconds per CEM plan.
pub fn sampling_plan_ms(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let mlp = DenseMlp::from_mlp(&workload_predictor(device, 2))?;
    let model = DenseWorldModel::new(DenseDynamics::new(mlp, StepKind::Plain, 1.0, 1)?);
    time_cem(&model, reps)
}

/// Workload C's data: the frozen predictor (on an autodiff device), `s0`, the goal and the
/// initial actions `[32, 16, 2]` (zeros + 0.01·N(0, 1)).
pub struct GradientWorkload {
    /// `(128+2)→512→512→128`, gradients disabled.
    pub predictor: Mlp,
    /// `s0 [128]`.
    pub s0: Vec<f32>,
    /// `g [128]`.
    pub goal: Vec<f32>,
    /// Initial actions `[n, h, 2]`.
    pub init: Vec<f32>,
    /// `(n, h) = (32, 16)`.
    pub shape: (usize, usize),
    /// The autodiff device the predictor lives on.
    pub device: Device,
}

impl GradientWorkload {
    /// Draws the workload from `device`'s seeded generator (seed 6).
    pub fn new(device: &Device) -> Result<Self, AgentError> {
        let ad = device.clone().autodiff();
        seeded(&ad, 6);
        let predictor = Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], &ad).no_grad();
        let (n, h) = (32, 16);
        let init = Tensor::<3>::random([n, h, ACT], Distribution::Normal(0.0, 0.01), &ad);
        let init = init
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AgentError::WorldModel(format!("reading actions: {e:?}")))?;
        Ok(Self {
            predictor,
            s0: random_vec(REPR, 7),
            goal: random_vec(REPR, 8),
            init,
            shape: (n, h),
            device: ad,
        })
    }
}

/// Gradient plan on burn's generic path (autodiff through the rollout of `s' = MLP([s, a])`,
/// Adam written with tensors); returns the final actions `[n, h, A]`.
pub fn generic_gradient_plan(
    w: &GradientWorkload,
    adam: AdamSettings,
) -> Result<Vec<f32>, AgentError> {
    let ad = &w.device;
    let (n, h) = w.shape;
    let s0 = Tensor::<2>::from_data(TensorData::new(w.s0.clone(), [1, REPR]), ad).repeat_dim(0, n);
    let goal = Tensor::<2>::from_data(TensorData::new(w.goal.clone(), [1, REPR]), ad);
    let mut acts = Tensor::<3>::from_data(TensorData::new(w.init.clone(), [n, h, ACT]), ad);
    let mut m = Tensor::<3>::zeros([n, h, ACT], ad);
    let mut v = Tensor::<3>::zeros([n, h, ACT], ad);
    let AdamSettings {
        lr,
        beta1: b1,
        beta2: b2,
        eps,
        steps,
    } = adam;
    for k in 1..=steps as i32 {
        let a = acts.clone().require_grad();
        let mut s = s0.clone();
        let mut loss = Tensor::<1>::zeros([1], ad);
        for t in 0..h {
            let at = a.clone().narrow(1, t, 1).reshape([n, ACT]);
            s = w.predictor.forward(Tensor::cat(vec![s, at], 1));
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
    acts.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| AgentError::WorldModel(format!("reading actions: {e:?}")))
}

/// Workload C on burn's generic path: median milliseconds per gradient plan.
pub fn gradient_plan_ms_generic(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let w = GradientWorkload::new(device)?;
    let s = median_seconds(reps, || {
        let acts = generic_gradient_plan(&w, AdamSettings::default())?;
        read(Tensor::<1>::from_data(TensorData::new(acts, [w.init.len()]), device).sum())
            .map(|_| ())
    })?;
    Ok(1e3 * s)
}

/// Workload C on the dense kernel (same data): median milliseconds per gradient plan.
pub fn gradient_plan_ms(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let w = GradientWorkload::new(device)?;
    let mlp = DenseMlp::from_mlp(&w.predictor)?;
    let dynamics = DenseDynamics::new(mlp, StepKind::Plain, 1.0, 1)?;
    let mut buf = GradientPlanBuffers::default();
    let mut acts = w.init.clone();
    let s = median_seconds(reps, || {
        acts.copy_from_slice(&w.init);
        let start_goal = (w.s0.as_slice(), w.goal.as_slice());
        gradient_plan(
            &dynamics,
            start_goal,
            &mut acts,
            w.shape,
            AdamSettings::default(),
            &mut buf,
        )
        .map(|_| ())
    })?;
    Ok(1e3 * s)
}
