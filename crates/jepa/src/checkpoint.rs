//! Checkpoints, written atomically (temp file + rename) into a directory:
//!
//! * `model.safetensors` — weights for other tools, in PyTorch `nn.Linear` layout: names
//!   `encoder.layers.{i}.weight` `[out, in]`, `encoder.layers.{i}.bias` `[out]`, likewise for
//!   `predictor` and `idm`; for the conv encoder also `encoder_conv.layers.{i}.weight`
//!   `[C_out, C_in, 3, 3]` and `encoder_conv.layers.{i}.bias` `[C_out]` (the `nn.Conv2d`
//!   layout); f32 little-endian.
//! * `model.bpk`, `optimizer.bpk` — burn's own records of the parameters and the AdamW state,
//!   used by [`load_trainer`] so that training resumes exactly.
//! * `checkpoint.json` — `{ step, model, objective, train }`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::conv::ConvStack;
use crate::error::JepaError;
use crate::mlp::Mlp;
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
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JepaError + '_ {
    move |source| JepaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JepaError> {
    let tmp = temp_path(path);
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Saves the trainer's full state into `dir` (created if missing).
pub fn save_trainer(trainer: &Trainer, dir: &Path) -> Result<(), JepaError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ckpt = |msg: String, p: &Path| JepaError::Checkpoint {
        path: p.to_path_buf(),
        msg,
    };
    for (name, result) in [
        ("model.bpk", {
            let p = temp_path(&dir.join("model.bpk"));
            trainer.model().clone().save_file(&p).map(|_| p)
        }),
        ("optimizer.bpk", {
            let p = temp_path(&dir.join("optimizer.bpk"));
            trainer.optimizer.save(&p).map(|_| p)
        }),
    ] {
        let tmp = result.map_err(|e| ckpt(format!("{e:?}"), &dir.join(name)))?;
        fs::rename(&tmp, dir.join(name)).map_err(io_err(&dir.join(name)))?;
    }
    save_safetensors(trainer.model(), &dir.join("model.safetensors"))?;
    let meta = CheckpointMeta {
        step: trainer.step,
        model: trainer.model_config.clone(),
        objective: trainer.objective.clone(),
        train: trainer.train_config.clone(),
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| ckpt(e.to_string(), dir))?;
    write_atomic(&dir.join("checkpoint.json"), &json)
}

/// Reads `checkpoint.json` from `dir`.
pub fn load_meta(dir: &Path) -> Result<CheckpointMeta, JepaError> {
    let path = dir.join("checkpoint.json");
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    serde_json::from_str(&text).map_err(|e| JepaError::Checkpoint {
        path,
        msg: format!("invalid checkpoint.json: {e}"),
    })
}

/// Restores a trainer (model, AdamW state, step) so that training continues exactly.
pub fn load_trainer(dir: &Path, device: &Device) -> Result<Trainer, JepaError> {
    let meta = load_meta(dir)?;
    let device = device.clone().autodiff();
    let model = load_model_on(dir, &meta.model, &device)?;
    let opt_path = dir.join("optimizer.bpk");
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
        device,
    ))
}

/// Loads the model of a checkpoint for inference on `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Jepa, CheckpointMeta), JepaError> {
    let meta = load_meta(dir)?;
    let model = load_model_on(dir, &meta.model, device)?;
    Ok((model, meta))
}

fn load_model_on(dir: &Path, cfg: &JepaConfig, device: &Device) -> Result<Jepa, JepaError> {
    let path = dir.join("model.bpk");
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

/// Writes the weights in the safetensors format (PyTorch `nn.Linear` layout, see module docs).
pub fn save_safetensors(model: &Jepa, path: &Path) -> Result<(), JepaError> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    if let Some(conv) = &model.conv {
        tensors.extend(conv_tensors("encoder_conv", conv));
    }
    for (prefix, mlp) in [
        ("encoder", &model.encoder),
        ("predictor", &model.predictor),
        ("idm", &model.idm),
    ] {
        tensors.extend(mlp_tensors(prefix, mlp));
    }
    write_atomic(path, &safetensors_bytes(&tensors))
}

/// `(name, shape, values)` of every layer, weights transposed to `[out, in]`.
pub fn mlp_tensors(prefix: &str, mlp: &Mlp) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    for (i, layer) in mlp.layers.iter().enumerate() {
        let w = layer.weight.val();
        let [din, dout] = w.dims();
        let wv = w.into_data().try_to_vec::<f32>().unwrap_or_default();
        let mut wt = vec![0f32; din * dout];
        for r in 0..din {
            for c in 0..dout {
                wt[c * din + r] = wv[r * dout + c];
            }
        }
        out.push((format!("{prefix}.layers.{i}.weight"), vec![dout, din], wt));
        if let Some(b) = &layer.bias {
            let bv = b.val().into_data().try_to_vec::<f32>().unwrap_or_default();
            out.push((format!("{prefix}.layers.{i}.bias"), vec![dout], bv));
        }
    }
    out
}

/// `(name, shape, values)` of every conv layer; burn's conv weight layout is already PyTorch's
/// `[C_out, C_in, kH, kW]`.
pub fn conv_tensors(prefix: &str, conv: &ConvStack) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    for (i, layer) in conv.layers.iter().enumerate() {
        let w = layer.weight.val();
        let shape = w.dims().to_vec();
        let wv = w.into_data().try_to_vec::<f32>().unwrap_or_default();
        out.push((format!("{prefix}.layers.{i}.weight"), shape, wv));
        if let Some(b) = &layer.bias {
            let bv = b.val().into_data().try_to_vec::<f32>().unwrap_or_default();
            out.push((
                format!("{prefix}.layers.{i}.bias"),
                b.val().dims().to_vec(),
                bv,
            ));
        }
    }
    out
}

/// Serialises tensors as safetensors: `u64 header length | JSON header | raw data`.
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        let end = offset + data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    header.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + offset);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for (_, _, data) in tensors {
        for v in data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Named tensors: `name -> (shape, values)`.
pub type TensorMap = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Parses a safetensors file of f32 tensors into `name -> (shape, values)`.
pub fn read_safetensors(path: &Path) -> Result<TensorMap, JepaError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    let bad = |msg: &str| JepaError::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.to_string(),
    };
    if bytes.len() < 8 {
        return Err(bad("shorter than the 8-byte header length"));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| bad("header"))?) as usize;
    let body = bytes
        .get(8 + n..)
        .ok_or_else(|| bad("header length beyond end of file"))?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).map_err(|_| bad("header is not a JSON object"))?;
    let mut out = BTreeMap::new();
    for (name, info) in header.into_iter().filter(|(k, _)| k != "__metadata__") {
        if info["dtype"] != "F32" {
            return Err(bad(&format!("tensor {name}: only F32 is supported")));
        }
        let shape: Vec<usize> = serde_json::from_value(info["shape"].clone())
            .map_err(|_| bad(&format!("tensor {name}: bad shape")))?;
        let offs: [usize; 2] = serde_json::from_value(info["data_offsets"].clone())
            .map_err(|_| bad(&format!("tensor {name}: bad data_offsets")))?;
        let raw = body
            .get(offs[0]..offs[1])
            .ok_or_else(|| bad(&format!("tensor {name}: out of range")))?;
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if values.len() != shape.iter().product::<usize>() {
            return Err(bad(&format!("tensor {name}: size does not match shape")));
        }
        out.insert(name, (shape, values));
    }
    Ok(out)
}
