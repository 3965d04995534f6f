//! The perceive–plan–act loop (model-predictive control) for any task ([`TaskSpec`]) in any
//! environment behind [`Env`].
//!
//! Each control cycle: encode the current observation; if the current target is not the last
//! one and the agent's own reading says it has been reached, move on to the next target (see
//! [`crate::task`]); plan from the encoded state with the target's cost; execute the first
//! `replan_every` environment steps of the plan (planned action `m = ⌊j / action_repeat⌋` at
//! step `j` of the cycle, the last one held if the plan is shorter); shift the plan by
//! `⌈replan_every / action_repeat⌉` actions; repeat. The planner sees observations only;
//! true states are read by the harness to score the task and count safety violations.
//!
//! **Safety.** A plan the planner could not make safe (`Plan::safe == false`, only possible
//! with guardrails) is the stop plan: the loop executes the environment's fallback action
//! (`ActSettings::fallback_action`: zeros, i.e. stand still, in two-rooms; full braking in
//! highway) instead and counts it in `unsafe_plans`. `violations` counts the steps whose true state violates a safety
//! constraint of the environment ([`Env::violation`]).
//!
//! The episode ends on the step at which the task's scorer is done, or after `max_steps`.

use std::time::Instant;

use std::sync::Arc;

use ami_envs::{Env, EpisodeTrace, Task};
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, CostKind, FixedCost, RolloutBatch};
use crate::cost_config::{CostConfig, CostContext, WorldReadout};
use crate::error::AgentError;
use crate::memory::{Episode, Transition};
use crate::perception::Perception;
use crate::planner::Planner;
use crate::probe::StateProbe;
use crate::task::{Reach, Target, TaskEpisode, TaskSpec};
use crate::terms::{RegionDistance, StateBox};
use crate::world_model::WorldModel;

/// How the actor runs an episode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActSettings {
    /// Environment steps executed between two planning calls.
    pub replan_every: usize,
    /// Step limit.
    pub max_steps: usize,
    /// Radius (true-state units) within which the agent reads itself as arrived at a goal
    /// target and moves on to the next one.
    #[serde(default = "default_advance_radius")]
    pub advance_radius: f32,
    /// The action executed while the planner has no safe plan (`Plan::safe == false`);
    /// empty: the plan's own stop actions (zeros). The environment's
    /// [`ami_envs::EnvSpec::fallback_action`].
    #[serde(default)]
    pub fallback_action: Vec<f32>,
    /// Record at every planning call the plan the agent imagined, as its state probe reads it
    /// ([`EpisodeOutcome::imagined`], for episode videos); off (the default), nothing is
    /// decoded. Without a probe nothing is recorded.
    #[serde(default)]
    pub record_imagined: bool,
}

fn default_advance_radius() -> f32 {
    3.0
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
    /// The `task` and `critic` terms of the cost module (built for each goal target).
    pub cost: &'a CostConfig,
    /// The agent's immutable intrinsic and guardrail terms, fixed when it was built.
    pub fixed: Arc<FixedCost>,
    /// Probe and regions, for region targets and for moving on between targets.
    pub readout: &'a WorldReadout,
}

/// What one episode produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpisodeOutcome {
    /// Start, goal and executed path (true states).
    pub trace: EpisodeTrace,
    /// Per reported rule of the task (same order): met.
    pub successes: Vec<bool>,
    /// Steps whose true state violated a safety constraint of the environment.
    pub violations: usize,
    /// Planning calls that found no safe plan (the agent stopped instead).
    pub unsafe_plans: usize,
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
    /// The plans imagined at each planning call, in order (with
    /// [`ActSettings::record_imagined`] and a state probe; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imagined: Vec<ImaginedPlan>,
}

/// The plan an agent imagined at one planning call, as its state probe reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImaginedPlan {
    /// Environment steps taken before the call: the plan starts at state `path[step]` of the
    /// episode's trace.
    pub step: usize,
    /// `probe(s)` of the current representation `s`, then `probe(ŝ_k)` of each predicted
    /// state `ŝ_1 … ŝ_h` of the plan (readout features, [`ami_envs::EnvSpec::readout`]).
    pub points: Vec<Vec<f32>>,
}

