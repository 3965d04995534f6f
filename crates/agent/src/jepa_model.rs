//! A trained [`Jepa`] seen as a planner's [`WorldModel`]: encode observations (burn), roll the
//! predictor forward for every candidate at once — on the dense CPU kernel
//! ([`crate::kernel`]) by default, or on burn's generic tensor path ([`JepaWorldModel::generic`]).

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::Jepa;

use crate::error::AgentError;
use crate::kernel::{DenseDynamics, DenseMlp, DenseWorldModel, StepKind};
use crate::perception::Perception;
use crate::world_model::{
    check_latents, check_prior_inputs, check_rollout_inputs, check_step_inputs, Cotangent,
    WorldModel,
};

/// JEPA world model with temporal abstraction: each planned action is applied for
/// `action_repeat` predictor steps, and the state after the last of them is reported.
///
/// `rollout` therefore maps `[n, h, A]` macro-actions to `[n, h, D]` states reached after
/// `h·action_repeat` environment steps.
pub struct JepaWorldModel {
    model: Jepa,
    device: Device,
    action_repeat: usize,
    obs_dim: usize,
    state_dim: usize,
    action_dim: usize,
    /// The predictor copied into the dense kernel (`None`: burn's generic path).
    fast: Option<DenseWorldModel>,
}

impl JepaWorldModel {
    /// Wraps an inference model (a module on a non-autodiff device); rollouts run on the dense
    /// kernel `s' = s + MLP([s, a / action_scale])` (the same math as [`Jepa::predict`]), or for
    /// a latent model `s' = s + MLP([s, a / action_scale, e_z])` ([`Jepa::predict_latent`];
    /// the one-hot `e_z` as a per-branch bias, [`crate::kernel::dynamics`]).
    pub fn new(
        model: Jepa,
        device: Device,
        obs_dim: usize,
        state_dim: usize,
        action_dim: usize,
        action_repeat: usize,
    ) -> Result<Self, AgentError> {
        let mut wm = Self::generic(model, device, obs_dim, state_dim, action_dim, action_repeat)?;
        let mlp = DenseMlp::from_mlp(&wm.model.predictor)?;
        let k = wm.model.latent_count();
        let z = if k > 1 { k } else { 0 };
        if mlp.output_dim() != state_dim || mlp.input_dim() != state_dim + action_dim + z {
            return Err(AgentError::shape(
                "JEPA predictor input",
                mlp.input_dim(),
                format!(
                    "[D + A + k = {}] -> [D = {state_dim}]",
                    state_dim + action_dim + z
                ),
            ));
        }
        let scale = wm.model.inv_action_scale();
        let dynamics = if k > 1 {
            DenseDynamics::with_latents(mlp, StepKind::Residual, scale, action_repeat, k)?
        } else {
            DenseDynamics::new(mlp, StepKind::Residual, scale, action_repeat)?
        };
        wm.fast = Some(DenseWorldModel::new(dynamics));
        Ok(wm)
    }

    /// As [`JepaWorldModel::new`], but rollouts go through burn's generic tensor path (the
    /// reference the dense kernel is tested against).
    pub fn generic(
        model: Jepa,
        device: Device,
        obs_dim: usize,
        state_dim: usize,
        action_dim: usize,
        action_repeat: usize,
    ) -> Result<Self, AgentError> {
        if action_repeat == 0 {
            return Err(AgentError::InvalidConfig {
                field: "action_repeat",
                value: "0".into(),
                expected: ">= 1",
            });
        }
        Ok(JepaWorldModel {
            model,
            device,
            action_repeat,
            obs_dim,
            state_dim,
            action_dim,
            fast: None,
        })
    }

