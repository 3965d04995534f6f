//! The coefficient-regression experiment (issue 17, item 3): pre-train on unlabelled
//! trajectories, then regress `ln ν` from the frozen representation with a ridge head on a
//! small labelled set, against the same encoder trained supervised from scratch on that set,
//! and against an untrained (random) encoder with the same ridge head.

use ami_jepa::{Vicreg, VicregConfig};
use ami_pde::{Equation, PdeConfig, PdeDataset, Trajectory};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::encoder::PdeEncoder;
use crate::error::SslError;
use crate::pretrain::{pretrain, seeded, PretrainConfig};
use crate::probe::{features, relative_mse, supervised, Ridge, SupervisedConfig};
use crate::views::{Augmentation, ViewConfig};

/// Settings of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConfig {
    /// The data (its coefficient is the regression target, in log).
    pub data: PdeConfig,
    /// Unlabelled trajectories for pre-training.
    pub unlabelled: usize,
    /// Labelled-set sizes (drawn from a separate pool).
    pub labels: Vec<usize>,
    /// Test trajectories.
    pub test: usize,
    /// Pre-training.
    pub pretrain: PretrainConfig,
    /// Supervised baseline steps.
    pub supervised_steps: usize,
    /// Seed of the data.
    pub seed: u64,
}

impl ExperimentConfig {
    /// A small Burgers setting: `X = 256`, 32 frames 0.08 apart, ν ∈ [0.03, 0.3]; views of
    /// 24 frames × 128 points; 2000 pre-training and 2000 supervised steps of 64.
    pub fn burgers_small() -> Self {
        ExperimentConfig {
            data: PdeConfig {
                grid: 256,
                dt: 0.005,
                save_every: 16,
                frames: 32,
                coef_min: 0.03,
                coef_max: 0.3,
                ..PdeConfig::default_for(Equation::Burgers)
            },
            unlabelled: 1024,
            labels: vec![32, 128, 512],
            test: 256,
            pretrain: PretrainConfig {
                steps: 2000,
                view: ViewConfig {
                    crop_frames: 24,
                    ..ViewConfig::default()
                },
                ..PretrainConfig::default()
            },
            supervised_steps: 2000,
            seed: 0,
        }
    }
}

impl ExperimentConfig {
    /// A small KS setting: the defaults (`L = 64`, `X = 256`, ν ∈ [0.75, 1.25], 100 time
    /// units of warm-up) with 32 frames 0.5 apart; views of 24 frames × 128 points.
    pub fn ks_small() -> Self {
        ExperimentConfig {
            data: PdeConfig {
                frames: 32,
                ..PdeConfig::default_for(Equation::Ks)
            },
            ..ExperimentConfig::burgers_small()
        }
    }

    /// The small setting of `equation` (KdV has no coefficient range by default: `None`).
    pub fn small(equation: Equation) -> Option<Self> {
        match equation {
            Equation::Burgers => Some(Self::burgers_small()),
            Equation::Ks => Some(Self::ks_small()),
            Equation::Kdv => None,
        }
    }
}

/// One row of the regression table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionRow {
    /// Labelled trajectories.
    pub labels: usize,
    /// Ridge on the Lie-pretrained encoder.
    pub ssl_rel_mse: f64,
    /// Ridge on the crop+noise-pretrained encoder (ablation).
    pub crop_noise_rel_mse: f64,
    /// Ridge on the untrained encoder.
    pub untrained_rel_mse: f64,
    /// Same encoder trained supervised from scratch.
    pub supervised_rel_mse: f64,
}

/// Data of the three splits.
pub struct Splits {
    /// Unlabelled.
    pub unlabelled: Vec<Trajectory>,
    /// Labelled pool (the first `labels` are used).
    pub labelled: Vec<Trajectory>,
    /// Test.
    pub test: Vec<Trajectory>,
}

/// Generates the three splits from disjoint trajectory indices of one seed.
pub fn splits(cfg: &ExperimentConfig) -> Result<Splits, SslError> {
    let n_lab = cfg.labels.iter().copied().max().unwrap_or(0);
    let total = cfg.unlabelled + n_lab + cfg.test;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ds = PdeDataset::generate(&cfg.data, total, cfg.seed, threads, &|_| {})?;
    let all: Vec<Trajectory> = (0..total).map(|i| ds.trajectory(i)).collect();
    let (u, rest) = all.split_at(cfg.unlabelled);
    let (l, t) = rest.split_at(n_lab);
    Ok(Splits {
        unlabelled: u.to_vec(),
        labelled: l.to_vec(),
        test: t.to_vec(),
    })
}

