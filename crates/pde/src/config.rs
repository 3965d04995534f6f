//! `PdeConfig`: the settings of a data set, their per-equation defaults, `--set key=value`
//! overrides and validation (each error names the key and the limit).
//!
//! Keys: `length` (L), `grid` (X), `dt`, `save_every`, `frames` (T), `warmup` (steps before
//! the first frame), the coefficient range `nu_min`/`nu_max` (Burgers, KS) or
//! `delta_min`/`delta_max` (KdV), sampled log-uniformly per trajectory, and the initial
//! condition `ic_modes` (J), `ic_max_wavenumber` (l_max), `ic_amplitude` (A):
//!
//! ```text
//! u₀(x) = Σ_{j=1}^{J} A_j sin(2π l_j x / L + φ_j),  A_j ~ U[−A, A],  l_j ~ U{1..l_max},  φ_j ~ U[0, 2π)
//! ```
//!
//! (Brandstetter, Worrall & Welling 2022, the initial conditions Mialon et al. 2023 reuse).

use serde::{Deserialize, Serialize};

use crate::equation::Equation;
use crate::error::PdeError;
use crate::solve::{courant, Schedule, COURANT_LIMIT};
use crate::spectral::Spectral;

/// Settings of one data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdeConfig {
    /// The equation.
    pub equation: Equation,
    /// Domain length `L` (periodic `[0, L)`).
    pub length: f64,
    /// Grid points `X` (even, ≥ 16).
    pub grid: usize,
    /// Time step of the integrator.
    pub dt: f64,
    /// Steps between saved frames.
    pub save_every: usize,
    /// Saved frames per trajectory `T` (≥ 2).
    pub frames: usize,
    /// Steps integrated (and discarded) before the first frame.
    pub warmup: usize,
    /// Smallest coefficient (`nu_min` or `delta_min`).
    pub coef_min: f64,
    /// Largest coefficient (`nu_max` or `delta_max`).
    pub coef_max: f64,
    /// Sine modes in the initial condition `J`.
    pub ic_modes: usize,
    /// Largest wavenumber index `l_max` of the initial condition.
    pub ic_max_wavenumber: usize,
    /// Largest amplitude `A` of one mode.
    pub ic_amplitude: f64,
}

impl PdeConfig {
    /// The defaults of `equation` (the README states what each resolves).
    ///
    /// * Burgers: `L = 2π`, `X = 1024`, `dt = 0.002`, 100 frames every 0.02 (t ∈ [0, 1.98]),
    ///   ν log-uniform in [0.01, 0.3]. Resolved to ~1e-5 (max error against `X = 4096`) at
    ///   ν = 0.01; ν = 0.003 needs `grid=4096` (the error at 2048 is still ~1e-3).
    /// * KdV: `L = 64`, `X = 512`, `dt = 0.0025`, 100 frames every 0.2 (t ∈ [0, 19.8]),
    ///   δ = 1. The solitons grown from the larger initial conditions reach |u| ≈ 5: the top
    ///   quarter of the dealiased band holds ~4e-6 of the peak Fourier coefficient at
    ///   `X = 512` and 5e-2 of it at 256 (tests/dataset.rs); the invariants drift by ~1e-5 at
    ///   `dt = 0.005` and ~1e-6 at 0.0025 (tests/solvers.rs).
    /// * KS: `L = 64`, `X = 256`, `dt = 0.025`, 100 frames every 0.5 after a warm-up of 100
    ///   time units (onto the attractor), ν log-uniform in [0.75, 1.25] (effective lengths
    ///   L/√ν from 57 to 74, all chaotic).
    pub fn default_for(equation: Equation) -> Self {
        let base = PdeConfig {
            equation,
            length: 2.0 * std::f64::consts::PI,
            grid: 1024,
            dt: 0.002,
            save_every: 10,
            frames: 100,
            warmup: 0,
            coef_min: 0.01,
            coef_max: 0.3,
            ic_modes: 5,
            ic_max_wavenumber: 3,
            ic_amplitude: 0.5,
        };
        match equation {
            Equation::Burgers => base,
            Equation::Kdv => PdeConfig {
                length: 64.0,
                grid: 512,
                dt: 0.0025,
                save_every: 80,
                coef_min: 1.0,
                coef_max: 1.0,
                ..base
            },
            Equation::Ks => PdeConfig {
                length: 64.0,
                grid: 256,
                dt: 0.025,
                save_every: 20,
                warmup: 4000,
                coef_min: 0.75,
                coef_max: 1.25,
                ..base
            },
        }
    }

