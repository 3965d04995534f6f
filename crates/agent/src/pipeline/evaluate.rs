//! Evaluation: run the configured task (`[task]`, [`crate::task`]) on its test episodes with
//! the run's world model, and report the success rate of every rule of the task, safety
//! violations, planning latency and closest approach.
//!
//! The agent is built once per worker: world model, state probe (if the run has one), and the
//! immutable cost ([`crate::FixedCost`]: `[cost] intrinsic`, `[cost] guardrail` and the task's
//! own guardrails). Reports go to `eval/<task>/` ([`EvalReport::save`]); the `reach` task (and a
//! benchmark task such as `pldm`) also writes the run's top-level `report.json` and
//! `plots/episodes.png` as before. Reports carry
//! the run's coverage of predicted futures when it was measured after training
//! ([`super::coverage`], `coverage.json`).
//!
//! Episodes are independent (the planner is reset to its seed at the start of each), so they
//! are spread over one worker per core ([`super::workers`]); the results do not depend on the
//! number of workers. With an online critic the episodes run in blocks, the critic refitted
//! between blocks ([`super::learned`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use ami_envs::Env;
use ami_jepa::checkpoint::load_model;
use serde::{Deserialize, Serialize};

use super::config::{RunConfig, Split};
use super::coverage::{load_coverage, Coverage90, CoverageSummary};
use super::fit::compute_device;
use super::learned::{run_tasks, Learned};
use super::probe_fit::{load_calibration, load_imagined_error};
use super::probe_fit::{load_head, load_probe};
use super::progress::Progress;
use super::run_dir::RunDir;
use super::videos::write_videos;
use super::workers::{map_on_workers, worker_count};
use crate::cost::FixedCost;
use crate::cost_config::{CostConfig, WorldReadout};
use crate::episode::{run_task_episode, ActSettings, Actor, EpisodeOutcome};
use crate::error::AgentError;
use crate::jepa_model::JepaWorldModel;
use crate::planner::Planner;
use crate::task::{TaskConfig, TaskEpisode, TaskSpec};

