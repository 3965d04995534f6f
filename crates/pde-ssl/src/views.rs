//! Views of a trajectory for joint-embedding pre-training (Mialon et al. 2023, §3).
//!
//! A view is a window of `crop_frames` consecutive frames (a time translation), every
//! `x_stride`-th grid point, plus Gaussian noise of standard deviation `noise_std`. With
//! [`Augmentation::Lie`] the trajectory is first moved by a random space translation
//! `s ~ U[0, L)` and a random Galilean boost `ε ~ U[−boost_max, boost_max]`
//! (`u(x − aεt, t) + ε`), both exact symmetries of the equation ([`ami_pde::symmetry`]), so
//! a view is again a solution with the same coefficient. [`Augmentation::CropNoise`] keeps
//! crop and noise only: the ablation of the symmetries.
//!
//! Scaling is not used: the encoder sees samples without their grid spacing, and a scaled
//! solution is a solution only on the rescaled grid (on the original grid, `λu` with the
//! same `ν` solves no Burgers equation).

use ami_pde::dataset::Rng;
use ami_pde::{apply, Symmetry, Trajectory};
use serde::{Deserialize, Serialize};

use crate::error::SslError;

/// Which transformations make the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    /// Time crop, space translation, Galilean boost, noise.
    Lie,
    /// Time crop and noise only.
    CropNoise,
}

/// Shape and strength of the views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// Frames per view (the crop).
    pub crop_frames: usize,
    /// Keep every `x_stride`-th grid point.
    pub x_stride: usize,
    /// Largest |ε| of the Galilean boost.
    pub boost_max: f64,
    /// Standard deviation of the added Gaussian noise (in units of `u`).
    pub noise_std: f64,
    /// Time crops whose representations (or predictions) are averaged when reading a
    /// trajectory: starts evenly spaced from the first to the last possible frame.
    pub probe_crops: usize,
    /// Factor applied to every value after the noise (the experiment sets 1/RMS of the
    /// unlabelled data, so the encoder sees values of order 1).
    pub scale: f64,
}

impl Default for ViewConfig {
    fn default() -> Self {
        ViewConfig {
            crop_frames: 16,
            x_stride: 2,
            boost_max: 0.2,
            noise_std: 0.0,
            probe_crops: 5,
            scale: 1.0,
        }
    }
}

impl ViewConfig {
    /// The view's shape `[T_c, X_c]` for trajectories of `frames × grid`.
    pub fn shape(&self, frames: usize, grid: usize) -> Result<[usize; 2], SslError> {
        if self.crop_frames < 1 || self.crop_frames > frames {
            return Err(SslError::config(
                "view.crop_frames",
                self.crop_frames,
                format!("between 1 and the trajectories' {frames} frames"),
            ));
        }
        if self.x_stride < 1 || !grid.is_multiple_of(self.x_stride) {
            return Err(SslError::config(
                "view.x_stride",
                self.x_stride,
                format!("a divisor of the grid ({grid})"),
            ));
        }
        if self.probe_crops < 1 {
            return Err(SslError::config(
                "view.probe_crops",
                self.probe_crops,
                "at least 1",
            ));
        }
        Ok([self.crop_frames, grid / self.x_stride])
    }

    /// The first frames of the [`ViewConfig::probe_crops`] crops read from a trajectory of
    /// `frames` frames: `round(i·(frames − crop)/(n − 1))`, `i = 0..n` (just 0 when `n = 1`).
    pub fn probe_starts(&self, frames: usize) -> Vec<usize> {
        let last = frames.saturating_sub(self.crop_frames);
        let n = self.probe_crops.max(1);
        if n == 1 {
            return vec![0];
        }
        (0..n)
            .map(|i| ((i * last) as f64 / (n - 1) as f64).round() as usize)
            .collect()
    }
}

/// One random view of `traj`, flattened `[T_c · X_c]`.
pub fn random_view(
    traj: &Trajectory,
    cfg: &ViewConfig,
    aug: Augmentation,
    rng: &mut Rng,
) -> Result<Vec<f32>, SslError> {
    let start = (rng.uniform() * (traj.frames - cfg.crop_frames + 1) as f64) as usize;
    let start = start.min(traj.frames - cfg.crop_frames);
    let mut t = apply(
        traj,
        Symmetry::TimeShift {
            start,
            len: cfg.crop_frames,
        },
    )?;
    if aug == Augmentation::Lie {
        t = apply(&t, Symmetry::SpaceShift(rng.range(0.0, traj.length)))?;
        t = apply(
            &t,
            Symmetry::Galilean(rng.range(-cfg.boost_max, cfg.boost_max)),
        )?;
    }
    let mut out = decimate(&t, cfg.x_stride, 1.0);
    for v in out.iter_mut() {
        *v = ((f64::from(*v) + cfg.noise_std * normal(rng)) * cfg.scale) as f32;
    }
    Ok(out)
}

/// The deterministic view used to read representations: the first `crop_frames` frames, no
/// transformation, no noise.
pub fn probe_view(traj: &Trajectory, cfg: &ViewConfig) -> Result<Vec<f32>, SslError> {
    probe_view_at(traj, cfg, 0)
}

/// The deterministic view of `crop_frames` frames from frame `start`, no transformation, no
/// noise.
pub fn probe_view_at(
    traj: &Trajectory,
    cfg: &ViewConfig,
    start: usize,
) -> Result<Vec<f32>, SslError> {
    let t = apply(
        traj,
        Symmetry::TimeShift {
            start,
            len: cfg.crop_frames,
        },
    )?;
    Ok(decimate(&t, cfg.x_stride, cfg.scale))
}

pub(crate) fn decimate(t: &Trajectory, stride: usize, scale: f64) -> Vec<f32> {
    t.u.chunks(t.grid)
        .flat_map(|row| row.iter().step_by(stride).map(move |&v| (v * scale) as f32))
        .collect()
}

/// A standard normal draw (the first output of the workspace's one Box–Muller transform).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = rng.uniform().max(f64::MIN_POSITIVE);
    ami_sampling::box_muller(u1, rng.uniform()).0
}

#[cfg(test)]
mod tests {
    use super::ViewConfig;

    #[test]
    fn probe_starts_are_evenly_spaced_from_the_first_to_the_last_crop() {
        let cfg = |crop_frames, probe_crops| ViewConfig {
            crop_frames,
            probe_crops,
            ..ViewConfig::default()
        };
        assert_eq!(cfg(24, 5).probe_starts(32), vec![0, 2, 4, 6, 8]);
        assert_eq!(cfg(8, 3).probe_starts(12), vec![0, 2, 4]);
        // round(i·7/3) for i = 0..4: 0, 2.33, 4.67, 7.
        assert_eq!(cfg(5, 4).probe_starts(12), vec![0, 2, 5, 7]);
        assert_eq!(cfg(24, 1).probe_starts(32), vec![0]);
        assert_eq!(cfg(32, 3).probe_starts(32), vec![0, 0, 0]);
    }
}
