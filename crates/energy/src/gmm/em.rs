//! The two EM half-steps of [`GaussianMixture`](super::GaussianMixture) and their kernels.
//!
//! E-step: log r_nk = log π_k − ½(p log 2π + ‖(x_n − μ_k)U_k‖²) + Σ log diag U_k − log p(x_n),
//! in parallel blocks of samples. M-step: n_k, μ_k and Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ
//! / n_k + reg·I per component in parallel, then U_k = (L_k⁻¹)ᵀ from Σ_k = L_kL_kᵀ.

use rayon::prelude::*;

use crate::error::{EnergyError, Result};
use crate::linalg::{cholesky, lower_inverse};
use crate::matrix::Matrix;
use crate::simd::accumulate_lower;

/// Samples per parallel block of the E-step.
const E_BLOCK: usize = 512;

/// Per-component constants of the E-step.
pub(super) struct Components<'a> {
    log_weights: Vec<f64>,
    means: &'a Matrix,
    prec_chol: &'a [Matrix],
    /// Σ log diag U_k − ½ p log 2π.
    log_norm: Vec<f64>,
}

impl<'a> Components<'a> {
    pub(super) fn new(weights: &[f64], means: &'a Matrix, prec_chol: &'a [Matrix]) -> Self {
        let p = means.cols();
        let half_log_2pi = 0.5 * p as f64 * (2.0 * std::f64::consts::PI).ln();
        Self {
            log_weights: weights.iter().map(|w| w.ln()).collect(),
            means,
            prec_chol,
            log_norm: prec_chol
                .iter()
                .map(|u| (0..p).map(|i| u[(i, i)].ln()).sum::<f64>() - half_log_2pi)
                .collect(),
        }
    }

    /// log π_k + log N(x; μ_k, Σ_k) for every k, into `out`.
    #[inline(always)]
    fn weighted_log_prob(&self, x: &[f64], d: &mut [f64], out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            for ((d, &v), &m) in d.iter_mut().zip(x).zip(self.means.row(k)) {
                *d = v - m;
            }
            let q = mahalanobis_sq(d, &self.prec_chol[k]);
            *o = self.log_weights[k] + self.log_norm[k] - 0.5 * q;
        }
    }
}

/// Columns of `y` computed together in registers by [`mahalanobis_sq`].
const Y_BLOCK: usize = 8;

/// ‖dU‖² for U upper triangular `[p, p]`: y_j = Σ_{i ≤ j} d_i U_ij is accumulated in blocks of
/// [`Y_BLOCK`] columns held in registers (rows below the block's last column are zero and
/// skipped), i ascending as in a plain loop.
#[inline(always)]
fn mahalanobis_sq(d: &[f64], u: &Matrix) -> f64 {
    let p = d.len();
    let mut q = [0.0f64; Y_BLOCK];
    let mut j0 = 0;
    while j0 + Y_BLOCK <= p {
        let mut acc = [0.0f64; Y_BLOCK];
        for (i, &di) in d[..j0 + Y_BLOCK].iter().enumerate() {
            let ui = &u.row(i)[j0..j0 + Y_BLOCK];
            for t in 0..Y_BLOCK {
                acc[t] += di * ui[t];
            }
        }
        for t in 0..Y_BLOCK {
            q[t] += acc[t] * acc[t];
        }
        j0 += Y_BLOCK;
    }
    let mut tail = 0.0;
    for j in j0..p {
        let yj: f64 = (0..=j).map(|i| d[i] * u[(i, j)]).sum();
        tail += yj * yj;
    }
    q.iter().sum::<f64>() + tail
}

