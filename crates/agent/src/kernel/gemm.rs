//! Row-major `f32` matrix products on the `gemm` crate (the same crate and version burn-flex
//! uses), with the threading chosen per shape.

use gemm::Parallelism;

/// Products with fewer multiply-adds (`m·k·n`) than this run on the calling thread, where the
/// fork/join cost would outweigh the gain.
pub const PARALLEL_MIN_MACS: usize = 1 << 20;

/// Products with at least this many rows use `gemm`'s own rayon split; fewer rows (the
/// 32-row products of workload C) split the output columns across the cores instead, which
/// `gemm` does poorly for e.g. `32×512 · 512×130` (half the single-thread speed).
pub const GEMM_SPLIT_MIN_ROWS: usize = 128;

/// How one product is threaded. Thresholds measured with `cargo run --release -p ami-agent
/// --example kernel_shapes` on the 2-core benchmark machine (bench/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only.
    One,
    /// `gemm`'s `Parallelism::Rayon(0)` (all cores).
    Gemm,
    /// One contiguous block of output columns per core, each single-threaded.
    Columns,
}

/// The threading used for an `m×k · k×n` product.
pub fn threading(m: usize, k: usize, n: usize) -> Threads {
    if m.saturating_mul(k).saturating_mul(n) < PARALLEL_MIN_MACS {
        Threads::One
    } else if m >= GEMM_SPLIT_MIN_ROWS {
        Threads::Gemm
    } else {
        Threads::Columns
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

/// `c = a · b`, or `c += a · b` when `accumulate`, threaded as [`threading`] says.
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
    matmul_with(c, a, b, (m, k, n), rhs, accumulate, threading(m, k, n));
}

/// A pointer handed to the worker of one disjoint block of output columns.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: each worker writes only its own columns of `c` (see `matmul_with`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

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
    threads: Threads,
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
    let block = |c: SendPtr, j0: usize, j1: usize, par: Parallelism| {
        // SAFETY: the assert above bounds every index reached: rows `< m` of `a`, columns
        // `j0..j1 ≤ n` of `b` and `c`; `c` is borrowed mutably, so it cannot alias `a` or `b`,
        // and concurrent blocks write disjoint columns of `c`.
        unsafe { product_block(c.0, a, b, (m, k, n), (j0, j1), rhs, accumulate, par) }
    };
    let ptr = SendPtr(c.as_mut_ptr());
    match threads {
        Threads::One => block(ptr, 0, n, Parallelism::None),
        Threads::Gemm => block(ptr, 0, n, Parallelism::Rayon(0)),
        Threads::Columns => {
            let parts = rayon::current_num_threads().clamp(1, n.div_ceil(16));
            let width = n.div_ceil(parts).next_multiple_of(16);
            rayon::scope(|s| {
                for j0 in (width..n).step_by(width) {
                    s.spawn(move |_| block(ptr, j0, (j0 + width).min(n), Parallelism::None));
                }
                block(ptr, 0, width.min(n), Parallelism::None);
            });
        }
    }
}

/// Columns `j0..j1` of `c = a · b` (or `c += a · b`).
///
/// # Safety
/// `c` must point to `m·n` writable floats that nobody else touches in columns `j0..j1`,
/// `a` and `b` must hold their shapes, and `j0 < j1 ≤ n`.
#[allow(clippy::too_many_arguments)]
unsafe fn product_block(
    c: *mut f32,
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    (j0, j1): (usize, usize),
    rhs: Rhs,
    accumulate: bool,
    par: Parallelism,
) {
    let (b, rhs_cs, rhs_rs) = match rhs {
        Rhs::Plain => (b.as_ptr().add(j0), 1, n as isize),
        Rhs::Transposed => (b.as_ptr().add(j0 * k), k as isize, 1),
    };
    gemm::gemm(
        m,
        j1 - j0,
        k,
        c.add(j0),
        1,
        n as isize,
        accumulate,
        a.as_ptr(),
        1,
        k as isize,
        b,
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
    fn every_threading_layout_and_accumulate_match_naive() {
        for (m, k, n) in [(5, 7, 3), (9, 11, 37), (3, 40, 130)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let want = naive(&a, &b, m, k, n);
            for threads in [Threads::One, Threads::Gemm, Threads::Columns] {
                let mut c = vec![9.0; m * n];
                matmul_with(&mut c, &a, &b, (m, k, n), Rhs::Plain, false, threads);
                c.iter()
                    .zip(&want)
                    .for_each(|(x, y)| assert!((x - y).abs() < 1e-4));
                let mut ct = vec![1.0; m * n];
                matmul_with(&mut ct, &a, &bt, (m, k, n), Rhs::Transposed, true, threads);
                ct.iter()
                    .zip(&want)
                    .for_each(|(x, y)| assert!((x - y - 1.0).abs() < 1e-4, "{threads:?}"));
            }
        }
    }
}
