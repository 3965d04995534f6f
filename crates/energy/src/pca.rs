//! Principal component analysis as a linear auto-encoder energy, with scikit-learn semantics.
//!
//! With `μ` the column mean and `C = (X−μ)ᵀ(X−μ)/(n−1)` the sample covariance (ddof = 1),
//! the eigenpairs `C w_i = λ_i w_i` (λ descending, [`symmetric_eigen`]) give
//! * `components_` = the first `k` eigenvectors as rows; each row's first largest-|·| entry is
//!   made positive (scikit-learn ≥ 1.5 `svd_flip(u_based_decision=False)`);
//! * `explained_variance_` = λ₁..λ_k (negative rounding clipped to 0);
//!   `explained_variance_ratio_` = λ_i / Σ_{j ≤ r} λ_j with `r = min(n, p)`;
//!   `singular_values_` = √(λ_i (n−1)); `noise_variance_` σ² = mean(λ_{k+1..r}), 0 if `k = r`.
//!   With more samples than features and `k ≤ p/4` only λ₁..λ_k are computed
//!   ([`largest_symmetric_eigen`]) and Σ_{j ≤ p} λ_j = tr C (equal up to rounding).
//!
//! The covariance is a `syrk` ([`crate::scatter`]: a packed AVX-512 kernel, or faer) on slabs
//! of rows summed in a fixed order, so a fit returns the same bits on any thread count.
//!
//! Energy (DESIGN §10, Baldi & Hornik 1989): E(x) = ‖x − μ − WᵀW(x − μ)‖², the squared
//! reconstruction error; its mean over the training set is `(n−1)/n · Σ_{i>k} λ_i`.
//! Density (probabilistic PCA, Tipping & Bishop 1999): x ~ N(μ, Wᵀ diag(λ − σ²)₊ W + σ²I);
//! [`Pca::score_samples`] is its log-density, equal to scikit-learn's `PCA.score_samples`.

use rayon::prelude::*;

use crate::error::{invalid, EnergyError, Result};
use crate::linalg::{
    cholesky, largest_symmetric_eigen, log_det_from_cholesky, symmetric_eigen, JACOBI_MAX_DIM,
};
use crate::matrix::{check_data, dot, Matrix};
use crate::scatter::centred_scatter_lower;
use crate::simd::accumulate_lower;
use crate::{Fit, SampleEnergy};

/// Samples per parallel block of the hand-written covariance accumulation.
const GRAM_BLOCK: usize = 256;

/// Features from which the covariance goes through [`covariance_gemm`] (the packed AVX-512
/// kernel or faer); below, the register-tiled hand-written kernel measures faster.
const GEMM_MIN_FEATURES: usize = 64;

/// Slabs of rows the GEMM covariance is split into: fixed, so that the order of the sums does
/// not depend on the thread count; 8 keeps up to 8 cores busy and holds 8 partial `p × p` sums.
const COVARIANCE_SLABS: usize = 8;

/// Unchecked PCA hyper-parameters (build with [`Pca::params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PcaParams {
    n_components: usize,
}

/// Checked PCA hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaValidParams {
    n_components: usize,
}

impl PcaParams {
    /// Validates the parameters (`n_components ≥ 1`; the upper bound `min(n, p)` is checked
    /// against the data in `fit`).
    pub fn check(&self) -> Result<PcaValidParams> {
        if self.n_components == 0 {
            return Err(invalid("components", 0, "at least 1"));
        }
        Ok(PcaValidParams {
            n_components: self.n_components,
        })
    }
}

/// A fitted PCA (field names follow scikit-learn without the trailing underscore).
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Column means `μ`, `[p]`.
    pub mean: Vec<f64>,
    /// Principal axes as rows, `[k, p]`.
    pub components: Matrix,
    /// Variance along each axis (ddof = 1), `[k]`.
    pub explained_variance: Vec<f64>,
    /// Fraction of the total variance per axis, `[k]`.
    pub explained_variance_ratio: Vec<f64>,
    /// Singular values of the centred data, `[k]`.
    pub singular_values: Vec<f64>,
    /// Probabilistic-PCA noise variance σ² (mean of the discarded eigenvalues).
    pub noise_variance: f64,
    /// Samples seen in `fit`.
    pub n_samples: usize,
}

impl Pca {
    /// Parameters for `n_components` principal axes.
    pub fn params(n_components: usize) -> PcaParams {
        PcaParams { n_components }
    }

