//! Fits the run's state probe ([`crate::probe`]) after training: encode every observation of
//! the reward-free dataset with the trained encoder, fit the ridge map to the environment's
//! readout of the logged true states ([`ami_envs::EnvSpec::readout`]: the state itself in
//! two-rooms, `[y, v, crashed, gaps]` in highway) on the first 90 % of trajectories, measure
//! it on the last 10 %, and write `probe.json` (atomically) with its measured error. When it
//! reads some feature poorly, a small MLP readout head is fitted on the same split too
//! ([`crate::readout_head`], `readout_head.json`).

use ami_envs::Dataset;

use super::config::{GuardrailRule, RunConfig};
use super::evaluate::world_model;
use super::progress::Progress;
use super::run_dir::RunDir;
use std::sync::Arc;

use crate::error::AgentError;
use crate::imagined_error::{HeldOut, ImaginedError, IMAGINED_ERROR_FILE};
use crate::probe::{StateProbe, PROBE_FILE};
use crate::readout_head::FeatureReader;
use crate::readout_head::{column_std, needs_head, ReadoutHead, HEAD_FILE};
use crate::regression::RegressionConfig;

/// Ridge strength of the probe fit (representations are O(1); this only guards against
/// rank deficiency).
pub const PROBE_RIDGE: f64 = 1e-3;

/// Observations encoded per call.
const CHUNK: usize = 4096;

/// How many trajectories (the last ones of the dataset) the probe and the readout head are
/// measured on: 10%, at least one, and never all. A world model trained with the auxiliary
/// readout term (`objective.readout > 0`) never sees these, so the held-out errors stay honest.
pub fn held_out_trajectories(n_traj: usize) -> usize {
    (n_traj / 10).max(1).min(n_traj.saturating_sub(1))
}