crate::simd::avx2_dispatch! {
    fn e_block(rows: &[f64], comps: &Components<'_>, resp: &mut [f64], norm: &mut [f64]) -> () =
        e_block_generic;
}

/// E-step on a block of rows: log responsibilities into `resp` `[rows, k]`, log p(x) into
/// `norm`.
#[inline(always)]
fn e_block_generic(rows: &[f64], comps: &Components<'_>, resp: &mut [f64], norm: &mut [f64]) {
    let p = comps.means.cols();
    let k = comps.log_weights.len();
    let mut d = vec![0.0; p];
    for ((r, out), nrm) in rows.chunks_exact(p).zip(resp.chunks_exact_mut(k)).zip(norm) {
        comps.weighted_log_prob(r, &mut d, out);
        let m = out.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = if m.is_finite() {
            m + out.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
        } else {
            m
        };
        out.iter_mut().for_each(|v| *v -= lse);
        *nrm = lse;
    }
}

/// E-step: log responsibilities `[n, k]` and log p(x_n) `[n]`.
pub(super) fn e_step(x: &Matrix, comps: &Components) -> (Matrix, Vec<f64>) {
    let (n, p, k) = (x.rows(), x.cols(), comps.log_weights.len());
    let mut log_resp = vec![0.0; n * k];
    let mut log_norm = vec![0.0; n];
    x.as_slice()
        .par_chunks(E_BLOCK * p)
        .zip(log_resp.par_chunks_mut(E_BLOCK * k))
        .zip(log_norm.par_chunks_mut(E_BLOCK))
        .for_each(|((rows, resp), norm)| e_block(rows, comps, resp, norm));
    let resp = Matrix::from_parts(n, k, log_resp);
    (resp, log_norm)
}

/// Gaussian parameters from responsibilities `[n, k]`: (n_k, means, covariances).
pub(super) fn estimate_parameters(
    x: &Matrix,
    resp: &Matrix,
    reg: f64,
) -> (Vec<f64>, Matrix, Vec<Matrix>) {
    let (p, k) = (x.cols(), resp.cols());
    let eps10 = 10.0 * f64::EPSILON;
    let per_k: Vec<(f64, Vec<f64>, Matrix)> = (0..k)
        .into_par_iter()
        .map(|c| {
            let mut nk = 0.0;
            let mut mean = vec![0.0; p];
            for (r, w) in x.row_iter().zip(resp.row_iter()) {
                let w = w[c];
                nk += w;
                mean.iter_mut().zip(r).for_each(|(m, v)| *m += w * v);
            }
            let nk = nk + eps10;
            mean.iter_mut().for_each(|m| *m /= nk);
            let cov = weighted_scatter(x, resp, c, &mean);
            let mut m = Matrix::zeros(p, p);
            for i in 0..p {
                for j in 0..=i {
                    // Symmetrise from the lower triangle (the scatter is symmetric up to
                    // rounding; scikit-learn's BLAS product is symmetric to rounding too).
                    let v = cov[i * p + j] / nk;
                    m[(i, j)] = v;
                    m[(j, i)] = v;
                }
                m[(i, i)] += reg;
            }
            (nk, mean, m)
        })
        .collect();
    let mut nks = Vec::with_capacity(k);
    let mut means = Matrix::zeros(k, p);
    let mut covs = Vec::with_capacity(k);
    for (c, (nk, mean, cov)) in per_k.into_iter().enumerate() {
        nks.push(nk);
        means.row_mut(c).copy_from_slice(&mean);
        covs.push(cov);
    }
    (nks, means, covs)
}

crate::simd::avx2_dispatch! {
    fn weighted_scatter(x: &Matrix, resp: &Matrix, c: usize, mean: &[f64]) -> Vec<f64> =
        weighted_scatter_generic;
}

/// Samples centred and weighted at a time by [`weighted_scatter`] (fits in L1/L2).
const SCATTER_CHUNK: usize = 128;

/// Σ_n r_nc (x_n − μ)(x_n − μ)ᵀ in a row-major `[p, p]` buffer, valid on and below the
/// diagonal. Chunks of samples are centred (D) and weighted (A = r∘D) once, then
/// [`accumulate_lower`] adds AᵀD (as scikit-learn's BLAS product `(resp·diffᵀ)·diff`).
#[inline(always)]
fn weighted_scatter_generic(x: &Matrix, resp: &Matrix, c: usize, mean: &[f64]) -> Vec<f64> {
    let (n, p) = (x.rows(), x.cols());
    let mut cov = vec![0.0; p * p];
    let mut dch = vec![0.0; SCATTER_CHUNK * p];
    let mut ach = vec![0.0; SCATTER_CHUNK * p];
    for start in (0..n).step_by(SCATTER_CHUNK) {
        let m = (n - start).min(SCATTER_CHUNK);
        for t in 0..m {
            let w = resp[(start + t, c)];
            let (dr, ar) = (&mut dch[t * p..(t + 1) * p], &mut ach[t * p..(t + 1) * p]);
            for (((d, a), &v), &mu) in dr.iter_mut().zip(ar).zip(x.row(start + t)).zip(mean) {
                *d = v - mu;
                *a = w * *d;
            }
        }
        accumulate_lower(&ach[..m * p], &dch[..m * p], p, &mut cov);
    }
    cov
}

/// U_k = (L_k⁻¹)ᵀ for each covariance Σ_k = L_kL_kᵀ.
pub(super) fn precision_cholesky(covs: &[Matrix]) -> Result<Vec<Matrix>> {
    covs.iter()
        .enumerate()
        .map(|(c, cov)| {
            let l = cholesky(cov, || format!("the covariance of component {c}")).map_err(|_| {
                EnergyError::NotPositiveDefinite {
                    what: format!("the covariance of component {c}"),
                    hint: " (the component collapsed onto too few points: increase \
                           reg-covar, reduce k, or scale the data)",
                }
            })?;
            Ok(lower_inverse(&l).transpose())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data with p = 13 (full 4 × 8 tiles and remainders) from a fixed formula.
    fn wide(n: usize, p: usize) -> Matrix {
        let v = (0..n * p)
            .map(|k| ((k * 37 % 101) as f64 / 17.0).sin() + (k % p) as f64 * 0.1)
            .collect();
        Matrix::new(n, p, v).unwrap()
    }

    #[test]
    fn tiled_kernels_equal_plain_loops_and_dispatch_is_bit_exact() {
        let (n, p, k) = (301, 13, 2);
        let x = wide(n, p);
        let resp = Matrix::new(n, k, (0..n * k).map(|i| ((i % 7) as f64) / 7.0).collect()).unwrap();
        let mean: Vec<f64> = (0..p).map(|j| 0.05 * j as f64).collect();
        for c in 0..k {
            let tiled = weighted_scatter_generic(&x, &resp, c, &mean);
            assert_eq!(
                tiled,
                weighted_scatter(&x, &resp, c, &mean),
                "AVX2 and baseline copies differ"
            );
            for i in 0..p {
                for j in 0..=i {
                    let plain: f64 = (0..n)
                        .map(|t| resp[(t, c)] * (x[(t, i)] - mean[i]) * (x[(t, j)] - mean[j]))
                        .sum();
                    let got = tiled[i * p + j];
                    assert!(
                        (got - plain).abs() < 1e-12 * plain.abs().max(1.0),
                        "({i},{j})"
                    );
                }
            }
        }
        // An upper-triangular U with a p = 13 row: blocked ‖dU‖² vs the plain double loop.
        let mut u = Matrix::zeros(p, p);
        for i in 0..p {
            for j in i..p {
                u[(i, j)] = 1.0 + ((i * 5 + j * 3) % 7) as f64 * 0.1;
            }
        }
        let d: Vec<f64> = (0..p).map(|i| (i as f64 * 0.7).cos()).collect();
        let plain: f64 = (0..p)
            .map(|j| (0..=j).map(|i| d[i] * u[(i, j)]).sum::<f64>().powi(2))
            .sum();
        assert!((mahalanobis_sq(&d, &u) - plain).abs() < 1e-12 * plain);
    }
}
