//! The centred scatter matrix of a block of samples, on and below the diagonal:
//!
//! `S = Σ_s (x_s − μ)(x_s − μ)ᵀ`, i.e. `S_ij = Σ_s d_si d_sj` with `d_s = x_s − μ`,
//!
//! the product behind the PCA covariance `C = S/(n−1)` (a `syrk`: half the flops of `DᵀD`).
//!
//! Two paths, picked once per process ([`ScatterPath::active`]):
//! * [`ScatterPath::Avx512`] — a packed kernel: the rows are centred while they are copied
//!   into panels of 8 columns (`P_q[s][c] = x_s[8q+c] − μ[8q+c]`, zero past `p`), `KC` (512) rows
//!   at a time; each 8 × 24 tile of `S` (rows `8q_i..`, columns `8q_j..`, `q_i ≥ q_j`) is
//!   accumulated in 24 `zmm` registers over those rows — one broadcast of `d_si` times three
//!   8-wide loads of `d_sj` per row and tile row — and added to `S` once per block. Tiles
//!   wholly above the diagonal are skipped. Same work as OpenBLAS's `dsyrk` (what numpy runs
//!   for `X.T @ X`), which the scikit-learn PCA it is compared with calls.
//! * [`ScatterPath::Faer`] — faer's lower-triangular GEMM on centred copies of
//!   `FAER_BLOCK` (2048) rows (faer picks its own micro-kernels: AVX2, or AVX-512 where the
//!   CPU has it): CPUs without AVX-512F, or when `AMI_FORCE_FALLBACK=1` forces our kernel off.
//!
//! Both sum each entry's products in sample order within a block and the blocks in order, so
//! a given path returns the same bits for the same input. On the AVX-512 development box the
//! two paths even gave identical bits (faer's kernel also chains one FMA per sample over
//! 512-row blocks there); elsewhere faer's blocking may group the sums differently.

/// `f64` lanes of a `zmm` register: the width of one packed panel.
const W: usize = 8;
/// Rows per packed block (the panels of one block take `KC · 8 · ⌈p/8⌉` doubles).
const KC: usize = 512;
/// Samples per centred block handed to faer's GEMM on the fallback path.
const FAER_BLOCK: usize = 2048;

/// Environment variable that turns the AVX-512 kernels off: `AMI_FORCE_FALLBACK=1` makes this
/// module run faer and the agent's packed products their AVX2 variant, so that benchmarks
/// report what an AVX2-only machine gets (issue 14). The agent re-exports it.
pub const FORCE_FALLBACK_VAR: &str = "AMI_FORCE_FALLBACK";

/// Whether [`FORCE_FALLBACK_VAR`] is `1` in this process's environment.
pub fn fallback_forced() -> bool {
    forces_fallback(std::env::var(FORCE_FALLBACK_VAR).ok().as_deref())
}

/// Whether a value of [`FORCE_FALLBACK_VAR`] forces the fallback: `1`, around spaces.
fn forces_fallback(value: Option<&str>) -> bool {
    value.map(str::trim) == Some("1")
}

/// Which implementation computes the scatter matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScatterPath {
    /// The packed AVX-512F kernel of this module.
    Avx512,
    /// faer's lower-triangular GEMM.
    Faer,
}

impl ScatterPath {
    /// Whether this CPU runs the path.
    pub fn available(self) -> bool {
        match self {
            ScatterPath::Faer => true,
            ScatterPath::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                {
                    std::arch::is_x86_feature_detected!("avx512f")
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    false
                }
            }
        }
    }

    /// The path of this process: AVX-512 where available and not forced off by
    /// [`FORCE_FALLBACK_VAR`]` = 1`, else faer (read once).
    pub fn active() -> ScatterPath {
        static ACTIVE: std::sync::OnceLock<ScatterPath> = std::sync::OnceLock::new();
        *ACTIVE
            .get_or_init(|| ScatterPath::choose(ScatterPath::Avx512.available(), fallback_forced()))
    }

    /// The rule of [`Self::active`]: AVX-512 when the CPU has it and the fallback is not
    /// forced.
    fn choose(avx512: bool, forced: bool) -> ScatterPath {
        if avx512 && !forced {
            ScatterPath::Avx512
        } else {
            ScatterPath::Faer
        }
    }

    /// `"avx512"` or `"faer"`.
    pub fn name(self) -> &'static str {
        match self {
            ScatterPath::Avx512 => "avx512",
            ScatterPath::Faer => "faer",
        }
    }
}

