//! The largest eigenpairs of a symmetric tridiagonal matrix `T` (diagonal `d`, off-diagonal
//! `e`, `T_{i,i+1} = T_{i+1,i} = e_i`), without the rest of the spectrum:
//!
//! * **eigenvalues by bisection on Sturm counts** (Golub & Van Loan, *Matrix Computations*
//!   §8.4.1): the number of eigenvalues below `x` is the number of negative pivots of the
//!   `LDLᵀ` factorisation of `T − xI`, `q_0 = d_0 − x`, `q_i = d_i − x − e_{i−1}²/q_{i−1}`
//!   (a pivot smaller than `pivmin` in magnitude is replaced by `−pivmin`, as LAPACK's
//!   `dstebz`). Each eigenvalue is bracketed from the Gershgorin interval until the bracket is
//!   a few ulps wide: absolute accuracy `O(ε‖T‖)`, the same as the QR algorithm.
//! * **eigenvectors by inverse iteration** (G&VL §8.2.2, the scheme of LAPACK's `dstein`):
//!   `(T − λI) y = x` is solved with the LU factorisation with partial pivoting of the
//!   tridiagonal `T − λI` (a pivot below `ε‖T‖` is raised to `ε‖T‖`), from a fixed
//!   pseudo-random start, [`ITERATIONS`] times; after each solve `y` is orthogonalised
//!   (Gram–Schmidt, twice) against the eigenvectors already found and normalised. An
//!   eigenvalue equal to the previous one to `10ε‖T‖` is shifted down by that much, so that
//!   a multiple eigenvalue gets distinct factorisations.
//!
//! `T` is scaled by `1/‖T‖_∞` first (eigenvectors unchanged, eigenvalues scaled back), so no
//! quantity over- or underflows. Cost `O(k·n)` per sweep for `k` eigenpairs of an `n × n`
//! `T`, against `O(n²)`–`O(n³)` for the whole spectrum with vectors.

use crate::matrix::dot;
use crate::rng::SplitMix64;

/// Inverse-iteration solves per eigenvector. From a start with a component `c` along the
/// eigenvector, each solve shrinks the other components relative to it by `|λ̂ − λ|/gap`,
/// i.e. by `≈ ε/gap` with a bisected `λ̂`: two solves reach rounding for relative gaps down to
/// `√ε`, four for gaps near `ε^{3/4}`.
const ITERATIONS: usize = 4;

/// Bisection steps at most per eigenvalue (the bracket halves each step; ≈ 55 reach rounding
/// from the Gershgorin interval of a scaled `T`).
const MAX_BISECTIONS: usize = 200;

/// The `k` largest eigenvalues of `T` (descending) and their unit eigenvectors (`vectors[t]`,
/// length `n`), `k ≤ n`.
pub(crate) fn largest_eigenpairs(d: &[f64], e: &[f64], k: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = d.len();
    assert!(k <= n && e.len() + 1 >= n, "largest_eigenpairs: shapes");
    let e = &e[..n.saturating_sub(1)];
    // Gershgorin radii |e_{i−1}| + |e_i|: they give ‖T‖_∞ and the interval holding the spectrum.
    let radius: Vec<f64> = (0..n)
        .map(|i| {
            let left = if i > 0 { e[i - 1].abs() } else { 0.0 };
            let right = if i + 1 < n { e[i].abs() } else { 0.0 };
            left + right
        })
        .collect();
    let norm = d
        .iter()
        .zip(&radius)
        .map(|(d, r)| d.abs() + r)
        .fold(0.0f64, f64::max);
    if norm == 0.0 {
        let vectors = (0..k)
            .map(|t| (0..n).map(|i| f64::from(u8::from(i == t))).collect())
            .collect();
        return (vec![0.0; k], vectors);
    }
    let ds: Vec<f64> = d.iter().map(|v| v / norm).collect();
    let es: Vec<f64> = e.iter().map(|v| v / norm).collect();
    let e2: Vec<f64> = es.iter().map(|v| v * v).collect();
    let pivmin = f64::MIN_POSITIVE * e2.iter().copied().fold(1.0f64, f64::max);
    let (lo, hi) = d
        .iter()
        .zip(&radius)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (d, r)| {
            (lo.min((d - r) / norm), hi.max((d + r) / norm))
        });
    // Widen by a few ulps of ‖T‖ = 1 so that both ends strictly bracket.
    let (lo, hi) = (lo - 8.0 * f64::EPSILON, hi + 8.0 * f64::EPSILON);
    let mut values = Vec::with_capacity(k);
    let mut vectors: Vec<Vec<f64>> = Vec::with_capacity(k);
    let mut shift_prev = f64::INFINITY;
    for t in 0..k {
        let lambda = bisect(&ds, &e2, pivmin, n - 1 - t, lo, hi);
        let mut shift = lambda;
        if shift_prev - shift < 10.0 * f64::EPSILON {
            shift = shift_prev - 10.0 * f64::EPSILON;
        }
        shift_prev = shift;
        vectors.push(inverse_iteration(&ds, &es, shift, &vectors, t as u64));
        values.push(lambda * norm);
    }
    (values, vectors)
}

