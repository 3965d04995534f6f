//! The token loop of I-JEPA: it lowers the loss on a tiny shapes set, moves the target encoder
//! by the linear momentum schedule, hands the objective predicted and target tokens of the
//! same `[T·B·K_t, D]` shape, and refuses what it cannot train, naming the setting.

mod common;

use std::sync::Mutex;

use ami_jepa::burn::tensor::Device;
use ami_jepa::ssl::masking::MultiBlockConfig;
use ami_jepa::vit::VitConfig;
use ami_jepa::{
    objective_by_name, JepaError, MomentumSchedule, SslInputs, SslLoss, SslNeeds, SslObjective,
    TargetBranch,
};
use ami_ssl::encoder::ChannelNorm;
use ami_ssl::masked::pretrain_masked;
use ami_ssl::train::TrainConfig;
use ami_ssl::{Backbone, SslError};
use common::shapes;

/// 32 × 32 RGB in 4 × 4 patches: an 8 × 8 grid of 64 tokens.
fn vit() -> VitConfig {
    VitConfig {
        image: [3, 32, 32],
        patch: 4,
        dim: 16,
        depth: 1,
        heads: 2,
        mlp_ratio: 2,
        predictor_dim: 8,
        predictor_depth: 1,
    }
}

/// The crate's default: target blocks of 15–20 % of 64 tokens keep 9–16 of them.
fn masking() -> MultiBlockConfig {
    ami_ssl::masked::default_masking()
}

fn train_cfg(steps: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size,
        diag_every: 10,
        diag_batch: 32,
        lr: 3e-3,
        ..TrainConfig::default()
    }
}

fn vit_weights(b: &Backbone) -> Vec<f32> {
    b.tensors().into_iter().flat_map(|(_, _, v)| v).collect()
}

#[test]
fn ijepa_lowers_its_loss_and_its_target_follows_the_linear_schedule() {
    let data = shapes(120, 3);
    let idx: Vec<usize> = (0..120).collect();
    let ijepa = objective_by_name("ijepa").unwrap();
    let cfg = train_cfg(40, 16);
    let t = pretrain_masked(
        &data,
        &idx,
        &idx,
        &cfg,
        &vit(),
        &masking(),
        &ChannelNorm::fit(&data, &idx),
        ijepa.as_ref(),
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap();
    let mean = |s: &[ami_ssl::StepLog]| s.iter().map(|l| l.loss).sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&t.log[..5]), mean(&t.log[35..]));
    assert!(last < 0.7 * first, "loss {first} -> {last}");
    let schedule = MomentumSchedule::Linear {
        start: 0.996,
        end: 1.0,
    };
    for (k, l) in t.log.iter().enumerate() {
        assert_eq!(l.momentum, Some(schedule.at(k, 40)));
        assert_eq!(l.terms.len(), 1);
    }
    assert_eq!(
        t.diagnostics.iter().map(|d| d.step).collect::<Vec<_>>(),
        [0, 10, 20, 30, 40]
    );
    assert!(matches!(t.encoder, Backbone::Vit(_)));
    // The kept (target) encoder moved from its initialisation, a little: momentum ≥ 0.996.
    let init = pretrain_masked(
        &data,
        &idx,
        &idx,
        &TrainConfig {
            steps: 1,
            ..cfg.clone()
        },
        &vit(),
        &masking(),
        &ChannelNorm::fit(&data, &idx),
        // Momentum 1: the target stays the initial encoder.
        &ami_jepa::Ijepa(ami_jepa::ssl::IjepaConfig {
            momentum_start: 1.0,
            momentum_end: 1.0,
        }),
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap();
    let (w0, w1) = (vit_weights(&init.encoder), vit_weights(&t.encoder));
    assert_eq!(w0.len(), w1.len());
    let moved = w0
        .iter()
        .zip(&w1)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-6 && moved < 0.1, "largest change {moved}");
}

