//! The generic joint-embedding training loop over any [`SslObjective`], readable top to
//! bottom. Per step:
//!
//! 1. draw `B` training images, two random views each ([`crate::augment`]): `x_a`, `x_b`;
//! 2. online network: `z_v = g(f(x_v))` ([`Online`]);
//! 3. what `objective.needs()` asks for — a predictor `p_v = q(z_v)` (an MLP
//!    `D_z → predictor_hidden → D_z`); a target branch `t_v`: `sg(z_v)` (stop-gradient) or
//!    `ξ`'s outputs `g_ξ(f_ξ(x_v))` for an EMA copy `ξ` of the online weights, updated after the
//!    optimiser step as `ξ ← m_k·ξ + (1 − m_k)·θ` with `m_k = schedule.at(k, steps)`
//!    ([`ami_jepa::ssl::ema::ema_update`]); trainable prototypes `C [K, D_z]`, rows l2-normalised `c_k/‖c_k‖` before
//!    the loss sees them; objectives that need masking are refused ([`SslError::Unsupported`]);
//! 4. `loss = objective.loss(SslInputs { z, p, t, prototypes })`, a non-finite value is
//!    [`SslError::NonFinite`] with the step;
//! 5. one AdamW step on `(f, g, q, C)` at the cosine learning rate [`cosine_lr`].
//!
//! Every `diag_every` steps (and after the last) the representation `h = f(x)` of a fixed
//! held-out batch of un-augmented images is summarised by the collapse diagnostics of
//! [`ami_jepa::diagnostics::collapse`] — effective rank `exp(H(σ/Σσ))` of the centred batch
//! and the per-dimension standard deviations.

use std::time::Instant;

use ami_jepa::diagnostics::collapse;
use ami_jepa::mlp::Mlp;
use ami_jepa::ssl::ema::ema_update;
use ami_jepa::{SslInputs, SslLoss, SslObjective, TargetBranch};
use ami_sampling::SplitMix64;
use burn::module::{Module, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::augment::{two_views, AugmentConfig};
use crate::dataset::ImageSet;
use crate::encoder::{seeded, Backbone, EncoderConfig, Online};
use crate::error::SslError;

/// Settings of a pre-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps (default 1000).
    pub steps: usize,
    /// Images per step, two views each (default 128).
    pub batch_size: usize,
    /// AdamW learning rate at step 0 (default 3e-3).
    pub lr: f64,
    /// Learning rate at the last step as a fraction of `lr` (default 0.1).
    pub final_lr_ratio: f64,
    /// AdamW weight decay (default 1e-4).
    pub weight_decay: f32,
    /// Seed of the weights, batches and views (default 0).
    pub seed: u64,
    /// Steps between collapse diagnostics (default 25).
    pub diag_every: usize,
    /// Held-out images in the diagnostic batch (default 512).
    pub diag_batch: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 1000,
            batch_size: 128,
            lr: 3e-3,
            final_lr_ratio: 0.1,
            weight_decay: 1e-4,
            seed: 0,
            diag_every: 25,
            diag_batch: 512,
        }
    }
}

