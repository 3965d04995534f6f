//! A fused training step of a convolutional encoder under the VICReg loss (benchmark
//! workload E), on the dense kernel: convolutions ([`DenseConv`], im2col + `gemm`), the MLP
//! head ([`DenseMlp`]), the hand-derived VICReg gradients and AdamW, all on preallocated
//! buffers.
//!
//! Model: `f(x) = head(flatten(relu(conv_L(… relu(conv_1(x))))))`, the head an MLP (ReLU
//! between its layers, none after the last). Two image batches `x`, `y [B, C, H, W]` (NCHW);
//! `z_x = f(x)`, `z_y = f(y) [B, d]`.
//!
//! Loss `L = λ_s·mean((z_x − z_y)²) + λ_v·(v(z_x) + v(z_y))/2 + λ_c·(c(z_x) + c(z_y))`, the
//! VICReg terms of [`mod@ami_jepa::vicreg`] (see [`crate::train_step`] for `v`, `c` and their
//! gradients); `∂L/∂z_x = 2λ_s (z_x − z_y)/(B·d) + …` and `∂L/∂z_y` gets the negative of the
//! invariance part.
//!
//! The feature map is kept channels-last (`[H_L, W_L, C_L]`), so the head's first layer reads
//! its input in that order; [`ConvVicregTrainer::from_torch`] permutes the rows of a
//! PyTorch/burn first layer (which reads the channel-major `torch.flatten` order) once, and
//! [`ConvVicregTrainer::head_torch_order`] permutes them back.
//!
//! Threading: the `2B` images are split into blocks, the `x` images and the `y` images
//! separately (one block per core); each core runs its block's convolutions and head forward
//! and backward on one thread and keeps partial parameter gradients. Only the VICReg statistics
//! (which couple all rows) run between the two passes, and AdamW sums the partial gradients as
//! it reads them.

use rayon::prelude::*;

use ami_agent::kernel::{
    conv::{nchw_to_nhwc, ConvScratch, Layout},
    relu_mask, summed_grads, Activations, BackwardOptions, BackwardScratch, DenseConv, DenseLayer,
    DenseMlp, LayerGrad, Threads,
};
use ami_agent::AgentError;

use crate::train_step::{apply_adamw, vicreg_terms, Moments};
use crate::{AdamWSettings, TrainLoss, VicregSettings};

/// Buffers of one block of images, run on one core.
#[derive(Debug, Clone, Default)]
struct Part {
    images: usize,
    /// The block's input images transposed to channels-last once per step (both passes of
    /// the first convolution read it).
    x_nhwc: Vec<f32>,
    /// Post-ReLU output of every convolution, NHWC.
    acts: Vec<Vec<f32>>,
    /// `∂L/∂(pre-activation)` of every convolution, NHWC.
    grads_out: Vec<Vec<f32>>,
    head_acts: Activations,
    head_scratch: BackwardScratch,
    conv_scratch: ConvScratch,
    conv_grads: Vec<LayerGrad>,
    head_grads: Vec<LayerGrad>,
}

/// Buffers of one step, sized on the first call and reused.
#[derive(Debug, Clone, Default)]
struct Workspace {
    batch: usize,
    /// Images per block (the last block of each input may have fewer).
    chunk: usize,
    /// `[z_x; z_y] [2B, d]`.
    emb: Vec<f32>,
    /// `∂L/∂[z_x; z_y]`.
    g_emb: Vec<f32>,
    centred: [Vec<f32>; 2],
    cov: [Vec<f32>; 2],
    /// Blocks of `x` first, then the same number of blocks of `y`.
    parts: Vec<Part>,
}

/// Smallest block of images worth a core of its own.
const MIN_IMAGES_PER_PART: usize = 16;

/// Convolutional encoder trained with the fused VICReg step; see the module docs.
#[derive(Debug, Clone)]
pub struct ConvVicregTrainer {
    convs: Vec<DenseConv>,
    head: DenseMlp,
    vicreg: VicregSettings,
    adamw: AdamWSettings,
    conv_moments: Moments,
    head_moments: Moments,
    step: i32,
    ws: Workspace,
}