/// The numbers of an evaluation (`report.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    /// The task evaluated.
    pub task: String,
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
    /// Environment steps whose true state violated a safety constraint, over all episodes.
    pub violations: usize,
    /// Fraction of episodes with at least one violation.
    pub violation_rate: f64,
    /// Planning calls that found no safe plan (the agent stopped), over all episodes.
    pub unsafe_plans: usize,
    /// Guardrail terms the agent carried.
    pub guardrails: Vec<String>,
    /// Held-out RMSE of the state probe (true-state units), when the run has one.
    pub probe_rmse: Option<f64>,
    /// Planner wall time per environment step (ms).
    pub plan_ms_per_step: f64,
    /// Planner wall time per planning call (ms).
    pub plan_ms_per_call: f64,
    /// Mean number of environment steps per episode.
    pub mean_episode_steps: f64,
    /// Mean over episodes of the closest approach `min_t ‖e(s_t, goal)‖` (px in two-rooms).
    pub mean_min_goal_error: f64,
    /// Mean over episodes of the distance made good ([`ami_envs::EnvSpec::progress`]; highway:
    /// metres driven), for environments scored by progress.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mean_progress: Option<f64>,
    /// Who chose the actions (`agent.actor`: `planner`, `policy`, `policy+planner`).
    #[serde(default = "planner_actor")]
    pub actor: String,
    /// Planner kind (`[planner]`; level 1 of a hierarchical agent).
    pub planner: String,
    /// `agent.planner`: `flat` or `hierarchical`.
    #[serde(default = "flat")]
    pub levels: String,
    /// `eval.tag` (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// Observation kind (`state`, `image`).
    pub observation: String,
    /// Tensor backend.
    pub backend: String,
    /// Evaluation workers (results do not depend on it).
    pub eval_workers: usize,
    /// Coverage of the central 90 % interval of the sampled futures, calibrated, in
    /// representation space, at horizons 1, 5, 10 (`coverage.json`, [`super::coverage`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90: Option<Coverage90>,
    /// The same before calibration (the sampled futures alone).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90_raw: Option<Coverage90>,
    /// Mean width of the calibrated interval over the real encodings' std.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spread_90: Option<Coverage90>,
    /// Mean width of the raw interval over the real encodings' std.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spread_90_raw: Option<Coverage90>,
    /// Calibrated coverage of the readout features of the futures, when the run has a reader.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90_readout: Option<Coverage90>,
    /// Raw coverage of the readout features of the futures.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90_readout_raw: Option<Coverage90>,
    /// The episode videos written (paths in the run directory, [`super::videos`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub videos: Vec<String>,
    /// What the videos lack or why there are none (no picture for this environment, no
    /// state probe to read the imagined plan, a failed write), when `eval.videos > 0`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub videos_note: Option<String>,
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

    /// The directory of this report under `eval/`: the task's name, then `-<tag>` if tagged.
    pub fn dir_name(&self) -> String {
        eval_dir_name(&self.task, &self.tag)
    }

    /// Writes the report into the run directory, atomically: `eval/<task>[-<tag>]/` +
    /// [`Split::report_file`], and for the untagged `reach` task (or benchmark task,
    /// [`TaskConfig::is_headline`]) also the top-level file of the split.
    pub fn save(&self, run: &RunDir) -> Result<(), AgentError> {
        let name = self.split.report_file();
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source(name, e.to_string()))?;
        let dir = run.file("eval").join(self.dir_name());
        std::fs::create_dir_all(&dir).map_err(AgentError::io(&dir))?;
        ami_io::write_atomic(&dir.join(name), text.as_bytes())?;
        if TaskConfig::is_headline(&self.task) && self.tag.is_empty() {
            run.write(name, text.as_bytes())?;
        }
        Ok(())
    }

    /// Aggregates per-episode outcomes (rule names in the task's order).
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
            task: cfg.task.name.clone(),
            env: cfg.env.kind().to_string(),
            split,
            episodes: outcomes.len(),
            success_rates,
            violations: outcomes.iter().map(|o| o.violations).sum(),
            violation_rate: outcomes.iter().filter(|o| o.violations > 0).count() as f64 / n,
            unsafe_plans: outcomes.iter().map(|o| o.unsafe_plans).sum(),
            guardrails: Vec::new(),
            probe_rmse: None,
            plan_ms_per_step: 1e3 * plan_s / steps.max(1) as f64,
            plan_ms_per_call: 1e3 * plan_s / calls.max(1) as f64,
            mean_episode_steps: steps as f64 / n,
            mean_min_goal_error: outcomes
                .iter()
                .map(|o| f64::from(o.min_goal_error))
                .sum::<f64>()
                / n,
            mean_progress: mean_progress(cfg.env.spec(), outcomes),
            actor: cfg.agent.actor.name().to_string(),
            planner: cfg.planner.kind().to_string(),
            levels: cfg.agent.planner.name().to_string(),
            tag: cfg.eval.tag.clone(),
            observation: cfg.env.spec().observation_name().to_string(),
            backend: format!("{:?}", compute_device()),
            eval_workers,
            coverage_90: None,
            coverage_90_raw: None,
            spread_90: None,
            spread_90_raw: None,
            coverage_90_readout: None,
            coverage_90_readout_raw: None,
            videos: Vec::new(),
            videos_note: None,
            train_seconds: None,
            total_seconds: None,
        }
    }

    /// Copies the headline numbers of a coverage measurement into the report.
    pub fn set_coverage(&mut self, c: &CoverageSummary) {
        let r = &c.representation;
        self.coverage_90 = Some(Coverage90::of(&r.calibrated));
        self.coverage_90_raw = Some(Coverage90::of(&r.raw));
        self.spread_90 = Some(Coverage90::of(&r.spread_calibrated));
        self.spread_90_raw = Some(Coverage90::of(&r.spread_raw));
        self.coverage_90_readout = c
            .readout
            .as_ref()
            .map(|f| Coverage90::of(&f.all.calibrated));
        self.coverage_90_readout_raw = c.readout.as_ref().map(|f| Coverage90::of(&f.all.raw));
    }
}

/// `<task>` or `<task>-<tag>`.
fn eval_dir_name(task: &str, tag: &str) -> String {
    if tag.is_empty() {
        task.to_string()
    } else {
        format!("{task}-{tag}")
    }
}

