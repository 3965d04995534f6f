//! The `model.safetensors` file of a checkpoint: the weights in PyTorch layout, for other tools.
//!
//! Names `encoder.layers.{i}.weight` `[out, in]`, `encoder.layers.{i}.bias` `[out]` (the
//! `nn.Linear` layout), likewise for `predictor`, `idm` and, for a latent model, the prior head
//! `prior` (the predictor's first weight then has `D + A + k` input columns: `[s, a, z]`), and
//! for a model with an auxiliary readout head (`readout_dim > 0`) `readout` (`D → r`,
//! predicting standardised features; mean/std are in `checkpoint.json`); for
//! the conv encoder also
//! `encoder_conv.layers.{i}.weight` `[C_out, C_in, 3, 3]` and `encoder_conv.layers.{i}.bias`
//! `[C_out]` (the `nn.Conv2d` layout); f32 little-endian.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::{io_err, write_atomic};
use crate::conv::ConvStack;
use crate::error::JepaError;
use crate::mlp::Mlp;
use crate::model::Jepa;

/// Writes the weights in the safetensors format (PyTorch `nn.Linear` layout, see module docs),
/// atomically.
pub fn save_safetensors(model: &Jepa, path: &Path) -> Result<(), JepaError> {
    write_atomic(path, &model_safetensors(model))
}

/// The safetensors bytes of the model's weights (see module docs).
pub fn model_safetensors(model: &Jepa) -> Vec<u8> {
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
    if let Some(prior) = &model.prior {
        tensors.extend(mlp_tensors("prior", prior));
    }
    if let Some(readout) = &model.readout {
        tensors.extend(mlp_tensors("readout", readout));
    }
    safetensors_bytes(&tensors)
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
