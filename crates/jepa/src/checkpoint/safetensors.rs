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

use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

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

/// `(name, shape, values)` of every float parameter of `module` under its dotted field path
/// (`prefix.` + the path burn's `ModuleVisitor` walks, e.g. `vit.blocks.layers.0.mlp.linear_inner.weight`),
/// in burn's own layout (a `Linear` weight is `[in, out]`, the transpose of `nn.Linear`'s):
/// for modules without a hand-written PyTorch mapping such as [`crate::vit::Vit`].
pub fn module_tensors<M: burn::module::Module>(
    prefix: &str,
    module: &M,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    struct Named {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>, Vec<f32>)>,
    }
    impl burn::module::ModuleVisitor for Named {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let values = t.into_data().try_to_vec::<f32>().unwrap_or_default();
            self.out.push((self.path.join("."), shape, values));
        }
    }
    let mut v = Named {
        path: vec![prefix.to_string()],
        out: vec![],
    };
    module.visit(&mut v);
    v.out
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

/// Parses a safetensors file of f32 tensors into `name -> (shape, values)`
/// ([`parse_safetensors`] of the file's bytes).
pub fn read_safetensors(path: &Path) -> Result<TensorMap, JepaError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    parse_safetensors(&bytes, path)
}

/// One header entry: `{"dtype", "shape", "data_offsets"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// The header's tensors in file order, duplicates kept (so they can be refused) and
/// `__metadata__` skipped without allocating.
struct HeaderEntries(Vec<(String, TensorInfo)>);

impl<'de> Deserialize<'de> for HeaderEntries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = HeaderEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of tensors")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HeaderEntries, M::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "__metadata__" {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    let info = map
                        .next_value::<TensorInfo>()
                        .map_err(|e| M::Error::custom(format!("tensor `{name}`: {e}")))?;
                    out.push((name, info));
                }
                Ok(HeaderEntries(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// Parses safetensors bytes of f32 tensors into `name -> (shape, values)`; errors name `path`
/// and the tensor at fault.
///
/// Checked before any value is allocated: the 8-byte header length lies inside the file, the
/// header is a JSON object of `{dtype: "F32", shape, data_offsets}` entries with no repeated
/// name, each shape's element count does not overflow and matches its byte range, and the
/// ranges lie inside the data and do not overlap. Every value must be finite (a checkpoint
/// never holds NaN or infinite weights).
///
/// Allocation bound: the values take at most the data bytes present (disjoint ranges); the
/// header's names, shapes and entries at most 16 × its length; in all at most 17 × `bytes.len()`
/// + 64 KiB.
pub fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<TensorMap, JepaError> {
    let bad = |msg: String| JepaError::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(bad("shorter than the 8-byte header length".into()));
    };
    let n = u64::from_le_bytes(*len);
    let Some(header) = usize::try_from(n).ok().and_then(|n| rest.get(..n)) else {
        return Err(bad(format!(
            "header length {n} is beyond the end of the file ({} bytes)",
            bytes.len()
        )));
    };
    let body = &rest[header.len()..];
    let HeaderEntries(entries) = serde_json::from_slice(header)
        .map_err(|e| bad(format!("header is not a JSON object of tensors: {e}")))?;
    let mut names: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!(
            "tensor `{}` appears twice in the header",
            w[0]
        )));
    }
    let mut ranges = Vec::with_capacity(entries.len());
    for (name, info) in &entries {
        let at = |m: String| bad(format!("tensor `{name}`: {m}"));
        if info.dtype != "F32" {
            return Err(at(format!(
                "dtype {:?} is not supported (only F32)",
                info.dtype
            )));
        }
        let [start, end] = info.data_offsets;
        if start > end || end > body.len() {
            return Err(at(format!(
                "data_offsets [{start}, {end}] are outside the {} data bytes",
                body.len()
            )));
        }
        let need = info
            .shape
            .iter()
            .try_fold(4usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| at(format!("shape {:?} overflows", info.shape)))?;
        if need != end - start {
            return Err(at(format!(
                "shape {:?} needs {need} bytes, data_offsets give {}",
                info.shape,
                end - start
            )));
        }
        ranges.push((start, end, name.as_str()));
    }
    ranges.sort_unstable();
    if let Some(w) = ranges.windows(2).find(|w| w[1].0 < w[0].1) {
        return Err(bad(format!(
            "tensors `{}` and `{}` overlap in the data",
            w[0].2, w[1].2
        )));
    }
    let mut out = BTreeMap::new();
    for (name, info) in entries {
        let [start, end] = info.data_offsets;
        let values: Vec<f32> = body[start..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor `{name}`: non-finite value at flat index {i}"
            )));
        }
        out.insert(name, (info.shape, values));
    }
    Ok(out)
}
