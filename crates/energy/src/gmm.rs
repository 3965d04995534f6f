//! Gaussian mixture (full covariances, EM) as a free energy, with scikit-learn semantics.
//!
//! Each component is an energy E_k(x) = −log π_k + ½(x−μ_k)ᵀΣ_k⁻¹(x−μ_k) + ½log det(2πΣ_k);
//! marginalising the component at β = 1 gives the free energy F(x) = −log Σ_k exp(−E_k(x)) =
//! −log p(x) (DESIGN §10). EM is exact coordinate descent on the variational free energy.
//!
//! The loop follows scikit-learn's `GaussianMixture.fit` with `n_init = 1`:
//! * E-step: log r_nk = log π_k + log N(x_n; μ_k, Σ_k) − log p(x_n), evaluated through
//!   `precisions_cholesky_` U_k (Σ_k⁻¹ = U_kU_kᵀ): log N = −½(p log 2π + ‖(x−μ_k)U_k‖²) +
//!   Σ log diag U_k;
//! * M-step: n_k = Σ_n r_nk + 10ε, μ_k = Σ_n r_nk x_n / n_k,
//!   Σ_k = Σ_n r_nk (x_n−μ_k)(x_n−μ_k)ᵀ / n_k + reg_covar·I, π = n / Σ n;
//!   U_k = (L_k⁻¹)ᵀ with Σ_k = L_kL_kᵀ;
//! * the lower bound is the mean log-likelihood of the E-step, i.e. of the parameters
//!   **before** the M-step; EM stops when it changes by less than `tol` (`converged_`).
//!   The returned parameters are those after the last M-step (so `score(X)` ≠ `lower_bound_`
//!   unless tightly converged).
//!
//! Initialisation: given weights, means and precisions (U from the flipped Cholesky of each
//! precision, as scikit-learn), or responsibilities from a seeded k-means++ + Lloyd run
//! (reproducible, not bit-equal to scikit-learn's k-means init); then π = n_k / n.

use rayon::prelude::*;

use crate::error::{invalid, EnergyError, Result};
use crate::kmeans::{KMeans, KMeansInit};
use crate::linalg::{cholesky, lower_inverse, upper_cholesky_of_precision};
use crate::matrix::{check_data, Matrix};
use crate::simd::accumulate_lower;
use crate::{Fit, SampleEnergy};

/// Samples per parallel block of the E-step.
const E_BLOCK: usize = 512;

/// How the mixture starts.
#[derive(Debug, Clone, PartialEq)]
pub enum GmmInit {
    /// Given parameters: weights `[k]` (summing to 1), means `[k, p]`, precisions `k × [p, p]`.
    Given {
        /// Mixing weights.
        weights: Vec<f64>,
        /// Means.
        means: Matrix,
        /// Precision matrices (inverse covariances), symmetric positive definite.
        precisions: Vec<Matrix>,
    },
    /// Hard responsibilities from k-means (k-means++ seeded with `seed`, then Lloyd).
    KMeans {
        /// Seed of the k-means++ seeding.
        seed: u64,
    },
}

/// Unchecked mixture hyper-parameters (build with [`GaussianMixture::params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GmmParams {
    n_components: usize,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
    init: GmmInit,
}

/// Checked mixture hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmValidParams(GmmParams);

impl GmmParams {
    /// EM iteration limit (default 100).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }
    /// Convergence threshold on the change of the lower bound (default 1e-3).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Added to each covariance diagonal (default 1e-6).
    pub fn reg_covar(mut self, reg_covar: f64) -> Self {
        self.reg_covar = reg_covar;
        self
    }
    /// Initialisation (default k-means with seed 0).
    pub fn init(mut self, init: GmmInit) -> Self {
        self.init = init;
        self
    }

