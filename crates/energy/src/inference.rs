//! Inference in energy-based models: by minimisation (`ŷ = argmin_y F(x, y)`, or
//! `ž = argmin_z E(x, y, z)` for a latent) and by marginalisation (the free energy at inverse
//! temperature β).
//!
//! * [`Energy`] — `F(x, y)` with its gradient in `y`; [`LatentEnergy`] — `E(x, y, z)` with its
//!   gradient in `z`.
//! * [`minimise`] — gradient descent with a backtracking (Armijo) step, for `y` or `z`.
//! * [`enumerate`] — exhaustive minimisation over a finite set of candidates.
//! * [`free_energy`] — over a finite (enumerated or sampled) latent set of `K` values,
//!   `F_β = −(1/β)·log((1/K) Σ_k exp(−β E_k))` (the lecture notes' normalised softmin), with
//!   limits `min_k E_k` as β → ∞ and `mean_k E_k` as β → 0, and its gradient
//!   `∂F_β/∂E_k = softmax_k(−β E)` (the "softargmin" weights). [`free_energy_plain`] drops the
//!   `1/K` (the physics convention: `F_plain = F_β − (log K)/β`).

use crate::contrastive::logsumexp;
use crate::error::{invalid, EnergyError, Result};

/// A scalar energy `F(x, y)`: low for compatible pairs.
pub trait Energy {
    /// `F(x, y)`.
    fn energy(&self, x: &[f64], y: &[f64]) -> f64;
    /// `∂F/∂y` into `grad` (same length as `y`); returns `F(x, y)`.
    fn grad_y(&self, x: &[f64], y: &[f64], grad: &mut [f64]) -> f64;
}

/// A latent-variable energy `E(x, y, z)`.
pub trait LatentEnergy {
    /// `E(x, y, z)`.
    fn energy(&self, x: &[f64], y: &[f64], z: &[f64]) -> f64;
    /// `∂E/∂z` into `grad` (same length as `z`); returns `E(x, y, z)`.
    fn grad_z(&self, x: &[f64], y: &[f64], z: &[f64], grad: &mut [f64]) -> f64;
}

/// Settings of [`minimise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DescentSettings {
    /// First step size tried at each iteration (halved until the Armijo condition holds).
    pub step: f64,
    /// Maximum number of iterations.
    pub max_iter: usize,
    /// Stop when `‖∇‖ ≤ tol`.
    pub tol: f64,
}

impl Default for DescentSettings {
    /// Step 1, 500 iterations, tolerance 1e-8.
    fn default() -> Self {
        Self {
            step: 1.0,
            max_iter: 500,
            tol: 1e-8,
        }
    }
}

/// The result of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The argmin found.
    pub point: Vec<f64>,
    /// The energy there.
    pub energy: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the gradient norm fell below the tolerance.
    pub converged: bool,
}

/// Gradient descent on `f` (which writes `∇f(v)` and returns `f(v)`) from `start`, with a
/// backtracking line search: the step `η` is halved until
/// `f(v − η∇) ≤ f(v) − ½η‖∇‖²`. It finds a local minimum; the energy never increases.
///
/// # Errors
/// Bad settings, an empty or non-finite start, or a non-finite energy or gradient.
pub fn minimise(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
    s: DescentSettings,
) -> Result<Minimum> {
    if !(s.step.is_finite() && s.step > 0.0) {
        return Err(invalid("step", s.step, "a finite number > 0"));
    }
    if !(s.tol.is_finite() && s.tol >= 0.0) {
        return Err(invalid("tol", s.tol, "a finite number >= 0"));
    }
    if start.is_empty() || start.iter().any(|v| !v.is_finite()) {
        return Err(invalid(
            "start",
            format!("{start:?}"),
            "a non-empty finite vector",
        ));
    }
    let mut v = start.to_vec();
    let mut g = vec![0.0; v.len()];
    let mut trial = vec![0.0; v.len()];
    let mut scratch = vec![0.0; v.len()];
    let mut e = f(&v, &mut g);
    check_finite(e, &g)?;
    for it in 0..s.max_iter {
        let g2: f64 = g.iter().map(|x| x * x).sum();
        if g2.sqrt() <= s.tol {
            return Ok(Minimum {
                point: v,
                energy: e,
                iterations: it,
                converged: true,
            });
        }
        let mut eta = s.step;
        loop {
            trial
                .iter_mut()
                .zip(&v)
                .zip(&g)
                .for_each(|((t, v), g)| *t = v - eta * g);
            let et = f(&trial, &mut scratch);
            if et.is_finite() && et <= e - 0.5 * eta * g2 {
                break;
            }
            eta *= 0.5;
            if eta < 1e-300 {
                // No decrease possible along −∇ at machine precision: a minimum.
                return Ok(Minimum {
                    point: v,
                    energy: e,
                    iterations: it,
                    converged: true,
                });
            }
        }
        std::mem::swap(&mut v, &mut trial);
        e = f(&v, &mut g);
        check_finite(e, &g)?;
    }
    let converged = g.iter().map(|x| x * x).sum::<f64>().sqrt() <= s.tol;
    Ok(Minimum {
        point: v,
        energy: e,
        iterations: s.max_iter,
        converged,
    })
}

