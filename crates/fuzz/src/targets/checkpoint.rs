//! `checkpoint.json`: `ami_jepa::checkpoint::parse_meta` (bound: 16 × the input + 64 KiB, as
//! documented).

use std::path::Path;

use ami_jepa::checkpoint::{parse_meta, CheckpointMeta};
use ami_jepa::model::JepaConfig;
use ami_jepa::GuardState;

use crate::bytes;
use crate::rng::Rng;
use crate::tree::mutate_json;
use crate::Target;

/// The checkpoint-JSON target.
pub struct Checkpoint;

/// Replaces a random byte range of `b` with `depth` opening brackets (deep nesting).
pub fn nest(rng: &mut Rng, b: &mut Vec<u8>) {
    let at = rng.below(b.len() + 1);
    let depth = *rng.pick(&[100usize, 127, 128, 129, 1000, 100_000]);
    let open = if rng.one_in(2) { b'[' } else { b'{' };
    b.splice(at..at, std::iter::repeat_n(open, depth));
}

impl Target for Checkpoint {
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn file_name(&self) -> &'static str {
        "checkpoint.json"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let meta = |step, model, rollbacks| CheckpointMeta {
            step,
            model,
            objective: Default::default(),
            train: Default::default(),
            guard: GuardState {
                lr_scale: 0.5f64.powi(rollbacks as i32),
                rollbacks,
                collapse_streak: rollbacks,
                first_loss: (rollbacks > 0).then_some(1.25),
            },
        };
        let conv = JepaConfig {
            obs_shape: vec![3, 16, 16],
            obs_dim: 768,
            ..JepaConfig::default()
        };
        [meta(0, JepaConfig::default(), 0), meta(1234, conv, 2)]
            .iter()
            .map(|m| serde_json::to_vec_pretty(m).expect("valid seed"))
            .collect()
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        if rng.one_in(20) {
            nest(rng, input);
        } else if let Some(out) = mutate_json(rng, input) {
            *input = out;
        } else {
            bytes::mutate(rng, input);
        }
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        parse_meta(bytes, path).map(drop).map_err(|e| e.to_string())
    }

    fn bound(&self, len: usize) -> usize {
        16 * len + 65536
    }
}
