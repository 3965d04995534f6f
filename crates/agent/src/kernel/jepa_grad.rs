//! The world model's training loss (the PLDM objective of [`ami_jepa::objective`]) and its
//! gradients on the dense kernels: a [`GradientEngine`] for [`ami_jepa::Trainer`], which then
//! applies the gradients with its own AdamW (so checkpoints and logs are burn's, whichever
//! engine ran).
//!
//! Model: `s = Enc(õ)` with `õ = (o − μ)/σ` (a strided conv stack with ReLUs, flattened
//! channel-major, then an MLP head; or an MLP), `Pred(s, a) = s + P([s, a/α])`,
//! `IDM(s, s') = Q([s, s'])`. On a window `o [B, k+1]`, `a [B, k]`, with `s_t = Enc(õ_t)`,
//! `ŝ_0 = s_0`, `ŝ_{t+1} = Pred(ŝ_t, a_t)`:
//!
//! ```text
//! L = w_p·mean_{t≥1,b,d}(ŝ_t − s_t)² + mean_{t=0..k}(β·v(s_t) + γ·c(s_t))
//!   + δ·mean_{t<k,b,d}(s_{t+1} − s_t)² + ω·mean_{t<k,b,j}(IDM(s_t, s_{t+1}) − a_t/α)²
//! ```
//! (`v`, `c`: [`super::vicreg`]). Gradients, by hand: with `e_t = ŝ_t − s_t`,
//! `∂L/∂ŝ_t ∋ 2w_p e_t/(kBD)` and `∂L/∂s_t ∋ −2w_p e_t/(kBD)`; back through the rollout
//! `ḡ_t = ḡ_{t+1} + (∂P/∂ŝ_t)ᵀ ḡ_{t+1} + ∂L/∂ŝ_t` (the residual's identity plus the MLP's
//! input gradient) and `∂L/∂s_0 ∋ ḡ_0`; smoothness `±2δ(s_{t+1} − s_t)/(kBD)`; inverse
//! dynamics through `Q`'s input gradient split into its `s_t` and `s_{t+1}` halves; the
//! VICReg terms as [`super::vicreg`] with weights `β/(k+1)`, `γ/(k+1)`; then one backward pass
//! of the encoder over all `B(k+1)` frames. With the auxiliary readout (`objective.readout =
//! ρ > 0`), `L += ρ·(mean_{t,b,j}(g(s_t) − f̃_t)² + mean_{t≥1,b,j}(g(ŝ_t) − f̃_t)²)` with the
//! head `g`'s input gradients added to `∂L/∂s_t` and to `∂L/∂ŝ_t` before the rollout's backward
//! pass.
//!
//! Threading: the batch rows are split into `BLOCKS` (4) blocks (whatever the number of
//! threads, so the result's bits do not depend on it), run in parallel. Each block encodes its frames
//! (phase 1); the VICReg statistics, which couple all rows of a step, run between (phase 2);
//! each block then runs its rollout, inverse dynamics and the whole backward pass with
//! one-thread products and keeps its own partial gradients (phase 3), summed in block order.
//!
//! Supported: deterministic predictors, conv (no pooling) or MLP encoders, and the objective's
//! default regulariser with or without the readout term, without reconstruction
//! ([`DenseJepaGradients::supports`]); anything else trains on burn.

use ami_jepa::burn::module::{Module, Param};
use ami_jepa::burn::nn::conv::Conv2d;
use ami_jepa::burn::nn::Linear;
use ami_jepa::burn::optim::GradientsParams;
use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::mlp::Mlp;
use ami_jepa::vicreg::VICREG_EPS;
use ami_jepa::{
    EncoderKind, EngineStep, GradientEngine, Jepa, JepaConfig, JepaError, LatentConfig,
    ObjectiveConfig, Window,
};
use rayon::prelude::*;

use super::conv::{nchw_to_nhwc, nhwc_to_nchw, ConvScratch, ConvShape, DenseConv, Layout};
use super::dense_mlp::{
    relu_mask, summed_grads, Activations, BackwardOptions, BackwardScratch, DenseMlp, KernelPath,
    LayerGrad,
};
use super::gemm::Threads;
use super::vicreg::{variance_covariance, VarCov};
use crate::error::AgentError;

/// Smallest number of batch rows per block.
const MIN_ROWS_PER_BLOCK: usize = 8;

/// Blocks the batch is split into (fewer for small batches). Fixed, not the number of
/// threads, so that the partial sums, hence the bits of the result, are the same on any
/// number of threads.
const BLOCKS: usize = 4;

/// The name the engine reports.
pub const ENGINE_NAME: &str = "dense";

/// The model's weights as dense layers (rebuilt from the burn module on every step).
struct DenseModel {
    /// The conv stack (empty for an MLP encoder).
    convs: Vec<DenseConv>,
    /// The encoder MLP (the head after the convs).
    head: DenseMlp,
    pred: DenseMlp,
    idm: DenseMlp,
    /// The readout head `g` and the targets' standardisation `(mean, 1/std)`, when the
    /// objective has the readout term.
    readout: Option<(DenseMlp, Vec<f32>, Vec<f32>)>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    inv_action_scale: f32,
}

