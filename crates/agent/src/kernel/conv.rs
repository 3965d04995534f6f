//! 2-D convolutions on plain row-major buffers: im2col into a small per-tile buffer, then
//! one `gemm` product per tile, forward and backward.
//!
//! Shapes and layout. A layer maps `x [n, H, W, C_in]` to `y [n, H', W', C_out]` (channels
//! last, NHWC; the first layer may also read NCHW input), with a square `k × k` kernel,
//! stride `s` and zero padding `p`: `H' = ⌊(H + 2p − k)/s⌋ + 1` (same for `W'`).
//!
//! Forward: for every output pixel `(i, j)` the patch row
//! `u_{(i,j)} [k·k·C_in] = (x[s·i + a − p, s·j + b − p, c])_{a, b, c}` (zero outside the image,
//! order `a` (row), then `b` (column), then `c` fastest) is multiplied by the kernel matrix
//! `K [k·k·C_in, C_out]`: `y_{(i,j)} = relu?(u_{(i,j)} K + bias)`.
//!
//! Backward, with `ḡ = ∂L/∂(pre-activation) [n·H'·W', C_out]`:
//! `∂L/∂K = Σ_tiles Uᵀ ḡ`, `∂L/∂bias = Σ_rows ḡ`, and `∂L/∂x` is the scatter-add (col2im) of
//! `ḡ Kᵀ [n·H'·W', k·k·C_in]` back onto the pixels each patch entry was read from.
//!
//! The patch matrix is never stored whole: images are processed in tiles whose patch matrix
//! fits in cache, and the backward pass rebuilds it rather than keeping it from the forward
//! pass. Every product runs on the calling thread ([`Threads::One`]): callers parallelise
//! over images (one block of images per core).
//!
//! PyTorch / burn store the kernel as `[C_out, C_in, k, k]` and flatten a feature map
//! channel-major; [`DenseConv::from_oihw`] / [`DenseConv::oihw`] convert the kernel, and
//! [`nhwc_to_nchw`] the feature map.

use super::dense_mlp::{column_sums, DenseLayer, LayerGrad};
use super::gemm::{matmul_tn_with, matmul_with, Epilogue, Rhs, Threads};
use crate::error::AgentError;

/// How an image batch is laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[n, C, H, W]` (PyTorch's and burn's layout).
    Nchw,
    /// `[n, H, W, C]` (channels last; what [`DenseConv`] writes).
    Nhwc,
}

/// Geometry of one convolution layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels `C_in`.
    pub c_in: usize,
    /// Output channels `C_out`.
    pub c_out: usize,
    /// Input height `H`.
    pub height: usize,
    /// Input width `W`.
    pub width: usize,
    /// Kernel size `k` (square).
    pub kernel: usize,
    /// Stride `s`.
    pub stride: usize,
    /// Zero padding `p` on every side.
    pub padding: usize,
}

impl ConvShape {
    /// `H' = ⌊(H + 2p − k)/s⌋ + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// `W' = ⌊(W + 2p − k)/s⌋ + 1`.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Length of one patch row, `k·k·C_in`.
    pub fn patch(&self) -> usize {
        self.kernel * self.kernel * self.c_in
    }

    /// Floats of one input image, `H·W·C_in`.
    pub fn in_len(&self) -> usize {
        self.height * self.width * self.c_in
    }

