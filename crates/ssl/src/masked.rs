//! The token loop of the masked objectives (I-JEPA, Assran et al. CVPR 2023; the official
//! `facebookresearch/ijepa` `src/train.py` at toy scale), readable top to bottom. Per step:
//!
//! 1. draw `B` training images `x`, pixels standardised per channel with the training set's
//!    statistics ([`ChannelNorm`]; the official pipeline normalises with ImageNet's), no other
//!    augmentation (I-JEPA's point is to need none beyond a crop, and the procedural sets
//!    already place each object differently);
//! 2. sample the multi-block masks ([`MultiBlockMasker`], the sizes shared by the batch): per
//!    image one context block `C_b` and `T` target blocks `M_b^1 … M_b^T`, each list truncated
//!    to the batch's shortest;
//! 3. **targets**: the EMA target encoder `ξ` sees the whole image, `h = Vit_ξ(x) [B, N, D]`;
//!    the tokens of block `j` of image `b` are `h[b, M_b^j]` — stacked target-block-major
//!    (row `j·B + b`) and flattened to `[T·B·K_t, D]`, behind a stop-gradient;
//! 4. **context**: the online encoder sees only the context tokens, `s = Vit_θ(x, C) [B, K_c, D]`;
//!    the predictor gets `s` repeated `T` times (same order) and the target positions, and
//!    returns `ŝ [T·B, K_t, D]`, flattened likewise;
//! 5. `loss = objective.loss(p = [ŝ], t = [h])` — for I-JEPA the smooth-L1 between `ŝ` and the
//!    layer-normalised `h` ([`ami_jepa::ssl::ijepa`]); non-finite is [`SslError::NonFinite`];
//! 6. one AdamW step on `(θ, predictor)` at the cosine learning rate
//!    ([`crate::train::cosine_lr`]), then `ξ ← m_k·ξ + (1 − m_k)·θ` with the objective's
//!    momentum schedule (I-JEPA: linear from 0.996 to 1).
//!
//! The target encoder is the one kept and probed (the official evaluation reads it), as
//! [`Backbone::Vit`]; its representation is the mean of its tokens. Every `diag_every` steps
//! the collapse diagnostics of [`crate::train`] are measured on it. Differences from the
//! official recipe, stated: AdamW with a constant weight decay (official: cosine 0.04 → 0.4),
//! no learning-rate warm-up, toy sizes ([`VitConfig::default`]) and `min_keep` lowered for the
//! small token grid ([`default_masking`]).

use std::time::Instant;

use ami_jepa::ssl::ema::ema_update;
use ami_jepa::ssl::masking::{MultiBlockConfig, MultiBlockMasker};
use ami_jepa::vit::{gather_tokens, Vit, VitConfig, VitPredictor};
use ami_jepa::{SslInputs, SslObjective, TargetBranch};
use ami_sampling::SplitMix64;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::dataset::ImageSet;
use crate::encoder::{seeded, unbuildable, Backbone, ChannelNorm, NormedVit};
use crate::error::SslError;
use crate::train::{batch_tensor, cosine_lr, diagnose, loss_values, StepLog, TrainConfig, Trained};

/// The official mask settings with `min_keep` 4 instead of 10: the official value is 4 % of a
/// 16 × 16 grid; on this crate's 8 × 8 grid (32 × 32 images in 4 × 4 patches) a target block
/// of 15 % has 9 tokens, so 10 would refuse it.
pub fn default_masking() -> MultiBlockConfig {
    MultiBlockConfig {
        min_keep: 4,
        ..MultiBlockConfig::default()
    }
}

/// The online encoder and the predictor, trained together.
#[derive(Module, Debug)]
pub struct MaskedModel {
    /// The context encoder `θ`.
    pub encoder: Vit,
    /// The predictor.
    pub predictor: VitPredictor,
}

