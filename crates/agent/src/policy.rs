//! The amortised policy `π(s, s_goal) → a` (DESIGN.md §1, "the amortised policy is trained to
//! reproduce plans"): a small MLP on the concatenated representations `[s, s_goal]`, its output
//! projected onto the action ball `‖a‖₂ ≤ max_action_norm` ([`project_to_ball`]).
//!
//! It is trained by regression ([`crate::regression`], MSE, Adam) on `(s, s_goal, a)` triples:
//! first the planner's own transitions (behaviour cloning), then DAgger (Ross, Gordon & Bagnell
//! 2011): run the policy, relabel the states it visits with the planner's action, aggregate
//! and refit (`ami train-policy`, [`crate::pipeline::train_policy`]).
//!
//! Acting alone it is a [`Planner`] that does not plan: one network evaluation per control
//! cycle, no world model, the action held until the next observation (its "plan" has one
//! action). [`crate::guided::PolicyGuided`] instead warm-starts a planner with it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::error::AgentError;
use crate::guided::WarmStart;
use crate::planner::{project_to_ball, Plan, Planner};
use crate::regression::{
    bad_key, PredictBuffers, RegressionConfig, Regressor, RegressorFile, Samples,
};
use crate::world_model::WorldModel;

/// `[policy]`: how `ami train-policy` trains the amortised policy; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Planner episodes on training tasks for behaviour cloning (`200`).
    pub episodes: usize,
    /// DAgger rounds after behaviour cloning (`3`).
    pub dagger_rounds: usize,
    /// Policy episodes per DAgger round, each on new training tasks (`50`).
    pub dagger_episodes: usize,
    /// With `agent.actor = "policy+planner"`: when the policy's rollout warm-starts the
    /// planner, `"episode_start"` (default) or `"every_plan"` ([`WarmStart`]).
    pub warm_start: WarmStart,
    /// The regression (`hidden = [128, 128]`, `epochs = 60`, ...).
    pub fit: RegressionConfig,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            episodes: 200,
            dagger_rounds: 3,
            dagger_episodes: 50,
            warm_start: WarmStart::EpisodeStart,
            fit: RegressionConfig::default(),
        }
    }
}

impl PolicyConfig {
    /// Range checks; errors name the key (`policy.episodes`, `policy.fit.epochs`, ...).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (key, v) in [
            ("episodes", self.episodes),
            ("dagger_episodes", self.dagger_episodes),
        ] {
            if v == 0 {
                return Err(bad_key(format!("policy.{key}"), v, "an integer >= 1"));
            }
        }
        self.fit.validate("policy.fit")
    }
}

/// One round of policy training, as logged in `policy.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRound {
    /// 0: behaviour cloning on planner episodes; `k ≥ 1`: DAgger round `k`.
    pub round: usize,
    /// Episodes run in this round (by the planner in round 0, by the policy after).
    pub episodes: usize,
    /// Success rate of those episodes (the environment's first rule).
    pub success_rate: f64,
    /// Mean planner wall time per environment step of those episodes (ms).
    pub plan_ms_per_step: f64,
    /// Samples added in this round.
    pub new_samples: usize,
    /// Samples the policy was refitted on.
    pub total_samples: usize,
    /// DAgger rounds: mean `‖π(s, g) − a*‖²` of the acting policy against the planner's labels
    /// on the states it visited (before the refit).
    pub imitation_error: Option<f64>,
    /// Last-epoch training loss of the refit (standardised MSE).
    pub fit_loss: f32,
}

/// The training log stored with the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyLog {
    /// The settings it was trained with.
    pub config: PolicyConfig,
    /// Planning horizon of the planner that labelled the data.
    pub planner_horizon: usize,
    /// Every round, in order.
    pub rounds: Vec<PolicyRound>,
}

/// `policy.json`: the network, its dimensions and its training log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Representation dimension `D` (the network reads `[s, s_goal]`, `2D` values).
    pub state_dim: usize,
    /// Action dimension `A`.
    pub action_dim: usize,
    /// The action bound the policy was trained under.
    pub max_action_norm: f32,
    /// How it was trained.
    pub log: PolicyLog,
    /// The network.
    pub net: RegressorFile,
}

/// `π(s, s_goal) = Π(MLP([s, s_goal]))` (module docs).
#[derive(Debug, Clone)]
pub struct Policy {
    net: Regressor,
    state_dim: usize,
    max_action_norm: f32,
    input: Vec<f32>,
    buf: PredictBuffers,
}