/// Buffers of one block of batch rows.
#[derive(Default)]
struct Block {
    /// First batch row and number of rows `r`.
    first: usize,
    rows: usize,
    /// Normalised observations `[r(k+1), O]` (NCHW per image for a conv encoder).
    x: Vec<f32>,
    /// Conv outputs, NHWC per layer, and their gradients.
    conv_acts: Vec<Vec<f32>>,
    conv_g: Vec<Vec<f32>>,
    conv_scratch: ConvScratch,
    /// Head input (the last feature map flattened channel-major) and its gradient.
    feat: Vec<f32>,
    g_feat: Vec<f32>,
    head_acts: Activations,
    scratch: BackwardScratch,
    /// Per rollout step: predictor input `[ŝ_t, a_t/α] [r, D+A]` and its activations.
    pred_in: Vec<Vec<f32>>,
    pred_acts: Vec<Activations>,
    pred_out: Vec<f32>,
    /// `ŝ_t [r, D]` for `t = 0..=k`, and `∂L/∂ŝ_t` from the prediction term.
    hat: Vec<Vec<f32>>,
    g_hat: Vec<Vec<f32>>,
    g_run: Vec<f32>,
    g_pred_in: Vec<f32>,
    /// Inverse dynamics: input `[s_t, s_{t+1}] [r·k, 2D]`, output, gradients.
    idm_in: Vec<f32>,
    idm_acts: Activations,
    idm_out: Vec<f32>,
    g_idm_in: Vec<f32>,
    /// Readout head on `s` (`[r(k+1), D]` rows) and on `ŝ_1..ŝ_k` (stacked `[k·r, D]`, row
    /// `t·r + i`): inputs, activations, outputs, input gradients.
    ro_hat: Vec<f32>,
    ro_acts: [Activations; 2],
    ro_out: [Vec<f32>; 2],
    g_ro_in: [Vec<f32>; 2],
    ro_grads: Vec<LayerGrad>,
    /// Partial parameter gradients of this block.
    conv_grads: Vec<LayerGrad>,
    head_grads: Vec<LayerGrad>,
    pred_grads: Vec<LayerGrad>,
    idm_grads: Vec<LayerGrad>,
    /// Sums of squares of the prediction, smoothness, inverse-dynamics, encoded-readout and
    /// predicted-readout errors.
    sq: [f64; 5],
}

/// The dense [`GradientEngine`]; see the module docs.
pub struct DenseJepaGradients {
    /// Which products the MLPs run on ([`KernelPath::best`] unless chosen).
    path: KernelPath,
    blocks: Vec<Block>,
    /// `s [B(k+1), D]` (row `b(k+1) + t`) and `∂L/∂s`.
    s: Vec<f32>,
    g_s: Vec<f32>,
    /// Phase-2 scratch: one step's `s_t [B, D]`, its gradient, centred copy, covariance.
    step_s: Vec<f32>,
    step_g: Vec<f32>,
    centred: Vec<f32>,
    cov: Vec<f32>,
}

impl Default for DenseJepaGradients {
    fn default() -> Self {
        Self::new()
    }
}

fn kernel_err(e: AgentError) -> JepaError {
    JepaError::Engine {
        engine: ENGINE_NAME.into(),
        msg: e.to_string(),
    }
}

fn values<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>, AgentError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| AgentError::WorldModel(format!("{what}: {e:?}")))
}

impl DenseJepaGradients {
    /// An engine on this machine's fastest products, with empty buffers (sized on the first
    /// step).
    pub fn new() -> Self {
        Self::on(KernelPath::best())
    }

    /// An engine whose MLP products run on `path` ([`KernelPath::Fallback`] runs everywhere;
    /// tests compare both).
    pub fn on(path: KernelPath) -> Self {
        Self {
            path,
            blocks: Vec::new(),
            s: Vec::new(),
            g_s: Vec::new(),
            step_s: Vec::new(),
            step_g: Vec::new(),
            centred: Vec::new(),
            cov: Vec::new(),
        }
    }

    /// `Ok` when the engine computes this model and objective exactly; otherwise the reason
    /// (what to change, or that burn must train it).
    pub fn supports(config: &JepaConfig, objective: &ObjectiveConfig) -> Result<(), String> {
        if config.latent != LatentConfig::None {
            return Err("a latent-variable predictor (model.latent)".into());
        }
        if objective.reconstruction > 0.0 {
            return Err("the reconstruction term (objective.reconstruction > 0)".into());
        }
        if config.resolved_encoder() == EncoderKind::Conv && config.pool > 1 {
            return Err(format!(
                "pooling before the conv layers (model.pool = {})",
                config.pool
            ));
        }
        Ok(())
    }

    /// The burn module's weights as dense layers.
    fn dense_model(
        model: &Jepa,
        config: &JepaConfig,
        objective: &ObjectiveConfig,
        path: KernelPath,
    ) -> Result<DenseModel, AgentError> {
        let mut convs = Vec::new();
        if let (Some(stack), Some([c, h, w])) = (&model.conv, config.image_shape()) {
            let (mut c_in, mut height, mut width) = (c, h, w);
            for (i, layer) in stack.layers.iter().enumerate() {
                let weight = layer.weight.val();
                let c_out = weight.dims()[0];
                let kernel = values(weight, &format!("conv {i} weight"))?;
                let bias = match &layer.bias {
                    Some(b) => values(b.val(), &format!("conv {i} bias"))?,
                    None => vec![0.0; c_out],
                };
                let shape = ConvShape {
                    c_in,
                    c_out,
                    height,
                    width,
                    kernel: 3,
                    stride: 2,
                    padding: 1,
                };
                let conv = DenseConv::from_oihw(shape, &kernel, &bias)?;
                (c_in, height, width) = (c_out, shape.out_height(), shape.out_width());
                convs.push(conv);
            }
        }
        let readout = match (objective.readout > 0.0, &model.readout) {
            (false, _) => None,
            (true, None) => {
                return Err(AgentError::config(
                    "model.readout_dim",
                    0,
                    "> 0 when objective.readout > 0 (a readout head)",
                ))
            }
            (true, Some(head)) => {
                let (mean, inv_std) = config.readout_standardisation();
                Some((DenseMlp::from_mlp_on(head, path)?, mean, inv_std))
            }
        };
        let (mean, inv_std) = config.obs_standardisation();
        Ok(DenseModel {
            readout,
            convs,
            head: DenseMlp::from_mlp_on(&model.encoder, path)?,
            pred: DenseMlp::from_mlp_on(&model.predictor, path)?,
            idm: DenseMlp::from_mlp_on(&model.idm, path)?,
            mean,
            inv_std,
            inv_action_scale: 1.0 / config.action_scale,
        })
    }

