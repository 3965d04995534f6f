//! A small video JEPA on `moving-shapes`: the shared encoder `f` maps each frame to
//! `h_t = f(x_t)`; a predictor MLP `q` maps the context representations
//! `[h_{t−k+1}, …, h_t]` (concatenated) to a prediction `ĥ_{t+Δ} = h_t + q(…)` of the
//! representation of frame `t + Δ` (residual by default, `residual = false` for
//! `ĥ = q(…)`). Training minimises VICReg between prediction and target on the frame
//! representations (joint embedding, no stop-gradient: the variance and covariance terms keep
//! them from collapsing): `L = λ‖ĥ − h_{t+Δ}‖²/B + μ(v(ĥ) + v(h)) + ν(c(ĥ) + c(h))` —
//! whatever objective is passed (VICReg by default) gets `SslInputs::pair(ĥ, h_{t+Δ})`.
//!
//! Evaluation on held-out videos:
//! * **probe**: ridge regression ([`crate::probe::Ridge`]) from the concatenated context
//!   representation to the factors of frame `t` (positions `x, y` and velocities `vx, vy`),
//!   R² on the test videos, against the same encoder at random init;
//! * **prediction error**: `E‖ĥ_{t+Δ} − h_{t+Δ}‖² / E‖h_{t+Δ} − h̄‖²` (relative to the spread of
//!   the target representations), against copying the last context representation
//!   (`ĥ = h_t`).

use std::time::Instant;

use ami_jepa::mlp::Mlp;
use ami_jepa::{SslInputs, SslObjective};
use ami_sampling::SplitMix64;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::dataset::VideoSet;
use crate::encoder::{seeded, EncoderConfig, ImageEncoder};
use crate::error::SslError;
use crate::experiment::{split, RANDOM_INIT_SALT};
use crate::overrides::apply_sets;
use crate::probe::{r2, Ridge, Standardiser};
use crate::train::{batch_tensor, cosine_lr, scalar};

/// Settings of the video JEPA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoConfig {
    /// Context frames `k` (default 2: enough to see a velocity).
    pub context: usize,
    /// Frames ahead `Δ` (default 1).
    pub horizon: usize,
    /// Optimiser steps (default 400).
    pub steps: usize,
    /// Clips per step (default 64).
    pub batch_size: usize,
    /// AdamW learning rate at step 0 (default 1e-3), cosine to 0.1·lr.
    pub lr: f64,
    /// Hidden width of the predictor (default 256).
    pub predictor_hidden: usize,
    /// Residual predictor `ĥ_{t+Δ} = h_t + q(·)` (default true): copying the last
    /// representation is then the predictor's zero function, and `q` learns the change.
    pub residual: bool,
    /// Fraction of the videos held out (default 0.2).
    pub test_fraction: f64,
    /// Seed of the split, weights and batches (default 0).
    pub seed: u64,
    /// The frame encoder (its projector is not used).
    pub encoder: EncoderConfig,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            context: 2,
            horizon: 1,
            steps: 400,
            batch_size: 64,
            lr: 1e-3,
            predictor_hidden: 256,
            residual: true,
            test_fraction: 0.2,
            seed: 0,
            encoder: EncoderConfig::default(),
        }
    }
}

impl VideoConfig {
    /// A seconds-long setting for tests and `--quick`.
    pub fn quick() -> Self {
        VideoConfig {
            steps: 30,
            batch_size: 16,
            lr: 2e-3,
            predictor_hidden: 64,
            encoder: EncoderConfig {
                channels: vec![8, 16, 16],
                hidden: 64,
                repr_dim: 32,
                projector: vec![32],
                predictor_hidden: 32,
            },
            ..VideoConfig::default()
        }
    }

    /// `KEY=VALUE` overrides then the range checks (errors name the key).
    pub fn with_overrides(self, sets: &[String]) -> Result<Self, SslError> {
        let c: VideoConfig = apply_sets(self, sets)?;
        c.encoder.validate()?;
        if c.context == 0 || c.horizon == 0 {
            return Err(SslError::config(
                "context/horizon",
                format!("{}/{}", c.context, c.horizon),
                "≥ 1 each",
            ));
        }
        if c.steps == 0 || c.batch_size < 2 || !(c.lr > 0.0 && c.lr <= 1.0) {
            return Err(SslError::config(
                "steps/batch_size/lr",
                format!("{}/{}/{}", c.steps, c.batch_size, c.lr),
                "steps ≥ 1, batch_size ≥ 2, lr in (0, 1]",
            ));
        }
        if !(c.test_fraction > 0.0 && c.test_fraction < 1.0) {
            return Err(SslError::config(
                "test_fraction",
                c.test_fraction,
                "in (0, 1)",
            ));
        }
        Ok(c)
    }
}

/// Shared frame encoder and predictor.
#[derive(Module, Debug)]
pub struct VideoJepa {
    /// `f`, shared by every frame.
    pub encoder: ImageEncoder,
    /// `q: k·D → hidden → D`.
    pub predictor: Mlp,
    /// Whether `ĥ = h_t + q(·)` (else `ĥ = q(·)`).
    #[module(skip)]
    pub residual: bool,
}