    /// Encodes `n` observations at once.
    ///
    /// # Shapes
    /// `obs [n, obs_dim]` → `[n, D]`.
    pub fn encode_batch(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError> {
        if self.obs_dim == 0 || !obs.len().is_multiple_of(self.obs_dim) {
            return Err(AgentError::Shape {
                what: "observation batch".into(),
                got: obs.len(),
                expected: format!("[n, obs_dim={}]", self.obs_dim),
            });
        }
        let n = obs.len() / self.obs_dim;
        let x = Tensor::<2>::from_data(
            TensorData::new(obs.to_vec(), [n, self.obs_dim]),
            &self.device,
        );
        to_vec(self.model.encode(x))
    }

    /// Whether rollouts run on the dense kernel.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }
}

impl Perception for JepaWorldModel {
    /// The JEPA's encoder on one observation.
    fn encode(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError> {
        if obs.len() != self.obs_dim {
            return Err(AgentError::Shape {
                what: "observation".into(),
                got: obs.len(),
                expected: format!("[obs_dim={}]", self.obs_dim),
            });
        }
        let x = Tensor::<2>::from_data(
            TensorData::new(obs.to_vec(), [1, self.obs_dim]),
            &self.device,
        );
        to_vec(self.model.encode(x))
    }
}

impl WorldModel for JepaWorldModel {
    fn state_dim(&self) -> usize {
        self.state_dim
    }

    fn action_dim(&self) -> usize {
        self.action_dim
    }

    fn action_repeat(&self) -> usize {
        self.action_repeat
    }

    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        if let Some(fast) = &self.fast {
            return fast.rollout(s0, actions, n, h);
        }
        let dims = (self.state_dim, self.action_dim, self.action_repeat);
        batched_rollout(&self.device, s0, actions, (n, h), dims, |s, a| {
            self.model.predict(s, a)
        })
    }

    fn rollout_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        match &self.fast {
            Some(fast) => {
                check_rollout_inputs(self, s0, actions, n, h)?;
                fast.rollout_into(s0, actions, (n, h), states)
            }
            None => {
                *states = self.rollout(s0, actions, n, h)?;
                Ok(())
            }
        }
    }

    fn latent_count(&self) -> usize {
        self.model.latent_count()
    }

    fn rollout_latent(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let mut states = Vec::new();
        self.rollout_latent_into(s0, actions, latents, (n, h), &mut states)?;
        Ok(states)
    }

    /// On the dense kernel, or on burn's generic path with `Jepa::predict_latent` and one-hot
    /// latents (the reference the kernel is tested against).
    fn rollout_latent_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        let k = self.model.latent_count();
        if let Some(fast) = &self.fast {
            return fast.rollout_latent_into(s0, actions, latents, (n, h), states);
        }
        check_latents(latents, n, h, k)?;
        if k == 1 {
            *states = self.rollout(s0, actions, n, h)?;
            return Ok(());
        }
        let one_hot: Vec<f32> = latents
            .iter()
            .flat_map(|&z| (0..k).map(move |j| if j == z as usize { 1.0 } else { 0.0 }))
            .collect();
        let z = Tensor::<3>::from_data(TensorData::new(one_hot, [n, h, k]), &self.device);
        let dims = (self.state_dim, self.action_dim, self.action_repeat);
        *states = batched_rollout_with(&self.device, s0, actions, (n, h), dims, |t, s, a| {
            let zt = z.clone().narrow(1, t, 1).reshape([n, k]);
            self.model.predict_latent(s, a, zt)
        })?;
        Ok(())
    }

    /// The JEPA's prior head `q(z | s, a)` (burn); 1 for a deterministic model.
    fn latent_prior(
        &self,
        states: &[f32],
        actions: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let (d, a) = (self.state_dim, self.action_dim);
        check_prior_inputs(d, a, states, actions, n)?;
        if self.model.latent_count() == 1 {
            return Ok(vec![1.0; n]);
        }
        let s = Tensor::<2>::from_data(TensorData::new(states.to_vec(), [n, d]), &self.device);
        let u = Tensor::<2>::from_data(TensorData::new(actions.to_vec(), [n, a]), &self.device);
        to_vec(self.model.latent_prior(s, u)?)
    }

    /// On burn's tensor path, all rows in one batch: `s ← Pred(s, a, e_z)` repeated
    /// `action_repeat` times ([`Jepa::predict_latent`] with one-hot `e_z`; [`Jepa::predict`]
    /// for a deterministic model), the same math as the dense kernel's rollouts.
    fn step_latent(
        &self,
        states: &[f32],
        actions: &[f32],
        latents: &[u32],
        n: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let (d, a) = (self.state_dim, self.action_dim);
        check_step_inputs((d, a), states, actions, n)?;
        let k = self.model.latent_count();
        check_latents(latents, n, 1, k)?;
        let mut s = Tensor::<2>::from_data(TensorData::new(states.to_vec(), [n, d]), &self.device);
        let u = Tensor::<2>::from_data(TensorData::new(actions.to_vec(), [n, a]), &self.device);
        let z = (k > 1).then(|| {
            let one_hot: Vec<f32> = latents
                .iter()
                .flat_map(|&z| (0..k).map(move |j| if j == z as usize { 1.0 } else { 0.0 }))
                .collect();
            Tensor::<2>::from_data(TensorData::new(one_hot, [n, k]), &self.device)
        });
        for _ in 0..self.action_repeat {
            s = match &z {
                Some(z) => self.model.predict_latent(s, u.clone(), z.clone()),
                None => self.model.predict(s, u.clone()),
            };
        }
        to_vec(s)
    }

    /// On the dense kernel: the exact VJP of `s' = s + MLP([s, c·a])` held for
    /// `action_repeat` steps, through a taped rollout ([`crate::kernel::adjoint`]). Burn's
    /// generic path ([`JepaWorldModel::generic`]) has none:
    /// [`AgentError::ModelNotDifferentiable`].
    fn rollout_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        shape: (usize, usize),
        states_bar: &[f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        self.dense("rollout_vjp")?
            .rollout_vjp(s0, actions, shape, states_bar, actions_bar)
    }

    /// As [`WorldModel::rollout_vjp`], with one taped rollout on the dense kernel.
    fn rollout_and_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        shape: (usize, usize),
        cotangent: &mut Cotangent<'_>,
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        self.dense("rollout_and_vjp")?
            .rollout_and_vjp(s0, actions, shape, cotangent, actions_bar)
    }
}