/// Row permutation between the channel-major (`c·HW + p`) and channels-last (`p·C + c`)
/// flattening of a `[C, HW]` feature map: `perm[channels-last row] = channel-major row`.
fn flatten_permutation(c: usize, hw: usize) -> Vec<usize> {
    (0..hw)
        .flat_map(|p| (0..c).map(move |ch| ch * hw + p))
        .collect()
}

impl ConvVicregTrainer {
    /// From convolutions (input first; each one's input must be the previous one's output)
    /// and a head whose first layer reads the last feature map flattened channel-major, as
    /// `torch.flatten(x, 1)` and burn's `reshape` do.
    pub fn from_torch(
        convs: Vec<DenseConv>,
        head: DenseMlp,
        vicreg: VicregSettings,
        adamw: AdamWSettings,
    ) -> Result<Self, AgentError> {
        let Some(last) = convs.last() else {
            return Err(AgentError::config(
                "conv trainer",
                "no convolutions",
                "at least one convolution layer",
            ));
        };
        for (l, pair) in convs.windows(2).enumerate() {
            let (a, b) = (pair[0].shape(), pair[1].shape());
            if (b.c_in, b.height, b.width) != (a.c_out, a.out_height(), a.out_width()) {
                return Err(AgentError::shape(
                    format!("input of convolution {}", l + 1),
                    b.in_len(),
                    format!(
                        "[{}, {}, {}] (the output of convolution {l})",
                        a.out_height(),
                        a.out_width(),
                        a.c_out
                    ),
                ));
            }
        }
        let (c, hw) = (last.shape().c_out, last.shape().out_pixels());
        if head.input_dim() != c * hw {
            return Err(AgentError::shape(
                "head input of the conv trainer",
                head.input_dim(),
                format!("{} (the last feature map, [{c}, {hw}])", c * hw),
            ));
        }
        let perm = flatten_permutation(c, hw);
        let mut layers = head.layers().to_vec();
        let first = &mut layers[0];
        let n = first.fan_out;
        let torch = first.weight.clone();
        for (row, &src) in perm.iter().enumerate() {
            first.weight[row * n..(row + 1) * n].copy_from_slice(&torch[src * n..(src + 1) * n]);
        }
        let head = DenseMlp::from_layers(layers)?;
        let conv_grads: Vec<LayerGrad> = convs.iter().map(DenseConv::zero_grad).collect();
        Ok(Self {
            conv_moments: Moments::zeros(conv_grads),
            head_moments: Moments::zeros(head.zero_grads()),
            convs,
            head,
            vicreg,
            adamw,
            step: 0,
            ws: Workspace::default(),
        })
    }

    /// The convolutions' current weights.
    pub fn convs(&self) -> &[DenseConv] {
        &self.convs
    }

    /// The head's current layers, the first one reading the channel-major flattening (as
    /// given to [`Self::from_torch`]).
    pub fn head_torch_order(&self) -> Vec<DenseLayer> {
        let mut layers = self.head.layers().to_vec();
        let last = self.convs[self.convs.len() - 1].shape();
        let perm = flatten_permutation(last.c_out, last.out_pixels());
        let first = &mut layers[0];
        let n = first.fan_out;
        let ours = first.weight.clone();
        for (row, &dst) in perm.iter().enumerate() {
            first.weight[dst * n..(dst + 1) * n].copy_from_slice(&ours[row * n..(row + 1) * n]);
        }
        layers
    }

    /// Number of optimiser steps taken.
    pub fn steps(&self) -> i32 {
        self.step
    }

    /// Multiply-adds of one forward pass over `images` images.
    pub fn forward_macs(&self, images: usize) -> usize {
        let convs: usize = self.convs.iter().map(|c| c.forward_macs(images)).sum();
        convs + self.head.forward_macs(images)
    }