/// `S = Σ_s (x_s − μ)(x_s − μ)ᵀ` over the row-major samples `rows` (`[m, p]`, `p = mean.len()`)
/// on the [`ScatterPath::active`] path, as a row-major `[p, p]` matrix of which only the
/// entries on and below the diagonal are meaningful.
pub(crate) fn centred_scatter_lower(rows: &[f64], mean: &[f64]) -> Vec<f64> {
    centred_scatter_lower_on(ScatterPath::active(), rows, mean)
}

/// [`centred_scatter_lower`] on a given path (falls back to faer where `path` is not
/// available on this CPU).
pub(crate) fn centred_scatter_lower_on(path: ScatterPath, rows: &[f64], mean: &[f64]) -> Vec<f64> {
    let p = mean.len();
    debug_assert!(p > 0 && rows.len().is_multiple_of(p));
    #[cfg(target_arch = "x86_64")]
    if path == ScatterPath::Avx512 && path.available() {
        // SAFETY: AVX-512F is present (checked just above).
        return unsafe { avx512::scatter(rows, mean) };
    }
    let _ = path;
    scatter_faer(rows, mean)
}

/// The fallback: centred copies of [`FAER_BLOCK`] rows, `S += DᵀD` by faer on the lower
/// triangle.
fn scatter_faer(rows: &[f64], mean: &[f64]) -> Vec<f64> {
    let p = mean.len();
    let mut g = vec![0.0; p * p];
    let mut d = Vec::with_capacity(FAER_BLOCK.min(rows.len() / p) * p);
    for block in rows.chunks(FAER_BLOCK * p) {
        d.clear();
        d.extend_from_slice(block);
        for r in d.chunks_exact_mut(p) {
            r.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
        }
        crate::gemm::add_at_a_lower(&mut g, &d, block.len() / p, p);
    }
    g
}