fn check_finite(e: f64, g: &[f64]) -> Result<()> {
    if e.is_finite() && g.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(EnergyError::NonFinite {
            what: "energy or gradient during minimisation",
            row: 0,
            col: 0,
            value: if e.is_finite() { f64::NAN } else { e },
        })
    }
}

/// `ŷ = argmin_y F(x, y)` by gradient descent from `y0`.
pub fn infer_y(model: &dyn Energy, x: &[f64], y0: &[f64], s: DescentSettings) -> Result<Minimum> {
    minimise(|y, g| model.grad_y(x, y, g), y0, s)
}

/// `ž = argmin_z E(x, y, z)` by gradient descent from `z0` (the zero-temperature free energy
/// `F∞(x, y) = E(x, y, ž)` is the returned energy).
pub fn infer_z(
    model: &dyn LatentEnergy,
    (x, y): (&[f64], &[f64]),
    z0: &[f64],
    s: DescentSettings,
) -> Result<Minimum> {
    minimise(|z, g| model.grad_z(x, y, z, g), z0, s)
}

/// `argmin_k E_k` over a finite set of candidates and its energy (the first one on ties).
///
/// # Errors
/// An empty set or a non-finite energy.
pub fn enumerate(energies: &[f64]) -> Result<(usize, f64)> {
    check_energies(energies)?;
    Ok(energies
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, f64::INFINITY),
            |(bi, b), (i, e)| if e < b { (i, e) } else { (bi, b) },
        ))
}

fn check_energies(energies: &[f64]) -> Result<()> {
    if energies.is_empty() {
        return Err(EnergyError::Shape {
            what: "energies",
            found: "[0]".into(),
            expected: "at least one latent value".into(),
        });
    }
    match energies.iter().position(|e| !e.is_finite()) {
        None => Ok(()),
        Some(i) => Err(EnergyError::NonFinite {
            what: "energies",
            row: 0,
            col: i,
            value: energies[i],
        }),
    }
}

/// A free energy and its gradient with respect to each `E_k`.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeEnergy {
    /// `F_β`.
    pub value: f64,
    /// `∂F_β/∂E_k`: the softargmin weights `softmax(−βE)` (they sum to 1).
    pub weights: Vec<f64>,
}

/// The normalised free energy `F_β = −(1/β)·log((1/K) Σ_k exp(−β E_k))` over `K` latent
/// values, for `β ∈ [0, ∞]`: `β = ∞` gives `min_k E_k` (weights one-hot on the first
/// minimiser) and `β = 0` gives `mean_k E_k` (uniform weights), the two limits.
///
/// # Errors
/// No energies, a non-finite energy, or `β` negative or NaN.
pub fn free_energy(energies: &[f64], beta: f64) -> Result<FreeEnergy> {
    check_energies(energies)?;
    if beta.is_nan() || beta < 0.0 {
        return Err(invalid("beta", beta, "a number in [0, inf]"));
    }
    let k = energies.len();
    if beta == 0.0 {
        return Ok(FreeEnergy {
            value: energies.iter().sum::<f64>() / k as f64,
            weights: vec![1.0 / k as f64; k],
        });
    }
    if beta.is_infinite() {
        let (i, e) = enumerate(energies)?;
        let mut weights = vec![0.0; k];
        weights[i] = 1.0;
        return Ok(FreeEnergy { value: e, weights });
    }
    let neg: Vec<f64> = energies.iter().map(|e| -beta * e).collect();
    let lse = logsumexp(&neg);
    Ok(FreeEnergy {
        value: -(lse - (k as f64).ln()) / beta,
        weights: neg.iter().map(|v| (v - lse).exp()).collect(),
    })
}

