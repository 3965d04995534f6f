//! The periodic grid and its Fourier transform.
//!
//! The domain is `[0, L)` with `X` points `x_j = j·L/X`. A grid function `u_j` is identified
//! with the band-limited trigonometric interpolant
//!
//! ```text
//! u(x) = (1/X) Σ_m û_m e^{i k_m x},   k_m = 2π m / L,   m ∈ {−X/2+1, …, X/2}
//! ```
//!
//! (`û = FFT(u)`, unnormalised forward transform, `1/X` on the inverse). Derivatives
//! multiply `û_m` by `(i k_m)^p`; for odd `p` the Nyquist mode `m = X/2` is set to zero (its
//! derivative is not real, Trefethen, *Spectral Methods in MATLAB*, ch. 3). A shift
//! `u(x − s)` multiplies by `e^{−i k_m s}` and keeps the real part, which for the Nyquist
//! mode is the factor `cos(k_{X/2} s)` of the real interpolant; for band-limited data it is
//! exact, not an approximation.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use crate::error::PdeError;

/// Smallest grid accepted (`grid` key).
pub const MIN_GRID: usize = 16;

/// A periodic 1-D grid with its FFT plans and wavenumbers.
#[derive(Clone)]
pub struct Spectral {
    /// Domain length `L`.
    pub length: f64,
    /// Number of grid points `X` (even, ≥ [`MIN_GRID`]).
    pub n: usize,
    /// Wavenumbers `k_m` in FFT order (`m = 0, 1, …, X/2, −X/2+1, …, −1`).
    pub k: Vec<f64>,
    /// `true` for the modes kept by the 2/3 rule: `3|m| < X` (Orszag 1971), so the product of
    /// two kept modes never aliases onto a kept mode.
    pub dealias: Vec<bool>,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
}

impl std::fmt::Debug for Spectral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spectral")
            .field("length", &self.length)
            .field("n", &self.n)
            .finish()
    }
}

impl Spectral {
    /// The grid of `n` points on `[0, length)`.
    ///
    /// Errors: `grid` below [`MIN_GRID`] or odd, `length` not positive and finite.
    pub fn new(length: f64, n: usize) -> Result<Self, PdeError> {
        if n < MIN_GRID || !n.is_multiple_of(2) {
            return Err(PdeError::setting(
                "grid",
                n,
                format!("an even number of points ≥ {MIN_GRID}"),
            ));
        }
        if !(length.is_finite() && length > 0.0) {
            return Err(PdeError::setting(
                "length",
                length,
                "a positive, finite domain length",
            ));
        }
        let mut planner = FftPlanner::new();
        let half = (n / 2) as i64;
        let modes: Vec<i64> = (0..n as i64)
            .map(|j| if j <= half { j } else { j - n as i64 })
            .collect();
        let k = modes
            .iter()
            .map(|&m| 2.0 * std::f64::consts::PI * m as f64 / length)
            .collect();
        let dealias = modes
            .iter()
            .map(|&m| 3 * m.unsigned_abs() < n as u64)
            .collect();
        Ok(Spectral {
            length,
            n,
            k,
            dealias,
            fwd: planner.plan_fft_forward(n),
            inv: planner.plan_fft_inverse(n),
        })
    }

    /// Grid spacing `dx = L/X`.
    pub fn dx(&self) -> f64 {
        self.length / self.n as f64
    }

    /// Grid points `x_j = j·L/X`.
    pub fn points(&self) -> Vec<f64> {
        (0..self.n).map(|j| j as f64 * self.dx()).collect()
    }

    /// `û = FFT(u)` (unnormalised).
    pub fn forward(&self, u: &[f64]) -> Vec<Complex64> {
        let mut v: Vec<Complex64> = u.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        self.fwd.process(&mut v);
        v
    }

    /// In-place forward transform of a complex buffer.
    pub fn forward_in_place(&self, v: &mut [Complex64]) {
        self.fwd.process(v);
    }

    /// In-place inverse transform, normalised by `1/X` (the result is complex; its real part
    /// is the real interpolant).
    pub fn inverse_in_place(&self, v: &mut [Complex64]) {
        self.inv.process(v);
        let s = 1.0 / self.n as f64;
        v.iter_mut().for_each(|c| *c *= s);
    }

    /// The real grid function of the spectrum `û` (real part of the normalised inverse).
    pub fn inverse(&self, v: &[Complex64]) -> Vec<f64> {
        let mut w = v.to_vec();
        self.inverse_in_place(&mut w);
        w.iter().map(|c| c.re).collect()
    }

    /// Index of the Nyquist mode `m = X/2`.
    pub fn nyquist(&self) -> usize {
        self.n / 2
    }

    /// The `order`-th spectral derivative `∂ₓ^order u` on the grid.
    pub fn derivative(&self, u: &[f64], order: u32) -> Vec<f64> {
        let mut v = self.forward(u);
        for (c, &k) in v.iter_mut().zip(&self.k) {
            *c *= Complex64::new(0.0, k).powu(order);
        }
        if order % 2 == 1 {
            v[self.nyquist()] = Complex64::new(0.0, 0.0);
        }
        self.inverse(&v)
    }

    /// `u(x − s)` on the grid: the band-limited interpolant translated by `s`.
    pub fn shift(&self, u: &[f64], s: f64) -> Vec<f64> {
        let mut v = self.forward(u);
        for (c, &k) in v.iter_mut().zip(&self.k) {
            *c *= Complex64::from_polar(1.0, -k * s);
        }
        self.inverse(&v)
    }

    /// The mean `(1/X) Σ_j f_j`, i.e. `(1/L) ∫ f dx` for band-limited `f` (trapezoidal rule,
    /// exact on the periodic grid for modes below `X`).
    pub fn mean(&self, f: &[f64]) -> f64 {
        f.iter().sum::<f64>() / self.n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_and_shifts_are_exact_for_band_limited_data() {
        let g = Spectral::new(3.0, 32).unwrap();
        let w = 2.0 * std::f64::consts::PI / 3.0;
        let u: Vec<f64> = g.points().iter().map(|x| (2.0 * w * x).sin()).collect();
        let du = g.derivative(&u, 1);
        let d3 = g.derivative(&u, 3);
        let sh = g.shift(&u, 0.37);
        for (j, x) in g.points().iter().enumerate() {
            assert!((du[j] - 2.0 * w * (2.0 * w * x).cos()).abs() < 1e-12);
            assert!((d3[j] + (2.0 * w).powi(3) * (2.0 * w * x).cos()).abs() < 1e-10);
            assert!((sh[j] - (2.0 * w * (x - 0.37)).sin()).abs() < 1e-13);
        }
    }

    #[test]
    fn the_grid_is_checked() {
        let msg = Spectral::new(1.0, 15).unwrap_err().to_string();
        assert!(msg.contains("`grid` = 15") && msg.contains("≥ 16"), "{msg}");
        let msg = Spectral::new(0.0, 32).unwrap_err().to_string();
        assert!(msg.contains("`length` = 0"), "{msg}");
    }

    #[test]
    fn the_two_thirds_rule_keeps_modes_below_a_third_of_the_grid() {
        let g = Spectral::new(1.0, 48).unwrap();
        // Kept: |m| ≤ 15 (3·15 = 45 < 48); m = 16 is dropped. 1 + 2·15 modes.
        assert_eq!(g.dealias.iter().filter(|&&b| b).count(), 31);
        assert!(g.dealias[15] && !g.dealias[16] && !g.dealias[48 - 16] && g.dealias[48 - 15]);
    }
}