impl TrainConfig {
    /// Checks the ranges; the error names the key (`train.…`).
    pub fn validate(&self) -> Result<(), SslError> {
        let range = |k: &str, v: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(SslError::config(
                    format!("train.{k}"),
                    v,
                    format!("{lo} to {hi}"),
                ))
            }
        };
        range("steps", self.steps, 1, 1_000_000)?;
        range("batch_size", self.batch_size, 2, 8192)?;
        range("diag_every", self.diag_every, 1, 1_000_000)?;
        range("diag_batch", self.diag_batch, 2, 65536)?;
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return Err(SslError::config("train.lr", self.lr, "in (0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.final_lr_ratio) {
            return Err(SslError::config(
                "train.final_lr_ratio",
                self.final_lr_ratio,
                "in [0, 1]",
            ));
        }
        if !(0.0..=1.0).contains(&self.weight_decay) {
            return Err(SslError::config(
                "train.weight_decay",
                self.weight_decay,
                "in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// Everything trained together: online network, predictor, prototypes.
#[derive(Module, Debug)]
pub struct SslModel {
    /// Encoder `f` and projector `g`.
    pub online: Online,
    /// Predictor `q` (when the objective needs one).
    pub predictor: Option<Mlp>,
    /// Prototypes `C [K, D_z]` (when the objective needs them), unnormalised.
    pub prototypes: Option<Param<Tensor<2>>>,
}

/// One logged step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Optimiser step.
    pub step: usize,
    /// Weighted total loss.
    pub loss: f64,
    /// Unweighted terms by name.
    pub terms: Vec<(String, f64)>,
    /// Learning rate used.
    pub lr: f64,
    /// EMA momentum applied after the step (EMA targets only).
    pub momentum: Option<f64>,
}

/// Collapse diagnostics of the held-out representation at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Steps done when measured (0 = at initialisation).
    pub step: usize,
    /// Effective rank (RankMe) of the centred representations.
    pub effective_rank: f64,
    /// Mean per-dimension standard deviation.
    pub mean_std: f64,
    /// Per-dimension standard deviations.
    pub std: Vec<f64>,
}

/// A finished pre-training run.
#[derive(Debug)]
pub struct Trained {
    /// The encoder `f` (no autodiff): the conv encoder of this loop, or the ViT target encoder
    /// of [`crate::masked`].
    pub encoder: Backbone,
    /// Every step.
    pub log: Vec<StepLog>,
    /// Diagnostics over training.
    pub diagnostics: Vec<Diagnostic>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The cosine schedule from `lr` at step 0 to `ratio · lr` at step `steps`:
/// `η_s = lr · (ρ + (1 − ρ) · ½(1 + cos(π s / S)))`.
pub fn cosine_lr(lr: f64, ratio: f64, step: usize, steps: usize) -> f64 {
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / steps.max(1) as f64).cos());
    lr * (ratio + (1.0 - ratio) * cosine)
}

/// `[B·C·H·W]` values as a `[B, C, H, W]` tensor.
pub fn batch_tensor(
    values: Vec<f32>,
    b: usize,
    [c, h, w]: [usize; 3],
    device: &Device,
) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, [b, c, h, w]), device)
}

/// The value of a one-element tensor.
pub fn scalar(t: &Tensor<1>) -> f64 {
    t.clone()
        .into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .map_or(f64::NAN, f64::from)
}

/// Rows divided by their l2 norms (`ε = 1e-12`).
pub fn l2_normalise_rows(c: Tensor<2>) -> Tensor<2> {
    let norm = c
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    c / norm
}

