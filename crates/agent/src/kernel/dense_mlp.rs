//! A frozen MLP as plain row-major buffers: forward over a batch of rows with reusable
//! activation buffers, and the backward pass with respect to the input.
//!
//! Math (ReLU between layers, none after the last, as [`ami_jepa::mlp::Mlp`]):
//! `h_0 = x`, `z_l = h_{l-1} W_l + b_l`, `h_l = relu(z_l)` for `l < L`, `y = z_L`.
//! Backward with the weights frozen: `∂y/∂z_L = g`, `∂/∂h_{l-1} = (∂/∂z_l) W_lᵀ`,
//! `∂/∂z_l = (∂/∂h_l) ⊙ 1[h_l > 0]` (the ReLU mask is read off the saved `h_l`).

use ami_jepa::burn::nn::Linear;
use ami_jepa::mlp::Mlp;

use super::gemm::{matmul_tn_with, matmul_with, threading, Epilogue, Rhs, Threads};
use super::packed::PackedWeights;
use crate::error::AgentError;

/// One affine layer `z = h W + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseLayer {
    /// `W [in, out]`, row-major (burn's `Linear` layout).
    pub weight: Vec<f32>,
    /// `b [out]`.
    pub bias: Vec<f32>,
    /// Input width.
    pub fan_in: usize,
    /// Output width.
    pub fan_out: usize,
}

/// The hidden activations `h_1 … h_{L-1}` of one forward pass over `rows` rows, kept for the
/// backward pass and reused across calls.
#[derive(Debug, Clone, Default)]
pub struct Activations {
    hidden: Vec<Vec<f32>>,
    rows: usize,
}

/// Gradients of one [`DenseLayer`]'s parameters (same shapes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerGrad {
    /// `∂L/∂W [in, out]`.
    pub weight: Vec<f32>,
    /// `∂L/∂b [out]`.
    pub bias: Vec<f32>,
}

/// Options of [`DenseMlp::backward_params_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Threading of every product (`None`: chosen per shape).
    pub threads: Option<Threads>,
    /// Add to the gradient buffers instead of overwriting them.
    pub accumulate: bool,
}

/// `out[j] (+)= Σ_i g[i, j]` for `g [rows, cols]` (added to `out` when `accumulate`).
pub(crate) fn column_sums(g: &[f32], rows: usize, cols: usize, out: &mut [f32], accumulate: bool) {
    if !accumulate {
        out[..cols].fill(0.0);
    }
    for row in g[..rows * cols].chunks_exact(cols) {
        out[..cols].iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}

/// `Σ_p parts[p]` layer by layer, in the order of `parts` (the partial gradients of row
/// blocks; a fixed order keeps the sum's bits independent of the thread count).
pub fn summed_grads(parts: &[&[LayerGrad]]) -> Vec<LayerGrad> {
    let mut out = parts[0].to_vec();
    for p in &parts[1..] {
        for (o, g) in out.iter_mut().zip(p.iter()) {
            o.weight
                .iter_mut()
                .zip(&g.weight)
                .for_each(|(o, g)| *o += g);
            o.bias.iter_mut().zip(&g.bias).for_each(|(o, g)| *o += g);
        }
    }
    out
}

/// `g ← g ⊙ 1[h > 0]`, the ReLU's backward mask on a saved activation `h`.
pub fn relu_mask(g: &mut [f32], h: &[f32]) {
    g.iter_mut()
        .zip(h)
        .for_each(|(g, &h)| *g = if h > 0.0 { *g } else { 0.0 });
}

/// `c_ij ← c_ij + b_j + r_ij`, then `max(·, 0)` when `relu`.
fn add_bias_rows(c: &mut [f32], b: &[f32], r: &[f32], relu: bool) {
    let n = b.len();
    for (c, r) in c.chunks_exact_mut(n).zip(r.chunks_exact(n)) {
        for ((c, b), r) in c.iter_mut().zip(b).zip(r) {
            let v = *c + b + r;
            *c = if relu { v.max(0.0) } else { v };
        }
    }
}

/// Ping-pong buffers of the backward pass.
#[derive(Debug, Clone, Default)]
pub struct BackwardScratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// Which products a [`DenseMlp`] runs on. Both compute the same `x W (+ b)` (to float
/// rounding); the choice is made once, when the MLP is built, so the hot path pays nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The register-blocked kernel on weights packed once ([`PackedWeights`]); x86-64 with
    /// AVX-512F or AVX2 + FMA.
    Packed,
    /// The general products of the `gemm` crate ([`super::gemm`]); every machine.
    Fallback,
}

