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
//! our [`SplitMix64`]: reproducible for a seed, **not** bit-equal to scikit-learn's.

use rayon::prelude::*;

use crate::error::{invalid, Result};
use crate::matrix::{check_data, sq_dist, Matrix};
use crate::rng::SplitMix64;
use crate::{Fit, SampleEnergy};

/// Samples per parallel block of the assignment step.
const ASSIGN_BLOCK: usize = 1024;

/// How the centres start.
#[derive(Debug, Clone, PartialEq)]
pub enum KMeansInit {
    /// Given centres, `[k, p]`.
    Given(Matrix),
    /// Greedy k-means++ with this seed.
    KMeansPlusPlus {
        /// Seed of [`SplitMix64`].
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
        let packed = PackedCentres::new(&self.cluster_centers);
        Ok(x.row_iter().map(|r| packed.label(r)).collect())
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

/// Centre columns handled together by [`PackedCentres::label`] (two AVX2 registers).
const LANES: usize = 8;

/// Centres laid out for the assignment kernel: blocks of [`LANES`] centres stored
/// feature-major (`[block][feature][lane]`), with their squared norms (padding lanes +∞).
struct PackedCentres {
    k: usize,
    p: usize,
    packed: Vec<f64>,
    norms: Vec<f64>,
}

impl PackedCentres {
    fn new(c: &Matrix) -> Self {
        let (k, p) = (c.rows(), c.cols());
        let nb = k.div_ceil(LANES);
        let mut packed = vec![0.0; nb * p * LANES];
        let mut norms = vec![f64::INFINITY; nb * LANES];
        for (ci, row) in c.row_iter().enumerate() {
            let (b, lane) = (ci / LANES, ci % LANES);
            for (j, &v) in row.iter().enumerate() {
                packed[(b * p + j) * LANES + lane] = v;
            }
            norms[ci] = crate::matrix::dot(row, row);
        }
        Self {
            k,
            p,
            packed,
            norms,
        }
    }

    /// argmin_k ‖c_k‖² − 2x·c_k (ties → lowest index), as scikit-learn's Lloyd step.
    #[inline(always)]
    fn label(&self, x: &[f64]) -> usize {
        let mut best = (0, f64::INFINITY);
        for (b, block) in self.packed.chunks_exact(self.p * LANES).enumerate() {
            let mut acc = [0.0f64; LANES];
            for (&xj, cj) in x.iter().zip(block.chunks_exact(LANES)) {
                for t in 0..LANES {
                    acc[t] += xj * cj[t];
                }
            }
            let norms = &self.norms[b * LANES..(b + 1) * LANES];
            for (t, (&a, &c2)) in acc.iter().zip(norms).enumerate() {
                let d = c2 - 2.0 * a;
                if d < best.1 {
                    best = (b * LANES + t, d);
                }
            }
        }
        best.0
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
        let (labels, n_iter) = lloyd(&xc, &mut centres, prm.max_iter, tol);
        let inertia = xc
            .row_iter()
            .zip(&labels)
            .map(|(r, &l)| sq_dist(r, centres.row(l)))
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
        })
    }
}

fn centred(x: &Matrix, mean: &[f64]) -> Matrix {
    let mut c = x.clone();
    for i in 0..c.rows() {
        for (v, m) in c.row_mut(i).iter_mut().zip(mean) {
            *v -= m;
        }
    }
    c
}