    /// Validates everything that does not depend on the data.
    pub fn check(&self) -> Result<GmmValidParams> {
        let k = self.n_components;
        if k == 0 {
            return Err(invalid("k", 0, "at least 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max-iter", 0, "at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(invalid("tol", self.tol, "a finite number ≥ 0"));
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return Err(invalid("reg-covar", self.reg_covar, "a finite number ≥ 0"));
        }
        if let GmmInit::Given {
            weights,
            means,
            precisions,
        } = &self.init
        {
            check_given(k, weights, means, precisions)?;
        }
        Ok(GmmValidParams(self.clone()))
    }
}

fn check_given(k: usize, weights: &[f64], means: &Matrix, precisions: &[Matrix]) -> Result<()> {
    if weights.len() != k {
        return Err(EnergyError::Shape {
            what: "weights-init",
            found: format!("[{}]", weights.len()),
            expected: format!("[{k}]"),
        });
    }
    if let Some(w) = weights.iter().find(|w| !(0.0..=1.0).contains(*w)) {
        return Err(invalid("weights-init", w, "every weight in [0, 1]"));
    }
    let sum: f64 = weights.iter().sum();
    if (1.0 - sum).abs() > 1e-8 {
        return Err(invalid(
            "weights-init",
            format!("(sum {sum})"),
            "weights summing to 1",
        ));
    }
    means.check_shape("means-init", Some(k), None)?;
    means.check_finite("means-init")?;
    let p = means.cols();
    if precisions.len() != k {
        return Err(EnergyError::Shape {
            what: "precisions-init",
            found: format!("[{}, ..]", precisions.len()),
            expected: format!("[{k}, {p}, {p}]"),
        });
    }
    for (c, prec) in precisions.iter().enumerate() {
        prec.check_shape("precisions-init", Some(p), Some(p))?;
        prec.check_finite("precisions-init")?;
        for i in 0..p {
            for j in 0..i {
                let (a, b) = (prec[(i, j)], prec[(j, i)]);
                if (a - b).abs() > 1e-8 + 1e-5 * b.abs() {
                    return Err(EnergyError::NotPositiveDefinite {
                        what: format!("precisions-init[{c}] (entry ({i}, {j}) ≠ ({j}, {i}))"),
                        hint: "",
                    });
                }
            }
        }
    }
    Ok(())
}

/// A fitted Gaussian mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    /// Mixing weights π, `[k]`.
    pub weights: Vec<f64>,
    /// Means, `[k, p]`.
    pub means: Matrix,
    /// Covariances Σ_k, `k × [p, p]`.
    pub covariances: Vec<Matrix>,
    /// Upper-triangular U_k with Σ_k⁻¹ = U_kU_kᵀ, `k × [p, p]`.
    pub precisions_cholesky: Vec<Matrix>,
    /// EM iterations run.
    pub n_iter: usize,
    /// Whether the lower bound changed by less than `tol`.
    pub converged: bool,
    /// Mean log-likelihood at the last E-step (parameters before the last M-step).
    pub lower_bound: f64,
}

impl GaussianMixture {
    /// Parameters for `n_components` Gaussians.
    pub fn params(n_components: usize) -> GmmParams {
        GmmParams {
            n_components,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            init: GmmInit::KMeans { seed: 0 },
        }
    }

    /// log p(x) per sample, `[n]` (scikit-learn `score_samples`).
    pub fn score_samples(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.check_input(x)?;
        let comps = Components::new(&self.weights, &self.means, &self.precisions_cholesky);
        Ok(e_step(x, &comps).1)
    }

    /// Mean log-likelihood (scikit-learn `score`).
    pub fn score(&self, x: &Matrix) -> Result<f64> {
        let s = self.score_samples(x)?;
        Ok(s.iter().sum::<f64>() / s.len().max(1) as f64)
    }

    /// Posterior component probabilities, `[n, k]`.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.check_input(x)?;
        let comps = Components::new(&self.weights, &self.means, &self.precisions_cholesky);
        let (mut r, _) = e_step(x, &comps);
        r.as_mut_slice().iter_mut().for_each(|v| *v = v.exp());
        Ok(r)
    }

    /// Most probable component per sample.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let r = self.predict_proba(x)?;
        Ok(r.row_iter()
            .map(|row| {
                let mut best = 0;
                for (k, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = k;
                    }
                }
                best
            })
            .collect())
    }

    fn check_input(&self, x: &Matrix) -> Result<()> {
        x.check_shape("data", None, Some(self.means.cols()))?;
        x.check_finite("data")
    }
}

