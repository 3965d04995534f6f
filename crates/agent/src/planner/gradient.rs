//! Gradient planner: Adam on the action sequence, the gradient of the cost back-propagated
//! through the world model's rollout (REFERENCE.md §14 "Planners"; DESIGN.md §1 "gradient";
//! the gradient-based planning of PLDM's and DINO-WM's ablations).
//!
//! With `J(a) = C(τ(a))` the total cost of the rollout `τ(a)` of `a = (a_0 … a_{h−1})` from
//! `s0`, the chain rule gives
//!
//! `∇_a J = ∂C/∂a + (∂s/∂a)ᵀ ∂C/∂s`
//!
//! ([`Cost::gradient`] for both partial derivatives, [`WorldModel::rollout_and_vjp`] for the
//! vector–Jacobian product). Each of `samples` restarts starts at
//! `a⁽ⁱ⁾ = Π(U + σ ε⁽ⁱ⁾)`, `ε⁽ⁱ⁾ ~ N(0, I)`, `σ = init_std · max_action_norm` (restart 0
//! at the warm-start plan `U` itself), then takes `iterations` projected Adam steps
//!
//! `a⁽ⁱ⁾ ← Π(Adam(a⁽ⁱ⁾, ∇J(a⁽ⁱ⁾)))` with step size `lr · max_action_norm`
//!
//! ([`Adam`]; `Π` = [`project_to_ball`] of every `a_t` onto `‖a_t‖₂ ≤ max_action_norm`, after
//! every step). The restarts run as one batch of rollouts; Adam is elementwise, so they do
//! not interact. The plan is the iterate with the lowest cost seen over all restarts and
//! steps (the starts and the last iterates included), so it never costs more than the warm
//! start; it becomes the next warm start ([`Planner::shift`]).
//!
//! **Convention.** Plain projected Adam (moments not adjusted for the projection), as in the
//! gradient planners of PLDM; the step size is in units of the action bound, like the
//! sampling planners' noise.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::{
    check_plan_inputs, fill_standard_normal, final_plan, project_to_ball, require_f32,
    require_positive, shift_mean, Plan, Planner, SampleBuffers,
};
use crate::cost::{Cost, RolloutBatch};
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// Settings of [`Gradient`]; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradientConfig {
    /// Planning horizon `h` (default 16). Not a key of the `[planner]` section: a run takes
    /// it from `[agent] horizon` ([`super::PlannerConfig::build`]).
    #[serde(skip)]
    pub horizon: usize,
    /// Parallel restarts, optimised as one batch; the best is kept (default 8).
    pub samples: usize,
    /// Adam steps per `plan` call (default 10).
    pub iterations: usize,
    /// Adam step size in units of `max_action_norm` (default 0.1).
    pub lr: f32,
    /// Adam's first-moment decay `β₁` (default 0.9).
    pub beta1: f32,
    /// Adam's second-moment decay `β₂` (default 0.999).
    pub beta2: f32,
    /// Adam's `ε`, added to `√v̂` (default 1e-8).
    pub eps: f32,
    /// Std of the restarts around the warm-start plan, in units of `max_action_norm`
    /// (default 0.5; restart 0 is the warm start itself).
    pub init_std: f32,
    /// Bound on every action: `‖a_t‖₂ ≤ max_action_norm` (default 1.0). Not a configuration
    /// key: a run takes it from the environment's action space.
    #[serde(skip)]
    pub max_action_norm: f32,
    /// Seed of the planner's random stream (default 0).
    pub seed: u64,
}

impl Default for GradientConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            samples: 8,
            iterations: 10,
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            init_std: 0.5,
            max_action_norm: 1.0,
            seed: 0,
        }
    }
}

impl GradientConfig {
    /// Check every field; the error names the field, the value and what was expected.
    pub fn validate(&self) -> Result<(), AgentError> {
        require_positive("gradient.horizon", self.horizon)?;
        require_positive("gradient.samples", self.samples)?;
        require_positive("gradient.iterations", self.iterations)?;
        let positive = |v: f32| v > 0.0;
        require_f32("gradient.lr", self.lr, positive, "a finite value > 0")?;
        let decay = |v: f32| (0.0..1.0).contains(&v);
        require_f32("gradient.beta1", self.beta1, decay, "a value in [0, 1)")?;
        require_f32("gradient.beta2", self.beta2, decay, "a value in [0, 1)")?;
        require_f32("gradient.eps", self.eps, positive, "a finite value > 0")?;
        require_f32(
            "gradient.init_std",
            self.init_std,
            |v| v >= 0.0,
            "a finite value >= 0",
        )?;
        require_f32(
            "gradient.max_action_norm",
            self.max_action_norm,
            positive,
            "a finite value > 0",
        )
    }
}

