//! Training the H-JEPA level 2 of a run ([`ami_jepa::hjepa`]) after its world model: the
//! dataset is encoded by the trained (frozen) level-1 encoder, level 2 is trained on those
//! representations, and the run gains
//!
//! * `level2.safetensors` — the predictor's weights (`predictor.layers.{i}.weight [out, in]`);
//! * `level2_memory.safetensors` — `states [n, T+1, D]`: the level-1 representations of the
//!   trajectories level 2 was trained on (the hierarchical planner's
//!   [`crate::data_support::DataSupport`]);
//! * `level2.json` — `{ config, repr_dim, action_dim, layers, report }`, the held-out report
//!   comparing level 2 with copying its input and its collapse diagnostics (written last: a
//!   run has a level 2 when this file is there);
//! * `plots/level2.svg` — the training loss and the held-out error per macro step beside
//!   the copy baseline.

use std::sync::Arc;

use ami_envs::Dataset;
use ami_jepa::checkpoint::{read_safetensors, safetensors_bytes};
use ami_jepa::hjepa::{train_level2, Level2, Level2Config, Level2Data, Level2Report};
use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use super::evaluate::world_model;
use super::fit::compute_device;
use super::plot::{render, Panel, Series};
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::error::AgentError;
use crate::level2::{Level2Model, SeenTrajectories};

/// The level-2 weights in a run directory.
pub const LEVEL2_WEIGHTS: &str = "level2.safetensors";
/// The level-2 training trajectories (level-2 states) in a run directory.
pub const LEVEL2_MEMORY: &str = "level2_memory.safetensors";
/// The level-2 description and report in a run directory.
pub const LEVEL2_FILE: &str = "level2.json";

/// `level2.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Level2Meta {
    /// Training settings.
    pub config: Level2Config,
    /// Representation width `D`.
    pub repr_dim: usize,
    /// Macro-action width `A`.
    pub action_dim: usize,
    /// Affine layers of the predictor.
    pub layers: usize,
    /// Held-out scores.
    pub report: Level2Report,
}

/// Encodes `data` with the run's world model, trains level 2 with `cfg.hierarchy.level2`,
/// writes it into the run (module docs) and returns its held-out report.
pub fn fit_level2(
    run: &RunDir,
    cfg: &RunConfig,
    data: &Dataset,
    progress: &dyn Progress,
) -> Result<Level2Report, AgentError> {
    let l2 = &cfg.hierarchy.level2;
    l2.validate()?;
    let wm = world_model(run, cfg)?;
    let obs_dim: usize = data.obs_shape.iter().product();
    let rows = data.observations.len() / obs_dim.max(1);
    progress.start("level 2: encode", rows as u64);
    let mut reprs = Vec::new();
    for (i, chunk) in data.observations.chunks(4096 * obs_dim).enumerate() {
        reprs.extend(wm.encode_batch(chunk)?);
        progress.set(((i + 1) * 4096).min(rows) as u64, "");
    }
    progress.finish();
    let repr_dim = reprs.len() / rows.max(1);
    let l2data = Level2Data {
        reprs,
        actions: data.actions.clone(),
        n_traj: data.n_traj,
        traj_len: data.traj_len,
        repr_dim,
        action_dim: data.action_dim,
        max_action_norm: cfg.env.spec().action_space().max_norm,
    };
    progress.start("level 2: train", l2.steps as u64);
    let mut losses = Vec::with_capacity(l2.steps);
    let (model, report) = train_level2(l2, &l2data, &compute_device(), &mut |log| {
        losses.push((log.step as f64, log.loss));
        if log.step % 50 == 0 {
            progress.set(log.step as u64 + 1, &format!("loss {:.4}", log.loss));
        }
    })?;
    progress.finish();
    let tensors = model.tensors();
    let meta = Level2Meta {
        config: l2.clone(),
        repr_dim,
        action_dim: data.action_dim,
        layers: model.predictor.layers.len(),
        report: report.clone(),
    };
    let json = serde_json::to_string_pretty(&meta)
        .map_err(|e| AgentError::config_source(LEVEL2_FILE, e.to_string()))?;
    run.write(LEVEL2_WEIGHTS, &safetensors_bytes(&tensors))?;
    let len = data.traj_len + 1;
    let kept = data.n_traj - report.heldout_trajectories;
    let seen = vec![(
        "states".to_string(),
        vec![kept, len, repr_dim],
        l2data.reprs[..kept * len * repr_dim].to_vec(),
    )];
    run.write(LEVEL2_MEMORY, &safetensors_bytes(&seen))?;
    run.write(LEVEL2_FILE, json.as_bytes())?;
    plot_level2(run, &losses, &report)?;
    Ok(report)
}

