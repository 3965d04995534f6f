//! Langevin sampling from an energy, a replay buffer of negatives, and an energy model that is
//! linear in its parameters — trained by maximum likelihood with Langevin negatives or by
//! denoising score matching (REFERENCE §6).
//!
//! * Unadjusted Langevin dynamics: `x ← x − (ε/2)∇ₓE(x) + √ε·n`, `n ~ N(0, I)`, which samples
//!   `p(x) ∝ exp(−E(x))` as `ε → 0`.
//! * [`ReplayBuffer`] (Du & Mordatch 2019): each chain starts from a stored negative with
//!   probability `1 − restart` and from uniform noise in a box otherwise; the final samples
//!   are stored back.
//! * [`RbfEnergy`]: `E_θ(x) = θᵀφ(x)` with Gaussian bumps `φ_j(x) = exp(−‖x − μ_j‖²/(2s²))` plus
//!   a confining `c‖x‖²` term (fixed), so `∇_θ E = φ(x)` and `∇ₓE = J(x)ᵀθ + 2c·x`.
//!   * **Maximum likelihood**: `∇_θ L = E_data[φ(x)] − E_model[φ(x)]`, the model expectation
//!     over Langevin negatives (negatives are not differentiated through).
//!   * **Denoising score matching** (Vincent 2011): with `x̃ = x + σn` and the score
//!     `s(x̃) = −∇ₓE(x̃)`, `L = mean ½‖s(x̃) + (x̃ − x)/σ²‖²`, which is quadratic in θ here.

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::mlp::normal;
use crate::rng::SplitMix64;

/// Settings of Langevin sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LangevinSettings {
    /// Step size `ε`.
    pub step: f64,
    /// Steps per chain.
    pub steps: usize,
}

/// Runs `settings.steps` Langevin steps on every row of `x` in place, with `grad(x, g)` writing
/// `∇ₓE(x)` into `g`.
pub fn langevin(
    x: &mut Matrix,
    grad: &dyn Fn(&[f64], &mut [f64]),
    s: LangevinSettings,
    rng: &mut SplitMix64,
) -> Result<()> {
    if !(s.step.is_finite() && s.step > 0.0) {
        return Err(invalid("step", s.step, "a finite number > 0"));
    }
    let d = x.cols();
    let mut g = vec![0.0; d];
    let noise = s.step.sqrt();
    for i in 0..x.rows() {
        for _ in 0..s.steps {
            grad(x.row(i), &mut g);
            if g.iter().any(|v| !v.is_finite()) {
                return Err(EnergyError::NonFinite {
                    what: "energy gradient during Langevin sampling",
                    row: i,
                    col: 0,
                    value: f64::NAN,
                });
            }
            for (xv, gv) in x.row_mut(i).iter_mut().zip(&g) {
                *xv += -0.5 * s.step * gv + noise * normal(rng);
            }
        }
    }
    Ok(())
}

/// A replay buffer of negatives in a box `[lo, hi]^d`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBuffer {
    samples: Vec<Vec<f64>>,
    capacity: usize,
    lo: f64,
    hi: f64,
    dim: usize,
    restart: f64,
    next: usize,
}

impl ReplayBuffer {
    /// An empty buffer of `capacity` samples of dimension `dim`; chains restart from
    /// `U(lo, hi)^d` with probability `restart` (Du & Mordatch: 0.05).
    pub fn new(capacity: usize, dim: usize, (lo, hi): (f64, f64), restart: f64) -> Result<Self> {
        let box_ok = lo.is_finite() && hi.is_finite() && lo < hi;
        if capacity == 0 || dim == 0 || !box_ok || !(0.0..=1.0).contains(&restart) {
            return Err(invalid(
                "replay buffer",
                format!("capacity {capacity}, dim {dim}, box [{lo}, {hi}], restart {restart}"),
                "capacity, dim >= 1, lo < hi, restart in [0, 1]",
            ));
        }
        Ok(Self {
            samples: Vec::new(),
            capacity,
            lo,
            hi,
            dim,
            restart,
            next: 0,
        })
    }

    /// Number of stored samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// `n` chain starts.
    pub fn starts(&self, n: usize, rng: &mut SplitMix64) -> Result<Matrix> {
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                if self.samples.is_empty() || rng.uniform() < self.restart {
                    (0..self.dim)
                        .map(|_| self.lo + (self.hi - self.lo) * rng.uniform())
                        .collect()
                } else {
                    self.samples[rng.below(self.samples.len())].clone()
                }
            })
            .collect();
        Matrix::from_rows(&rows)
    }

    /// Stores the rows of `x` (oldest entries replaced once full).
    pub fn push(&mut self, x: &Matrix) {
        for row in x.row_iter() {
            if self.samples.len() < self.capacity {
                self.samples.push(row.to_vec());
            } else {
                self.samples[self.next] = row.to_vec();
                self.next = (self.next + 1) % self.capacity;
            }
        }
    }
}

