//! A planner warm-started by the amortised policy (`agent.actor = "policy+planner"`; TD-MPC2
//! seeds its MPPI with policy samples, REFERENCE.md §14).
//!
//! Each call rolls the policy out in the world model from `s0`, closed loop,
//! `a_t = π(ŝ_t, s_goal)`, `ŝ_{t+1} = f(ŝ_t, a_t)` for `t < h`, hands the actions `[h, A]` to
//! the planner as its mean plan ([`Planner::warm_start`]) and plans from there. The policy's
//! rollout replaces the planner's own shifted plan; since MPPI keeps its mean as candidate 0
//! (and CEM samples around it), the planner starts at least from what the policy would do.

use crate::cost::Cost;
use crate::error::AgentError;
use crate::planner::{Plan, Planner};
use crate::policy::{goal_of, Policy};
use crate::world_model::WorldModel;

/// A planner whose mean plan is the policy's rollout at every call (module docs).
pub struct PolicyGuided {
    policy: Policy,
    planner: Box<dyn Planner>,
}

impl PolicyGuided {
    /// Guides `planner` with `policy`.
    pub fn new(policy: Policy, planner: Box<dyn Planner>) -> Self {
        PolicyGuided { policy, planner }
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
        let actions = self.policy_rollout(s0, goal_of(cost)?, model)?;
        self.planner.warm_start(&actions, model.action_dim())?;
        self.planner.plan(s0, cost, model)
    }

    fn shift(&mut self, k: usize) {
        self.planner.shift(k);
    }

    fn reset(&mut self) {
        self.planner.reset();
    }

    fn horizon(&self) -> usize {
        self.planner.horizon()
    }
}