/// The physics convention `F = −(1/β)·log Σ_k exp(−β E_k)` (no `1/K`), `β ∈ (0, ∞]`.
pub fn free_energy_plain(energies: &[f64], beta: f64) -> Result<FreeEnergy> {
    if beta.is_nan() || beta <= 0.0 {
        return Err(invalid(
            "beta",
            beta,
            "a number in (0, inf] (F diverges at 0)",
        ));
    }
    let mut f = free_energy(energies, beta)?;
    if beta.is_finite() {
        f.value -= (energies.len() as f64).ln() / beta;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `F(x, y) = (y − x²)²` summed over coordinates: the parabola EBM.
    struct Parabola;

    impl Energy for Parabola {
        fn energy(&self, x: &[f64], y: &[f64]) -> f64 {
            x.iter().zip(y).map(|(x, y)| (y - x * x).powi(2)).sum()
        }
        fn grad_y(&self, x: &[f64], y: &[f64], grad: &mut [f64]) -> f64 {
            for ((g, x), y) in grad.iter_mut().zip(x).zip(y) {
                *g = 2.0 * (y - x * x);
            }
            self.energy(x, y)
        }
    }

    /// `E(y, z) = ‖y − (a cos z, b sin z)‖²`: the ellipse with its angle as latent.
    struct Ellipse {
        a: f64,
        b: f64,
    }

    impl LatentEnergy for Ellipse {
        fn energy(&self, _x: &[f64], y: &[f64], z: &[f64]) -> f64 {
            (y[0] - self.a * z[0].cos()).powi(2) + (y[1] - self.b * z[0].sin()).powi(2)
        }
        fn grad_z(&self, x: &[f64], y: &[f64], z: &[f64], grad: &mut [f64]) -> f64 {
            let (dx, dy) = (y[0] - self.a * z[0].cos(), y[1] - self.b * z[0].sin());
            grad[0] = 2.0 * dx * self.a * z[0].sin() - 2.0 * dy * self.b * z[0].cos();
            self.energy(x, y, z)
        }
    }

    #[test]
    fn free_energy_hand_values_and_limits() {
        let e = [1.0, 2.0, 4.0];
        let f = free_energy(&e, 1.0).unwrap();
        let want = -(((-1f64).exp() + (-2f64).exp() + (-4f64).exp()) / 3.0).ln();
        assert!((f.value - want).abs() < 1e-14);
        assert!((f.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!(
            (free_energy(&e, 1e6).unwrap().value - 1.0).abs() < 1e-5,
            "β → ∞: min"
        );
        assert!(
            (free_energy(&e, 1e-7).unwrap().value - 7.0 / 3.0).abs() < 1e-6,
            "β → 0: mean"
        );
        assert_eq!(free_energy(&e, f64::INFINITY).unwrap().value, 1.0);
        assert_eq!(free_energy(&e, 0.0).unwrap().value, 7.0 / 3.0);
        // min ≤ F_β ≤ mean, increasing in temperature (decreasing in β).
        let mut prev = 7.0 / 3.0;
        for beta in [0.1, 0.5, 1.0, 3.0, 10.0] {
            let v = free_energy(&e, beta).unwrap().value;
            assert!(v <= prev + 1e-12 && v >= 1.0, "β={beta}: {v}");
            prev = v;
        }
        let plain = free_energy_plain(&e, 2.0).unwrap().value;
        assert!((plain - (free_energy(&e, 2.0).unwrap().value - 3f64.ln() / 2.0)).abs() < 1e-14);
    }

    #[test]
    fn free_energy_gradient_is_softargmin() {
        let e = [0.3, -1.2, 2.5, 0.9];
        let f = free_energy(&e, 1.7).unwrap();
        for k in 0..e.len() {
            let h = 1e-6;
            let (mut p, mut m) = (e.to_vec(), e.to_vec());
            p[k] += h;
            m[k] -= h;
            let fd = (free_energy(&p, 1.7).unwrap().value - free_energy(&m, 1.7).unwrap().value)
                / (2.0 * h);
            assert!(
                (fd - f.weights[k]).abs() < 1e-8,
                "[{k}] {fd} vs {}",
                f.weights[k]
            );
        }
    }

    #[test]
    fn gradient_inference_finds_the_parabola_and_the_ellipse_angle() {
        let m = infer_y(
            &Parabola,
            &[1.5, -0.5],
            &[0.0, 0.0],
            DescentSettings::default(),
        )
        .unwrap();
        assert!(m.converged);
        assert!((m.point[0] - 2.25).abs() < 1e-8 && (m.point[1] - 0.25).abs() < 1e-8);
        let ell = Ellipse { a: 2.0, b: 1.0 };
        let y = [2.0 * 0.7f64.cos(), 0.7f64.sin()];
        let m = infer_z(&ell, (&[], &y), &[0.3], DescentSettings::default()).unwrap();
        assert!((m.point[0] - 0.7).abs() < 1e-6 && m.energy < 1e-12, "{m:?}");
        // Enumeration over a grid of angles agrees to the grid spacing.
        let grid: Vec<f64> = (0..360)
            .map(|i| i as f64 * std::f64::consts::TAU / 360.0)
            .collect();
        let energies: Vec<f64> = grid.iter().map(|z| ell.energy(&[], &y, &[*z])).collect();
        let (i, _) = enumerate(&energies).unwrap();
        assert!((grid[i] - 0.7).abs() <= std::f64::consts::TAU / 360.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(free_energy(&[], 1.0).is_err());
        assert!(free_energy(&[1.0, f64::NAN], 1.0).is_err());
        assert!(free_energy(&[1.0], -1.0)
            .unwrap_err()
            .to_string()
            .contains("beta"));
        assert!(free_energy_plain(&[1.0], 0.0).is_err());
        let bad = DescentSettings {
            step: 0.0,
            ..DescentSettings::default()
        };
        assert!(infer_y(&Parabola, &[1.0], &[0.0], bad)
            .unwrap_err()
            .to_string()
            .contains("step"));
        assert!(minimise(
            |_, g| {
                g[0] = f64::NAN;
                0.0
            },
            &[1.0],
            DescentSettings::default()
        )
        .is_err());
    }
}