/// Mean of [`ami_envs::EnvSpec::progress`] from each episode's start to its last state; `None`
/// where the environment has no notion of progress.
fn mean_progress(spec: &dyn ami_envs::EnvSpec, outcomes: &[EpisodeOutcome]) -> Option<f64> {
    let each: Option<Vec<f64>> = outcomes
        .iter()
        .map(|o| {
            let end = o.trace.path.last().unwrap_or(&o.trace.start);
            spec.progress(&o.trace.start, end).map(f64::from)
        })
        .collect();
    each.filter(|v| !v.is_empty())
        .map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// One line of `eval/<task>/episodes.jsonl`: what happened in one episode, so that failures
/// can be found and replayed (`index` is the episode's position in the split, whose tasks are
/// a function of the split's seed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpisodeRecord {
    /// Position of the episode in the split.
    pub index: usize,
    /// True start state.
    pub start: Vec<f32>,
    /// The goal drawn in pictures (the last target).
    pub goal: Vec<f32>,
    /// True state at the end of the episode.
    pub end: Vec<f32>,
    /// Per rule of the task (report names): met.
    pub successes: BTreeMap<String, bool>,
    /// Environment steps taken.
    pub steps: usize,
    /// Steps whose true state violated a safety constraint.
    pub violations: usize,
    /// Planning calls that found no safe plan.
    pub unsafe_plans: usize,
    /// Closest approach to the goal.
    pub min_goal_error: f32,
    /// True states visited, starting with `start` (so that a failure can be looked at
    /// without replaying it).
    #[serde(default)]
    pub path: Vec<Vec<f32>>,
    /// The sub-goals a hierarchical agent set itself, as its state probe reads them, in the
    /// order set (empty for a flat agent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subgoals: Vec<Vec<f32>>,
}

impl EpisodeRecord {
    /// The record of the `index`-th outcome, with the task's rule names.
    pub fn of(index: usize, o: &EpisodeOutcome, rule_names: &[&str]) -> Self {
        EpisodeRecord {
            index,
            start: o.trace.start.clone(),
            goal: o.trace.goal.clone(),
            end: o.trace.path.last().cloned().unwrap_or_default(),
            successes: rule_names
                .iter()
                .zip(&o.successes)
                .map(|(n, s)| (n.to_string(), *s))
                .collect(),
            steps: o.steps,
            violations: o.violations,
            unsafe_plans: o.unsafe_plans,
            min_goal_error: o.min_goal_error,
            path: o.trace.path.clone(),
            subgoals: o.trace.subgoals.clone(),
        }
    }
}

/// Writes one [`EpisodeRecord`] per outcome as JSON lines to `path`, atomically.
fn save_records(
    path: &std::path::Path,
    outcomes: &[EpisodeOutcome],
    rule_names: &[&str],
) -> Result<(), AgentError> {
    let mut text = String::new();
    for (i, o) in outcomes.iter().enumerate() {
        let line = serde_json::to_string(&EpisodeRecord::of(i, o, rule_names))
            .map_err(|e| AgentError::config_source("episodes.jsonl", e.to_string()))?;
        text.push_str(&line);
        text.push('\n');
    }
    ami_io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Reports written before `levels` existed were all flat.
fn flat() -> String {
    "flat".into()
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

/// What every evaluation worker builds its agent from.
pub(crate) struct AgentParts<'a> {
    /// The run's configuration.
    pub cfg: &'a RunConfig,
    /// The task.
    pub task: &'a dyn TaskSpec,
    /// Probe and regions.
    pub readout: WorldReadout,
    /// Record the imagined plans of every episode (for videos, [`super::videos`]).
    pub record_imagined: bool,
}

impl AgentParts<'_> {
    /// The run's probe (if fitted) and the environment's regions.
    pub fn readout_of(run: &RunDir, cfg: &RunConfig) -> Result<WorldReadout, AgentError> {
        Ok(WorldReadout {
            probe: load_probe(run)?.map(Arc::new),
            regions: cfg.env.spec().regions(),
            head: load_head(run)?.map(Arc::new),
            imagined: load_imagined_error(run, cfg)?.map(Arc::new),
            calibrated: load_calibration(run, cfg)?.map(Arc::new),
        })
    }
}

