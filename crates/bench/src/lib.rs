//! `ami-bench`: the standard performance workloads (issue 4) behind `ami bench`, identical to
//! the PyTorch and JAX peers in `bench/peers/`: float32, fixed seeds, the same shapes and
//! algorithms.
//!
//! * **A** — one JEPA training step: batch 256, encoder 64→512→512→128, predictor
//!   (128+2)→512→512→128, loss `25·MSE(pred(enc(o), a), enc(o')) + 25·(v(x)+v(y))/2 +
//!   c(x)+c(y)` (VICReg terms as in [`mod@ami_jepa::vicreg`]), AdamW lr 1e-3, weight decay 0.01.
//! * **B** — one sampling plan: CEM with 512 candidates, horizon 16, 6 iterations, 64 elites,
//!   cost `Σ_t ‖s_t − g‖²`, all candidates rolled through the predictor at once.
//! * **C** — one gradient plan: 32 action sequences × 16 steps, 20 Adam steps (lr 0.1) on the
//!   actions, back-propagating through the 16-step rollout.
//!
//! A, B and C run twice: on the dense CPU kernel (the headline figures) and on burn's generic
//! tensor path (`*_generic`), with the same weights, data and seeds. B runs the product's
//! `Cem` planner on `ami_agent::kernel`; C runs the product's rollout vector–Jacobian product
//! and Adam (the hot path of the `gradient` planner) in the workload's own loop
//! ([`mod@gradient_plan`]); A runs the dense-kernel program that only the benchmarks use and
//! that lives here: the fused training step ([`train_step`]), built on `ami_agent::kernel`'s
//! MLP.
//! * **GEMM** — `m×k · k×n` f32 matrix products, the practical peak of the machine.
//! * **D** — the planning cost of a finished demo run, read from its report.
//!
//! [`suite::run`] is `ami bench`: the selected workloads with their repetition counts,
//! compared with the GEMM peak.
//!
//! Errors are the kernel's [`AgentError`]: every failure here is one of the agent's (a shape,
//! a non-finite value, a tensor that could not be read).

use std::time::Instant;

use ami_jepa::burn;
use ami_jepa::burn::module::Module;
use ami_jepa::burn::optim::{AdamWConfig, GradientsParams};
use ami_jepa::burn::tensor::{Device, Distribution, Tensor};
use ami_jepa::mlp::Mlp;
use ami_jepa::vicreg::{covariance, variance};

use ami_agent::AgentError;

pub mod conv_step;
pub mod gradient_plan;
mod planning;
pub mod suite;
pub mod train_step;

pub use conv_step::ConvVicregTrainer;
pub use gradient_plan::{gradient_plan, loss_and_grad, AdamSettings, GradientPlanBuffers};
pub use planning::{
    generic_gradient_plan, gradient_plan_ms, gradient_plan_ms_generic, sampling_plan_ms,
    sampling_plan_ms_generic, workload_b_cem, GradientWorkload, MlpDynamics,
};
pub use train_step::{AdamWSettings, DenseJepaTrainer, TrainLoss, VicregSettings};

/// Observation, action and representation sizes of the workloads.
const OBS: usize = 64;
const ACT: usize = 2;
const REPR: usize = 128;
const HIDDEN: usize = 512;

/// Repetitions of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Repeats {
    /// Untimed calls first.
    pub warmup: usize,
    /// Timed calls (the median is reported).
    pub timed: usize,
}

/// Median of `timed` calls of `f` after `warmup` calls, in seconds.
pub fn median_seconds(
    reps: Repeats,
    f: impl FnMut() -> Result<(), AgentError>,
) -> Result<f64, AgentError> {
    let t = sorted_seconds(reps, f)?;
    Ok(t[t.len() / 2])
}

/// Fastest of `timed` calls of `f` after `warmup` calls, in seconds: the GEMM peak is the
/// best the machine did, while the workloads report medians (so their fractions of the peak
/// are conservative).
pub fn best_seconds(
    reps: Repeats,
    f: impl FnMut() -> Result<(), AgentError>,
) -> Result<f64, AgentError> {
    Ok(sorted_seconds(reps, f)?[0])
}

/// The `timed` call durations of `f`, ascending, after `warmup` untimed calls.
fn sorted_seconds(
    reps: Repeats,
    mut f: impl FnMut() -> Result<(), AgentError>,
) -> Result<Vec<f64>, AgentError> {
    for _ in 0..reps.warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(reps.timed);
    for _ in 0..reps.timed.max(1) {
        let t0 = Instant::now();
        f()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t)
}