    /// Gradients of the last [`Self::loss_and_grads`] summed over the blocks: the
    /// convolutions' (kernel matrix `[k·k·C_in, C_out]` layout) and the head's (first layer
    /// in the channels-last order).
    pub fn grads(&self) -> (Vec<LayerGrad>, Vec<LayerGrad>) {
        let sum = |pick: &dyn Fn(&Part) -> &[LayerGrad]| -> Vec<LayerGrad> {
            summed_grads(&self.ws.parts.iter().map(pick).collect::<Vec<_>>())
        };
        if self.ws.parts.is_empty() {
            let convs = self.convs.iter().map(DenseConv::zero_grad).collect();
            return (convs, self.head.zero_grads());
        }
        (sum(&|p| &p.conv_grads), sum(&|p| &p.head_grads))
    }

    /// One AdamW step on the two batches; returns the loss before the update. A non-finite
    /// loss is an error and leaves the weights unchanged.
    ///
    /// # Shapes
    /// `x`, `y [B, C, H, W]` (NCHW), `B ≥ 2`.
    pub fn step(&mut self, x: &[f32], y: &[f32], batch: usize) -> Result<TrainLoss, AgentError> {
        let loss = self.loss_and_grads(x, y, batch)?;
        if !loss.total.is_finite() {
            return Err(AgentError::NonFinite {
                what: "conv trainer loss".into(),
            });
        }
        self.step += 1;
        let conv_g: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.conv_grads[..]).collect();
        let head_g: Vec<&[LayerGrad]> = self.ws.parts.iter().map(|p| &p.head_grads[..]).collect();
        let conv_layers = self.convs.iter_mut().map(DenseConv::layer_mut).collect();
        let head_layers = self.head.layers_mut().iter_mut().collect();
        apply_adamw(
            vec![
                (conv_layers, &conv_g, &mut self.conv_moments),
                (head_layers, &head_g, &mut self.head_moments),
            ],
            self.adamw,
            self.step,
        );
        Ok(loss)
    }

    /// Sizes the workspace for `batch` images per input (no allocation when already sized).
    fn size_workspace(&mut self, batch: usize) {
        let ws = &mut self.ws;
        if ws.batch == batch && !ws.parts.is_empty() {
            return;
        }
        let per_input = (rayon::current_num_threads().div_ceil(2))
            .min(batch / MIN_IMAGES_PER_PART)
            .max(1);
        let chunk = batch.div_ceil(per_input);
        let blocks = batch.div_ceil(chunk);
        let d = self.head.output_dim();
        ws.emb.resize(2 * batch * d, 0.0);
        ws.g_emb.resize(2 * batch * d, 0.0);
        ws.centred.iter_mut().for_each(|c| c.resize(batch * d, 0.0));
        ws.cov.iter_mut().for_each(|c| c.resize(d * d, 0.0));
        ws.parts.clear();
        for i in 0..2 * blocks {
            let images = chunk.min(batch - (i % blocks) * chunk);
            let sizes: Vec<usize> = self
                .convs
                .iter()
                .map(|c| images * c.shape().out_len())
                .collect();
            ws.parts.push(Part {
                images,
                acts: sizes.iter().map(|&n| vec![0.0; n]).collect(),
                grads_out: sizes.iter().map(|&n| vec![0.0; n]).collect(),
                conv_grads: self.convs.iter().map(DenseConv::zero_grad).collect(),
                head_grads: self.head.zero_grads(),
                ..Part::default()
            });
        }
        ws.chunk = chunk;
        ws.batch = batch;
    }

    /// The loss on the two batches and all parameter gradients (read them with
    /// [`Self::grads`]); the weights are not changed.
    ///
    /// # Shapes
    /// As [`Self::step`].
    pub fn loss_and_grads(
        &mut self,
        x: &[f32],
        y: &[f32],
        batch: usize,
    ) -> Result<TrainLoss, AgentError> {
        let in_len = self.convs[0].shape().in_len();
        if batch < 2 {
            return Err(AgentError::shape(
                "conv trainer batch",
                batch,
                "at least 2 images (the variance needs n − 1 > 0)",
            ));
        }
        for (what, buf) in [("x", x), ("y", y)] {
            if buf.len() != batch * in_len {
                return Err(AgentError::shape(
                    format!("conv trainer {what}"),
                    buf.len(),
                    format!("[B={batch}, {in_len}] (NCHW images)"),
                ));
            }
            if buf.iter().any(|v| !v.is_finite()) {
                return Err(AgentError::NonFinite {
                    what: format!("conv trainer input {what}"),
                });
            }
        }
        self.size_workspace(batch);
        let d = self.head.output_dim();
        let (convs, head) = (&self.convs, &self.head);
        let ws = &mut self.ws;
        let chunk = ws.chunk;
        let inputs: Vec<&[f32]> = x
            .chunks(chunk * in_len)
            .chain(y.chunks(chunk * in_len))
            .collect();
        let one = Some(Threads::One);

        // Forward, one block of images per core.
        let (ex, ey) = ws.emb.split_at_mut(batch * d);
        let embs: Vec<&mut [f32]> = ex
            .chunks_mut(chunk * d)
            .chain(ey.chunks_mut(chunk * d))
            .collect();
        ws.parts
            .par_iter_mut()
            .zip(embs)
            .zip(inputs.par_iter())
            .try_for_each(|((part, emb), input)| -> Result<(), AgentError> {
                let n = part.images;
                let s0 = convs[0].shape();
                part.x_nhwc.resize(n * s0.in_len(), 0.0);
                nchw_to_nhwc(input, n, s0.c_in, s0.height * s0.width, &mut part.x_nhwc);
                for (l, conv) in convs.iter().enumerate() {
                    let (done, rest) = part.acts.split_at_mut(l);
                    let src = match l {
                        0 => &part.x_nhwc[..],
                        _ => &done[l - 1][..],
                    };
                    let (dst, scratch) = (&mut rest[0], &mut part.conv_scratch);
                    conv.forward(src, n, Layout::Nhwc, true, dst, scratch)?;
                }
                let feat = &part.acts[convs.len() - 1];
                head.forward_with(feat, n, &mut part.head_acts, emb, one)
            })?;

        // Invariance, variance and covariance terms and their gradients.
        let v = self.vicreg;
        let count = (batch * d) as f32;
        let scale = 2.0 * v.sim / count;
        let (zx, zy) = ws.emb.split_at(batch * d);
        let (gx, gy) = ws.g_emb.split_at_mut(batch * d);
        let mut sq = 0.0f64;
        for (((gx, gy), a), b) in gx.iter_mut().zip(gy.iter_mut()).zip(zx).zip(zy) {
            let r = a - b;
            sq += f64::from(r * r);
            *gx = scale * r;
            *gy = -scale * r;
        }
        let inv = (sq / f64::from(count)) as f32;
        let [cen_x, cen_y] = &mut ws.centred;
        let [cov_x, cov_y] = &mut ws.cov;
        let ((vx, cx), (vy, cy)) = rayon::join(
            || vicreg_terms(zx, batch, d, v, gx, cen_x, cov_x),
            || vicreg_terms(zy, batch, d, v, gy, cen_y, cov_y),
        );
        let variance = (vx + vy) / 2.0;
        let covariance = cx + cy;
        let total = v.sim * inv + v.std * variance + v.cov * covariance;

        // Backward, per block: the head (its input gradient is the last feature map's), then
        // the convolutions from the last; conv 0 needs no input gradient.
        let (gx, gy) = ws.g_emb.split_at(batch * d);
        let g_embs: Vec<&[f32]> = gx.chunks(chunk * d).chain(gy.chunks(chunk * d)).collect();
        let opts = BackwardOptions {
            threads: one,
            accumulate: false,
        };
        ws.parts
            .par_iter_mut()
            .zip(g_embs.par_iter())
            .try_for_each(|(part, g_emb)| -> Result<(), AgentError> {
                let n = part.images;
                let last = convs.len() - 1;
                let Part {
                    x_nhwc,
                    acts,
                    grads_out,
                    head_acts,
                    head_scratch,
                    conv_scratch,
                    conv_grads,
                    head_grads,
                    ..
                } = part;
                let g_feat = &mut grads_out[last];
                head.backward_params_with(
                    &acts[last],
                    head_acts,
                    g_emb,
                    n,
                    head_scratch,
                    head_grads,
                    Some(g_feat),
                    opts,
                )?;
                relu_mask(g_feat, &acts[last]);
                for l in (0..convs.len()).rev() {
                    let (below, here) = grads_out.split_at_mut(l);
                    let src = match l {
                        0 => &x_nhwc[..],
                        _ => &acts[l - 1][..],
                    };
                    let g_in = below.last_mut().map(|g| &mut g[..]);
                    let (g, grad) = (&here[0], &mut conv_grads[l]);
                    convs[l].backward(src, n, Layout::Nhwc, g, grad, false, g_in, conv_scratch)?;
                    if l > 0 {
                        relu_mask(&mut grads_out[l - 1], &acts[l - 1]);
                    }
                }
                Ok(())
            })?;
        Ok(TrainLoss {
            total,
            mse: inv,
            variance,
            covariance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_agent::kernel::conv::ConvShape;
    use ami_jepa::burn;
    use ami_jepa::burn::module::{Module, Param};
    use ami_jepa::burn::optim::{AdamWConfig, GradientsParams};
    use ami_jepa::burn::tensor::{Device, Distribution, Tensor};
    use ami_jepa::conv::ConvStack;
    use ami_jepa::mlp::Mlp;
    use ami_jepa::train::seeded_module;
    use ami_jepa::vicreg::{covariance, variance};

    #[derive(Module, Debug)]
    struct Encoder {
        convs: ConvStack,
        head: Mlp,
    }

    impl Encoder {
        fn forward(&self, x: Tensor<4>) -> Tensor<2> {
            self.head.forward(self.convs.forward(x))
        }
    }

    fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// `|a − b| ≤ tol · max|b|` elementwise.
    fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_close_floor(a, b, tol, 1e-6, what);
    }

    /// `|a − b| ≤ tol · max(max|b|, floor)` elementwise: a bias gradient that nearly cancels
    /// over the batch is compared on the scale of its layer's weight gradient, since f32
    /// summation noise of that size is all that is left of it.
    fn assert_close_floor(a: &[f32], b: &[f32], tol: f32, floor: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        let scale = b.iter().fold(floor, |m, x| m.max(x.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * scale,
                "{what}[{i}] {x} vs {y} (scale {scale})"
            );
        }
    }

    struct Case {
        enc: Encoder,
        x: Tensor<4>,
        y: Tensor<4>,
        batch: usize,
        res: usize,
    }

    /// The encoder and both batches drawn under the workspace's seeded-initialisation lock
    /// (`seeded_module`): burn's RNG is global, and a test drawing in parallel would otherwise
    /// change this case's numbers from run to run.
    fn case(seed: u64, batch: usize, res: usize, channels: &[usize], scale: f64) -> Case {
        let ad = Device::flex().autodiff();
        let flat = ConvStack::out_features(channels, [2, res, res]);
        let drawn = seeded_module(&ad, seed, |d| {
            let rnd =
                || Tensor::<4>::random([batch, 2, res, res], Distribution::Normal(0.0, scale), d);
            Drawn {
                enc: Encoder {
                    convs: ConvStack::new(2, channels, d),
                    head: Mlp::new(&[flat, 24, 8], d),
                },
                x: Param::from_tensor(rnd()),
                y: Param::from_tensor(rnd()),
            }
        });
        Case {
            x: drawn.x.val().detach(),
            y: drawn.y.val().detach(),
            enc: drawn.enc,
            batch,
            res,
        }
    }

    /// What [`case`] draws, as one module so that it is drawn under one lock.
    #[derive(Module, Debug)]
    struct Drawn {
        enc: Encoder,
        x: Param<Tensor<4>>,
        y: Param<Tensor<4>>,
    }

    fn burn_loss(e: &Encoder, c: &Case, s: VicregSettings) -> Tensor<1> {
        let zx = e.forward(c.x.clone());
        let zy = e.forward(c.y.clone());
        let inv = (zx.clone() - zy.clone()).powi_scalar(2).mean();
        let var = (variance(zx.clone(), s.gamma) + variance(zy.clone(), s.gamma)).div_scalar(2.0);
        let cov = (covariance(zx) + covariance(zy)).mul_scalar(s.cov);
        inv.mul_scalar(s.sim) + var.mul_scalar(s.std) + cov
    }

    fn dense_convs(e: &Encoder, res: usize) -> Vec<DenseConv> {
        let mut c_in = 2;
        let mut h = res;
        e.convs
            .layers
            .iter()
            .map(|layer| {
                let w = layer.weight.val();
                let [c_out, ..] = w.dims();
                let shape = ConvShape {
                    c_in,
                    c_out,
                    height: h,
                    width: h,
                    kernel: 3,
                    stride: 2,
                    padding: 1,
                };
                c_in = c_out;
                h = shape.out_height();
                let b = to_vec(layer.bias.as_ref().unwrap().val());
                DenseConv::from_oihw(shape, &to_vec(w), &b).unwrap()
            })
            .collect()
    }

    fn trainer(c: &Case) -> ConvVicregTrainer {
        ConvVicregTrainer::from_torch(
            dense_convs(&c.enc, c.res),
            DenseMlp::from_mlp(&c.enc.head).unwrap(),
            VicregSettings::default(),
            AdamWSettings::default(),
        )
        .unwrap()
    }

    fn check_grads(c: &Case) {
        let loss = burn_loss(&c.enc, c, VicregSettings::default());
        let want = to_vec(loss.clone())[0];
        let grads = loss.backward();
        let mut t = trainer(c);
        let got = t
            .loss_and_grads(&to_vec(c.x.clone()), &to_vec(c.y.clone()), c.batch)
            .unwrap();
        assert!(
            (got.total - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{} vs {want}",
            got.total
        );
        let (conv_g, _) = t.grads();
        for (l, layer) in c.enc.convs.layers.iter().enumerate() {
            let gw = to_vec(layer.weight.grad(&grads).unwrap());
            let gb = to_vec(layer.bias.as_ref().unwrap().grad(&grads).unwrap());
            let mut as_conv = t.convs()[l].clone();
            as_conv.layer_mut().weight.clone_from(&conv_g[l].weight);
            assert_close(&as_conv.oihw(), &gw, 2e-3, &format!("conv {l} weight"));
            let floor = gw.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert_close_floor(&conv_g[l].bias, &gb, 2e-3, floor, &format!("conv {l} bias"));
            assert!(
                gw.iter().any(|v| v.abs() > 1e-6),
                "conv {l} gradient vanished"
            );
        }
        // The head's gradients in burn's order: run them through the same row permutation.
        let mut probe = t.clone();
        let (_, head_g) = t.grads();
        for (layer, g) in probe.head.layers_mut().iter_mut().zip(&head_g) {
            layer.weight.clone_from(&g.weight);
        }
        let head_torch = probe.head_torch_order();
        for (l, layer) in c.enc.head.layers.iter().enumerate() {
            let gw = to_vec(layer.weight.grad(&grads).unwrap());
            let gb = to_vec(layer.bias.as_ref().unwrap().grad(&grads).unwrap());
            assert_close(
                &head_torch[l].weight,
                &gw,
                2e-3,
                &format!("head {l} weight"),
            );
            // The last bias's gradient vanishes exactly (the invariance gradients of z_x and
            // z_y cancel and the variance/covariance gradients are centred): compare it
            // absolutely.
            if l + 1 == c.enc.head.layers.len() {
                assert!(
                    head_g[l].bias.iter().chain(&gb).all(|v| v.abs() < 1e-5),
                    "{gb:?}"
                );
            } else {
                let floor = gw.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let what = format!("head {l} bias");
                assert_close_floor(&head_g[l].bias, &gb, 2e-3, floor, &what);
            }
        }
    }

    #[test]
    fn loss_and_gradients_match_burn_autodiff() {
        // Small inputs: every σ_j < γ, the variance hinge active everywhere.
        check_grads(&case(31, 6, 8, &[3, 4], 0.1));
        // Unit scale, odd resolution (padding at one border only), three convolutions.
        check_grads(&case(32, 8, 9, &[3, 4, 5], 2.0));
        // Enough images to be split into several blocks per input.
        check_grads(&case(33, 40, 8, &[4, 6], 1.0));
    }

    #[test]
    fn three_adamw_steps_match_burn_and_single_thread() {
        let mut c = case(34, 40, 8, &[3, 4], 1.0);
        let mut t = trainer(&c);
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut single = trainer(&c);
        let (x, y) = (to_vec(c.x.clone()), to_vec(c.y.clone()));
        let cfg = AdamWSettings::default();
        let mut opt = AdamWConfig::new()
            .with_beta_1(cfg.beta1)
            .with_beta_2(cfg.beta2)
            .with_epsilon(cfg.eps)
            .with_weight_decay(cfg.weight_decay)
            .init();
        for _ in 0..3 {
            let loss = burn_loss(&c.enc, &c, VicregSettings::default());
            let grads = GradientsParams::from_grads(loss.backward(), &c.enc);
            c.enc = opt.step(f64::from(cfg.lr), c.enc.clone(), grads);
            let l = t.step(&x, &y, c.batch).unwrap();
            let l1 = one_thread.install(|| single.step(&x, &y, c.batch)).unwrap();
            assert!(
                (l.total - l1.total).abs() <= 1e-5 * l1.total.abs(),
                "{l:?} vs {l1:?}"
            );
        }
        let want = dense_convs(&c.enc, c.res);
        for ((w, g), s) in want.iter().zip(t.convs()).zip(single.convs()) {
            assert_close(&g.layer().weight, &w.layer().weight, 1e-4, "conv weight");
            assert_close(&g.layer().bias, &w.layer().bias, 1e-4, "conv bias");
            assert_close(&s.layer().weight, &g.layer().weight, 1e-5, "one thread");
        }
        let head = DenseMlp::from_mlp(&c.enc.head).unwrap();
        for (w, g) in head.layers().iter().zip(t.head_torch_order()) {
            assert_close(&g.weight, &w.weight, 1e-4, "head weight");
        }
        assert_eq!(t.steps(), 3);
    }

    #[test]
    fn training_aligns_two_views_without_collapse() {
        // y is x plus small noise: the invariance term must fall while the variance hinge
        // keeps the embeddings spread.
        let c = case(35, 32, 8, &[4, 8], 1.0);
        let mut t = trainer(&c);
        let x = to_vec(c.x.clone());
        let y: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.05 * ((i % 7) as f32 - 3.0) / 3.0)
            .collect();
        let first = t.step(&x, &y, 32).unwrap();
        let mut last = first;
        for _ in 0..150 {
            last = t.step(&x, &y, 32).unwrap();
        }
        assert!(last.total < 0.5 * first.total, "{first:?} -> {last:?}");
        assert!(last.variance < first.variance, "{first:?} -> {last:?}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let c = case(36, 4, 8, &[3, 4], 1.0);
        let mut t = trainer(&c);
        let n = 2 * 8 * 8;
        let err = t.step(&vec![0.0; 4 * n], &vec![0.0; 3 * n], 4).unwrap_err();
        assert!(err.to_string().contains("conv trainer y"), "{err}");
        assert!(t.step(&vec![0.0; n], &vec![0.0; n], 1).is_err());
        let before = t.convs().to_vec();
        let nan = vec![f32::NAN; 4 * n];
        assert!(t.step(&nan, &nan, 4).is_err());
        assert_eq!(
            t.convs(),
            &before[..],
            "a failed step must not change the weights"
        );
        let head = DenseMlp::from_mlp(&c.enc.head).unwrap();
        let s = (VicregSettings::default(), AdamWSettings::default());
        let convs = dense_convs(&c.enc, c.res);
        assert!(ConvVicregTrainer::from_torch(
            vec![convs[1].clone(), convs[0].clone()],
            head.clone(),
            s.0,
            s.1
        )
        .is_err());
        assert!(
            ConvVicregTrainer::from_torch(convs[..1].to_vec(), head.clone(), s.0, s.1).is_err()
        );
        assert!(ConvVicregTrainer::from_torch(Vec::new(), head, s.0, s.1).is_err());
    }
}
