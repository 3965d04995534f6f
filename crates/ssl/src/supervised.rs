//! The supervised baseline: the same encoder architecture `f` plus a linear classifier, trained
//! from scratch on the labelled images only, by cross-entropy
//! `(1/B) Σ_i −log softmax(W f(x̃_i) + b)_{y_i}` on augmented views `x̃_i` (the same views as
//! pre-training, so that the baseline gets the same invariances), AdamW at the cosine
//! learning rate of [`crate::train::cosine_lr`].

use ami_sampling::SplitMix64;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::augment::{view, AugmentConfig};
use crate::dataset::ImageSet;
use crate::encoder::{seeded, unbuildable, Arch, Backbone};
use crate::error::SslError;
use crate::train::{batch_tensor, cosine_lr, represent, scalar};

/// Settings of the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisedConfig {
    /// Optimiser steps (default 500).
    pub steps: usize,
    /// Images per step (default 128; fewer when fewer are labelled).
    pub batch_size: usize,
    /// AdamW learning rate at step 0 (default 1e-3).
    pub lr: f64,
    /// Learning rate at the last step as a fraction of `lr` (default 0.1).
    pub final_lr_ratio: f64,
    /// AdamW weight decay (default 1e-4).
    pub weight_decay: f32,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        SupervisedConfig {
            steps: 500,
            batch_size: 128,
            lr: 1e-3,
            final_lr_ratio: 0.1,
            weight_decay: 1e-4,
        }
    }
}

/// Encoder and linear classifier.
#[derive(Module, Debug)]
pub struct Classifier {
    /// `f`.
    pub encoder: Backbone,
    /// `W, b`.
    pub head: Linear,
}

impl Classifier {
    /// # Shapes
    /// `x [B, C, H, W] -> logits [B, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(x))
    }
}

/// Trains the baseline on the images `labelled` and returns its accuracy on `test`.
#[allow(clippy::too_many_arguments)]
pub fn supervised_accuracy(
    data: &ImageSet,
    labelled: &[usize],
    test: &[usize],
    cfg: &SupervisedConfig,
    arch: &Arch,
    aug: &AugmentConfig,
    seed: u64,
    device: &Device,
) -> Result<f64, SslError> {
    if labelled.is_empty() {
        return Err(SslError::config("labelled images", 0, "at least one"));
    }
    let ad = device.clone().autodiff();
    arch.validate()?;
    let built = seeded(&ad, seed, |d| {
        Some(Classifier {
            encoder: arch.build(d)?,
            head: LinearConfig::new(arch.dim(), data.classes.max(2)).init(d),
        })
    });
    let mut model = built.ok_or_else(unbuildable)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init();
    let mut rng = SplitMix64::new(seed ^ 0x7375_7065_7276);
    let b = cfg.batch_size.min(labelled.len()).max(1);
    for step in 0..cfg.steps {
        let idx: Vec<usize> = (0..b)
            .map(|_| labelled[rng.below(labelled.len())])
            .collect();
        let x: Vec<f32> = idx
            .iter()
            .flat_map(|&i| view(data.image(i), data.shape, aug, &mut rng))
            .collect();
        let y: Vec<i64> = idx.iter().map(|&i| data.labels[i] as i64).collect();
        let logits = model.forward(batch_tensor(x, b, data.shape, &ad));
        let target = Tensor::<2, Int>::from_data(TensorData::new(y, [b, 1]), &ad);
        let loss = -log_softmax(logits, 1).gather(1, target).mean();
        if !scalar(&loss).is_finite() {
            return Err(SslError::NonFinite {
                what: "supervised cross-entropy".into(),
                step,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
    }
    let model = model.valid();
    let (logits, c) = {
        // The head on the frozen representation, in batches.
        let (h, d) = represent(&model.encoder, data, test, device);
        let h = Tensor::<2>::from_data(TensorData::new(h, [test.len(), d]), device);
        let l = model.head.forward(h);
        let c = l.dims()[1];
        (l.into_data().try_to_vec::<f32>().unwrap_or_default(), c)
    };
    let hits = test
        .iter()
        .enumerate()
        .filter(|(r, &i)| {
            let row = &logits[r * c..(r + 1) * c];
            let best = (0..c)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            best == data.labels[i]
        })
        .count();
    Ok(hits as f64 / test.len().max(1) as f64)
}