    /// The `--set` names of the coefficient range.
    fn coef_keys(&self) -> (&'static str, &'static str) {
        match self.equation {
            Equation::Burgers | Equation::Ks => ("nu_min", "nu_max"),
            Equation::Kdv => ("delta_min", "delta_max"),
        }
    }

    /// The keys `--set` accepts for this equation.
    pub fn keys(&self) -> Vec<&'static str> {
        let (lo, hi) = self.coef_keys();
        vec![
            "length",
            "grid",
            "dt",
            "save_every",
            "frames",
            "warmup",
            lo,
            hi,
            "ic_modes",
            "ic_max_wavenumber",
            "ic_amplitude",
        ]
    }

    /// Applies `key=value` overrides in order (not validated: call [`PdeConfig::validate`]).
    pub fn with_overrides(mut self, sets: &[String]) -> Result<Self, PdeError> {
        for given in sets {
            let bad = |msg: String| PdeError::BadOverride {
                given: given.clone(),
                msg,
            };
            let (key, value) = given
                .split_once('=')
                .ok_or_else(|| bad("expected key=value".into()))?;
            let (key, value) = (key.trim(), value.trim());
            let float = || {
                value
                    .parse::<f64>()
                    .map_err(|e| bad(format!("`{value}` is not a number ({e})")))
            };
            let int = || {
                value
                    .parse::<usize>()
                    .map_err(|e| bad(format!("`{value}` is not a non-negative integer ({e})")))
            };
            let (lo, hi) = self.coef_keys();
            match key {
                "length" => self.length = float()?,
                "grid" => self.grid = int()?,
                "dt" => self.dt = float()?,
                "save_every" => self.save_every = int()?,
                "frames" => self.frames = int()?,
                "warmup" => self.warmup = int()?,
                "ic_modes" => self.ic_modes = int()?,
                "ic_max_wavenumber" => self.ic_max_wavenumber = int()?,
                "ic_amplitude" => self.ic_amplitude = float()?,
                k if k == lo => self.coef_min = float()?,
                k if k == hi => self.coef_max = float()?,
                _ => {
                    return Err(bad(format!(
                        "unknown key `{key}` for {}; keys: {}",
                        self.equation.name(),
                        self.keys().join(", ")
                    )))
                }
            }
        }
        Ok(self)
    }

    /// The saving schedule.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            dt: self.dt,
            warmup: self.warmup,
            save_every: self.save_every,
            frames: self.frames,
        }
    }

    /// `max|u₀| ≤ J·A`: the bound of the initial condition used by the a-priori step check.
    pub fn ic_bound(&self) -> f64 {
        self.ic_modes as f64 * self.ic_amplitude
    }

    /// Checks every key; the first violation is returned, naming the key and the limit.
    pub fn validate(&self) -> Result<(), PdeError> {
        let spec = Spectral::new(self.length, self.grid)?;
        let positive = |key: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(PdeError::setting(key, v, "a positive, finite number"))
            }
        };
        positive("dt", self.dt)?;
        let (lo, hi) = self.coef_keys();
        positive(lo, self.coef_min)?;
        positive(hi, self.coef_max)?;
        if self.coef_max < self.coef_min {
            return Err(PdeError::setting(
                hi,
                self.coef_max,
                format!("at least `{lo}` = {}", self.coef_min),
            ));
        }
        if self.save_every == 0 {
            return Err(PdeError::setting("save_every", 0, "at least 1 step"));
        }
        if self.frames < 2 {
            return Err(PdeError::setting(
                "frames",
                self.frames,
                "at least 2 frames",
            ));
        }
        if self.ic_modes == 0 {
            return Err(PdeError::setting("ic_modes", 0, "at least 1 mode"));
        }
        // The largest kept mode: 3m < X.
        let band = (self.grid - 1) / 3;
        if self.ic_max_wavenumber == 0 || 3 * self.ic_max_wavenumber >= self.grid {
            return Err(PdeError::setting(
                "ic_max_wavenumber",
                self.ic_max_wavenumber,
                format!(
                    "between 1 and {band}, inside the dealiased band of `grid` = {}",
                    self.grid
                ),
            ));
        }
        if !(self.ic_amplitude.is_finite() && self.ic_amplitude >= 0.0) {
            return Err(PdeError::setting(
                "ic_amplitude",
                self.ic_amplitude,
                "a non-negative, finite amplitude",
            ));
        }
        let c = courant(self.equation, self.ic_bound(), self.dt, spec.dx());
        if c > COURANT_LIMIT {
            let dt_max = COURANT_LIMIT * spec.dx() / (self.equation.advection() * self.ic_bound());
            return Err(PdeError::setting(
                "dt",
                self.dt,
                format!(
                    "at most {dt_max:.3e}: the advective Courant number a·U·dt/dx = {c:.3} with \
                     a = {}, U = ic_modes·ic_amplitude = {}, dx = {:.4} exceeds {COURANT_LIMIT}",
                    self.equation.advection(),
                    self.ic_bound(),
                    spec.dx()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(eq: Equation, sets: &[&str]) -> String {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        match PdeConfig::default_for(eq).with_overrides(&sets) {
            Err(e) => e.to_string(),
            Ok(c) => c.validate().expect_err("should be rejected").to_string(),
        }
    }

    #[test]
    fn the_defaults_are_valid() {
        for eq in Equation::ALL {
            PdeConfig::default_for(eq).validate().unwrap();
        }
    }

    #[test]
    fn bad_settings_name_the_key_and_the_limit() {
        let cases: [(Equation, &[&str], &[&str]); 10] = [
            (
                Equation::Burgers,
                &["nu_min=0"],
                &["`nu_min` = 0", "positive"],
            ),
            (
                Equation::Burgers,
                &["nu_min=-0.1"],
                &["`nu_min` = -0.1", "positive"],
            ),
            (
                Equation::Ks,
                &["nu_max=0.5"],
                &["`nu_max` = 0.5", "at least `nu_min` = 0.75"],
            ),
            (Equation::Kdv, &["grid=8"], &["`grid` = 8", "≥ 16"]),
            (Equation::Kdv, &["grid=33"], &["`grid` = 33", "even"]),
            (
                Equation::Burgers,
                &["dt=0.1"],
                &["`dt` = 0.1", "at most", "Courant"],
            ),
            (
                Equation::Kdv,
                &["nu_min=0.1"],
                &["unknown key `nu_min`", "delta_min"],
            ),
            (Equation::Ks, &["frames=1"], &["`frames` = 1", "at least 2"]),
            (Equation::Burgers, &["dt=fast"], &["`fast` is not a number"]),
            (
                Equation::Ks,
                &["grid=48", "ic_max_wavenumber=16"],
                &["`ic_max_wavenumber` = 16", "between 1 and 15"],
            ),
        ];
        for (eq, sets, words) in cases {
            let msg = err(eq, sets);
            for w in words {
                assert!(msg.contains(w), "{sets:?}: `{msg}` lacks `{w}`");
            }
        }
    }
}
