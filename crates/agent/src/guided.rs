//! A planner warm-started by the amortised policy (`agent.actor = "policy+planner"`; TD-MPC2
//! seeds its MPPI with policy samples, REFERENCE.md §14).
//!
//! The policy is rolled out in the world model from `s0`, closed loop,
//! `a_t = π(ŝ_t, s_goal)`, `ŝ_{t+1} = f(ŝ_t, a_t)` for `t < h`, and the actions `[h, A]` are
//! handed to the planner as its mean plan ([`Planner::warm_start`]); MPPI keeps its mean as
//! candidate 0 and CEM samples around it, so the planner starts from what the policy would do.
//!
//! When ([`WarmStart`], `policy.warm_start`): at the first plan of each episode only (default),
//! after which the planner's own shifted plan carries its optimisation from call to call; or
//! at every plan, the policy's rollout replacing the shifted plan. On the `check` run's
//! validation tasks (README) the first is better: 28/30 against 27/30 with MPPI 128 × 4, and
//! 27/30 against 23/30 with one MPPI iteration (the policy's imagined rollout, on states it
//! was not trained on, is a worse start than the previous plan shifted).

use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::error::AgentError;
use crate::planner::{Plan, Planner};
use crate::policy::{goal_of, Policy};
use crate::world_model::WorldModel;

/// When the policy's rollout becomes the planner's mean plan (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmStart {
    /// At the first plan after [`Planner::reset`] (the start of an episode).
    EpisodeStart,
    /// At every plan.
    EveryPlan,
}

/// A planner warm-started by the policy's rollout (module docs).
pub struct PolicyGuided {
    policy: Policy,
    planner: Box<dyn Planner>,
    when: WarmStart,
    fresh: bool,
}

impl PolicyGuided {
    /// Guides `planner` with `policy`, warm-starting it `when`.
    pub fn new(policy: Policy, planner: Box<dyn Planner>, when: WarmStart) -> Self {
        PolicyGuided {
            policy,
            planner,
            when,
            fresh: true,
        }
    }

    /// The policy's closed-loop rollout `[h, A]` from `s0` in `model`.
    pub fn policy_rollout(
        &mut self,
        s0: &[f32],
        goal: &[f32],
        model: &dyn WorldModel,
    ) -> Result<Vec<f32>, AgentError> {
        let h = self.planner.horizon();
        let mut actions = Vec::with_capacity(h * model.action_dim());
        let mut s = s0.to_vec();
        for t in 0..h {
            let a = self.policy.act(&s, goal)?;
            if t + 1 < h {
                s = model.rollout(&s, &a, 1, 1)?;
            }
            actions.extend_from_slice(&a);
        }
        Ok(actions)
    }
}

impl Planner for PolicyGuided {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        self.policy.check_dims(model)?;
        if self.fresh || self.when == WarmStart::EveryPlan {
            let actions = self.policy_rollout(s0, goal_of(cost)?, model)?;
            self.planner.warm_start(&actions, model.action_dim())?;
            self.fresh = false;
        }
        self.planner.plan(s0, cost, model)
    }

    fn shift(&mut self, k: usize) {
        self.planner.shift(k);
    }

    fn reset(&mut self) {
        self.fresh = true;
        self.planner.reset();
    }

    fn horizon(&self) -> usize {
        self.planner.horizon()
    }
}
