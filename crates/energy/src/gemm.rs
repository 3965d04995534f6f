//! Dense products through faer's GEMM (packed operands, FMA micro-kernels, optional rayon
//! split of the output), on this crate's row-major slices.
//!
//! faer reads a row-major `[m, k]` slice as a matrix with row stride `k` and column stride 1,
//! so no copies are made. FMA rounds `a·b + c` once, so the results differ from the plain
//! loops of [`Matrix::matmul`](crate::matrix::Matrix::matmul) in the last bits.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};

/// `out ← A·Bᵀ` for row-major `a` `[m, k]`, `b` `[n, k]` and `out` `[m, n]`, on one thread.
///
/// # Shapes
/// `a.len() = m·k`, `b.len() = n·k`, `out.len() = m·n` (checked by the caller's layout).
pub(crate) fn a_bt_seq(out: &mut [f64], a: &[f64], b: &[f64], m: usize, n: usize, k: usize) {
    let a = MatRef::from_row_major_slice(a, m, k);
    let b = MatRef::from_row_major_slice(b, n, k);
    let out = MatMut::from_row_major_slice_mut(out, m, n);
    matmul(out, Accum::Replace, a, b.transpose(), 1.0, Par::Seq);
}

/// `out += Dᵀ·D` on and below the diagonal (Σ_i d_i d_iᵀ, the scatter matrix of the rows of
/// `d`; half the flops of the full product), for row-major `d` `[m, p]` and `out` `[p, p]`,
/// on one thread. Entries above the diagonal are left untouched.
pub(crate) fn add_at_a_lower(out: &mut [f64], d: &[f64], m: usize, p: usize) {
    let d = MatRef::from_row_major_slice(d, m, p);
    let out = MatMut::from_row_major_slice_mut(out, p, p);
    triangular::matmul(
        out,
        BlockStructure::TriangularLower,
        Accum::Add,
        d.transpose(),
        BlockStructure::Rectangular,
        d,
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, salt: usize) -> Vec<f64> {
        (0..len)
            .map(|i| (((i * 37 + salt) % 101) as f64 - 50.0) / 7.0)
            .collect()
    }

    #[test]
    fn products_equal_the_plain_sums() {
        let (m, n, k) = (13, 7, 29);
        let (a, b) = (values(m * k, 1), values(n * k, 5));
        let mut out = vec![f64::NAN; m * n];
        a_bt_seq(&mut out, &a, &b, m, n, k);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|t| a[i * k + t] * b[j * k + t]).sum();
                assert!((out[i * n + j] - want).abs() < 1e-12 * want.abs().max(1.0));
            }
        }
        let mut g = vec![1.0; k * k];
        add_at_a_lower(&mut g, &a, m, k);
        assert_eq!(g[1], 1.0, "above the diagonal is untouched");
        for i in 0..k {
            for j in 0..=i {
                let want: f64 = 1.0 + (0..m).map(|r| a[r * k + i] * a[r * k + j]).sum::<f64>();
                assert!((g[i * k + j] - want).abs() < 1e-12 * want.abs().max(1.0));
            }
        }
    }
}
