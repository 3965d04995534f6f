//! `ami experiment distractors`: does a joint-embedding world model ignore what it cannot
//! predict, where a pixel-reconstruction world model cannot?
//!
//! Four runs of the whole pipeline (data → training → planning on the same test episodes), all
//! from one base configuration (`two-rooms`, image observations):
//!
//! | model | objective |
//! |---|---|
//! | `jepa` | the base objective: prediction in representation space + VICReg variance/covariance + smoothness + inverse dynamics |
//! | `reconstruction` | the same encoder and predictor with a pixel decoder `dec`; loss `mean_t ‖dec(s_t) − õ_t‖² + mean_{t≥1} ‖dec(ŝ_t) − õ_t‖²` alone (every other weight 0) |
//!
//! each trained and evaluated on clean observations and on observations with `leaves`
//! unpredictable distractors per frame ([`ami_envs::distractors`]: blobs anywhere, anew every
//! frame, in every channel, also in the goal image). Both models plan identically (the base
//! `[planner]`, cost = distance to the goal's representation). The report gives each run's
//! success rate and the **drop** `success(clean) − success(leaves)` per model. LeCun (2022,
//! §4.5) predicts a small drop for the JEPA and a large one for reconstruction.
//!
//! The runs are complete run directories (`DIR/jepa-clean`, `DIR/jepa-leaves`,
//! `DIR/reconstruction-clean`, `DIR/reconstruction-leaves`) that `ami eval` and `ami viz` read;
//! `DIR/report.json`, `DIR/table.md` and `DIR/success.svg` hold the comparison.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use ami_envs::EnvConfig;
use ami_io::svg::{render, Panel, Series};

use super::{demo, Preset, Progress, RunConfig};
use crate::error::AgentError;

/// The experiment's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DistractorsConfig {
    /// The base run (two-rooms with image observations); every condition starts from it.
    pub base: RunConfig,
    /// Leaves per frame in the distractor condition.
    pub leaves: usize,
}

/// The objective keys a reconstruction world model sets (every other term off).
pub const RECONSTRUCTION_SETS: [&str; 7] = [
    "model.decoder=true",
    "objective.reconstruction=1",
    "objective.prediction=0",
    "objective.variance=0",
    "objective.covariance=0",
    "objective.time_smoothness=0",
    "objective.inverse_dynamics=0",
];

impl DistractorsConfig {
    /// The measured setting: the `default` preset with a smaller budget (2000 trajectories,
    /// 3000 training steps, 50 test episodes of at most 100 steps — the successful ones take
    /// about 50) so the four runs fit in about 15 minutes on 2 cores, and 4 leaves.
    pub fn standard() -> Self {
        let mut base = RunConfig::preset(Preset::Default);
        base.data.trajectories = 2000;
        base.train.steps = 3000;
        base.eval.episodes = 50;
        base.eval.max_steps = 100;
        DistractorsConfig { base, leaves: 4 }
    }

    /// A seconds-long smoke test (the `tiny` preset with image observations): checks the
    /// plumbing, measures nothing.
    pub fn quick() -> Self {
        let mut base = RunConfig::preset(Preset::Tiny);
        if let EnvConfig::TwoRooms(env) = &mut base.env {
            env.image_res = 16;
        }
        DistractorsConfig { base, leaves: 4 }
    }

    /// The base must be two-rooms with image observations and `leaves` in `1..=64`.
    pub fn validate(&self) -> Result<(), AgentError> {
        self.base.validate()?;
        match &self.base.env {
            EnvConfig::TwoRooms(env) if env.obs == ami_envs::ObsKind::Image => {}
            EnvConfig::TwoRooms(_) => {
                return Err(AgentError::config(
                    "env.obs",
                    "state",
                    "image (distractors are drawn over images)",
                ))
            }
            other => return Err(AgentError::config("env.kind", other.kind(), "two-rooms")),
        }
        if self.leaves == 0 || self.leaves > 64 {
            return Err(AgentError::config(
                "leaves",
                self.leaves,
                "an integer in [1, 64]",
            ));
        }
        Ok(())
    }

    /// The configuration of one condition.
    pub fn condition(&self, model: WorldModelKind, leaves: usize) -> Result<RunConfig, AgentError> {
        let mut sets = vec![format!("env.distractors.leaves={leaves}")];
        if model == WorldModelKind::Reconstruction {
            sets.extend(RECONSTRUCTION_SETS.iter().map(|s| s.to_string()));
        }
        self.base.clone().with_overrides(&sets)
    }
}

/// The two world models compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorldModelKind {
    /// Joint embedding (the base objective).
    Jepa,
    /// Pixel reconstruction through a decoder.
    Reconstruction,
}

impl WorldModelKind {
    /// `jepa` or `reconstruction`.
    pub fn name(self) -> &'static str {
        match self {
            WorldModelKind::Jepa => "jepa",
            WorldModelKind::Reconstruction => "reconstruction",
        }
    }
}

