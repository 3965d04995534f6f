//! Lloyd's iterations for [`KMeans`](super::KMeans), the assignment kernel and k-means++.

use rayon::prelude::*;

use crate::matrix::{sq_dist, Matrix};
use crate::rng::SplitMix64;

/// Samples per parallel block of the assignment step.
const ASSIGN_BLOCK: usize = 1024;

/// Centre columns handled together by [`PackedCentres::label`] (two AVX2 registers).
const LANES: usize = 8;

/// `k · p` from which the assignment goes through faer's GEMM ([`Assigner::Gemm`]), if also
/// `p ≥` [`GEMM_MIN_FEATURES`]; below either, the packed hand-written kernel measures faster.
const GEMM_MIN_WORK: usize = 2048;

/// Features from which the GEMM assignment may be used.
const GEMM_MIN_FEATURES: usize = 64;

/// Samples per GEMM call inside an assignment block (the `[rows, k]` product stays in cache).
const GEMM_ROWS: usize = 256;

/// How a block of samples is labelled: the packed kernel for small `k · p`, or
/// `G = X_b Cᵀ` by GEMM followed by argmin_k ‖c_k‖² − 2G_ik (scikit-learn's chunked Lloyd).
pub(super) enum Assigner<'a> {
    /// Packed centres, dot products in registers.
    Packed(PackedCentres),
    /// Centres `[k, p]` and their squared norms `[k]`.
    Gemm(&'a Matrix, Vec<f64>),
}

impl<'a> Assigner<'a> {
    pub(super) fn new(c: &'a Matrix) -> Self {
        if c.rows() * c.cols() >= GEMM_MIN_WORK && c.cols() >= GEMM_MIN_FEATURES {
            Assigner::Gemm(c, c.row_iter().map(|r| crate::matrix::dot(r, r)).collect())
        } else {
            Assigner::Packed(PackedCentres::new(c))
        }
    }

    /// Labels a block of rows; with `sum`, also returns the per-centre sums `[k·p]` and
    /// counts `[k]` of the block.
    fn block(&self, rows: &[f64], labels: &mut [usize], sum: bool) -> (Vec<f64>, Vec<f64>) {
        match self {
            Assigner::Packed(c) => assign_sum_block(rows, c, labels, sum),
            Assigner::Gemm(c, norms) => gemm_block(rows, c, norms, labels, sum),
        }
    }
}

/// [`Assigner::block`] by GEMM: per [`GEMM_ROWS`] samples `G = X_b Cᵀ`, then the first index
/// of the smallest ‖c_k‖² − 2G_ik for each sample.
fn gemm_block(
    rows: &[f64],
    c: &Matrix,
    norms: &[f64],
    labels: &mut [usize],
    sum: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (k, p) = (c.rows(), c.cols());
    let mut sums = vec![0.0; if sum { k * p } else { 0 }];
    let mut counts = vec![0.0; if sum { k } else { 0 }];
    let mut g = vec![0.0; GEMM_ROWS.min(labels.len()) * k];
    for (sub, lab) in rows.chunks(GEMM_ROWS * p).zip(labels.chunks_mut(GEMM_ROWS)) {
        let m = lab.len();
        crate::gemm::a_bt_seq(&mut g[..m * k], sub, c.as_slice(), m, k, p);
        for ((l, gi), r) in lab
            .iter_mut()
            .zip(g.chunks_exact(k))
            .zip(sub.chunks_exact(p))
        {
            let mut best = (0, f64::INFINITY);
            for (j, (&x, &c2)) in gi.iter().zip(norms).enumerate() {
                let d = c2 - 2.0 * x;
                if d < best.1 {
                    best = (j, d);
                }
            }
            *l = best.0;
            if sum {
                counts[best.0] += 1.0;
                let s = &mut sums[best.0 * p..(best.0 + 1) * p];
                s.iter_mut().zip(r).for_each(|(s, v)| *s += v);
            }
        }
    }
    (sums, counts)
}

