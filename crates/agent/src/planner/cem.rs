//! Cross-entropy method (CEM; REFERENCE.md §14 "Planners": DINO-WM, TD-MPC2).
//!
//! Each iteration samples `n` sequences `a_i = Π(μ + σ ⊙ ε_i)`, `ε_i ~ N(0, I)`, keeps the
//! `k` elites with the lowest cost and refits, per time step and action dimension,
//!
//! `μ ← m · μ + (1 − m) · mean(elites)`, `σ ← max(std(elites), min_std · max_action_norm)`
//!
//! (population std, divisor `k`), then projects `μ` onto the action ball. Convention as in
//! TD-MPC2: the mean `μ` is warm-started across `plan` calls (see [`Planner::shift`]) while
//! `σ` restarts from `init_std` at every call.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{
    check_plan_inputs, fill_standard_normal, final_plan, project_to_ball, require_f32,
    require_positive, shift_mean, Plan, Planner, SampleBuffers,
};
use crate::cost::Cost;
use crate::error::{check_len, AgentError};
use crate::world_model::WorldModel;

/// Settings of [`Cem`]; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CemConfig {
    /// Planning horizon `h` (default 16). Not a key of the `[planner]` section: a run takes
    /// it from `[agent] horizon` ([`super::PlannerConfig::build`]).
    #[serde(skip)]
    pub horizon: usize,
    /// Candidates per iteration `n` (default 256).
    pub samples: usize,
    /// Elites kept per iteration `k ≤ n` (default 32).
    pub elites: usize,
    /// Refit iterations per `plan` call (default 6).
    pub iterations: usize,
    /// Sampling std σ at the start of every `plan` call, in units of `max_action_norm`
    /// (default 0.5).
    pub init_std: f32,
    /// Lower clamp of σ after each refit, in units of `max_action_norm` (default 0.05).
    pub min_std: f32,
    /// Weight `m` of the old mean: `μ ← m·μ + (1 − m)·mean(elites)` (default 0.1).
    pub momentum: f32,
    /// Bound on every action: `‖a_t‖₂ ≤ max_action_norm` (default 1.0). Not a configuration
    /// key: a run takes it from the environment's action space.
    #[serde(skip)]
    pub max_action_norm: f32,
    /// Seed of the planner's random stream (default 0).
    pub seed: u64,
}

impl Default for CemConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            samples: 256,
            elites: 32,
            iterations: 6,
            init_std: 0.5,
            min_std: 0.05,
            momentum: 0.1,
            max_action_norm: 1.0,
            seed: 0,
        }
    }
}

impl CemConfig {
    /// Check every field; the error names the field, the value and what was expected.
    pub fn validate(&self) -> Result<(), AgentError> {
        require_positive("cem.horizon", self.horizon)?;
        require_positive("cem.samples", self.samples)?;
        require_positive("cem.elites", self.elites)?;
        if self.elites > self.samples {
            return Err(AgentError::config(
                "cem.elites",
                self.elites,
                "at most cem.samples",
            ));
        }
        require_positive("cem.iterations", self.iterations)?;
        require_f32(
            "cem.init_std",
            self.init_std,
            |v| v > 0.0,
            "a finite value > 0",
        )?;
        let init = self.init_std;
        require_f32(
            "cem.min_std",
            self.min_std,
            |v| v >= 0.0 && v <= init,
            "a value in [0, cem.init_std]",
        )?;
        require_f32(
            "cem.momentum",
            self.momentum,
            |v| (0.0..1.0).contains(&v),
            "a value in [0, 1)",
        )?;
        require_f32(
            "cem.max_action_norm",
            self.max_action_norm,
            |v| v > 0.0,
            "a finite value > 0",
        )
    }
}

/// CEM planner with a warm-started mean plan `μ [h, A]` and per-element std `σ [h, A]`.
#[derive(Debug, Clone)]
pub struct Cem {
    cfg: CemConfig,
    rng: StdRng,
    act_dim: usize,
    mean: Vec<f32>,
    std: Vec<f32>,
    order: Vec<usize>,
    buf: SampleBuffers,
}

