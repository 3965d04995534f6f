//! Observations of the two-rooms task: the state `[x, y]` or a 2-channel image.
//!
//! Image observations are `[2, res, res]`, channel-major (C, H, W), values in `[0, 1]`.
//! Pixel `(i, j)` (row i, column j) has its centre at `((j + ½)·size/res, (i + ½)·size/res)`,
//! so row i runs along y (row 0 is the bottom, `y ≈ 0`). Channel 0 is the agent as a Gaussian
//! blob `exp(−d²/(2σ²))`, `d` the distance from the pixel centre to the agent, σ =
//! `blob_sigma`; channel 1 is 1 where the pixel centre lies in an obstacle, else 0; with
//! hazards, channel 2 is 1 where the pixel centre lies in a hazard, else 0.

use crate::two_rooms::{ObsKind, TwoRoomsConfig};

/// The observation of an agent at `pos` (module docs), for the agent or for a goal.
///
/// # Shapes
/// `[2]` for [`ObsKind::State`]; `[2, res, res]` flattened for [`ObsKind::Image`].
pub fn observe_at(cfg: &TwoRoomsConfig, pos: [f32; 2]) -> Vec<f32> {
    match cfg.obs {
        ObsKind::State => pos.to_vec(),
        ObsKind::Image => {
            let r = cfg.image_res;
            let px = cfg.size / r as f32;
            let channels = cfg.image_channels();
            let mut out = vec![0f32; channels * r * r];
            let obstacles = cfg.obstacles();
            let inv = 1.0 / (2.0 * cfg.blob_sigma * cfg.blob_sigma);
            for i in 0..r {
                for j in 0..r {
                    let c = [(j as f32 + 0.5) * px, (i as f32 + 0.5) * px];
                    let d2 = (c[0] - pos[0]).powi(2) + (c[1] - pos[1]).powi(2);
                    out[i * r + j] = (-d2 * inv).exp();
                    if obstacles.iter().any(|o| o.contains(c)) {
                        out[r * r + i * r + j] = 1.0;
                    }
                    if channels == 3 && cfg.in_hazard(c) {
                        out[2 * r * r + i * r + j] = 1.0;
                    }
                }
            }
            out
        }
    }
}
