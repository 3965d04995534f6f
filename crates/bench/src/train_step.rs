//! A fused JEPA training step on the dense kernel (benchmark workload A): MLP forward and
//! backward, the VICReg gradients and AdamW, all on preallocated row-major buffers.
//!
//! Model: encoder MLP `f`, predictor MLP `p`; batch `o [B, O]`, `a [B, A]`, `o' [B, O]`;
//! `x = f(o)`, `y = f(o')` (one pass over the `2B` stacked rows), `ŷ = p([x, a])`.
//!
//! Loss `L = λ_s·mean((ŷ − y)²) + λ_v·(v(x) + v(y))/2 + λ_c·(c(x) + c(y))` with the VICReg
//! terms of [`mod@ami_jepa::vicreg`] on an embedding `x [n, d]`:
//! `x̄ = x − mean_rows(x)`, `C = x̄ᵀx̄ / (n − 1)`, `σ_j = sqrt(C_jj + ε)`,
//! `v(x) = (1/d) Σ_j relu(γ − σ_j)`, `c(x) = (1/d) Σ_{i≠j} C_ij²`.
//!
//! Gradients (derived by hand, tested against burn's autodiff):
//! * `∂L/∂ŷ = 2λ_s (ŷ − y) / (B·d)` and `∂L/∂y` gets its negative;
//! * `∂v/∂x_ij = −1[σ_j < γ] · x̄_ij / (d · σ_j · (n − 1))`;
//! * `∂c/∂x = 4 · x̄ · offdiag(C) / (d · (n − 1))` (the centring's backward vanishes: the
//!   columns of `x̄` sum to zero);
//! * the predictor's input gradient is split into `∂L/∂x` (first `d` columns) and the unused
//!   action part; both embeddings' gradients go through one encoder backward pass.
//!
//! AdamW as PyTorch and burn: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `θ ← θ·(1 − lr·λ) − lr · m̂ / (√v̂ + ε)`, `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`, on every
//! weight and bias.

use rayon::prelude::*;

use ami_agent::kernel::gemm::Threads;
use ami_agent::kernel::vicreg::{variance_covariance, VarCov};
use ami_agent::kernel::{
    summed_grads, Activations, BackwardOptions, BackwardScratch, DenseLayer, DenseMlp, LayerGrad,
};
use ami_agent::AgentError;

/// Coefficients of the VICReg-regularised prediction loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VicregSettings {
    /// `λ_s`, weight of the prediction MSE.
    pub sim: f32,
    /// `λ_v`, weight of the mean variance hinge of the two embeddings.
    pub std: f32,
    /// `λ_c`, weight of the summed covariance penalties.
    pub cov: f32,
    /// `γ`, target standard deviation.
    pub gamma: f32,
    /// `ε` under the square root.
    pub eps: f32,
}

impl Default for VicregSettings {
    /// Workload A: 25, 25, 1, γ = 1, ε = 1e-4.
    fn default() -> Self {
        Self {
            sim: 25.0,
            std: 25.0,
            cov: 1.0,
            gamma: 1.0,
            eps: 1e-4,
        }
    }
}

/// AdamW settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    /// Step size.
    pub lr: f32,
    /// `β₁`.
    pub beta1: f32,
    /// `β₂`.
    pub beta2: f32,
    /// `ε` added to `√v̂`.
    pub eps: f32,
    /// Decoupled weight decay `λ`.
    pub weight_decay: f32,
}

impl Default for AdamWSettings {
    /// Workload A: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// The loss of one step and its terms (before the update).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainLoss {
    /// `L`.
    pub total: f32,
    /// `mean((ŷ − y)²)`.
    pub mse: f32,
    /// `(v(x) + v(y)) / 2`.
    pub variance: f32,
    /// `c(x) + c(y)`.
    pub covariance: f32,
}

/// AdamW moments of one stack of layers.
#[derive(Debug, Clone)]
pub(crate) struct Moments {
    pub(crate) m: Vec<LayerGrad>,
    pub(crate) v: Vec<LayerGrad>,
}

impl Moments {
    /// Zero moments shaped like `grads`.
    pub(crate) fn zeros(grads: Vec<LayerGrad>) -> Self {
        Self {
            m: grads.clone(),
            v: grads,
        }
    }
}

