//! Products with a frozen weight matrix packed once: `C = A·W (+ b) (then max(·, 0))`,
//! row-major, on a register-blocked micro-kernel (AVX-512, or AVX2 + FMA).
//!
//! `W [k, n]` is copied once into column panels of [`NR`] = 32 columns, each stored as two
//! contiguous halves of `k` rows × 16 floats (64-byte aligned, zero-padded on the right). The
//! micro-kernel keeps an `MR × 32` block of `C` (MR ≤ 12 rows, 24 `zmm` accumulators) in
//! registers for the whole `k` loop: per `k` it loads the panel row (one vector from each
//! half), broadcasts `A[i, k]` for each of the
//! rows and issues `2·MR` fused multiply-adds; the bias and ReLU are applied in registers before
//! one (masked) store. Compared with a general GEMM this skips the per-call packing of the
//! weights, the edge kernels and the separate epilogue pass — the planner multiplies the same
//! frozen weights thousands of times per plan.
//!
//! The AVX2 variant ([`Variant::Avx2`]) keeps a `6 × 16` block (12 `ymm` accumulators, two
//! panel vectors and a broadcast fit the 16 registers) and walks each panel in two halves.
//! Both take `A` in chunks of rows (≤ 384 KiB, kept in L2) and sweep all panels per chunk, so
//! a panel is reused by every register block of the chunk instead of all of `W` being
//! streamed again for each block of `MR` rows (B with the AVX2 variant: 204 → 190 ms).
//! Only x86-64 with AVX-512F or AVX2 + FMA is served ([`PackedWeights::usable`]); elsewhere
//! callers use the
//! general GEMM of [`super::gemm`].

use rayon::prelude::*;

use super::gemm::Epilogue;

/// Columns per panel.
pub const NR: usize = 32;

/// Rows of `C` per register block.
const MR: usize = 12;

/// Columns per half panel: the packed layout stores each panel as two contiguous halves of
/// `k × 16` floats (the AVX2 block's width; the AVX-512 block reads both halves per `k`).
const HALF: usize = 16;

/// One aligned 64-byte vector of the packed panels.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lane([f32; 16]);

/// `AMI_FORCE_FALLBACK=1` makes the packed kernel run its AVX2 variant ([`Variant::Avx2`])
/// where the CPU has AVX-512F too, so that `ami bench` reports what an AVX2-only machine gets
/// (issue 14); one variable for the whole workspace, defined in `ami-energy`.
pub use ami_energy::scatter::{fallback_forced, FORCE_FALLBACK_VAR};

/// Which micro-kernel runs the packed products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// AVX-512F: blocks of up to 12 rows × 32 columns (24 `zmm` accumulators).
    Avx512,
    /// AVX2 + FMA: blocks of up to 6 rows × 16 columns (12 `ymm` accumulators), each panel in
    /// two halves.
    Avx2,
}

impl Variant {
    /// Whether this CPU runs the variant.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Variant::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
                Variant::Avx2 => {
                    std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            false
        }
    }

    /// The variant the packed products use in this process: AVX-512 where available and not
    /// forced off ([`FORCE_FALLBACK_VAR`]), else AVX2 + FMA where available, else none (read
    /// once per process).
    pub fn active() -> Option<Variant> {
        static ACTIVE: std::sync::OnceLock<Option<Variant>> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(|| {
            if Variant::Avx512.available() && !fallback_forced() {
                Some(Variant::Avx512)
            } else if Variant::Avx2.available() {
                Some(Variant::Avx2)
            } else {
                None
            }
        })
    }

    /// `"avx512"` or `"avx2"`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Avx512 => "avx512",
            Variant::Avx2 => "avx2",
        }
    }
}

/// `W [k, n]` in panels of [`NR`] columns.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedWeights {
    k: usize,
    n: usize,
    lanes: Vec<Lane>,
}

