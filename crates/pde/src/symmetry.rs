//! Lie point symmetries: transformations that map solutions to solutions, applied exactly to
//! a sampled solution on its grid (Olver, *Applications of Lie Groups to Differential
//! Equations*, §2.4; Mialon et al. 2023, Table 1; Brandstetter, Welling & Worrall 2022).
//!
//! With `a` the advection coefficient (`u_t + a·u·u_x + …`):
//!
//! | symmetry | transformation | Burgers | KdV | KS |
//! |---|---|---|---|---|
//! | space translation | `u'(x,t) = u(x − s, t)` | ✓ | ✓ | ✓ |
//! | time translation | `u'(x,t) = u(x, t + τ)`, `τ` a whole number of frames | ✓ | ✓ | ✓ |
//! | Galilean boost | `u'(x,t) = u(x − aεt, t) + ε` | ✓ | ✓ | ✓ |
//! | scaling | Burgers `u' = λ u(λx, λ²t)`; KdV `u' = λ² u(λx, λ³t)` | ✓ | ✓ | — |
//!
//! *Galilean boost.* With `ξ = x − aεt`: `u'_t = u_t − aε u_x` and `a u' u'_x = a(u + ε) u_x`,
//! so `u'_t + a u' u'_x = u_t + a u u_x`; the `x`-derivatives of `u'` are those of `u`. It holds
//! for each of the three linear parts, since they have constant coefficients in `x`. (For
//! KdV with `6uu_x` the boost moves the frame at `6ε`, not `ε`.)
//!
//! *Scaling.* Burgers: every term of `u_t + uu_x − νu_xx` picks up `λ³` under
//! `u' = λu(λx, λ²t)`, ν unchanged. KdV: every term of `u_t + 6uu_x + δu_xxx` picks up `λ⁵`
//! under `u' = λ²u(λx, λ³t)`. KS has none: `u_xx` and `u_xxxx` scale differently. A scaled
//! solution lives on the domain `L/λ`, with frames `Δt/λ²` (or `/λ³`) apart: the grid
//! values are the same samples, relabelled and multiplied by `λ` (or `λ²`), so no
//! interpolation is needed — but the result is on a different grid, which the returned
//! [`Trajectory`] records.
//!
//! *Interpolation.* A periodic translation by a non-grid distance is done in Fourier space
//! (`e^{−iks}`, [`crate::Spectral::shift`]), exact for the band-limited grid functions the spectral
//! solver produces. Time translations shift the frame index, so they need none.
//!
//! Burgers has a fifth, projective symmetry (Mialon et al.) and KdV none more among point
//! symmetries; the projective one is not implemented.

use crate::dataset::Trajectory;
use crate::equation::Equation;
use crate::error::PdeError;

/// One transformation with its parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Symmetry {
    /// `u'(x,t) = u(x − s, t)`.
    SpaceShift(f64),
    /// Frames `start .. start + len`: `u'(x, t) = u(x, t + start·Δt)` on `len` frames.
    TimeShift {
        /// First frame kept.
        start: usize,
        /// Frames kept.
        len: usize,
    },
    /// `u'(x,t) = u(x − aεt, t) + ε`.
    Galilean(f64),
    /// Burgers `u' = λu(λx, λ²t)`, KdV `u' = λ²u(λx, λ³t)` (λ > 0).
    Scaling(f64),
}

impl Symmetry {
    /// The name used in errors and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Symmetry::SpaceShift(_) => "space translation",
            Symmetry::TimeShift { .. } => "time translation",
            Symmetry::Galilean(_) => "Galilean boost",
            Symmetry::Scaling(_) => "scaling",
        }
    }
}

impl Equation {
    /// Whether the equation admits `symmetry` (module table).
    pub fn admits(self, symmetry: &Symmetry) -> bool {
        !matches!((self, symmetry), (Equation::Ks, Symmetry::Scaling(_)))
    }
}

/// Applies `symmetry` to `traj`.
///
/// Errors: a symmetry the equation does not admit, a crop outside the frames, a
/// non-positive or non-finite scale.
pub fn apply(traj: &Trajectory, symmetry: Symmetry) -> Result<Trajectory, PdeError> {
    if !traj.equation.admits(&symmetry) {
        return Err(PdeError::Symmetry(format!(
            "{} does not admit a {}",
            traj.equation.name(),
            symmetry.name()
        )));
    }
    let spec = traj.spectral()?;
    let n = traj.grid;
    match symmetry {
        Symmetry::SpaceShift(s) => Ok(per_frame(traj, |_, f| spec.shift(f, s))),
        Symmetry::TimeShift { start, len } => {
            if len < 1 || start + len > traj.frames {
                return Err(PdeError::Symmetry(format!(
                    "time translation to frames {start}..{} of a trajectory of {} frames",
                    start + len,
                    traj.frames
                )));
            }
            Ok(Trajectory {
                frames: len,
                u: traj.u[start * n..(start + len) * n].to_vec(),
                ..traj.clone()
            })
        }
        Symmetry::Galilean(eps) => {
            let speed = traj.equation.advection() * eps;
            let times = traj.times();
            Ok(per_frame(traj, |k, f| {
                spec.shift(f, speed * times[k])
                    .into_iter()
                    .map(|v| v + eps)
                    .collect()
            }))
        }
        Symmetry::Scaling(lambda) => {
            if !(lambda.is_finite() && lambda > 0.0) {
                return Err(PdeError::Symmetry(format!(
                    "scaling by λ = {lambda}: λ must be positive and finite"
                )));
            }
            // u'(x', t') = λ^q u(λx', λ^p t'): the sample at x_j, t_k becomes the sample at
            // x_j/λ, t_k/λ^p, times λ^q.
            let (p, q) = match traj.equation {
                Equation::Burgers => (2, 1),
                Equation::Kdv => (3, 2),
                Equation::Ks => unreachable!("refused above"),
            };
            Ok(Trajectory {
                length: traj.length / lambda,
                frame_dt: traj.frame_dt / lambda.powi(p),
                t0: traj.t0 / lambda.powi(p),
                u: traj.u.iter().map(|v| v * lambda.powi(q)).collect(),
                ..traj.clone()
            })
        }
    }
}

/// A trajectory with each frame `k` replaced by `f(k, frame)`.
fn per_frame(traj: &Trajectory, f: impl Fn(usize, &[f64]) -> Vec<f64>) -> Trajectory {
    let mut u = Vec::with_capacity(traj.u.len());
    for k in 0..traj.frames {
        u.extend(f(k, traj.frame(k)));
    }
    Trajectory { u, ..traj.clone() }
}
