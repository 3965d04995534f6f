//! Training driver: the world model of a run is trained on a dataset, logging every
//! `train.log_every` steps to `metrics.jsonl`, checkpointing four times per run (and at the
//! end), and resuming exactly from the last checkpoint.
//!
//! When training is complete, the run's state probe is fitted on the same data
//! ([`super::probe_fit`]), and the coverage of the predicted futures is measured on the
//! probe's held-out trajectories ([`super::coverage`]). With `hierarchy.train`, the H-JEPA
//! level 2 is then trained on the frozen world model's representations
//! ([`super::level2_fit`]).
//!
//! On resume, `metrics.jsonl` keeps only the lines of steps before the checkpoint's step, so
//! that every step is logged once even when steps after the last checkpoint are replayed.
//!
//! Training runs under the divergence guard ([`super::guarded`]): a NaN or an infinity, or a
//! collapsed representation, stops the run (or rolls it back, `guard.on_divergence`) without
//! checkpointing the diverged state.

use ami_envs::{Dataset, EnvSpec};
use ami_jepa::burn::tensor::Device;
use ami_jepa::checkpoint::load_trainer;
use ami_jepa::{DataStats, JepaConfig, ObjectiveConfig, Trainer, Trajectories};

use super::config::RunConfig;
use super::guarded::Session;
use super::plot::{render, Panel, Series};
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::error::AgentError;

/// How [`fit`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FitOptions {
    /// Continue the run from its checkpoint (with the run's own `config.toml`).
    pub resume: bool,
    /// Stop (after a checkpoint) once this many steps are done, as if interrupted; `None`
    /// trains to `train.steps`.
    pub stop_after: Option<usize>,
}

/// The device everything runs on: burn's default, i.e. the first backend compiled in
/// (CUDA with `--features cuda`, wgpu with `--features wgpu`, else the `flex` CPU backend).
pub fn compute_device() -> Device {
    Device::default()
}

/// The dataset as training windows.
pub fn trajectories(ds: &Dataset) -> Trajectories {
    Trajectories {
        observations: std::sync::Arc::clone(&ds.observations),
        actions: ds.actions.clone(),
        n_traj: ds.n_traj,
        traj_len: ds.traj_len,
        obs_dim: ds.obs_shape.iter().product(),
        action_dim: ds.action_dim,
        readout: Vec::new(),
        readout_dim: 0,
    }
}

/// The training windows for `objective` from `ds`: with the auxiliary readout term
/// (`objective.readout > 0`) every logged true state contributes its readout
/// `spec.readout(state)` as the per-step target, and the trajectories held out for measuring
/// the probe ([`super::probe_fit::held_out_trajectories`]) are left out, so that their labels are
/// never trained on. Without it, exactly [`trajectories`].
pub fn training_trajectories(
    ds: &Dataset,
    spec: &dyn EnvSpec,
    objective: &ObjectiveConfig,
) -> Result<Trajectories, AgentError> {
    let mut windows = trajectories(ds);
    if objective.readout <= 0.0 {
        return Ok(windows);
    }
    let per_traj = ds.traj_len + 1;
    let k = ds.state_dim;
    if k == 0 || ds.states.len() != ds.n_traj * per_traj * k {
        return Err(AgentError::shape(
            "dataset states for objective.readout",
            ds.states.len(),
            format!("[n_traj={}, T+1={per_traj}, S={k}]", ds.n_traj),
        ));
    }
    let readout: Vec<f32> = ds
        .states
        .chunks_exact(k)
        .flat_map(|s| spec.readout(s))
        .collect();
    let r = readout.len() / (ds.n_traj * per_traj);
    if r == 0 {
        return Err(AgentError::config(
            "objective.readout",
            objective.readout,
            "0 for an environment without readout features",
        ));
    }
    let kept = ds.n_traj - super::probe_fit::held_out_trajectories(ds.n_traj);
    // The held-out trajectories stay at the end of the shared frames, unsampled.
    windows.actions.truncate(kept * ds.traj_len * ds.action_dim);
    windows.n_traj = kept;
    windows.readout = readout;
    windows.readout.truncate(kept * per_traj * r);
    windows.readout_dim = r;
    Ok(windows)
}

