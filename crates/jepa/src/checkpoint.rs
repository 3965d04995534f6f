//! Checkpoints: one directory whose four files are replaced together, atomically as a set
//! ([`set`]: a version directory per save and a `current` link swapped by one rename), and are
//! readable at fixed paths:
//!
//! * `<dir>/model.safetensors` — weights for other tools, in PyTorch layout ([`safetensors`]);
//! * `<dir>/model.bpk`, `<dir>/optimizer.bpk` — burn's own records of the parameters and the
//!   AdamW state, used by [`load_trainer`] so that training resumes exactly;
//! * `<dir>/checkpoint.json` — `{ step, model, objective, train, guard }` (`guard`: the
//!   divergence guard's state, [`GuardState`]; absent in checkpoints written before it, read
//!   as the initial state).
//!
//! A process killed at any instant of [`save_trainer`] leaves either the complete previous
//! checkpoint or the complete new one. Non-finite weights are never written: the save fails
//! first with [`JepaError::NonFinite`].

mod optimizer_record;
mod safetensors;
pub mod set;
#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use self::optimizer_record::optimizer_bytes;
pub use self::safetensors::{
    conv_tensors, mlp_tensors, model_safetensors, module_tensors, parse_safetensors,
    read_safetensors, safetensors_bytes, save_safetensors, TensorMap,
};
use self::set::{commit, resolve, Failpoint};
use crate::error::JepaError;
use crate::guard::GuardState;
use crate::model::{Jepa, JepaConfig};
use crate::objective::ObjectiveConfig;
use crate::train::{new_optimizer, TrainConfig, Trainer};

/// The JSON part of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// Optimiser steps taken.
    pub step: usize,
    /// Architecture.
    pub model: JepaConfig,
    /// Loss weights.
    pub objective: ObjectiveConfig,
    /// Optimisation settings.
    pub train: TrainConfig,
    /// The divergence guard's state (learning-rate scale, rollbacks, collapse streak).
    #[serde(default)]
    pub guard: GuardState,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JepaError + '_ {
    move |source| JepaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically ([`ami_io::write_atomic`]: a temporary file in the same
/// directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JepaError> {
    Ok(ami_io::write_atomic(path, bytes)?)
}

/// Saves the trainer's full state into `dir` (created if missing), replacing the previous
/// checkpoint there as one atomic set (see the module docs).
///
/// Fails with [`JepaError::NonFinite`] before writing anything if a parameter is NaN or
/// infinite ([`Trainer::check_finite`]).
pub fn save_trainer(trainer: &Trainer, dir: &Path) -> Result<(), JepaError> {
    save_trainer_with(trainer, dir, &mut Failpoint::never())
}

/// [`save_trainer`], stopped early by `fp` in tests.
pub(crate) fn save_trainer_with(
    trainer: &Trainer,
    dir: &Path,
    fp: &mut Failpoint,
) -> Result<(), JepaError> {
    trainer.check_finite()?;
    let meta = CheckpointMeta {
        step: trainer.step,
        model: trainer.model_config.clone(),
        objective: trainer.objective.clone(),
        train: trainer.train_config.clone(),
        guard: trainer.guard,
    };
    let ckpt = |msg: String, p: &Path| JepaError::Checkpoint {
        path: p.to_path_buf(),
        msg,
    };
    let mut write = |name: &str, path: &Path| -> Result<(), JepaError> {
        match name {
            "model.bpk" => trainer
                .model()
                .clone()
                .save_file(path)
                .map_err(|e| ckpt(format!("{e:?}"), path)),
            "optimizer.bpk" => {
                let bytes = optimizer_bytes(&trainer.optimizer).map_err(|e| ckpt(e, path))?;
                fs::write(path, bytes).map_err(io_err(path))
            }
            "model.safetensors" => {
                fs::write(path, model_safetensors(trainer.model())).map_err(io_err(path))
            }
            "checkpoint.json" => {
                let json =
                    serde_json::to_vec_pretty(&meta).map_err(|e| ckpt(e.to_string(), path))?;
                fs::write(path, json).map_err(io_err(path))
            }
            other => Err(ckpt(format!("unknown checkpoint file {other}"), path)),
        }
    };
    commit(dir, trainer.step, &mut write, fp)
}

/// Reads `checkpoint.json` of the checkpoint in `dir`.
pub fn load_meta(dir: &Path) -> Result<CheckpointMeta, JepaError> {
    read_meta(&resolve(dir)?)
}

fn read_meta(files: &Path) -> Result<CheckpointMeta, JepaError> {
    let path = files.join("checkpoint.json");
    let len = fs::metadata(&path).map_err(io_err(&path))?.len();
    if len > MAX_META_BYTES as u64 {
        return Err(JepaError::Checkpoint {
            path,
            msg: format!("checkpoint.json is {len} bytes, more than the {MAX_META_BYTES} allowed"),
        });
    }
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    parse_meta(&bytes, &path)
}

/// The largest `checkpoint.json` read (1 MiB; a real one is a few KiB).
pub const MAX_META_BYTES: usize = 1 << 20;

/// Parses the bytes of a `checkpoint.json`; errors name `path` and the field at fault.
///
/// Checked: at most [`MAX_META_BYTES`] bytes, UTF-8 JSON nested at most 128 deep (serde_json's
/// limit), exactly the fields of [`CheckpointMeta`] with their types, and the model, objective
/// and training settings pass their `validate`. Allocation bound: at most 16 × `bytes.len()`
/// + 64 KiB (the parsed strings and lists, and the error message).
pub fn parse_meta(bytes: &[u8], path: &Path) -> Result<CheckpointMeta, JepaError> {
    let bad = |msg: String| JepaError::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    if bytes.len() > MAX_META_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_META_BYTES} allowed",
            bytes.len()
        )));
    }
    let meta: CheckpointMeta =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid checkpoint.json: {e}")))?;
    let invalid = |e: JepaError| bad(format!("invalid checkpoint.json: {e}"));
    meta.model.validate().map_err(invalid)?;
    meta.objective.validate().map_err(invalid)?;
    meta.train.validate().map_err(invalid)?;
    Ok(meta)
}

/// Restores a trainer (model, AdamW state, step, guard state) so that training continues exactly.
pub fn load_trainer(dir: &Path, device: &Device) -> Result<Trainer, JepaError> {
    let files = resolve(dir)?;
    let meta = read_meta(&files)?;
    let device = device.clone().autodiff();
    let model = load_model_on(&files, &meta.model, &device)?;
    let opt_path = files.join("optimizer.bpk");
    let optimizer =
        new_optimizer(&meta.train)
            .load(&opt_path)
            .map_err(|e| JepaError::Checkpoint {
                path: opt_path,
                msg: format!("{e:?}"),
            })?;
    Ok(Trainer::from_parts(
        model,
        optimizer,
        meta.step,
        (meta.model, meta.objective, meta.train),
        meta.guard,
        device,
    ))
}

/// Loads the model of a checkpoint for inference on `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Jepa, CheckpointMeta), JepaError> {
    let files = resolve(dir)?;
    let meta = read_meta(&files)?;
    let model = load_model_on(&files, &meta.model, device)?;
    Ok((model, meta))
}

fn load_model_on(files: &Path, cfg: &JepaConfig, device: &Device) -> Result<Jepa, JepaError> {
    let path: PathBuf = files.join("model.bpk");
    if !path.exists() {
        return Err(JepaError::Checkpoint {
            path,
            msg: "file not found".into(),
        });
    }
    cfg.init(device)?
        .try_load_file(&path)
        .map_err(|e| JepaError::Checkpoint {
            path,
            msg: format!("{e:?}"),
        })
}
