//! Evaluation: plan on the environment's test tasks with the run's world model and report
//! the success rate of every success rule, planning latency and closest approach.
//!
//! Episodes are independent (the planner is reset to its seed at the start of each), so they
//! are spread over one worker per core ([`super::workers`]); the results do not depend on the
//! number of workers. With an online critic the episodes run in blocks, the critic refitted
//! between blocks ([`super::learned`]).

use std::collections::BTreeMap;

use ami_envs::{Env, Task};
use ami_jepa::checkpoint::load_model;
use serde::{Deserialize, Serialize};

use super::config::{RunConfig, Split};
use super::fit::compute_device;
use super::learned::{run_tasks, Learned};
use super::progress::Progress;
use super::run_dir::RunDir;
use super::workers::{map_on_workers, worker_count};
use crate::episode::{run_episode, ActSettings, Actor, EpisodeOutcome};
use crate::error::AgentError;
use crate::jepa_model::JepaWorldModel;
use crate::planner::Planner;

/// The numbers of an evaluation (`report.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    /// Environment kind.
    pub env: String,
    /// The tasks planned on (`val` or `test`).
    pub split: Split,
    /// Number of episodes.
    pub episodes: usize,
    /// Fraction of episodes that met each success rule, by the rule's report name (the first
    /// rule of the environment is `success_rate`).
    #[serde(flatten)]
    pub success_rates: BTreeMap<String, f64>,
    /// Planner wall time per environment step (ms).
    pub plan_ms_per_step: f64,
    /// Planner wall time per planning call (ms).
    pub plan_ms_per_call: f64,
    /// Mean number of environment steps per episode.
    pub mean_episode_steps: f64,
    /// Mean over episodes of the closest approach `min_t ‖e(s_t, goal)‖` (px in two-rooms).
    pub mean_min_goal_error: f64,
    /// Who chose the actions (`agent.actor`: `planner`, `policy`, `policy+planner`).
    #[serde(default = "planner_actor")]
    pub actor: String,
    /// Planner kind.
    pub planner: String,
    /// Observation kind (`state`, `image`).
    pub observation: String,
    /// Tensor backend.
    pub backend: String,
    /// Evaluation workers (results do not depend on it).
    pub eval_workers: usize,
    /// Wall time of training (s), when the report comes from `demo`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub train_seconds: Option<f64>,
    /// Wall time of the whole run (s), when the report comes from `demo`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total_seconds: Option<f64>,
}

impl EvalReport {
    /// The headline success rate (the environment's first rule; 0 when absent).
    pub fn success_rate(&self) -> f64 {
        self.success_rates
            .get("success_rate")
            .copied()
            .unwrap_or(0.0)
    }

    /// Writes the report into the run directory (atomically; [`Split::report_file`]).
    pub fn save(&self, run: &RunDir) -> Result<(), AgentError> {
        let name = self.split.report_file();
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source(name, e.to_string()))?;
        run.write(name, text.as_bytes())
    }

    /// Aggregates per-episode outcomes (rule names in the environment's order).
    pub fn from_outcomes(
        cfg: &RunConfig,
        split: Split,
        rule_names: &[&str],
        outcomes: &[EpisodeOutcome],
        eval_workers: usize,
    ) -> Self {
        let n = outcomes.len().max(1) as f64;
        let success_rates = rule_names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let hits = outcomes.iter().filter(|o| o.successes[k]).count();
                (name.to_string(), hits as f64 / n)
            })
            .collect();
        let steps: usize = outcomes.iter().map(|o| o.steps).sum();
        let calls: usize = outcomes.iter().map(|o| o.plan_calls).sum();
        let plan_s: f64 = outcomes.iter().map(|o| o.plan_seconds).sum();
        EvalReport {
            env: cfg.env.kind().to_string(),
            split,
            episodes: outcomes.len(),
            success_rates,
            plan_ms_per_step: 1e3 * plan_s / steps.max(1) as f64,
            plan_ms_per_call: 1e3 * plan_s / calls.max(1) as f64,
            mean_episode_steps: steps as f64 / n,
            mean_min_goal_error: outcomes
                .iter()
                .map(|o| f64::from(o.min_goal_error))
                .sum::<f64>()
                / n,
            actor: cfg.agent.actor.name().to_string(),
            planner: cfg.planner.kind().to_string(),
            observation: cfg.env.spec().observation_name().to_string(),
            backend: format!("{:?}", compute_device()),
            eval_workers,
            train_seconds: None,
            total_seconds: None,
        }
    }
}

