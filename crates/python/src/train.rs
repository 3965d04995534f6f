//! Configuration, data generation and training from numpy arrays: the `ami data` and
//! `ami train` paths with arrays in place of the dataset file.

use std::path::PathBuf;

use ami_agent::pipeline::{
    dataset_from_arrays, fit, generate_data as generate, FitOptions, Preset, RunConfig, RunDir,
    Silent, TrainedRun, TrajectoryArrays,
};
use ami_agent::AgentError;
use numpy::{PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;

use crate::arrays::{output, shape_str, Input};
use crate::errors::{bad_arg, guarded};
use crate::run::Run;

/// The run configuration as `ami` builds it: the preset, then the configuration text
/// (TOML, or JSON when `config_is_json`; every section optional), then the `section.key=value`
/// overrides `sets`, validated.
fn config_of(
    preset: &str,
    config: Option<&str>,
    config_is_json: bool,
    sets: &[String],
) -> Result<RunConfig, AgentError> {
    let preset: Preset = preset.parse()?;
    let base = RunConfig::preset(preset);
    let cfg = match config {
        None => base,
        Some(text) if config_is_json => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| AgentError::config_source("config", format!("not a dict: {e}")))?;
            let toml_text = toml::to_string(&value).map_err(|e| {
                AgentError::config_source(
                    "config",
                    format!("cannot be written as TOML ({e}); use only dicts, lists, str, numbers and bools"),
                )
            })?;
            RunConfig::from_toml_str(&toml_text, "config", &base)?
        }
        Some(text) => RunConfig::from_toml_str(text, "config", &base)?,
    };
    let cfg = cfg.with_overrides(sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// The validated configuration (module docs of [`config_of`]) as TOML text.
#[pyfunction]
#[pyo3(signature = (preset, config, config_is_json, sets))]
pub fn build_config(
    preset: &str,
    config: Option<&str>,
    config_is_json: bool,
    sets: Vec<String>,
) -> PyResult<String> {
    guarded("build_config", || {
        config_of(preset, config, config_is_json, &sets)?.to_toml()
    })
}

/// `ami data`: the reward-free dataset of the configuration's `[env]` and `[data]`, as
/// `(observations [T, L+1, *obs_shape], actions [T, L, A], states [T, L+1, S])`.
#[pyfunction]
#[pyo3(signature = (preset, config, config_is_json, sets))]
#[allow(clippy::type_complexity)]
pub fn generate_data<'py>(
    py: Python<'py>,
    preset: &str,
    config: Option<&str>,
    config_is_json: bool,
    sets: Vec<String>,
) -> PyResult<(
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArrayDyn<f32>>,
)> {
    let ds = py.detach(|| {
        guarded("generate_data", || {
            let cfg = config_of(preset, config, config_is_json, &sets)?;
            generate(&cfg, &Silent)
        })
    })?;
    let (n, t) = (ds.n_traj, ds.traj_len);
    let mut obs_shape = vec![n, t + 1];
    obs_shape.extend(&ds.obs_shape);
    Ok((
        output(
            py,
            std::sync::Arc::unwrap_or_clone(ds.observations),
            &obs_shape,
        )?,
        output(py, ds.actions, &[n, t, ds.action_dim])?,
        output(py, ds.states, &[n, t + 1, ds.state_dim])?,
    ))
}

/// `ami train` on arrays: trains a fresh run in `out` (created; a run there is overwritten,
/// and it is locked while training) on `observations [T, L+1, *obs_shape]`,
/// `actions [T, L, A]`, `states [T, L+1, S]` with the configuration of [`config_of`], and
/// returns it loaded.
#[pyfunction]
#[pyo3(signature = (observations, actions, states, out, preset, config, config_is_json, sets))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    observations: PyReadonlyArrayDyn<'py, f32>,
    actions: PyReadonlyArrayDyn<'py, f32>,
    states: PyReadonlyArrayDyn<'py, f32>,
    out: PathBuf,
    preset: &str,
    config: Option<&str>,
    config_is_json: bool,
    sets: Vec<String>,
) -> PyResult<Run> {
    let cfg = guarded("train", || config_of(preset, config, config_is_json, &sets))?;
    let spec = cfg.env.spec();
    let (obs_shape, a, s) = (spec.obs_shape(), spec.action_space().dim, spec.state_dim());
    let obs = Input::of("observations", &observations)?;
    let mut batched = vec![0, 0];
    batched.extend(&obs_shape);
    let expected = shape_str(&batched)
        .replacen('0', "T", 1)
        .replacen('0', "L+1", 1);
    obs.expect_rows("observations", &[2], &obs_shape, &expected)?;
    let (n, t1) = (obs.shape[0], obs.shape[1]);
    if t1 < 2 {
        return Err(bad_arg(
            "observations",
            format!(
                "expected shape {expected} with L >= 1, got {}",
                shape_str(&obs.shape)
            ),
        ));
    }
    let t = t1 - 1;
    for (arg, x, shape) in [
        ("actions", &actions, [n, t, a]),
        ("states", &states, [n, t + 1, s]),
    ] {
        let input = Input::of(arg, x)?;
        if input.shape != shape {
            return Err(bad_arg(
                arg,
                format!(
                    "expected shape {} (T and L from observations, {} from env {}), got {}",
                    shape_str(&shape),
                    if arg == "actions" { "A" } else { "S" },
                    cfg.env.kind(),
                    shape_str(&input.shape)
                ),
            ));
        }
    }
    // The dataset owns its arrays, as one loaded from a file does: one copy here.
    let arrays = TrajectoryArrays {
        observations: obs.data.to_vec(),
        actions: actions.as_slice().map(<[f32]>::to_vec).unwrap_or_default(),
        states: states.as_slice().map(<[f32]>::to_vec).unwrap_or_default(),
        n_traj: n,
        traj_len: t,
    };
    let trained = py.detach(|| {
        guarded("train", || {
            let ds = dataset_from_arrays(&cfg, arrays)?;
            let run = RunDir::create_locked(&out, "ami.train (Python)")?;
            fit(&run, &cfg, &ds, FitOptions::default(), &Silent)?;
            drop(run);
            TrainedRun::open(&out)
        })
    })?;
    Ok(Run::new(trained))
}