/// Fits, measures and saves the probe of `run` on `data`; returns it.
pub fn fit_probe(
    run: &RunDir,
    cfg: &RunConfig,
    data: &Dataset,
    progress: &dyn Progress,
) -> Result<StateProbe, AgentError> {
    let wm = world_model(run, cfg)?;
    let obs_dim: usize = data.obs_shape.iter().product();
    let per_traj = data.traj_len + 1;
    let pairs = data.n_traj * per_traj;
    let k = data.state_dim;
    if data.observations.len() != pairs * obs_dim || data.states.len() != pairs * k {
        return Err(AgentError::shape(
            "dataset for the probe",
            data.states.len(),
            format!("[n_traj={}, T+1={per_traj}, S={k}]", data.n_traj),
        ));
    }
    progress.start("probe", pairs as u64);
    let mut reprs = Vec::new();
    for (i, chunk) in data.observations.chunks(CHUNK * obs_dim).enumerate() {
        reprs.extend(wm.encode_batch(chunk)?);
        progress.set(((i + 1) * CHUNK).min(pairs) as u64, "");
    }
    progress.finish();
    let d = reprs.len() / pairs;
    let spec = cfg.env.spec();
    let features: Vec<f32> = data
        .states
        .chunks_exact(k)
        .flat_map(|s| spec.readout(s))
        .collect();
    let k = features.len() / pairs;
    let held_out = held_out_trajectories(data.n_traj);
    let cut = (data.n_traj - held_out) * per_traj;
    let (train_r, test_r) = reprs.split_at(cut * d);
    let (train_x, test_x) = features.split_at(cut * k);
    let mut probe = StateProbe::fit(train_r, train_x, (d, k), PROBE_RIDGE)?;
    probe.names = spec.readout_names();
    probe.measure((train_r, train_x), (test_r, test_x));
    probe.save(&run.file(PROBE_FILE))?;
    let head_path = run.file(HEAD_FILE);
    let reader: Arc<dyn FeatureReader> = if needs_head(&probe, &column_std(train_x, k)) {
        progress.start("readout head", 1);
        let head = ReadoutHead::fit(
            probe.names.clone(),
            (train_r, train_x),
            (test_r, test_x),
            (d, k),
            &head_config(),
        )?;
        head.save(&head_path)?;
        progress.finish();
        Arc::new(head)
    } else {
        if head_path.exists() {
            std::fs::remove_file(&head_path).map_err(AgentError::io(&head_path))?;
        }
        Arc::new(probe.clone())
    };
    let a = data.action_dim;
    let guards = cfg.cost.feature_guards(&cfg.task.spec()?.guardrails())?;
    // The environment's violation of every held-out true state, for the guardrails' calibration.
    let violations: Vec<bool> = if guards.is_empty() {
        Vec::new()
    } else {
        let env = spec.build()?;
        data.states[cut * data.state_dim..]
            .chunks_exact(data.state_dim)
            .map(|s| env.violation(s))
            .collect()
    };
    let held = HeldOut {
        reprs: test_r,
        features: test_x,
        actions: &data.actions[(data.n_traj - held_out) * data.traj_len * a..],
        violations: &violations,
        shape: (held_out, data.traj_len),
    };
    let plan = (cfg.agent.horizon, cfg.agent.action_repeat, IMAGINED_STRIDE);
    let err_path = run.file(IMAGINED_ERROR_FILE);
    match ImaginedError::measure(
        &wm,
        reader.as_ref(),
        &held,
        plan,
        cfg.agent.latent_paths,
        &guards,
    ) {
        Ok(e) => e.save(&err_path)?,
        // Plans longer than the data's trajectories: nothing to measure on.
        Err(AgentError::InvalidConfig { .. }) if err_path.exists() => {
            std::fs::remove_file(&err_path).map_err(AgentError::io(&err_path))?
        }
        Err(AgentError::InvalidConfig { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(probe)
}

/// Every how many steps of a held-out trajectory a start of the imagined-error measurement is
/// taken.
const IMAGINED_STRIDE: usize = 2;

/// The run's `imagined_error.json`, when it has one measured on the latent paths the
/// configuration plans with (`agent.latent_paths`).
fn measured_on_paths(run: &RunDir, cfg: &RunConfig) -> Result<Option<ImaginedError>, AgentError> {
    let path = run.file(IMAGINED_ERROR_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let e = ImaginedError::load(&path)?;
    Ok((e.latent_paths == cfg.agent.latent_paths.to_string()).then_some(e))
}

/// The run's measured error of reading imagined states ([`crate::imagined_error`]), when it
/// has one measured on the latent paths the configuration plans with (`agent.latent_paths`)
/// and `agent.imagined_margin` is on.
pub fn load_imagined_error(
    run: &RunDir,
    cfg: &RunConfig,
) -> Result<Option<ImaginedError>, AgentError> {
    if !cfg.agent.imagined_margin {
        return Ok(None);
    }
    measured_on_paths(run, cfg)
}

/// The run's calibrated guardrail thresholds ([`crate::imagined_error`]), when
/// `agent.guardrail_rule = "recall"`; an error when the run has none measured on the latent
/// paths the configuration plans with.
pub fn load_calibration(
    run: &RunDir,
    cfg: &RunConfig,
) -> Result<Option<ImaginedError>, AgentError> {
    if cfg.agent.guardrail_rule != GuardrailRule::Recall {
        return Ok(None);
    }
    match measured_on_paths(run, cfg)? {
        Some(e) => Ok(Some(e)),
        None => Err(AgentError::config_source(
            "agent.guardrail_rule",
            format!(
                "\"recall\" needs thresholds calibrated on latent paths `{}` in {}; train the run with this setting, or use \"margin\"",
                cfg.agent.latent_paths,
                run.file(IMAGINED_ERROR_FILE).display()
            ),
        )),
    }
}

/// Settings of the readout head's fit: two hidden layers of 128, 30 epochs of Adam.
fn head_config() -> RegressionConfig {
    RegressionConfig {
        hidden: vec![128, 128],
        epochs: 30,
        ..RegressionConfig::default()
    }
}

/// The run's readout head, if it has one.
pub fn load_head(run: &RunDir) -> Result<Option<ReadoutHead>, AgentError> {
    let path = run.file(HEAD_FILE);
    if path.exists() {
        ReadoutHead::load(&path).map(Some)
    } else {
        Ok(None)
    }
}

/// The run's probe, if it has one.
pub fn load_probe(run: &RunDir) -> Result<Option<StateProbe>, AgentError> {
    let path = run.file(PROBE_FILE);
    if path.exists() {
        StateProbe::load(&path).map(Some)
    } else {
        Ok(None)
    }
}
