//! `Dataset` on disk: `FILE.npz` with `observations [N, T+1, *obs_shape]`, `actions [N, T, A]`,
//! `states [N, T+1, S]` (float32; true states, positions in two-rooms) and a JSON sidecar
//! `FILE.json` (same stem) with `{ "env": KIND, "env_config": { "kind": KIND, ... },
//! "data_config", "n_traj", "traj_len", "obs_shape" }`. `A` and `S` come from the environment.
//!
//! Loading checks, in order: the sidecar exists and parses; its configs validate; the arrays it
//! declares fit in the available memory ([`crate::dataset_memory`]); the archive is a readable
//! ZIP of `.npy` arrays with supported dtypes; each required array is present
//! with the shape the sidecar implies; every value is finite. Each error names the file and
//! the array or field at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ami_io::{parse_npz, write_atomic, write_npz, NpyArray};

use crate::data::{DataConfig, Dataset};
use crate::dataset_memory;
use crate::error::EnvError;
use crate::registry::EnvConfig;

/// The JSON sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Environment name.
    pub env: String,
    /// Environment settings.
    pub env_config: EnvConfig,
    /// Generator settings.
    pub data_config: DataConfig,
    /// Number of trajectories.
    pub n_traj: usize,
    /// Actions per trajectory.
    pub traj_len: usize,
    /// Shape of one observation.
    pub obs_shape: Vec<usize>,
}

/// `data.npz` → `data.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

impl Dataset {
    /// Writes the `.npz` and its sidecar (each atomically).
    pub fn save(&self, path: &Path) -> Result<(), EnvError> {
        let (n, t) = (self.n_traj, self.traj_len);
        let mut obs_shape = vec![n, t + 1];
        obs_shape.extend(&self.obs_shape);
        let obs = NpyArray {
            shape: obs_shape,
            data: self.observations.to_vec(),
        };
        let act = NpyArray {
            shape: vec![n, t, self.action_dim],
            data: self.actions.clone(),
        };
        let states = NpyArray {
            shape: vec![n, t + 1, self.state_dim],
            data: self.states.clone(),
        };
        write_npz(
            path,
            &[
                ("observations", &obs),
                ("actions", &act),
                ("states", &states),
            ],
        )?;
        let side = Sidecar {
            env: self.env_config.kind().into(),
            env_config: self.env_config.clone(),
            data_config: self.data_config.clone(),
            n_traj: n,
            traj_len: t,
            obs_shape: self.obs_shape.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&side).map_err(|e| EnvError::bad(path, e.to_string()))?;
        Ok(write_atomic(&sidecar_path(path), &json)?)
    }

    /// Reads and validates a dataset (module docs list the checks; [`Dataset::from_bytes`]
    /// states the bounds).
    pub fn load(path: &Path) -> Result<Dataset, EnvError> {
        let side = read_sidecar(path)?;
        check_memory(path, &side)?;
        let npz = std::fs::read(path).map_err(ami_io::IoError::io(path))?;
        let arrays = parse_npz(&npz, path)?;
        drop(npz);
        Self::assemble(path, arrays, side)
    }

    /// Validates a dataset from the bytes of its `.npz` and of its sidecar; errors name `path`
    /// (or its sidecar) and the array or field at fault.
    ///
    /// Bounds: the archive is read by [`parse_npz`] (at most 2200 × its size + 64 KiB
    /// allocated, zip bombs and overlapping entries refused before inflating); a sidecar longer
    /// than [`MAX_SIDECAR_BYTES`] is refused before parsing, and parsing it allocates at most
    /// 16 × its length + 64 KiB.
    pub fn from_bytes(path: &Path, npz: &[u8], sidecar: &[u8]) -> Result<Dataset, EnvError> {
        let arrays = parse_npz(npz, path)?;
        let side = parse_sidecar(sidecar, &sidecar_path(path))?;
        Self::assemble(path, arrays, side)
    }