    /// Projections onto the principal axes, `[n, p] → [n, k]`.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        self.check_input(x)?;
        let k = self.components.rows();
        let mut out = Matrix::zeros(x.rows(), k);
        let mut d = vec![0.0; x.cols()];
        for (i, r) in x.row_iter().enumerate() {
            self.centre(r, &mut d);
            for c in 0..k {
                out[(i, c)] = dot(&d, self.components.row(c));
            }
        }
        Ok(out)
    }

    /// Back from projections to data space, `[n, k] → [n, p]`: `ZW + μ`.
    pub fn inverse_transform(&self, z: &Matrix) -> Result<Matrix> {
        z.check_shape("codes", None, Some(self.components.rows()))?;
        let mut out = z.matmul(&self.components)?;
        for i in 0..out.rows() {
            for (o, m) in out.row_mut(i).iter_mut().zip(&self.mean) {
                *o += m;
            }
        }
        Ok(out)
    }

    /// The probabilistic-PCA covariance `Wᵀ diag((λ − σ²)₊) W + σ² I`, `[p, p]`.
    pub fn covariance(&self) -> Matrix {
        let p = self.mean.len();
        let mut c = Matrix::identity(p);
        c.as_mut_slice()
            .iter_mut()
            .for_each(|v| *v *= self.noise_variance);
        for (w, &ev) in self.components.row_iter().zip(&self.explained_variance) {
            let s = if ev > self.noise_variance {
                ev - self.noise_variance
            } else {
                0.0
            };
            for i in 0..p {
                for j in 0..p {
                    c[(i, j)] += s * w[i] * w[j];
                }
            }
        }
        c
    }

    /// Log-density of each sample under probabilistic PCA, `[n]` (scikit-learn
    /// `score_samples`). Fails if the model covariance is singular (σ² = 0 with a
    /// zero-variance direction).
    pub fn score_samples(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.check_input(x)?;
        let p = self.mean.len();
        let l =
            cholesky(&self.covariance(), || "the PCA model covariance".into()).map_err(|_| {
                EnergyError::NotPositiveDefinite {
                    what: "the PCA model covariance".into(),
                    hint: " (a retained direction has zero variance and noise_variance_ is 0; \
                       keep fewer components)",
                }
            })?;
        let norm = 0.5 * (p as f64 * (2.0 * std::f64::consts::PI).ln() + log_det_from_cholesky(&l));
        let mut d = vec![0.0; p];
        let mut y = vec![0.0; p];
        Ok(x.row_iter()
            .map(|r| {
                self.centre(r, &mut d);
                for i in 0..p {
                    y[i] = (d[i] - dot(&l.row(i)[..i], &y[..i])) / l[(i, i)];
                }
                -0.5 * dot(&y, &y) - norm
            })
            .collect())
    }

    /// Mean log-density (scikit-learn `score`).
    pub fn score(&self, x: &Matrix) -> Result<f64> {
        let s = self.score_samples(x)?;
        Ok(s.iter().sum::<f64>() / s.len().max(1) as f64)
    }

    fn centre(&self, r: &[f64], d: &mut [f64]) {
        for ((d, &v), &m) in d.iter_mut().zip(r).zip(&self.mean) {
            *d = v - m;
        }
    }

    fn check_input(&self, x: &Matrix) -> Result<()> {
        x.check_shape("data", None, Some(self.mean.len()))?;
        x.check_finite("data")
    }
}

impl SampleEnergy for Pca {
    /// Squared reconstruction error `‖x − μ − WᵀW(x − μ)‖²` per sample.
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        let z = self.transform(x)?;
        let r = self.inverse_transform(&z)?;
        Ok(x.row_iter()
            .zip(r.row_iter())
            .map(|(a, b)| crate::matrix::sq_dist(a, b))
            .collect())
    }
}

impl Fit for PcaParams {
    type Model = Pca;
    fn fit(&self, x: &Matrix) -> Result<Pca> {
        self.check()?.fit(x)
    }
}

impl Fit for PcaValidParams {
    type Model = Pca;