pub(crate) fn seeded(device: &Device, seed: u64) {
    device.seed(seed);
}

pub(crate) fn read(t: Tensor<1>) -> Result<f32, AgentError> {
    t.into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| AgentError::WorldModel("could not read a scalar".into()))
}

/// Achieved GFLOP/s of an `m×k · k×n` product on burn's matmul (fastest timed call).
pub fn gemm_gflops(
    device: &Device,
    m: usize,
    k: usize,
    n: usize,
    reps: Repeats,
) -> Result<f64, AgentError> {
    seeded(device, 1);
    let a = Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), device);
    let b = Tensor::<2>::random([k, n], Distribution::Normal(0.0, 1.0), device);
    let s = best_seconds(reps, || {
        let c = a.clone().matmul(b.clone());
        read(c.sum()).map(|_| ())
    })?;
    Ok(2.0 * (m * k * n) as f64 / s / 1e9)
}

/// Deterministic operands `a [m, k]`, `b [k, n]` of the GEMM measurements.
fn gemm_operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..m * k)
        .map(|i| ((i % 97) as f32 - 48.0) / 97.0)
        .collect();
    let b = (0..k * n)
        .map(|i| ((i % 89) as f32 - 44.0) / 89.0)
        .collect();
    (a, b)
}

/// GFLOP/s of `product` (which writes `c [m, n]`), fastest timed call; an error if `c[0]` is
/// not finite.
fn time_product(
    (m, k, n): (usize, usize, usize),
    reps: Repeats,
    what: &str,
    mut product: impl FnMut(&mut [f32]),
) -> Result<f64, AgentError> {
    let mut c = vec![0.0f32; m * n];
    let s = best_seconds(reps, || {
        product(&mut c);
        if c[0].is_finite() {
            Ok(())
        } else {
            Err(AgentError::NonFinite { what: what.into() })
        }
    })?;
    Ok(2.0 * (m * k * n) as f64 / s / 1e9)
}

/// Achieved GFLOP/s of an `m×k · k×n` product on the dense kernel's GEMM
/// ([`ami_agent::kernel::gemm::matmul`], all cores for large shapes).
pub fn kernel_gemm_gflops(m: usize, k: usize, n: usize, reps: Repeats) -> Result<f64, AgentError> {
    use ami_agent::kernel::gemm::{matmul, Epilogue, Rhs};
    let (a, b) = gemm_operands(m, k, n);
    time_product((m, k, n), reps, "GEMM output", |c| {
        matmul(c, &a, &b, (m, k, n), Rhs::Plain, false, Epilogue::None)
    })
}

/// Achieved GFLOP/s of an `m×k · k×n` product on the packed-weight kernel (its active variant)
/// ([`ami_agent::kernel::packed`], rows split across the cores; the weights packed once, outside
/// the timing), or `None` where that kernel does not run.
pub fn packed_gemm_gflops(
    m: usize,
    k: usize,
    n: usize,
    reps: Repeats,
) -> Result<Option<f64>, AgentError> {
    use ami_agent::kernel::gemm::Epilogue;
    use ami_agent::kernel::packed::PackedWeights;
    if !PackedWeights::usable() {
        return Ok(None);
    }
    let (a, b) = gemm_operands(m, k, n);
    let packed = PackedWeights::pack(&b, k, n);
    time_product((m, k, n), reps, "packed GEMM output", |c| {
        packed.matmul_parallel(c, &a, m, Epilogue::None);
    })
    .map(Some)
}

/// Encoder and predictor of workload A, optimised together.
#[derive(Module, Debug)]
struct TrainPair {
    enc: Mlp,
    pred: Mlp,
}

/// Workload A on the fused dense kernel ([`train_step::DenseJepaTrainer`], same weights
/// and data as [`train_steps_per_s_generic`]): median training steps per second.
pub fn train_steps_per_s(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    use crate::train_step::{AdamWSettings, DenseJepaTrainer, VicregSettings};
    use ami_agent::kernel::DenseMlp;
    let ad = device.clone().autodiff();
    seeded(&ad, 0);
    let batch = 256;
    let enc = Mlp::new(&[OBS, HIDDEN, HIDDEN, REPR], &ad);
    let pred = Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], &ad);
    let data = |w: usize| -> Result<Vec<f32>, AgentError> {
        Tensor::<2>::random([batch, w], Distribution::Normal(0.0, 1.0), &ad)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AgentError::WorldModel(format!("reading workload data: {e:?}")))
    };
    let (o, a, o2) = (data(OBS)?, data(ACT)?, data(OBS)?);
    let mut trainer = DenseJepaTrainer::new(
        DenseMlp::from_mlp(&enc)?,
        DenseMlp::from_mlp(&pred)?,
        ACT,
        VicregSettings::default(),
        AdamWSettings::default(),
    )?;
    let s = median_seconds(reps, || trainer.step(&o, &a, &o2, batch).map(|_| ()))?;
    Ok(1.0 / s)
}

