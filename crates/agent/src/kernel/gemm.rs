//! Row-major `f32` matrix products on the `gemm` crate (the same crate and version burn-flex
//! uses), with the threading chosen per shape.

use gemm::Parallelism;

/// Products with fewer multiply-adds (`m·k·n`) than this run on the calling thread, where the
/// fork/join cost would outweigh the gain.
pub const PARALLEL_MIN_MACS: usize = 1 << 20;

/// How one product is threaded. Larger products split the output columns across the cores:
/// as fast as `gemm`'s own rayon split on the workload shapes, twice as fast for
/// `32×512 · 512×130` (where `gemm`'s split runs at half the single-thread speed), and each
/// core then applies the [`Epilogue`] to its own columns while they are in cache. Measured with `cargo run --release -p ami-bench
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

/// A pass applied to the product's output right after it is computed (per column block).
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// Nothing.
    None,
    /// `c ← c + b` (broadcast over rows), then `max(·, 0)` when `relu`; `b [n]`.
    Bias {
        /// `b [n]`.
        bias: &'a [f32],
        /// Apply the ReLU.
        relu: bool,
    },
    /// `c ← c ⊙ 1[h > 0]`, the ReLU's backward mask; `h [m, n]`.
    ReluMask(&'a [f32]),
}

/// The threading used for an `m×k · k×n` product.
pub fn threading(m: usize, k: usize, n: usize) -> Threads {
    if m.saturating_mul(k).saturating_mul(n) < PARALLEL_MIN_MACS {
        Threads::One
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

/// `c = a · b`, or `c += a · b` when `accumulate`, followed by `epilogue`, threaded as
/// [`threading`] says.
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
    epilogue: Epilogue,
) {
    let threads = threading(m, k, n);
    matmul_with(c, a, b, (m, k, n), (rhs, accumulate, epilogue), threads);
}

/// `c = aᵀ · b` (or `c += aᵀ · b` when `accumulate`), the weight-gradient product `hᵀ g`,
/// threaded as [`threading`] says (output columns split across the cores).
///
/// # Shapes
/// `a [k, m]` (so `aᵀ` is `[m, k]`), `b [k, n]`, `c [m, n]`, all row-major.
///
/// # Panics
/// If a buffer is shorter than its shape (an internal invariant: callers size them).
pub fn matmul_tn(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    matmul_tn_with(c, a, b, (m, k, n), accumulate, threading(m, k, n));
}

/// [`matmul_tn`] on `threads` ([`Threads::Gemm`] is treated as [`Threads::Columns`]).
///
/// # Shapes
/// As [`matmul_tn`].
pub fn matmul_tn_with(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    threads: Threads,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "matmul_tn buffers too short for [{k}, {m}]ᵀ · [{k}, {n}]"
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
    let ptr = SendPtr(c.as_mut_ptr());
    let block = |c: SendPtr, j0: usize, j1: usize| {
        // SAFETY: as in `matmul_with`: the assert bounds every index, `c` is borrowed mutably
        // and concurrent blocks write disjoint columns.
        unsafe {
            let lhs = (a.as_ptr(), 1, m as isize);
            product_block_strided(c.0, lhs, b, (m, k, n), (j0, j1), Rhs::Plain, accumulate);
        }
    };
    match threads {
        Threads::One => block(ptr, 0, n),
        Threads::Gemm | Threads::Columns => split_columns(n, |j0, j1| block(ptr, j0, j1)),
    }
}

/// Runs `f(j0, j1)` on contiguous blocks of the `n` output columns, one per core (widths a
/// multiple of 16; the calling thread takes the first block).
fn split_columns(n: usize, f: impl Fn(usize, usize) + Sync) {
    let parts = rayon::current_num_threads().clamp(1, n.div_ceil(16));
    let width = n.div_ceil(parts).next_multiple_of(16);
    let f = &f;
    rayon::scope(|s| {
        for j0 in (width..n).step_by(width) {
            s.spawn(move |_| f(j0, (j0 + width).min(n)));
        }
        f(0, width.min(n));
    });
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
    (rhs, accumulate, epilogue): (Rhs, bool, Epilogue),
    threads: Threads,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "matmul buffers too short for [{m}, {k}] · [{k}, {n}]"
    );
    match epilogue {
        Epilogue::Bias { bias, .. } => assert!(bias.len() >= n, "bias shorter than {n}"),
        Epilogue::ReluMask(h) => assert!(h.len() >= m * n, "mask shorter than [{m}, {n}]"),
        Epilogue::None => {}
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        // SAFETY: `c` holds `m·n` floats (asserted) and is borrowed mutably.
        unsafe { apply_epilogue(c.as_mut_ptr(), (m, n), (0, n), epilogue) };
        return;
    }
    let block = |c: SendPtr, j0: usize, j1: usize, par: Parallelism| {
        // SAFETY: the asserts above bound every index reached: rows `< m` of `a`, columns
        // `j0..j1 ≤ n` of `b`, `c`, the bias and the mask; `c` is borrowed mutably, so it
        // cannot alias `a`, `b` or the epilogue's inputs, and concurrent blocks write
        // disjoint columns of `c`.
        unsafe {
            product_block(c.0, a, b, (m, k, n), (j0, j1), rhs, accumulate, par);
            apply_epilogue(c.0, (m, n), (j0, j1), epilogue);
        }
    };
    let ptr = SendPtr(c.as_mut_ptr());
    match threads {
        Threads::One => block(ptr, 0, n, Parallelism::None),
        Threads::Gemm => block(ptr, 0, n, Parallelism::Rayon(0)),
        Threads::Columns => split_columns(n, |j0, j1| block(ptr, j0, j1, Parallelism::None)),
    }
}

