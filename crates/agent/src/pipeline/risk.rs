//! Planning under uncertainty compared on the same episodes (issue 11; `ami demo --env
//! highway`): one dataset, two world models — the run's latent-variable model (in the run
//! directory) and the same architecture without the latent (`deterministic/`, a run
//! directory of its own, so `ami eval --run DIR/deterministic` works) — then the test
//! episodes with
//! * `risk.worst` and `risk.average`: the latent model, `agent.risk = "worst"` / `"average"`;
//! * `risk.deterministic`: the deterministic model with the worst-case planner (with one
//!   future, worst = average);
//! * `baseline`: the environment's reference controller reading the true state
//!   ([`ami_envs::EnvSpec::baseline`]; highway: stay in the lane with IDM);
//!
//! each row `{episodes, collisions, collision_rate, progress, plan_ms_per_step}`. Every
//! agent evaluation is also saved in full under `eval/<task>-risk-<setting>/` of its run.
//! The run's `report.json` is the comparison, with the latent model's `coverage_90`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use ami_jepa::latent::LatentConfig;
use serde::{Deserialize, Serialize};

use super::config::{RunConfig, Split};
use super::coverage::Coverage90;
use super::evaluate::{evaluate, EvalReport};
use super::fit::{fit, FitOptions};
use super::progress::Progress;
use super::run_dir::RunDir;
use super::{generate_data, validate_demo_out};
use crate::error::AgentError;
use crate::imagined_error::{GuardCalibration, ImaginedError, IMAGINED_ERROR_FILE};
use crate::risk::Risk;

/// Sub-directory of the deterministic model's run.
pub const DETERMINISTIC_DIR: &str = "deterministic";

/// One row of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RiskRow {
    /// Test episodes.
    pub episodes: usize,
    /// Episodes with a collision.
    pub collisions: usize,
    /// `collisions / episodes`.
    pub collision_rate: f64,
    /// Mean distance driven per episode (m; [`ami_envs::EnvSpec::progress`]).
    pub progress: f64,
    /// Mean planning time per environment step (ms; 0 for the baseline, which does not plan).
    pub plan_ms_per_step: f64,
    /// Planning calls that found no safe plan (the fallback action was executed).
    pub unsafe_plans: usize,
}

impl RiskRow {
    /// The row of an evaluation whose success rule is "no collision" (the `drive` task).
    pub fn of(report: &EvalReport) -> Self {
        let episodes = report.episodes;
        let safe = (report.success_rate() * episodes as f64).round() as usize;
        let collisions = episodes - safe.min(episodes);
        RiskRow {
            episodes,
            collisions,
            collision_rate: ratio(collisions, episodes),
            progress: report.mean_progress.unwrap_or(0.0),
            plan_ms_per_step: report.plan_ms_per_step,
            unsafe_plans: report.unsafe_plans,
        }
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// The reference controller on the same episodes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaselineRow {
    /// What it does ([`ami_envs::Baseline::name`]).
    pub name: String,
    /// Its scores.
    #[serde(flatten)]
    pub row: RiskRow,
}

/// `report.json` of `ami demo --env highway`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RiskReport {
    /// Environment kind.
    pub env: String,
    /// Task evaluated.
    pub task: String,
    /// The latent of the run's model (`model.latent`).
    pub latent: LatentConfig,
    /// `worst`, `average` (latent model) and `deterministic` (no latent, worst-case planner).
    pub risk: BTreeMap<String, RiskRow>,
    /// The environment's reference controller, when it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub baseline: Option<BaselineRow>,
    /// Calibrated coverage of the latent model's central 90 % intervals (representation).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90: Option<Coverage90>,
    /// The same before calibration.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90_raw: Option<Coverage90>,
    /// The deterministic model's calibrated coverage.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub coverage_90_deterministic: Option<Coverage90>,
    /// How the latent model's guardrails separate held-out plans whose real future collides
    /// from those whose future is safe (recall and false-alarm rate of the margin rule and of
    /// the thresholds calibrated for 99 % recall; [`crate::imagined_error`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guardrails: Option<GuardCalibration>,
    /// The same for the deterministic model.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guardrails_deterministic: Option<GuardCalibration>,
    /// Wall time of data and both trainings (s).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub train_seconds: Option<f64>,
    /// Wall time of the whole run (s).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total_seconds: Option<f64>,
}

impl RiskReport {
    /// Writes the comparison to the run's `report.json` (atomically).
    pub fn save(&self, run: &RunDir) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source("report.json", e.to_string()))?;
        run.write("report.json", text.as_bytes())
    }
}

/// `ami demo --env highway`: data, the latent and the deterministic model, the comparison
/// (module docs). `cfg.model.latent` must be a latent.
pub fn demo_risk(
    out: &Path,
    cfg: RunConfig,
    progress: &dyn Progress,
) -> Result<RiskReport, AgentError> {
    let t0 = Instant::now();
    cfg.validate()?;
    if cfg.model.latent == LatentConfig::None {
        return Err(AgentError::config(
            "model.latent",
            "none",
            "a latent (e.g. {kind = \"discrete\", k = 4}): the comparison needs a latent model",
        ));
    }
    if cfg.task.name != "drive" {
        return Err(AgentError::config(
            "task.name",
            &cfg.task.name,
            "drive: the rows count collisions as the episodes the drive task scores unsafe",
        ));
    }
    validate_demo_out(out)?;
    let run = RunDir::create_locked(out, "ami demo")?;
    let det_cfg = without_latent(&cfg);
    let det_run = RunDir::create_locked(&out.join(DETERMINISTIC_DIR), "ami demo")?;
    let data = generate_data(&cfg, progress)?;
    fit(&run, &cfg, &data, FitOptions::default(), progress)?;
    fit(&det_run, &det_cfg, &data, FitOptions::default(), progress)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let mut report = compare_risks(&run, &det_run, &cfg, progress)?;
    report.train_seconds = Some(train_seconds);
    report.total_seconds = Some(t0.elapsed().as_secs_f64());
    report.save(&run)?;
    Ok(report)
}