impl JepaWorldModel {
    /// The dense-kernel model, or [`AgentError::ModelNotDifferentiable`] on the generic path.
    fn dense(&self, what: &str) -> Result<&DenseWorldModel, AgentError> {
        self.fast
            .as_ref()
            .ok_or_else(|| AgentError::ModelNotDifferentiable {
                model: "JepaWorldModel (burn's generic path)".into(),
                reason: format!(
                    "`{what}` runs on the dense kernel only; build it with JepaWorldModel::new"
                ),
            })
    }
}

/// Rolls `step(s, a)` forward for `n` candidates at once, holding each action for `repeat`
/// steps, and returns the state after each held action.
///
/// # Shapes
/// `s0 [D]`, `actions [n, h, A]` -> `[n, h, D]`; `dims = (D, A, repeat)`
pub fn batched_rollout(
    device: &Device,
    s0: &[f32],
    actions: &[f32],
    (n, h): (usize, usize),
    (d, a, repeat): (usize, usize, usize),
    step: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
) -> Result<Vec<f32>, AgentError> {
    batched_rollout_with(device, s0, actions, (n, h), (d, a, repeat), |_, s, a| {
        step(s, a)
    })
}

/// [`batched_rollout`] with the planned step's index `t` passed to `step(t, s, a)`.
fn batched_rollout_with(
    device: &Device,
    s0: &[f32],
    actions: &[f32],
    (n, h): (usize, usize),
    (d, a, repeat): (usize, usize, usize),
    step: impl Fn(usize, Tensor<2>, Tensor<2>) -> Tensor<2>,
) -> Result<Vec<f32>, AgentError> {
    let mut s =
        Tensor::<2>::from_data(TensorData::new(s0.to_vec(), [1, d]), device).repeat_dim(0, n);
    let acts = Tensor::<3>::from_data(TensorData::new(actions.to_vec(), [n, h, a]), device);
    let mut states = Vec::with_capacity(h);
    for t in 0..h {
        let at = acts.clone().narrow(1, t, 1).reshape([n, a]);
        for _ in 0..repeat {
            s = step(t, s, at.clone());
        }
        states.push(s.clone());
    }
    to_vec(Tensor::stack::<3>(states, 1))
}

fn to_vec<const N: usize>(t: Tensor<N>) -> Result<Vec<f32>, AgentError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| AgentError::WorldModel(format!("reading tensor: {e:?}")))
}
