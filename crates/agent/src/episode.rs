//! The perceive–plan–act loop on one goal-reaching task (model-predictive control), for any
//! environment behind [`Env`].
//!
//! Each control cycle: encode the current observation, plan from it toward the encoded goal
//! observation, execute the first `replan_every` environment steps of the plan (planned action
//! `m = ⌊j / action_repeat⌋` at step `j` of the cycle, the last one held if the plan is
//! shorter), shift the plan by `⌈replan_every / action_repeat⌉` actions, repeat. The
//! planner sees observations only; true states are read by the harness to score success.
//!
//! Every success rule of the environment ([`Env::success_rules`]) is checked on the error to
//! the goal ([`Env::goal_error`]) after every step; a rule counts as met if it was met at any
//! step. The episode ends on the step at which all rules have been met, or after `max_steps`.

use std::time::Instant;

use ami_envs::{Env, EpisodeTrace, Task};
use serde::{Deserialize, Serialize};

use crate::cost::{CostKind, RolloutBatch};
use crate::cost_config::{CostConfig, CostContext};
use crate::error::AgentError;
use crate::memory::{Episode, Transition};
use crate::perception::Perception;
use crate::planner::Planner;
use crate::world_model::WorldModel;

/// How the actor runs an episode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActSettings {
    /// Environment steps executed between two planning calls.
    pub replan_every: usize,
    /// Step limit.
    pub max_steps: usize,
}

/// The modules the actor plans with.
pub struct Actor<'a> {
    /// Observation → representation.
    pub perception: &'a dyn Perception,
    /// Representation dynamics; its [`WorldModel::action_repeat`] says how many environment
    /// steps one planned action covers.
    pub model: &'a dyn WorldModel,
    /// Trajectory optimiser, reset at the start of the episode.
    pub planner: &'a mut dyn Planner,
    /// The cost module's configuration (built once per episode with the goal).
    pub cost: &'a CostConfig,
}

/// What one episode produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpisodeOutcome {
    /// Start, goal and executed path (true states).
    pub trace: EpisodeTrace,
    /// Per success rule of the environment (same order): met at some step.
    pub successes: Vec<bool>,
    /// Environment steps taken.
    pub steps: usize,
    /// Number of planning calls.
    pub plan_calls: usize,
    /// Wall time spent inside the planner.
    pub plan_seconds: f64,
    /// Closest approach to the goal: `min_t ‖e(s_t, goal)‖` over the path, start included.
    pub min_goal_error: f32,
    /// What the agent experienced, in representation space: one transition per control cycle
    /// (see [`crate::memory`]), for the short-term memory.
    pub memory: Episode,
}

/// Runs the task `task` in `env` with `actor`.
pub fn run_episode(
    env: &mut dyn Env,
    actor: Actor,
    task: &Task,
    settings: &ActSettings,
) -> Result<EpisodeOutcome, AgentError> {
    if settings.replan_every == 0 {
        return Err(AgentError::config("agent.replan_every", 0, ">= 1"));
    }
    let Actor {
        perception,
        model,
        planner,
        cost,
    } = actor;
    let mut obs = env.reset_to(&task.start)?;
    let goal_repr = perception.encode(&env.observe_state(&task.goal)?)?;
    let cost = cost.build(CostContext { goal: &goal_repr })?;
    let rules = env.success_rules();
    planner.reset();
    let (repeat, a_dim) = (model.action_repeat().max(1), model.action_dim());
    let h = planner.horizon();
    let mut path = vec![task.start.clone()];
    let mut min_goal_error = norm(&env.goal_error(&task.start, &task.goal));
    let mut met = vec![false; rules.len()];
    let all_met = |met: &[bool]| !met.is_empty() && met.iter().all(|&m| m);
    let (mut steps, mut plan_calls, mut plan_seconds) = (0usize, 0usize, 0f64);
    let mut memory = Episode {
        goal: goal_repr.clone(),
        ..Episode::default()
    };
    let mut s = perception.encode(&obs)?;
    while steps < settings.max_steps && !all_met(&met) {
        let t0 = Instant::now();
        let plan = planner.plan(&s, &cost, model)?;
        plan_seconds += t0.elapsed().as_secs_f64();
        plan_calls += 1;
        if plan.actions.len() != h * a_dim {
            return Err(AgentError::shape(
                "plan actions",
                plan.actions.len(),
                format!("[h={h}, A={a_dim}]"),
            ));
        }
        for j in 0..settings.replan_every {
            if steps >= settings.max_steps || all_met(&met) {
                break;
            }
            let m = (j / repeat).min(h - 1);
            let step = env.step(&plan.actions[m * a_dim..(m + 1) * a_dim])?;
            obs = step.obs;
            steps += 1;
            let e = env.goal_error(&step.state, &task.goal);
            for (flag, r) in met.iter_mut().zip(&rules) {
                *flag |= r.rule.is_met(&e);
            }
            min_goal_error = min_goal_error.min(norm(&e));
            path.push(step.state);
        }
        planner.shift(settings.replan_every.div_ceil(repeat));
        let next = perception.encode(&obs)?;
        let action = plan.actions[..a_dim].to_vec();
        let batch = RolloutBatch::new(&next, &action, (1, 1), (next.len(), a_dim))?;
        let step_cost = cost.evaluate_kinds(&batch, |k| k != CostKind::Critic)?[0];
        memory.transitions.push(Transition {
            state: std::mem::replace(&mut s, next),
            action,
            cost: step_cost,
        });
    }
    memory.final_state = s;
    let trace = EpisodeTrace {
        start: task.start.clone(),
        goal: task.goal.clone(),
        path,
        success: met.first().copied().unwrap_or(false),
    };
    Ok(EpisodeOutcome {
        trace,
        successes: met,
        steps,
        plan_calls,
        plan_seconds,
        min_goal_error,
        memory,
    })
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}