impl SampleEnergy for GaussianMixture {
    /// Free energy F(x) = −log p(x).
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        Ok(self.score_samples(x)?.into_iter().map(|v| -v).collect())
    }
}

/// Per-component constants of the E-step.
struct Components<'a> {
    log_weights: Vec<f64>,
    means: &'a Matrix,
    prec_chol: &'a [Matrix],
    /// Σ log diag U_k − ½ p log 2π.
    log_norm: Vec<f64>,
}

impl<'a> Components<'a> {
    fn new(weights: &[f64], means: &'a Matrix, prec_chol: &'a [Matrix]) -> Self {
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
fn e_step(x: &Matrix, comps: &Components) -> (Matrix, Vec<f64>) {
    let (n, p, k) = (x.rows(), x.cols(), comps.log_weights.len());
    let mut log_resp = vec![0.0; n * k];
    let mut log_norm = vec![0.0; n];
    x.as_slice()
        .par_chunks(E_BLOCK * p)
        .zip(log_resp.par_chunks_mut(E_BLOCK * k))
        .zip(log_norm.par_chunks_mut(E_BLOCK))
        .for_each(|((rows, resp), norm)| e_block(rows, comps, resp, norm));
    let resp = Matrix::new(n, k, log_resp).unwrap_or_else(|_| Matrix::zeros(n, k));
    (resp, log_norm)
}

/// Gaussian parameters from responsibilities `[n, k]`: (n_k, means, covariances).
fn estimate_parameters(x: &Matrix, resp: &Matrix, reg: f64) -> (Vec<f64>, Matrix, Vec<Matrix>) {
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
fn precision_cholesky(covs: &[Matrix]) -> Result<Vec<Matrix>> {
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

impl Fit for GmmParams {
    type Model = GaussianMixture;
    fn fit(&self, x: &Matrix) -> Result<GaussianMixture> {
        self.check()?.fit(x)
    }
}

impl Fit for GmmValidParams {
    type Model = GaussianMixture;

    fn fit(&self, x: &Matrix) -> Result<GaussianMixture> {
        let prm = &self.0;
        let k = prm.n_components;
        check_data(
            x,
            k.max(2),
            "one per component (k ≤ n_samples), and at least 2",
        )?;
        let n = x.rows() as f64;
        let (mut weights, mut means, mut covariances, mut prec_chol) = match &prm.init {
            GmmInit::Given {
                weights,
                means,
                precisions,
            } => {
                means.check_shape("means-init", Some(k), Some(x.cols()))?;
                let u = precisions
                    .iter()
                    .enumerate()
                    .map(|(c, p)| {
                        upper_cholesky_of_precision(p, || format!("precisions-init[{c}]"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                (weights.clone(), means.clone(), Vec::new(), u)
            }
            GmmInit::KMeans { seed } => {
                let km = KMeans::params(k)
                    .init(KMeansInit::KMeansPlusPlus { seed: *seed })
                    .fit(x)?;
                let mut resp = Matrix::zeros(x.rows(), k);
                for (i, &l) in km.labels.iter().enumerate() {
                    resp[(i, l)] = 1.0;
                }
                let (nk, means, covs) = estimate_parameters(x, &resp, prm.reg_covar);
                let u = precision_cholesky(&covs)?;
                (nk.iter().map(|v| v / n).collect(), means, covs, u)
            }
        };
        let mut lower_bound = f64::NEG_INFINITY;
        let mut converged = false;
        let mut n_iter = 0;
        while n_iter < prm.max_iter {
            n_iter += 1;
            let prev = lower_bound;
            let (mut resp, log_norm) = e_step(x, &Components::new(&weights, &means, &prec_chol));
            lower_bound = log_norm.iter().sum::<f64>() / n;
            resp.as_mut_slice().iter_mut().for_each(|v| *v = v.exp());
            let (nk, m, covs) = estimate_parameters(x, &resp, prm.reg_covar);
            let total: f64 = nk.iter().sum();
            weights = nk.iter().map(|v| v / total).collect();
            means = m;
            prec_chol = precision_cholesky(&covs)?;
            covariances = covs;
            if (lower_bound - prev).abs() < prm.tol {
                converged = true;
                break;
            }
        }
        Ok(GaussianMixture {
            weights,
            means,
            covariances,
            precisions_cholesky: prec_chol,
            n_iter,
            converged,
            lower_bound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_blobs() -> Matrix {
        let mut rows = Vec::new();
        for i in 0..20 {
            let t = i as f64;
            let c = if i % 2 == 0 { 0.0 } else { 8.0 };
            rows.push(vec![c + (t * 0.7).sin(), c + (t * 1.3).cos()]);
        }
        Matrix::from_rows(&rows).unwrap()
    }

    #[test]
    fn em_separates_two_blobs_and_energy_is_minus_log_density() {
        let x = two_blobs();
        let g = GaussianMixture::params(2).fit(&x).unwrap();
        assert!(g.converged);
        let labels = g.predict(&x).unwrap();
        for i in 0..20 {
            assert_eq!(labels[i] == labels[0], i % 2 == 0);
        }
        assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        let e = g.energy(&x).unwrap();
        let s = g.score_samples(&x).unwrap();
        assert!(e.iter().zip(&s).all(|(a, b)| a == &-b));
        let pr = g.predict_proba(&x).unwrap();
        for r in pr.row_iter() {
            assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // Σ_k = (L⁻¹ᵀ… ) check: U Uᵀ Σ = I.
        let u = &g.precisions_cholesky[0];
        let prec = u.matmul(&u.transpose()).unwrap();
        let id = prec.matmul(&g.covariances[0]).unwrap();
        for i in 0..2 {
            for j in 0..2 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[(i, j)] - want).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn bad_given_parameters_are_typed_errors() {
        let x = two_blobs();
        let means = Matrix::zeros(2, 2);
        let eye = Matrix::identity(2);
        let given = |w: Vec<f64>, p: Vec<Matrix>| GmmInit::Given {
            weights: w,
            means: means.clone(),
            precisions: p,
        };
        let p = GaussianMixture::params(2);
        let bad_sum = p
            .clone()
            .init(given(vec![0.5, 0.6], vec![eye.clone(), eye.clone()]));
        assert!(matches!(
            bad_sum.check(),
            Err(EnergyError::InvalidParam {
                name: "weights-init",
                ..
            })
        ));
        let not_pd = Matrix::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap();
        let bad_prec = p
            .clone()
            .init(given(vec![0.5, 0.5], vec![eye.clone(), not_pd]));
        assert!(matches!(
            bad_prec.fit(&x),
            Err(EnergyError::NotPositiveDefinite { .. })
        ));
        assert!(matches!(
            GaussianMixture::params(21).fit(&x),
            Err(EnergyError::TooFewSamples { .. })
        ));
        assert!(matches!(
            p.reg_covar(-1.0).check(),
            Err(EnergyError::InvalidParam {
                name: "reg-covar",
                ..
            })
        ));
    }

    #[test]
    fn a_constant_feature_gives_finite_results_or_a_typed_error_never_nan() {
        let mut x = two_blobs();
        for i in 0..x.rows() {
            x[(i, 1)] = 3.0;
        }
        // Without regularisation the variance of the constant feature is rounding noise
        // (~1e-31, as in scikit-learn): either a typed error or finite numbers.
        match GaussianMixture::params(2).reg_covar(0.0).fit(&x) {
            Err(e) => assert!(matches!(e, EnergyError::NotPositiveDefinite { .. }), "{e}"),
            Ok(g) => {
                assert!(g.lower_bound.is_finite());
                assert!(g.means.as_slice().iter().all(|v| v.is_finite()));
            }
        }
        let g = GaussianMixture::params(2).fit(&x).unwrap();
        assert!(g.score(&x).unwrap().is_finite());
        // An exactly singular covariance is reported with the component's index.
        let err = precision_cholesky(&[Matrix::identity(2), Matrix::zeros(2, 2)]).unwrap_err();
        assert!(err.to_string().contains("component 1"), "{err}");
    }

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