/// Buffers of one block of batch rows, run on one core.
#[derive(Debug, Clone, Default)]
struct Part {
    rows: usize,
    acts_x: Activations,
    acts_y: Activations,
    pred_acts: Activations,
    pred_in: Vec<f32>,
    g_pred_in: Vec<f32>,
    scratch: BackwardScratch,
    /// This block's contribution to the encoder's parameter gradients.
    enc_grads: Vec<LayerGrad>,
    /// This block's contribution to the predictor's parameter gradients.
    pred_grads: Vec<LayerGrad>,
}

/// Buffers of one step, sized on the first call and reused.
#[derive(Debug, Clone, Default)]
struct Workspace {
    batch: usize,
    /// Rows per block (the last block may have fewer).
    chunk: usize,
    emb_x: Vec<f32>,
    emb_y: Vec<f32>,
    pred_out: Vec<f32>,
    g_pred: Vec<f32>,
    g_x: Vec<f32>,
    g_y: Vec<f32>,
    centred: [Vec<f32>; 2],
    cov: [Vec<f32>; 2],
    parts: Vec<Part>,
}

/// Smallest block of batch rows worth a core of its own.
const MIN_ROWS_PER_PART: usize = 32;

/// Encoder + predictor trained with the fused step; see the module docs for the math.
///
/// Threading: the batch is split into one block of rows per core. Each core runs the
/// forward pass and the backward pass of its rows with one-thread products and keeps its own
/// partial parameter gradients; only the VICReg statistics (which couple all rows) run between
/// the two passes, and AdamW sums the partial gradients as it reads them. A step therefore has
/// three parallel regions instead of one per product.
#[derive(Debug, Clone)]
pub struct DenseJepaTrainer {
    encoder: DenseMlp,
    predictor: DenseMlp,
    action_dim: usize,
    vicreg: VicregSettings,
    adamw: AdamWSettings,
    enc_moments: Moments,
    pred_moments: Moments,
    step: i32,
    ws: Workspace,
}

impl DenseJepaTrainer {
    /// Checks that `predictor` maps `[d + action_dim]` to `[d]`, `d` the encoder's output.
    pub fn new(
        encoder: DenseMlp,
        predictor: DenseMlp,
        action_dim: usize,
        vicreg: VicregSettings,
        adamw: AdamWSettings,
    ) -> Result<Self, AgentError> {
        let d = encoder.output_dim();
        if predictor.input_dim() != d + action_dim || predictor.output_dim() != d {
            return Err(AgentError::shape(
                "predictor of the dense trainer",
                predictor.input_dim(),
                format!("input [{d} + {action_dim}] and output [{d}] (encoder output + action)"),
            ));
        }
        let moments = |mlp: &DenseMlp| Moments::zeros(mlp.zero_grads());
        Ok(Self {
            enc_moments: moments(&encoder),
            pred_moments: moments(&predictor),
            encoder,
            predictor,
            action_dim,
            vicreg,
            adamw,
            step: 0,
            ws: Workspace::default(),
        })
    }

    /// The encoder's current weights.
    pub fn encoder(&self) -> &DenseMlp {
        &self.encoder
    }

    /// The predictor's current weights.
    pub fn predictor(&self) -> &DenseMlp {
        &self.predictor
    }

