//! Row-major `f32` matrix products on the `gemm` crate (the same crate and version burn-flex
//! uses), with the threading chosen per shape.

use gemm::Parallelism;

/// Products with at least this many multiply-adds (`m·k·n`) are split over all cores
/// (`Parallelism::Rayon(0)`); smaller ones run on the calling thread, where the fork/join
/// cost would outweigh the gain. Measured with `cargo run --release -p ami-agent --example
/// kernel_shapes` on the 2-core benchmark machine (bench/README.md).
pub const PARALLEL_MIN_MACS: usize = 1 << 21;

/// The threading used for an `m×k · k×n` product (see [`PARALLEL_MIN_MACS`]).
pub fn parallelism(m: usize, k: usize, n: usize) -> Parallelism {
    if m.saturating_mul(k).saturating_mul(n) >= PARALLEL_MIN_MACS {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// How the right-hand factor `b` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rhs {
    /// `b [k, n]` row-major.
    Plain,
    /// `bᵀ` is given, stored `[n, k]` row-major (used for `g · Wᵀ` in backward passes).
    Transposed,
}

/// `c = a · b`, or `c += a · b` when `accumulate`, with the threading of [`parallelism`].
///
/// # Shapes
/// `a [m, k]`, `b [k, n]` (or `[n, k]` for [`Rhs::Transposed`]), `c [m, n]`, all row-major.
///
/// # Panics
/// If a buffer is shorter than its shape (an internal invariant: callers size them).
pub fn matmul(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    rhs: Rhs,
    accumulate: bool,
) {
    matmul_with(c, a, b, (m, k, n), rhs, accumulate, parallelism(m, k, n));
}

/// [`matmul`] with an explicit threading choice (for measurements).
///
/// # Shapes
/// As [`matmul`].
pub fn matmul_with(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    rhs: Rhs,
    accumulate: bool,
    par: Parallelism,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "matmul buffers too short for [{m}, {k}] · [{k}, {n}]"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (rhs_cs, rhs_rs) = match rhs {
        Rhs::Plain => (1, n as isize),
        Rhs::Transposed => (k as isize, 1),
    };
    // SAFETY: the assert above guarantees every index the strides reach lies inside the
    // slices; `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn plain_transposed_and_accumulate_match_naive() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![9.0; m * n];
        matmul(&mut c, &a, &b, (m, k, n), Rhs::Plain, false);
        c.iter()
            .zip(&want)
            .for_each(|(x, y)| assert!((x - y).abs() < 1e-5));
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut ct = vec![1.0; m * n];
        matmul(&mut ct, &a, &bt, (m, k, n), Rhs::Transposed, true);
        ct.iter()
            .zip(&want)
            .for_each(|(x, y)| assert!((x - y - 1.0).abs() < 1e-5));
    }
}