/// Workload A on burn's generic autodiff path: median training steps per second.
pub fn train_steps_per_s_generic(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let ad = device.clone().autodiff();
    seeded(&ad, 0);
    let batch = 256;
    let model = TrainPair {
        enc: Mlp::new(&[OBS, HIDDEN, HIDDEN, REPR], &ad),
        pred: Mlp::new(&[REPR + ACT, HIDDEN, HIDDEN, REPR], &ad),
    };
    let o = Tensor::<2>::random([batch, OBS], Distribution::Normal(0.0, 1.0), &ad);
    let a = Tensor::<2>::random([batch, ACT], Distribution::Normal(0.0, 1.0), &ad);
    let o2 = Tensor::<2>::random([batch, OBS], Distribution::Normal(0.0, 1.0), &ad);
    generic_adamw_steps_per_s(model, reps, "workload A loss", |m| {
        let x = m.enc.forward(o.clone());
        let y = m.enc.forward(o2.clone());
        let p = m.pred.forward(Tensor::cat(vec![x.clone(), a.clone()], 1));
        let mse = (p - y.clone()).powi_scalar(2).mean();
        let var = (variance(x.clone(), 1.0) + variance(y.clone(), 1.0)).div_scalar(2.0);
        mse.mul_scalar(25.0) + var.mul_scalar(25.0) + covariance(x) + covariance(y)
    })
}

/// Median training steps per second of burn's generic path: `loss(model)`, its autodiff
/// backward pass and one step of the peers' AdamW (lr 1e-3, eps 1e-8 where burn's default is
/// 1e-5, weight decay 0.01). A non-finite loss is an error naming `what`.
fn generic_adamw_steps_per_s<M: Module>(
    model: M,
    reps: Repeats,
    what: &str,
    loss: impl Fn(&M) -> Tensor<1>,
) -> Result<f64, AgentError> {
    let mut model = Some(model);
    let mut opt = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let s = median_seconds(reps, || {
        let m = model
            .take()
            .ok_or_else(|| AgentError::WorldModel("model lost".into()))?;
        let loss = loss(&m);
        if !read(loss.clone())?.is_finite() {
            return Err(AgentError::NonFinite { what: what.into() });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(opt.step(1e-3, m, grads));
        Ok(())
    })?;
    Ok(1.0 / s)
}

/// FLOPs (GFLOP) of one call of each workload, matrix products only (`2·m·k·n` each), counted
/// as the peers count them: A = 3× forward (backward through all weights), including the two
/// VICReg covariance products; B = forward only; C = 2× forward (the predictor is frozen, so
/// the backward pass needs only gradients with respect to its inputs); E = 3× forward of the
/// conv encoder on both batches plus the two covariance products, as A.
pub fn workload_gflop() -> [(char, f64); 4] {
    let mlp = |dims: &[usize]| {
        dims.windows(2)
            .map(|w| 2.0 * (w[0] * w[1]) as f64)
            .sum::<f64>()
    };
    let enc = mlp(&[OBS, HIDDEN, HIDDEN, REPR]);
    let pred = mlp(&[REPR + ACT, HIDDEN, HIDDEN, REPR]);
    let batch = 256.0;
    let cov = 2.0 * 2.0 * (REPR * REPR) as f64 * batch;
    let a = 3.0 * (batch * (2.0 * enc + pred) + cov);
    let b = 6.0 * 512.0 * 16.0 * pred;
    let c = 20.0 * 2.0 * 32.0 * 16.0 * pred;
    let e = 3.0 * (2.0 * CONV_BATCH as f64 * conv_encoder_flops() + cov);
    [
        ('A', a / 1e9),
        ('B', b / 1e9),
        ('C', c / 1e9),
        ('E', e / 1e9),
    ]
}

/// Workload E: images per batch, input channels, resolution, conv channels, head widths.
const CONV_BATCH: usize = 256;
const CONV_IN: usize = 2;
const CONV_RES: usize = 32;
const CONV_CHANNELS: [usize; 2] = [16, 32];
const CONV_HEAD: [usize; 3] = [2048, 256, 128];

/// Forward FLOPs of workload E's encoder on one image (`2·` multiply-adds): two 3×3 stride-2
/// convolutions (32 → 16 → 8 pixels) and the MLP head.
fn conv_encoder_flops() -> f64 {
    let (mut c_in, mut res, mut f) = (CONV_IN, CONV_RES, 0.0);
    for c_out in CONV_CHANNELS {
        res = res.div_ceil(2);
        f += 2.0 * (res * res * c_out * c_in * 9) as f64;
        c_in = c_out;
    }
    f + CONV_HEAD
        .windows(2)
        .map(|w| 2.0 * (w[0] * w[1]) as f64)
        .sum::<f64>()
}

/// Workload E's encoder (burn modules) and its two image batches `[256, 2, 32, 32]`.
#[derive(Module, Debug)]
struct ConvEncoder {
    convs: ami_jepa::conv::ConvStack,
    head: Mlp,
}

impl ConvEncoder {
    fn new(device: &Device) -> Self {
        Self {
            convs: ami_jepa::conv::ConvStack::new(CONV_IN, &CONV_CHANNELS, device),
            head: Mlp::new(&CONV_HEAD, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.convs.forward(x))
    }
}

/// The VICReg loss of workload E on burn: `25·MSE(z_x, z_y) + 25·(v(z_x)+v(z_y))/2 +
/// c(z_x) + c(z_y)`.
fn conv_vicreg_loss(e: &ConvEncoder, x: &Tensor<4>, y: &Tensor<4>) -> Tensor<1> {
    let zx = e.forward(x.clone());
    let zy = e.forward(y.clone());
    let inv = (zx.clone() - zy.clone()).powi_scalar(2).mean();
    let var = (variance(zx.clone(), 1.0) + variance(zy.clone(), 1.0)).div_scalar(2.0);
    inv.mul_scalar(25.0) + var.mul_scalar(25.0) + covariance(zx) + covariance(zy)
}

fn conv_batches(ad: &Device) -> (Tensor<4>, Tensor<4>) {
    let shape = [CONV_BATCH, CONV_IN, CONV_RES, CONV_RES];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), ad);
    let y = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), ad);
    (x, y)
}

