//! Flat against hierarchical planning on the same episodes (issue 12; `ami demo --env maze`):
//! the run's test tasks are evaluated with `agent.planner = "flat"` and `"hierarchical"`
//! (same `[planner]`, so the same per-call budget at level 1), then `eval.heldout_episodes`
//! tasks of the maze's held-out layout (a layout no training data came from) with both.
//! Each evaluation is saved under `eval/reach-<tag>/` (tags `flat`, `hierarchical`,
//! `heldout-flat`, `heldout-hierarchical`); the comparison is the run's `report.json`.

use ami_envs::EnvConfig;
use ami_jepa::hjepa::Level2Report;
use serde::{Deserialize, Serialize};

use super::config::{PlannerLevels, RunConfig, Split};
use super::evaluate::{evaluate, EvalReport};
use super::level2_fit::{read_level2_meta, LEVEL2_FILE};
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::error::AgentError;

/// `report.json` of `ami demo --env maze`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LevelsReport {
    /// Environment kind.
    pub env: String,
    /// The flat planner on the test tasks.
    pub flat: EvalReport,
    /// The hierarchical planner on the same tasks.
    pub hierarchical: EvalReport,
    /// Both on the held-out layout, when evaluated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub heldout_layout: Option<HeldoutLayout>,
    /// The level-2 model's held-out scores (`level2.json`).
    pub level2: Level2Report,
    /// Wall time of data and training (s), when the report comes from `demo`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub train_seconds: Option<f64>,
    /// Wall time of the whole run (s), when the report comes from `demo`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total_seconds: Option<f64>,
}

/// Flat and hierarchical on a layout the world model never saw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldoutLayout {
    /// The layout id (`env.heldout_layout`).
    pub layout: usize,
    /// The flat planner.
    pub flat: EvalReport,
    /// The hierarchical planner.
    pub hierarchical: EvalReport,
}

impl LevelsReport {
    /// Writes the comparison to the run's `report.json` (atomically).
    pub fn save(&self, run: &RunDir) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source("report.json", e.to_string()))?;
        run.write("report.json", text.as_bytes())
    }
}

/// The module's comparison on the run's checkpoint and level 2 (module docs).
pub fn compare_levels(
    run: &RunDir,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<LevelsReport, AgentError> {
    let meta = read_level2_meta(run)?.ok_or_else(|| {
        AgentError::config_source(
            run.file(LEVEL2_FILE).display().to_string(),
            "missing: comparing flat and hierarchical planning needs the run's level 2",
        )
    })?;
    let with = |levels: PlannerLevels, tag: &str, c: &RunConfig| {
        let mut c = c.clone();
        c.agent.planner = levels;
        c.eval.tag = tag.to_string();
        c.task.name = "reach".into();
        c
    };
    let flat = evaluate(
        run,
        &with(PlannerLevels::Flat, "flat", cfg),
        Split::Test,
        progress,
    )?;
    let hierarchical = evaluate(
        run,
        &with(PlannerLevels::Hierarchical, "hierarchical", cfg),
        Split::Test,
        progress,
    )?;
    let heldout_layout = match &cfg.env {
        EnvConfig::Maze(m) if cfg.eval.heldout_episodes > 0 => {
            let mut held = cfg.clone();
            let mut maze = m.clone();
            maze.data_layouts = m.training_layouts();
            maze.layout = m.heldout_layout;
            held.env = EnvConfig::Maze(maze);
            held.eval.episodes = cfg.eval.heldout_episodes;
            Some(HeldoutLayout {
                layout: m.heldout_layout,
                flat: evaluate(
                    run,
                    &with(PlannerLevels::Flat, "heldout-flat", &held),
                    Split::Test,
                    progress,
                )?,
                hierarchical: evaluate(
                    run,
                    &with(PlannerLevels::Hierarchical, "heldout-hierarchical", &held),
                    Split::Test,
                    progress,
                )?,
            })
        }
        _ => None,
    };
    let report = LevelsReport {
        env: cfg.env.kind().to_string(),
        flat,
        hierarchical,
        heldout_layout,
        level2: meta.report,
        train_seconds: None,
        total_seconds: None,
    };
    report.save(run)?;
    Ok(report)
}