/// One run's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConditionResult {
    /// The world model.
    pub model: WorldModelKind,
    /// Leaves per frame (0: clean).
    pub leaves: usize,
    /// Success rate (the environment's first rule, within 4.5 px).
    pub success_rate: f64,
    /// Test episodes.
    pub episodes: usize,
    /// Mean closest approach to the goal (px).
    pub mean_min_goal_error: f64,
    /// Planning time per environment step (ms).
    pub plan_ms_per_step: f64,
    /// Training wall time (s).
    pub train_seconds: f64,
    /// Whole run (s).
    pub total_seconds: f64,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DistractorsReport {
    /// Leaves per frame in the distractor condition.
    pub leaves: usize,
    /// The four runs: jepa clean, jepa leaves, reconstruction clean, reconstruction leaves.
    pub runs: Vec<ConditionResult>,
    /// `success(clean) − success(leaves)` of the JEPA.
    pub jepa_drop: f64,
    /// `success(clean) − success(leaves)` of the reconstruction model.
    pub reconstruction_drop: f64,
    /// Wall time of the experiment (s).
    pub seconds: f64,
}

/// Runs the four conditions into `out/<model>-<clean|leaves>` and returns the comparison
/// (also written to `out`, see [`write`]).
pub fn run(
    out: &Path,
    cfg: &DistractorsConfig,
    progress: &dyn Progress,
    log: &mut dyn FnMut(&str),
) -> Result<DistractorsReport, AgentError> {
    cfg.validate()?;
    let t0 = Instant::now();
    let mut runs = Vec::new();
    for model in [WorldModelKind::Jepa, WorldModelKind::Reconstruction] {
        for leaves in [0, cfg.leaves] {
            let name = format!(
                "{}-{}",
                model.name(),
                if leaves == 0 { "clean" } else { "leaves" }
            );
            log(&format!("run {name}"));
            let run_cfg = cfg.condition(model, leaves)?;
            let report = demo(&out.join(&name), run_cfg, progress)?;
            let r = ConditionResult {
                model,
                leaves,
                success_rate: report.success_rate(),
                episodes: report.episodes,
                mean_min_goal_error: report.mean_min_goal_error,
                plan_ms_per_step: report.plan_ms_per_step,
                train_seconds: report.train_seconds.unwrap_or(f64::NAN),
                total_seconds: report.total_seconds.unwrap_or(f64::NAN),
            };
            log(&format!(
                "{name}: success {:.3} ({} episodes), training {:.0} s",
                r.success_rate, r.episodes, r.train_seconds
            ));
            runs.push(r);
        }
    }
    let drop = |m: WorldModelKind| {
        let s = |l: usize| {
            runs.iter()
                .find(|r| r.model == m && r.leaves == l)
                .map_or(f64::NAN, |r| r.success_rate)
        };
        s(0) - s(cfg.leaves)
    };
    let report = DistractorsReport {
        leaves: cfg.leaves,
        jepa_drop: drop(WorldModelKind::Jepa),
        reconstruction_drop: drop(WorldModelKind::Reconstruction),
        runs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    write(out, &report)?;
    Ok(report)
}

/// The comparison as a Markdown table.
pub fn table(r: &DistractorsReport) -> String {
    let mut s = String::from(
        "| world model | leaves | success | mean closest approach (px) | plan ms/step | training s |\n|---|---|---|---|---|---|\n",
    );
    for run in &r.runs {
        s += &format!(
            "| {} | {} | {:.3} ({} eps) | {:.2} | {:.1} | {:.0} |\n",
            run.model.name(),
            run.leaves,
            run.success_rate,
            run.episodes,
            run.mean_min_goal_error,
            run.plan_ms_per_step,
            run.train_seconds
        );
    }
    s += &format!(
        "\nDrop with {} leaves: JEPA {:+.1} points, reconstruction {:+.1} points ({:.0} s in all).\n",
        r.leaves,
        100.0 * r.jepa_drop,
        100.0 * r.reconstruction_drop,
        r.seconds
    );
    s
}

/// Writes `report.json`, `table.md` and `success.svg` (success vs leaves, one line per model)
/// into `dir`, each atomically.
pub fn write(dir: &Path, r: &DistractorsReport) -> Result<(), AgentError> {
    let series = [WorldModelKind::Jepa, WorldModelKind::Reconstruction]
        .into_iter()
        .map(|m| Series {
            name: m.name().to_string(),
            points: r
                .runs
                .iter()
                .filter(|run| run.model == m)
                .map(|run| (run.leaves as f64, run.success_rate))
                .collect(),
        })
        .collect();
    let svg = render(
        &[Panel {
            title: "two-rooms: planning success vs distractor leaves".into(),
            series,
            log_y: false,
        }],
        1,
        "leaves per frame",
    );
    super::write_experiment_files(
        dir,
        "report.json",
        r,
        &[("table.md", table(r)), ("success.svg", svg)],
    )
}