    fn fit(&self, x: &Matrix) -> Result<Pca> {
        check_data(x, 2, "the variance uses n − 1")?;
        let (n, p) = (x.rows(), x.cols());
        let r = n.min(p);
        let k = self.n_components;
        if k > r {
            return Err(invalid(
                "components",
                k,
                format!("at most min(n_samples, n_features) = {r}"),
            ));
        }
        let mean = x.column_means();
        let cov = covariance(x, &mean);
        let (ev, total, noise_variance, vectors) = if partial_eigen(n, p, k) {
            // λ_{k+1..p} are not computed: their sum is tr C − Σ_{i ≤ k} λ_i (r = p here).
            let top = largest_symmetric_eigen(&cov, k)?;
            let ev: Vec<f64> = top.values.iter().map(|&v| v.max(0.0)).collect();
            let rest = (top.trace - ev.iter().sum::<f64>()).max(0.0);
            (ev, top.trace, rest / (r - k) as f64, top.vectors)
        } else {
            let eig = symmetric_eigen(&cov)?;
            let ev: Vec<f64> = eig.values[..r].iter().map(|&v| v.max(0.0)).collect();
            let total: f64 = ev.iter().sum();
            let noise = if k < r {
                ev[k..].iter().sum::<f64>() / (r - k) as f64
            } else {
                0.0
            };
            (ev[..k].to_vec(), total, noise, eig.vectors)
        };
        if total == 0.0 {
            return Err(EnergyError::Degenerate {
                what: "data",
                why: "every feature is constant (total variance 0), so there are no principal \
                      axes and explained_variance_ratio_ would be 0/0",
            });
        }
        // The first k eigenvectors (columns of `vectors`) as rows.
        let mut components = Matrix::zeros(k, p);
        for c in 0..k {
            for j in 0..p {
                components[(c, j)] = vectors[(j, c)];
            }
            flip_sign(components.row_mut(c));
        }
        Ok(Pca {
            mean,
            components,
            explained_variance_ratio: ev.iter().map(|v| v / total).collect(),
            singular_values: ev.iter().map(|v| (v * (n - 1) as f64).sqrt()).collect(),
            explained_variance: ev,
            noise_variance,
            n_samples: n,
        })
    }
}

/// Whether [`PcaValidParams::fit`] takes only the `k` leading eigenpairs
/// ([`largest_symmetric_eigen`]) instead of the whole spectrum: more samples than features
/// (so `r = p` and the discarded variance is `tr C − Σ λ_{≤k}`), a matrix past the Jacobi
/// size, and `k ≤ p/4` (a few eigenvectors of many; measured 2–2.7× faster than the full
/// decomposition at p = 784–1000, k = 16).
fn partial_eigen(n: usize, p: usize, k: usize) -> bool {
    n > p && p > JACOBI_MAX_DIM && 4 * k <= p
}

/// Makes the first entry of largest magnitude positive (numpy `argmax` picks the first).
fn flip_sign(row: &mut [f64]) {
    let mut best = 0;
    for (j, v) in row.iter().enumerate() {
        if v.abs() > row[best].abs() {
            best = j;
        }
    }
    if row[best] < 0.0 {
        row.iter_mut().for_each(|v| *v = -*v);
    }
}

crate::simd::avx2_dispatch! {
    fn gram_block(block: &[f64], mean: &[f64]) -> Vec<f64> = gram_block_generic;
}

/// Σ (x−μ)(x−μ)ᵀ over a block of rows, row-major `[p, p]`, valid on and below the diagonal:
/// the rows are centred once, then [`accumulate_lower`] adds DᵀD in register tiles.
#[inline(always)]
fn gram_block_generic(block: &[f64], mean: &[f64]) -> Vec<f64> {
    let p = mean.len();
    let mut g = vec![0.0; p * p];
    let mut d = block.to_vec();
    for r in d.chunks_exact_mut(p) {
        r.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
    }
    accumulate_lower(&d, &d, p, &mut g);
    g
}

/// Sample covariance `C = (X−μ)ᵀ(X−μ)/(n−1)`: [`covariance_gemm`] from
/// [`GEMM_MIN_FEATURES`] features on, [`covariance_tiled`] below.
fn covariance(x: &Matrix, mean: &[f64]) -> Matrix {
    if x.cols() >= GEMM_MIN_FEATURES {
        covariance_gemm(x, mean)
    } else {
        covariance_tiled(x, mean)
    }
}

/// `C = Σ_b S_b / (n−1)` with `S_b` the centred scatter of slab `b`
/// ([`centred_scatter_lower`]: the packed AVX-512 kernel, or faer's lower-triangular GEMM).
/// The rows are split into [`COVARIANCE_SLABS`] contiguous slabs whatever the number of
/// threads, and the partials are summed in slab order, so the result is the same bits on any
/// thread count. The rows are centred before the product, not `XᵀX − nμμᵀ` afterwards, so a
/// large mean does not cancel digits.
fn covariance_gemm(x: &Matrix, mean: &[f64]) -> Matrix {
    let (n, p) = (x.rows(), x.cols());
    let slab = n.div_ceil(COVARIANCE_SLABS);
    let partials: Vec<Vec<f64>> = x
        .as_slice()
        .par_chunks(slab * p)
        .map(|rows| centred_scatter_lower(rows, mean))
        .collect();
    covariance_from_partials(&partials, p, n)
}

