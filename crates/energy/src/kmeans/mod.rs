//! K-means (Lloyd's algorithm) as a latent-variable energy, with scikit-learn semantics.
//!
//! Energy E(x, z) = ‖x − Wz‖² with z one-hot over the K centres; the zero-temperature free
//! energy is F∞(x) = min_k ‖x − c_k‖² and `inertia_` = Σ_n F∞(x_n) (DESIGN §10). Lloyd's
//! algorithm is coordinate descent on (z, W).
//!
//! The loop follows scikit-learn's `_kmeans_single_lloyd` (n_init = 1, algorithm "lloyd"):
//! * data and initial centres are centred on the column mean (undone at the end);
//! * each iteration assigns labels to the old centres by scikit-learn's rule
//!   argmin_k ‖c_k‖² − 2x·c_k (the ‖x‖² term is common; ties → lowest index), recomputes the
//!   centres, relocates empty clusters to the samples farthest from their old centre, and
//!   records the per-centre shift ‖c_new − c_old‖;
//! * it stops with **strict convergence** when the labels equal the previous iteration's, or
//!   when Σ_k shift_k² ≤ `tol · mean(var(X, axis=0))` (ddof = 0);
//! * without strict convergence a final E-step makes the labels agree with the centres;
//!   `n_iter_` counts the iterations run.
//!
//! k-means++ seeding is scikit-learn's greedy variant (2 + ⌊ln K⌋ local trials) driven by
//! our [`SplitMix64`](crate::rng::SplitMix64): reproducible for a seed, **not** bit-equal to scikit-learn's.

use rayon::prelude::*;

use crate::error::{invalid, Result};
use crate::matrix::{check_data, sq_dist, Matrix};
use crate::{Fit, SampleEnergy};

mod lloyd;
use lloyd::{assign, kmeans_plus_plus, lloyd};

/// Rows per parallel block of the centring copy and of the inertia sum (fixed: the inertia's
/// partial sums are added in the same order on any number of threads).
const ROW_BLOCK: usize = 2048;

/// How the centres start.
#[derive(Debug, Clone, PartialEq)]
pub enum KMeansInit {
    /// Given centres, `[k, p]`.
    Given(Matrix),
    /// Greedy k-means++ with this seed.
    KMeansPlusPlus {
        /// Seed of [`SplitMix64`](crate::rng::SplitMix64).
        seed: u64,
    },
}

/// Unchecked k-means hyper-parameters (build with [`KMeans::params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    n_clusters: usize,
    max_iter: usize,
    tol: f64,
    init: KMeansInit,
}

/// Checked k-means hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl KMeansParams {
    /// Iteration limit (default 300, as scikit-learn).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Relative tolerance (default 1e-4), scaled by the mean feature variance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Initial centres (default k-means++ with seed 0).
    pub fn init(mut self, init: KMeansInit) -> Self {
        self.init = init;
        self
    }

    /// Validates everything that does not depend on the data.
    pub fn check(&self) -> Result<KMeansValidParams> {
        if self.n_clusters == 0 {
            return Err(invalid("k", 0, "at least 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max-iter", 0, "at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(invalid("tol", self.tol, "a finite number ≥ 0"));
        }
        if let KMeansInit::Given(c) = &self.init {
            c.check_shape("init (initial centres)", Some(self.n_clusters), None)?;
            c.check_finite("init (initial centres)")?;
        }
        Ok(KMeansValidParams(self.clone()))
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Centres, `[k, p]`.
    pub cluster_centers: Matrix,
    /// Centre index of each training sample, `[n]`.
    pub labels: Vec<usize>,
    /// Σ_n ‖x_n − c_{label_n}‖².
    pub inertia: f64,
    /// Lloyd iterations run.
    pub n_iter: usize,
    /// Whether Lloyd stopped on its own (labels unchanged, or the squared centre shift at most
    /// the scaled `tol`) rather than at `max_iter`.
    pub converged: bool,
}

impl KMeans {
    /// Parameters for `n_clusters` centres.
    pub fn params(n_clusters: usize) -> KMeansParams {
        KMeansParams {
            n_clusters,
            max_iter: 300,
            tol: 1e-4,
            init: KMeansInit::KMeansPlusPlus { seed: 0 },
        }
    }

    /// Index of the nearest centre of each sample.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.check_input(x)?;
        let mut labels = vec![0; x.rows()];
        assign(x, &self.cluster_centers, &mut labels);
        Ok(labels)
    }

    fn check_input(&self, x: &Matrix) -> Result<()> {
        x.check_shape("data", None, Some(self.cluster_centers.cols()))?;
        x.check_finite("data")
    }
}

impl SampleEnergy for KMeans {
    /// F∞(x) = min_k ‖x − c_k‖².
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.check_input(x)?;
        Ok(x.row_iter()
            .map(|r| nearest(r, &self.cluster_centers).1)
            .collect())
    }
}