/// Runs the configured task on the episodes of `split` with the run's checkpoint; writes the
/// report and the picture of its episodes (see the module docs for where).
pub fn evaluate(
    run: &RunDir,
    cfg: &RunConfig,
    split: Split,
    progress: &dyn Progress,
) -> Result<EvalReport, AgentError> {
    let (mut report, outcomes) = measure(run, cfg, split, progress)?;
    let spec = cfg.env.spec();
    let task = cfg.task.spec()?;
    let rules = spec.build()?.success_rules();
    let names = task.rule_names(&rules);
    let task_dir = run.file("eval").join(report.dir_name());
    let video_dir = task_dir.join(split.videos_dir());
    let videos = write_videos(&video_dir, spec, &outcomes, cfg.eval.videos);
    report.videos = videos
        .files
        .iter()
        .map(|f| format!("eval/{}/{}/{f}", report.dir_name(), split.videos_dir()))
        .collect();
    report.videos_note = videos.note;
    report.save(run)?;
    save_records(&task_dir.join(split.episodes_file()), &outcomes, &names)?;
    let traces: Vec<_> = outcomes
        .iter()
        .take(cfg.eval.plot_episodes)
        .map(|o| o.trace.clone())
        .collect();
    let picture = task_dir.join(split.episodes_picture());
    spec.render_episodes(&traces, 4, &picture)?;
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| !o.trace.success)
        .take(cfg.eval.plot_episodes)
        .map(|o| o.trace.clone())
        .collect();
    let failures = task_dir.join(split.failures_picture());
    if failed.is_empty() {
        // A picture of failures from an earlier evaluation of a run that now fails none.
        super::run_dir::remove_if_present(&failures)?;
    } else {
        spec.render_episodes(&failed, 4, &failures)?;
    }
    if TaskConfig::is_headline(task.name()) && cfg.eval.tag.is_empty() {
        spec.render_episodes(&traces, 4, &run.plot(split.episodes_picture()))?;
    }
    Ok(report)
}

/// What [`evaluate`] measures, without writing anything into the run directory: the report
/// and the outcomes of the episodes of `split`, in episode order (re-evaluations of one run
/// under many settings, [`super::frontier`], use it so as to leave the run's reports alone).
pub fn measure(
    run: &RunDir,
    cfg: &RunConfig,
    split: Split,
    progress: &dyn Progress,
) -> Result<(EvalReport, Vec<EpisodeOutcome>), AgentError> {
    cfg.validate()?;
    let spec = cfg.env.spec();
    let task = cfg.task.spec()?;
    let readout = AgentParts::readout_of(run, cfg)?;
    let probe = readout.probe.clone();
    // Build the agent's immutable cost once here so that a task that cannot be set up (no
    // hazards for a guardrail, no probe) fails before any episode runs.
    let episodes = task.episodes(spec, cfg.eval.episodes, cfg.task_seed(split))?;
    let fixed = cfg.cost.build_fixed(&task.guardrails(), &readout)?;
    let learned = Learned::load(run, cfg)?;
    let workers = worker_count(episodes.len());
    progress.start(&format!("eval {}", task.name()), episodes.len() as u64);
    let parts = AgentParts {
        cfg,
        task: task.as_ref(),
        readout,
        record_imagined: cfg.eval.videos > 0,
    };
    let outcomes = run_tasks(run, &parts, &learned, &episodes, workers, progress)?;
    progress.finish();
    let rules = spec.build()?.success_rules();
    let names = task.rule_names(&rules);
    let mut report = EvalReport::from_outcomes(cfg, split, &names, &outcomes, workers);
    report.guardrails = fixed
        .terms()
        .filter(|(_, kind, _)| *kind == crate::CostKind::Guardrail)
        .map(|(name, _, _)| name.to_string())
        .collect();
    report.probe_rmse = probe.and_then(|p| p.error).map(|e| f64::from(e.rmse));
    if let Some(c) = load_coverage(run)? {
        report.set_coverage(&c);
    }
    Ok((report, outcomes))
}