impl ImaginedPlan {
    /// Reads the plan from `s [D]` with predicted states `predicted [h, D]` through `probe`.
    fn read(probe: &StateProbe, step: usize, s: &[f32], predicted: &[f32]) -> Self {
        let d = s.len().max(1);
        let points = std::iter::once(s)
            .chain(predicted.chunks_exact(d))
            .map(|x| probe.decode(x))
            .collect();
        ImaginedPlan { step, points }
    }
}

/// Runs the goal-reaching task `task` in `env` with `actor` (the `reach` task).
pub fn run_episode(
    env: &mut dyn Env,
    actor: Actor,
    task: &Task,
    settings: &ActSettings,
) -> Result<EpisodeOutcome, AgentError> {
    let episode = TaskEpisode {
        start: task.start.clone(),
        targets: vec![Target::Goal(task.goal.clone())],
    };
    run_task_episode(env, actor, &Reach { safe: false }, &episode, settings)
}

/// The agent's plan for one target: its cost, and how it tells that it has arrived.
struct Stage {
    cost: Cost,
    arrived: Arrival,
}

enum Arrival {
    /// Decoded position within `radius` of the decoded goal.
    Near {
        goal: Vec<f32>,
        radius: f32,
        probe: Option<Arc<crate::probe::StateProbe>>,
    },
    /// Decoded position inside the region.
    Inside(RegionDistance),
}

impl Stage {
    fn build(
        target: &Target,
        env: &dyn Env,
        actor: &Actor,
        advance_radius: f32,
    ) -> Result<Stage, AgentError> {
        let task_cost = |goal: &[f32]| {
            let ctx = CostContext {
                goal,
                probe: actor.readout.probe.as_ref(),
            };
            actor.cost.build_task(actor.fixed.clone(), ctx)
        };
        match target {
            Target::Goal(g) => {
                let goal = actor.perception.encode(&env.observe_state(g)?)?;
                let cost = task_cost(&goal)?;
                Ok(Stage {
                    cost,
                    arrived: Arrival::Near {
                        goal,
                        radius: advance_radius,
                        probe: actor.readout.probe.clone(),
                    },
                })
            }
            Target::Region { region, anchor } => {
                let probe = actor.readout.require_probe("task region")?;
                let term = RegionDistance::new(probe, StateBox::of(region))?;
                let goal = actor.perception.encode(&env.observe_state(anchor)?)?;
                let cost = task_cost(&goal)?;
                Ok(Stage {
                    cost,
                    arrived: Arrival::Inside(term),
                })
            }
        }
    }

    /// Whether the agent reads its state `s` as having arrived (needs the probe for goals).
    fn arrived(&self, s: &[f32]) -> Result<bool, AgentError> {
        match &self.arrived {
            Arrival::Near {
                goal,
                radius,
                probe,
            } => {
                let probe = probe.as_ref().ok_or_else(|| {
                    AgentError::config_source(
                        "task",
                        "tasks with several targets need the run's state probe (probe.json)",
                    )
                })?;
                let (a, b) = (probe.decode(s), probe.decode(goal));
                Ok(norm(&a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<_>>()) <= *radius)
            }
            Arrival::Inside(term) => Ok(term.distance(s) == 0.0),
        }
    }
}

