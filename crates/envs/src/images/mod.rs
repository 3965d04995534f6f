//! Procedural image and video data sets with known factors of variation, for
//! self-supervised learning on offline data (`ami data shapes`, `ami data moving-shapes`).
//!
//! * [`shapes`] — one anti-aliased shape per image (`[N, 3, 32, 32]`): class, position,
//!   scale, rotation, hue; plain or noisy background;
//! * [`moving_shapes`] — videos `[N, T, 3, 32, 32]` of one shape moving at constant velocity
//!   and bouncing off the borders; per-frame positions and velocities;
//! * [`draw`] — the shapes and their box-filtered rasterisation.
//!
//! Each generator is one file with a config (`…Config`, validated) and a `generate(n, seed)`
//! returning an [`ImageData`]; [`IMAGE_KINDS`] lists them. Files: `FILE.npz` with `images`
//! (or `videos`) float32 in [0, 1], `labels [N]` (the class; stored as float32 holding whole
//! numbers because `ami-io` writes float arrays — any integer dtype is read back as well) and
//! `factors` float32 (`[N, F]`, or `[N, T, F]` for videos), plus the sidecar `FILE.json`
//! ([`ImageSidecar`]) naming the factors and the classes.

pub mod draw;
pub mod moving_shapes;
pub mod shapes;

use std::path::Path;

use serde::{Deserialize, Serialize};

use ami_io::{write_atomic, write_npz, NpyArray};

use crate::error::EnvError;

pub use draw::Shape;
pub use moving_shapes::MovingShapesConfig;
pub use shapes::ShapesConfig;

/// The image generators, as `ami data KIND` spells them.
pub const IMAGE_KINDS: &[&str] = &["shapes", "moving-shapes"];

/// A generated image or video set, ready to save.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageData {
    /// `images` (`[N, C, H, W]`) or `videos` (`[N, T, C, H, W]`).
    pub array: &'static str,
    /// Shape of the pixel array.
    pub shape: Vec<usize>,
    /// Pixels in [0, 1], C order.
    pub pixels: Vec<f32>,
    /// Class of each sample.
    pub labels: Vec<u32>,
    /// Shape of the factor array (`[N, F]` or `[N, T, F]`).
    pub factor_shape: Vec<usize>,
    /// Factor values, C order.
    pub factors: Vec<f32>,
    /// What the file's sidecar says.
    pub sidecar: ImageSidecar,
}

/// The JSON sidecar `FILE.json` of an image set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSidecar {
    /// Generator (`shapes`, `moving-shapes`, `digits`).
    pub kind: String,
    /// Seed of the generator.
    pub seed: u64,
    /// Names of the factors, in the order of the last axis of `factors`.
    pub factors: Vec<String>,
    /// Names of the classes, in label order.
    pub classes: Vec<String>,
    /// The generator's settings.
    pub config: serde_json::Value,
}

impl ImageData {
    /// Writes `path` (`.npz`) and its sidecar (same stem, `.json`), each atomically.
    pub fn save(&self, path: &Path) -> Result<(), EnvError> {
        let pixels = NpyArray {
            shape: self.shape.clone(),
            data: self.pixels.clone(),
        };
        let labels = NpyArray {
            shape: vec![self.labels.len()],
            data: self.labels.iter().map(|&l| l as f32).collect(),
        };
        let factors = NpyArray {
            shape: self.factor_shape.clone(),
            data: self.factors.clone(),
        };
        write_npz(
            path,
            &[
                (self.array, &pixels),
                ("labels", &labels),
                ("factors", &factors),
            ],
        )?;
        let json = serde_json::to_vec_pretty(&self.sidecar)
            .map_err(|e| EnvError::bad(path, e.to_string()))?;
        Ok(write_atomic(&path.with_extension("json"), &json)?)
    }
}

/// Checks `n ≥ 1` (the number of samples asked for).
pub(crate) fn check_count(n: usize) -> Result<(), EnvError> {
    if n == 0 {
        return Err(EnvError::config("n", 0, "at least 1 sample"));
    }
    Ok(())
}