    /// Splits the batch into blocks and sizes their buffers.
    fn size(&mut self, m: &DenseModel, batch: usize, k: usize, obs_dim: usize, a_dim: usize) {
        let parts = (batch / MIN_ROWS_PER_BLOCK).clamp(1, BLOCKS);
        let chunk = batch.div_ceil(parts);
        let d = m.pred.output_dim();
        let mut starts = Vec::new();
        let mut first = 0;
        while first < batch {
            starts.push((first, chunk.min(batch - first)));
            first += chunk;
        }
        self.blocks.resize_with(starts.len(), Block::default);
        for (blk, &(first, rows)) in self.blocks.iter_mut().zip(&starts) {
            let n = rows * (k + 1);
            blk.first = first;
            blk.rows = rows;
            blk.x.resize(n * obs_dim, 0.0);
            blk.conv_acts.resize_with(m.convs.len(), Vec::new);
            blk.conv_g.resize_with(m.convs.len(), Vec::new);
            for ((a, g), c) in blk.conv_acts.iter_mut().zip(&mut blk.conv_g).zip(&m.convs) {
                a.resize(n * c.shape().out_len(), 0.0);
                g.resize(n * c.shape().out_len(), 0.0);
            }
            let f = m.head.input_dim();
            if !m.convs.is_empty() {
                blk.feat.resize(n * f, 0.0);
                blk.g_feat.resize(n * f, 0.0);
            }
            let p_in = m.pred.input_dim();
            blk.pred_in.resize_with(k, Vec::new);
            blk.pred_in
                .iter_mut()
                .for_each(|v| v.resize(rows * p_in, 0.0));
            blk.pred_acts.resize_with(k, Activations::default);
            blk.pred_out.resize(rows * d, 0.0);
            blk.hat.resize_with(k + 1, Vec::new);
            blk.hat.iter_mut().for_each(|v| v.resize(rows * d, 0.0));
            blk.g_hat.resize_with(k + 1, Vec::new);
            blk.g_hat.iter_mut().for_each(|v| v.resize(rows * d, 0.0));
            blk.g_run.resize(rows * d, 0.0);
            blk.g_pred_in.resize(rows * p_in, 0.0);
            blk.idm_in.resize(rows * k * 2 * d, 0.0);
            if let Some((head, _, _)) = &m.readout {
                let r_dim = head.output_dim();
                blk.ro_hat.resize(k * rows * d, 0.0);
                blk.ro_out[0].resize(n * r_dim, 0.0);
                blk.ro_out[1].resize(k * rows * r_dim, 0.0);
                blk.g_ro_in[0].resize(n * d, 0.0);
                blk.g_ro_in[1].resize(k * rows * d, 0.0);
            }
            blk.idm_out.resize(rows * k * a_dim, 0.0);
            blk.g_idm_in.resize(rows * k * 2 * d, 0.0);
        }
        let frames = batch * (k + 1);
        self.s.resize(frames * d, 0.0);
        self.g_s.resize(frames * d, 0.0);
        self.step_s.resize(batch * d, 0.0);
        self.step_g.resize(batch * d, 0.0);
        self.centred.resize(batch * d, 0.0);
        self.cov.resize(d * d, 0.0);
    }

    /// The loss terms and gradients (dense layouts) of one window; see the module docs.
    fn compute(
        &mut self,
        m: &DenseModel,
        objective: &ObjectiveConfig,
        w: &Window,
    ) -> Result<(f32, Vec<(String, f32)>), AgentError> {
        let (b, k) = (w.batch, w.steps);
        if b < 2 || k == 0 {
            return Err(AgentError::shape(
                "dense training window",
                b,
                "at least 2 rows and 1 transition",
            ));
        }
        let obs_dim = m.mean.len();
        let d = m.pred.output_dim();
        let a_dim = m.pred.input_dim() - d;
        if w.observations.len() != b * (k + 1) * obs_dim || w.actions.len() != b * k * a_dim {
            return Err(AgentError::shape(
                "dense training window",
                w.observations.len(),
                format!(
                    "observations [B={b}, k+1={}, {obs_dim}] and actions [B, k, {a_dim}]",
                    k + 1
                ),
            ));
        }
        if !w
            .observations
            .iter()
            .chain(&w.actions)
            .all(|v| v.is_finite())
        {
            // The kernels' ReLU (`max(x, 0)`) would turn a NaN into 0 and hide it: a
            // non-finite input makes the loss NaN, as on burn, and the trainer stops there.
            return Ok((f32::NAN, Vec::new()));
        }
        let r_dim = m.readout.as_ref().map_or(0, |(h, _, _)| h.output_dim());
        if r_dim > 0 && w.readout.len() != b * (k + 1) * r_dim {
            return Err(AgentError::shape(
                "data.readout (per-step readout targets; objective.readout > 0)",
                w.readout.len(),
                format!("[B={b}, k+1={}, r={r_dim}]", k + 1),
            ));
        }
        self.size(m, b, k, obs_dim, a_dim);
        let frames_per_row = k + 1;
        let one = Some(Threads::One);

        // Phase 1: encode every frame, one block of rows per core.
        let s_parts = split_rows(&mut self.s, &self.blocks, frames_per_row * d);
        self.blocks
            .par_iter_mut()
            .zip(s_parts)
            .try_for_each(|(blk, s_out)| encode(m, blk, &w.observations, frames_per_row, s_out))?;

        // Phase 2: the VICReg terms of every step over all rows.
        self.g_s.fill(0.0);
        let steps = (k + 1) as f32;
        let weights = VarCov {
            w_var: objective.variance / steps,
            w_cov: objective.covariance / steps,
            gamma: 1.0,
            eps: VICREG_EPS,
        };
        let (mut var_sum, mut cov_sum) = (0.0f64, 0.0f64);
        for t in 0..=k {
            for row in 0..b {
                let src = (row * frames_per_row + t) * d;
                self.step_s[row * d..(row + 1) * d].copy_from_slice(&self.s[src..src + d]);
            }
            self.step_g.fill(0.0);
            let (v, c) = variance_covariance(
                &self.step_s,
                b,
                d,
                weights,
                &mut self.step_g,
                &mut self.centred,
                &mut self.cov,
            );
            var_sum += f64::from(v);
            cov_sum += f64::from(c);
            for row in 0..b {
                let dst = (row * frames_per_row + t) * d;
                self.g_s[dst..dst + d].copy_from_slice(&self.step_g[row * d..(row + 1) * d]);
            }
        }
        let variance = (var_sum / f64::from(steps)) as f32;
        let covariance = (cov_sum / f64::from(steps)) as f32;

        // Phase 3: rollout, inverse dynamics and the whole backward pass per block.
        let coefs = Coefs {
            pred: 2.0 * objective.prediction / (k * b * d) as f32,
            smooth: 2.0 * objective.time_smoothness / (k * b * d) as f32,
            idm: 2.0 * objective.inverse_dynamics / (k * b * a_dim) as f32,
            readout: [
                2.0 * objective.readout / ((k + 1) * b * r_dim.max(1)) as f32,
                2.0 * objective.readout / (k * b * r_dim.max(1)) as f32,
            ],
        };
        let s = &self.s;
        let g_parts = split_rows(&mut self.g_s, &self.blocks, frames_per_row * d);
        self.blocks
            .par_iter_mut()
            .zip(g_parts)
            .try_for_each(|(blk, g_s)| {
                let rows = frames_per_row * d;
                let s_blk = &s[blk.first * rows..(blk.first + blk.rows) * rows];
                let inputs = Inputs {
                    s: s_blk,
                    actions: &w.actions,
                    readout: &w.readout,
                };
                backward(m, blk, inputs, k, coefs, g_s, one)
            })?;

        let sq = |i: usize| self.blocks.iter().map(|blk| blk.sq[i]).sum::<f64>();
        let prediction = (sq(0) / (k * b * d) as f64) as f32;
        let smooth = (sq(1) / (k * b * d) as f64) as f32;
        let idm = (sq(2) / (k * b * a_dim) as f64) as f32;
        let reg = (objective.variance * variance) + (objective.covariance * covariance);
        let mut total = objective.prediction * prediction
            + reg
            + objective.time_smoothness * smooth
            + objective.inverse_dynamics * idm;
        let mut terms = vec![
            ("prediction".to_string(), prediction),
            ("variance".to_string(), variance),
            ("covariance".to_string(), covariance),
            ("time_smoothness".to_string(), smooth),
            ("inverse_dynamics".to_string(), idm),
        ];
        if r_dim > 0 {
            let readout =
                (sq(3) / ((k + 1) * b * r_dim) as f64 + sq(4) / (k * b * r_dim) as f64) as f32;
            total += objective.readout * readout;
            terms.push(("readout".to_string(), readout));
        }
        Ok((total, terms))
    }
}

