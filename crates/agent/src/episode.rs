//! The perceive–plan–act loop on the two-rooms test episodes (model-predictive control).
//!
//! Each control cycle: encode the current observation, plan from it toward the encoded goal
//! observation, execute the first `replan_every` environment steps of the plan (each planned
//! action held for the world model's `action_repeat` steps), shift the plan, repeat. The
//! planner sees observations only; true positions are read by the harness to score success.
//!
//! An episode is scored with both rules of the literature at every step: success (4.5 px
//! rule) if the agent ever comes within 4.5 px of the goal, success_mse1 (PLDM rule) if the
//! mean squared coordinate error ever drops below 1 px². The episode ends when the stricter
//! rule is met or after `max_steps`.

use std::time::Instant;

use ami_envs::{observe_at, EpisodeTrace, SuccessRule, TestEpisode, TwoRooms, TwoRoomsConfig};
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, CostKind, GoalDistance};
use crate::error::AgentError;
use crate::jepa_model::JepaWorldModel;
use crate::planner::Planner;

/// How the actor runs an episode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActSettings {
    /// Environment steps executed between two planning calls.
    pub replan_every: usize,
    /// Step limit.
    pub max_steps: usize,
    /// Extra weight on the last predicted state in the goal cost.
    pub terminal_weight: f32,
}

/// What one episode produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpisodeOutcome {
    /// Start, goal and executed path.
    pub trace: EpisodeTrace,
    /// Came within 4.5 px of the goal.
    pub success: bool,
    /// Mean squared coordinate error fell below 1 px².
    pub success_mse1: bool,
    /// Environment steps taken.
    pub steps: usize,
    /// Number of planning calls.
    pub plan_calls: usize,
    /// Wall time spent inside the planner.
    pub plan_seconds: f64,
    /// Closest approach to the goal (px).
    pub min_distance: f32,
}

/// Runs one test episode with `planner` on `model`.
pub fn run_episode(
    env_cfg: &TwoRoomsConfig,
    model: &JepaWorldModel,
    planner: &mut dyn Planner,
    episode: &TestEpisode,
    settings: &ActSettings,
) -> Result<EpisodeOutcome, AgentError> {
    let env_err = |e: ami_envs::EnvError| AgentError::WorldModel(format!("environment: {e}"));
    let mut env = TwoRooms::new(env_cfg.clone()).map_err(env_err)?;
    env.reset_to(episode.start).map_err(env_err)?;
    let goal_repr = model.encode(&observe_at(env_cfg, episode.goal))?;
    let cost = Cost::new().with_term(
        CostKind::Task,
        1.0,
        GoalDistance::new(goal_repr)?.terminal_weight(settings.terminal_weight)?,
    )?;
    planner.reset();
    let repeat = model.action_repeat();
    let (h, a_dim) = (planner.horizon(), 2);
    let mut path = vec![episode.start];
    let (mut success, mut success_mse1) = (false, false);
    let (mut steps, mut plan_calls, mut plan_seconds) = (0usize, 0usize, 0f64);
    while steps < settings.max_steps && !success_mse1 {
        let s = model.encode(&env.observe())?;
        let t0 = Instant::now();
        let plan = planner.plan(&s, &cost, model)?;
        plan_seconds += t0.elapsed().as_secs_f64();
        plan_calls += 1;
        for j in 0..settings.replan_every {
            if steps >= settings.max_steps || success_mse1 {
                break;
            }
            let m = (j / repeat).min(h - 1);
            let a = [plan.actions[m * a_dim], plan.actions[m * a_dim + 1]];
            let p = env.step(a).map_err(env_err)?;
            path.push(p);
            steps += 1;
            success |= SuccessRule::Radius(4.5).is_success(p, episode.goal);
            success_mse1 |= SuccessRule::Mse(1.0).is_success(p, episode.goal);
        }
        planner.shift(settings.replan_every.div_ceil(repeat));
    }
    let trace = EpisodeTrace {
        start: episode.start,
        goal: episode.goal,
        path,
    };
    let min_distance = trace.min_distance();
    Ok(EpisodeOutcome {
        trace,
        success,
        success_mse1,
        steps,
        plan_calls,
        plan_seconds,
        min_distance,
    })
}