    /// Output pixels of one image, `H'·W'`.
    pub fn out_pixels(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Floats of one output image, `H'·W'·C_out`.
    pub fn out_len(&self) -> usize {
        self.out_pixels() * self.c_out
    }

    fn check(&self) -> Result<(), AgentError> {
        let valid = self.c_in > 0
            && self.c_out > 0
            && self.kernel > 0
            && self.stride > 0
            && self.height + 2 * self.padding >= self.kernel
            && self.width + 2 * self.padding >= self.kernel;
        match valid {
            true => Ok(()),
            false => Err(AgentError::config(
                "conv shape",
                format!("{self:?}"),
                "channels, kernel and stride ≥ 1 and the padded image at least as large as the kernel",
            )),
        }
    }
}

/// Images per im2col tile: the tile's patch matrix stays under ~256 KiB.
fn tile_images(shape: &ConvShape) -> usize {
    const TILE_FLOATS: usize = 64 * 1024;
    (TILE_FLOATS / (shape.out_pixels() * shape.patch()).max(1)).max(1)
}

/// `[n, C, H, W] → [n, H, W, C]` for `n` images of `h·w` pixels and `c` channels.
pub fn nchw_to_nhwc(x: &[f32], n: usize, c: usize, hw: usize, out: &mut [f32]) {
    for img in 0..n {
        let (src, dst) = (
            &x[img * hw * c..][..hw * c],
            &mut out[img * hw * c..][..hw * c],
        );
        for (ch, plane) in src.chunks_exact(hw).enumerate() {
            for (p, &v) in plane.iter().enumerate() {
                dst[p * c + ch] = v;
            }
        }
    }
}

/// `dst ← src` for the short runs of im2col: fixed-size copies for the common lengths, which
/// compile to a few vector moves instead of a `memcpy` call per run.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let d: &mut [f32; N] = dst.try_into().expect("length checked by the caller");
        *d = src.try_into().expect("length checked by the caller");
    }
    match dst.len() {
        6 => fixed::<6>(dst, src),
        9 => fixed::<9>(dst, src),
        12 => fixed::<12>(dst, src),
        24 => fixed::<24>(dst, src),
        48 => fixed::<48>(dst, src),
        96 => fixed::<96>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Writes the patch rows of `images` channels-last images `x [images, H, W, C_in]` into
/// `cols [images·H'·W', k·k·C_in]`. In channels-last order the `k` taps of one kernel row
/// are `k·C_in` consecutive floats, copied in one piece wherever the row lies inside the
/// image.
fn im2col(x: &[f32], images: usize, s: &ConvShape, cols: &mut [f32]) {
    let (ho, wo, patch) = (s.out_height(), s.out_width(), s.patch());
    let (h, w, c, k) = (s.height as isize, s.width as isize, s.c_in, s.kernel);
    let run = k * c;
    for img in 0..images {
        let xi = &x[img * s.in_len()..(img + 1) * s.in_len()];
        for i in 0..ho {
            for j in 0..wo {
                let row = &mut cols[((img * ho + i) * wo + j) * patch..][..patch];
                let x0 = (s.stride * j) as isize - s.padding as isize;
                for (a, seg) in row.chunks_exact_mut(run).enumerate() {
                    let y = (s.stride * i + a) as isize - s.padding as isize;
                    if y < 0 || y >= h {
                        seg.fill(0.0);
                    } else if x0 >= 0 && x0 + k as isize <= w {
                        let start = (y as usize * s.width + x0 as usize) * c;
                        copy_run(seg, &xi[start..start + run]);
                    } else {
                        for (b, dst) in seg.chunks_exact_mut(c).enumerate() {
                            let xx = x0 + b as isize;
                            if xx < 0 || xx >= w {
                                dst.fill(0.0);
                            } else {
                                let start = (y as usize * s.width + xx as usize) * c;
                                dst.copy_from_slice(&xi[start..start + c]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the patch-row gradients `gcols [images·H'·W', k·k·C_in]` back onto the pixels they
/// were read from: `g_x [images, H, W, C_in]` (NHWC), which is added to, not overwritten.
fn col2im_add(gcols: &[f32], images: usize, s: &ConvShape, g_x: &mut [f32]) {
    let (ho, wo, patch) = (s.out_height(), s.out_width(), s.patch());
    let (h, w, c, k) = (s.height as isize, s.width as isize, s.c_in, s.kernel);
    let run = k * c;
    for img in 0..images {
        let gi = &mut g_x[img * s.in_len()..(img + 1) * s.in_len()];
        for i in 0..ho {
            for j in 0..wo {
                let row = &gcols[((img * ho + i) * wo + j) * patch..][..patch];
                let x0 = (s.stride * j) as isize - s.padding as isize;
                for (a, seg) in row.chunks_exact(run).enumerate() {
                    let y = (s.stride * i + a) as isize - s.padding as isize;
                    if y < 0 || y >= h {
                        continue;
                    }
                    if x0 >= 0 && x0 + k as isize <= w {
                        let start = (y as usize * s.width + x0 as usize) * c;
                        let dst = &mut gi[start..start + run];
                        dst.iter_mut().zip(seg).for_each(|(d, v)| *d += v);
                        continue;
                    }
                    for (b, src) in seg.chunks_exact(c).enumerate() {
                        let xx = x0 + b as isize;
                        if xx >= 0 && xx < w {
                            let start = (y as usize * s.width + xx as usize) * c;
                            let dst = &mut gi[start..start + c];
                            dst.iter_mut().zip(src).for_each(|(d, v)| *d += v);
                        }
                    }
                }
            }
        }
    }
}

/// The channels-last input of one tile: `x` itself, or its NCHW images transposed into
/// `buf`.
fn tile_input<'a>(
    x: &'a [f32],
    n: usize,
    s: &ConvShape,
    layout: Layout,
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    match layout {
        Layout::Nhwc => &x[..n * s.in_len()],
        Layout::Nchw => {
            buf.resize(n * s.in_len(), 0.0);
            nchw_to_nhwc(x, n, s.c_in, s.height * s.width, buf);
            buf
        }
    }
}

/// Reusable buffers of [`DenseConv::forward`] and [`DenseConv::backward`]: one tile's patch
/// matrix and its gradient, and one tile's images transposed to channels-last.
#[derive(Debug, Clone, Default)]
pub struct ConvScratch {
    cols: Vec<f32>,
    gcols: Vec<f32>,
    nhwc: Vec<f32>,
}

/// One convolution layer: kernel matrix `K [k·k·C_in, C_out]` and bias, stored as a
/// [`DenseLayer`] (so optimisers treat it like any affine layer).
#[derive(Debug, Clone, PartialEq)]
pub struct DenseConv {
    shape: ConvShape,
    layer: DenseLayer,
}

impl DenseConv {
    /// From a PyTorch/burn kernel `w [C_out, C_in, k, k]` and `bias [C_out]`.
    pub fn from_oihw(shape: ConvShape, w: &[f32], bias: &[f32]) -> Result<Self, AgentError> {
        shape.check()?;
        let (k, ci, co) = (shape.kernel, shape.c_in, shape.c_out);
        if w.len() != co * ci * k * k || bias.len() != co {
            return Err(AgentError::shape(
                "conv kernel",
                w.len(),
                format!("[C_out={co}, C_in={ci}, {k}, {k}] and bias [{co}]"),
            ));
        }
        let mut weight = vec![0.0; shape.patch() * co];
        for o in 0..co {
            for c in 0..ci {
                for a in 0..k {
                    for b in 0..k {
                        weight[((a * k + b) * ci + c) * co + o] = w[((o * ci + c) * k + a) * k + b];
                    }
                }
            }
        }
        let layer = DenseLayer {
            weight,
            bias: bias.to_vec(),
            fan_in: shape.patch(),
            fan_out: co,
        };
        Ok(Self { shape, layer })
    }

    /// The kernel in PyTorch/burn layout `[C_out, C_in, k, k]`.
    pub fn oihw(&self) -> Vec<f32> {
        self.to_oihw(&self.layer.weight)
    }

    /// A kernel matrix `[k·k·C_in, C_out]` of this layer's shape (the weights, or a gradient
    /// of them) in PyTorch/burn layout `[C_out, C_in, k, k]`.
    pub fn to_oihw(&self, kmat: &[f32]) -> Vec<f32> {
        let s = self.shape;
        let (k, ci, co) = (s.kernel, s.c_in, s.c_out);
        let mut w = vec![0.0; co * ci * k * k];
        for o in 0..co {
            for c in 0..ci {
                for a in 0..k {
                    for b in 0..k {
                        w[((o * ci + c) * k + a) * k + b] = kmat[((a * k + b) * ci + c) * co + o];
                    }
                }
            }
        }
        w
    }

    /// The layer's geometry.
    pub fn shape(&self) -> &ConvShape {
        &self.shape
    }

    /// Kernel matrix and bias (`weight [k·k·C_in, C_out]`).
    pub fn layer(&self) -> &DenseLayer {
        &self.layer
    }

    /// Mutable kernel matrix and bias (for optimisers).
    pub fn layer_mut(&mut self) -> &mut DenseLayer {
        &mut self.layer
    }

    /// Zero gradients of the kernel matrix and bias.
    pub fn zero_grad(&self) -> LayerGrad {
        LayerGrad {
            weight: vec![0.0; self.layer.weight.len()],
            bias: vec![0.0; self.layer.bias.len()],
        }
    }

    /// Multiply-adds of the forward pass over `images` images.
    pub fn forward_macs(&self, images: usize) -> usize {
        images * self.shape.out_pixels() * self.shape.patch() * self.shape.c_out
    }

    /// `got` must be `images · per_image` floats (a batch buffer of this layer).
    fn check_batch(
        what: &str,
        got: usize,
        images: usize,
        per_image: usize,
    ) -> Result<(), AgentError> {
        match got == images * per_image {
            true => Ok(()),
            false => Err(AgentError::shape(
                format!("conv {what}"),
                got,
                format!("[{images}, {per_image}]"),
            )),
        }
    }

    /// `y = relu?(conv(x) + bias)` for `images` images; `scratch` is grown as needed.
    ///
    /// # Shapes
    /// `x [images, H, W, C_in]` (or `[images, C_in, H, W]` for [`Layout::Nchw`]),
    /// `y [images, H', W', C_out]`.
    pub fn forward(
        &self,
        x: &[f32],
        images: usize,
        layout: Layout,
        relu: bool,
        y: &mut [f32],
        scratch: &mut ConvScratch,
    ) -> Result<(), AgentError> {
        let s = self.shape;
        Self::check_batch("input", x.len(), images, s.in_len())?;
        Self::check_batch("output", y.len(), images, s.out_len())?;
        let (tile, px, patch) = (tile_images(&s), s.out_pixels(), s.patch());
        let ConvScratch { cols, nhwc, .. } = scratch;
        cols.resize(tile * px * patch, 0.0);
        let epi = Epilogue::Bias {
            bias: &self.layer.bias,
            relu,
        };
        let mut start = 0;
        while start < images {
            let n = tile.min(images - start);
            let rows = n * px;
            let xt = tile_input(&x[start * s.in_len()..], n, &s, layout, nhwc);
            im2col(xt, n, &s, cols);
            let out = &mut y[start * s.out_len()..(start + n) * s.out_len()];
            let spec = (Rhs::Plain, false, epi);
            matmul_with(
                out,
                cols,
                &self.layer.weight,
                (rows, patch, s.c_out),
                spec,
                Threads::One,
            );
            start += n;
        }
        Ok(())
    }

    /// Backward pass of [`Self::forward`] given `g = ∂L/∂(pre-activation) [images, H', W',
    /// C_out]` (apply the ReLU mask first): adds `∂L/∂K` and `∂L/∂bias` to `grad` (or
    /// overwrites them unless `accumulate`) and, when `g_x` is given, writes
    /// `∂L/∂x [images, H, W, C_in]` (NHWC whatever the input layout).
    ///
    /// # Shapes
    /// As [`Self::forward`]; `grad` from [`Self::zero_grad`].
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        images: usize,
        layout: Layout,
        g: &[f32],
        grad: &mut LayerGrad,
        accumulate: bool,
        g_x: Option<&mut [f32]>,
        scratch: &mut ConvScratch,
    ) -> Result<(), AgentError> {
        let s = self.shape;
        Self::check_batch("input", x.len(), images, s.in_len())?;
        Self::check_batch("gradient", g.len(), images, s.out_len())?;
        Self::check_batch("kernel gradient", grad.weight.len(), s.patch(), s.c_out)?;
        Self::check_batch("bias gradient", grad.bias.len(), 1, s.c_out)?;
        let mut g_x = g_x;
        if let Some(gx) = g_x.as_deref_mut() {
            Self::check_batch("input gradient", gx.len(), images, s.in_len())?;
            gx.fill(0.0);
        }
        let (tile, px, patch) = (tile_images(&s), s.out_pixels(), s.patch());
        let ConvScratch { cols, gcols, nhwc } = scratch;
        cols.resize(tile * px * patch, 0.0);
        gcols.resize(tile * px * patch, 0.0);
        column_sums(g, images * px, s.c_out, &mut grad.bias, accumulate);
        let mut acc = accumulate;
        let mut start = 0;
        while start < images {
            let n = tile.min(images - start);
            let rows = n * px;
            let gt = &g[start * s.out_len()..(start + n) * s.out_len()];
            let xt = tile_input(&x[start * s.in_len()..], n, &s, layout, nhwc);
            im2col(xt, n, &s, cols);
            matmul_tn_with(
                &mut grad.weight,
                cols,
                gt,
                (patch, rows, s.c_out),
                acc,
                Threads::One,
            );
            acc = true;
            if let Some(gx) = g_x.as_deref_mut() {
                let spec = (Rhs::Transposed, false, Epilogue::None);
                matmul_with(
                    gcols,
                    gt,
                    &self.layer.weight,
                    (rows, s.c_out, patch),
                    spec,
                    Threads::One,
                );
                col2im_add(gcols, n, &s, &mut gx[start * s.in_len()..]);
            }
            start += n;
        }
        Ok(())
    }
}

/// `[n, H, W, C] → [n, C, H, W]` (e.g. to flatten a feature map channel-major as
/// `torch.flatten(x, 1)` does).
pub fn nhwc_to_nchw(x: &[f32], n: usize, h: usize, w: usize, c: usize, out: &mut [f32]) {
    for img in 0..n {
        let (src, dst) = (&x[img * h * w * c..], &mut out[img * h * w * c..]);
        for p in 0..h * w {
            for ch in 0..c {
                dst[ch * h * w + p] = src[p * c + ch];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition: `y[n, i, j, o] = b_o + Σ_{a,b,c} x[n, s·i+a−p, s·j+b−p, c] w[o, c, a, b]`.
    fn reference(x_nchw: &[f32], n: usize, s: &ConvShape, w: &[f32], bias: &[f32]) -> Vec<f32> {
        let (ho, wo, k) = (s.out_height(), s.out_width(), s.kernel);
        let mut y = vec![0.0; n * ho * wo * s.c_out];
        for img in 0..n {
            for i in 0..ho {
                for j in 0..wo {
                    for o in 0..s.c_out {
                        let mut acc = f64::from(bias[o]);
                        for c in 0..s.c_in {
                            for a in 0..k {
                                for b in 0..k {
                                    let yy = (s.stride * i + a) as isize - s.padding as isize;
                                    let xx = (s.stride * j + b) as isize - s.padding as isize;
                                    if yy < 0
                                        || xx < 0
                                        || yy >= s.height as isize
                                        || xx >= s.width as isize
                                    {
                                        continue;
                                    }
                                    let xv = x_nchw[((img * s.c_in + c) * s.height + yy as usize)
                                        * s.width
                                        + xx as usize];
                                    acc += f64::from(xv)
                                        * f64::from(w[((o * s.c_in + c) * k + a) * k + b]);
                                }
                            }
                        }
                        y[((img * ho + i) * wo + j) * s.c_out + o] = acc as f32;
                    }
                }
            }
        }
        y
    }

    fn lcg(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn shapes() -> Vec<ConvShape> {
        let base = ConvShape {
            c_in: 3,
            c_out: 5,
            height: 9,
            width: 7,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        vec![
            base,
            ConvShape { stride: 1, ..base },
            ConvShape {
                kernel: 2,
                padding: 0,
                ..base
            },
            ConvShape {
                c_in: 1,
                c_out: 2,
                height: 4,
                width: 4,
                ..base
            },
        ]
    }

    fn nchw_to_nhwc(x: &[f32], n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        for img in 0..n {
            for ch in 0..c {
                for p in 0..h * w {
                    out[(img * h * w + p) * c + ch] = x[(img * c + ch) * h * w + p];
                }
            }
        }
        out
    }

    #[test]
    fn forward_equals_the_direct_sum_in_both_layouts() {
        for (t, s) in shapes().into_iter().enumerate() {
            let n = 70; // more images than one tile for the small shapes
            let x = lcg(t as u64, n * s.in_len());
            let w = lcg(100 + t as u64, s.c_out * s.patch());
            let bias = lcg(200 + t as u64, s.c_out);
            let conv = DenseConv::from_oihw(s, &w, &bias).unwrap();
            assert_eq!(conv.oihw(), w, "layout round trip");
            let want = reference(&x, n, &s, &w, &bias);
            let mut scratch = ConvScratch::default();
            let mut y = vec![0.0; n * s.out_len()];
            conv.forward(&x, n, Layout::Nchw, false, &mut y, &mut scratch)
                .unwrap();
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{s:?}: {a} vs {b}");
            }
            let xh = nchw_to_nhwc(&x, n, s.c_in, s.height, s.width);
            let mut y2 = vec![0.0; n * s.out_len()];
            conv.forward(&xh, n, Layout::Nhwc, true, &mut y2, &mut scratch)
                .unwrap();
            for (a, b) in y2.iter().zip(&want) {
                assert!((a - b.max(0.0)).abs() < 1e-5, "{s:?} relu: {a} vs {b}");
            }
        }
    }

    /// `L = Σ r ⊙ conv(x)` for a fixed random `r`: `∂L/∂(pre-activation) = r`, and every
    /// gradient is checked against central finite differences of the direct sum (f64).
    #[test]
    fn backward_matches_finite_differences() {
        for (t, s) in shapes().into_iter().enumerate() {
            let n = 3;
            let x = lcg(300 + t as u64, n * s.in_len());
            let w = lcg(400 + t as u64, s.c_out * s.patch());
            let bias = lcg(500 + t as u64, s.c_out);
            let r = lcg(600 + t as u64, n * s.out_len());
            let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                let y = reference(x, n, &s, w, b);
                y.iter()
                    .zip(&r)
                    .map(|(y, r)| f64::from(*y) * f64::from(*r))
                    .sum()
            };
            let conv = DenseConv::from_oihw(s, &w, &bias).unwrap();
            let mut grad = conv.zero_grad();
            grad.weight.fill(7.0); // overwritten without `accumulate`
            let mut gx = vec![0.0; n * s.in_len()];
            let mut scratch = ConvScratch::default();
            conv.backward(
                &x,
                n,
                Layout::Nchw,
                &r,
                &mut grad,
                false,
                Some(&mut gx),
                &mut scratch,
            )
            .unwrap();
            let gk = DenseConv::from_oihw(s, &vec![0.0; w.len()], &grad.bias).map(|mut c| {
                c.layer_mut().weight.clone_from(&grad.weight);
                c.oihw()
            });
            let gk = gk.unwrap();
            let h = 1e-2f32;
            for i in (0..w.len()).step_by(7) {
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[i] += h;
                wm[i] -= h;
                let fd = (loss(&x, &wp, &bias) - loss(&x, &wm, &bias)) / (2.0 * f64::from(h));
                assert!(
                    (f64::from(gk[i]) - fd).abs() < 1e-3,
                    "{s:?} dK[{i}] {} vs {fd}",
                    gk[i]
                );
            }
            for o in 0..s.c_out {
                let (mut bp, mut bm) = (bias.clone(), bias.clone());
                bp[o] += h;
                bm[o] -= h;
                let fd = (loss(&x, &w, &bp) - loss(&x, &w, &bm)) / (2.0 * f64::from(h));
                assert!((f64::from(grad.bias[o]) - fd).abs() < 1e-3, "db[{o}]");
            }
            let gx_nchw = {
                let mut out = vec![0.0; gx.len()];
                nhwc_to_nchw(&gx, n, s.height, s.width, s.c_in, &mut out);
                out
            };
            for i in (0..x.len()).step_by(5) {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let fd = (loss(&xp, &w, &bias) - loss(&xm, &w, &bias)) / (2.0 * f64::from(h));
                assert!(
                    (f64::from(gx_nchw[i]) - fd).abs() < 1e-3,
                    "{s:?} dx[{i}] {} vs {fd}",
                    gx_nchw[i]
                );
            }
            // Accumulating adds the same gradient again.
            let once = grad.clone();
            conv.backward(&x, n, Layout::Nchw, &r, &mut grad, true, None, &mut scratch)
                .unwrap();
            for (a, b) in grad.weight.iter().zip(&once.weight) {
                assert!((a - 2.0 * b).abs() < 1e-4);
            }
            for (a, b) in grad.bias.iter().zip(&once.bias) {
                assert!((a - 2.0 * b).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let s = shapes()[0];
        let w = vec![0.0; s.c_out * s.patch()];
        assert!(DenseConv::from_oihw(s, &w[1..], &[0.0; 5]).is_err());
        assert!(DenseConv::from_oihw(ConvShape { stride: 0, ..s }, &w, &[0.0; 5]).is_err());
        let big = ConvShape { kernel: 12, ..s };
        assert!(DenseConv::from_oihw(big, &vec![0.0; 5 * big.patch()], &[0.0; 5]).is_err());
        let conv = DenseConv::from_oihw(s, &w, &[0.0; 5]).unwrap();
        let mut y = vec![0.0; 2 * s.out_len()];
        let err = conv
            .forward(
                &vec![0.0; s.in_len()],
                2,
                Layout::Nhwc,
                false,
                &mut y,
                &mut ConvScratch::default(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("conv input"), "{err}");
    }

    #[test]
    fn nhwc_to_nchw_moves_channels_first() {
        // One 1×2 image with 3 channels: pixel p, channel c holds 10p + c.
        let x = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let mut out = [0.0; 6];
        nhwc_to_nchw(&x, 1, 1, 2, 3, &mut out);
        assert_eq!(out, [0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
    }
}
