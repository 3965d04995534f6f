//! `ami experiment planning-frontier`: success per unit of planning compute.
//!
//! A trained run (an `ami demo` directory) is re-evaluated on the same episodes (the test
//! tasks, or the validation tasks to choose settings without seeing the test ones) under
//! every setting of a grid ([`grid`]: planner family × candidates × iterations × schedule):
//! its configuration with the setting's overrides, evaluated by [`super::evaluate::measure`],
//! which writes nothing into the run. Each setting gives a row ([`FrontierRow`]): success by
//! both rules, planning wall time per environment step and per call, and the predictor steps
//! the time stands for. The rows on the Pareto front of (ms/step ↓, success ↑) are marked
//! ([`front::pareto_front`]).
//!
//! Outputs in `OUT`: `frontier.json` ([`FrontierReport`]), `table.md`, `frontier.svg`
//! (success vs ms/step, log x, one series per family, the front dashed) and `samples.svg`
//! (success vs candidates × iterations). Wall times depend on the machine and its load: the
//! report records the 1-minute load average before and after (`/proc/loadavg`, where there
//! is one).

pub mod config;
pub mod front;
pub mod grid;

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use config::FrontierConfig;
pub use front::{cheapest, mark_front, pareto_front, FrontierRow};
pub use grid::{cross, Family, GridPoint, Schedule};

use super::config::Split;
use super::evaluate::measure;
use super::learned::POLICY_FILE;
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::error::AgentError;

/// The success rate a setting must reach to count as solving the task (issue 14).
pub const TARGET_SUCCESS: f64 = 0.97;

/// `frontier.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FrontierReport {
    /// The run re-evaluated.
    pub run: String,
    /// Environment kind.
    pub env: String,
    /// The tasks evaluated (`test` or `val`).
    pub split: Split,
    /// One row per setting, in measuring order.
    pub rows: Vec<FrontierRow>,
    /// [`TARGET_SUCCESS`].
    pub target_success: f64,
    /// The fastest row reaching the target ([`front::label`]), if any.
    pub cheapest_at_target: Option<String>,
    /// 1-minute load average before the first setting (`None`: not available).
    pub load_before: Option<f64>,
    /// 1-minute load average after the last setting.
    pub load_after: Option<f64>,
    /// Evaluation workers (threads running episodes in parallel).
    pub eval_workers: usize,
    /// Wall time of the whole frontier (s).
    pub seconds: f64,
}

/// The 1-minute load average of the machine (Linux `/proc/loadavg`), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Measures every setting of `cfg` on the episodes of `cfg.split` of the run in `run_dir`,
/// logging one line per setting to `log`; writes the outputs into `out` (module docs) after
/// every setting, so they hold the rows measured so far.
pub fn run(
    run_dir: &Path,
    out: &Path,
    cfg: &FrontierConfig,
    progress: &dyn Progress,
    log: &mut dyn FnMut(&str),
) -> Result<FrontierReport, AgentError> {
    cfg.validate()?;
    let run = RunDir::open(run_dir)?;
    let mut base = run.read_config()?.with_overrides(&cfg.sets)?;
    if let Some(n) = cfg.episodes {
        base.eval.episodes = n;
    }
    if let Some(p) = cfg.points.iter().find(|p| p.family.needs_policy()) {
        let path = run.file(POLICY_FILE);
        if !path.is_file() {
            return Err(AgentError::config_source(
                "planners",
                format!(
                    "{} needs the amortised policy {}; run `ami train-policy --run {}` first",
                    p.family.name(),
                    path.display(),
                    run_dir.display()
                ),
            ));
        }
    }
    // Every setting's configuration first, so that a bad one fails before any is measured.
    let configs = cfg
        .points
        .iter()
        .map(|p| {
            let c = base.clone().with_overrides(&p.overrides())?;
            c.validate()?;
            Ok((p, c))
        })
        .collect::<Result<Vec<_>, AgentError>>()?;
    let (t0, load_before) = (Instant::now(), load_average());
    let summary = |mut rows: Vec<FrontierRow>, eval_workers: usize| {
        mark_front(&mut rows);
        FrontierReport {
            run: run_dir.display().to_string(),
            env: base.env.kind().to_string(),
            split: cfg.split,
            cheapest_at_target: cheapest(&rows, TARGET_SUCCESS).map(front::label),
            rows,
            target_success: TARGET_SUCCESS,
            load_before,
            load_after: load_average(),
            eval_workers,
            seconds: t0.elapsed().as_secs_f64(),
        }
    };
    let mut rows = Vec::with_capacity(configs.len());
    let mut workers = 0;
    for (i, (p, c)) in configs.iter().enumerate() {
        let t = Instant::now();
        let (report, _) = measure(&run, c, cfg.split, progress)?;
        workers = report.eval_workers;
        let row = FrontierRow::of(p, &c.agent, &report, t.elapsed().as_secs_f64());
        log(&format!(
            "[{}/{}] {}: success {:.2}, {} ms/step ({:.0} s)",
            i + 1,
            configs.len(),
            front::label(&row),
            row.success_rate,
            front::ms(row.plan_ms_per_step),
            row.seconds
        ));
        rows.push(row);
        // The rows so far, so that a long grid stopped early keeps what it measured.
        write(out, &summary(rows.clone(), workers))?;
    }
    Ok(summary(rows, workers))
}

/// Writes `frontier.json`, `table.md`, `frontier.svg` and `samples.svg` into `dir`, each
/// atomically.
pub fn write(dir: &Path, r: &FrontierReport) -> Result<(), AgentError> {
    let title = format!("{}: success vs planning compute", r.env);
    super::write_experiment_files(
        dir,
        "frontier.json",
        r,
        &[
            ("table.md", front::table(&r.rows)),
            ("frontier.svg", front::success_vs_time(&r.rows, &title)),
            ("samples.svg", front::success_vs_samples(&r.rows, &title)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_run_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-run");
        let err = run(
            &missing,
            &dir.path().join("out"),
            &FrontierConfig::quick(false),
            &super::super::Silent,
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no-run") && err.contains("config.toml"),
            "{err}"
        );
        assert!(!dir.path().join("out").exists());
    }
}