/// Gradient planner with a warm-started mean plan `U [h, A]`.
#[derive(Debug, Clone)]
pub struct Gradient {
    cfg: GradientConfig,
    rng: StdRng,
    act_dim: usize,
    mean: Vec<f32>,
    adam: Adam,
    /// `noise`, restarts `[n, h, A]` (`candidates`), their `costs`.
    buf: SampleBuffers,
    /// `∇J [n, h, A]`, and its direct part `∂C/∂a`.
    grad: Vec<f32>,
    direct: Vec<f32>,
    /// Best iterate `[h, A]` seen in the current call.
    best: Vec<f32>,
}

impl Gradient {
    /// Validate `cfg` and build the planner (zero mean plan).
    pub fn new(cfg: GradientConfig) -> Result<Self, AgentError> {
        cfg.validate()?;
        Ok(Self {
            rng: StdRng::seed_from_u64(cfg.seed),
            adam: Adam::new(cfg.beta1, cfg.beta2, cfg.eps),
            cfg,
            act_dim: 0,
            mean: Vec::new(),
            buf: SampleBuffers::default(),
            grad: Vec::new(),
            direct: Vec::new(),
            best: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &GradientConfig {
        &self.cfg
    }

    /// The stored mean plan `U [h, A]` (empty before the first `plan`).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Replace the warm-start plan by `mean [h, A]` (projected onto the action ball);
    /// sizes the buffers for `A = act_dim`.
    pub(crate) fn set_mean(&mut self, mean: &[f32], act_dim: usize) {
        self.ensure_dims(act_dim);
        self.mean.copy_from_slice(mean);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
    }

    /// Size the buffers for `A`-dimensional actions; a new `A` zeroes the mean plan.
    fn ensure_dims(&mut self, act_dim: usize) {
        let (n, h) = (self.cfg.samples, self.cfg.horizon);
        if self.act_dim != act_dim {
            self.act_dim = act_dim;
            self.mean = vec![0.0; h * act_dim];
            self.adam = Adam::new(self.cfg.beta1, self.cfg.beta2, self.cfg.eps).per_block(act_dim);
        }
        self.buf.ensure(n, h, act_dim);
        self.grad.resize(n * h * act_dim, 0.0);
        self.direct.resize(n * h * act_dim, 0.0);
        self.best.resize(h * act_dim, 0.0);
    }

    /// Restarts `a⁽ⁱ⁾ = Π(U + σ ε⁽ⁱ⁾)`, restart 0 = `U`.
    fn init_restarts(&mut self) {
        let buf = &mut self.buf;
        fill_standard_normal(&mut self.rng, &mut buf.noise);
        let sigma = self.cfg.init_std * self.cfg.max_action_norm;
        let len = self.mean.len();
        let rows = buf
            .candidates
            .chunks_exact_mut(len)
            .zip(buf.noise.chunks_exact(len));
        for (i, (cand, eps)) in rows.enumerate() {
            let s = if i == 0 { 0.0 } else { sigma };
            for ((c, e), u) in cand.iter_mut().zip(eps).zip(&self.mean) {
                *c = u + s * e;
            }
        }
        project_to_ball(&mut buf.candidates, self.act_dim, self.cfg.max_action_norm);
    }

    /// Keep the restart with the lowest cost in `best` if it beats `best_cost`.
    fn keep_best(&mut self, best_cost: &mut f32) {
        let len = self.mean.len();
        for (i, &c) in self.buf.costs.iter().enumerate() {
            if c < *best_cost {
                *best_cost = c;
                self.best
                    .copy_from_slice(&self.buf.candidates[i * len..(i + 1) * len]);
            }
        }
    }

    /// `costs` and `grad = ∇J` at the current restarts, with one rollout and its VJP.
    fn cost_and_gradient(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
        it: usize,
    ) -> Result<(), AgentError> {
        let (n, h) = (self.cfg.samples, self.cfg.horizon);
        let (d, a) = (model.state_dim(), model.action_dim());
        let (cands, costs, direct) = (&self.buf.candidates, &mut self.buf.costs, &mut self.direct);
        let mut cotangent = |states: &[f32], states_bar: &mut [f32]| {
            let batch = RolloutBatch::new(states, cands, (n, h), (d, a))?;
            cost.evaluate_into(&batch, costs)?;
            check_finite(costs, 1, || format!("gradient planner step {it}: cost"))?;
            direct.fill(0.0);
            cost.gradient_into(&batch, states_bar, direct)
        };
        self.grad.fill(0.0);
        model.rollout_and_vjp(s0, cands, (n, h), &mut cotangent, &mut self.grad)?;
        let total = self.grad.iter_mut().zip(&self.direct);
        total.for_each(|(g, c)| *g += c);
        check_finite(&self.grad, h * a, || {
            format!("gradient planner step {it}: gradient")
        })
    }

    /// Runs the restarts from the stored mean plan and stores the best iterate as the new
    /// mean plan; returns its cost. Expects `ensure_dims(act_dim)` and a projected mean.
    pub(crate) fn optimise(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<f32, AgentError> {
        self.init_restarts();
        self.adam.restart(self.buf.candidates.len());
        let lr = self.cfg.lr * self.cfg.max_action_norm;
        let mut best_cost = f32::INFINITY;
        for it in 0..self.cfg.iterations {
            self.cost_and_gradient(s0, cost, model, it)?;
            self.keep_best(&mut best_cost);
            self.adam.step(lr, &mut self.buf.candidates, &self.grad);
            project_to_ball(
                &mut self.buf.candidates,
                self.act_dim,
                self.cfg.max_action_norm,
            );
        }
        let last = self.cfg.iterations;
        let h = self.cfg.horizon;
        self.buf.evaluate(s0, cost, model, h, || {
            format!("gradient planner step {last}:")
        })?;
        self.keep_best(&mut best_cost);
        self.mean.copy_from_slice(&self.best);
        Ok(best_cost)
    }
}

/// `Err(NonFinite)` naming the restart of the first non-finite entry of `values`, which
/// holds `per` entries per restart (`what()` names the quantity).
fn check_finite(
    values: &[f32],
    per: usize,
    what: impl FnOnce() -> String,
) -> Result<(), AgentError> {
    match values.iter().position(|c| !c.is_finite()) {
        None => Ok(()),
        Some(k) => Err(AgentError::NonFinite {
            what: format!("{} of restart {}", what(), k / per.max(1)),
        }),
    }
}

impl Planner for Gradient {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let act_dim = check_plan_inputs(s0, cost, model)?;
        self.ensure_dims(act_dim);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
        self.optimise(s0, cost, model)?;
        let h = self.cfg.horizon;
        // No sample set to fall back on: a plan the guardrails reject becomes the stop plan.
        let plan = final_plan(s0, &self.mean, cost, model, h, self.cfg.iterations, None)?;
        self.mean.copy_from_slice(&plan.actions);
        Ok(plan)
    }

    fn shift(&mut self, k: usize) {
        shift_mean(&mut self.mean, self.act_dim, k);
    }

    fn reset(&mut self) {
        self.mean.fill(0.0);
        self.rng = StdRng::seed_from_u64(self.cfg.seed);
    }

    fn horizon(&self) -> usize {
        self.cfg.horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = GradientConfig::default();
        c.validate().unwrap();
        assert_eq!((c.horizon, c.samples, c.iterations), (16, 8, 10));
        assert_eq!((c.lr, c.beta1, c.beta2, c.eps), (0.1, 0.9, 0.999, 1e-8));
        assert_eq!(c.init_std, 0.5);
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            GradientConfig {
                lr: 0.0,
                ..GradientConfig::default()
            },
            GradientConfig {
                beta1: 1.0,
                ..GradientConfig::default()
            },
            GradientConfig {
                beta2: -0.1,
                ..GradientConfig::default()
            },
            GradientConfig {
                eps: f32::NAN,
                ..GradientConfig::default()
            },
            GradientConfig {
                init_std: -1.0,
                ..GradientConfig::default()
            },
            GradientConfig {
                samples: 0,
                ..GradientConfig::default()
            },
            GradientConfig {
                iterations: 0,
                ..GradientConfig::default()
            },
        ];
        let keys = [
            "gradient.lr",
            "gradient.beta1",
            "gradient.beta2",
            "gradient.eps",
            "gradient.init_std",
            "gradient.samples",
            "gradient.iterations",
        ];
        for (cfg, key) in cases.into_iter().zip(keys) {
            let err = Gradient::new(cfg).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains("expected"),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn unknown_and_derived_keys_are_rejected() {
        let err = serde_json::from_str::<GradientConfig>(r#"{"learning_rate": 0.1}"#);
        assert!(err.unwrap_err().to_string().contains("learning_rate"));
        let err = serde_json::from_str::<GradientConfig>(r#"{"max_action_norm": 2}"#);
        assert!(err.unwrap_err().to_string().contains("max_action_norm"));
        let ok: GradientConfig = serde_json::from_str(r#"{"lr": 0.3}"#).unwrap();
        assert_eq!((ok.lr, ok.samples), (0.3, 8));
    }
}