/// Scales of the per-element gradients (module docs).
#[derive(Clone, Copy)]
struct Coefs {
    pred: f32,
    smooth: f32,
    idm: f32,
    /// Encoded and predicted readout errors.
    readout: [f32; 2],
}

/// What phase 3 of one block reads: its rows of `s [r(k+1), D]`, and the whole window's
/// actions `[B, k, A]` and raw readout targets `[B, k+1, r]` (empty without the term).
#[derive(Clone, Copy)]
struct Inputs<'a> {
    s: &'a [f32],
    actions: &'a [f32],
    readout: &'a [f32],
}

/// `buf` cut into the blocks' contiguous row ranges (`per_row` floats per batch row).
fn split_rows<'a>(buf: &'a mut [f32], blocks: &[Block], per_row: usize) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(blocks.len());
    let mut rest = buf;
    for blk in blocks {
        let (head, tail) = rest.split_at_mut(blk.rows * per_row);
        out.push(head);
        rest = tail;
    }
    out
}

/// Phase 1 for one block: `s = Enc((o − μ)/σ)` for its `r(k+1)` frames.
fn encode(
    m: &DenseModel,
    blk: &mut Block,
    obs: &[f32],
    frames_per_row: usize,
    s_out: &mut [f32],
) -> Result<(), AgentError> {
    let o = m.mean.len();
    let n = blk.rows * frames_per_row;
    let src = &obs[blk.first * frames_per_row * o..][..n * o];
    for (x, raw) in blk.x.chunks_exact_mut(o).zip(src.chunks_exact(o)) {
        for (((x, v), mu), is) in x.iter_mut().zip(raw).zip(&m.mean).zip(&m.inv_std) {
            *x = (v - mu) * is;
        }
    }
    let one = Some(Threads::One);
    if m.convs.is_empty() {
        return m
            .head
            .forward_with(&blk.x, n, &mut blk.head_acts, s_out, one);
    }
    for (l, conv) in m.convs.iter().enumerate() {
        let (done, rest) = blk.conv_acts.split_at_mut(l);
        let (input, layout) = match l {
            0 => (&blk.x[..], Layout::Nchw),
            _ => (&done[l - 1][..], Layout::Nhwc),
        };
        conv.forward(input, n, layout, true, &mut rest[0], &mut blk.conv_scratch)?;
    }
    let last = m.convs[m.convs.len() - 1].shape();
    let (h, w, c) = (last.out_height(), last.out_width(), last.c_out);
    nhwc_to_nchw(&blk.conv_acts[m.convs.len() - 1], n, h, w, c, &mut blk.feat);
    m.head
        .forward_with(&blk.feat, n, &mut blk.head_acts, s_out, one)
}