/// Number of eigenvalues of `T` below `x` (Sturm count of the pivots of `T − xI`).
fn count_below(d: &[f64], e2: &[f64], pivmin: f64, x: f64) -> usize {
    let mut q = d[0] - x;
    if q.abs() < pivmin {
        q = -pivmin;
    }
    let mut count = usize::from(q < 0.0);
    for i in 1..d.len() {
        q = d[i] - x - e2[i - 1] / q;
        if q.abs() < pivmin {
            q = -pivmin;
        }
        count += usize::from(q < 0.0);
    }
    count
}

/// The eigenvalue of ascending index `idx` inside `[lo, hi)` by bisection: keeps
/// `count_below(lo) ≤ idx < count_below(hi)` until the bracket stops shrinking or is
/// `2ε·max(|lo|, |hi|) + pivmin` wide; returns its midpoint.
fn bisect(d: &[f64], e2: &[f64], pivmin: f64, idx: usize, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..MAX_BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 2.0 * f64::EPSILON * lo.abs().max(hi.abs()) + pivmin
        {
            break;
        }
        if count_below(d, e2, pivmin, mid) <= idx {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// LU factors with partial pivoting of a tridiagonal `T − σI` (LAPACK `dlagtf`'s scheme):
/// `P(T − σI) = LU`, `L` unit lower bidiagonal (`mult`), `U` upper with three diagonals
/// (`u0`, `u1`, `u2`), `swapped[i]` when rows `i`, `i+1` were exchanged.
struct TridiagonalLu {
    u0: Vec<f64>,
    u1: Vec<f64>,
    u2: Vec<f64>,
    mult: Vec<f64>,
    swapped: Vec<bool>,
}

impl TridiagonalLu {
    /// Factors `T − σI` for the scaled `T` (‖T‖ = 1); pivots below `ε` become `±ε`.
    fn new(d: &[f64], e: &[f64], sigma: f64) -> TridiagonalLu {
        let n = d.len();
        let tiny = f64::EPSILON;
        let lift = |v: f64| {
            if v.abs() >= tiny {
                v
            } else if v < 0.0 {
                -tiny
            } else {
                tiny
            }
        };
        let mut lu = TridiagonalLu {
            u0: vec![0.0; n],
            u1: vec![0.0; n],
            u2: vec![0.0; n],
            mult: vec![0.0; n],
            swapped: vec![false; n],
        };
        let mut diag = d[0] - sigma;
        let mut sup = if n > 1 { e[0] } else { 0.0 };
        for i in 0..n.saturating_sub(1) {
            let sub = e[i];
            let next_diag = d[i + 1] - sigma;
            let next_sup = if i + 2 < n { e[i + 1] } else { 0.0 };
            if diag.abs() >= sub.abs() {
                let piv = lift(diag);
                lu.mult[i] = sub / piv;
                lu.u0[i] = piv;
                lu.u1[i] = sup;
                diag = next_diag - lu.mult[i] * sup;
                sup = next_sup;
            } else {
                lu.swapped[i] = true;
                lu.mult[i] = diag / sub;
                lu.u0[i] = sub;
                lu.u1[i] = next_diag;
                lu.u2[i] = next_sup;
                diag = sup - lu.mult[i] * next_diag;
                sup = -lu.mult[i] * next_sup;
            }
        }
        lu.u0[n - 1] = lift(diag);
        lu
    }

    /// `x ← (T − σI)⁻¹ x`.
    fn solve(&self, x: &mut [f64]) {
        let n = x.len();
        for i in 0..n.saturating_sub(1) {
            if self.swapped[i] {
                x.swap(i, i + 1);
            }
            x[i + 1] -= self.mult[i] * x[i];
        }
        for i in (0..n).rev() {
            let mut v = x[i];
            if i + 1 < n {
                v -= self.u1[i] * x[i + 1];
            }
            if i + 2 < n {
                v -= self.u2[i] * x[i + 2];
            }
            x[i] = v / self.u0[i];
        }
    }
}

/// The unit eigenvector of the scaled `T` for the eigenvalue near `sigma`, orthogonal to
/// `found` (unit vectors), by [`ITERATIONS`] inverse-iteration solves from a start drawn
/// from `seed`.
fn inverse_iteration(d: &[f64], e: &[f64], sigma: f64, found: &[Vec<f64>], seed: u64) -> Vec<f64> {
    let n = d.len();
    let lu = TridiagonalLu::new(d, e, sigma);
    let mut x = start_vector(n, seed);
    for attempt in 1..=4u64 {
        if iterate(&lu, &mut x, found) {
            return x;
        }
        // The start had no component left outside `found` (or overflowed): draw another.
        x = start_vector(n, seed.wrapping_add(1_000_003 * attempt));
    }
    x
}

/// [`ITERATIONS`] solves `x ← (T − σI)⁻¹x`, each followed by Gram–Schmidt (twice) against
/// `found` and normalisation; `false` if `x` vanished or overflowed on the way.
fn iterate(lu: &TridiagonalLu, x: &mut [f64], found: &[Vec<f64>]) -> bool {
    for _ in 0..ITERATIONS {
        lu.solve(x);
        for _ in 0..2 {
            for f in found {
                let c = dot(x, f);
                x.iter_mut().zip(f).for_each(|(a, b)| *a -= c * b);
            }
        }
        let norm = dot(x, x).sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return false;
        }
        x.iter_mut().for_each(|v| *v /= norm);
    }
    true
}

/// Entries uniform in [−1, 1) from the crate's [`SplitMix64`] stream of a mixed `seed`.
fn start_vector(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x2545_F491_4F6C_DD1D),
    );
    (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::jacobi_eigen;
    use crate::matrix::Matrix;

    fn dense(d: &[f64], e: &[f64]) -> Matrix {
        let n = d.len();
        let mut t = Matrix::zeros(n, n);
        for i in 0..n {
            t[(i, i)] = d[i];
            if i + 1 < n {
                t[(i, i + 1)] = e[i];
                t[(i + 1, i)] = e[i];
            }
        }
        t
    }

    /// Checks values against Jacobi, and each vector's residual ‖Tv − λv‖ and orthonormality.
    fn check(d: &[f64], e: &[f64], k: usize) {
        let n = d.len();
        let t = dense(d, e);
        let reference = jacobi_eigen(&t).unwrap();
        let (values, vectors) = largest_eigenpairs(d, e, k);
        let scale = reference
            .values
            .iter()
            .map(|v| v.abs())
            .fold(1e-300, f64::max);
        for i in 0..k {
            assert!(
                (values[i] - reference.values[i]).abs() <= 1e-13 * scale,
                "n={n} λ{i}: {} vs {}",
                values[i],
                reference.values[i]
            );
            let v = &vectors[i];
            for r in 0..n {
                let tv: f64 = (0..n).map(|c| t[(r, c)] * v[c]).sum();
                assert!(
                    (tv - values[i] * v[r]).abs() <= 1e-12 * scale,
                    "n={n} residual of v{i} row {r}"
                );
            }
            for (j, w) in vectors.iter().enumerate().take(i + 1) {
                let dot: f64 = v.iter().zip(w).map(|(a, b)| a * b).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "n={n} v{i}·v{j} = {dot}");
            }
        }
    }

    #[test]
    fn values_and_vectors_of_random_tridiagonals() {
        for &(n, k, salt) in &[(1, 1, 1u64), (2, 2, 2), (7, 3, 3), (30, 6, 4), (60, 60, 5)] {
            let v = start_vector(2 * n, salt);
            let d: Vec<f64> = v[..n].iter().map(|x| 3.0 * x).collect();
            let e: Vec<f64> = v[n..2 * n - 1].to_vec();
            check(&d, &e, k);
        }
    }

    #[test]
    fn multiple_and_clustered_eigenvalues_get_orthogonal_vectors() {
        // Split (zero off-diagonals) blocks with equal diagonals: eigenvalue 2 three times.
        check(&[2.0, 2.0, 1.0, 2.0, -1.0], &[0.0, 0.0, 0.0, 0.0], 5);
        // The Wilkinson matrix W21+: its two largest eigenvalues agree to ≈ 1e-14.
        let d: Vec<f64> = (0..21).map(|i: i32| f64::from((i - 10).abs())).collect();
        check(&d, &[1.0; 20], 6);
        // Tiny and huge scales: the same pairs as at unit scale, scaled (no under/overflow).
        let (d, e) = ([1.0, 3.0, 2.0], [1.0, 1.0]);
        check(&d, &e, 3);
        let (values, vectors) = largest_eigenpairs(&d, &e, 3);
        for scale in [1e-200, 1e200] {
            let (ds, es) = (d.map(|v| v * scale), e.map(|v| v * scale));
            let (vs, ws) = largest_eigenpairs(&ds, &es, 3);
            for i in 0..3 {
                assert!((vs[i] / scale - values[i]).abs() < 1e-14, "{scale}: {vs:?}");
                for r in 0..3 {
                    assert!((ws[i][r] - vectors[i][r]).abs() < 1e-14);
                }
            }
        }
    }

    #[test]
    fn the_zero_matrix_gives_zero_values_and_unit_vectors() {
        let (values, vectors) = largest_eigenpairs(&[0.0; 3], &[0.0; 2], 2);
        assert_eq!(values, vec![0.0, 0.0]);
        assert_eq!(vectors, vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]]);
    }

    #[test]
    fn sturm_counts_bracket_the_eigenvalues() {
        // T = [[2, 1], [1, 2]]: eigenvalues 1 and 3.
        let (d, e2) = ([2.0, 2.0], [1.0]);
        assert_eq!(count_below(&d, &e2, 1e-300, 0.5), 0);
        assert_eq!(count_below(&d, &e2, 1e-300, 2.0), 1);
        assert_eq!(count_below(&d, &e2, 1e-300, 3.5), 2);
        assert!((bisect(&d, &e2, 1e-300, 1, 0.0, 4.0) - 3.0).abs() < 1e-15);
        assert!((bisect(&d, &e2, 1e-300, 0, 0.0, 4.0) - 1.0).abs() < 1e-15);
    }
}