impl VideoJepa {
    /// Representations `[B, k+1, D]` of clips `[B, k+1, C, H, W]` given flat.
    fn encode(
        &self,
        clips: Vec<f32>,
        b: usize,
        len: usize,
        shape: [usize; 3],
        device: &Device,
    ) -> Tensor<3> {
        let h = self
            .encoder
            .forward(batch_tensor(clips, b * len, shape, device));
        let d = h.dims()[1];
        h.reshape([b, len, d])
    }

    /// `(ĥ_{t+Δ}, h_{t+Δ}, h_t, context [B, k·D])` for a batch of clips.
    fn predict(&self, h: Tensor<3>, k: usize) -> [Tensor<2>; 4] {
        let [b, _, d] = h.dims();
        let ctx = h.clone().narrow(1, 0, k).reshape([b, k * d]);
        let target = h.clone().narrow(1, k, 1).reshape([b, d]);
        let last = h.narrow(1, k - 1, 1).reshape([b, d]);
        let q = self.predictor.forward(ctx.clone());
        let pred = if self.residual { q + last.clone() } else { q };
        [pred, target, last, ctx]
    }
}

/// R² of one per-frame factor read from the context representation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFactorRow {
    /// Factor name.
    pub name: String,
    /// Trained encoder.
    pub ssl_r2: f64,
    /// Random-init encoder.
    pub random_init_r2: f64,
}

/// The result of the video experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoReport {
    /// The objective.
    pub objective: String,
    /// The settings.
    pub config: VideoConfig,
    /// Training loss per step.
    pub loss: Vec<f64>,
    /// Probe of the frame-`t` factors from the context representation.
    pub factors: Vec<VideoFactorRow>,
    /// Relative prediction error of `ĥ_{t+Δ}` on the test clips.
    pub prediction_error: f64,
    /// Relative error of copying `h_t`.
    pub copy_last_error: f64,
    /// Training and test clips.
    pub clips: [usize; 2],
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Every clip `(video, t)` of the videos `vids`: `t` from `k − 1` to `T − 1 − Δ`.
fn clips(vids: &[usize], frames: usize, k: usize, horizon: usize) -> Vec<(usize, usize)> {
    vids.iter()
        .flat_map(|&v| (k - 1..frames - horizon).map(move |t| (v, t)))
        .collect()
}

/// Flat pixels of the frames `t−k+1, …, t, t+Δ` of each clip.
fn clip_pixels(data: &VideoSet, c: &[(usize, usize)], k: usize, horizon: usize) -> Vec<f32> {
    let mut out = vec![];
    for &(v, t) in c {
        for f in t + 1 - k..=t {
            out.extend_from_slice(data.frame(v, f));
        }
        out.extend_from_slice(data.frame(v, t + horizon));
    }
    out
}

/// Trains the video JEPA with `objective` and evaluates it (see module docs); `log(step,
/// loss)` after every step.
pub fn run_video(
    data: &VideoSet,
    cfg: &VideoConfig,
    objective: &dyn SslObjective,
    device: &Device,
    log: &mut dyn FnMut(usize, f64),
) -> Result<VideoReport, SslError> {
    let start = Instant::now();
    let (k, dh) = (cfg.context, cfg.horizon);
    if k + dh > data.frames {
        return Err(SslError::config(
            "context + horizon",
            k + dh,
            format!("at most the {} frames of the videos", data.frames),
        ));
    }
    let (test, train) = split(data.len(), cfg.test_fraction, cfg.seed);
    let train_clips = clips(&train, data.frames, k, dh);
    let test_clips = clips(&test, data.frames, k, dh);
    let ad = device.clone().autodiff();
    let d = cfg.encoder.repr_dim;
    let build = |dev: &Device| VideoJepa {
        encoder: ImageEncoder::new(&cfg.encoder, data.shape, dev),
        predictor: Mlp::new(&[k * d, cfg.predictor_hidden, d], dev),
        residual: cfg.residual,
    };
    let mut model = seeded(&ad, cfg.seed, build);
    let mut optim = AdamWConfig::new().init();
    let mut rng = SplitMix64::new(cfg.seed ^ 0x0076_6964_656f);
    let mut losses = vec![];
    for step in 0..cfg.steps {
        let batch: Vec<(usize, usize)> = (0..cfg.batch_size)
            .map(|_| train_clips[rng.below(train_clips.len())])
            .collect();
        let h = model.encode(
            clip_pixels(data, &batch, k, dh),
            batch.len(),
            k + 1,
            data.shape,
            &ad,
        );
        let [pred, target, _, _] = model.predict(h, k);
        let loss = objective.loss(SslInputs::pair(pred, target))?.total;
        let value = scalar(&loss);
        if !value.is_finite() {
            return Err(SslError::NonFinite {
                what: format!("video {} loss", objective.name()),
                step,
            });
        }
        log(step, value);
        losses.push(value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cosine_lr(cfg.lr, 0.1, step, cfg.steps), model, grads);
    }
    let trained = model.valid();
    let random = seeded(device, cfg.seed ^ RANDOM_INIT_SALT, build);
    let ssl = evaluate(&trained, data, &train_clips, &test_clips, cfg, device);
    let rnd = evaluate(&random, data, &train_clips, &test_clips, cfg, device);
    Ok(VideoReport {
        objective: objective.name().into(),
        config: cfg.clone(),
        loss: losses,
        factors: data
            .factor_names
            .iter()
            .enumerate()
            .map(|(j, name)| VideoFactorRow {
                name: name.clone(),
                ssl_r2: ssl.r2[j],
                random_init_r2: rnd.r2[j],
            })
            .collect(),
        prediction_error: ssl.pred_error,
        copy_last_error: ssl.copy_error,
        clips: [train_clips.len(), test_clips.len()],
        seconds: start.elapsed().as_secs_f64(),
    })
}