impl Policy {
    /// A freshly initialised policy for `data` (`[s, s_goal] → a` samples), not yet trained.
    pub fn new(
        cfg: &RegressionConfig,
        data: &Samples,
        max_action_norm: f32,
    ) -> Result<Self, AgentError> {
        Self::from_net(Regressor::new(cfg, data)?, max_action_norm)
    }

    fn from_net(net: Regressor, max_action_norm: f32) -> Result<Self, AgentError> {
        let even = net.in_dim().is_multiple_of(2);
        if !(even && max_action_norm.is_finite() && max_action_norm > 0.0) {
            return Err(AgentError::shape(
                "policy input / action bound",
                net.in_dim(),
                "[s, s_goal] (an even width) and a positive action bound",
            ));
        }
        Ok(Policy {
            state_dim: net.in_dim() / 2,
            net,
            max_action_norm,
            input: Vec::new(),
            buf: PredictBuffers::default(),
        })
    }

    /// Trains the network on `data` ([`Regressor::train`]); returns the per-epoch losses.
    pub fn train(
        &mut self,
        cfg: &RegressionConfig,
        data: &Samples,
        on_epoch: &mut dyn FnMut(usize, f32),
    ) -> Result<Vec<f32>, AgentError> {
        self.net.train(cfg, data, on_epoch)
    }

    /// Representation dimension `D`.
    pub fn state_dim(&self) -> usize {
        self.state_dim
    }

    /// Action dimension `A`.
    pub fn action_dim(&self) -> usize {
        self.net.out_dim()
    }

    /// Acts under a different action bound (the environment's, when it is read at run time).
    pub fn with_max_action_norm(mut self, max_action_norm: f32) -> Self {
        self.max_action_norm = max_action_norm;
        self
    }

    /// `a = Π(MLP([s, s_goal]))`, `‖a‖₂ ≤ max_action_norm`.
    ///
    /// # Shapes
    /// `s [D]`, `goal [D]` → `a [A]`.
    pub fn act(&mut self, s: &[f32], goal: &[f32]) -> Result<Vec<f32>, AgentError> {
        let d = self.state_dim;
        crate::error::check_len("policy state", s, d, || format!("[D={d}]"))?;
        crate::error::check_len("policy goal", goal, d, || format!("[D={d}]"))?;
        self.input.clear();
        self.input.extend_from_slice(s);
        self.input.extend_from_slice(goal);
        let mut a = vec![0.0; self.action_dim()];
        self.net
            .predict_into(&self.input, 1, &mut self.buf, &mut a)?;
        let a_dim = a.len();
        project_to_ball(&mut a, a_dim, self.max_action_norm);
        if a.iter().any(|x| !x.is_finite()) {
            return Err(AgentError::NonFinite {
                what: "policy action".into(),
            });
        }
        Ok(a)
    }

    /// The stored form, with its training log.
    pub fn to_file(&self, log: PolicyLog) -> PolicyFile {
        PolicyFile {
            state_dim: self.state_dim,
            action_dim: self.action_dim(),
            max_action_norm: self.max_action_norm,
            log,
            net: self.net.to_file(),
        }
    }

    /// Reads `policy.json` (`path` is named in every error).
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        let bad = |msg: String| AgentError::config_source(path.display().to_string(), msg);
        let file: PolicyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let net = Regressor::from_file(file.net).map_err(|e| bad(e.to_string()))?;
        if net.in_dim() != 2 * file.state_dim || net.out_dim() != file.action_dim {
            return Err(bad(format!(
                "network [{}] → [{}] does not map [s, s_goal] of D = {} to A = {} actions",
                net.in_dim(),
                net.out_dim(),
                file.state_dim,
                file.action_dim
            )));
        }
        Self::from_net(net, file.max_action_norm).map_err(|e| bad(e.to_string()))
    }

    /// Checks the policy against a world model's dimensions.
    pub fn check_dims(&self, model: &dyn WorldModel) -> Result<(), AgentError> {
        let (d, a) = (model.state_dim(), model.action_dim());
        if self.state_dim != d || self.action_dim() != a {
            return Err(AgentError::shape(
                "policy",
                self.state_dim,
                format!("D = {d}, A = {a} (the world model's dimensions)"),
            ));
        }
        Ok(())
    }
}