/// Runs every episode on `workers` threads with the actor of `cfg` (one episode each);
/// outcomes in episode order.
pub(crate) fn run_parallel(
    run: &RunDir,
    parts: &AgentParts,
    learned: &Learned,
    episodes: &[TaskEpisode],
    workers: usize,
    progress: &dyn Progress,
) -> Result<Vec<EpisodeOutcome>, AgentError> {
    let cfg = parts.cfg;
    let settings = ActSettings {
        replan_every: cfg.agent.replan_every,
        max_steps: parts.task.max_steps(cfg.eval.max_steps),
        advance_radius: cfg.task.advance_radius,
        fallback_action: match cfg.agent.when_unsafe {
            super::config::WhenUnsafe::Fallback => cfg.env.spec().fallback_action(),
            // Empty: the episode loop executes the plan itself.
            super::config::WhenUnsafe::LeastUnsafe => Vec::new(),
        },
        record_imagined: parts.record_imagined,
    };
    let task_cost = task_cost(cfg, learned, parts.task);
    type Worker = (
        JepaWorldModel,
        Box<dyn Planner>,
        Box<dyn Env>,
        Arc<FixedCost>,
    );
    let init = || -> Result<Worker, AgentError> {
        let wm = world_model(run, cfg)?;
        let planner = learned.actor(cfg, cfg.train.seed)?;
        let fixed = cfg
            .cost
            .build_fixed(&parts.task.guardrails(), &parts.readout)?;
        Ok((wm, planner, cfg.env.spec().build()?, fixed))
    };
    let episode = |(wm, planner, env, fixed): &mut Worker, episode: &TaskEpisode| {
        let actor = Actor {
            perception: &*wm,
            model: &*wm,
            planner: planner.as_mut(),
            cost: &task_cost,
            fixed: fixed.clone(),
            readout: &parts.readout,
        };
        run_task_episode(env.as_mut(), actor, parts.task, episode, &settings)
    };
    let done = |res: &[Option<EpisodeOutcome>]| {
        let done: Vec<_> = res.iter().flatten().collect();
        let ok = done.iter().filter(|o| o.trace.success).count();
        let bad = done.iter().filter(|o| o.violations > 0).count();
        progress.set(
            done.len() as u64,
            &format!("success {ok}/{} violations {bad}", done.len()),
        );
    };
    map_on_workers(episodes, workers, init, episode, done)
}

/// The actor's `task` and `critic` cost terms for `task` (built for each goal target by
/// [`CostConfig::build_task`]): the run's `[cost]` with the learned critic attached, the
/// configured risk measure and latent paths, and the task's own terms.
pub(crate) fn task_cost(cfg: &RunConfig, learned: &Learned, task: &dyn TaskSpec) -> CostConfig {
    let mut cost = learned
        .cost(cfg)
        .with_risk(cfg.agent.risk)
        .with_latent_paths(cfg.agent.latent_paths);
    cost.task = task.task_terms(&cost.task);
    cost
}

/// One row of a task table: the task's report, or why it could not be evaluated.
pub type TaskResult = (String, Result<EvalReport, String>);

/// Evaluates each task of `names` on the same checkpoint (`cfg` with `task.name` set to each
/// in turn); a task that cannot be set up in this run (e.g. `reach-safe` without hazards) is
/// recorded with its error instead of stopping the others. Writes `eval/tasks.md` and
/// `eval/tasks.json` (atomically).
pub fn evaluate_tasks(
    run: &RunDir,
    cfg: &RunConfig,
    names: &[&str],
    split: Split,
    progress: &dyn Progress,
) -> Result<Vec<TaskResult>, AgentError> {
    let mut rows = Vec::new();
    for name in names {
        let mut c = cfg.clone();
        c.task.name = name.to_string();
        let res = evaluate(run, &c, split, progress).map_err(|e| e.to_string());
        rows.push((name.to_string(), res));
    }
    let dir = run.file("eval");
    std::fs::create_dir_all(&dir).map_err(AgentError::io(&dir))?;
    ami_io::write_atomic(&dir.join("tasks.md"), task_table(&rows).as_bytes())?;
    let json: Vec<_> = rows
        .iter()
        .map(|(name, r)| match r {
            Ok(rep) => serde_json::json!({ "task": name, "report": rep }),
            Err(e) => serde_json::json!({ "task": name, "error": e }),
        })
        .collect();
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| AgentError::config_source("eval/tasks.json", e.to_string()))?;
    ami_io::write_atomic(&dir.join("tasks.json"), text.as_bytes())?;
    Ok(rows)
}

/// The task table as Markdown: success, violations, unsafe plans and planning time per task.
pub fn task_table(rows: &[TaskResult]) -> String {
    let mut out = String::from(
        "| task | episodes | success | violation rate | violations | unsafe plans | plan ms/step | guardrails |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (name, r) in rows {
        match r {
            Ok(rep) => out.push_str(&format!(
                "| {name} | {} | {:.3} | {:.3} | {} | {} | {:.2} | {} |\n",
                rep.episodes,
                rep.success_rate(),
                rep.violation_rate,
                rep.violations,
                rep.unsafe_plans,
                rep.plan_ms_per_step,
                if rep.guardrails.is_empty() {
                    "none".to_string()
                } else {
                    rep.guardrails.join(", ")
                }
            )),
            Err(e) => out.push_str(&format!("| {name} | not evaluated: {e} |||||||\n")),
        }
    }
    out
}
