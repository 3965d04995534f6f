//! The learned modules of a run beside the world model — the amortised policy
//! (`policy.json`) and the critic (`critic.json`) — and how the actor is assembled from them
//! and the run's configuration (`[agent] actor`, `[agent] critic`).
//!
//! **Online critic** (`agent.critic = "online"`): the tasks are run in blocks of
//! `critic.online_every` episodes. The episodes of a block run in parallel with the same
//! critic; after the block their memories are stored in the short-term memory, in task order,
//! and the critic is refitted on it (on all cores) before the next block. The blocks are
//! therefore sequential, and the results do not depend on the number of workers. The critic
//! starts from `critic.json` when the run has one, else from `V ≡ 0`.

use std::sync::Arc;

use ami_envs::Task;
use serde::{Deserialize, Serialize};

use super::config::{PlannerLevels, RunConfig};
use super::evaluate::{run_parallel, AgentParts};
use super::level2_fit::load_level2;
use super::progress::Progress;
use super::run_dir::RunDir;
use super::workers::worker_count;
use crate::cost_config::CostConfig;
use crate::critic::Critic;
use crate::data_graph::DataGraph;
use crate::episode::EpisodeOutcome;
use crate::error::AgentError;
use crate::guided::PolicyGuided;
use crate::level2::Level2Model;
use crate::memory::ShortTermMemory;
use crate::planner::{
    Escape, GraphPlanner, Hierarchical, ImaginedConfig, ImaginedGraphPlanner, NoRoute, PlanContext,
    Planner,
};
use crate::policy::Policy;
use crate::task::{Reach, Target, TaskEpisode};

/// The amortised policy's file in a run directory.
pub const POLICY_FILE: &str = "policy.json";
/// The critic's file in a run directory.
pub const CRITIC_FILE: &str = "critic.json";

/// `agent.actor`: who chooses the actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorKind {
    /// The configured planner (`[planner]`).
    #[serde(rename = "planner")]
    Planner,
    /// The amortised policy alone (`policy.json`; no planning).
    #[serde(rename = "policy")]
    Policy,
    /// The planner, its mean plan warm-started by the policy's rollout ([`PolicyGuided`]).
    #[serde(rename = "policy+planner")]
    PolicyPlanner,
}

impl ActorKind {
    /// The name used in the configuration and in `report.json`.
    pub fn name(self) -> &'static str {
        match self {
            ActorKind::Planner => "planner",
            ActorKind::Policy => "policy",
            ActorKind::PolicyPlanner => "policy+planner",
        }
    }
}

/// `agent.critic`: where a `critic` cost term gets its critic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CriticMode {
    /// The trained critic of the run (`critic.json`, written by `ami train-critic`).
    Trained,
    /// Refitted from the short-term memory between blocks of episodes (module docs).
    Online,
}

/// The policy and critic a configuration needs, loaded once (before any worker starts).
#[derive(Debug, Clone, Default)]
pub struct Learned {
    /// The amortised policy, when the actor uses it.
    pub policy: Option<Policy>,
    /// The critic, when the cost has a critic term.
    pub critic: Option<Arc<Critic>>,
    /// The H-JEPA level 2, when `agent.planner = "hierarchical"`.
    pub level2: Option<Arc<Level2Model>>,
    /// The graph of the data, when `agent.planner = "graph"` (built once from the states
    /// kept with level 2).
    pub graph: Option<Arc<DataGraph>>,
}