/// The covariance accumulated over blocks of samples in parallel by the register-tiled
/// [`accumulate_lower`] and summed in block order (deterministic for any thread count).
fn covariance_tiled(x: &Matrix, mean: &[f64]) -> Matrix {
    let p = x.cols();
    let partials: Vec<Vec<f64>> = x
        .as_slice()
        .par_chunks(GRAM_BLOCK * p)
        .map(|block| gram_block(block, mean))
        .collect();
    covariance_from_partials(&partials, p, x.rows())
}

/// `C = Σ_b G_b / (n−1)` from partial scatter matrices `G_b` (row-major `[p, p]`, valid on
/// and below the diagonal) summed in their order, mirrored above the diagonal.
fn covariance_from_partials(partials: &[Vec<f64>], p: usize, n: usize) -> Matrix {
    let mut c = Matrix::zeros(p, p);
    let scale = 1.0 / (n - 1) as f64;
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = partials.iter().map(|g| g[i * p + j]).sum::<f64>() * scale;
            c[(i, j)] = s;
            c[(j, i)] = s;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Matrix {
        Matrix::from_rows(&[
            vec![2.0, 0.0, 1.0],
            vec![0.0, 1.0, 1.0],
            vec![-2.0, 0.5, 1.0],
            vec![4.0, -1.0, 1.0],
            vec![1.0, 2.0, 1.0],
        ])
        .unwrap()
    }

    #[test]
    fn components_are_orthonormal_and_signs_follow_svd_flip() {
        let m = Pca::params(2).fit(&data()).unwrap();
        for i in 0..2 {
            let row = m.components.row(i);
            let big = row.iter().cloned().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(row.contains(&big), "largest entry not positive");
            for j in 0..2 {
                let d = dot(row, m.components.row(j));
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
        // The third feature is constant: it carries no variance.
        assert!(m.noise_variance.abs() < 1e-14, "{}", m.noise_variance);
        let energy = m.energy(&data()).unwrap();
        assert!(energy.iter().all(|e| e.abs() < 1e-20));
    }

    #[test]
    fn mean_energy_is_the_discarded_variance() {
        let m = Pca::params(1).fit(&data()).unwrap();
        let e = m.energy(&data()).unwrap();
        let mean = e.iter().sum::<f64>() / 5.0;
        assert!((mean - 4.0 / 5.0 * m.noise_variance * 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_singular_model_covariance_is_an_error_not_nan() {
        // k = 2 of r = 3 keeps noise_variance = 0 (the constant feature): singular density.
        let m = Pca::params(2).fit(&data()).unwrap();
        assert!(matches!(
            m.score_samples(&data()),
            Err(EnergyError::NotPositiveDefinite { .. })
        ));
    }

    #[test]
    fn bad_parameters_and_data_are_rejected() {
        assert!(matches!(
            Pca::params(0).check(),
            Err(EnergyError::InvalidParam {
                name: "components",
                ..
            })
        ));
        assert!(matches!(
            Pca::params(4).fit(&data()),
            Err(EnergyError::InvalidParam { .. })
        ));
        let constant =
            Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0, 2.0]]).unwrap();
        assert!(matches!(
            Pca::params(1).fit(&constant),
            Err(EnergyError::Degenerate { what: "data", .. })
        ));
        let one = Matrix::from_rows(&[vec![1.0, 2.0]]).unwrap();
        assert!(matches!(
            Pca::params(1).fit(&one),
            Err(EnergyError::TooFewSamples { .. })
        ));
        let mut x = data();
        x[(3, 1)] = f64::NAN;
        assert!(matches!(
            Pca::params(1).fit(&x),
            Err(EnergyError::NonFinite { row: 3, col: 1, .. })
        ));
    }

    #[test]
    fn gram_dispatch_is_bit_exact_and_equals_the_plain_sum() {
        let (n, p) = (37, 11);
        let block: Vec<f64> = (0..n * p).map(|k| ((k * 13 % 29) as f64).sqrt()).collect();
        let mean: Vec<f64> = (0..p).map(|j| j as f64 * 0.3).collect();
        let g = gram_block_generic(&block, &mean);
        assert_eq!(g, gram_block(&block, &mean));
        for i in 0..p {
            for j in 0..=i {
                let plain: f64 = block
                    .chunks_exact(p)
                    .map(|r| (r[i] - mean[i]) * (r[j] - mean[j]))
                    .sum();
                assert!((g[i * p + j] - plain).abs() < 1e-12 * plain.abs().max(1.0));
            }
        }
    }

    /// Correlated data with a large mean (1e3), distinct variances per direction.
    fn correlated(n: usize, p: usize) -> Matrix {
        let mut rng = crate::rng::SplitMix64::new(7);
        let mix: Vec<f64> = (0..p * p).map(|_| rng.uniform() - 0.5).collect();
        let mut x = Matrix::zeros(n, p);
        for i in 0..n {
            let z: Vec<f64> = (0..p)
                .map(|j| (rng.uniform() - 0.5) * 3.0 / (1.0 + j as f64).sqrt())
                .collect();
            for c in 0..p {
                x[(i, c)] = 1e3 + (0..p).map(|j| z[j] * mix[j * p + c]).sum::<f64>();
            }
        }
        x
    }

    #[test]
    fn gemm_covariance_equals_the_tiled_sum() {
        let x = correlated(700, GEMM_MIN_FEATURES + 3);
        let mean = x.column_means();
        let (g, t) = (covariance_gemm(&x, &mean), covariance_tiled(&x, &mean));
        let scale = (0..x.cols()).map(|i| t[(i, i)]).fold(0.0, f64::max);
        for (a, b) in g.as_slice().iter().zip(t.as_slice()) {
            assert!((a - b).abs() <= 1e-13 * scale, "{a} vs {b}");
        }
        assert_eq!(g, g.transpose(), "symmetric");
    }

    #[test]
    fn the_fast_paths_give_the_jacobi_reference_solution() {
        // p above both thresholds: GEMM covariance and faer eigensolver. The reference is the
        // hand-written path: tiled covariance, then Jacobi.
        let (n, p, k) = (400, 90, 6);
        const { assert!(GEMM_MIN_FEATURES > crate::linalg::JACOBI_MAX_DIM) };
        assert!(p >= GEMM_MIN_FEATURES);
        let x = correlated(n, p);
        let m = Pca::params(k).fit(&x).unwrap();
        let reference = crate::linalg::jacobi_eigen(&covariance_tiled(&x, &m.mean)).unwrap();
        let total: f64 = reference.values.iter().map(|v| v.max(0.0)).sum();
        for c in 0..k {
            let want = reference.values[c];
            assert!(
                (m.explained_variance[c] - want).abs() <= 1e-11 * want,
                "λ_{c}"
            );
            let ratio = m.explained_variance_ratio[c];
            assert!((ratio - want / total).abs() <= 1e-11 * ratio, "ratio_{c}");
            let cos: f64 = (0..p)
                .map(|j| m.components[(c, j)] * reference.vectors[(j, c)])
                .sum();
            assert!(
                (cos.abs() - 1.0).abs() < 1e-9,
                "component {c}: |cos| = {cos}"
            );
        }
        let noise = reference.values[k..].iter().sum::<f64>() / (p - k) as f64;
        assert!((m.noise_variance - noise).abs() <= 1e-10 * noise);
        // Mean reconstruction energy = (n−1)/n · Σ_{i>k} λ_i.
        let e = m.energy(&x).unwrap();
        let mean_e = e.iter().sum::<f64>() / n as f64;
        let want = (n - 1) as f64 / n as f64 * noise * (p - k) as f64;
        assert!((mean_e - want).abs() <= 1e-8 * want, "{mean_e} vs {want}");
    }

    #[test]
    fn the_covariance_is_the_same_bits_on_any_thread_count() {
        for (n, p) in [(300, 70), (5000, 64)] {
            let mut rng = crate::rng::SplitMix64::new(9);
            let x = Matrix::new(
                n,
                p,
                (0..n * p).map(|_| rng.uniform() * 3.0 + 1.0).collect(),
            )
            .unwrap();
            let mean = x.column_means();
            let on = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| covariance(&x, &mean))
            };
            let one = on(1);
            for threads in [2, 3, 5] {
                assert!(
                    on(threads).as_slice() == one.as_slice(),
                    "{threads} threads, n {n}"
                );
            }
        }
    }
}