/// Pre-trains a ViT with a masked objective on the images `train` of `data` (module docs),
/// pixels standardised by `norm` (fitted on `train`: [`ChannelNorm::fit`]); `vit.image` must be
/// the data's shape. Diagnostics on the first `diag_batch` images of
/// `held_out`; `log` after every step.
///
/// Errors: [`SslError::Unsupported`] for an objective that does not ask for masking, a
/// predictor and an EMA target; [`SslError::Config`] / [`SslError::Jepa`] for settings that do
/// not fit the data (the key is named).
#[allow(clippy::too_many_arguments)]
pub fn pretrain_masked(
    data: &ImageSet,
    train: &[usize],
    held_out: &[usize],
    cfg: &TrainConfig,
    vit: &VitConfig,
    masking: &MultiBlockConfig,
    norm: &ChannelNorm,
    objective: &dyn SslObjective,
    device: &Device,
    log: &mut dyn FnMut(&StepLog),
) -> Result<Trained, SslError> {
    let start = Instant::now();
    let needs = objective.needs();
    let TargetBranch::Ema(schedule) = needs.target else {
        return Err(unsupported(objective, "an EMA target encoder"));
    };
    if !needs.masking || !needs.predictor {
        return Err(unsupported(objective, "block masking and a predictor"));
    }
    if train.is_empty() {
        return Err(SslError::config("train images", 0, "at least one"));
    }
    if vit.image != data.shape {
        return Err(SslError::config(
            "vit.image",
            format!("{:?}", vit.image),
            format!("the data's image shape {:?}", data.shape),
        ));
    }
    vit.validate()?;
    let [gh, gw] = vit.grid();
    let masker = MultiBlockMasker::new(masking.clone(), gh, gw)?;
    let shape = data.shape;
    let ad = device.clone().autodiff();
    let built = seeded(&ad, cfg.seed, |d| {
        Some(MaskedModel {
            encoder: vit.init_encoder(d).ok()?,
            predictor: vit.init_predictor(d).ok()?,
        })
    });
    let mut model = built.ok_or_else(unbuildable)?;
    let mut target = model.encoder.valid();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init();
    let held: Vec<usize> = held_out.iter().copied().take(cfg.diag_batch).collect();
    let probe = |t: &Vit| {
        Backbone::Vit(NormedVit {
            vit: t.clone(),
            norm: norm.clone(),
        })
    };
    let mut diagnostics = vec![diagnose(&probe(&target), data, &held, 0, device)];
    let mut rng = SplitMix64::new(cfg.seed ^ 0x6d61_736b_6564);
    let mut mask_rng = StdRng::seed_from_u64(cfg.seed ^ 0x626c_6f63_6b73);
    let mut logs = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let idx: Vec<usize> = (0..cfg.batch_size)
            .map(|_| train[rng.below(train.len())])
            .collect();
        let b = idx.len();
        let x = standardised(data, &idx, norm);
        let masks = masker.sample(b, &mut mask_rng)?;
        let blocks = masker_blocks(&masks.targets);
        let t = blocks.len() / b;
        let h = target.forward(batch_tensor(x.clone(), b, shape, device), None);
        let h = block_rows(h, &blocks);
        let [rows, kt, d] = h.dims();
        let h = Tensor::from_inner(h.reshape([rows * kt, d]));
        let s = model
            .encoder
            .forward(batch_tensor(x, b, shape, &ad), Some(&masks.context));
        let context: Vec<Vec<usize>> = (0..t).flat_map(|_| masks.context.clone()).collect();
        let pred = model
            .predictor
            .forward(Tensor::cat(vec![s; t], 0), &context, &blocks)
            .reshape([rows * kt, d]);
        let loss = objective.loss(SslInputs {
            z: vec![],
            p: vec![pred],
            t: vec![h],
            prototypes: None,
        })?;
        let (value, terms) = loss_values(&loss, objective, step)?;
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let lr = cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
        let m = schedule.at(step, cfg.steps);
        target = ema_update(target, &model.encoder, m)?;
        let entry = StepLog {
            step,
            loss: value,
            terms,
            lr,
            momentum: Some(m),
        };
        log(&entry);
        logs.push(entry);
        if (step + 1).is_multiple_of(cfg.diag_every) || step + 1 == cfg.steps {
            diagnostics.push(diagnose(&probe(&target), data, &held, step + 1, device));
        }
    }
    Ok(Trained {
        encoder: probe(&target),
        log: logs,
        diagnostics,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The pixels of the images `idx`, flat `[B·C·H·W]`, standardised per channel by `norm`.
fn standardised(data: &ImageSet, idx: &[usize], norm: &ChannelNorm) -> Vec<f32> {
    let mut x: Vec<f32> = idx
        .iter()
        .flat_map(|&i| data.image(i).iter().copied())
        .collect();
    norm.apply(&mut x, data.shape[1] * data.shape[2]);
    x
}

/// The target blocks `[b][j]` as one list per row `j·B + b` (target-block-major).
fn masker_blocks(targets: &[Vec<Vec<usize>>]) -> Vec<Vec<usize>> {
    let t = targets.first().map_or(0, Vec::len);
    (0..t)
        .flat_map(|j| targets.iter().map(move |per| per[j].clone()))
        .collect()
}

/// The tokens of every target block: row `j·B + b` is `h[b, blocks[j·B + b]]`.
///
/// # Shapes
/// `h [B, N, D]`, `blocks [T·B][K_t]` → `[T·B, K_t, D]`
fn block_rows(h: Tensor<3>, blocks: &[Vec<usize>]) -> Tensor<3> {
    let t = blocks.len() / h.dims()[0].max(1);
    gather_tokens(Tensor::cat(vec![h; t], 0), blocks)
}

fn unsupported(objective: &dyn SslObjective, what: &str) -> SslError {
    SslError::Unsupported {
        objective: objective.name().into(),
        why: format!(
            "the token loop trains masked objectives (I-JEPA) and needs {what}; \
             two-view objectives train with `ami ssl train` on the conv encoder"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn each_block_row_holds_its_images_tokens() {
        // h[b, n, 0] = 10b + n for 2 images of 3 tokens; blocks (j, b): (0,0)→[0, 2],
        // (0,1)→[1, 2], (1,0)→[2, 1], (1,1)→[0, 0].
        let h = Tensor::<3>::from_data(
            TensorData::new(vec![0f32, 1., 2., 10., 11., 12.], [2, 3, 1]),
            &Device::flex(),
        );
        let blocks = masker_blocks(&[vec![vec![0, 2], vec![2, 1]], vec![vec![1, 2], vec![0, 0]]]);
        let rows = block_rows(h, &blocks);
        assert_eq!(rows.dims(), [4, 2, 1]);
        let v = rows.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(v, vec![0., 2., 11., 12., 2., 1., 10., 10.]);
    }

    #[test]
    fn each_channel_is_standardised_with_its_own_statistics() {
        // Two 2-channel 1 × 2 images: channel 0 holds {0, 2}, channel 1 holds {10, 30}.
        let data = ImageSet {
            shape: [2, 1, 2],
            pixels: vec![0., 2., 10., 30., 2., 0., 30., 10.],
            labels: vec![0, 1],
            classes: 2,
            factors: vec![],
            factor_names: vec![],
        };
        let norm = ChannelNorm::fit(&data, &[0, 1]);
        assert_eq!(
            (norm.mean.clone(), norm.std.clone()),
            (vec![1., 20.], vec![1., 10.])
        );
        assert_eq!(
            standardised(&data, &[1, 0], &norm),
            vec![1., -1., 1., -1., -1., 1., -1., 1.]
        );
    }

    #[test]
    fn target_blocks_are_stacked_block_major() {
        // Two images, two blocks each: rows are (j=0,b=0), (j=0,b=1), (j=1,b=0), (j=1,b=1).
        let targets = vec![vec![vec![1, 2], vec![3, 4]], vec![vec![5, 6], vec![7, 8]]];
        assert_eq!(
            masker_blocks(&targets),
            vec![vec![1, 2], vec![5, 6], vec![3, 4], vec![7, 8]]
        );
    }
}