impl KernelPath {
    /// The fastest path this machine runs: [`KernelPath::Packed`] where the CPU has AVX-512F
    /// or AVX2 + FMA, [`KernelPath::Fallback`] elsewhere.
    pub fn best() -> Self {
        if PackedWeights::usable() {
            KernelPath::Packed
        } else {
            KernelPath::Fallback
        }
    }
}

/// A frozen MLP `x ↦ W_L(relu(… relu(x W_1 + b_1) …)) + b_L` on contiguous buffers.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMlp {
    layers: Vec<DenseLayer>,
    /// The weights packed for [`PackedWeights`]' kernel on [`KernelPath::Packed`]; `None` on
    /// [`KernelPath::Fallback`], and dropped when the weights are changed in place
    /// ([`Self::layers_mut`]). Per layer `(W, Wᵀ)`.
    packed: Option<Vec<(PackedWeights, PackedWeights)>>,
}

fn read_linear(i: usize, layer: &Linear) -> Result<DenseLayer, AgentError> {
    let w = layer.weight.val();
    let [fan_in, fan_out] = w.dims();
    let weight = w
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| AgentError::WorldModel(format!("layer {i} weight: {e:?}")))?;
    let bias = match &layer.bias {
        Some(b) => b
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AgentError::WorldModel(format!("layer {i} bias: {e:?}")))?,
        None => vec![0.0; fan_out],
    };
    DenseLayer::new(weight, bias, fan_in, fan_out)
}

impl DenseLayer {
    /// Checks `weight [in, out]` and `bias [out]`.
    pub fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        fan_in: usize,
        fan_out: usize,
    ) -> Result<Self, AgentError> {
        if weight.len() != fan_in * fan_out || bias.len() != fan_out || fan_out == 0 {
            return Err(AgentError::shape(
                "dense layer weight/bias",
                weight.len(),
                format!("W [{fan_in}, {fan_out}] and b [{fan_out}], out >= 1"),
            ));
        }
        Ok(Self {
            weight,
            bias,
            fan_in,
            fan_out,
        })
    }
}

impl DenseMlp {
    /// Copies the weights of a burn [`Mlp`] (any device; autodiff or not), on
    /// [`KernelPath::best`].
    pub fn from_mlp(mlp: &Mlp) -> Result<Self, AgentError> {
        Self::from_mlp_on(mlp, KernelPath::best())
    }

