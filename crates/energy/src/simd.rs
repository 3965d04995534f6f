//! Runtime dispatch of hot loops to an AVX2-compiled copy.
//!
//! The workspace builds for the baseline x86-64 target (SSE2: two f64 per vector). A kernel
//! written as an `#[inline(always)]` function of slices is compiled a second time inside a
//! `#[target_feature(enable = "avx2")]` wrapper and picked at run time when the CPU has AVX2.
//! FMA is deliberately **not** enabled: without it the compiler cannot fuse `a*b + c`, so both
//! copies perform the same IEEE operations in the same order and return identical bits.

/// `avx2_dispatch!(pub(crate) fn name(a: A, ...) -> R = generic);` defines `name`, which calls
/// `generic` through an AVX2 copy where available and directly otherwise.
macro_rules! avx2_dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $generic:path;) => {
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: this CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;

/// Rows × columns of the register tile of [`accumulate_lower`] (8 AVX2 registers).
const TILE_ROWS: usize = 4;
const TILE_COLS: usize = 8;

/// `cov += AᵀD` on and below the diagonal, for row-major `a`, `d` `[m, p]` and `cov` `[p, p]`
/// (entries above the diagonal inside diagonal tiles are also written; callers read the
/// lower triangle). Each 4 × 8 tile that touches the lower triangle is accumulated in
/// registers over the m samples (a small GEMM); ragged edges use plain sums.
#[inline(always)]
pub(crate) fn accumulate_lower(a: &[f64], d: &[f64], p: usize, cov: &mut [f64]) {
    for i0 in (0..p).step_by(TILE_ROWS) {
        let ih = (p - i0).min(TILE_ROWS);
        for j0 in (0..i0 + ih).step_by(TILE_COLS) {
            let jw = (p - j0).min(TILE_COLS);
            if ih == TILE_ROWS && jw == TILE_COLS {
                let mut acc = [[0.0f64; TILE_COLS]; TILE_ROWS];
                for (ar, dr) in a.chunks_exact(p).zip(d.chunks_exact(p)) {
                    let (ar, dr) = (&ar[i0..i0 + TILE_ROWS], &dr[j0..j0 + TILE_COLS]);
                    for (acc, &av) in acc.iter_mut().zip(ar) {
                        for (c, &dv) in acc.iter_mut().zip(dr) {
                            *c += av * dv;
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let row = &mut cov[(i0 + r) * p + j0..(i0 + r) * p + j0 + TILE_COLS];
                    row.iter_mut().zip(acc).for_each(|(c, a)| *c += a);
                }
            } else {
                for r in i0..i0 + ih {
                    for s in j0..j0 + jw {
                        let v: f64 = a
                            .chunks_exact(p)
                            .zip(d.chunks_exact(p))
                            .map(|(ar, dr)| ar[r] * dr[s])
                            .sum();
                        cov[r * p + s] += v;
                    }
                }
            }
        }
    }
}
