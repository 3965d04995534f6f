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

use crate::error::{invalid, EnergyError, Result};
use crate::kmeans::{KMeans, KMeansInit};
use crate::linalg::upper_cholesky_of_precision;
use crate::matrix::{check_data, Matrix};
use crate::{Fit, SampleEnergy};

mod em;
use em::{e_step, estimate_parameters, precision_cholesky, Components};

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
}
