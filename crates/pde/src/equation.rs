//! The three equations, written as `u_t = 𝓛u + 𝓝(u)` with a linear part diagonal in Fourier
//! space and the quadratic advection `𝓝(u) = −a·u·u_x = −(a/2)·(u²)_x`.
//!
//! | equation | PDE (convention used here) | `a` | symbol `c(k)` of `𝓛` | coefficient |
//! |---|---|---|---|---|
//! | viscous Burgers | `u_t + u u_x = ν u_xx` | 1 | `−ν k²` | `nu` (ν > 0) |
//! | Korteweg–de Vries | `u_t + 6 u u_x + δ u_xxx = 0` | 6 | `i δ k³` | `delta` (δ > 0; δ = 1 is the standard KdV) |
//! | Kuramoto–Sivashinsky | `u_t + u u_x + u_xx + ν u_xxxx = 0` | 1 | `k² − ν k⁴` | `nu` (ν > 0; ν = 1 is the standard KS) |
//!
//! KS with coefficient ν on a domain of length `L` is the standard KS (ν = 1) on the length
//! `L/√ν`: with `x = √ν x'`, `t = ν t'`, `u = u'/√ν` the equation becomes the standard one in
//! the primed variables. So ν plays the role of the domain length that other data sets vary,
//! on a fixed grid.

use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};

use crate::error::PdeError;

/// Which PDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Equation {
    /// Viscous Burgers, `u_t + u u_x = ν u_xx`.
    Burgers,
    /// Korteweg–de Vries, `u_t + 6 u u_x + δ u_xxx = 0`.
    Kdv,
    /// Kuramoto–Sivashinsky, `u_t + u u_x + u_xx + ν u_xxxx = 0`.
    Ks,
}

impl std::str::FromStr for Equation {
    type Err = PdeError;

    fn from_str(s: &str) -> Result<Self, PdeError> {
        match s {
            "burgers" => Ok(Equation::Burgers),
            "kdv" => Ok(Equation::Kdv),
            "ks" => Ok(Equation::Ks),
            other => Err(PdeError::UnknownEquation(other.to_string())),
        }
    }
}

impl Equation {
    /// All equations.
    pub const ALL: [Equation; 3] = [Equation::Burgers, Equation::Kdv, Equation::Ks];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Equation::Burgers => "burgers",
            Equation::Kdv => "kdv",
            Equation::Ks => "ks",
        }
    }

    /// The coefficient `a` of the advection term `a·u·u_x`.
    pub fn advection(self) -> f64 {
        match self {
            Equation::Burgers | Equation::Ks => 1.0,
            Equation::Kdv => 6.0,
        }
    }

    /// The name of the equation's coefficient (`nu` or `delta`).
    pub fn coefficient_name(self) -> &'static str {
        match self {
            Equation::Burgers | Equation::Ks => "nu",
            Equation::Kdv => "delta",
        }
    }

    /// The Fourier symbol `c(k)` of the linear part: `(𝓛u)^(k) = c(k)·û(k)`.
    pub fn linear_symbol(self, k: f64, coef: f64) -> Complex64 {
        match self {
            Equation::Burgers => Complex64::new(-coef * k * k, 0.0),
            Equation::Kdv => Complex64::new(0.0, coef * k * k * k),
            Equation::Ks => Complex64::new(k * k - coef * k.powi(4), 0.0),
        }
    }

    /// The linear part `𝓛u` on the grid, from the spectral derivatives `d[p] = ∂ₓ^p u`
    /// (`p = 0..=4`).
    pub fn linear_part(self, d: &[Vec<f64>; 5], coef: f64, j: usize) -> f64 {
        match self {
            Equation::Burgers => coef * d[2][j],
            Equation::Kdv => -coef * d[3][j],
            Equation::Ks => -d[2][j] - coef * d[4][j],
        }
    }
}
