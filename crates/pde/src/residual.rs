//! The residual of the discretised equation on a sampled trajectory: how far a set of frames
//! is from solving its PDE.
//!
//! ```text
//! r(x_j, t_k) = D_t u + a·u·u_x − 𝓛u
//! D_t u_k = (−u_{k+2} + 8u_{k+1} − 8u_{k−1} + u_{k−2}) / (12 Δt)     (fourth order)
//! ```
//!
//! with spectral `x`-derivatives on the trajectory's own grid, on the interior frames
//! `2 ≤ k < T − 2`. [`Residual::relative`] is `‖r‖/‖D_t u‖` (RMS over grid and frames), which
//! is invariant under the scalings of the symmetries, so a transformed solution can be
//! compared with the original on one scale.

use crate::dataset::Trajectory;
use crate::error::PdeError;

/// Residual statistics of one trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Residual {
    /// RMS of `r`.
    pub rms: f64,
    /// RMS of `D_t u` (the scale of the terms that cancel).
    pub rms_ut: f64,
}

impl Residual {
    /// `rms / rms_ut`.
    pub fn relative(&self) -> f64 {
        self.rms / self.rms_ut
    }
}

/// The residual of `traj` in its own equation and coefficient (needs ≥ 5 frames).
pub fn residual(traj: &Trajectory) -> Result<Residual, PdeError> {
    if traj.frames < 5 {
        return Err(PdeError::Shape(format!(
            "the residual needs at least 5 frames, the trajectory has {}",
            traj.frames
        )));
    }
    let spec = traj.spectral()?;
    let (n, a, dt) = (traj.grid, traj.equation.advection(), traj.frame_dt);
    let (mut r2, mut ut2, mut count) = (0.0, 0.0, 0usize);
    for k in 2..traj.frames - 2 {
        let u = traj.frame(k);
        let d: [Vec<f64>; 5] = std::array::from_fn(|p| spec.derivative(u, p as u32));
        for j in 0..n {
            let ut = (-traj.frame(k + 2)[j] + 8.0 * traj.frame(k + 1)[j]
                - 8.0 * traj.frame(k - 1)[j]
                + traj.frame(k - 2)[j])
                / (12.0 * dt);
            let r = ut + a * u[j] * d[1][j] - traj.equation.linear_part(&d, traj.coef, j);
            r2 += r * r;
            ut2 += ut * ut;
            count += 1;
        }
    }
    let c = count as f64;
    Ok(Residual {
        rms: (r2 / c).sqrt(),
        rms_ut: (ut2 / c).sqrt(),
    })
}