/// The comparison on trained runs: `run` holds the latent model, `det_run` the
/// deterministic one (module docs). Writes `report.json` in `run`.
pub fn compare_risks(
    run: &RunDir,
    det_run: &RunDir,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<RiskReport, AgentError> {
    let with = |risk: Risk, tag: &str, c: &RunConfig| {
        let mut c = c.clone();
        c.agent.risk = risk;
        c.eval.tag = format!("risk-{tag}");
        c
    };
    let det_cfg = without_latent(cfg);
    let worst = evaluate(run, &with(Risk::Worst, "worst", cfg), Split::Test, progress)?;
    let average = evaluate(
        run,
        &with(Risk::Average, "average", cfg),
        Split::Test,
        progress,
    )?;
    let det = evaluate(
        det_run,
        &with(Risk::Worst, "deterministic", &det_cfg),
        Split::Test,
        progress,
    )?;
    let baseline = evaluate_baseline(cfg, Split::Test)?;
    let risk = BTreeMap::from([
        ("worst".to_string(), RiskRow::of(&worst)),
        ("average".to_string(), RiskRow::of(&average)),
        ("deterministic".to_string(), RiskRow::of(&det)),
    ]);
    let report = RiskReport {
        env: cfg.env.kind().to_string(),
        task: cfg.task.name.clone(),
        latent: cfg.model.latent.clone(),
        risk,
        baseline,
        coverage_90: worst.coverage_90,
        coverage_90_raw: worst.coverage_90_raw,
        coverage_90_deterministic: det.coverage_90,
        guardrails: guard_calibration(run)?,
        guardrails_deterministic: guard_calibration(det_run)?,
        train_seconds: None,
        total_seconds: None,
    };
    report.save(run)?;
    Ok(report)
}

/// The guardrails' calibration measured when `run` was trained, if it has one.
fn guard_calibration(run: &RunDir) -> Result<Option<GuardCalibration>, AgentError> {
    let path = run.file(IMAGINED_ERROR_FILE);
    if !path.exists() {
        return Ok(None);
    }
    Ok(ImaginedError::load(&path)?.guard_calibration)
}

/// `cfg` with the deterministic predictor (the deterministic row's model).
fn without_latent(cfg: &RunConfig) -> RunConfig {
    let mut c = cfg.clone();
    c.model.latent = LatentConfig::None;
    c
}

/// The environment's reference controller ([`ami_envs::EnvSpec::baseline`]) on the episodes
/// `evaluate` would run for `split` (same starts, same step limit): it reads the true state,
/// steps until the limit or its first collision ([`ami_envs::Env::violation`]), and scores collisions
/// and the mean progress. `None` when the environment has no baseline or is not scored by
/// progress.
pub fn evaluate_baseline(cfg: &RunConfig, split: Split) -> Result<Option<BaselineRow>, AgentError> {
    let spec = cfg.env.spec();
    let Some(baseline) = spec.baseline() else {
        return Ok(None);
    };
    let task = cfg.task.spec()?;
    let episodes = task.episodes(spec, cfg.eval.episodes, cfg.task_seed(split))?;
    let max_steps = task.max_steps(cfg.eval.max_steps);
    let mut env = spec.build()?;
    let (mut collisions, mut progress) = (0usize, 0f64);
    for episode in &episodes {
        env.reset_to(&episode.start)?;
        let mut state = episode.start.clone();
        for _ in 0..max_steps {
            state = env.step(&baseline.act(&state))?.state;
            if env.violation(&state) {
                collisions += 1;
                break;
            }
        }
        let Some(p) = spec.progress(&episode.start, &state) else {
            return Ok(None);
        };
        progress += f64::from(p);
    }
    let n = episodes.len();
    Ok(Some(BaselineRow {
        name: baseline.name(),
        row: RiskRow {
            episodes: n,
            collisions,
            collision_rate: ratio(collisions, n),
            progress: if n == 0 { 0.0 } else { progress / n as f64 },
            plan_ms_per_step: 0.0,
            unsafe_plans: 0,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Preset, Silent};

    #[test]
    fn the_comparison_needs_a_latent_model_and_the_drive_task() {
        let dir = std::env::temp_dir().join(format!("ami-risk-{}", std::process::id()));
        let cfg = RunConfig::preset_in(Preset::Tiny, "highway").unwrap();
        assert_ne!(
            cfg.model.latent,
            LatentConfig::None,
            "the highway preset has a latent"
        );
        let mut det = cfg.clone();
        det.model.latent = LatentConfig::None;
        let err = demo_risk(&dir, det, &Silent).unwrap_err().to_string();
        assert!(err.contains("model.latent"), "{err}");
        let mut reach = cfg;
        reach.task.name = "reach".into();
        let err = demo_risk(&dir, reach, &Silent).unwrap_err().to_string();
        assert!(err.contains("task.name") && err.contains("reach"), "{err}");
        assert!(!dir.exists(), "nothing is written before the checks pass");
    }

    #[test]
    fn ratio_of_nothing_is_zero() {
        assert_eq!(ratio(3, 4), 0.75);
        assert_eq!(ratio(0, 0), 0.0);
    }
}