impl Learned {
    /// Loads what `cfg` needs from `run`; a missing file is an error naming the key that
    /// asks for it and the file.
    pub fn load(run: &RunDir, cfg: &RunConfig) -> Result<Self, AgentError> {
        let policy = match cfg.agent.actor {
            ActorKind::Planner => None,
            ActorKind::Policy | ActorKind::PolicyPlanner => {
                let path = run.file(POLICY_FILE);
                if !path.is_file() {
                    return Err(AgentError::config_source(
                        "agent.actor",
                        format!(
                            "\"{}\" needs the amortised policy {}; run `ami train-policy --run {}` first",
                            cfg.agent.actor.name(),
                            path.display(),
                            run.root.display()
                        ),
                    ));
                }
                let max_norm = cfg.plan_context(0).max_action_norm;
                Some(Policy::load(&path)?.with_max_action_norm(max_norm))
            }
        };
        let critic = if cfg.cost.uses_critic() {
            let path = run.file(CRITIC_FILE);
            match (cfg.agent.critic, path.is_file()) {
                (_, true) => Some(Arc::new(Critic::load(&path)?)),
                (CriticMode::Online, false) => Some(Arc::new(Critic::untrained())),
                (CriticMode::Trained, false) => {
                    return Err(AgentError::config_source(
                        "cost.critic",
                        format!(
                            "a critic term needs the trained critic {}; run `ami train-critic --run {}` \
                             first, or set agent.critic = \"online\"",
                            path.display(),
                            run.root.display()
                        ),
                    ))
                }
            }
        } else {
            None
        };
        let graph = match cfg.agent.planner {
            PlannerLevels::Graph => {
                let missing = || {
                    AgentError::config_source(
                        "agent.planner",
                        format!(
                            "\"graph\" builds its graph from the data's representations kept \
                             with level 2 ({}); run `ami train-level2 --run {}` first",
                            run.file(super::level2_fit::LEVEL2_MEMORY).display(),
                            run.root.display()
                        ),
                    )
                };
                let model = load_level2(run)?.ok_or_else(missing)?;
                let seen = model.seen.as_ref().ok_or_else(missing)?;
                let g = &cfg.hierarchy.graph;
                g.validate()?;
                Some(Arc::new(DataGraph::build(
                    seen,
                    model.repr_dim(),
                    g.stride,
                    g.link_radius,
                    g.line_radius,
                )?))
            }
            _ => None,
        };
        let level2 = match cfg.agent.planner {
            PlannerLevels::Flat | PlannerLevels::Graph | PlannerLevels::Imagined => None,
            PlannerLevels::Hierarchical => Some(load_level2(run)?.ok_or_else(|| {
                AgentError::config_source(
                    "agent.planner",
                    format!(
                        "\"hierarchical\" needs the run's level-2 model {}; train the run with \
                         hierarchy.train = true (the maze presets do)",
                        run.file(super::level2_fit::LEVEL2_FILE).display()
                    ),
                )
            })?),
        };
        Ok(Learned {
            policy,
            critic,
            level2,
            graph,
        })
    }

    /// The actor's [`Planner`] for one worker (`seed_offset` as in
    /// [`RunConfig::plan_context`]).
    pub fn actor(&self, cfg: &RunConfig, seed_offset: u64) -> Result<Box<dyn Planner>, AgentError> {
        let imagined = || -> Result<Box<dyn Planner>, AgentError> {
            let g = &cfg.hierarchy.imagined;
            let ctx = PlanContext {
                horizon: g.low_horizon,
                ..cfg.plan_context(seed_offset)
            };
            let max_norm = ctx.max_action_norm;
            let walks = ImaginedConfig {
                seed: g.seed.wrapping_add(seed_offset),
                ..g.clone()
            };
            let low = cfg.planner.build(ctx)?;
            Ok(Box::new(ImaginedGraphPlanner::new(walks, low, max_norm)?))
        };
        let planner = || -> Result<Box<dyn Planner>, AgentError> {
            match (cfg.agent.planner, &self.level2) {
                (PlannerLevels::Flat, _) => cfg.planner.build(cfg.plan_context(seed_offset)),
                (PlannerLevels::Hierarchical, Some(model)) => {
                    let h = &cfg.hierarchy.planner;
                    let ctx = PlanContext {
                        horizon: h.low_horizon,
                        ..cfg.plan_context(seed_offset)
                    };
                    let low = cfg.planner.build(ctx)?;
                    Ok(Box::new(Hierarchical::new(
                        h.clone(),
                        low,
                        Arc::clone(model),
                    )?))
                }
                (PlannerLevels::Hierarchical, None) => Err(AgentError::config_source(
                    "agent.planner",
                    "\"hierarchical\" needs the run's level-2 model, which was not loaded",
                )),
                (PlannerLevels::Graph, _) => {
                    let graph = self.graph.clone().ok_or_else(|| {
                        AgentError::config_source(
                            "agent.planner",
                            "\"graph\" needs the data graph, which was not built",
                        )
                    })?;
                    let g = &cfg.hierarchy.graph;
                    let ctx = PlanContext {
                        horizon: g.low_horizon,
                        ..cfg.plan_context(seed_offset)
                    };
                    let low = cfg.planner.build(ctx)?;
                    let planner = GraphPlanner::new(g.clone(), low, graph)?;
                    Ok(Box::new(match g.no_route {
                        NoRoute::Goal => planner,
                        NoRoute::Imagined => planner.with_no_route(imagined()?)?,
                    }))
                }
                (PlannerLevels::Imagined, _) => imagined(),
            }
        };
        let policy = || {
            self.policy.clone().ok_or_else(|| {
                AgentError::config_source("agent.actor", "no amortised policy was loaded")
            })
        };
        let actor: Box<dyn Planner> = match cfg.agent.actor {
            ActorKind::Planner => planner()?,
            ActorKind::Policy => return Ok(Box::new(policy()?)),
            ActorKind::PolicyPlanner => Box::new(PolicyGuided::new(
                policy()?,
                planner()?,
                cfg.policy.warm_start,
            )),
        };
        Ok(match cfg.agent.escape_calls {
            0 => actor,
            calls => Box::new(Escape::new(actor, calls)?),
        })
    }