struct Eval {
    r2: Vec<f64>,
    pred_error: f64,
    copy_error: f64,
}

/// Context features, predictions, targets and last representations of `clips`, in batches.
fn outputs(
    m: &VideoJepa,
    data: &VideoSet,
    c: &[(usize, usize)],
    cfg: &VideoConfig,
    device: &Device,
) -> [Vec<f32>; 4] {
    let mut out: [Vec<f32>; 4] = Default::default();
    for chunk in c.chunks(128) {
        let h = m.encode(
            clip_pixels(data, chunk, cfg.context, cfg.horizon),
            chunk.len(),
            cfg.context + 1,
            data.shape,
            device,
        );
        let [pred, target, last, ctx] = m.predict(h, cfg.context);
        for (o, t) in out.iter_mut().zip([ctx, pred, target, last]) {
            o.extend(t.into_data().try_to_vec::<f32>().unwrap_or_default());
        }
    }
    out
}

fn evaluate(
    m: &VideoJepa,
    data: &VideoSet,
    train: &[(usize, usize)],
    test: &[(usize, usize)],
    cfg: &VideoConfig,
    device: &Device,
) -> Eval {
    let d = cfg.encoder.repr_dim;
    let kd = cfg.context * d;
    let [ctx_tr, _, _, _] = outputs(m, data, train, cfg, device);
    let [ctx_te, pred, target, last] = outputs(m, data, test, cfg, device);
    let s = Standardiser::fit(&ctx_tr, kd);
    let (xtr, xte) = (s.apply(&ctx_tr), s.apply(&ctx_te));
    let f = data.factor_names.len();
    let ys: Vec<Vec<f64>> = (0..f)
        .map(|j| {
            train
                .iter()
                .map(|&(v, t)| f64::from(data.factor_row(v, t)[j]))
                .collect()
        })
        .collect();
    let r2s = Ridge::fit_cv(&xtr, &ys)
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let p: Vec<f64> = xte.iter().map(|x| r.predict(x)).collect();
            let y: Vec<f64> = test
                .iter()
                .map(|&(v, t)| f64::from(data.factor_row(v, t)[j]))
                .collect();
            r2(&p, &y)
        })
        .collect();
    let n = test.len().max(1);
    let mut mean = vec![0f64; d];
    for row in target.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v) / n as f64;
        }
    }
    let sq = |a: &[f32], b: &dyn Fn(usize) -> f64| {
        a.iter()
            .enumerate()
            .map(|(i, &v)| (f64::from(v) - b(i)).powi(2))
            .sum::<f64>()
    };
    let spread = sq(&target, &|i| mean[i % d]).max(1e-12);
    Eval {
        r2: r2s,
        pred_error: sq(&pred, &|i| f64::from(target[i])) / spread,
        copy_error: sq(&last, &|i| f64::from(target[i])) / spread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn the_residual_predictor_adds_the_change_to_the_last_representation() {
        let dev = Device::flex();
        let cfg = VideoConfig::quick();
        let (k, d) = (2, 3);
        let m = seeded(&dev, 4, |dv| VideoJepa {
            encoder: ImageEncoder::new(&cfg.encoder, [1, 8, 8], dv),
            predictor: Mlp::new(&[k * d, 5, d], dv),
            residual: true,
        });
        // Two clips of k + 1 = 3 representations of width 3.
        let v: Vec<f32> = (0..18).map(|i| (i as f32 * 0.37).sin()).collect();
        let h = Tensor::<3>::from_data(TensorData::new(v.clone(), [2, 3, 3]), &dev);
        let [pred, target, last, ctx] = m.predict(h.clone(), k);
        assert_eq!(
            values(last.clone()),
            [v[3..6].to_vec(), v[12..15].to_vec()].concat()
        );
        assert_eq!(
            values(target),
            [v[6..9].to_vec(), v[15..18].to_vec()].concat()
        );
        assert_eq!(
            values(ctx.clone()),
            [v[0..6].to_vec(), v[9..15].to_vec()].concat()
        );
        let q = values(m.predictor.forward(ctx));
        let l = values(last);
        for ((p, q), l) in values(pred).iter().zip(&q).zip(&l) {
            assert!((p - (q + l)).abs() < 1e-6);
        }
        let plain = VideoJepa {
            residual: false,
            ..m
        };
        let [pred, ..] = plain.predict(h, k);
        assert_eq!(values(pred), q);
    }
}