    /// Encoder gradients of the last [`Self::loss_and_grads`] (summed over the row blocks);
    /// zeros before the first call.
    pub fn encoder_grads(&self) -> Vec<LayerGrad> {
        let parts: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.enc_grads[..]).collect();
        match parts.is_empty() {
            true => self.encoder.zero_grads(),
            false => summed_grads(&parts),
        }
    }

    /// Predictor gradients of the last [`Self::loss_and_grads`] (summed over the row blocks);
    /// zeros before the first call.
    pub fn predictor_grads(&self) -> Vec<LayerGrad> {
        let parts: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.pred_grads[..]).collect();
        match parts.is_empty() {
            true => self.predictor.zero_grads(),
            false => summed_grads(&parts),
        }
    }

    /// Number of optimiser steps taken.
    pub fn steps(&self) -> i32 {
        self.step
    }

    /// One AdamW step on the batch; returns the loss before the update. A non-finite loss is
    /// an error and leaves the weights unchanged.
    ///
    /// # Shapes
    /// `o [B, O]`, `a [B, A]`, `o_next [B, O]`, `B ≥ 2`.
    pub fn step(
        &mut self,
        o: &[f32],
        a: &[f32],
        o_next: &[f32],
        batch: usize,
    ) -> Result<TrainLoss, AgentError> {
        let loss = self.loss_and_grads(o, a, o_next, batch)?;
        if !loss.total.is_finite() {
            return Err(AgentError::NonFinite {
                what: "dense trainer loss".into(),
            });
        }
        self.step += 1;
        let (s, t) = (self.adamw, self.step);
        let enc: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.enc_grads[..]).collect();
        let pred: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.pred_grads[..]).collect();
        apply_adamw(
            vec![
                (
                    self.encoder.layers_mut().iter_mut().collect(),
                    &enc,
                    &mut self.enc_moments,
                ),
                (
                    self.predictor.layers_mut().iter_mut().collect(),
                    &pred,
                    &mut self.pred_moments,
                ),
            ],
            s,
            t,
        );
        Ok(loss)
    }

    /// Sizes the workspace for `batch` rows in blocks (no allocation when already sized).
    fn size_workspace(&mut self, batch: usize) {
        let (ad, d) = (self.action_dim, self.encoder.output_dim());
        let ws = &mut self.ws;
        if ws.batch == batch && !ws.parts.is_empty() {
            return;
        }
        let threads = rayon::current_num_threads();
        let parts = if threads > 1 && batch / threads >= MIN_ROWS_PER_PART {
            threads
        } else {
            1
        };
        let chunk = batch.div_ceil(parts);
        for buf in [
            &mut ws.emb_x,
            &mut ws.emb_y,
            &mut ws.pred_out,
            &mut ws.g_pred,
            &mut ws.g_x,
            &mut ws.g_y,
        ] {
            buf.resize(batch * d, 0.0);
        }
        ws.centred.iter_mut().for_each(|c| c.resize(batch * d, 0.0));
        ws.cov.iter_mut().for_each(|c| c.resize(d * d, 0.0));
        ws.parts.resize_with(batch.div_ceil(chunk), Part::default);
        for (i, part) in ws.parts.iter_mut().enumerate() {
            part.rows = chunk.min(batch - i * chunk);
            part.pred_in.resize(part.rows * (d + ad), 0.0);
            part.g_pred_in.resize(part.rows * (d + ad), 0.0);
            part.enc_grads = self.encoder.zero_grads();
            part.pred_grads = self.predictor.zero_grads();
        }
        ws.chunk = chunk;
        ws.batch = batch;
    }

    /// The loss on the batch and all parameter gradients (read them with
    /// [`Self::encoder_grads`] and [`Self::predictor_grads`]); the weights are not changed.
    ///
    /// # Shapes
    /// As [`Self::step`].
    pub fn loss_and_grads(
        &mut self,
        o: &[f32],
        a: &[f32],
        o_next: &[f32],
        batch: usize,
    ) -> Result<TrainLoss, AgentError> {
        let (od, ad, d) = (
            self.encoder.input_dim(),
            self.action_dim,
            self.encoder.output_dim(),
        );
        if batch < 2 {
            return Err(AgentError::shape(
                "dense trainer batch",
                batch,
                "at least 2 rows (the variance needs n − 1 > 0)",
            ));
        }
        for (what, buf, width) in [("o", o, od), ("a", a, ad), ("o_next", o_next, od)] {
            if buf.len() != batch * width {
                return Err(AgentError::shape(
                    format!("dense trainer {what}"),
                    buf.len(),
                    format!("[B={batch}, {width}]"),
                ));
            }
        }
        for (what, buf) in [("o", o), ("a", a), ("o_next", o_next)] {
            if buf.iter().any(|v| !v.is_finite()) {
                return Err(AgentError::NonFinite {
                    what: format!("dense trainer input {what}"),
                });
            }
        }
        self.size_workspace(batch);
        let (enc, pred) = (&self.encoder, &self.predictor);
        let ws = &mut self.ws;
        let chunk = ws.chunk;
        let threads = (ws.parts.len() > 1).then_some(Threads::One);

        // Forward, one block of rows per core: both observations through the encoder, then
        // the predictor.
        let rows_of = |i: usize, part: &Part, width: usize| {
            i * chunk * width..(i * chunk + part.rows) * width
        };
        ws.parts
            .par_iter_mut()
            .zip(ws.emb_x.par_chunks_mut(chunk * d))
            .zip(ws.emb_y.par_chunks_mut(chunk * d))
            .zip(ws.pred_out.par_chunks_mut(chunk * d))
            .enumerate()
            .try_for_each(|(i, (((part, x), y), p))| -> Result<(), AgentError> {
                let r = part.rows;
                let (ob, ob2) = (&o[rows_of(i, part, od)], &o_next[rows_of(i, part, od)]);
                enc.forward_with(ob, r, &mut part.acts_x, x, threads)?;
                enc.forward_with(ob2, r, &mut part.acts_y, y, threads)?;
                let ab = &a[rows_of(i, part, ad)];
                for ((dst, x), act) in part
                    .pred_in
                    .chunks_exact_mut(d + ad)
                    .zip(x.chunks_exact(d))
                    .zip(ab.chunks_exact(ad.max(1)))
                {
                    dst[..d].copy_from_slice(x);
                    dst[d..].copy_from_slice(&act[..ad]);
                }
                pred.forward_with(&part.pred_in, r, &mut part.pred_acts, p, threads)
            })?;

        // Prediction loss and its gradients.
        let v = self.vicreg;
        let count = (batch * d) as f32;
        let scale = 2.0 * v.sim / count;
        let mut sq = 0.0f64;
        for (((g, gy), &p), &t) in ws
            .g_pred
            .iter_mut()
            .zip(ws.g_y.iter_mut())
            .zip(&ws.pred_out)
            .zip(&ws.emb_y)
        {
            let r = p - t;
            sq += f64::from(r * r);
            *g = scale * r;
            *gy = -scale * r;
        }
        let mse = (sq / f64::from(count)) as f32;
        ws.g_x.fill(0.0);

        // VICReg on both embeddings (the variance hinge is averaged over the two).
        // The two embeddings' terms are independent: one core each.
        let [cen_x, cen_y] = &mut ws.centred;
        let [cov_x, cov_y] = &mut ws.cov;
        let (ex, ey, gx, gy) = (&ws.emb_x, &ws.emb_y, &mut ws.g_x, &mut ws.g_y);
        let ((vx, cx), (vy, cy)) = rayon::join(
            || vicreg_terms(ex, batch, d, v, gx, cen_x, cov_x),
            || vicreg_terms(ey, batch, d, v, gy, cen_y, cov_y),
        );
        let variance = (vx + vy) / 2.0;
        let covariance = cx + cy;
        let total = v.sim * mse + v.std * variance + v.cov * covariance;

        // Backward, per block: predictor (its input gradient feeds ∂L/∂x), then the encoder
        // for both observations, accumulating into the block's partial gradients.
        let one = BackwardOptions {
            threads,
            accumulate: false,
        };
        let add = BackwardOptions {
            threads,
            accumulate: true,
        };
        ws.parts
            .par_iter_mut()
            .zip(ws.g_x.par_chunks_mut(chunk * d))
            .zip(ws.g_y.par_chunks(chunk * d))
            .zip(ws.g_pred.par_chunks(chunk * d))
            .enumerate()
            .try_for_each(|(i, (((part, gx), gy), gp))| -> Result<(), AgentError> {
                let r = part.rows;
                let (ob, ob2) = (&o[rows_of(i, part, od)], &o_next[rows_of(i, part, od)]);
                let Part {
                    acts_x,
                    acts_y,
                    pred_acts,
                    pred_in,
                    g_pred_in,
                    scratch,
                    enc_grads,
                    pred_grads,
                    ..
                } = part;
                pred.backward_params_with(
                    pred_in,
                    pred_acts,
                    gp,
                    r,
                    scratch,
                    pred_grads,
                    Some(g_pred_in),
                    one,
                )?;
                for (g, gin) in gx.chunks_exact_mut(d).zip(g_pred_in.chunks_exact(d + ad)) {
                    g.iter_mut().zip(&gin[..d]).for_each(|(g, v)| *g += v);
                }
                enc.backward_params_with(ob, acts_x, gx, r, scratch, enc_grads, None, one)?;
                enc.backward_params_with(ob2, acts_y, gy, r, scratch, enc_grads, None, add)
            })?;
        Ok(TrainLoss {
            total,
            mse,
            variance,
            covariance,
        })
    }
}