/// Trains (or resumes) the world model of `run` on `data` with `cfg`. A fresh run writes `cfg`
/// to `config.toml`; to resume, pass the run's own configuration ([`RunDir::read_config`],
/// which a user may have edited, e.g. to train for more steps). Resuming a run that was
/// stopped before its first checkpoint trains it from step 0. Returns the trainer at the end.
pub fn fit(
    run: &RunDir,
    cfg: &RunConfig,
    data: &Dataset,
    opts: FitOptions,
    progress: &dyn Progress,
) -> Result<Trainer, AgentError> {
    let device = compute_device();
    cfg.validate()?;
    if data.env_config != cfg.env {
        return Err(AgentError::config_source(
            "dataset",
            format!(
                "was generated in {:?}, but the run's [env] is {:?}; generate the data with the same \
                 preset and env settings as the run",
                data.env_config, cfg.env
            ),
        ));
    }
    let windows = training_trajectories(data, cfg.env.spec(), &cfg.objective)?;
    windows.validate()?;
    // A run killed before its first checkpoint has nothing to resume from: it starts again
    // from step 0 with the run's configuration (the same run an uninterrupted one would be).
    let resume = opts.resume && run.checkpoint().join("checkpoint.json").is_file();
    let trainer = if resume {
        let mut t = load_trainer(&run.checkpoint(), &device)?;
        t.train_config = cfg.train.clone();
        t
    } else {
        let bound = cfg.env.spec().action_space().max_norm;
        let stats = DataStats::of(&windows, &data.obs_shape, bound);
        let model = JepaConfig::from_parts(&cfg.model, &stats);
        run.write_config(cfg)?;
        Trainer::new(model, cfg.objective.clone(), cfg.train.clone(), &device)?
    };
    let total = cfg.train.steps;
    let stop = opts.stop_after.unwrap_or(total).min(total);
    let mut session = Session::open(run, cfg, &windows, progress, &trainer, resume)?;
    progress.start("train", total as u64);
    progress.set(trainer.step as u64, "");
    let trainer = session.train(trainer, stop)?;
    progress.finish();
    plot_training(run)?;
    if trainer.step >= total {
        super::probe_fit::fit_probe(run, cfg, data, progress)?;
        let settings = crate::coverage::CoverageConfig {
            seed: cfg.train.seed,
            ..Default::default()
        };
        super::coverage::measure_run(run, cfg, data, &settings, progress)?;
        if cfg.hierarchy.train {
            super::level2_fit::fit_level2(run, cfg, data, progress)?;
        }
    }
    Ok(trainer)
}

/// `plots/training.svg`: every loss term and the collapse diagnostics over training.
pub fn plot_training(run: &RunDir) -> Result<(), AgentError> {
    let path = run.file("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(AgentError::io(&path))?;
    let logs: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let series = |name: &str, f: &dyn Fn(&serde_json::Value) -> Option<f64>| Series {
        name: name.to_string(),
        points: logs
            .iter()
            .filter_map(|l| Some((l["step"].as_f64()?, f(l)?)))
            .collect(),
    };
    let mut panels = vec![Panel {
        title: "total loss".into(),
        series: vec![series("total", &|l| l["loss"].as_f64())],
        log_y: true,
    }];
    // Term names as logged (they depend on the objective's regulariser); divergence records
    // (`{"step", "divergence"}`) have no loss and are skipped by every series.
    let names: Vec<String> = logs
        .iter()
        .find_map(|l| l["terms"].as_array())
        .map(|terms| {
            terms
                .iter()
                .filter_map(|t| t[0].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        panels.push(Panel {
            title: format!("{name} (unweighted)"),
            series: vec![series(name, &|l| l["terms"][i][1].as_f64())],
            log_y: true,
        });
    }
    panels.push(Panel {
        title: "collapse diagnostics".into(),
        series: vec![
            series("mean std", &|l| l["collapse"]["mean_std"].as_f64()),
            series("effective rank", &|l| {
                l["collapse"]["effective_rank"].as_f64()
            }),
        ],
        log_y: false,
    });
    Ok(ami_io::write_atomic(
        &run.plot("training.svg"),
        render(&panels, 2, "step").as_bytes(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{generate_data, Preset, Silent};

    #[test]
    fn training_windows_share_the_datasets_frames_and_leave_the_held_out_ones_unsampled() {
        let cfg = RunConfig::preset_in(Preset::Tiny, "random-wall").unwrap();
        assert!(cfg.objective.readout > 0.0);
        let ds = generate_data(&cfg, &Silent).unwrap();
        let w = training_trajectories(&ds, cfg.env.spec(), &cfg.objective).unwrap();
        // One buffer of frames, not two.
        assert!(std::sync::Arc::ptr_eq(&w.observations, &ds.observations));
        let held = super::super::probe_fit::held_out_trajectories(ds.n_traj);
        assert!(held >= 1);
        assert_eq!(w.n_traj, ds.n_traj - held);
        w.validate().unwrap();
        let per_traj = ds.traj_len + 1;
        let obs_dim: usize = ds.obs_shape.iter().product();
        assert_eq!(w.used_observations().len(), w.n_traj * per_traj * obs_dim);
        assert_eq!(w.actions.len(), w.n_traj * ds.traj_len * ds.action_dim);
        assert_eq!(w.readout.len(), w.n_traj * per_traj * w.readout_dim);
        // Without the readout term, every trajectory trains, on the same shared frames.
        let mut plain = cfg.objective.clone();
        plain.readout = 0.0;
        let all = training_trajectories(&ds, cfg.env.spec(), &plain).unwrap();
        assert!(std::sync::Arc::ptr_eq(&all.observations, &ds.observations));
        assert_eq!(all.n_traj, ds.n_traj);
    }
}