impl PackedWeights {
    /// Packs the row-major `w [k, n]`.
    ///
    /// # Panics
    /// If `w.len() != k·n` (an internal invariant: callers pass a checked layer).
    pub fn pack(w: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(
            w.len(),
            k * n,
            "packed weights: [{k}, {n}] needs k·n values"
        );
        let panels = n.div_ceil(NR);
        let mut lanes = vec![Lane([0.0; 16]); panels * k * 2];
        for p in 0..panels {
            for kk in 0..k {
                for c in 0..NR {
                    let j = p * NR + c;
                    if j < n {
                        lanes[(p * 2 + c / 16) * k + kk].0[c % 16] = w[kk * n + j];
                    }
                }
            }
        }
        Self { k, n, lanes }
    }

    /// Packs the transpose of the row-major `w [k, n]`, i.e. `wᵀ [n, k]` (for the backward
    /// product `g · wᵀ`).
    ///
    /// # Panics
    /// If `w.len() != k·n`.
    pub fn pack_transposed(w: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(
            w.len(),
            k * n,
            "packed weights: [{k}, {n}] needs k·n values"
        );
        let mut t = vec![0.0; k * n];
        for i in 0..k {
            for j in 0..n {
                t[j * k + i] = w[i * n + j];
            }
        }
        Self::pack(&t, n, k)
    }

    /// Whether this machine runs the packed kernel: x86-64 with AVX-512F or with AVX2 + FMA
    /// ([`Variant::active`]).
    pub fn usable() -> bool {
        Variant::active().is_some()
    }

    /// Input width `k`.
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Output width `n`.
    pub fn cols(&self) -> usize {
        self.n
    }

    /// `c = a · W` followed by `epilogue` (in registers) for `m` rows, on the calling thread.
    /// Returns `false` (and leaves `c` untouched) where the kernel is not [`Self::usable`].
    ///
    /// # Shapes
    /// `a [m, k]`, `c [m, n]`; the epilogue's bias `[n]` or mask `[m, n]`.
    ///
    /// # Panics
    /// If a buffer is shorter than its shape (an internal invariant: callers size them).
    pub fn matmul(&self, c: &mut [f32], a: &[f32], m: usize, epilogue: Epilogue) -> bool {
        match Variant::active() {
            Some(v) => self.matmul_with(v, c, a, m, epilogue),
            None => false,
        }
    }

