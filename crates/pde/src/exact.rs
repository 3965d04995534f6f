//! Known solutions the solvers are measured against, and the accuracy figures the
//! experiments report.
//!
//! Burgers (`u_t + u u_x = ν u_xx` on `[0, 2π)`): the Cole–Hopf transform `u = −2ν φ_x / φ`
//! maps Burgers onto the heat equation `φ_t = ν φ_xx`, whose solution
//! `φ = A + cos(x) e^{−νt} + ½ cos(2x + 1) e^{−4νt}` with `A = 1.234` stays above 0.1 (the two
//! cosines reach −1.134 together), so `u` is smooth but has a steep front.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::equation::Equation;
use crate::error::PdeError;
use crate::solve::{solve, Schedule};
use crate::spectral::Spectral;

/// The exact Burgers solution `u(x, t)` above for viscosity `nu`.
pub fn cole_hopf(nu: f64, x: f64, t: f64) -> f64 {
    let (e1, e2) = ((-nu * t).exp(), (-4.0 * nu * t).exp());
    let phi = 1.234 + x.cos() * e1 + 0.5 * (2.0 * x + 1.0).cos() * e2;
    let phi_x = -x.sin() * e1 - (2.0 * x + 1.0).sin() * e2;
    -2.0 * nu * phi_x / phi
}

/// `max_j |u_j − u(x_j, t_end)|` of the Burgers solver on `X = n` points with step `dt`,
/// started from the exact solution at `t = 0`.
pub fn burgers_error(n: usize, dt: f64, nu: f64, t_end: f64) -> Result<f64, PdeError> {
    let spec = Spectral::new(2.0 * PI, n)?;
    let x = spec.points();
    let u0: Vec<f64> = x.iter().map(|&x| cole_hopf(nu, x, 0.0)).collect();
    let schedule = Schedule {
        dt,
        warmup: (t_end / dt).round() as usize,
        save_every: 1,
        frames: 1,
    };
    let u = solve(Equation::Burgers, nu, &spec, &u0, schedule)?;
    Ok(x.iter()
        .zip(&u)
        .map(|(&x, &u)| (u - cole_hopf(nu, x, t_end)).abs())
        .fold(0.0, f64::max))
}

/// One measured error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorAt {
    /// Grid points.
    pub grid: usize,
    /// Time step.
    pub dt: f64,
    /// Max error against Cole–Hopf at `t_end`.
    pub max_error: f64,
}

/// The Burgers solver against Cole–Hopf (ν = 0.1, t = 1): the error at two (three) time steps
/// on a fine grid with the observed order `log₂(e(dt)/e(dt/2))` (ETDRK4: 4), and at two
/// (three) resolutions with a small step (spectral: the error falls faster than any power).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurgersAccuracy {
    /// Viscosity of the exact solution.
    pub nu: f64,
    /// Final time.
    pub t_end: f64,
    /// `X = 256`, `dt` = 0.02, 0.01, 0.005.
    pub time: Vec<ErrorAt>,
    /// Observed orders in time between consecutive rows of `time`.
    pub order_in_time: Vec<f64>,
    /// `dt = 0.002`, `X` = 32, 64, 128.
    pub space: Vec<ErrorAt>,
    /// Error ratios between consecutive rows of `space` (spectral convergence: ≫ 2⁴).
    pub ratio_in_space: Vec<f64>,
}

/// Measures [`BurgersAccuracy`] (about a second).
pub fn burgers_accuracy() -> Result<BurgersAccuracy, PdeError> {
    let (nu, t_end) = (0.1, 1.0);
    let run = |grid: usize, dt: f64| -> Result<ErrorAt, PdeError> {
        Ok(ErrorAt {
            grid,
            dt,
            max_error: burgers_error(grid, dt, nu, t_end)?,
        })
    };
    let time = [0.02, 0.01, 0.005]
        .iter()
        .map(|&dt| run(256, dt))
        .collect::<Result<Vec<_>, _>>()?;
    let space = [32, 64, 128]
        .iter()
        .map(|&n| run(n, 0.002))
        .collect::<Result<Vec<_>, _>>()?;
    let ratios = |v: &[ErrorAt]| -> Vec<f64> {
        v.windows(2)
            .map(|w| w[0].max_error / w[1].max_error)
            .collect()
    };
    Ok(BurgersAccuracy {
        nu,
        t_end,
        order_in_time: ratios(&time).iter().map(|r| r.log2()).collect(),
        ratio_in_space: ratios(&space),
        time,
        space,
    })
}