/// Phase 3 for one block: the rollout, smoothness and inverse-dynamics terms with their
/// gradients added to `g_s` (which holds the VICReg gradients of these rows), then the
/// encoder's backward pass; partial parameter gradients into the block.
fn backward(
    m: &DenseModel,
    blk: &mut Block,
    inputs: Inputs<'_>,
    k: usize,
    c: Coefs,
    g_s: &mut [f32],
    one: Option<Threads>,
) -> Result<(), AgentError> {
    let Inputs { s, actions, .. } = inputs;
    let d = m.pred.output_dim();
    let a_dim = m.pred.input_dim() - d;
    let r = blk.rows;
    let fr = k + 1;
    let first = blk.first;
    let at = |i: usize, t: usize| &actions[((first + i) * k + t) * a_dim..][..a_dim];
    let ias = m.inv_action_scale;
    blk.sq = [0.0; 5];
    let acc = BackwardOptions {
        threads: one,
        accumulate: true,
    };

    // Rollout forward: ŝ_0 = s_0, ŝ_{t+1} = ŝ_t + P([ŝ_t, a_t/α]).
    for i in 0..r {
        blk.hat[0][i * d..(i + 1) * d].copy_from_slice(&s[i * fr * d..][..d]);
    }
    for t in 0..k {
        let p_in = &mut blk.pred_in[t];
        for i in 0..r {
            let row = &mut p_in[i * (d + a_dim)..(i + 1) * (d + a_dim)];
            row[..d].copy_from_slice(&blk.hat[t][i * d..(i + 1) * d]);
            row[d..]
                .iter_mut()
                .zip(at(i, t))
                .for_each(|(x, a)| *x = a * ias);
        }
        m.pred
            .forward_with(p_in, r, &mut blk.pred_acts[t], &mut blk.pred_out, one)?;
        let (before, after) = blk.hat.split_at_mut(t + 1);
        let next = &mut after[0];
        for ((n, h), o) in next.iter_mut().zip(&before[t]).zip(&blk.pred_out) {
            *n = h + o;
        }
        // Prediction error against s_{t+1}.
        let g_hat = &mut blk.g_hat[t + 1];
        for i in 0..r {
            let target = &s[(i * fr + t + 1) * d..][..d];
            let g_target = &mut g_s[(i * fr + t + 1) * d..][..d];
            for j in 0..d {
                let e = next[i * d + j] - target[j];
                blk.sq[0] += f64::from(e * e);
                g_hat[i * d + j] = c.pred * e;
                g_target[j] -= c.pred * e;
            }
        }
    }
    if let Some(head) = &m.readout {
        readout_terms(head, blk, inputs, k, c, g_s, one)?;
    }

    // Rollout backward.
    blk.pred_grads = m.pred.zero_grads();
    blk.g_run.copy_from_slice(&blk.g_hat[k]);
    for t in (0..k).rev() {
        m.pred.backward_params_with(
            &blk.pred_in[t],
            &blk.pred_acts[t],
            &blk.g_run,
            r,
            &mut blk.scratch,
            &mut blk.pred_grads,
            Some(&mut blk.g_pred_in),
            acc,
        )?;
        for i in 0..r {
            let g_in = &blk.g_pred_in[i * (d + a_dim)..][..d];
            let g = &mut blk.g_run[i * d..(i + 1) * d];
            g.iter_mut().zip(g_in).for_each(|(g, x)| *g += x);
            if t > 0 {
                let extra = &blk.g_hat[t][i * d..(i + 1) * d];
                g.iter_mut().zip(extra).for_each(|(g, x)| *g += x);
            }
        }
    }
    for i in 0..r {
        let g0 = &mut g_s[i * fr * d..][..d];
        g0.iter_mut()
            .zip(&blk.g_run[i * d..(i + 1) * d])
            .for_each(|(g, x)| *g += x);
    }

    // Temporal smoothness.
    for i in 0..r {
        for t in 0..k {
            let (now, next) = ((i * fr + t) * d, (i * fr + t + 1) * d);
            for j in 0..d {
                let e = s[next + j] - s[now + j];
                blk.sq[1] += f64::from(e * e);
                g_s[next + j] += c.smooth * e;
                g_s[now + j] -= c.smooth * e;
            }
        }
    }

    // Inverse dynamics: Q([s_t, s_{t+1}]) ≈ a_t/α.
    let rows = r * k;
    for i in 0..r {
        for t in 0..k {
            let dst = &mut blk.idm_in[(i * k + t) * 2 * d..][..2 * d];
            dst.copy_from_slice(&s[(i * fr + t) * d..][..2 * d]);
        }
    }
    m.idm
        .forward_with(&blk.idm_in, rows, &mut blk.idm_acts, &mut blk.idm_out, one)?;
    for i in 0..r {
        for t in 0..k {
            let out = &mut blk.idm_out[(i * k + t) * a_dim..][..a_dim];
            for (o, a) in out.iter_mut().zip(at(i, t)) {
                let e = *o - a * ias;
                blk.sq[2] += f64::from(e * e);
                *o = c.idm * e;
            }
        }
    }
    blk.idm_grads = m.idm.zero_grads();
    m.idm.backward_params_with(
        &blk.idm_in,
        &blk.idm_acts,
        &blk.idm_out,
        rows,
        &mut blk.scratch,
        &mut blk.idm_grads,
        Some(&mut blk.g_idm_in),
        acc,
    )?;
    for i in 0..r {
        for t in 0..k {
            let g_in = &blk.g_idm_in[(i * k + t) * 2 * d..][..2 * d];
            let dst = &mut g_s[(i * fr + t) * d..][..2 * d];
            dst.iter_mut().zip(g_in).for_each(|(g, x)| *g += x);
        }
    }

    // Encoder backward over the block's frames.
    let n = r * fr;
    blk.head_grads = m.head.zero_grads();
    if m.convs.is_empty() {
        return m.head.backward_params_with(
            &blk.x,
            &blk.head_acts,
            g_s,
            n,
            &mut blk.scratch,
            &mut blk.head_grads,
            None,
            acc,
        );
    }
    m.head.backward_params_with(
        &blk.feat,
        &blk.head_acts,
        g_s,
        n,
        &mut blk.scratch,
        &mut blk.head_grads,
        Some(&mut blk.g_feat),
        acc,
    )?;
    let last = m.convs.len() - 1;
    let shape = *m.convs[last].shape();
    nchw_to_nhwc(
        &blk.g_feat,
        n,
        shape.c_out,
        shape.out_pixels(),
        &mut blk.conv_g[last],
    );
    relu_mask(&mut blk.conv_g[last], &blk.conv_acts[last]);
    blk.conv_grads = m.convs.iter().map(DenseConv::zero_grad).collect();
    for l in (0..m.convs.len()).rev() {
        let (below, here) = blk.conv_g.split_at_mut(l);
        let (input, layout) = match l {
            0 => (&blk.x[..], Layout::Nchw),
            _ => (&blk.conv_acts[l - 1][..], Layout::Nhwc),
        };
        let g_in = below.last_mut().map(|g| &mut g[..]);
        m.convs[l].backward(
            input,
            n,
            layout,
            &here[0],
            &mut blk.conv_grads[l],
            false,
            g_in,
            &mut blk.conv_scratch,
        )?;
        if l > 0 {
            relu_mask(&mut blk.conv_g[l - 1], &blk.conv_acts[l - 1]);
        }
    }
    Ok(())
}