/// `E_θ(x) = θᵀφ(x) + c‖x‖²` with Gaussian-bump features (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct RbfEnergy {
    /// Centres `μ_j`, `[F, d]`.
    pub centres: Matrix,
    /// Bump width `s`.
    pub width: f64,
    /// Weights `θ [F]`.
    pub theta: Vec<f64>,
    /// Confinement `c ≥ 0`.
    pub confine: f64,
}

impl RbfEnergy {
    /// A model with centres on a regular `g × g` grid over `[lo, hi]²`, `θ = 0`.
    pub fn grid_2d(g: usize, (lo, hi): (f64, f64), width: f64, confine: f64) -> Result<Self> {
        let ok = lo.is_finite() && hi.is_finite() && lo < hi && width.is_finite() && width > 0.0;
        if g < 2 || !ok || !(confine.is_finite() && confine >= 0.0) {
            return Err(invalid(
                "grid",
                format!("{g} on [{lo}, {hi}], width {width}, confine {confine}"),
                "g >= 2, lo < hi, width > 0, confine >= 0",
            ));
        }
        let step = (hi - lo) / (g - 1) as f64;
        let rows: Vec<Vec<f64>> = (0..g * g)
            .map(|k| vec![lo + step * (k % g) as f64, lo + step * (k / g) as f64])
            .collect();
        Ok(Self {
            centres: Matrix::from_rows(&rows)?,
            width,
            theta: vec![0.0; g * g],
            confine,
        })
    }

    /// `φ(x) [F]`.
    pub fn features(&self, x: &[f64]) -> Vec<f64> {
        let s2 = 2.0 * self.width * self.width;
        self.centres
            .row_iter()
            .map(|m| (-m.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / s2).exp())
            .collect()
    }

    /// `E_θ(x)`.
    pub fn energy(&self, x: &[f64]) -> f64 {
        let f = self.features(x);
        f.iter().zip(&self.theta).map(|(a, b)| a * b).sum::<f64>()
            + self.confine * x.iter().map(|v| v * v).sum::<f64>()
    }

    /// `∇ₓE_θ(x)` into `g`: `Σ_j θ_j φ_j(x)(μ_j − x)/s² + 2c·x`.
    pub fn grad_x(&self, x: &[f64], g: &mut [f64]) {
        let f = self.features(x);
        let s2 = self.width * self.width;
        g.iter_mut()
            .zip(x)
            .for_each(|(g, x)| *g = 2.0 * self.confine * x);
        for ((m, fj), th) in self.centres.row_iter().zip(&f).zip(&self.theta) {
            let w = th * fj / s2;
            g.iter_mut()
                .zip(m.iter().zip(x))
                .for_each(|(g, (m, x))| *g += w * (m - x));
        }
    }

    /// `J(x)ᵀ` as rows: `∂φ_j/∂x = φ_j(x)(μ_j − x)/s²`, `[F, d]`.
    fn feature_jacobian(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let f = self.features(x);
        let s2 = self.width * self.width;
        self.centres
            .row_iter()
            .zip(&f)
            .map(|(m, fj)| m.iter().zip(x).map(|(m, x)| fj * (m - x) / s2).collect())
            .collect()
    }

    /// Denoising score matching loss and `∂L/∂θ` on `x [n, d]` with noisy copies `x̃`.
    pub fn dsm_loss_and_grad(
        &self,
        x: &Matrix,
        noisy: &Matrix,
        sigma: f64,
    ) -> Result<(f64, Vec<f64>)> {
        if x.rows() != noisy.rows() || x.cols() != noisy.cols() || x.cols() != self.centres.cols() {
            return Err(EnergyError::Shape {
                what: "noisy",
                found: noisy.shape_str(),
                expected: format!("{} with d = {}", x.shape_str(), self.centres.cols()),
            });
        }
        let n = x.rows() as f64;
        let mut grad = vec![0.0; self.theta.len()];
        let mut loss = 0.0;
        let mut gx = vec![0.0; x.cols()];
        for (xr, tr) in x.row_iter().zip(noisy.row_iter()) {
            self.grad_x(tr, &mut gx);
            // r = s(x̃) + (x̃ − x)/σ² = −∇ₓE(x̃) + (x̃ − x)/σ²
            let r: Vec<f64> = gx
                .iter()
                .zip(tr.iter().zip(xr))
                .map(|(g, (t, x))| -g + (t - x) / (sigma * sigma))
                .collect();
            loss += 0.5 * r.iter().map(|v| v * v).sum::<f64>() / n;
            // ∂r/∂θ_j = −∂φ_j/∂x, so ∂L/∂θ_j = −(∂φ_j/∂x)·r / n.
            for (gj, jrow) in grad.iter_mut().zip(self.feature_jacobian(tr)) {
                *gj -= jrow.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>() / n;
            }
        }
        Ok((loss, grad))
    }

