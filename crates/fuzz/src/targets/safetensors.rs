//! safetensors weights: `ami_jepa::checkpoint::parse_safetensors` (bound: 17 × the input +
//! 64 KiB, as documented).

use std::path::Path;

use ami_jepa::checkpoint::{parse_safetensors, safetensors_bytes};
use serde_json::Value;

use crate::bytes::{put_le, INTERESTING};
use crate::rng::Rng;
use crate::tree::mutate_json;
use crate::Target;

/// The safetensors target.
pub struct Safetensors;

/// `(header JSON, data)` of a safetensors file, if its length prefix fits.
fn split(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = usize::try_from(u64::from_le_bytes(b.get(..8)?.try_into().ok()?)).ok()?;
    let header = b.get(8..8usize.checked_add(n)?)?;
    Some((header, &b[8 + n..]))
}

fn join(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

/// Sets a field of one tensor entry: a shape dimension, an offset, or the dtype.
fn edit_tensor(rng: &mut Rng, header: &[u8]) -> Option<Vec<u8>> {
    let mut doc: Value = serde_json::from_slice(header).ok()?;
    let map = doc.as_object_mut()?;
    let names: Vec<String> = map
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    if names.is_empty() {
        return None;
    }
    let info = map.get_mut(rng.pick(&names))?;
    let big = *rng.pick(&INTERESTING);
    match rng.below(4) {
        0 => {
            let dims = info.get_mut("shape")?.as_array_mut()?;
            match dims.is_empty() || rng.one_in(4) {
                true => dims.push(Value::from(big)),
                false => {
                    let i = rng.below(dims.len());
                    dims[i] = Value::from(big);
                }
            }
        }
        1 => {
            let offs = info.get_mut("data_offsets")?.as_array_mut()?;
            let i = rng.below(offs.len().max(1));
            if let Some(o) = offs.get_mut(i) {
                *o = Value::from(if rng.one_in(2) {
                    big
                } else {
                    rng.below(64) as u64
                });
            }
        }
        2 => {
            let d = *rng.pick(&["F64", "F16", "BF16", "I64", "U8", "f32", ""]);
            *info.get_mut("dtype")? = Value::from(d);
        }
        _ => {
            let offs = info.get_mut("data_offsets")?.as_array_mut()?;
            if offs.len() >= 2 {
                offs.swap(0, 1);
            }
        }
    }
    serde_json::to_vec(&doc).ok()
}

impl Target for Safetensors {
    fn name(&self) -> &'static str {
        "safetensors"
    }

    fn file_name(&self) -> &'static str {
        "fuzz.safetensors"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let t = |n: &str, shape: Vec<usize>| {
            let k: usize = shape.iter().product();
            (
                n.to_string(),
                shape,
                (0..k).map(|i| i as f32 * 0.5).collect(),
            )
        };
        vec![
            safetensors_bytes(&[
                t("encoder.layers.0.weight", vec![3, 2]),
                t("encoder.layers.0.bias", vec![3]),
                t("predictor.layers.0.weight", vec![2, 5]),
            ]),
            safetensors_bytes(&[t("scalar", vec![]), t("empty", vec![0, 4])]),
            safetensors_bytes(&[]),
        ]
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        if split(input).is_none() {
            let v = rng.below(input.len() + 8) as u64;
            put_le(input, 0, 8, v);
            return;
        }
        let Some((header, data)) = split(input) else {
            return;
        };
        let edited = match rng.below(5) {
            0 => {
                let mut out = input.clone();
                let v = match rng.one_in(2) {
                    true => *rng.pick(&INTERESTING),
                    false => (header.len() + rng.below(16)).saturating_sub(8) as u64,
                };
                put_le(&mut out, 0, 8, v);
                Some(out)
            }
            1 => mutate_json(rng, header).map(|h| join(&h, data)),
            2 | 3 => edit_tensor(rng, header).map(|h| join(&h, data)),
            _ => {
                let mut data = data.to_vec();
                if data.len() >= 4 {
                    let at = 4 * rng.below(data.len() / 4);
                    let v = *rng.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
                    put_le(&mut data, at, 4, u64::from(v.to_bits()));
                }
                Some(join(header, &data))
            }
        };
        if let Some(e) = edited {
            *input = e;
        }
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        parse_safetensors(bytes, path)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn bound(&self, len: usize) -> usize {
        17 * len + 65536
    }
}