/// Pre-trains `f, g` (and what the objective needs) on the images `train` of `data`;
/// diagnostics on the first `diag_batch` images of `held_out`; `log` after every step.
#[allow(clippy::too_many_arguments)]
pub fn pretrain(
    data: &ImageSet,
    train: &[usize],
    held_out: &[usize],
    cfg: &TrainConfig,
    enc: &EncoderConfig,
    aug: &AugmentConfig,
    objective: &dyn SslObjective,
    device: &Device,
    log: &mut dyn FnMut(&StepLog),
) -> Result<Trained, SslError> {
    let start = Instant::now();
    let needs = objective.needs();
    if needs.masking {
        return Err(SslError::Unsupported {
            objective: objective.name().into(),
            why: "context/target block masking needs the token loop (`ami_ssl::masked`, \
                  the ViT); this is the two-view loop of the conv encoder"
                .into(),
        });
    }
    if train.is_empty() {
        return Err(SslError::config("train images", 0, "at least one"));
    }
    let shape = data.shape;
    let ad = device.clone().autodiff();
    let dz = enc.proj_dim();
    let mut model = seeded(&ad, cfg.seed, |d| SslModel {
        online: Online::new(enc, shape, d),
        predictor: needs
            .predictor
            .then(|| Mlp::new(&[dz, enc.predictor_hidden, dz], d)),
        prototypes: needs.prototypes.map(|k| {
            Param::from_tensor(Tensor::random([k, dz], Distribution::Normal(0.0, 1.0), d))
        }),
    });
    let mut target = match needs.target {
        TargetBranch::Ema(_) => Some(model.online.valid()),
        _ => None,
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init();
    let held: Vec<usize> = held_out.iter().copied().take(cfg.diag_batch).collect();
    let conv = |o: &Online| Backbone::Conv(o.encoder.valid());
    let mut diagnostics = vec![diagnose(&conv(&model.online), data, &held, 0, device)];
    let mut rng = SplitMix64::new(cfg.seed ^ 0x7373_6c5f_7472_6e00);
    let mut logs = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let idx: Vec<usize> = (0..cfg.batch_size)
            .map(|_| train[rng.below(train.len())])
            .collect();
        let (va, vb) = two_views(|i| data.image(i).to_vec(), &idx, shape, aug, &mut rng);
        let b = idx.len();
        let xa = batch_tensor(va.clone(), b, shape, &ad);
        let xb = batch_tensor(vb.clone(), b, shape, &ad);
        let z = vec![model.online.forward(xa), model.online.forward(xb)];
        let p = match &model.predictor {
            Some(q) => z.iter().map(|z| q.forward(z.clone())).collect(),
            None => vec![],
        };
        let t = match (&needs.target, &target) {
            (TargetBranch::StopGradient, _) => z.iter().map(|z| z.clone().detach()).collect(),
            (TargetBranch::Ema(_), Some(xi)) => [va, vb]
                .into_iter()
                .map(|v| Tensor::from_inner(xi.forward(batch_tensor(v, b, shape, device))))
                .collect(),
            _ => vec![],
        };
        let prototypes = model
            .prototypes
            .as_ref()
            .map(|c| l2_normalise_rows(c.val()));
        let loss = objective.loss(SslInputs {
            z,
            p,
            t,
            prototypes,
        })?;
        let (value, terms) = loss_values(&loss, objective, step)?;
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let lr = cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
        let momentum = match (needs.target, target.take()) {
            (TargetBranch::Ema(schedule), Some(xi)) => {
                let m = schedule.at(step, cfg.steps);
                target = Some(ema_update(xi, &model.online, m)?);
                Some(m)
            }
            _ => None,
        };
        let entry = StepLog {
            step,
            loss: value,
            terms,
            lr,
            momentum,
        };
        log(&entry);
        logs.push(entry);
        if (step + 1).is_multiple_of(cfg.diag_every) || step + 1 == cfg.steps {
            diagnostics.push(diagnose(
                &conv(&model.online),
                data,
                &held,
                step + 1,
                device,
            ));
        }
    }
    Ok(Trained {
        encoder: conv(&model.online),
        log: logs,
        diagnostics,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The loss's value and its terms as numbers; a non-finite loss is
/// [`SslError::NonFinite`] naming the objective and the step.
pub(crate) fn loss_values(
    loss: &SslLoss,
    objective: &dyn SslObjective,
    step: usize,
) -> Result<(f64, Vec<(String, f64)>), SslError> {
    let value = scalar(&loss.total);
    if !value.is_finite() {
        return Err(SslError::NonFinite {
            what: format!("{} loss", objective.name()),
            step,
        });
    }
    let terms = loss
        .terms
        .iter()
        .map(|(k, v)| (k.to_string(), scalar(v)))
        .collect();
    Ok((value, terms))
}

/// Representations `[n, D]` (flat) of the images `idx` under `encoder`, in batches of 256.
pub fn represent(
    encoder: &Backbone,
    data: &ImageSet,
    idx: &[usize],
    device: &Device,
) -> (Vec<f32>, usize) {
    let mut out = vec![];
    let mut d = 0;
    for chunk in idx.chunks(256) {
        let v: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| data.image(i).iter().copied())
            .collect();
        let h = encoder.forward(batch_tensor(v, chunk.len(), data.shape, device));
        d = h.dims()[1];
        out.extend(h.into_data().try_to_vec::<f32>().unwrap_or_default());
    }
    (out, d)
}

/// The collapse diagnostics of `encoder`'s representation of the images `held`.
pub(crate) fn diagnose(
    encoder: &Backbone,
    data: &ImageSet,
    held: &[usize],
    step: usize,
    device: &Device,
) -> Diagnostic {
    let (h, d) = represent(encoder, data, held, device);
    let n = held.len();
    let c = collapse(&h, n, d);
    let std = (0..d)
        .map(|j| {
            let col = h.iter().skip(j).step_by(d).map(|&v| f64::from(v));
            let mean = col.clone().sum::<f64>() / n as f64;
            (col.map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64).sqrt()
        })
        .collect();
    Diagnostic {
        step,
        effective_rank: f64::from(c.effective_rank),
        mean_std: f64::from(c.mean_std),
        std,
    }
}