/// The readout term of one block (module docs): `g` on the encoded states `s_t` and on the
/// predicted `ŝ_1..ŝ_k`, against the standardised targets; the input gradients go to `g_s`
/// and to the block's `∂L/∂ŝ_t` (before the rollout's backward pass reads them).
fn readout_terms(
    head: &(DenseMlp, Vec<f32>, Vec<f32>),
    blk: &mut Block,
    inputs: Inputs<'_>,
    k: usize,
    c: Coefs,
    g_s: &mut [f32],
    one: Option<Threads>,
) -> Result<(), AgentError> {
    let d = head.0.input_dim();
    let (rows, fr, first) = (blk.rows, k + 1, blk.first);
    blk.ro_grads = head.0.zero_grads();
    // Encoded states: row q = i·(k+1) + t of `s`, whose target is window row first·(k+1) + q.
    let half = ReadoutHalf {
        input: inputs.s,
        coef: c.readout[0],
        target_row: &|q| first * fr + q,
    };
    blk.sq[3] = readout_half(head, blk, 0, half, inputs.readout, one)?;
    g_s.iter_mut()
        .zip(&blk.g_ro_in[0])
        .for_each(|(g, x)| *g += x);
    // Predicted states ŝ_1..ŝ_k stacked t-major: row q = t·r + i, target of step t + 1.
    for t in 0..k {
        blk.ro_hat[t * rows * d..(t + 1) * rows * d].copy_from_slice(&blk.hat[t + 1]);
    }
    let stacked = std::mem::take(&mut blk.ro_hat);
    let half = ReadoutHalf {
        input: &stacked,
        coef: c.readout[1],
        target_row: &|q| (first + q % rows) * fr + q / rows + 1,
    };
    let sq = readout_half(head, blk, 1, half, inputs.readout, one);
    blk.ro_hat = stacked;
    blk.sq[4] = sq?;
    for t in 0..k {
        let g_in = &blk.g_ro_in[1][t * rows * d..(t + 1) * rows * d];
        blk.g_hat[t + 1]
            .iter_mut()
            .zip(g_in)
            .for_each(|(g, x)| *g += x);
    }
    Ok(())
}

/// One half of the readout term: the head's input rows, the gradient scale of its errors and
/// the window row of each input row's target.
struct ReadoutHalf<'a> {
    input: &'a [f32],
    coef: f32,
    target_row: &'a dyn Fn(usize) -> usize,
}

/// `g(x_q) − f̃_{target_row(q)}` for every input row `q`: its sum of squares is returned, the
/// head's parameter gradients of `coef ·` the errors are added to the block's, and the input
/// gradient is written to `blk.g_ro_in[slot]` (buffers `slot` of the block).
fn readout_half(
    (head, mean, inv_std): &(DenseMlp, Vec<f32>, Vec<f32>),
    blk: &mut Block,
    slot: usize,
    half: ReadoutHalf<'_>,
    targets: &[f32],
    one: Option<Threads>,
) -> Result<f64, AgentError> {
    let r_dim = head.output_dim();
    let n = half.input.len() / head.input_dim();
    let (acts, out) = (&mut blk.ro_acts[slot], &mut blk.ro_out[slot]);
    head.forward_with(half.input, n, acts, out, one)?;
    let mut sq = 0.0f64;
    for (q, row) in out.chunks_exact_mut(r_dim).enumerate() {
        let f = &targets[(half.target_row)(q) * r_dim..][..r_dim];
        for (((o, f), m), is) in row.iter_mut().zip(f).zip(mean).zip(inv_std) {
            let e = *o - (f - m) * is;
            sq += f64::from(e * e);
            *o = half.coef * e;
        }
    }
    let acc = BackwardOptions {
        threads: one,
        accumulate: true,
    };
    head.backward_params_with(
        half.input,
        acts,
        out,
        n,
        &mut blk.scratch,
        &mut blk.ro_grads,
        Some(&mut blk.g_ro_in[slot]),
        acc,
    )?;
    Ok(sq)
}

/// Registers `∂L/∂W` `[in, out]` and `∂L/∂b` of every layer of `mlp` under its parameter ids.
fn register_mlp(out: &mut GradientsParams, mlp: &Mlp, grads: &[LayerGrad], device: &Device) {
    for (layer, g) in mlp.layers.iter().zip(grads) {
        register_linear(out, layer, g, device);
    }
}

fn register_linear(out: &mut GradientsParams, layer: &Linear, g: &LayerGrad, device: &Device) {
    let dims = layer.weight.val().dims();
    out.register(
        layer.weight.id,
        Tensor::<2>::from_data(TensorData::new(g.weight.clone(), dims), device),
    );
    register_bias(out, &layer.bias, &g.bias, device);
}

fn register_bias(
    out: &mut GradientsParams,
    bias: &Option<Param<Tensor<1>>>,
    g: &[f32],
    device: &Device,
) {
    if let Some(b) = bias {
        out.register(
            b.id,
            Tensor::<1>::from_data(TensorData::new(g.to_vec(), [g.len()]), device),
        );
    }
}

fn register_conv(
    out: &mut GradientsParams,
    layer: &Conv2d,
    conv: &DenseConv,
    g: &LayerGrad,
    device: &Device,
) {
    let dims = layer.weight.val().dims();
    out.register(
        layer.weight.id,
        Tensor::<4>::from_data(TensorData::new(conv.to_oihw(&g.weight), dims), device),
    );
    register_bias(out, &layer.bias, &g.bias, device);
}