impl Cem {
    /// Validate `cfg` and build the planner (zero mean plan).
    pub fn new(cfg: CemConfig) -> Result<Self, AgentError> {
        cfg.validate()?;
        Ok(Self {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            act_dim: 0,
            mean: Vec::new(),
            std: Vec::new(),
            order: Vec::new(),
            buf: SampleBuffers::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &CemConfig {
        &self.cfg
    }

    /// The stored mean plan `μ [h, A]` (empty before the first `plan`).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Runs the CEM iterations from the stored mean plan (projected first), leaving the
    /// refitted mean in [`Cem::mean`]; `act_dim` from [`check_plan_inputs`]. [`Cem::plan`]
    /// is this plus the final rollout; `cem+gradient` refines the mean before that.
    pub(crate) fn optimise(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
        act_dim: usize,
    ) -> Result<(), AgentError> {
        self.ensure_dims(act_dim);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
        self.std.fill(self.cfg.init_std * self.cfg.max_action_norm);
        let h = self.cfg.horizon;
        for it in 0..self.cfg.iterations {
            self.sample();
            self.buf
                .evaluate(s0, cost, model, h, || format!("CEM iteration {it}:"))?;
            self.refit();
        }
        Ok(())
    }

    /// The candidates and costs of the last iteration (the fallback of an unsafe final plan).
    pub(crate) fn buffers(&self) -> &SampleBuffers {
        &self.buf
    }

    /// Replace the warm-start mean plan by `mean [h, A]` (after [`Cem::optimise`] sized it).
    pub(crate) fn set_mean(&mut self, mean: &[f32]) {
        self.mean.copy_from_slice(mean);
    }

    /// Size the buffers for `A`-dimensional actions; a new `A` zeroes the mean plan.
    fn ensure_dims(&mut self, act_dim: usize) {
        let len = self.cfg.horizon * act_dim;
        if self.act_dim != act_dim {
            self.act_dim = act_dim;
            self.mean = vec![0.0; len];
        }
        self.std.resize(len, 0.0);
        self.order.resize(self.cfg.samples, 0);
        self.buf.ensure(self.cfg.samples, self.cfg.horizon, act_dim);
    }

    /// `candidates = Π(μ + σ ⊙ ε)`.
    fn sample(&mut self) {
        let buf = &mut self.buf;
        fill_standard_normal(&mut self.rng, &mut buf.noise);
        let len = self.mean.len();
        for (cand, eps) in buf
            .candidates
            .chunks_exact_mut(len)
            .zip(buf.noise.chunks_exact(len))
        {
            for (j, (c, e)) in cand.iter_mut().zip(eps).enumerate() {
                *c = self.mean[j] + self.std[j] * e;
            }
        }
        project_to_ball(&mut buf.candidates, self.act_dim, self.cfg.max_action_norm);
    }

    /// Refit `μ`, `σ` to the `k` lowest-cost candidates.
    fn refit(&mut self) {
        let (k, len) = (self.cfg.elites, self.mean.len());
        let costs = &self.buf.costs;
        self.order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        self.order
            .select_nth_unstable_by(k - 1, |&i, &j| costs[i].total_cmp(&costs[j]));
        let elites = &self.order[..k];
        let cands = &self.buf.candidates;
        let m = self.cfg.momentum;
        for j in 0..len {
            let mu = elites.iter().map(|&e| cands[e * len + j]).sum::<f32>() / k as f32;
            let var = elites
                .iter()
                .map(|&e| (cands[e * len + j] - mu).powi(2))
                .sum::<f32>()
                / k as f32;
            self.mean[j] = m * self.mean[j] + (1.0 - m) * mu;
            self.std[j] = var.sqrt().max(self.cfg.min_std * self.cfg.max_action_norm);
        }
        project_to_ball(&mut self.mean, self.act_dim, self.cfg.max_action_norm);
    }
}

impl Planner for Cem {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let act_dim = check_plan_inputs(s0, cost, model)?;
        self.optimise(s0, cost, model, act_dim)?;
        let h = self.cfg.horizon;
        let plan = final_plan(
            s0,
            &self.mean,
            cost,
            model,
            h,
            self.cfg.iterations,
            Some(&self.buf),
        )?;
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

    fn warm_start(&mut self, actions: &[f32], act_dim: usize) -> Result<(), AgentError> {
        let h = self.cfg.horizon;
        check_len("cem warm start", actions, h * act_dim, || {
            format!("[h={h}, A={act_dim}]")
        })?;
        self.ensure_dims(act_dim);
        self.mean.copy_from_slice(actions);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
        Ok(())
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
        let c = CemConfig::default();
        c.validate().unwrap();
        assert_eq!(
            (c.horizon, c.samples, c.elites, c.iterations),
            (16, 256, 32, 6)
        );
        assert_eq!((c.init_std, c.min_std, c.momentum), (0.5, 0.05, 0.1));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = CemConfig {
            elites: 300,
            ..CemConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("cem.elites") && err.contains("300"), "{err}");
        let bad = CemConfig {
            momentum: 1.0,
            ..CemConfig::default()
        };
        assert!(Cem::new(bad)
            .unwrap_err()
            .to_string()
            .contains("cem.momentum"));
        let bad = CemConfig {
            min_std: 0.6,
            ..CemConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cem.min_std"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<CemConfig>(r#"{"topk": 3}"#);
        assert!(err.unwrap_err().to_string().contains("topk"));
    }
}