    /// Maximum-likelihood gradient `E_data[φ] − E_neg[φ]` from data and negatives.
    pub fn ml_grad(&self, data: &Matrix, negatives: &Matrix) -> Vec<f64> {
        let mean = |m: &Matrix| -> Vec<f64> {
            let mut acc = vec![0.0; self.theta.len()];
            for r in m.row_iter() {
                acc.iter_mut()
                    .zip(self.features(r))
                    .for_each(|(a, f)| *a += f);
            }
            acc.iter().map(|a| a / m.rows() as f64).collect()
        };
        mean(data)
            .iter()
            .zip(mean(negatives))
            .map(|(a, b)| a - b)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n: usize, rng: &mut SplitMix64) -> Matrix {
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let c = if i % 2 == 0 { -1.0 } else { 1.0 };
                vec![c + 0.2 * normal(rng), 0.2 * normal(rng)]
            })
            .collect();
        Matrix::from_rows(&rows).unwrap()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut e = RbfEnergy::grid_2d(4, (-2.0, 2.0), 0.8, 0.1).unwrap();
        e.theta
            .iter_mut()
            .enumerate()
            .for_each(|(j, t)| *t = (j as f64 * 0.7).sin());
        let x = [0.3, -0.4];
        let mut g = [0.0; 2];
        e.grad_x(&x, &mut g);
        for k in 0..2 {
            let (mut p, mut m) = (x, x);
            p[k] += 1e-6;
            m[k] -= 1e-6;
            let fd = (e.energy(&p) - e.energy(&m)) / 2e-6;
            assert!((fd - g[k]).abs() < 1e-6, "∂E/∂x[{k}] {fd} vs {}", g[k]);
        }
        let data = Matrix::new(2, 2, vec![0.1, 0.2, -0.5, 0.3]).unwrap();
        let noisy = Matrix::new(2, 2, vec![0.15, 0.1, -0.4, 0.35]).unwrap();
        let (_, gt) = e.dsm_loss_and_grad(&data, &noisy, 0.3).unwrap();
        for j in [0usize, 5, 9] {
            let (mut a, mut b) = (e.clone(), e.clone());
            a.theta[j] += 1e-6;
            b.theta[j] -= 1e-6;
            let fd = (a.dsm_loss_and_grad(&data, &noisy, 0.3).unwrap().0
                - b.dsm_loss_and_grad(&data, &noisy, 0.3).unwrap().0)
                / 2e-6;
            assert!(
                (fd - gt[j]).abs() < 1e-6 * fd.abs().max(1.0),
                "θ[{j}] {fd} vs {}",
                gt[j]
            );
        }
    }

    #[test]
    fn langevin_samples_a_known_gaussian() {
        // E(x) = ‖x‖²/2 (θ = 0, c = ½): p = N(0, I).
        let e = RbfEnergy::grid_2d(2, (-1.0, 1.0), 1.0, 0.5).unwrap();
        let mut rng = SplitMix64::new(3);
        let mut x = Matrix::zeros(2000, 2);
        let s = LangevinSettings {
            step: 0.05,
            steps: 200,
        };
        langevin(&mut x, &|x, g| e.grad_x(x, g), s, &mut rng).unwrap();
        let var = x.column_variances(1);
        for v in var {
            assert!((v - 1.0).abs() < 0.1, "variance {v}, expected ≈ 1");
        }
    }

    #[test]
    fn ml_with_replay_buffer_and_dsm_both_learn_two_blobs() {
        let mut rng = SplitMix64::new(4);
        let data = blobs(200, &mut rng);
        let probe_far = [0.0, 1.5];
        let probe_blob = [1.0, 0.0];
        // Maximum likelihood with Langevin negatives from a replay buffer.
        let mut ml = RbfEnergy::grid_2d(7, (-2.5, 2.5), 0.6, 0.05).unwrap();
        let mut buffer = ReplayBuffer::new(1000, 2, (-2.5, 2.5), 0.05).unwrap();
        let s = LangevinSettings {
            step: 0.01,
            steps: 20,
        };
        for _ in 0..300 {
            let mut neg = buffer.starts(64, &mut rng).unwrap();
            let model = ml.clone();
            langevin(&mut neg, &|x, g| model.grad_x(x, g), s, &mut rng).unwrap();
            buffer.push(&neg);
            let g = ml.ml_grad(&data, &neg);
            ml.theta.iter_mut().zip(&g).for_each(|(t, g)| *t -= 0.5 * g);
        }
        assert!(
            ml.energy(&probe_blob) + 1.0 < ml.energy(&probe_far),
            "ML: blob not lower"
        );
        // Denoising score matching (quadratic in θ: plain gradient descent).
        let mut dsm = RbfEnergy::grid_2d(7, (-2.5, 2.5), 0.6, 0.05).unwrap();
        let sigma = 0.3;
        for _ in 0..400 {
            let noisy: Vec<f64> = data
                .as_slice()
                .iter()
                .map(|v| v + sigma * normal(&mut rng))
                .collect();
            let noisy = Matrix::new(data.rows(), 2, noisy).unwrap();
            let (_, g) = dsm.dsm_loss_and_grad(&data, &noisy, sigma).unwrap();
            dsm.theta
                .iter_mut()
                .zip(&g)
                .for_each(|(t, g)| *t -= 0.05 * g);
        }
        assert!(
            dsm.energy(&probe_blob) + 1.0 < dsm.energy(&probe_far),
            "DSM: blob not lower"
        );
        assert!(buffer.len() == 1000);
    }
}