    /// Checks the arrays against the sidecar and builds the dataset.
    fn assemble(
        path: &Path,
        mut arrays: BTreeMap<String, NpyArray>,
        side: Sidecar,
    ) -> Result<Dataset, EnvError> {
        let mut take = |name: &str| {
            arrays
                .remove(name)
                .ok_or_else(|| EnvError::bad(path, format!("missing array `{name}`")))
        };
        let (obs, act, states) = (take("observations")?, take("actions")?, take("states")?);
        let (n, t) = (side.n_traj, side.traj_len);
        let spec = side.env_config.spec();
        let (a_dim, s_dim) = (spec.action_space().dim, spec.state_dim());
        let mut obs_expected = vec![n, t + 1];
        obs_expected.extend(&side.obs_shape);
        for (name, a, expected) in [
            ("observations", &obs, obs_expected),
            ("actions", &act, vec![n, t, a_dim]),
            ("states", &states, vec![n, t + 1, s_dim]),
        ] {
            if a.shape != expected {
                return Err(EnvError::bad(
                    path,
                    format!(
                        "array `{name}` has shape {:?}, expected {expected:?}",
                        a.shape
                    ),
                ));
            }
            if let Some(i) = a.data.iter().position(|v| !v.is_finite()) {
                return Err(EnvError::bad(
                    path,
                    format!("array `{name}` has a non-finite value at flat index {i}"),
                ));
            }
        }
        Ok(Dataset {
            observations: obs.data.into(),
            actions: act.data,
            states: states.data,
            n_traj: n,
            traj_len: t,
            obs_shape: side.obs_shape,
            action_dim: a_dim,
            state_dim: s_dim,
            env_config: side.env_config,
            data_config: side.data_config,
        })
    }
}

/// Refuses the dataset before reading its arrays when the sizes its sidecar declares would not
/// fit in the available memory ([`crate::dataset_memory`]).
fn check_memory(path: &Path, side: &Sidecar) -> Result<(), EnvError> {
    let spec = side.env_config.spec();
    let obs = side
        .obs_shape
        .iter()
        .fold(1u64, |p, &d| p.saturating_mul(d as u64));
    let counts = dataset_memory::array_elements(
        side.n_traj as u64,
        side.traj_len as u64,
        [obs, spec.action_space().dim as u64, spec.state_dim() as u64],
    );
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    dataset_memory::check_fits(
        path,
        dataset_memory::bytes_needed(file_len, &counts),
        dataset_memory::available_memory(),
    )
}

/// Reads and validates the JSON sidecar of `path`.
fn read_sidecar(path: &Path) -> Result<Sidecar, EnvError> {
    let side_path = sidecar_path(path);
    let cannot = |e: String| {
        EnvError::bad(
            &side_path,
            format!("cannot read the JSON sidecar of {} ({e})", path.display()),
        )
    };
    let len = std::fs::metadata(&side_path)
        .map_err(|e| cannot(e.to_string()))?
        .len();
    if len > MAX_SIDECAR_BYTES as u64 {
        return Err(cannot(format!(
            "{len} bytes, more than the {MAX_SIDECAR_BYTES} allowed"
        )));
    }
    let bytes = std::fs::read(&side_path).map_err(|e| cannot(e.to_string()))?;
    parse_sidecar(&bytes, &side_path)
}

/// The largest sidecar read (1 MiB; a real one is under 2 KiB).
pub const MAX_SIDECAR_BYTES: usize = 1 << 20;

/// Parses and validates sidecar bytes (`side_path` names them in errors).
fn parse_sidecar(bytes: &[u8], side_path: &Path) -> Result<Sidecar, EnvError> {
    if bytes.len() > MAX_SIDECAR_BYTES {
        return Err(EnvError::bad(
            side_path,
            format!(
                "{} bytes, more than the {MAX_SIDECAR_BYTES} allowed",
                bytes.len()
            ),
        ));
    }
    let side: Sidecar = serde_json::from_slice(bytes)
        .map_err(|e| EnvError::bad(side_path, format!("invalid sidecar: {e}")))?;
    if side.env != side.env_config.kind() {
        return Err(EnvError::bad(
            side_path,
            format!(
                "`env` is \"{}\", but `env_config.kind` is \"{}\"",
                side.env,
                side.env_config.kind()
            ),
        ));
    }
    if side.traj_len == usize::MAX {
        return Err(EnvError::bad(side_path, "`traj_len` is out of range"));
    }
    let (gen_n, gen_t) = (
        side.data_config.trajectory_count(),
        side.data_config.traj_len,
    );
    if (gen_n, gen_t) != (side.n_traj, side.traj_len) {
        return Err(EnvError::bad(
            side_path,
            format!(
                "`n_traj` {} and `traj_len` {} disagree with `data_config` ({gen_n} \
                 trajectories of {gen_t} actions)",
                side.n_traj, side.traj_len
            ),
        ));
    }
    let invalid = |e: EnvError| EnvError::bad(side_path, e.to_string());
    let spec = side.env_config.spec();
    spec.validate().map_err(invalid)?;
    side.data_config.validate().map_err(invalid)?;
    if side.obs_shape != spec.obs_shape() {
        return Err(EnvError::bad(
            side_path,
            format!(
                "`obs_shape` is {:?}, but env_config implies {:?}",
                side.obs_shape,
                spec.obs_shape()
            ),
        ));
    }
    Ok(side)
}