/// Reports written before `actor` existed were all planned.
fn planner_actor() -> String {
    "planner".into()
}

/// Loads the run's world model for planning (one copy per evaluation worker).
pub fn world_model(run: &RunDir, cfg: &RunConfig) -> Result<JepaWorldModel, AgentError> {
    let device = compute_device();
    let (model, meta) = load_model(&run.checkpoint(), &device)?;
    JepaWorldModel::new(
        model,
        device,
        meta.model.obs_dim,
        meta.model.repr_dim,
        meta.model.action_dim,
        cfg.agent.action_repeat,
    )
}

/// Plans on the tasks of `split` with the run's checkpoint; writes the report
/// ([`Split::report_file`]) and the picture of its episodes ([`Split::episodes_picture`]).
pub fn evaluate(
    run: &RunDir,
    cfg: &RunConfig,
    split: Split,
    progress: &dyn Progress,
) -> Result<EvalReport, AgentError> {
    cfg.validate()?;
    let spec = cfg.env.spec();
    let tasks = spec.tasks(cfg.eval.episodes, cfg.task_seed(split))?;
    let learned = Learned::load(run, cfg)?;
    let workers = worker_count(tasks.len());
    progress.start("eval", tasks.len() as u64);
    let outcomes = run_tasks(run, cfg, &learned, &tasks, workers, progress)?;
    progress.finish();
    let rules = spec.build()?.success_rules();
    let names: Vec<&str> = rules.iter().map(|r| r.name).collect();
    let report = EvalReport::from_outcomes(cfg, split, &names, &outcomes, workers);
    report.save(run)?;
    let traces: Vec<_> = outcomes
        .iter()
        .take(cfg.eval.plot_episodes)
        .map(|o| o.trace.clone())
        .collect();
    spec.render_episodes(&traces, 4, &run.plot(split.episodes_picture()))?;
    Ok(report)
}

/// Runs every task on `workers` threads with the actor of `cfg` (one episode each); outcomes
/// in task order.
pub(crate) fn run_parallel(
    run: &RunDir,
    cfg: &RunConfig,
    learned: &Learned,
    tasks: &[Task],
    workers: usize,
    progress: &dyn Progress,
) -> Result<Vec<EpisodeOutcome>, AgentError> {
    let settings = ActSettings {
        replan_every: cfg.agent.replan_every,
        max_steps: cfg.eval.max_steps,
    };
    let cost = learned.cost(cfg);
    let init = || -> Result<_, AgentError> {
        let wm = world_model(run, cfg)?;
        let planner = learned.actor(cfg, cfg.train.seed)?;
        Ok((wm, planner, cfg.env.spec().build()?))
    };
    let episode = |(wm, planner, env): &mut (JepaWorldModel, Box<dyn Planner>, Box<dyn Env>),
                   task: &Task| {
        let actor = Actor {
            perception: &*wm,
            model: &*wm,
            planner: planner.as_mut(),
            cost: &cost,
        };
        run_episode(env.as_mut(), actor, task, &settings)
    };
    let done = |res: &[Option<EpisodeOutcome>]| {
        let done: Vec<_> = res.iter().flatten().collect();
        let ok = done.iter().filter(|o| o.trace.success).count();
        progress.set(done.len() as u64, &format!("success {ok}/{}", done.len()));
    };
    map_on_workers(tasks, workers, init, episode, done)
}