/// `ami train-level2`: regenerates the run's data from `cfg` (deterministic, so the data the
/// world model was trained on when `[env]` and `[data]` are the run's), trains level 2 on it,
/// and records `cfg` (with its `[hierarchy]` settings) as the run's `config.toml`.
pub fn retrain_level2(
    run: &RunDir,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<Level2Report, AgentError> {
    cfg.validate()?;
    let data = super::generate_data(cfg, progress)?;
    let report = fit_level2(run, cfg, &data, progress)?;
    let mut recorded = cfg.clone();
    recorded.hierarchy.train = true;
    run.write_config(&recorded)?;
    Ok(report)
}

/// The run's level 2 for planning, or `None` when it has none (no `level2.json`).
pub fn load_level2(run: &RunDir) -> Result<Option<Arc<Level2Model>>, AgentError> {
    let Some(meta) = read_level2_meta(run)? else {
        return Ok(None);
    };
    let map = read_safetensors(&run.file(LEVEL2_WEIGHTS))?;
    let model = Level2::from_tensors(&map, meta.layers, &compute_device())?;
    let mut model = Level2Model::new(&model, meta.repr_dim, meta.action_dim, meta.report)?;
    let memory = run.file(LEVEL2_MEMORY);
    if memory.is_file() {
        let mut map = read_safetensors(&memory)?;
        let (shape, states) = map.remove("states").ok_or_else(|| {
            AgentError::config_source(
                memory.display().to_string(),
                "no tensor `states` [n, T+1, D]",
            )
        })?;
        let [n, len, d] = shape[..] else {
            return Err(AgentError::config_source(
                memory.display().to_string(),
                format!("`states` has shape {shape:?}, expected [n, T+1, D]"),
            ));
        };
        if d != meta.repr_dim {
            return Err(AgentError::config_source(
                memory.display().to_string(),
                format!("`states` has D = {d}, level 2 has D = {}", meta.repr_dim),
            ));
        }
        model = model.with_seen(SeenTrajectories { states, n, len })?;
    }
    Ok(Some(Arc::new(model)))
}

/// The run's `level2.json`, or `None` when it has none.
pub fn read_level2_meta(run: &RunDir) -> Result<Option<Level2Meta>, AgentError> {
    let path = run.file(LEVEL2_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(AgentError::io(&path))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        AgentError::config_source(
            path.display().to_string(),
            format!("not a level-2 description: {e}"),
        )
    })
}

/// `plots/level2.svg`.
fn plot_level2(
    run: &RunDir,
    losses: &[(f64, f64)],
    report: &Level2Report,
) -> Result<(), AgentError> {
    let per_step = |name: &str, v: &[f64]| Series {
        name: name.to_string(),
        points: v
            .iter()
            .enumerate()
            .map(|(j, e)| ((j + 1) as f64, *e))
            .collect(),
    };
    let panels = [
        Panel {
            title: "level-2 training loss (open-loop macro rollout)".into(),
            series: vec![Series {
                name: "loss".into(),
                points: losses.to_vec(),
            }],
            log_y: true,
        },
        Panel {
            title: format!(
                "held-out MSE per macro step of k = {} (x: macro steps)",
                report.k
            ),
            series: vec![
                per_step("level 2", &report.mse),
                per_step("copy the input", &report.copy_mse),
            ],
            log_y: true,
        },
    ];
    Ok(ami_io::write_atomic(
        &run.plot("level2.svg"),
        render(&panels, 2, "step").as_bytes(),
    )?)
}
