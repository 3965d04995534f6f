//! The whole pipeline as library calls: configuration and presets ([`config`]), reward-free
//! data ([`generate_data`]), training with a checkpoint policy and a metrics log ([`fit`]),
//! evaluation by planning on the test tasks ([`evaluate`] → [`EvalReport`]), the demo that
//! chains them ([`demo`]), and the learned modules beside the world model: the amortised
//! policy ([`train_policy`]) and the critic ([`train_critic`]). The `ami` binary only parses arguments, calls these and prints.
//!
//! ```no_run
//! use ami_agent::pipeline::{demo, Preset, RunConfig, Silent};
//! let cfg = RunConfig::preset(Preset::Default);
//! let report = demo(std::path::Path::new("runs/demo"), cfg, &Silent)?;
//! println!("success rate {}", report.success_rate());
//! # Ok::<(), ami_agent::AgentError>(())
//! ```

pub mod config;
pub mod coverage;
pub mod distractors;
pub mod engine;
pub mod evaluate;
pub mod fit;
pub mod frontier;
pub mod guarded;
pub mod learned;
pub mod level2_fit;
pub mod levels;
pub use ami_io::svg as plot;
pub mod probe_fit;
pub mod progress;
pub mod risk;
pub mod run_dir;
pub mod tensorboard;
pub mod train_critic;
pub mod train_policy;
pub mod trained;
pub mod videos;
pub mod wall_leaks;
pub mod workers;

use std::path::Path;
use std::time::Instant;

use ami_envs::Dataset;

pub use config::{AgentConfig, EvalConfig, Preset, RunConfig, Split};
pub use evaluate::{evaluate, evaluate_tasks, task_table, EpisodeRecord, EvalReport, TaskResult};
pub use fit::{fit, FitOptions};
pub use learned::{ActorKind, CriticMode, Learned, CRITIC_FILE, POLICY_FILE};
pub use probe_fit::{fit_probe, load_probe};
pub use progress::{Progress, Silent};
pub use run_dir::RunDir;
pub use train_critic::{train_critic, CriticTraining};
pub use train_policy::train_policy;
pub use trained::{dataset_from_arrays, TrainedRun, TrajectoryArrays};

use crate::error::AgentError;

/// Writes an experiment's outputs into `dir` (created if missing), each file atomically:
/// `report` as pretty JSON under `json_name`, then every `(name, text)` of `files` (its table
/// and plots).
pub fn write_experiment_files(
    dir: &Path,
    json_name: &str,
    report: &impl serde::Serialize,
    files: &[(&str, String)],
) -> Result<(), AgentError> {
    std::fs::create_dir_all(dir).map_err(AgentError::io(dir))?;
    let json = serde_json::to_string_pretty(report).map_err(|e| {
        AgentError::config_source(dir.join(json_name).display().to_string(), e.to_string())
    })?;
    ami_io::write_atomic(&dir.join(json_name), json.as_bytes())?;
    for (name, text) in files {
        ami_io::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// Generates the reward-free dataset of `cfg` (`[env]`, `[data]`), reporting trajectories done.
pub fn generate_data(cfg: &RunConfig, progress: &dyn Progress) -> Result<Dataset, AgentError> {
    progress.start("data", cfg.data.trajectory_count() as u64);
    let ds = ami_envs::generate(&cfg.env, &cfg.data, &mut |done| {
        progress.set(done as u64, "")
    })?;
    progress.finish();
    Ok(ds)
}

/// `ami demo`: data → training → evaluation of `[task]` in the run directory `out` (created; a
/// run there is overwritten). The report carries the training and total wall times.
pub fn demo(out: &Path, cfg: RunConfig, progress: &dyn Progress) -> Result<EvalReport, AgentError> {
    let (run, t0, train_s) = data_and_training(out, &cfg, progress)?;
    let mut report = evaluate(&run, &cfg, Split::Test, progress)?;
    report.train_seconds = Some(train_s);
    report.total_seconds = Some(t0.elapsed().as_secs_f64());
    report.save(&run)?;
    Ok(report)
}

/// `ami demo --env maze`: data → training (world model, then level 2) → flat and
/// hierarchical planning on the same test tasks and on the held-out layout
/// ([`levels::compare_levels`]); the comparison is the run's `report.json`.
pub fn demo_levels(
    out: &Path,
    cfg: RunConfig,
    progress: &dyn Progress,
) -> Result<levels::LevelsReport, AgentError> {
    if !cfg.hierarchy.train {
        return Err(AgentError::config(
            "hierarchy.train",
            false,
            "true: comparing flat and hierarchical planning needs the level-2 model",
        ));
    }
    let (run, t0, train_s) = data_and_training(out, &cfg, progress)?;
    let mut report = levels::compare_levels(&run, &cfg, progress)?;
    report.train_seconds = Some(train_s);
    report.total_seconds = Some(t0.elapsed().as_secs_f64());
    report.save(&run)?;
    Ok(report)
}

/// `ami demo` with several tasks: data → one training run → every task of `tasks` evaluated
/// on the same checkpoint ([`evaluate_tasks`]). Each report carries the training time and the
/// total time up to its end.
pub fn demo_tasks(
    out: &Path,
    cfg: RunConfig,
    tasks: &[&str],
    progress: &dyn Progress,
) -> Result<Vec<TaskResult>, AgentError> {
    let (run, t0, train_s) = data_and_training(out, &cfg, progress)?;
    let mut rows = evaluate_tasks(&run, &cfg, tasks, Split::Test, progress)?;
    for (_, r) in rows.iter_mut() {
        if let Ok(report) = r {
            report.train_seconds = Some(train_s);
            report.total_seconds = Some(t0.elapsed().as_secs_f64());
            report.save(&run)?;
        }
    }
    Ok(rows)
}

/// A demo's output must be a directory or not exist yet.
fn validate_demo_out(out: &Path) -> Result<(), AgentError> {
    if out.exists() && !out.is_dir() {
        return Err(AgentError::config_source(
            out.display().to_string(),
            "exists and is not a directory",
        ));
    }
    Ok(())
}

/// Data and training of a demo: returns the run, the start time and the training seconds.
fn data_and_training(
    out: &Path,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<(RunDir, Instant, f64), AgentError> {
    let t0 = Instant::now();
    cfg.validate()?;
    validate_demo_out(out)?;
    let run = RunDir::create_locked(out, "ami demo")?;
    let data = generate_data(cfg, progress)?;
    let t_train = Instant::now();
    fit(&run, cfg, &data, FitOptions::default(), progress)?;
    Ok((run, t0, t_train.elapsed().as_secs_f64()))
}