fn log_coef(t: &[Trajectory]) -> Vec<f64> {
    t.iter().map(|t| t.coef.ln()).collect()
}

/// Ridge on `encoder`'s features: relative MSE on the test set for `n` labels.
pub fn probe(
    encoder: &PdeEncoder,
    s: &Splits,
    n: usize,
    cfg: &PretrainConfig,
    device: &Device,
) -> Result<f64, SslError> {
    let xl = features(encoder, &s.labelled[..n], &cfg.view, device)?;
    let xt = features(encoder, &s.test, &cfg.view, device)?;
    let ridge = Ridge::fit_cv(&xl, &log_coef(&s.labelled[..n]));
    let pred: Vec<f64> = xt.iter().map(|x| ridge.predict(x)).collect();
    Ok(relative_mse(&pred, &log_coef(&s.test)))
}

/// Runs the whole table; `log` receives progress lines.
pub fn run(
    cfg: &ExperimentConfig,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<RegressionRow>, SslError> {
    let s = splits(cfg)?;
    let (sum2, count) = s.unlabelled.iter().fold((0.0, 0usize), |(a, c), t| {
        (a + t.u.iter().map(|v| v * v).sum::<f64>(), c + t.u.len())
    });
    let rms = (sum2 / count.max(1) as f64).sqrt();
    let mut cfg = cfg.clone();
    cfg.pretrain.view.scale = 1.0 / rms.max(1e-12);
    let cfg = &cfg;
    log(&format!(
        "data: {} unlabelled, {} labelled, {} test; rms u = {rms:.3}",
        s.unlabelled.len(),
        s.labelled.len(),
        s.test.len()
    ));
    let objective = Vicreg(VicregConfig::default());
    let mut encoders = vec![];
    for aug in [Augmentation::Lie, Augmentation::CropNoise] {
        let pc = PretrainConfig {
            augmentation: aug,
            ..cfg.pretrain.clone()
        };
        let t0 = std::time::Instant::now();
        let mut last = f64::NAN;
        let enc = pretrain(&s.unlabelled, &pc, &objective, device, &mut |step, loss| {
            last = loss;
            if step % 50 == 0 {
                eprintln!("  {aug:?} step {step}: vicreg {loss:.3}");
            }
        })?;
        log(&format!(
            "pre-trained ({aug:?}) in {:.1} s, final VICReg loss {last:.3}",
            t0.elapsed().as_secs_f64()
        ));
        encoders.push(enc);
    }
    let shape = cfg.pretrain.view.shape(s.test[0].frames, s.test[0].grid)?;
    let untrained = seeded(device, cfg.pretrain.seed, |d| {
        PdeEncoder::new(&cfg.pretrain.encoder, shape, d)
    });
    let mut rows = vec![];
    for &n in &cfg.labels {
        let sup_cfg = SupervisedConfig {
            steps: cfg.supervised_steps,
            batch_size: cfg.pretrain.batch_size,
            lr: cfg.pretrain.lr,
            seed: cfg.pretrain.seed,
            encoder: cfg.pretrain.encoder.clone(),
            view: cfg.pretrain.view.clone(),
        };
        let pred = supervised(
            &s.labelled[..n],
            &log_coef(&s.labelled[..n]),
            &s.test,
            &sup_cfg,
            device,
        )?;
        let row = RegressionRow {
            labels: n,
            ssl_rel_mse: probe(&encoders[0], &s, n, &cfg.pretrain, device)?,
            crop_noise_rel_mse: probe(&encoders[1], &s, n, &cfg.pretrain, device)?,
            untrained_rel_mse: probe(&untrained, &s, n, &cfg.pretrain, device)?,
            supervised_rel_mse: relative_mse(&pred, &log_coef(&s.test)),
        };
        log(&format!("{row:?}"));
        rows.push(row);
    }
    Ok(rows)
}