/// Runs one episode of `task` in `env` with `actor`; `settings.max_steps` is the task's step
/// limit.
pub fn run_task_episode(
    env: &mut dyn Env,
    actor: Actor,
    task: &dyn TaskSpec,
    episode: &TaskEpisode,
    settings: &ActSettings,
) -> Result<EpisodeOutcome, AgentError> {
    if settings.replan_every == 0 {
        return Err(AgentError::config("agent.replan_every", 0, ">= 1"));
    }
    let a_dim = actor.model.action_dim();
    if !settings.fallback_action.is_empty() && settings.fallback_action.len() != a_dim {
        return Err(AgentError::shape(
            "fallback action",
            settings.fallback_action.len(),
            format!("[A={a_dim}] (the world model's action dimension)"),
        ));
    }
    if episode.targets.is_empty() {
        return Err(AgentError::config_source(
            "task",
            "an episode without targets",
        ));
    }
    let mut obs = env.reset_to(&episode.start)?;
    let rules = env.success_rules();
    let stages = episode
        .targets
        .iter()
        .map(|t| Stage::build(t, env, &actor, settings.advance_radius))
        .collect::<Result<Vec<_>, _>>()?;
    let probe = actor.readout.probe.clone();
    let Actor {
        perception,
        model,
        planner,
        ..
    } = actor;
    let mut subgoals: Vec<Vec<f32>> = Vec::new();
    let mut scorer = task.scorer(episode, &rules);
    planner.reset();
    let (repeat, a_dim) = (model.action_repeat().max(1), model.action_dim());
    let h = planner.horizon();
    let display_goal = episode.display_goal();
    let mut path = vec![episode.start.clone()];
    let mut min_goal_error = norm(&env.goal_error(&episode.start, &display_goal));
    let (mut steps, mut plan_calls, mut plan_seconds) = (0usize, 0usize, 0f64);
    let (mut violations, mut unsafe_plans, mut stage) = (0usize, 0usize, 0usize);
    let mut memory = Episode::default();
    let mut imagined = Vec::new();
    let mut s = perception.encode(&obs)?;
    while steps < settings.max_steps && !scorer.done() {
        while stage + 1 < stages.len() && stages[stage].arrived(&s)? {
            stage += 1;
            planner.reset();
        }
        let cost = &stages[stage].cost;
        if memory.goal.is_empty() {
            memory.goal = cost.goal().map(<[f32]>::to_vec).unwrap_or_default();
        }
        let t0 = Instant::now();
        let plan = planner.plan(&s, cost, model)?;
        plan_seconds += t0.elapsed().as_secs_f64();
        plan_calls += 1;
        unsafe_plans += usize::from(!plan.safe);
        if let (true, Some(probe)) = (settings.record_imagined, probe.as_ref()) {
            imagined.push(ImaginedPlan::read(probe, steps, &s, &plan.predicted_states));
        }
        if let (Some(sub), Some(probe)) = (planner.subgoal(), probe.as_ref()) {
            let read = probe.decode(sub);
            if subgoals.last() != Some(&read) {
                subgoals.push(read);
            }
        }
        if plan.actions.len() != h * a_dim {
            return Err(AgentError::shape(
                "plan actions",
                plan.actions.len(),
                format!("[h={h}, A={a_dim}]"),
            ));
        }
        for j in 0..settings.replan_every {
            if steps >= settings.max_steps || scorer.done() {
                break;
            }
            let m = (j / repeat).min(h - 1);
            let action = if plan.safe || settings.fallback_action.is_empty() {
                &plan.actions[m * a_dim..(m + 1) * a_dim]
            } else {
                &settings.fallback_action[..]
            };
            let step = env.step(action)?;
            obs = step.obs;
            steps += 1;
            scorer.observe(env, &step.state);
            violations += usize::from(env.violation(&step.state));
            min_goal_error = min_goal_error.min(norm(&env.goal_error(&step.state, &display_goal)));
            path.push(step.state);
        }
        planner.shift(settings.replan_every.div_ceil(repeat));
        let next = perception.encode(&obs)?;
        let action = plan.actions[..a_dim].to_vec();
        let batch =
            RolloutBatch::new(&next, &action, (1, 1), (next.len(), a_dim))?.with_start(&s)?;
        let step_cost = cost.evaluate_kinds(&batch, |k| k != CostKind::Critic)?[0];
        memory.transitions.push(Transition {
            state: std::mem::replace(&mut s, next),
            action,
            cost: step_cost,
        });
    }
    memory.final_state = s;
    let successes = scorer.successes();
    let trace = EpisodeTrace {
        start: episode.start.clone(),
        goal: display_goal,
        path,
        success: successes.first().copied().unwrap_or(false),
        subgoals,
    };
    Ok(EpisodeOutcome {
        trace,
        successes,
        violations,
        unsafe_plans,
        steps,
        plan_calls,
        plan_seconds,
        min_goal_error,
        memory,
        imagined,
    })
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}