    /// [`Self::matmul`] on a given micro-kernel; returns `false` (and leaves `c` untouched)
    /// where the CPU does not run it.
    ///
    /// # Panics
    /// If a buffer is shorter than its shape.
    pub fn matmul_with(
        &self,
        variant: Variant,
        c: &mut [f32],
        a: &[f32],
        m: usize,
        epilogue: Epilogue,
    ) -> bool {
        let (k, n) = (self.k, self.n);
        let epi_ok = match epilogue {
            Epilogue::None => true,
            Epilogue::Bias { bias, .. } => bias.len() >= n,
            Epilogue::ReluMask(h) => h.len() >= m * n,
        };
        assert!(
            a.len() >= m * k && c.len() >= m * n && epi_ok,
            "packed matmul buffers too short for [{m}, {k}] · [{k}, {n}]"
        );
        if !variant.available() {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the variant's CPU features are present (checked above) and the assert
        // bounds every access.
        unsafe {
            match variant {
                Variant::Avx512 => avx512::matmul(self, c.as_mut_ptr(), a.as_ptr(), m, epilogue),
                Variant::Avx2 => avx2::matmul(self, c.as_mut_ptr(), a.as_ptr(), m, epilogue),
            }
        }
        true
    }
}

impl PackedWeights {
    /// [`Self::matmul`] with the rows split into one contiguous block per core (rayon).
    /// Returns `false` where the kernel is not [`Self::usable`].
    ///
    /// # Shapes
    /// As [`Self::matmul`].
    pub fn matmul_parallel(&self, c: &mut [f32], a: &[f32], rows: usize, epi: Epilogue) -> bool {
        if !Self::usable() {
            return false;
        }
        let (k, n) = (self.k, self.n);
        let parts = rayon::current_num_threads().clamp(1, rows.max(1));
        let chunk = rows.div_ceil(parts).max(1);
        let mask = match epi {
            Epilogue::ReluMask(h) => Some(h),
            _ => None,
        };
        c[..rows * n]
            .par_chunks_mut(chunk * n)
            .zip(a[..rows * k].par_chunks(chunk * k))
            .enumerate()
            .for_each(|(i, (c, a))| {
                let epi = match mask {
                    Some(h) => Epilogue::ReluMask(&h[i * chunk * n..]),
                    None => epi,
                };
                self.matmul(c, a, c.len() / n, epi);
            });
        true
    }
}

/// The epilogue as raw pointers for the micro-kernels, the mask offset to a row block.
#[derive(Clone, Copy)]
enum Epi {
    None,
    Bias(*const f32, bool),
    Mask(*const f32),
}

impl Epi {
    /// `epilogue` for the block starting at row `i0` of an output `n` wide.
    ///
    /// # Panics
    /// If the mask is shorter than `i0·n` (callers check it holds `m·n`).
    fn at(epilogue: Epilogue, i0: usize, n: usize) -> Epi {
        match epilogue {
            Epilogue::None => Epi::None,
            Epilogue::Bias { bias, relu } => Epi::Bias(bias.as_ptr(), relu),
            Epilogue::ReluMask(h) => Epi::Mask(h[i0 * n..].as_ptr()),
        }
    }
}

/// Bytes of `A` rows one pass over the panels keeps in the L2 cache ([`row_chunk`]).
const CHUNK_BYTES: usize = 384 * 1024;

/// Rows of `A` per pass over all panels: a multiple of the register block `mr`, at most
/// [`CHUNK_BYTES`] of `A`. Each panel is streamed once per chunk and reused by all its row
/// blocks from L1/L2, instead of all of `W` (up to 1 MB for 512 × 512) once per `mr` rows;
/// the chunk itself stays in L2. Row blocks are the same as without chunking (`mr` divides
/// the chunk), so results are unchanged.
fn row_chunk(k: usize, mr: usize) -> usize {
    (CHUNK_BYTES / (4 * k.max(1)) / mr).max(1) * mr
}

/// Visits the register blocks of an `m`-row product in the order of [`row_chunk`]: for each
/// chunk of rows, every column block `cb < col_blocks`, and in it every row block —
/// `tile(i0, rows, cb)` for rows `i0..i0 + rows` (`rows ≤ mr`).
#[inline(always)]
fn for_each_tile(
    m: usize,
    k: usize,
    mr: usize,
    col_blocks: usize,
    mut tile: impl FnMut(usize, usize, usize),
) {
    let chunk = row_chunk(k, mr);
    for c0 in (0..m).step_by(chunk) {
        let end = (c0 + chunk).min(m);
        for cb in 0..col_blocks {
            for i0 in (c0..end).step_by(mr) {
                tile(i0, (end - i0).min(mr), cb);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Epi, Epilogue, PackedWeights, HALF, MR, NR};
    use std::arch::x86_64::*;

    /// See [`PackedWeights::matmul`].
    ///
    /// # Safety
    /// AVX-512F must be available; `c` must hold `m·n` floats, `a` `m·k`, `bias` `n`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn matmul(
        w: &PackedWeights,
        c: *mut f32,
        a: *const f32,
        m: usize,
        epilogue: Epilogue,
    ) {
        let (k, n) = (w.k, w.n);
        let lanes = w.lanes.as_ptr() as *const f32;
        super::for_each_tile(m, k, MR, n.div_ceil(NR), |i0, rows, p| {
            let bp = lanes.add(p * k * NR);
            let (ar, cr) = (a.add(i0 * k), c.add(i0 * n));
            let args = (ar, cr, bp, k, n, p * NR, Epi::at(epilogue, i0, n));
            // SAFETY: as this function's (the block lies inside `a`, `c` and the panels).
            unsafe {
                match rows {
                    12 => block::<12>(args),
                    11 => block::<11>(args),
                    10 => block::<10>(args),
                    9 => block::<9>(args),
                    8 => block::<8>(args),
                    7 => block::<7>(args),
                    6 => block::<6>(args),
                    5 => block::<5>(args),
                    4 => block::<4>(args),
                    3 => block::<3>(args),
                    2 => block::<2>(args),
                    _ => block::<1>(args),
                }
            }
        });
    }

    type BlockArgs = (*const f32, *mut f32, *const f32, usize, usize, usize, Epi);

    /// One `R × 32` block of `C`: rows `a[0..R]`, panel `bp`, output columns `col0..col0+32`
    /// (masked at `n`).
    ///
    /// # Safety
    /// As [`matmul`], with `a`/`c` pointing at the block's first row and `bp` at its panel.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const R: usize>((a, c, bp, k, n, col0, epi): BlockArgs) {
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for kk in 0..k {
            let b0 = _mm512_load_ps(bp.add(kk * HALF));
            let b1 = _mm512_load_ps(bp.add((k + kk) * HALF));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r * k + kk));
                acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
            }
        }
        let width = (n - col0).min(NR);
        let mask = |w: usize| -> __mmask16 {
            if w >= 16 {
                0xFFFF
            } else {
                ((1u32 << w) - 1) as __mmask16
            }
        };
        let (m0, m1) = (mask(width), mask(width.saturating_sub(16)));
        let zero = _mm512_setzero_ps();
        let (bias0, bias1, relu) = match epi {
            Epi::Bias(b, relu) => (
                _mm512_maskz_loadu_ps(m0, b.add(col0)),
                _mm512_maskz_loadu_ps(m1, b.add(col0 + 16)),
                relu,
            ),
            _ => (zero, zero, false),
        };
        for (r, acc) in acc.iter().enumerate() {
            let (mut v0, mut v1) = (acc[0], acc[1]);
            match epi {
                Epi::None => {}
                Epi::Bias(..) => {
                    v0 = _mm512_add_ps(v0, bias0);
                    v1 = _mm512_add_ps(v1, bias1);
                    if relu {
                        v0 = _mm512_max_ps(v0, zero);
                        v1 = _mm512_max_ps(v1, zero);
                    }
                }
                Epi::Mask(h) => {
                    let hr = h.add(r * n + col0);
                    let h0 = _mm512_maskz_loadu_ps(m0, hr);
                    let h1 = _mm512_maskz_loadu_ps(m1, hr.add(16));
                    v0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(h0, zero), v0);
                    v1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(h1, zero), v1);
                }
            }
            let row = c.add(r * n + col0);
            _mm512_mask_storeu_ps(row, m0, v0);
            if m1 != 0 {
                _mm512_mask_storeu_ps(row.add(16), m1, v1);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Epi, Epilogue, PackedWeights, HALF};
    use std::arch::x86_64::*;

    /// Rows per register block.
    const MR2: usize = 6;

    /// See [`PackedWeights::matmul`].
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `c` must hold `m·n` floats, `a` `m·k`, `bias` `n`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul(
        w: &PackedWeights,
        c: *mut f32,
        a: *const f32,
        m: usize,
        epilogue: Epilogue,
    ) {
        let (k, n) = (w.k, w.n);
        let lanes = w.lanes.as_ptr() as *const f32;
        // Column blocks are half panels: block `cb` = columns 16cb.., stored contiguously.
        super::for_each_tile(m, k, MR2, n.div_ceil(HALF), |i0, rows, cb| {
            let bp = lanes.add(cb * k * HALF);
            let (ar, cr) = (a.add(i0 * k), c.add(i0 * n));
            let args = (ar, cr, bp, k, n, cb * HALF, Epi::at(epilogue, i0, n));
            // SAFETY: as this function's (the block lies inside `a`, `c` and the panels).
            unsafe {
                match rows {
                    6 => block::<6>(args),
                    5 => block::<5>(args),
                    4 => block::<4>(args),
                    3 => block::<3>(args),
                    2 => block::<2>(args),
                    _ => block::<1>(args),
                }
            }
        });
    }

    type BlockArgs = (*const f32, *mut f32, *const f32, usize, usize, usize, Epi);

    /// Lanes `j < w` of a 32-bit mask vector set (all bits), the rest clear.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lanes_below(w: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(w.min(8) as i32), idx)
    }

    /// One `R × 16` block of `C`: rows `a[0..R]`, half panel `bp` (row stride 16), output
    /// columns `col0..col0+16` (masked at `n`).
    ///
    /// # Safety
    /// As [`matmul`], with `a`/`c` pointing at the block's first row and `bp` at its half
    /// panel (64-byte aligned: halves start on a `Lane`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const R: usize>((a, c, bp, k, n, col0, epi): BlockArgs) {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for kk in 0..k {
            let b0 = _mm256_load_ps(bp.add(kk * HALF));
            let b1 = _mm256_load_ps(bp.add(kk * HALF + 8));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*a.add(r * k + kk));
                acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
            }
        }
        let width = (n - col0).min(HALF);
        let (m0, m1) = (lanes_below(width), lanes_below(width.saturating_sub(8)));
        let second = width > 8;
        // Full 16-column blocks (all but the last of a ragged `n`) use plain loads and stores:
        // AVX2's masked moves are far slower on some CPUs (microcoded stores on AMD Zen).
        let full = width == HALF;
        let load = |p: *const f32, m: __m256i| {
            if full {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, m)
            }
        };
        let zero = _mm256_setzero_ps();
        let (bias0, bias1, relu) = match epi {
            Epi::Bias(b, relu) => (
                load(b.add(col0), m0),
                if second {
                    load(b.add(col0 + 8), m1)
                } else {
                    zero
                },
                relu,
            ),
            _ => (zero, zero, false),
        };
        for (r, acc) in acc.iter().enumerate() {
            let (mut v0, mut v1) = (acc[0], acc[1]);
            match epi {
                Epi::None => {}
                Epi::Bias(..) => {
                    v0 = _mm256_add_ps(v0, bias0);
                    v1 = _mm256_add_ps(v1, bias1);
                    if relu {
                        v0 = _mm256_max_ps(v0, zero);
                        v1 = _mm256_max_ps(v1, zero);
                    }
                }
                Epi::Mask(h) => {
                    let hr = h.add(r * n + col0);
                    let h0 = load(hr, m0);
                    v0 = _mm256_and_ps(v0, _mm256_cmp_ps::<_CMP_GT_OQ>(h0, zero));
                    if second {
                        let h1 = load(hr.add(8), m1);
                        v1 = _mm256_and_ps(v1, _mm256_cmp_ps::<_CMP_GT_OQ>(h1, zero));
                    }
                }
            }
            let row = c.add(r * n + col0);
            if full {
                _mm256_storeu_ps(row, v0);
                _mm256_storeu_ps(row.add(8), v1);
            } else {
                _mm256_maskstore_ps(row, m0, v0);
                if second {
                    _mm256_maskstore_ps(row.add(8), m1, v1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * w[p * n + j]).sum();
            }
        }
        c
    }

    /// Without AVX-512F or AVX2 + FMA the kernel refuses (returns `false`) and leaves the
    /// output untouched;
    /// callers then take the `gemm` path, tested on every machine in `tests/kernel.rs`.
    fn assert_refuses() {
        eprintln!("SKIPPED packed kernel products: this CPU has neither AVX-512F nor AVX2 + FMA");
        let packed = PackedWeights::pack(&[1.0; 6], 2, 3);
        let mut c = vec![7.0; 3];
        assert!(!packed.matmul(&mut c, &[1.0, 2.0], 1, Epilogue::None));
        assert!(!packed.matmul_parallel(&mut c, &[1.0, 2.0], 1, Epilogue::None));
        assert_eq!(c, vec![7.0; 3]);
    }

    #[test]
    fn a_row_chunk_is_whole_register_blocks_within_its_byte_budget() {
        assert_eq!(row_chunk(512, 6), 192); // 384 KiB / 2 KiB per row
        assert_eq!(row_chunk(512, 12), 192);
        assert_eq!(row_chunk(130, 12), 756); // 756.2 rows fit; whole blocks of 12
        assert_eq!(row_chunk(1 << 20, 12), 12); // at least one block
        assert_eq!(row_chunk(0, 6), CHUNK_BYTES / 4 / 6 * 6);
    }

    #[test]
    fn packed_product_matches_naive_on_edge_shapes() {
        if !PackedWeights::usable() {
            return assert_refuses();
        }
        let mut ran = 0;
        for v in [Variant::Avx512, Variant::Avx2] {
            if v.available() {
                check_variant(v);
                ran += 1;
            } else {
                eprintln!("SKIPPED the {} variant: not on this CPU", v.name());
            }
        }
        assert!(ran > 0);
        // The active variant is what `matmul` runs.
        let v = Variant::active().unwrap();
        let w: Vec<f32> = (0..6).map(|i| i as f32).collect();
        let packed = PackedWeights::pack(&w, 2, 3);
        let (mut c1, mut c2) = (vec![0.0; 3], vec![0.0; 3]);
        assert!(packed.matmul(&mut c1, &[1.0, 2.0], 1, Epilogue::None));
        assert!(packed.matmul_with(v, &mut c2, &[1.0, 2.0], 1, Epilogue::None));
        assert_eq!(c1, c2);
        assert_eq!(c1, vec![6.0, 9.0, 12.0]);
    }

    fn check_variant(v: Variant) {
        for (m, k, n) in [
            (6, 5, 16),
            (5, 9, 8),
            (1, 1, 1),
            (13, 7, 33),
            (25, 130, 512),
            (12, 64, 16),
            (7, 3, 47),
            // m above one row chunk (192 rows at k = 512): several chunks, the last partial.
            (500, 512, 40),
        ] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.05 - 0.5).collect();
            let want = naive(&a, &w, m, k, n);
            let packed = PackedWeights::pack(&w, k, n);
            let mut c = vec![f32::NAN; m * n + 3];
            assert!(packed.matmul_with(v, &mut c, &a, m, Epilogue::None));
            let scale = want.iter().fold(1.0f32, |s, v| s.max(v.abs()));
            for (x, y) in c.iter().zip(&want) {
                assert!(
                    (x - y).abs() <= 1e-5 * scale,
                    "{v:?} [{m},{k},{n}] {x} vs {y}"
                );
            }
            assert!(
                c[m * n..].iter().all(|v| v.is_nan()),
                "wrote past the output"
            );
            let relu = Epilogue::Bias {
                bias: &bias,
                relu: true,
            };
            assert!(packed.matmul_with(v, &mut c, &a, m, relu));
            let fused: Vec<f32> = (0..m * n)
                .map(|i| (want[i] + bias[i % n]).max(0.0))
                .collect();
            for (x, r) in c.iter().zip(&fused) {
                assert!(
                    (x - r).abs() <= 1e-5 * scale,
                    "[{m},{k},{n}] relu {x} vs {r}"
                );
            }
            // Masked by the fused output (zero where it is not positive).
            assert!(packed.matmul_with(v, &mut c, &a, m, Epilogue::ReluMask(&fused)));
            for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                let r = if fused[i] > 0.0 { *y } else { 0.0 };
                assert!(
                    (x - r).abs() <= 1e-5 * scale,
                    "[{m},{k},{n}] mask {x} vs {r}"
                );
            }
            // The transposed packing multiplies by wᵀ.
            let wt = PackedWeights::pack_transposed(&w, k, n);
            let mut ct = vec![0.0; m * k];
            let g: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.07).sin()).collect();
            assert!(wt.matmul_with(v, &mut ct, &g, m, Epilogue::None));
            for i in 0..m {
                for p in 0..k {
                    let r: f32 = (0..n).map(|j| g[i * n + j] * w[p * n + j]).sum();
                    let x = ct[i * k + p];
                    assert!((x - r).abs() <= 1e-4 * scale.max(1.0), "wᵀ {x} vs {r}");
                }
            }
        }
    }
}