impl GradientEngine for DenseJepaGradients {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn loss_and_grads(
        &mut self,
        model: &Jepa,
        config: &JepaConfig,
        objective: &ObjectiveConfig,
        window: &Window,
        grad_device: &Device,
    ) -> Result<EngineStep, JepaError> {
        Self::supports(config, objective).map_err(|why| JepaError::Engine {
            engine: ENGINE_NAME.into(),
            msg: format!("does not support {why}; set train.engine = \"burn\""),
        })?;
        // Read the weights off the module without autodiff: reading a tracked parameter on
        // the autodiff device adds a node to burn's graph that no backward pass ever frees.
        let m =
            Self::dense_model(&model.valid(), config, objective, self.path).map_err(kernel_err)?;
        let (total, terms) = self.compute(&m, objective, window).map_err(kernel_err)?;
        let d = m.pred.output_dim();
        if !total.is_finite() {
            // The trainer stops on it; the buffers may not even be sized.
            return Ok(EngineStep {
                total,
                terms,
                s0: Vec::new(),
                repr_dim: d,
                grads: GradientsParams::new(),
            });
        }
        let fr = window.steps + 1;
        let s0: Vec<f32> = (0..window.batch)
            .flat_map(|b| self.s[b * fr * d..][..d].iter().copied())
            .collect();
        let pick = |f: fn(&Block) -> &[LayerGrad]| {
            summed_grads(&self.blocks.iter().map(f).collect::<Vec<_>>())
        };
        let mut grads = GradientsParams::new();
        let dev = grad_device;
        if let Some(stack) = &model.conv {
            let conv_grads = pick(|b| &b.conv_grads);
            for ((layer, conv), g) in stack.layers.iter().zip(&m.convs).zip(&conv_grads) {
                register_conv(&mut grads, layer, conv, g, dev);
            }
        }
        register_mlp(&mut grads, &model.encoder, &pick(|b| &b.head_grads), dev);
        register_mlp(&mut grads, &model.predictor, &pick(|b| &b.pred_grads), dev);
        register_mlp(&mut grads, &model.idm, &pick(|b| &b.idm_grads), dev);
        if let (Some(head), true) = (&model.readout, m.readout.is_some()) {
            register_mlp(&mut grads, head, &pick(|b| &b.ro_grads), dev);
        }
        Ok(EngineStep {
            total,
            terms,
            s0,
            repr_dim: d,
            grads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_jepa::train::seeded_module;
    use ami_jepa::{jepa_loss_readout, Trajectories};

    /// Readout features of the test data, `r`.
    const R: usize = 3;

    use crate::kernel::dense_mlp::tests::assert_close;

    /// A small model: conv (2×8×8 images, channels 4, 6) or MLP encoder, with input
    /// normalisation, an action scale and a readout head with target standardisation, so
    /// that every part of the math is exercised.
    fn config(conv: bool) -> JepaConfig {
        let obs_dim = 2 * 8 * 8;
        JepaConfig {
            obs_dim,
            obs_shape: if conv { vec![2, 8, 8] } else { vec![obs_dim] },
            conv_channels: vec![4, 6],
            action_dim: 2,
            repr_dim: 8,
            encoder_hidden: vec![16],
            predictor_hidden: vec![24, 12],
            idm_hidden: vec![10],
            obs_mean: (0..obs_dim).map(|i| 0.01 * (i % 7) as f32).collect(),
            obs_std: (0..obs_dim).map(|i| 0.5 + 0.1 * (i % 5) as f32).collect(),
            action_scale: 2.0,
            readout_dim: R,
            readout_hidden: vec![6],
            readout_mean: vec![0.1, -0.2, 0.3],
            readout_std: vec![0.5, 2.0, 1.5],
            ..JepaConfig::default()
        }
    }

    fn objective() -> ObjectiveConfig {
        ObjectiveConfig {
            prediction: 1.3,
            variance: 0.9,
            covariance: 0.07,
            time_smoothness: 0.2,
            inverse_dynamics: 0.6,
            ..ObjectiveConfig::default()
        }
    }

    /// Pseudo-random trajectories in `[0, 1)` (observations) and `[-2, 2)` (actions).
    fn data(obs_dim: usize) -> Trajectories {
        let (n_traj, traj_len) = (12, 6);
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32) / (1u64 << 24) as f32
        };
        let observations: Vec<f32> = (0..n_traj * (traj_len + 1) * obs_dim)
            .map(|_| next())
            .collect();
        let actions = (0..n_traj * traj_len * 2)
            .map(|_| 4.0 * next() - 2.0)
            .collect();
        let readout = (0..n_traj * (traj_len + 1) * R).map(|_| next()).collect();
        Trajectories {
            observations: observations.into(),
            actions,
            n_traj,
            traj_len,
            obs_dim,
            action_dim: 2,
            readout,
            readout_dim: R,
        }
    }

    /// Every parameter's gradient from burn's autodiff, by parameter id, and the loss terms.
    fn burn_reference(
        model: &Jepa,
        w: &Window,
        obs_dim: usize,
        obj: &ObjectiveConfig,
        device: &Device,
    ) -> (Vec<(String, f32)>, GradientsParams) {
        let obs = Tensor::<3>::from_data(
            TensorData::new(w.observations.clone(), [w.batch, w.steps + 1, obs_dim]),
            device,
        );
        let act = Tensor::<3>::from_data(
            TensorData::new(w.actions.clone(), [w.batch, w.steps, 2]),
            device,
        );
        let readout = Tensor::<3>::from_data(
            TensorData::new(w.readout.clone(), [w.batch, w.steps + 1, R]),
            device,
        );
        let loss = jepa_loss_readout(model, obs, act, Some(readout), obj).unwrap();
        let mut terms = vec![("total".to_string(), scalar(&loss.total))];
        terms.extend(loss.terms.iter().map(|(n, t)| (n.to_string(), scalar(t))));
        let grads = GradientsParams::from_grads(loss.total.backward(), model);
        (terms, grads)
    }

    fn scalar(t: &Tensor<1>) -> f32 {
        t.clone().into_data().try_to_vec::<f32>().unwrap()[0]
    }

    /// Collects every float parameter's id and dimensionality.
    #[derive(Default)]
    struct Ids(Vec<(ami_jepa::burn::module::ParamId, usize)>);

    impl ami_jepa::burn::module::ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push((p.id, D));
        }
    }

    fn grad_values(
        g: &GradientsParams,
        id: ami_jepa::burn::module::ParamId,
        dims: usize,
    ) -> Vec<f32> {
        let v = match dims {
            1 => g.get::<1>(id).map(|t| t.into_data()),
            2 => g.get::<2>(id).map(|t| t.into_data()),
            _ => g.get::<4>(id).map(|t| t.into_data()),
        };
        v.expect("a gradient for every parameter")
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// The dense engine's terms and every parameter gradient equal burn's autodiff of
    /// `jepa_loss` on the same weights and window (to float rounding), for the conv and the MLP
    /// encoder, with the batch split into three uneven blocks, bit for bit on one thread and on three.
    fn matches_burn(conv: bool, readout: f32) {
        matches_burn_on(conv, readout, KernelPath::Fallback);
        if KernelPath::best() == KernelPath::Packed {
            matches_burn_on(conv, readout, KernelPath::Packed);
        }
    }

    fn matches_burn_on(conv: bool, readout: f32, path: KernelPath) {
        let cfg = config(conv);
        let obj = ObjectiveConfig {
            readout,
            ..objective()
        };
        let device = Device::default().autodiff();
        let model = seeded_module(&device, 7, |d| cfg.init(d).unwrap());
        let data = data(cfg.obs_dim);
        let w = data.sample(26, 4, 3, 1);
        let (want_terms, want) = burn_reference(&model, &w, cfg.obs_dim, &obj, &device);
        let inner = device.clone().inner();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut engine = DenseJepaGradients::on(path);
            let out = pool
                .install(|| engine.loss_and_grads(&model, &cfg, &obj, &w, &inner))
                .unwrap();
            assert_eq!(engine.blocks.len(), 3, "26 rows: blocks of 9, 9, 8 rows");
            out
        };
        let got = run(3);
        // The same bits on one thread and on three.
        let single = run(1);
        assert_eq!(single.total.to_bits(), got.total.to_bits());
        assert_eq!(single.s0, got.s0);
        let mut got_terms = vec![("total".to_string(), got.total)];
        got_terms.extend(got.terms.iter().cloned());
        assert_eq!(got_terms.len(), want_terms.len());
        for ((gn, gv), (wn, wv)) in got_terms.iter().zip(&want_terms) {
            assert_eq!(gn, wn);
            assert!(
                (gv - wv).abs() <= 1e-4 * wv.abs().max(1e-2),
                "{gn}: {gv} vs {wv}"
            );
        }
        let mut ids = Ids::default();
        model.visit(&mut ids);
        if readout == 0.0 {
            // The head is not in the loss: no gradient for it, on burn as here.
            let head = model.readout.as_ref().unwrap().layers.len();
            ids.0.truncate(ids.0.len() - 2 * head);
        }
        assert_eq!(got.grads.len(), ids.0.len());
        assert_eq!(want.len(), ids.0.len());
        for (id, dims) in ids.0 {
            let (g, r) = (
                grad_values(&got.grads, id, dims),
                grad_values(&want, id, dims),
            );
            assert_close(&g, &r, 2e-4);
        }
        // s_0 is the encoder output of each row's first frame.
        assert_eq!(got.s0.len(), 26 * 8);
        assert_eq!(got.repr_dim, 8);
    }

    #[test]
    fn conv_encoder_matches_burn_autodiff() {
        matches_burn(true, 0.0);
    }

    #[test]
    fn mlp_encoder_matches_burn_autodiff() {
        matches_burn(false, 0.0);
    }

    #[test]
    fn readout_term_matches_burn_autodiff() {
        matches_burn(true, 0.8);
        matches_burn(false, 1.7);
    }

    /// The readout term without a head or without targets is an error naming the setting.
    #[test]
    fn a_readout_term_needs_a_head_and_targets() {
        let device = Device::default().autodiff();
        let obj = ObjectiveConfig {
            readout: 1.0,
            ..objective()
        };
        let inner = device.clone().inner();
        let headless = JepaConfig {
            readout_dim: 0,
            readout_mean: Vec::new(),
            readout_std: Vec::new(),
            ..config(false)
        };
        let model = seeded_module(&device, 1, |d| headless.init(d).unwrap());
        let w = data(headless.obs_dim).sample(8, 3, 0, 0);
        let err = DenseJepaGradients::new()
            .loss_and_grads(&model, &headless, &obj, &w, &inner)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("model.readout_dim"), "{err}");
        let cfg = config(false);
        let model = seeded_module(&device, 1, |d| cfg.init(d).unwrap());
        let mut w = data(cfg.obs_dim).sample(8, 3, 0, 0);
        w.readout.clear();
        let err = DenseJepaGradients::new()
            .loss_and_grads(&model, &cfg, &obj, &w, &inner)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("data.readout"), "{err}");
    }

    #[test]
    fn unsupported_models_are_named() {
        let cfg = config(true);
        let mut obj = objective();
        obj.readout = 1.0;
        assert!(DenseJepaGradients::supports(&cfg, &obj).is_ok());
        obj.readout = 0.0;
        obj.reconstruction = 0.5;
        let why = DenseJepaGradients::supports(&cfg, &obj).unwrap_err();
        assert!(why.contains("objective.reconstruction"), "{why}");
        let pooled = JepaConfig {
            pool: 2,
            ..config(true)
        };
        let why = DenseJepaGradients::supports(&pooled, &objective()).unwrap_err();
        assert!(why.contains("model.pool = 2"), "{why}");
        let latent = JepaConfig {
            latent: LatentConfig::Discrete {
                k: 3,
                prior_hidden: vec![8],
            },
            ..config(false)
        };
        let why = DenseJepaGradients::supports(&latent, &objective()).unwrap_err();
        assert!(why.contains("model.latent"), "{why}");
        assert!(DenseJepaGradients::supports(&config(false), &objective()).is_ok());
    }
}
