//! `ami train-critic`: the critic of a run ([`crate::critic`]), fitted by TD(λ) on planner
//! episodes.
//!
//! The run's planner, with the run's own cost, runs `critic.episodes` episodes on training
//! tasks (`eval.train_seed`); their memories fill a short-term memory of `critic.memory`
//! episodes (the oldest forgotten), on which a fresh critic is fitted; `critic.json` is
//! written atomically. When the cost has a critic term, the planner collects with the run's
//! current `critic.json` if there is one, and without the critic slot if not.

use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use super::learned::{collect, summarise, ActorKind, CriticMode, Learned, CRITIC_FILE};
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::critic::{Critic, CriticFit};
use crate::error::AgentError;
use crate::memory::ShortTermMemory;

/// What `ami train-critic` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticTraining {
    /// Planner episodes collected.
    pub episodes: usize,
    /// Their success rate (the environment's first rule).
    pub success_rate: f64,
    /// Planner wall time per environment step while collecting (ms).
    pub plan_ms_per_step: f64,
    /// The TD(λ) fit.
    pub fit: CriticFit,
}

/// Trains the critic of `run` with `cfg` (module docs).
pub fn train_critic(
    run: &RunDir,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<CriticTraining, AgentError> {
    cfg.validate()?;
    let tasks = cfg
        .env
        .spec()
        .tasks(cfg.critic.episodes, cfg.eval.train_seed)?;
    let mut collect_cfg = cfg.clone();
    collect_cfg.agent.actor = ActorKind::Planner;
    collect_cfg.agent.critic = CriticMode::Trained;
    if !run.file(CRITIC_FILE).is_file() {
        collect_cfg.cost.critic.clear();
    }
    let learned = Learned::load(run, &collect_cfg)?;
    let outcomes = collect(run, &collect_cfg, &learned, &tasks, "collect", progress)?;
    let mut memory = ShortTermMemory::new(cfg.critic.memory)?;
    for o in &outcomes {
        memory.push(o.memory.clone());
    }
    let mut critic = Critic::untrained();
    let epochs = cfg.critic.fit.epochs;
    progress.start("fit", (cfg.critic.sweeps * epochs) as u64);
    let fit = critic.fit(&memory, &cfg.critic, &mut |sweep, e, l| {
        let done = (sweep * epochs + e + 1) as u64;
        progress.set(done, &format!("sweep {sweep} loss {l:.4}"));
    });
    progress.finish();
    let fit = fit?;
    let file = critic.to_file(&cfg.critic, fit.clone())?;
    let text = serde_json::to_string(&file)
        .map_err(|e| AgentError::config_source(CRITIC_FILE, e.to_string()))?;
    run.write(CRITIC_FILE, text.as_bytes())?;
    let (success_rate, plan_ms_per_step) = summarise(&outcomes);
    Ok(CriticTraining {
        episodes: outcomes.len(),
        success_rate,
        plan_ms_per_step,
        fit,
    })
}
