//! VICReg pre-training on unlabelled trajectories, readable top to bottom: two random views
//! of each sampled trajectory → encoder → expander → two-view SSL loss → AdamW step
//! (Bardes et al. 2022; Mialon et al. 2023 for the views).

use ami_jepa::mlp::Mlp;
use ami_jepa::{SslInputs, SslObjective};
use ami_pde::dataset::Rng;
use ami_pde::Trajectory;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::encoder::{EncoderConfig, PdeEncoder};
use crate::error::SslError;
use crate::views::{random_view, Augmentation, ViewConfig};

/// Settings of a pre-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Trajectories per step (two views each).
    pub batch_size: usize,
    /// AdamW learning rate at the first step.
    pub lr: f64,
    /// Learning rate at the last step as a fraction of `lr` ([`cosine_lr`] in between).
    pub final_lr_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Seed of the weights and of the views.
    pub seed: u64,
    /// The views.
    pub view: ViewConfig,
    /// Which transformations make the views.
    pub augmentation: Augmentation,
    /// Encoder and expander sizes.
    pub encoder: EncoderConfig,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            steps: 300,
            batch_size: 64,
            lr: 2e-3,
            final_lr_ratio: 0.1,
            weight_decay: 1e-5,
            seed: 0,
            view: ViewConfig::default(),
            augmentation: Augmentation::Lie,
            encoder: EncoderConfig::default(),
        }
    }
}

/// Encoder + expander, trained together; only the encoder is kept.
#[derive(Module, Debug)]
pub struct SslModel {
    /// The encoder whose output is the representation.
    pub encoder: PdeEncoder,
    /// VICReg's expander (projector).
    pub expander: Mlp,
}

/// Builds a module on `device` with burn's RNG seeded by `seed`, drawing every weight (the
/// workspace's one seeded initialisation, [`ami_jepa::train::seeded_module`]).
pub use ami_jepa::train::seeded_module as seeded;

/// The cosine schedule from `lr` at step 0 to `ratio · lr` at step `steps`:
/// `η_s = lr · (ρ + (1 − ρ) · ½(1 + cos(π s / S)))`.
pub fn cosine_lr(lr: f64, ratio: f64, step: usize, steps: usize) -> f64 {
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / steps.max(1) as f64).cos());
    lr * (ratio + (1.0 - ratio) * cosine)
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

/// `views [B · T · X]` as a `[B, 1, T, X]` tensor.
pub fn batch_tensor(views: Vec<f32>, b: usize, [t, x]: [usize; 2], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(views, [b, 1, t, x]), device)
}

/// Pre-trains an encoder on `data` with `objective`; `log(step, loss)` after each step.
pub fn pretrain(
    data: &[Trajectory],
    cfg: &PretrainConfig,
    objective: &dyn SslObjective,
    device: &Device,
    log: &mut dyn FnMut(usize, f64),
) -> Result<PdeEncoder, SslError> {
    let first = data
        .first()
        .ok_or_else(|| SslError::config("data", 0, "at least one trajectory"))?;
    let shape = cfg.view.shape(first.frames, first.grid)?;
    let ad = device.clone().autodiff();
    let mut model = seeded(&ad, cfg.seed, |d| {
        let mut dims = vec![cfg.encoder.repr_dim];
        dims.extend(&cfg.encoder.expander);
        SslModel {
            encoder: PdeEncoder::new(&cfg.encoder, shape, d),
            expander: Mlp::new(&dims, d),
        }
    });
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init();
    let mut rng = Rng::stream(cfg.seed, 0x5551);
    for step in 0..cfg.steps {
        let (mut va, mut vb) = (vec![], vec![]);
        for _ in 0..cfg.batch_size {
            let i = ((rng.uniform() * data.len() as f64) as usize).min(data.len() - 1);
            va.extend(random_view(
                &data[i],
                &cfg.view,
                cfg.augmentation,
                &mut rng,
            )?);
            vb.extend(random_view(
                &data[i],
                &cfg.view,
                cfg.augmentation,
                &mut rng,
            )?);
        }
        let b = cfg.batch_size;
        let za = model
            .expander
            .forward(model.encoder.forward(batch_tensor(va, b, shape, &ad)));
        let zb = model
            .expander
            .forward(model.encoder.forward(batch_tensor(vb, b, shape, &ad)));
        let loss = objective.loss(SslInputs::pair(za, zb))?.total;
        let value = scalar(&loss);
        if !value.is_finite() {
            return Err(SslError::NonFinite {
                what: format!("{} loss", objective.name()),
                step,
            });
        }
        log(step, value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
    }
    Ok(model.valid().encoder)
}

#[cfg(test)]
mod tests {
    use super::cosine_lr;

    #[test]
    fn cosine_schedule_starts_at_lr_ends_at_the_ratio_and_is_halfway_in_the_middle() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(cosine_lr(2e-3, 0.1, 0, 100), 2e-3));
        assert!(close(cosine_lr(2e-3, 0.1, 100, 100), 2e-4));
        // ½(1 + cos(π/2)) = ½: lr·(ρ + (1 − ρ)/2) = 2e-3 · 0.55.
        assert!(close(cosine_lr(2e-3, 0.1, 50, 100), 1.1e-3));
        // cos(π/4) = √2/2: lr·(ρ + (1 − ρ)(2 + √2)/4).
        let q = 2e-3 * (0.1 + 0.9 * (2.0 + 2f64.sqrt()) / 4.0);
        assert!(close(cosine_lr(2e-3, 0.1, 25, 100), q));
        for s in [0, 13, 77, 100] {
            assert!(
                close(cosine_lr(2e-3, 1.0, s, 100), 2e-3),
                "ratio 1 is constant"
            );
        }
    }
}