/// Lloyd iterations on centred data; updates `centres`, returns (labels, n_iter).
fn lloyd(x: &Matrix, centres: &mut Matrix, max_iter: usize, tol: f64) -> (Vec<usize>, usize) {
    let n = x.rows();
    let mut labels = vec![usize::MAX; n];
    let mut labels_old = labels.clone();
    let mut strict = false;
    let mut iter = 0;
    while iter < max_iter {
        iter += 1;
        let (new, shift) = lloyd_step(x, centres, &mut labels);
        *centres = new;
        if labels == labels_old {
            strict = true;
            break;
        }
        if shift.iter().map(|s| s * s).sum::<f64>() <= tol {
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict {
        assign(x, centres, &mut labels);
    }
    (labels, iter)
}

/// Assigns labels to the nearest centre, in parallel blocks.
fn assign(x: &Matrix, centres: &Matrix, labels: &mut [usize]) {
    let p = x.cols();
    let centres = &PackedCentres::new(centres);
    x.as_slice()
        .par_chunks(ASSIGN_BLOCK * p)
        .zip(labels.par_chunks_mut(ASSIGN_BLOCK))
        .for_each(|(rows, labels)| {
            assign_sum_block(rows, centres, labels, false);
        });
}

crate::simd::avx2_dispatch! {
    fn assign_sum_block(
        rows: &[f64],
        centres: &PackedCentres,
        labels: &mut [usize],
        sum: bool,
    ) -> (Vec<f64>, Vec<f64>) = assign_sum_block_generic;
}

/// Labels a block of rows with their nearest centre; with `sum`, also returns the per-centre
/// sums `[k·p]` and counts `[k]` of the block.
#[inline(always)]
fn assign_sum_block_generic(
    rows: &[f64],
    centres: &PackedCentres,
    labels: &mut [usize],
    sum: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (k, p) = (centres.k, centres.p);
    let mut sums = vec![0.0; if sum { k * p } else { 0 }];
    let mut counts = vec![0.0; if sum { k } else { 0 }];
    for (r, l) in rows.chunks_exact(p).zip(labels) {
        *l = centres.label(r);
        if sum {
            counts[*l] += 1.0;
            for (s, v) in sums[*l * p..(*l + 1) * p].iter_mut().zip(r) {
                *s += v;
            }
        }
    }
    (sums, counts)
}

/// One Lloyd iteration: assignment to `centres`, then new centres and per-centre shifts.
fn lloyd_step(x: &Matrix, centres: &Matrix, labels: &mut [usize]) -> (Matrix, Vec<f64>) {
    let (k, p) = (centres.rows(), centres.cols());
    let packed = &PackedCentres::new(centres);
    // Per-block label assignment and partial sums, summed in block order (deterministic).
    let partials: Vec<(Vec<f64>, Vec<f64>)> = x
        .as_slice()
        .par_chunks(ASSIGN_BLOCK * p)
        .zip(labels.par_chunks_mut(ASSIGN_BLOCK))
        .map(|(rows, labels)| assign_sum_block(rows, packed, labels, true))
        .collect();
    let mut sums = vec![0.0; k * p];
    let mut counts = vec![0.0; k];
    for (s, c) in &partials {
        sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
    }
    relocate_empty(x, centres, labels, &mut sums, &mut counts);
    let mut new = Matrix::new(k, p, sums).unwrap_or_else(|_| Matrix::zeros(k, p));
    let mut shift = vec![0.0; k];
    for c in 0..k {
        if counts[c] > 0.0 {
            new.row_mut(c).iter_mut().for_each(|v| *v /= counts[c]);
        }
        shift[c] = sq_dist(new.row(c), centres.row(c)).sqrt();
    }
    (new, shift)
}

/// scikit-learn `_relocate_empty_clusters_dense`: each empty cluster takes one of the samples
/// farthest from their (old) centre, which leaves its cluster. With several empty clusters
/// the farthest samples are taken in decreasing distance (numpy's `argpartition` order can
/// differ on ties or with ≥ 2 empty clusters).
fn relocate_empty(
    x: &Matrix,
    centres: &Matrix,
    labels: &[usize],
    sums: &mut [f64],
    counts: &mut [f64],
) {
    let p = x.cols();
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0.0).collect();
    if empty.is_empty() {
        return;
    }
    let mut far: Vec<(usize, f64)> = x
        .row_iter()
        .zip(labels)
        .map(|(r, &l)| sq_dist(r, centres.row(l)))
        .enumerate()
        .collect();
    far.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (&new_c, &(i, _)) in empty.iter().zip(&far) {
        let old_c = labels[i];
        let r = x.row(i);
        for j in 0..p {
            sums[old_c * p + j] -= r[j];
            sums[new_c * p + j] = r[j];
        }
        counts[new_c] = 1.0;
        counts[old_c] -= 1.0;
    }
}

/// Greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's `_kmeans_plusplus`).
fn kmeans_plus_plus(x: &Matrix, k: usize, seed: u64) -> Matrix {
    let (n, p) = (x.rows(), x.cols());
    let mut rng = SplitMix64::new(seed);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centres = Matrix::zeros(k, p);
    let first = rng.below(n);
    centres.row_mut(0).copy_from_slice(x.row(first));
    let mut closest: Vec<f64> = x.row_iter().map(|r| sq_dist(r, x.row(first))).collect();
    for c in 1..k {
        let pot: f64 = closest.iter().sum();
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for d in &closest {
            acc += d;
            cum.push(acc);
        }
        let mut best: Option<(usize, f64, Vec<f64>)> = None;
        for _ in 0..trials {
            let target = rng.uniform() * pot;
            let cand = cum.partition_point(|&v| v < target).min(n - 1);
            let dist: Vec<f64> = x
                .row_iter()
                .zip(&closest)
                .map(|(r, &d)| d.min(sq_dist(r, x.row(cand))))
                .collect();
            let total: f64 = dist.iter().sum();
            if best.as_ref().is_none_or(|b| total < b.1) {
                best = Some((cand, total, dist));
            }
        }
        if let Some((cand, _, dist)) = best {
            centres.row_mut(c).copy_from_slice(x.row(cand));
            closest = dist;
        }
    }
    centres
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
    fn packed_assignment_agrees_with_exact_distances_across_lane_blocks() {
        // k = 11: one full block of 8 centres and a padded one; p = 6.
        let (n, k, p) = (200, 11, 6);
        let x = Matrix::new(
            n,
            p,
            (0..n * p)
                .map(|i| ((i * 31 % 97) as f64).sin() * 3.0)
                .collect(),
        )
        .unwrap();
        let c = Matrix::new(
            k,
            p,
            (0..k * p)
                .map(|i| ((i * 17 % 53) as f64).cos() * 2.0)
                .collect(),
        )
        .unwrap();
        let packed = PackedCentres::new(&c);
        let mut labels = vec![0; n];
        let (sums, counts) = assign_sum_block(x.as_slice(), &packed, &mut labels, true);
        assert_eq!((sums.len(), counts.len()), (k * p, k));
        assert_eq!(counts.iter().sum::<f64>(), n as f64);
        for (i, r) in x.row_iter().enumerate() {
            let mut d: Vec<(f64, usize)> = c
                .row_iter()
                .enumerate()
                .map(|(j, cj)| (sq_dist(r, cj), j))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            if d[1].0 - d[0].0 > 1e-9 {
                assert_eq!(labels[i], d[0].1, "sample {i}");
            }
        }
    }
}
