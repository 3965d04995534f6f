//! Observations of the two-rooms task: the state `[x, y]` or a 2-channel image.
//!
//! Image observations are `[2, res, res]`, channel-major (C, H, W), values in `[0, 1]`.
//! Pixel `(i, j)` (row i, column j) has its centre at `((j + ½)·size/res, (i + ½)·size/res)`
//! ([`PixelGrid::CellCentred`]), so row i runs along y (row 0 is the bottom, `y ≈ 0`).
//! Channel 0 is the agent as a Gaussian blob `exp(−d²/(2σ²))`, `d` the distance from the pixel
//! centre to the agent, σ = `blob_sigma`; channel 1 is 1 where the pixel centre lies in an
//! obstacle, else 0; with hazards, channel 2 is 1 where the pixel centre lies in a hazard,
//! else 0.
//!
//! The agent channel is [`agent_channel`], shared with `pldm`, whose images put pixel
//! centres on the arena's edges instead ([`PixelGrid::CornerAligned`], PLDM's convention).

use crate::two_rooms::{ObsKind, TwoRoomsConfig};

/// Where the pixel centres of a `res × res` image of the arena `[0, size]²` lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelGrid {
    /// Pixel `(i, j)` is the cell `[j·s, (j+1)·s] × [i·s, (i+1)·s]`, `s = size/res`, centred at
    /// `((j + ½)·s, (i + ½)·s)` (two-rooms, maze).
    CellCentred,
    /// Pixel `(i, j)` is centred at `(j·s, i·s)` with `s = size/(res − 1)`: the first and last
    /// pixel centres lie on the arena's edges. PLDM's images (`pldm_envs/wall/wall.py`,
    /// `_render_dot`: `torch.linspace(0, img_size − 1, img_size)` as x and y) are this grid
    /// with size 64 and res 65, so pixel `(i, j)` is centred at the point `(j, i)`.
    CornerAligned,
}

impl PixelGrid {
    /// The centre `(x, y)` of pixel `(i, j)` (row i, column j).
    pub fn centre(self, i: usize, j: usize, res: usize, size: f32) -> [f32; 2] {
        match self {
            PixelGrid::CellCentred => {
                let px = size / res as f32;
                [(j as f32 + 0.5) * px, (i as f32 + 0.5) * px]
            }
            PixelGrid::CornerAligned => {
                let px = size / (res.max(2) - 1) as f32;
                [j as f32 * px, i as f32 * px]
            }
        }
    }
}

/// Writes the agent's blob `exp(−d²/(2σ²))` at `pos` into `out` (`res·res` values, row-major,
/// row i along y), `d` the distance from each pixel centre of `grid` to `pos`.
///
/// # Shapes
/// `out [res · res]`
pub fn agent_channel(
    out: &mut [f32],
    grid: PixelGrid,
    res: usize,
    size: f32,
    pos: [f32; 2],
    sigma: f32,
) {
    let inv = 1.0 / (2.0 * sigma * sigma);
    for i in 0..res {
        for j in 0..res {
            let c = grid.centre(i, j, res, size);
            let d2 = (c[0] - pos[0]).powi(2) + (c[1] - pos[1]).powi(2);
            out[i * res + j] = (-d2 * inv).exp();
        }
    }
}

/// The observation of an agent at `pos` (module docs), for the agent or for a goal.
///
/// # Shapes
/// `[2]` for [`ObsKind::State`]; `[2, res, res]` flattened for [`ObsKind::Image`].
pub fn observe_at(cfg: &TwoRoomsConfig, pos: [f32; 2]) -> Vec<f32> {
    match cfg.obs {
        ObsKind::State => pos.to_vec(),
        ObsKind::Image => {
            let r = cfg.image_res;
            let grid = PixelGrid::CellCentred;
            let channels = cfg.image_channels();
            let mut out = vec![0f32; channels * r * r];
            agent_channel(&mut out[..r * r], grid, r, cfg.size, pos, cfg.blob_sigma);
            let obstacles = cfg.obstacles();
            for i in 0..r {
                for j in 0..r {
                    let c = grid.centre(i, j, r, cfg.size);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_centres_by_hand() {
        assert_eq!(PixelGrid::CellCentred.centre(0, 0, 16, 64.0), [2.0, 2.0]);
        assert_eq!(PixelGrid::CellCentred.centre(3, 1, 16, 64.0), [6.0, 14.0]);
        assert_eq!(PixelGrid::CornerAligned.centre(0, 0, 65, 64.0), [0.0, 0.0]);
        assert_eq!(
            PixelGrid::CornerAligned.centre(10, 32, 65, 64.0),
            [32.0, 10.0]
        );
        assert_eq!(
            PixelGrid::CornerAligned.centre(64, 64, 65, 64.0),
            [64.0, 64.0]
        );
    }
}