/// The goal the policy is conditioned on: the one the cost module was built for.
pub(crate) fn goal_of(cost: &Cost) -> Result<&[f32], AgentError> {
    cost.goal().ok_or_else(|| {
        AgentError::config_source(
            "agent.actor",
            "the amortised policy needs the task's goal, and this cost module has none",
        )
    })
}

impl Planner for Policy {
    /// One action `π(s0, s_goal)`; the world model is not used (the plan's
    /// `predicted_states` is empty and its `cost` NaN: nothing is imagined) — except when the
    /// cost has guardrails: then the action is rolled out once and, if a guardrail rejects it,
    /// replaced by the stop action with `safe = false`.
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        self.check_dims(model)?;
        let mut actions = self.act(s0, goal_of(cost)?)?;
        // With guardrails the action is imagined once and checked like any plan: a rejected
        // action becomes the stop action.
        let mut safe = true;
        if cost.has_guardrails() {
            let (d, a) = (model.state_dim(), model.action_dim());
            let h = actions.len() / a.max(1);
            let states = model.rollout(s0, &actions, 1, h)?;
            let batch = crate::cost::RolloutBatch::new(&states, &actions, (1, h), (d, a))?
                .with_start(s0)?;
            if cost.violations(&batch)?[0] {
                actions.fill(0.0);
                safe = false;
            }
        }
        Ok(Plan {
            actions,
            predicted_states: Vec::new(),
            cost: f32::NAN,
            cost_breakdown: Vec::new(),
            iterations: 0,
            safe,
        })
    }

    /// Nothing to shift: the policy keeps no plan.
    fn shift(&mut self, _k: usize) {}

    /// Nothing to reset: the policy is deterministic and stateless.
    fn reset(&mut self) {}

    /// One action per call, held until the next observation.
    fn horizon(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world_model::LinearWorldModel;

    /// Point mass `s' = s + a`: the ideal action toward the goal is `g − s` clipped to the ball.
    #[test]
    fn learns_to_point_at_the_goal_and_plans_one_bounded_action() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut data = Samples::new(4, 2);
        for _ in 0..2000 {
            let s: [f32; 2] = [rng.gen_range(-2.0..2.0), rng.gen_range(-2.0..2.0)];
            let g: [f32; 2] = [rng.gen_range(-2.0..2.0), rng.gen_range(-2.0..2.0)];
            let mut a = vec![g[0] - s[0], g[1] - s[1]];
            project_to_ball(&mut a, 2, 1.0);
            data.push(&[s[0], s[1], g[0], g[1]], &a).unwrap();
        }
        let cfg = RegressionConfig {
            hidden: vec![64, 64],
            epochs: 60,
            batch_size: 64,
            learning_rate: 3e-3,
            ..RegressionConfig::default()
        };
        let mut pi = Policy::new(&cfg, &data, 1.0).unwrap();
        let err = |pi: &mut Policy| -> f32 {
            let a = pi.act(&[1.0, 0.0], &[-1.0, 0.5]).unwrap();
            let mut want = vec![-2.0, 0.5];
            project_to_ball(&mut want, 2, 1.0);
            (a[0] - want[0]).powi(2) + (a[1] - want[1]).powi(2)
        };
        let before = err(&mut pi);
        pi.train(&cfg, &data, &mut |_, _| {}).unwrap();
        let after = err(&mut pi);
        assert!(after < 0.01 && after < before, "error {before} → {after}");
        let cost = Cost::new().with_goal(vec![3.0, 0.0]);
        let wm = LinearWorldModel::point_mass(2).unwrap();
        let plan = pi.plan(&[0.0, 0.0], &cost, &wm).unwrap();
        assert_eq!(plan.actions.len(), 2);
        assert!(plan.actions.iter().map(|x| x * x).sum::<f32>() <= 1.0 + 1e-5);
        assert!(plan.actions[0] > 0.9, "{:?}", plan.actions);
        // Without a goal, or on a model of other dimensions, it refuses to act.
        let err = pi.plan(&[0.0, 0.0], &Cost::new(), &wm).unwrap_err();
        assert!(err.to_string().contains("agent.actor"), "{err}");
        let wm3 = LinearWorldModel::point_mass(3).unwrap();
        assert!(pi.plan(&[0.0; 3], &cost, &wm3).is_err());
    }
}