    /// [`Self::from_mlp`] on the given kernel path.
    pub fn from_mlp_on(mlp: &Mlp, path: KernelPath) -> Result<Self, AgentError> {
        let layers = mlp
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| read_linear(i, l))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_layers_on(layers, path)
    }

    /// Chains `layers` (at least one; each `fan_in` equals the previous `fan_out`), on
    /// [`KernelPath::best`].
    pub fn from_layers(layers: Vec<DenseLayer>) -> Result<Self, AgentError> {
        Self::from_layers_on(layers, KernelPath::best())
    }

    /// [`Self::from_layers`] on the given kernel path; [`KernelPath::Packed`] is an error on a
    /// CPU without AVX-512F or AVX2 + FMA.
    pub fn from_layers_on(layers: Vec<DenseLayer>, path: KernelPath) -> Result<Self, AgentError> {
        if path == KernelPath::Packed && !PackedWeights::usable() {
            return Err(AgentError::config(
                "kernel path",
                "packed",
                "a CPU with AVX-512F or AVX2 + FMA (x86-64) for the packed kernel; use KernelPath::Fallback",
            ));
        }
        if layers.is_empty() {
            return Err(AgentError::WorldModel(
                "an MLP needs at least one layer".into(),
            ));
        }
        for (i, w) in layers.windows(2).enumerate() {
            if w[0].fan_out != w[1].fan_in {
                return Err(AgentError::shape(
                    format!("input of dense layer {}", i + 1),
                    w[1].fan_in,
                    format!("[{}] (output of layer {i})", w[0].fan_out),
                ));
            }
        }
        let packed = (path == KernelPath::Packed).then(|| {
            layers
                .iter()
                .map(|l| {
                    (
                        PackedWeights::pack(&l.weight, l.fan_in, l.fan_out),
                        PackedWeights::pack_transposed(&l.weight, l.fan_in, l.fan_out),
                    )
                })
                .collect()
        });
        Ok(Self { layers, packed })
    }

    /// The kernel path the products run on (falls back once the weights were changed in
    /// place).
    pub fn kernel_path(&self) -> KernelPath {
        if self.packed.is_some() {
            KernelPath::Packed
        } else {
            KernelPath::Fallback
        }
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[DenseLayer] {
        &self.layers
    }

    /// Multiply-adds of one forward pass over `rows` rows (saturating), the size measure the
    /// callers compare with [`super::gemm::PARALLEL_MIN_MACS`] to decide on splitting.
    pub fn forward_macs(&self, rows: usize) -> usize {
        self.layers
            .iter()
            .map(|l| rows.saturating_mul(l.fan_in).saturating_mul(l.fan_out))
            .fold(0, usize::saturating_add)
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.layers[0].fan_in
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].fan_out
    }

    /// Widest layer input or output (sizes the backward scratch).
    fn max_width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.fan_in.max(l.fan_out))
            .max()
            .unwrap_or(0)
    }

    /// Activation buffers for `rows` rows (reuse them across calls).
    pub fn activations(&self, rows: usize) -> Activations {
        let mut acts = Activations::default();
        self.size_activations(&mut acts, rows);
        acts
    }

    /// Resizes `acts` for `rows` rows; no allocation when already sized.
    pub fn size_activations(&self, acts: &mut Activations, rows: usize) {
        let hidden = &self.layers[..self.layers.len() - 1];
        acts.hidden.resize_with(hidden.len(), Vec::new);
        for (buf, l) in acts.hidden.iter_mut().zip(hidden) {
            buf.resize(rows * l.fan_out, 0.0);
        }
        acts.rows = rows;
    }

    /// `out = MLP(x)` for `rows` rows, saving `h_1 … h_{L-1}` in `acts`. Each GEMM is
    /// followed, per column block and while it is in cache, by one pass that adds the bias and
    /// applies the ReLU ([`Epilogue::Bias`]).
    ///
    /// # Shapes
    /// `x [rows, in]`, `out [rows, out]`; `acts` sized for `rows` by [`Self::activations`].
    pub fn forward(
        &self,
        x: &[f32],
        rows: usize,
        acts: &mut Activations,
        out: &mut [f32],
    ) -> Result<(), AgentError> {
        self.forward_with(x, rows, acts, out, None)
    }

    /// [`Self::forward`] with every product on `threads` (`None`: chosen per shape by
    /// [`threading`]); callers that already run one forward pass per core pass
    /// `Some(Threads::One)`.
    ///
    /// # Shapes
    /// As [`Self::forward`].
    pub fn forward_with(
        &self,
        x: &[f32],
        rows: usize,
        acts: &mut Activations,
        out: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.forward_impl(x, rows, None, acts, out, threads)
    }

    /// [`Self::forward_with`] with a per-row term `r_i` added to the first layer's
    /// pre-activation: `z_1 = x W_1 + b_1 + r_i`. A one-hot input column block `e_j` of the
    /// first layer (the latent of `Pred(s, a, z)`) is such a term: `[x, e_j] W_1 = x W_1' + w_j`
    /// with `w_j` the row of `W_1` that multiplies `e_j` ([`super::DenseDynamics`]).
    ///
    /// # Shapes
    /// As [`Self::forward`], and `row_bias [rows, fan_out of layer 1]`.
    pub fn forward_with_row_bias(
        &self,
        x: &[f32],
        rows: usize,
        row_bias: &[f32],
        acts: &mut Activations,
        out: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.check_rows("forward row bias", row_bias, rows, self.layers[0].fan_out)?;
        self.forward_impl(x, rows, Some(row_bias), acts, out, threads)
    }

    fn forward_impl(
        &self,
        x: &[f32],
        rows: usize,
        row_bias: Option<&[f32]>,
        acts: &mut Activations,
        out: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.check_rows("forward", x, rows, self.input_dim())?;
        self.check_rows("forward", out, rows, self.output_dim())?;
        if acts.rows != rows {
            self.size_activations(acts, rows);
        }
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (prev, rest) = acts.hidden.split_at_mut(l);
            let input: &[f32] = if l == 0 { x } else { &prev[l - 1] };
            let dst: &mut [f32] = if l == last { &mut *out } else { &mut rest[0] };
            let shape = (rows, layer.fan_in, layer.fan_out);
            let per_row = row_bias.filter(|_| l == 0);
            let bias = match per_row {
                Some(_) => Epilogue::None,
                None => Epilogue::Bias {
                    bias: &layer.bias,
                    relu: l < last,
                },
            };
            let threads = threads.unwrap_or_else(|| threading(rows, layer.fan_in, layer.fan_out));
            match self.packed.as_ref().map(|p| &p[l].0) {
                Some(p) if threads == Threads::One => {
                    p.matmul(dst, input, rows, bias);
                }
                Some(p) => {
                    p.matmul_parallel(dst, input, rows, bias);
                }
                None => {
                    let epi = (Rhs::Plain, false, bias);
                    matmul_with(dst, input, &layer.weight, shape, epi, threads);
                }
            }
            if let Some(r) = per_row {
                add_bias_rows(dst, &layer.bias, &r[..rows * layer.fan_out], l < last);
            }
        }
        Ok(())
    }

    /// `g_in = ∂L/∂x` from `g_out = ∂L/∂y`, through the activations saved by the forward pass
    /// of the same `x` (weights frozen: no weight gradients).
    ///
    /// # Shapes
    /// `g_out [rows, out]`, `g_in [rows, in]`.
    pub fn backward_input(
        &self,
        acts: &Activations,
        g_out: &[f32],
        rows: usize,
        scratch: &mut BackwardScratch,
        g_in: &mut [f32],
    ) -> Result<(), AgentError> {
        self.backward_input_with(acts, g_out, rows, scratch, g_in, None)
    }

    /// [`Self::backward_input`] with every product on `threads` (`None`: chosen per shape).
    ///
    /// # Shapes
    /// As [`Self::backward_input`].
    pub fn backward_input_with(
        &self,
        acts: &Activations,
        g_out: &[f32],
        rows: usize,
        scratch: &mut BackwardScratch,
        g_in: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.check_rows("backward", g_out, rows, self.output_dim())?;
        self.check_rows("backward", g_in, rows, self.input_dim())?;
        if acts.rows != rows {
            return Err(AgentError::shape(
                "backward activations",
                acts.rows,
                format!("rows = {rows} (the forward pass of this input)"),
            ));
        }
        let len = rows * self.max_width();
        scratch.a.resize(len, 0.0);
        scratch.b.resize(len, 0.0);
        let (mut src, mut dst) = (&mut scratch.a, &mut scratch.b);
        let mut first = true;
        for l in (1..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let g: &[f32] = if first { g_out } else { &src[..] };
            let d = &mut dst[..rows * layer.fan_in];
            let shape = (rows, layer.fan_out, layer.fan_in);
            let mask = Epilogue::ReluMask(&acts.hidden[l - 1]);
            self.times_transposed(l, d, g, shape, mask, threads);
            std::mem::swap(&mut src, &mut dst);
            first = false;
        }
        let layer = &self.layers[0];
        let g: &[f32] = if first { g_out } else { &src[..] };
        let shape = (rows, layer.fan_out, layer.fan_in);
        self.times_transposed(0, g_in, g, shape, Epilogue::None, threads);
        Ok(())
    }

    /// `d = g · W_lᵀ` then `epi`, on the packed kernel where available.
    fn times_transposed(
        &self,
        l: usize,
        d: &mut [f32],
        g: &[f32],
        shape: (usize, usize, usize),
        epi: Epilogue,
        threads: Option<Threads>,
    ) {
        let (rows, k, n) = shape;
        let threads = threads.unwrap_or_else(|| threading(rows, k, n));
        match self.packed.as_ref().map(|p| &p[l].1) {
            Some(p) if threads == Threads::One => {
                p.matmul(d, g, rows, epi);
            }
            Some(p) => {
                p.matmul_parallel(d, g, rows, epi);
            }
            None => {
                let w = &self.layers[l].weight;
                matmul_with(d, g, w, shape, (Rhs::Transposed, false, epi), threads);
            }
        }
    }

    /// Mutable layers, for optimisers that update the weights in place (shapes fixed; the
    /// fused training step of `ami-bench`). Drops the packed copies of the weights, so later
    /// products run on the general `gemm` path, which reads the layers directly.
    pub fn layers_mut(&mut self) -> &mut [DenseLayer] {
        self.packed = None;
        &mut self.layers
    }

    /// Zeroed gradient buffers shaped like the layers.
    pub fn zero_grads(&self) -> Vec<LayerGrad> {
        self.layers
            .iter()
            .map(|l| LayerGrad {
                weight: vec![0.0; l.weight.len()],
                bias: vec![0.0; l.bias.len()],
            })
            .collect()
    }

    /// Full backward pass of the forward pass of `x` (saved in `acts`): the weight and bias
    /// gradients into `grads` (overwritten) and, when `g_in` is given, `∂L/∂x`.
    ///
    /// Per layer `l` from the last: `∂L/∂W_l = h_{l-1}ᵀ ḡ_l`, `∂L/∂b_l = Σ_rows ḡ_l`,
    /// `ḡ_{l-1} = (ḡ_l W_lᵀ) ⊙ 1[h_{l-1} > 0]`, with `ḡ_L = g_out` and `h_0 = x`.
    ///
    /// # Shapes
    /// `x [rows, in]`, `g_out [rows, out]`, `grads` from [`Self::zero_grads`], `g_in [rows, in]`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_params(
        &self,
        x: &[f32],
        acts: &Activations,
        g_out: &[f32],
        rows: usize,
        scratch: &mut BackwardScratch,
        grads: &mut [LayerGrad],
        g_in: Option<&mut [f32]>,
    ) -> Result<(), AgentError> {
        let opts = BackwardOptions::default();
        self.backward_params_with(x, acts, g_out, rows, scratch, grads, g_in, opts)
    }

    /// [`Self::backward_params`] with `opts`: every product on `opts.threads`, and the
    /// parameter gradients added to `grads` instead of overwriting them when
    /// `opts.accumulate` (for several passes of the same weights, e.g. both JEPA encoder
    /// calls).
    ///
    /// # Shapes
    /// As [`Self::backward_params`].
    #[allow(clippy::too_many_arguments)]
    pub fn backward_params_with(
        &self,
        x: &[f32],
        acts: &Activations,
        g_out: &[f32],
        rows: usize,
        scratch: &mut BackwardScratch,
        grads: &mut [LayerGrad],
        g_in: Option<&mut [f32]>,
        opts: BackwardOptions,
    ) -> Result<(), AgentError> {
        self.check_rows("backward", x, rows, self.input_dim())?;
        self.check_rows("backward", g_out, rows, self.output_dim())?;
        if acts.rows != rows || grads.len() != self.layers.len() {
            return Err(AgentError::shape(
                "backward activations / gradients",
                acts.rows,
                format!(
                    "rows = {rows} and {} layer gradients (the forward pass of this input)",
                    self.layers.len()
                ),
            ));
        }
        let len = rows * self.max_width();
        scratch.a.resize(len, 0.0);
        scratch.b.resize(len, 0.0);
        let (mut src, mut dst) = (&mut scratch.a, &mut scratch.b);
        let mut first = true;
        let mut g_in = g_in;
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let g: &[f32] = if first {
                g_out
            } else {
                &src[..rows * layer.fan_out]
            };
            let input: &[f32] = if l == 0 { x } else { &acts.hidden[l - 1] };
            let grad = &mut grads[l];
            if grad.weight.len() != layer.weight.len() || grad.bias.len() != layer.bias.len() {
                return Err(AgentError::shape(
                    format!("gradient of dense layer {l}"),
                    grad.weight.len(),
                    format!("[{}, {}]", layer.fan_in, layer.fan_out),
                ));
            }
            let tn_shape = (layer.fan_in, rows, layer.fan_out);
            let acc = opts.accumulate;
            let t = opts
                .threads
                .unwrap_or_else(|| threading(layer.fan_in, rows, layer.fan_out));
            matmul_tn_with(&mut grad.weight, input, g, tn_shape, acc, t);
            column_sums(g, rows, layer.fan_out, &mut grad.bias, acc);
            let shape = (rows, layer.fan_out, layer.fan_in);
            if l > 0 {
                let d = &mut dst[..rows * layer.fan_in];
                let mask = Epilogue::ReluMask(&acts.hidden[l - 1]);
                self.times_transposed(l, d, g, shape, mask, opts.threads);
                std::mem::swap(&mut src, &mut dst);
                first = false;
            } else if let Some(g_in) = g_in.take() {
                self.check_rows("backward", g_in, rows, self.input_dim())?;
                self.times_transposed(0, g_in, g, shape, Epilogue::None, opts.threads);
            }
        }
        Ok(())
    }

    fn check_rows(
        &self,
        what: &str,
        buf: &[f32],
        rows: usize,
        width: usize,
    ) -> Result<(), AgentError> {
        if buf.len() == rows * width {
            Ok(())
        } else {
            Err(AgentError::shape(
                format!("dense MLP {what}"),
                buf.len(),
                format!("[rows={rows}, {width}]"),
            ))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ami_jepa::burn::tensor::{Device, Distribution, Tensor};

    /// `|a − b| ≤ tol · max|b|` elementwise.
    pub(crate) fn assert_close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * scale,
                "[{i}] {x} vs {y} (scale {scale})"
            );
        }
    }

    fn random(dev: &Device, rows: usize, cols: usize) -> Tensor<2> {
        Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), dev)
    }

    fn to_vec(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn check_forward(dims: &[usize], rows: usize, seed: u64) {
        let dev = Device::flex();
        dev.seed(seed);
        let mlp = Mlp::new(dims, &dev);
        let x = random(&dev, rows, dims[0]);
        let want = to_vec(mlp.forward(x.clone()));
        let dense = DenseMlp::from_mlp(&mlp).unwrap();
        let mut acts = dense.activations(rows);
        let mut out = vec![0.0; rows * dense.output_dim()];
        dense
            .forward(&to_vec(x), rows, &mut acts, &mut out)
            .unwrap();
        assert_close(&out, &want, 1e-4);
    }

    #[test]
    fn forward_matches_burn_on_odd_shapes() {
        check_forward(&[13, 9, 5], 7, 11);
        check_forward(&[3, 4], 1, 12);
        check_forward(&[6, 17, 1, 9], 33, 13);
    }

    #[test]
    fn forward_matches_burn_on_bench_shapes() {
        check_forward(&[130, 512, 512, 128], 512, 14);
        check_forward(&[130, 512, 512, 128], 32, 15);
    }

    #[test]
    fn backward_input_matches_burn_autodiff() {
        let ad = Device::flex().autodiff();
        ad.seed(16);
        let (dims, rows) = ([13, 9, 7, 5], 7);
        let mlp = Mlp::new(&dims, &ad);
        let x = random(&ad, rows, 13);
        let g = random(&ad, rows, 5);
        let xg = x.clone().require_grad();
        let loss = (mlp.forward(xg.clone()) * g.clone()).sum();
        let want = to_vec(xg.grad(&loss.backward()).unwrap());
        let dense = DenseMlp::from_mlp(&mlp).unwrap();
        let mut acts = dense.activations(rows);
        let mut out = vec![0.0; rows * 5];
        dense
            .forward(&to_vec(x), rows, &mut acts, &mut out)
            .unwrap();
        let mut g_in = vec![0.0; rows * 13];
        let mut scratch = BackwardScratch::default();
        dense
            .backward_input(&acts, &to_vec(g), rows, &mut scratch, &mut g_in)
            .unwrap();
        assert_close(&g_in, &want, 1e-4);
        assert!(g_in.iter().any(|v| v.abs() > 1e-3), "gradient vanished");
    }

    #[test]
    fn backward_params_matches_burn_autodiff() {
        let ad = Device::flex().autodiff();
        ad.seed(17);
        let (dims, rows) = ([13, 9, 7, 5], 6);
        let mlp = Mlp::new(&dims, &ad);
        let x = random(&ad, rows, 13);
        let g = random(&ad, rows, 5);
        let xg = x.clone().require_grad();
        let loss = (mlp.forward(xg.clone()) * g.clone()).sum();
        let grads = loss.backward();
        let want_in = to_vec(xg.grad(&grads).unwrap());
        let dense = DenseMlp::from_mlp(&mlp).unwrap();
        let mut acts = dense.activations(rows);
        let mut out = vec![0.0; rows * 5];
        let xv = to_vec(x);
        dense.forward(&xv, rows, &mut acts, &mut out).unwrap();
        let mut g_in = vec![0.0; rows * 13];
        let mut pg = dense.zero_grads();
        let mut scratch = BackwardScratch::default();
        dense
            .backward_params(
                &xv,
                &acts,
                &to_vec(g),
                rows,
                &mut scratch,
                &mut pg,
                Some(&mut g_in),
            )
            .unwrap();
        assert_close(&g_in, &want_in, 1e-4);
        for (l, layer) in mlp.layers.iter().enumerate() {
            let gw = layer.weight.grad(&grads).unwrap();
            let gb = layer.bias.as_ref().unwrap().grad(&grads).unwrap();
            assert_close(
                &pg[l].weight,
                &gw.into_data().try_to_vec::<f32>().unwrap(),
                1e-4,
            );
            assert_close(
                &pg[l].bias,
                &gb.into_data().try_to_vec::<f32>().unwrap(),
                1e-4,
            );
            assert!(
                pg[l].weight.iter().any(|v| v.abs() > 1e-4),
                "layer {l} gradient vanished"
            );
        }
    }

    #[test]
    fn shape_errors_are_reported() {
        let l1 = DenseLayer::new(vec![0.0; 6], vec![0.0; 3], 2, 3).unwrap();
        let l2 = DenseLayer::new(vec![0.0; 8], vec![0.0; 2], 4, 2).unwrap();
        assert!(DenseMlp::from_layers(vec![l1.clone(), l2]).is_err());
        assert!(DenseLayer::new(vec![0.0; 5], vec![0.0; 3], 2, 3).is_err());
        let mlp = DenseMlp::from_layers(vec![l1]).unwrap();
        let mut acts = mlp.activations(2);
        let err = mlp.forward(&[0.0; 3], 2, &mut acts, &mut [0.0; 6]);
        assert!(err.unwrap_err().to_string().contains("forward"));
    }
}