/// Nearest centre and its exact squared distance (ties → lowest index).
#[inline(always)]
fn nearest(x: &[f64], centres: &Matrix) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (k, c) in centres.row_iter().enumerate() {
        let d = sq_dist(x, c);
        if d < best.1 {
            best = (k, d);
        }
    }
    best
}

impl Fit for KMeansParams {
    type Model = KMeans;
    fn fit(&self, x: &Matrix) -> Result<KMeans> {
        self.check()?.fit(x)
    }
}

impl Fit for KMeansValidParams {
    type Model = KMeans;

    fn fit(&self, x: &Matrix) -> Result<KMeans> {
        let prm = &self.0;
        check_data(x, prm.n_clusters, "one per cluster (k ≤ n_samples)")?;
        let p = x.cols();
        let tol = if prm.tol == 0.0 {
            0.0
        } else {
            let v = x.column_variances(0);
            prm.tol * v.iter().sum::<f64>() / p as f64
        };
        let mean = x.column_means();
        let xc = centred(x, &mean);
        let mut centres = match &prm.init {
            KMeansInit::Given(c) => {
                c.check_shape("init (initial centres)", Some(prm.n_clusters), Some(p))?;
                centred(c, &mean)
            }
            KMeansInit::KMeansPlusPlus { seed } => kmeans_plus_plus(&xc, prm.n_clusters, *seed),
        };
        let (labels, n_iter, converged) = lloyd(&xc, &mut centres, prm.max_iter, tol);
        // Σ_i ‖x_i − c_{l_i}‖² over fixed blocks of rows in parallel, added in block order.
        let inertia = xc
            .as_slice()
            .par_chunks(ROW_BLOCK * p)
            .zip(labels.par_chunks(ROW_BLOCK))
            .map(|(rows, labels)| {
                rows.chunks_exact(p)
                    .zip(labels)
                    .map(|(r, &l)| sq_dist(r, centres.row(l)))
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        for k in 0..centres.rows() {
            for (c, m) in centres.row_mut(k).iter_mut().zip(&mean) {
                *c += m;
            }
        }
        Ok(KMeans {
            cluster_centers: centres,
            labels,
            inertia,
            n_iter,
            converged,
        })
    }
}

/// `x − μ` row by row, written in parallel (a fresh buffer: its pages are first touched by the
/// threads that fill them).
fn centred(x: &Matrix, mean: &[f64]) -> Matrix {
    let p = x.cols();
    let mut data = vec![0.0; x.rows() * p];
    data.par_chunks_mut(ROW_BLOCK * p)
        .zip(x.as_slice().par_chunks(ROW_BLOCK * p))
        .for_each(|(out, rows)| {
            for (o, r) in out.chunks_exact_mut(p).zip(rows.chunks_exact(p)) {
                for ((o, &v), &m) in o.iter_mut().zip(r).zip(mean) {
                    *o = v - m;
                }
            }
        });
    Matrix::from_parts(x.rows(), p, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EnergyError;

    fn blobs() -> Matrix {
        let mut rows = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)] {
            for i in 0..5 {
                let t = i as f64;
                rows.push(vec![cx + 0.1 * t, cy - 0.05 * t * t]);
            }
        }
        Matrix::from_rows(&rows).unwrap()
    }

    #[test]
    fn separated_blobs_are_found_by_given_and_plus_plus_inits() {
        let x = blobs();
        let init = Matrix::from_rows(&[vec![1.0, 1.0], vec![9.0, 1.0], vec![1.0, 9.0]]).unwrap();
        let m = KMeans::params(3)
            .init(KMeansInit::Given(init))
            .fit(&x)
            .unwrap();
        assert_eq!(m.labels, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
        let e = m.energy(&x).unwrap();
        assert!((e.iter().sum::<f64>() - m.inertia).abs() < 1e-12);
        let pp = KMeans::params(3).fit(&x).unwrap();
        assert!((pp.inertia - m.inertia).abs() < 1e-12);
        assert_eq!(m.predict(&x).unwrap(), m.labels);
    }

    #[test]
    fn an_empty_cluster_takes_the_farthest_sample() {
        let x = blobs();
        // The third centre is far from everything: it starts empty.
        let init =
            Matrix::from_rows(&[vec![0.0, 0.0], vec![10.0, 0.0], vec![100.0, 100.0]]).unwrap();
        let m = KMeans::params(3)
            .init(KMeansInit::Given(init))
            .fit(&x)
            .unwrap();
        assert!(m.labels.iter().filter(|&&l| l == 2).count() > 0);
        assert!(m.inertia.is_finite());
    }

    #[test]
    fn degenerate_inputs_are_typed_errors() {
        let x = blobs();
        assert!(matches!(
            KMeans::params(16).fit(&x),
            Err(EnergyError::TooFewSamples { .. })
        ));
        assert!(matches!(
            KMeans::params(0).check(),
            Err(EnergyError::InvalidParam { name: "k", .. })
        ));
        assert!(matches!(
            KMeans::params(2).tol(-1.0).check(),
            Err(EnergyError::InvalidParam { name: "tol", .. })
        ));
        let bad_init = Matrix::zeros(2, 3);
        assert!(matches!(
            KMeans::params(2).init(KMeansInit::Given(bad_init)).fit(&x),
            Err(EnergyError::Shape { .. })
        ));
        let mut nan = x.clone();
        nan[(4, 0)] = f64::NAN;
        assert!(matches!(
            KMeans::params(2).fit(&nan),
            Err(EnergyError::NonFinite { row: 4, .. })
        ));
    }

    #[test]
    fn identical_samples_give_zero_inertia_not_nan() {
        let x = Matrix::new(6, 2, vec![1.5; 12]).unwrap();
        for init in [
            KMeansInit::KMeansPlusPlus { seed: 3 },
            KMeansInit::Given(Matrix::new(2, 2, vec![1.5, 1.5, 0.0, 0.0]).unwrap()),
        ] {
            let m = KMeans::params(2).init(init).fit(&x).unwrap();
            assert_eq!(m.inertia, 0.0);
            assert!(m.cluster_centers.as_slice().iter().all(|v| v.is_finite()));
            assert_eq!(m.labels.len(), 6);
        }
    }

    #[test]
    fn a_wide_fit_through_the_gemm_path_is_a_lloyd_fixed_point() {
        // k · p = 32 · 64 takes the GEMM assignment; at convergence every sample is labelled
        // with its nearest centre and every centre is the mean of its samples.
        let (n, p, k) = (640, 64, 32);
        let mut rng = crate::rng::SplitMix64::new(5);
        let centres: Vec<f64> = (0..k * p).map(|_| 8.0 * (rng.uniform() - 0.5)).collect();
        let x = Matrix::new(
            n,
            p,
            (0..n * p)
                .map(|i| centres[(i / p % k) * p + i % p] + rng.uniform() - 0.5)
                .collect(),
        )
        .unwrap();
        let m = KMeans::params(k)
            .init(KMeansInit::KMeansPlusPlus { seed: 1 })
            .tol(0.0)
            .fit(&x)
            .unwrap();
        assert!(m.n_iter < 300, "no strict convergence");
        for (r, &l) in x.row_iter().zip(&m.labels) {
            assert_eq!(nearest(r, &m.cluster_centers).0, l);
        }
        for c in 0..k {
            let members: Vec<&[f64]> = x
                .row_iter()
                .zip(&m.labels)
                .filter(|(_, &l)| l == c)
                .map(|(r, _)| r)
                .collect();
            assert!(!members.is_empty(), "cluster {c} empty");
            for j in 0..p {
                let mean = members.iter().map(|r| r[j]).sum::<f64>() / members.len() as f64;
                assert!((m.cluster_centers[(c, j)] - mean).abs() < 1e-9);
            }
        }
        let e = m.energy(&x).unwrap();
        assert!((e.iter().sum::<f64>() - m.inertia).abs() <= 1e-9 * m.inertia);
        assert_eq!(m.predict(&x).unwrap(), m.labels);
    }

    /// Well-separated blobs: `k` centres 10 apart, unit-width noise.
    fn random_blobs(n: usize, p: usize, k: usize, seed: u64) -> Matrix {
        let mut rng = crate::rng::SplitMix64::new(seed);
        let centres: Vec<f64> = (0..k * p).map(|_| 10.0 * rng.uniform()).collect();
        Matrix::new(
            n,
            p,
            (0..n * p)
                .map(|i| centres[(i / p % k) * p + i % p] + rng.uniform() - 0.5)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_defaults_converge_on_well_posed_problems() {
        for seed in 0..20 {
            let x = random_blobs(200, 4, 3, seed);
            let m = KMeans::params(3).fit(&x).unwrap();
            assert!(m.converged, "seed {seed}: {} iterations", m.n_iter);
            assert!(m.n_iter < 300);
        }
    }

    #[test]
    fn a_fit_stopped_by_max_iter_says_it_is_unconverged() {
        let x = random_blobs(200, 4, 3, 1);
        let m = KMeans::params(3)
            .init(KMeansInit::Given(
                Matrix::new(
                    3,
                    4,
                    vec![0.0, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0],
                )
                .unwrap(),
            ))
            .tol(0.0)
            .max_iter(1)
            .fit(&x)
            .unwrap();
        assert_eq!(m.n_iter, 1);
        assert!(!m.converged);
    }
}