/// Applies `epilogue` to columns `j0..j1` of `c [m, n]`.
///
/// # Safety
/// `c` must point to `m·n` writable floats that nobody else touches in columns `j0..j1`;
/// the epilogue's inputs must hold their shapes.
unsafe fn apply_epilogue(
    c: *mut f32,
    (m, n): (usize, usize),
    (j0, j1): (usize, usize),
    e: Epilogue,
) {
    for i in 0..m {
        let row = std::slice::from_raw_parts_mut(c.add(i * n + j0), j1 - j0);
        match e {
            Epilogue::None => return,
            Epilogue::Bias { bias, relu: true } => row
                .iter_mut()
                .zip(&bias[j0..j1])
                .for_each(|(v, b)| *v = (*v + b).max(0.0)),
            Epilogue::Bias { bias, relu: false } => {
                row.iter_mut().zip(&bias[j0..j1]).for_each(|(v, b)| *v += b)
            }
            Epilogue::ReluMask(h) => row
                .iter_mut()
                .zip(&h[i * n + j0..i * n + j1])
                .for_each(|(g, &h)| *g = if h > 0.0 { *g } else { 0.0 }),
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
    let lhs = (a.as_ptr(), k as isize, 1);
    product_block_par(c, lhs, b, (m, k, n), (j0, j1), rhs, accumulate, par);
}

/// [`product_block`] on one thread with the left factor given as `(pointer, row stride,
/// column stride)`.
///
/// # Safety
/// As [`product_block`]; every `a[i·rs + p·cs]` with `i < m`, `p < k` must be readable.
unsafe fn product_block_strided(
    c: *mut f32,
    lhs: (*const f32, isize, isize),
    b: &[f32],
    shape: (usize, usize, usize),
    cols: (usize, usize),
    rhs: Rhs,
    accumulate: bool,
) {
    product_block_par(c, lhs, b, shape, cols, rhs, accumulate, Parallelism::None);
}

/// The `gemm` call behind [`product_block`] and [`product_block_strided`].
///
/// # Safety
/// As [`product_block_strided`].
#[allow(clippy::too_many_arguments)]
unsafe fn product_block_par(
    c: *mut f32,
    (a, a_rs, a_cs): (*const f32, isize, isize),
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
        a,
        a_cs,
        a_rs,
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
    fn transposed_lhs_matches_naive() {
        for (m, k, n) in [(5, 7, 3), (130, 256, 512), (64, 33, 17)] {
            // `a` is stored `[k, m]`; `at` is its transpose `[m, k]`.
            let a: Vec<f32> = (0..k * m).map(|i| (i as f32 * 0.29).sin()).collect();
            let at: Vec<f32> = (0..m * k).map(|i| a[(i % k) * m + i / k]).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.13).cos()).collect();
            let want = naive(&at, &b, m, k, n);
            let mut c = vec![3.0; m * n];
            matmul_tn(&mut c, &a, &b, (m, k, n), false);
            let scale = want.iter().fold(1.0f32, |s, w| s.max(w.abs()));
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5 * scale, "{x} vs {y}");
            }
            matmul_tn(&mut c, &a, &b, (m, k, n), true);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 2e-5 * scale, "{x} vs 2·{y}");
            }
        }
    }

    #[test]
    fn every_threading_layout_and_epilogue_match_naive() {
        for (m, k, n) in [(5, 7, 3), (9, 11, 37), (3, 40, 130)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let want = naive(&a, &b, m, k, n);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.05 - 0.5).collect();
            let fused: Vec<f32> = (0..m * n)
                .map(|i| (want[i] + bias[i % n]).max(0.0))
                .collect();
            for threads in [Threads::One, Threads::Gemm, Threads::Columns] {
                let close = |got: &[f32], want: &[f32]| {
                    for (x, y) in got.iter().zip(want) {
                        assert!((x - y).abs() < 1e-4, "{threads:?}: {x} vs {y}");
                    }
                };
                let mut c = vec![9.0; m * n];
                let plain = (Rhs::Plain, false, Epilogue::None);
                matmul_with(&mut c, &a, &b, (m, k, n), plain, threads);
                close(&c, &want);
                let mut ct = vec![1.0; m * n];
                let acc = (Rhs::Transposed, true, Epilogue::None);
                matmul_with(&mut ct, &a, &bt, (m, k, n), acc, threads);
                let plus_one: Vec<f32> = want.iter().map(|w| w + 1.0).collect();
                close(&ct, &plus_one);
                let relu = Epilogue::Bias {
                    bias: &bias,
                    relu: true,
                };
                matmul_with(
                    &mut c,
                    &a,
                    &b,
                    (m, k, n),
                    (Rhs::Plain, false, relu),
                    threads,
                );
                close(&c, &fused);
                let mask = Epilogue::ReluMask(&fused);
                matmul_with(
                    &mut ct,
                    &a,
                    &b,
                    (m, k, n),
                    (Rhs::Plain, false, mask),
                    threads,
                );
                let masked: Vec<f32> = (0..m * n)
                    .map(|i| if fused[i] > 0.0 { want[i] } else { 0.0 })
                    .collect();
                close(&ct, &masked);
            }
        }
    }
}