/// Copies the samples `block` (`[m, p]`, `m ≤ KC`) centred into `⌈p/8⌉` panels of
/// `KC × 8` doubles: `panels[q·KC·8 + s·8 + c] = block[s][8q+c] − μ[8q+c]`, 0 for `8q+c ≥ p`.
fn pack(block: &[f64], mean: &[f64], panels: &mut [f64]) {
    let p = mean.len();
    let full = p / W;
    for (s, r) in block.chunks_exact(p).enumerate() {
        for q in 0..full {
            let at = q * KC * W + s * W;
            let dst = &mut panels[at..at + W];
            let (src, m) = (&r[q * W..q * W + W], &mean[q * W..q * W + W]);
            for c in 0..W {
                dst[c] = src[c] - m[c];
            }
        }
        if full * W < p {
            let at = full * KC * W + s * W;
            let dst = &mut panels[at..at + W];
            for (c, v) in dst.iter_mut().enumerate() {
                let j = full * W + c;
                *v = if j < p { r[j] - mean[j] } else { 0.0 };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{pack, KC, W};
    use std::arch::x86_64::*;

    /// Panels per register tile's column block (8 × 24 tile, 24 accumulators).
    const GROUP: usize = 3;

    /// [`super::centred_scatter_lower`] by the packed kernel.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scatter(rows: &[f64], mean: &[f64]) -> Vec<f64> {
        let p = mean.len();
        let np = p.div_ceil(W);
        let pp = np * W;
        // Padded accumulator: tiles may run past `p` (zero panels) and above the diagonal.
        let mut g = vec![0.0; pp * pp];
        let mut panels = vec![0.0; np * KC * W];
        for block in rows.chunks(KC * p) {
            let m = block.len() / p;
            pack(block, mean, &mut panels);
            let mut qj = 0;
            while qj < np {
                let nb = (np - qj).min(GROUP);
                for qi in qj..np {
                    let a = panels.as_ptr().add(qi * KC * W);
                    let b = panels.as_ptr().add(qj * KC * W);
                    let c = g.as_mut_ptr().add(qi * W * pp + qj * W);
                    // SAFETY: panels qi and qj..qj+nb hold `m ≤ KC` packed rows each; the
                    // tile (rows 8qi..8qi+8, columns 8qj..8qj+8nb) lies inside the pp × pp `g`.
                    match nb {
                        3 => tile::<3>(m, a, b, c, pp),
                        2 => tile::<2>(m, a, b, c, pp),
                        _ => tile::<1>(m, a, b, c, pp),
                    }
                }
                qj += nb;
            }
        }
        let mut out = vec![0.0; p * p];
        for i in 0..p {
            out[i * p..i * p + i + 1].copy_from_slice(&g[i * pp..i * pp + i + 1]);
        }
        out
    }

    /// `C[r][8j..8j+8] += Σ_{s<m} a[s·8 + r] · b[j·KC·8 + s·8 ..+8]` for r < 8, j < NP: one
    /// 8 × 8·NP tile, accumulated in registers over the `m` packed rows.
    ///
    /// # Safety
    /// AVX-512F; `a` readable for `m·8` doubles, `b` for `NP` panels of stride `KC·8` holding
    /// `m·8` each, `c` writable for 8 rows of stride `ldc` and `8·NP` columns.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const NP: usize>(
        m: usize,
        a: *const f64,
        b: *const f64,
        c: *mut f64,
        ldc: usize,
    ) {
        let mut acc = [[_mm512_setzero_pd(); NP]; W];
        // The tile of C is touched once at the end: start fetching it now.
        for r in 0..W {
            for j in 0..NP {
                _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + j * W) as *const i8);
            }
        }
        for s in 0..m {
            let mut bv = [_mm512_setzero_pd(); NP];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_pd(b.add(j * KC * W + s * W));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_pd(*a.add(s * W + r));
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_pd(av, bv, *acc);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (j, &acc) in acc.iter().enumerate() {
                let at = c.add(r * ldc + j * W);
                _mm512_storeu_pd(at, _mm512_add_pd(_mm512_loadu_pd(at), acc));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, salt: u64) -> Vec<f64> {
        let mut s = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 1.0
            })
            .collect()
    }

    fn plain(rows: &[f64], mean: &[f64]) -> Vec<f64> {
        let p = mean.len();
        let mut g = vec![0.0; p * p];
        for r in rows.chunks_exact(p) {
            for i in 0..p {
                for j in 0..=i {
                    g[i * p + j] += (r[i] - mean[i]) * (r[j] - mean[j]);
                }
            }
        }
        g
    }

    #[test]
    fn both_paths_equal_the_plain_sum_at_ragged_sizes() {
        // p below, at and across panel (8) and tile (24) widths; m across the KC block.
        for &(m, p) in &[
            (1, 1),
            (3, 5),
            (17, 8),
            (40, 13),
            (9, 24),
            (KC + 7, 25),
            (2 * KC + 3, 41),
            (70, 67),
        ] {
            let rows = values(m * p, (m * 31 + p) as u64);
            let mean: Vec<f64> = values(p, p as u64).iter().map(|v| v + 3.0).collect();
            let want = plain(&rows, &mean);
            for path in [ScatterPath::Avx512, ScatterPath::Faer] {
                let got = centred_scatter_lower_on(path, &rows, &mean);
                assert_eq!(got.len(), p * p);
                for i in 0..p {
                    for j in 0..=i {
                        let (g, w) = (got[i * p + j], want[i * p + j]);
                        assert!(
                            (g - w).abs() <= 1e-12 * (m as f64) * 16.0,
                            "{path:?} m={m} p={p} ({i},{j}): {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_path_gives_the_same_bits_twice_and_the_active_path_is_named() {
        let (m, p) = (KC + 100, 30);
        let rows = values(m * p, 5);
        let mean = vec![0.25; p];
        for path in [ScatterPath::Avx512, ScatterPath::Faer] {
            assert_eq!(
                centred_scatter_lower_on(path, &rows, &mean),
                centred_scatter_lower_on(path, &rows, &mean)
            );
        }
        let forced = |v| forces_fallback(v);
        assert_eq!(ScatterPath::choose(true, forced(None)), ScatterPath::Avx512);
        assert_eq!(
            ScatterPath::choose(true, forced(Some("0"))),
            ScatterPath::Avx512
        );
        assert_eq!(
            ScatterPath::choose(true, forced(Some("1"))),
            ScatterPath::Faer
        );
        assert_eq!(
            ScatterPath::choose(true, forced(Some(" 1 "))),
            ScatterPath::Faer
        );
        assert_eq!(ScatterPath::choose(false, forced(None)), ScatterPath::Faer);
        assert_eq!(ScatterPath::Faer.name(), "faer");
        assert_eq!(ScatterPath::Avx512.name(), "avx512");
        let active = ScatterPath::active();
        assert!(active.available());
        assert!(["avx512", "faer"].contains(&active.name()));
        assert_eq!(
            centred_scatter_lower(&rows, &mean),
            centred_scatter_lower_on(active, &rows, &mean)
        );
    }
}