/// `(v(x), c(x))` of `x [n, d]` (module docs), adding `λ_v/2 · ∂v/∂x + λ_c · ∂c/∂x` to `g`.
/// `centred [n, d]` and `cov [d, d]` are scratch.
pub(crate) fn vicreg_terms(
    x: &[f32],
    n: usize,
    d: usize,
    s: VicregSettings,
    g: &mut [f32],
    centred: &mut [f32],
    cov: &mut [f32],
) -> (f32, f32) {
    let weights = VarCov {
        w_var: s.std / 2.0,
        w_cov: s.cov,
        gamma: s.gamma,
        eps: s.eps,
    };
    variance_covariance(x, n, d, weights, g, centred, cov)
}

/// Elements per parallel AdamW chunk.
const ADAMW_CHUNK: usize = 1 << 14;

/// A stack of layers to update, its blocks' partial gradients and its moments.
pub(crate) type AdamWJob<'a> = (
    Vec<&'a mut DenseLayer>,
    &'a [&'a [LayerGrad]],
    &'a mut Moments,
);

/// One AdamW step (module docs) on every weight and bias of every stack, `t` the 1-based step;
/// each gradient is the sum of the blocks' partial gradients `grads[p]`. One parallel region
/// over chunks of all parameters.
pub(crate) fn apply_adamw(models: Vec<AdamWJob<'_>>, s: AdamWSettings, t: i32) {
    let c1 = 1.0 - s.beta1.powi(t);
    let c2 = 1.0 - s.beta2.powi(t);
    let decay = (1.0 - f64::from(s.lr) * f64::from(s.weight_decay)) as f32;
    /// One chunk of one parameter tensor: its values, moments, and where its gradient lives.
    struct Job<'a> {
        p: &'a mut [f32],
        m: &'a mut [f32],
        v: &'a mut [f32],
        grads: &'a [&'a [LayerGrad]],
        layer: usize,
        bias: bool,
        off: usize,
    }
    let mut jobs = Vec::new();
    for (layers, grads, mom) in models {
        let layers = layers
            .into_iter()
            .zip(mom.m.iter_mut())
            .zip(mom.v.iter_mut());
        for (layer, ((lw, m), v)) in layers.enumerate() {
            let chunks = lw
                .weight
                .chunks_mut(ADAMW_CHUNK)
                .zip(m.weight.chunks_mut(ADAMW_CHUNK))
                .zip(v.weight.chunks_mut(ADAMW_CHUNK));
            for (c, ((p, m), v)) in chunks.enumerate() {
                let off = c * ADAMW_CHUNK;
                jobs.push(Job {
                    p,
                    m,
                    v,
                    grads,
                    layer,
                    bias: false,
                    off,
                });
            }
            let (p, m, v) = (&mut lw.bias[..], &mut m.bias[..], &mut v.bias[..]);
            jobs.push(Job {
                p,
                m,
                v,
                grads,
                layer,
                bias: true,
                off: 0,
            });
        }
    }
    // One scratch buffer per rayon split (not per chunk) holds a summed gradient; with a
    // single row block the partial gradient is the gradient and is read in place.
    let init = || Vec::<f32>::with_capacity(ADAMW_CHUNK);
    jobs.into_par_iter().for_each_init(init, |scratch, job| {
        let Job {
            p,
            m,
            v,
            grads,
            layer,
            bias,
            off,
        } = job;
        let len = p.len();
        /// The chunk `off..off + len` of one block's gradient of this tensor.
        fn part_slice(
            part: &[LayerGrad],
            layer: usize,
            bias: bool,
            off: usize,
            len: usize,
        ) -> &[f32] {
            let l = &part[layer];
            let src = if bias { &l.bias[..] } else { &l.weight[..] };
            &src[off..off + len]
        }
        let g: &[f32] = if let [only] = grads {
            part_slice(only, layer, bias, off, len)
        } else {
            // The summed gradient of this chunk: simple loops over contiguous slices.
            scratch.clear();
            scratch.resize(len, 0.0);
            for part in grads.iter() {
                scratch
                    .iter_mut()
                    .zip(part_slice(part, layer, bias, off, len))
                    .for_each(|(g, x)| *g += x);
            }
            scratch
        };
        for (((p, m), v), g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            *m = s.beta1 * *m + (1.0 - s.beta1) * g;
            *v = s.beta2 * *v + (1.0 - s.beta2) * g * g;
            let mhat = *m / c1;
            let vhat = *v / c2;
            *p = *p * decay - s.lr * (mhat / (vhat.sqrt() + s.eps));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_jepa::burn;
    use ami_jepa::burn::module::Module;
    use ami_jepa::burn::optim::{AdamWConfig, GradientsParams};
    use ami_jepa::burn::tensor::{Device, Distribution, Tensor};
    use ami_jepa::mlp::Mlp;
    use ami_jepa::vicreg::{covariance, variance};

    #[derive(Module, Debug)]
    struct Pair {
        enc: Mlp,
        pred: Mlp,
    }

    /// `|a − b| ≤ tol · max|b|` elementwise.
    fn assert_close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * scale,
                "[{i}] {x} vs {y} (scale {scale})"
            );
        }
    }

    fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    struct Case {
        pair: Pair,
        o: Tensor<2>,
        a: Tensor<2>,
        o2: Tensor<2>,
        batch: usize,
    }

    fn case(seed: u64, obs: usize, hid: usize, d: usize, batch: usize, scale: f32) -> Case {
        let ad = Device::flex().autodiff();
        ad.seed(seed);
        let pair = Pair {
            enc: Mlp::new(&[obs, hid, hid, d], &ad),
            pred: Mlp::new(&[d + 2, hid, hid, d], &ad),
        };
        let rnd = |w| Tensor::<2>::random([batch, w], Distribution::Normal(0.0, scale as f64), &ad);
        Case {
            o: rnd(obs),
            a: rnd(2),
            o2: rnd(obs),
            pair,
            batch,
        }
    }

    fn burn_loss(p: &Pair, c: &Case, s: VicregSettings) -> Tensor<1> {
        let x = p.enc.forward(c.o.clone());
        let y = p.enc.forward(c.o2.clone());
        let pr = p.pred.forward(Tensor::cat(vec![x.clone(), c.a.clone()], 1));
        let mse = (pr - y.clone()).powi_scalar(2).mean();
        let var = (variance(x.clone(), s.gamma) + variance(y.clone(), s.gamma)).div_scalar(2.0);
        let cov = (covariance(x) + covariance(y)).mul_scalar(s.cov);
        mse.mul_scalar(s.sim) + var.mul_scalar(s.std) + cov
    }

    fn trainer(c: &Case) -> DenseJepaTrainer {
        DenseJepaTrainer::new(
            DenseMlp::from_mlp(&c.pair.enc).unwrap(),
            DenseMlp::from_mlp(&c.pair.pred).unwrap(),
            2,
            VicregSettings::default(),
            AdamWSettings::default(),
        )
        .unwrap()
    }

    fn check_grads(c: &Case) {
        let s = VicregSettings::default();
        let loss = burn_loss(&c.pair, c, s);
        let want = to_vec(loss.clone())[0];
        let grads = loss.backward();
        let mut t = trainer(c);
        let got = t
            .loss_and_grads(
                &to_vec(c.o.clone()),
                &to_vec(c.a.clone()),
                &to_vec(c.o2.clone()),
                c.batch,
            )
            .unwrap();
        assert!(
            (got.total - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{} vs {want}",
            got.total
        );
        for (mlp, dense) in [
            (&c.pair.enc, t.encoder_grads()),
            (&c.pair.pred, t.predictor_grads()),
        ] {
            for (l, layer) in mlp.layers.iter().enumerate() {
                let gw = to_vec(layer.weight.grad(&grads).unwrap());
                let gb = to_vec(layer.bias.as_ref().unwrap().grad(&grads).unwrap());
                assert_close(&dense[l].weight, &gw, 2e-3);
                assert_close(&dense[l].bias, &gb, 2e-3);
                assert!(
                    dense[l].weight.iter().any(|v| v.abs() > 1e-6),
                    "layer {l} gradient vanished"
                );
            }
        }
    }

    #[test]
    fn loss_and_gradients_match_burn_autodiff() {
        // Small scale: every σ_j < γ, so the variance hinge is active everywhere.
        let c = case(21, 6, 16, 8, 12, 0.1);
        check_grads(&c);
        // Unit scale: a mix of active and inactive hinges.
        let c = case(22, 7, 24, 10, 16, 3.0);
        check_grads(&c);
        // A batch large enough to be split into one block of rows per core.
        let c = case(26, 6, 16, 8, 96, 1.0);
        check_grads(&c);
    }

    #[test]
    fn split_batch_steps_match_one_block() {
        let c = case(27, 6, 16, 8, 96, 1.0);
        let (o, a, o2) = (
            to_vec(c.o.clone()),
            to_vec(c.a.clone()),
            to_vec(c.o2.clone()),
        );
        let mut split = trainer(&c);
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut single = trainer(&c);
        for _ in 0..3 {
            let ls = split.step(&o, &a, &o2, 96).unwrap();
            let l1 = one_thread.install(|| single.step(&o, &a, &o2, 96)).unwrap();
            assert!(
                (ls.total - l1.total).abs() <= 1e-5 * l1.total.abs(),
                "{ls:?} vs {l1:?}"
            );
        }
        if rayon::current_num_threads() >= 2 {
            assert!(split.ws.parts.len() >= 2, "the batch must have been split");
        }
        assert_eq!(single.ws.parts.len(), 1);
        for (s, w) in split
            .encoder()
            .layers()
            .iter()
            .zip(single.encoder().layers())
        {
            assert_close(&s.weight, &w.weight, 1e-5);
        }
    }

    #[test]
    fn three_adamw_steps_match_burn() {
        let mut c = case(23, 6, 16, 8, 12, 1.0);
        let mut t = trainer(&c);
        let (o, a, o2) = (
            to_vec(c.o.clone()),
            to_vec(c.a.clone()),
            to_vec(c.o2.clone()),
        );
        let cfg = AdamWSettings::default();
        let mut opt = AdamWConfig::new()
            .with_beta_1(cfg.beta1)
            .with_beta_2(cfg.beta2)
            .with_epsilon(cfg.eps)
            .with_weight_decay(cfg.weight_decay)
            .init();
        for _ in 0..3 {
            let loss = burn_loss(&c.pair, &c, VicregSettings::default());
            let grads = GradientsParams::from_grads(loss.backward(), &c.pair);
            c.pair = opt.step(f64::from(cfg.lr), c.pair.clone(), grads);
            t.step(&o, &a, &o2, c.batch).unwrap();
        }
        for (mlp, dense) in [(&c.pair.enc, t.encoder()), (&c.pair.pred, t.predictor())] {
            let want = DenseMlp::from_mlp(mlp).unwrap();
            for (w, g) in want.layers().iter().zip(dense.layers()) {
                assert_close(&g.weight, &w.weight, 1e-4);
                assert_close(&g.bias, &w.bias, 1e-4);
            }
        }
        assert_eq!(t.steps(), 3);
    }

    #[test]
    fn training_lowers_the_loss_without_collapse() {
        // A linear-ish world: o' = o + 0.1·[a, 0…]; the fused step must learn it.
        let c = case(24, 8, 32, 8, 64, 1.0);
        let mut t = trainer(&c);
        let o = to_vec(c.o.clone());
        let a = to_vec(c.a.clone());
        let o2: Vec<f32> = o
            .chunks_exact(8)
            .zip(a.chunks_exact(2))
            .flat_map(|(o, a)| {
                let mut n = o.to_vec();
                n[0] += 0.1 * a[0];
                n[1] += 0.1 * a[1];
                n
            })
            .collect();
        let first = t.step(&o, &a, &o2, 64).unwrap();
        let mut last = first;
        for _ in 0..200 {
            last = t.step(&o, &a, &o2, 64).unwrap();
        }
        assert!(last.total < 0.5 * first.total, "{first:?} -> {last:?}");
        assert!(last.variance < first.variance, "{first:?} -> {last:?}");
    }

    #[test]
    fn bad_shapes_are_errors() {
        let c = case(25, 6, 16, 8, 4, 1.0);
        let mut t = trainer(&c);
        let err = t
            .step(&[0.0; 6 * 4], &[0.0; 8], &[0.0; 6 * 3], 4)
            .unwrap_err();
        assert!(err.to_string().contains("o_next"), "{err}");
        assert!(t.step(&[0.0; 6], &[0.0; 2], &[0.0; 6], 1).is_err());
        let enc = DenseMlp::from_mlp(&c.pair.enc).unwrap();
        let pred = DenseMlp::from_mlp(&c.pair.pred).unwrap();
        let s = (VicregSettings::default(), AdamWSettings::default());
        assert!(DenseJepaTrainer::new(enc, pred, 3, s.0, s.1).is_err());
        let nan = vec![f32::NAN; 6 * 4];
        let before = t.encoder().clone();
        assert!(t.step(&nan, &[0.0; 8], &nan, 4).is_err());
        assert_eq!(
            t.encoder(),
            &before,
            "a failed step must not change the weights"
        );
    }
}