    /// The cost configuration with the critic attached (when there is one).
    pub fn cost(&self, cfg: &RunConfig) -> CostConfig {
        match &self.critic {
            Some(c) => cfg.cost.clone().with_critic(Arc::clone(c)),
            None => cfg.cost.clone(),
        }
    }
}

/// Reports `done` counts offset by the episodes of earlier blocks.
struct Offset<'a> {
    inner: &'a dyn Progress,
    base: u64,
}

impl Progress for Offset<'_> {
    fn start(&self, phase: &str, total: u64) {
        self.inner.start(phase, total);
    }
    fn set(&self, done: u64, message: &str) {
        self.inner.set(self.base + done, message);
    }
    fn finish(&self) {
        self.inner.finish();
    }
}

/// Runs every task with the actor of `cfg` (outcomes in task order): all in parallel, or in
/// blocks with critic refits when `agent.critic = "online"` and the cost has a critic term
/// (module docs). Reports finished episodes to `progress` (within a phase the caller starts).
pub(crate) fn run_tasks(
    run: &RunDir,
    parts: &AgentParts,
    learned: &Learned,
    tasks: &[TaskEpisode],
    workers: usize,
    progress: &dyn Progress,
) -> Result<Vec<EpisodeOutcome>, AgentError> {
    let cfg = parts.cfg;
    let online = cfg.agent.critic == CriticMode::Online && cfg.cost.uses_critic();
    if !online {
        return run_parallel(run, parts, learned, tasks, workers, progress);
    }
    let mut critic = learned
        .critic
        .as_deref()
        .cloned()
        .unwrap_or_else(Critic::untrained);
    let mut memory = ShortTermMemory::new(cfg.critic.memory)?;
    let mut outcomes = Vec::with_capacity(tasks.len());
    for (b, block) in tasks.chunks(cfg.critic.online_every).enumerate() {
        let now = Learned {
            critic: Some(Arc::new(critic.clone())),
            ..learned.clone()
        };
        let base = (b * cfg.critic.online_every) as u64;
        let offset = Offset {
            inner: progress,
            base,
        };
        let done = run_parallel(run, parts, &now, block, workers.min(block.len()), &offset)?;
        for o in &done {
            memory.push(o.memory.clone());
        }
        outcomes.extend(done);
        if outcomes.len() < tasks.len() {
            critic.fit(&memory, &cfg.critic, &mut |_, _, _| {})?;
        }
    }
    Ok(outcomes)
}

/// Runs goal-reaching `tasks` (the `reach` task, with the run's probe and the configured
/// `[cost]`) on `workers` threads with the actor of `cfg`: outcomes in task order.
pub fn run_reach(
    run: &RunDir,
    cfg: &RunConfig,
    learned: &Learned,
    tasks: &[Task],
    workers: usize,
    progress: &dyn Progress,
) -> Result<Vec<EpisodeOutcome>, AgentError> {
    let episodes: Vec<TaskEpisode> = tasks
        .iter()
        .map(|t| TaskEpisode {
            start: t.start.clone(),
            targets: vec![Target::Goal(t.goal.clone())],
        })
        .collect();
    let parts = AgentParts {
        cfg,
        task: &Reach { safe: false },
        readout: AgentParts::readout_of(run, cfg)?,
        record_imagined: false,
    };
    run_tasks(run, &parts, learned, &episodes, workers, progress)
}

/// Runs `tasks` as one progress phase named `phase` (training episodes of `ami train-policy`
/// and `ami train-critic`): outcomes in task order.
pub(crate) fn collect(
    run: &RunDir,
    cfg: &RunConfig,
    learned: &Learned,
    tasks: &[Task],
    phase: &str,
    progress: &dyn Progress,
) -> Result<Vec<EpisodeOutcome>, AgentError> {
    progress.start(phase, tasks.len() as u64);
    let out = run_reach(
        run,
        cfg,
        learned,
        tasks,
        worker_count(tasks.len()),
        progress,
    );
    progress.finish();
    out
}

/// Fraction of `outcomes` that met the environment's first success rule, and the actor's
/// wall time per environment step (ms).
pub(crate) fn summarise(outcomes: &[EpisodeOutcome]) -> (f64, f64) {
    let n = outcomes.len().max(1) as f64;
    let hits = outcomes.iter().filter(|o| o.trace.success).count() as f64;
    let steps: usize = outcomes.iter().map(|o| o.steps).sum();
    let secs: f64 = outcomes.iter().map(|o| o.plan_seconds).sum();
    (hits / n, 1e3 * secs / steps.max(1) as f64)
}