/// Centres laid out for the assignment kernel: blocks of [`LANES`] centres stored
/// feature-major (`[block][feature][lane]`), with their squared norms (padding lanes +∞).
pub(super) struct PackedCentres {
    k: usize,
    p: usize,
    packed: Vec<f64>,
    norms: Vec<f64>,
}

impl PackedCentres {
    pub(super) fn new(c: &Matrix) -> Self {
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
    pub(super) fn label(&self, x: &[f64]) -> usize {
        let mut best = (0, f64::INFINITY);
        for (b, block) in self.packed.chunks_exact(self.p * LANES).enumerate() {
            let mut acc = [0.0f64; LANES];
            for (&xj, cj) in x.iter().zip(block.chunks_exact(LANES)) {
                for t in 0..LANES {
                    acc[t] += xj * cj[t];
                }
            }
            self.argmin_block(b, &acc, &mut best);
        }
        best.0
    }

    /// [`Self::label`] of four samples at once, sharing the loads of the packed centres: eight
    /// independent accumulator vectors per feature hide the add latency (each sample's sums
    /// run in the same order as in [`Self::label`], so the labels are the same).
    #[inline(always)]
    pub(super) fn label4(&self, x: [&[f64]; 4]) -> [usize; 4] {
        let mut best = [(0, f64::INFINITY); 4];
        for (b, block) in self.packed.chunks_exact(self.p * LANES).enumerate() {
            let mut acc = [[0.0f64; LANES]; 4];
            let quads = x[0].iter().zip(x[1]).zip(x[2]).zip(x[3]);
            for ((((&a0, &a1), &a2), &a3), cj) in quads.zip(block.chunks_exact(LANES)) {
                for t in 0..LANES {
                    acc[0][t] += a0 * cj[t];
                    acc[1][t] += a1 * cj[t];
                    acc[2][t] += a2 * cj[t];
                    acc[3][t] += a3 * cj[t];
                }
            }
            for (acc, best) in acc.iter().zip(best.iter_mut()) {
                self.argmin_block(b, acc, best);
            }
        }
        best.map(|b| b.0)
    }

    /// Updates `best` with block `b`'s ‖c‖² − 2x·c values (strict `<`: lowest index wins).
    #[inline(always)]
    fn argmin_block(&self, b: usize, acc: &[f64; LANES], best: &mut (usize, f64)) {
        let norms = &self.norms[b * LANES..(b + 1) * LANES];
        for (t, (&a, &c2)) in acc.iter().zip(norms).enumerate() {
            let d = c2 - 2.0 * a;
            if d < best.1 {
                *best = (b * LANES + t, d);
            }
        }
    }
}

/// Lloyd iterations on centred data; updates `centres`, returns (labels, n_iter, converged):
/// converged when the labels stopped changing or the squared centre shift fell to `tol` within
/// `max_iter` iterations.
pub(super) fn lloyd(
    x: &Matrix,
    centres: &mut Matrix,
    max_iter: usize,
    tol: f64,
) -> (Vec<usize>, usize, bool) {
    let n = x.rows();
    let mut labels = vec![usize::MAX; n];
    let mut labels_old = labels.clone();
    let (mut strict, mut converged) = (false, false);
    let mut iter = 0;
    while iter < max_iter {
        iter += 1;
        let (new, shift) = lloyd_step(x, centres, &mut labels);
        *centres = new;
        if labels == labels_old {
            (strict, converged) = (true, true);
            break;
        }
        if shift.iter().map(|s| s * s).sum::<f64>() <= tol {
            converged = true;
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict {
        assign(x, centres, &mut labels);
    }
    (labels, iter, converged)
}

/// Assigns labels to the nearest centre, in parallel blocks.
pub(super) fn assign(x: &Matrix, centres: &Matrix, labels: &mut [usize]) {
    let p = x.cols();
    let centres = &Assigner::new(centres);
    x.as_slice()
        .par_chunks(ASSIGN_BLOCK * p)
        .zip(labels.par_chunks_mut(ASSIGN_BLOCK))
        .for_each(|(rows, labels)| {
            centres.block(rows, labels, false);
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
    let mut add = |l: usize, r: &[f64]| {
        if sum {
            counts[l] += 1.0;
            for (s, v) in sums[l * p..(l + 1) * p].iter_mut().zip(r) {
                *s += v;
            }
        }
    };
    let mut quads = rows.chunks_exact(4 * p);
    let mut lquads = labels.chunks_exact_mut(4);
    for (xs, l) in (&mut quads).zip(&mut lquads) {
        let (x01, x23) = xs.split_at(2 * p);
        let x = [&x01[..p], &x01[p..], &x23[..p], &x23[p..]];
        let found = centres.label4(x);
        l.copy_from_slice(&found);
        for (&l, r) in found.iter().zip(x) {
            add(l, r);
        }
    }
    for (r, l) in quads
        .remainder()
        .chunks_exact(p)
        .zip(lquads.into_remainder())
    {
        *l = centres.label(r);
        add(*l, r);
    }
    (sums, counts)
}

/// One Lloyd iteration: assignment to `centres`, then new centres and per-centre shifts.
fn lloyd_step(x: &Matrix, centres: &Matrix, labels: &mut [usize]) -> (Matrix, Vec<f64>) {
    let (k, p) = (centres.rows(), centres.cols());
    let assigner = &Assigner::new(centres);
    // Per-block label assignment and partial sums, summed in block order (deterministic).
    let partials: Vec<(Vec<f64>, Vec<f64>)> = x
        .as_slice()
        .par_chunks(ASSIGN_BLOCK * p)
        .zip(labels.par_chunks_mut(ASSIGN_BLOCK))
        .map(|(rows, labels)| assigner.block(rows, labels, true))
        .collect();
    let mut sums = vec![0.0; k * p];
    let mut counts = vec![0.0; k];
    for (s, c) in &partials {
        sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
    }
    relocate_empty(x, centres, labels, &mut sums, &mut counts);
    let mut new = Matrix::from_parts(k, p, sums);
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
pub(super) fn kmeans_plus_plus(x: &Matrix, k: usize, seed: u64) -> Matrix {
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
            let cr = x.row(cand);
            let dist: Vec<f64> = x
                .as_slice()
                .par_chunks(p)
                .zip(&closest)
                .map(|(r, &d)| d.min(sq_dist(r, cr)))
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

    #[test]
    fn packed_assignment_agrees_with_exact_distances_across_lane_blocks() {
        // k = 11: one full block of 8 centres and a padded one; p = 6.
        let (n, k, p) = (203, 11, 6); // n = 4·50 + 3: the quad loop and a remainder of three
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

    #[test]
    fn gemm_assignment_equals_the_packed_kernel() {
        let (n, k, p) = (1500, 40, 70);
        let x = Matrix::new(
            n,
            p,
            (0..n * p)
                .map(|i| ((i * 31 % 977) as f64).sin() * 2.0 + (i / p % 5) as f64)
                .collect(),
        )
        .unwrap();
        let c = Matrix::new(k, p, x.as_slice()[3 * p..(3 + k) * p].to_vec()).unwrap();
        let Assigner::Gemm(_, norms) = Assigner::new(&c) else {
            panic!("k·p = {} should take the GEMM path", k * p);
        };
        let small = Matrix::new(k, GEMM_MIN_FEATURES - 1, vec![0.0; k * 63]).unwrap();
        assert!(matches!(Assigner::new(&small), Assigner::Packed(_)));
        let (mut lg, mut lp) = (vec![0; n], vec![0; n]);
        let (sg, cg) = gemm_block(x.as_slice(), &c, &norms, &mut lg, true);
        let (sp, cp) = assign_sum_block(x.as_slice(), &PackedCentres::new(&c), &mut lp, true);
        assert_eq!(lg, lp);
        assert_eq!(cg, cp);
        for (a, b) in sg.iter().zip(&sp) {
            assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0));
        }
        // Without sums: labels only.
        let mut l = vec![usize::MAX; n];
        let (s, c0) = gemm_block(x.as_slice(), &c, &norms, &mut l, false);
        assert!(s.is_empty() && c0.is_empty());
        assert_eq!(l, lp);
    }
}