/// Records the shapes of what the loop hands it; loss = mean squared difference.
struct Spy {
    seen: Mutex<Vec<Vec<[usize; 2]>>>,
    predictor: bool,
}

impl SslObjective for Spy {
    fn name(&self) -> &'static str {
        "spy"
    }

    fn needs(&self) -> SslNeeds {
        SslNeeds {
            predictor: self.predictor,
            target: TargetBranch::Ema(MomentumSchedule::Linear {
                start: 0.5,
                end: 1.0,
            }),
            prototypes: None,
            masking: true,
        }
    }

    fn loss(&self, i: SslInputs) -> Result<SslLoss, JepaError> {
        assert!(i.z.is_empty() && i.prototypes.is_none());
        let shapes = i.p.iter().chain(&i.t).map(|t| t.dims()).collect();
        self.seen.lock().unwrap().push(shapes);
        let total = (i.p[0].clone() - i.t[0].clone()).powf_scalar(2.0).mean();
        Ok(SslLoss {
            terms: vec![("mse", total.clone())],
            total,
        })
    }
}

#[test]
fn predictions_and_targets_are_token_rows_of_every_target_block() {
    let data = shapes(24, 3);
    let idx: Vec<usize> = (0..24).collect();
    let spy = Spy {
        seen: Mutex::new(vec![]),
        predictor: true,
    };
    let t = pretrain_masked(
        &data,
        &idx,
        &idx,
        &train_cfg(3, 5),
        &vit(),
        &masking(),
        &ChannelNorm::fit(&data, &idx),
        &spy,
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap();
    // 3 steps, diagnostics every 10: at initialisation and after the last step.
    assert_eq!(
        t.diagnostics.iter().map(|d| d.step).collect::<Vec<_>>(),
        [0, 3]
    );
    let seen = spy.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for s in seen.iter() {
        assert_eq!(s.len(), 2, "one prediction, one target: {s:?}");
        assert_eq!(s[0], s[1]);
        let [rows, d] = s[0];
        assert_eq!(d, 16);
        // 4 target blocks × 5 images × K_t tokens, K_t = h·w of the batch's block size
        // (⌊64·s⌋ tokens, s in 0.15–0.2, rounded to a rectangle).
        assert_eq!(rows % 20, 0, "{rows}");
        assert!((20 * 6..=20 * 16).contains(&rows), "{rows}");
    }
}

#[test]
fn what_the_token_loop_cannot_train_is_refused_by_name() {
    let data = shapes(12, 3);
    let idx: Vec<usize> = (0..12).collect();
    let run = |v: &VitConfig, m: &MultiBlockConfig, o: &dyn SslObjective| {
        pretrain_masked(
            &data,
            &idx,
            &idx,
            &train_cfg(2, 4),
            v,
            m,
            &ChannelNorm::fit(&data, &idx),
            o,
            &Device::flex(),
            &mut |_| {},
        )
        .expect_err("refused")
    };
    let ijepa = objective_by_name("ijepa").unwrap();
    let e = run(
        &VitConfig {
            image: [1, 32, 32],
            ..vit()
        },
        &masking(),
        ijepa.as_ref(),
    );
    assert!(e.to_string().contains("vit.image"), "{e}");
    let too_many = MultiBlockConfig {
        min_keep: 20,
        ..masking()
    };
    let e = run(&vit(), &too_many, ijepa.as_ref());
    assert!(e.to_string().contains("masking.min_keep"), "{e}");
    let e = run(&VitConfig { patch: 5, ..vit() }, &masking(), ijepa.as_ref());
    assert!(e.to_string().contains("vit.patch"), "{e}");
    let vicreg = objective_by_name("vicreg").unwrap();
    let e = run(&vit(), &masking(), vicreg.as_ref());
    assert!(matches!(e, SslError::Unsupported { .. }), "{e}");
    let no_predictor = Spy {
        seen: Mutex::new(vec![]),
        predictor: false,
    };
    let e = run(&vit(), &masking(), &no_predictor);
    assert!(e.to_string().contains("a predictor"), "{e}");
}