/// Workload E on the dense kernel ([`conv_step::ConvVicregTrainer`], same weights and data
/// as [`conv_train_steps_per_s_generic`]): median training steps per second.
pub fn conv_train_steps_per_s(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    use crate::train_step::{AdamWSettings, VicregSettings};
    use ami_agent::kernel::{ConvShape, DenseConv, DenseMlp};
    let ad = device.clone().autodiff();
    seeded(&ad, 5);
    let enc = ConvEncoder::new(&ad);
    let (x, y) = conv_batches(&ad);
    let vec_of = |t: Tensor<4>| -> Result<Vec<f32>, AgentError> {
        t.into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AgentError::WorldModel(format!("reading workload E data: {e:?}")))
    };
    let (x, y) = (vec_of(x)?, vec_of(y)?);
    let (mut c_in, mut res) = (CONV_IN, CONV_RES);
    let mut convs = Vec::new();
    for layer in &enc.convs.layers {
        let w = layer.weight.val();
        let [c_out, ..] = w.dims();
        let shape = ConvShape {
            c_in,
            c_out,
            height: res,
            width: res,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let read = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().ok();
        let w = w.into_data().try_to_vec::<f32>().ok();
        let b = layer.bias.as_ref().and_then(|b| read(b.val()));
        let (Some(w), Some(b)) = (w, b) else {
            return Err(AgentError::WorldModel("reading workload E weights".into()));
        };
        convs.push(DenseConv::from_oihw(shape, &w, &b)?);
        (c_in, res) = (c_out, shape.out_height());
    }
    let mut trainer = conv_step::ConvVicregTrainer::from_torch(
        convs,
        DenseMlp::from_mlp(&enc.head)?,
        VicregSettings::default(),
        AdamWSettings::default(),
    )?;
    let s = median_seconds(reps, || trainer.step(&x, &y, CONV_BATCH).map(|_| ()))?;
    Ok(1.0 / s)
}

/// Workload E on burn's generic autodiff path (burn's `Conv2d`): median training steps per
/// second.
pub fn conv_train_steps_per_s_generic(device: &Device, reps: Repeats) -> Result<f64, AgentError> {
    let ad = device.clone().autodiff();
    seeded(&ad, 5);
    let model = ConvEncoder::new(&ad);
    let (x, y) = conv_batches(&ad);
    generic_adamw_steps_per_s(model, reps, "workload E loss", |m| {
        conv_vicreg_loss(m, &x, &y)
    })
}
