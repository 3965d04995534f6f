//! A [`PdeDataset`] on disk: `FILE.npz` with `u [N, T, X]` (float32), the coefficient
//! `nu` or `delta` `[N]`, the grid `x [X]` and the frame times `t [T]` (t = 0 at the first
//! saved frame, after the warm-up), and a JSON sidecar `FILE.json` (same stem, as the
//! environment data sets of `ami data`) with `{ "equation", "config", "seed", "n_traj",
//! "frames", "grid", "coefficient" }`. Both are written atomically (temporary file, rename).
//!
//! Loading checks that the sidecar parses and validates, that each array is present with the
//! shape the sidecar implies and that every value is finite; errors name the file and array.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ami_io::{read_npz, write_atomic, write_npz, NpyArray};

use crate::config::PdeConfig;
use crate::dataset::PdeDataset;
use crate::error::PdeError;
use crate::spectral::Spectral;

/// The JSON sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Equation name.
    pub equation: String,
    /// All settings.
    pub config: PdeConfig,
    /// Seed of the generator.
    pub seed: u64,
    /// Number of trajectories `N`.
    pub n_traj: usize,
    /// Frames per trajectory `T`.
    pub frames: usize,
    /// Grid points `X`.
    pub grid: usize,
    /// Name of the coefficient array (`nu` or `delta`).
    pub coefficient: String,
}

/// `data.npz` → `data.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

fn bad(path: &Path, msg: impl Into<String>) -> PdeError {
    PdeError::BadFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

impl PdeDataset {
    /// Writes the `.npz` and its sidecar.
    pub fn save(&self, path: &Path) -> Result<(), PdeError> {
        let cfg = &self.config;
        let (n, t, x) = (self.n_traj, cfg.frames, cfg.grid);
        let spec = Spectral::new(cfg.length, cfg.grid)?;
        let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
        let u = NpyArray {
            shape: vec![n, t, x],
            data: self.u.clone(),
        };
        let coef = NpyArray {
            shape: vec![n],
            data: f32s(self.coef.clone()),
        };
        let xs = NpyArray {
            shape: vec![x],
            data: f32s(spec.points()),
        };
        let frame_dt = cfg.schedule().frame_dt();
        let ts = NpyArray {
            shape: vec![t],
            data: f32s((0..t).map(|k| k as f64 * frame_dt).collect()),
        };
        let name = cfg.equation.coefficient_name();
        write_npz(path, &[("u", &u), (name, &coef), ("x", &xs), ("t", &ts)])?;
        let side = Sidecar {
            equation: cfg.equation.name().into(),
            config: cfg.clone(),
            seed: self.seed,
            n_traj: n,
            frames: t,
            grid: x,
            coefficient: name.into(),
        };
        let json = serde_json::to_vec_pretty(&side).map_err(|e| bad(path, e.to_string()))?;
        Ok(write_atomic(&sidecar_path(path), &json)?)
    }

    /// Reads and validates a data set written by [`PdeDataset::save`].
    pub fn load(path: &Path) -> Result<Self, PdeError> {
        let mut arrays = read_npz(path)?;
        let side_path = sidecar_path(path);
        let text = std::fs::read_to_string(&side_path)
            .map_err(|e| bad(&side_path, format!("cannot read the JSON sidecar ({e})")))?;
        let side: Sidecar = serde_json::from_str(&text)
            .map_err(|e| bad(&side_path, format!("invalid sidecar: {e}")))?;
        let cfg = side.config;
        cfg.validate().map_err(|e| bad(&side_path, e.to_string()))?;
        let name = cfg.equation.coefficient_name();
        if side.equation != cfg.equation.name() || side.coefficient != name {
            return Err(bad(
                &side_path,
                "`equation`/`coefficient` disagree with `config`",
            ));
        }
        if side.frames != cfg.frames || side.grid != cfg.grid {
            return Err(bad(&side_path, "`frames`/`grid` disagree with `config`"));
        }
        let n = side.n_traj;
        let mut take = |key: &str, shape: Vec<usize>| {
            let a = arrays
                .remove(key)
                .ok_or_else(|| bad(path, format!("missing array `{key}`")))?;
            if a.shape != shape {
                return Err(bad(
                    path,
                    format!("array `{key}` has shape {:?}, expected {shape:?}", a.shape),
                ));
            }
            if let Some(i) = a.data.iter().position(|v| !v.is_finite()) {
                return Err(bad(path, format!("array `{key}` is not finite at {i}")));
            }
            Ok(a.data)
        };
        let u = take("u", vec![n, cfg.frames, cfg.grid])?;
        let coef = take(name, vec![n])?;
        Ok(PdeDataset {
            seed: side.seed,
            n_traj: n,
            u,
            coef: coef.into_iter().map(|v| v as f64).collect(),
            config: cfg,
        })
    }
}
