//! A dataset `.npz` with its JSON sidecar: `ami_envs::Dataset::from_bytes`, the checks of
//! `Dataset::load` (bound: 2200 × the input + 256 KiB, the archive's bound plus the
//! sidecar's).
//!
//! An input is one container: a little-endian u32 sidecar length, the sidecar JSON, then the
//! `.npz` bytes.

use std::path::Path;

use ami_envs::{generate, DataConfig, Dataset, EnvConfig};
use ami_io::{npz_bytes, parse_npz};

use super::checkpoint::nest;
use super::npz::Npz;
use crate::rng::Rng;
use crate::tree::mutate_json;
use crate::Target;

/// The dataset target.
pub struct DatasetTarget {
    npz: Npz,
}

impl DatasetTarget {
    /// The target.
    pub fn new() -> Self {
        DatasetTarget { npz: Npz::new() }
    }
}

impl Default for DatasetTarget {
    fn default() -> Self {
        DatasetTarget::new()
    }
}

/// `(sidecar, npz)` of a container (a length past the end takes everything).
pub fn split(b: &[u8]) -> (&[u8], &[u8]) {
    let Some(n) = b
        .get(..4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    else {
        return (&[], b);
    };
    let rest = &b[4..];
    rest.split_at(n.min(rest.len()))
}

/// The container of a sidecar and an archive.
pub fn join(sidecar: &[u8], npz: &[u8]) -> Vec<u8> {
    let mut out = (sidecar.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(sidecar);
    out.extend_from_slice(npz);
    out
}

/// The container of `ds` as `Dataset::save` writes it.
pub fn container(ds: &Dataset) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("ami-fuzz-seed-{}", std::process::id()));
    let path = dir.join("seed.npz");
    let saved = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| ds.save(&path).map_err(|e| e.to_string()));
    saved.expect("seed dataset saved");
    let npz = std::fs::read(&path).expect("seed read back");
    let side = std::fs::read(path.with_extension("json")).expect("seed read back");
    let _ = std::fs::remove_dir_all(&dir);
    join(&side, &npz)
}

/// Sets one value of one array to NaN or infinity (archive rebuilt with correct CRCs).
fn poison(rng: &mut Rng, npz: &[u8]) -> Option<Vec<u8>> {
    let mut arrays = parse_npz(npz, Path::new("x.npz")).ok()?;
    let keys: Vec<String> = arrays.keys().cloned().collect();
    if keys.is_empty() {
        return None;
    }
    let a = arrays.get_mut(rng.pick(&keys))?;
    let i = rng.below(a.data.len());
    *a.data.get_mut(i)? = *rng.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
    let named: Vec<(&str, &ami_io::NpyArray)> =
        arrays.iter().map(|(k, v)| (k.as_str(), v)).collect();
    npz_bytes(&named).ok()
}

impl Target for DatasetTarget {
    fn name(&self) -> &'static str {
        "dataset"
    }

    fn file_name(&self) -> &'static str {
        "fuzz.npz"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let cfg = DataConfig {
            trajectories: 2,
            traj_len: 3,
            ..DataConfig::default()
        };
        ["two-rooms", "pendulum"]
            .iter()
            .filter_map(|k| EnvConfig::of_kind(k).ok())
            .map(|env| container(&generate(&env, &cfg, &mut |_| {}).expect("seed dataset")))
            .collect()
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        let (side, npz) = split(input);
        let (mut side, mut npz) = (side.to_vec(), npz.to_vec());
        match rng.below(6) {
            0 | 1 => match mutate_json(rng, &side) {
                Some(s) => side = s,
                None => nest(rng, &mut side),
            },
            2 | 3 => self.npz.mutate(rng, &mut npz),
            4 => npz = poison(rng, &npz).unwrap_or(npz),
            _ => nest(rng, &mut side),
        }
        *input = join(&side, &npz);
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        let (side, npz) = split(bytes);
        Dataset::from_bytes(path, npz, side)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn bound(&self, len: usize) -> usize {
        2200 * len + (256 << 10)
    }
}
