//! The coefficient-regression experiment (issue 17, items 3 and 5): pre-train on unlabelled
//! trajectories, then regress `ln c` (the equation's coefficient: ν for Burgers and KS, δ for
//! KdV) from the frozen representation with a ridge head on a small labelled set, against
//! the same encoder trained supervised from scratch on that set, an encoder pre-trained with
//! crop + noise views only (the ablation of the symmetries), and an untrained encoder with
//! the same ridge head.
//!
//! [`run`] computes the whole [`Report`]; [`write`] saves `report.json` and the plots.

use std::path::Path;
use std::time::Instant;

use ami_io::svg::{render, Panel, Series};
use ami_io::write_atomic;
use ami_jepa::{Vicreg, VicregConfig};
use ami_pde::exact::{burgers_accuracy, BurgersAccuracy};
use ami_pde::{Equation, PdeConfig, PdeDataset, Trajectory};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::encoder::{EncoderConfig, PdeEncoder};
use crate::error::SslError;
use crate::pretrain::{pretrain, seeded, PretrainConfig};
use crate::probe::{features, relative_mse, supervised, KernelRidge, Ridge, SupervisedConfig};
use crate::timestep::{compare, TimeSteppingResult, TimestepConfig};
use crate::views::{Augmentation, ViewConfig};

/// Settings of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConfig {
    /// The data (its coefficient is the regression target, in log).
    pub data: PdeConfig,
    /// Unlabelled trajectories for pre-training.
    pub unlabelled: usize,
    /// Labelled-set sizes (the first `n` of one labelled pool, disjoint from the others).
    pub labels: Vec<usize>,
    /// Test trajectories.
    pub test: usize,
    /// Pre-training.
    pub pretrain: PretrainConfig,
    /// Supervised baseline steps.
    pub supervised_steps: usize,
    /// The supervised baseline's learning rate at the last step as a fraction of
    /// `pretrain.lr` (cosine in between).
    pub supervised_final_lr_ratio: f64,
    /// The time-stepper (its `history` is replaced by each of `timestep_histories`).
    pub timestep: TimestepConfig,
    /// Past frames of the time-steppers compared, the first one reported as `time_stepping`.
    pub timestep_histories: Vec<usize>,
    /// Seed of the data, the weights and the views.
    pub seed: u64,
}

impl ExperimentConfig {
    /// Burgers: `X = 256`, 32 frames 0.08 apart, ν log-uniform in [0.03, 0.3]; 4096
    /// unlabelled trajectories; views of 24 frames × 128 points; 1500 pre-training steps of 64
    /// at a constant AdamW rate 2e-3 and 1500 supervised steps of 64 from 2e-3 decayed to
    /// 2e-4 by a cosine (each schedule is the one of the two that did better for that method).
    pub fn burgers() -> Self {
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
            unlabelled: 4096,
            labels: vec![64, 256, 1024],
            test: 256,
            pretrain: PretrainConfig {
                steps: 1500,
                final_lr_ratio: 1.0,
                view: ViewConfig {
                    crop_frames: 24,
                    ..ViewConfig::default()
                },
                ..PretrainConfig::default()
            },
            supervised_steps: 1500,
            supervised_final_lr_ratio: 0.1,
            timestep: TimestepConfig::default(),
            timestep_histories: vec![1, 4],
            seed: 0,
        }
    }

    /// KS: the defaults (`L = 64`, `X = 256`, ν ∈ [0.75, 1.25]) with 50 time units of
    /// warm-up and 32 frames 0.5 apart; 2048 unlabelled trajectories (KS costs the most to
    /// generate); otherwise as [`ExperimentConfig::burgers`].
    pub fn ks() -> Self {
        ExperimentConfig {
            data: PdeConfig {
                frames: 32,
                warmup: 2000,
                ..PdeConfig::default_for(Equation::Ks)
            },
            unlabelled: 2048,
            ..ExperimentConfig::burgers()
        }
    }

    /// KdV (`u_t + 6 u u_x + δ u_xxx = 0`): `L = 64`, `X = 256`, δ log-uniform in [0.5, 2],
    /// 32 frames 0.2 apart, 2048 unlabelled trajectories; otherwise as
    /// [`ExperimentConfig::burgers`].
    pub fn kdv() -> Self {
        ExperimentConfig {
            data: PdeConfig {
                grid: 256,
                dt: 0.005,
                save_every: 40,
                frames: 32,
                coef_min: 0.5,
                coef_max: 2.0,
                ..PdeConfig::default_for(Equation::Kdv)
            },
            unlabelled: 2048,
            ..ExperimentConfig::burgers()
        }
    }

    /// The full setting of `equation`.
    pub fn for_equation(equation: Equation) -> Self {
        match equation {
            Equation::Burgers => Self::burgers(),
            Equation::Ks => Self::ks(),
            Equation::Kdv => Self::kdv(),
        }
    }

    /// A seconds-long version of `equation`'s setting for tests and `--quick`: 64 grid
    /// points, 12 frames, 128 unlabelled, labels 16 and 32, 64 test, a small encoder,
    /// 60 pre-training and 60 supervised steps of 16.
    pub fn quick(equation: Equation) -> Self {
        let full = Self::for_equation(equation);
        let stride = full.data.grid / 64;
        ExperimentConfig {
            data: PdeConfig {
                grid: 64,
                dt: full.data.dt * stride as f64,
                save_every: full.data.save_every / stride.max(1),
                frames: 12,
                ..full.data
            },
            unlabelled: 128,
            labels: vec![16, 32],
            test: 64,
            pretrain: PretrainConfig {
                steps: 60,
                batch_size: 16,
                lr: 2e-3,
                view: ViewConfig {
                    crop_frames: 8,
                    x_stride: 1,
                    ..full.pretrain.view
                },
                encoder: EncoderConfig {
                    channels: vec![4, 8, 8],
                    hidden: 32,
                    repr_dim: 16,
                    expander: vec![32, 32],
                    ..EncoderConfig::default()
                },
                ..full.pretrain
            },
            supervised_steps: 60,
            supervised_final_lr_ratio: full.supervised_final_lr_ratio,
            timestep: TimestepConfig {
                channels: 8,
                layers: 2,
                steps: 40,
                batch_size: 16,
                ..full.timestep
            },
            timestep_histories: vec![1],
            seed: full.seed,
        }
    }

    /// The keys [`ExperimentConfig::with_overrides`] accepts besides `data.*` (the data keys of
    /// `ami data pde`).
    pub const KEYS: [&'static str; 15] = [
        "unlabelled",
        "labels",
        "test",
        "supervised_steps",
        "supervised_final_lr_ratio",
        "pretrain.steps",
        "pretrain.batch_size",
        "pretrain.lr",
        "pretrain.final_lr_ratio",
        "view.crop_frames",
        "view.x_stride",
        "view.boost_max",
        "view.noise_std",
        "view.probe_crops",
        "encoder.repr_dim",
    ];

    /// Applies `key=value` overrides in order: `data.KEY` goes to [`PdeConfig::with_overrides`],
    /// the others are [`ExperimentConfig::KEYS`] (`labels` is a comma-separated list).
    pub fn with_overrides(mut self, sets: &[String]) -> Result<Self, SslError> {
        for given in sets {
            let (key, value) = given.split_once('=').ok_or_else(|| {
                SslError::config("--set", given, "KEY=VALUE (e.g. pretrain.steps=500)")
            })?;
            let (key, value) = (key.trim(), value.trim());
            if let Some(data_key) = key.strip_prefix("data.") {
                self.data = self
                    .data
                    .clone()
                    .with_overrides(&[format!("{data_key}={value}")])?;
                continue;
            }
            let Some(&name) = Self::KEYS.iter().find(|k| **k == key) else {
                return Err(SslError::config(
                    "--set",
                    key,
                    format!("one of {} or data.KEY", Self::KEYS.join(", ")),
                ));
            };
            let int = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| SslError::config(name, v, "a non-negative integer"))
            };
            let float = |v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| SslError::config(name, v, "a finite number"))
            };
            let p = &mut self.pretrain;
            match name {
                "unlabelled" => self.unlabelled = int(value)?,
                "labels" => {
                    self.labels = value
                        .split(',')
                        .map(|v| int(v.trim()))
                        .collect::<Result<_, _>>()?
                }
                "test" => self.test = int(value)?,
                "supervised_steps" => self.supervised_steps = int(value)?,
                "pretrain.steps" => p.steps = int(value)?,
                "pretrain.batch_size" => p.batch_size = int(value)?,
                "pretrain.lr" => p.lr = float(value)?,
                "pretrain.final_lr_ratio" => p.final_lr_ratio = float(value)?,
                "supervised_final_lr_ratio" => self.supervised_final_lr_ratio = float(value)?,
                "view.crop_frames" => p.view.crop_frames = int(value)?,
                "view.x_stride" => p.view.x_stride = int(value)?,
                "view.boost_max" => p.view.boost_max = float(value)?,
                "view.noise_std" => p.view.noise_std = float(value)?,
                "view.probe_crops" => p.view.probe_crops = int(value)?,
                _ => p.encoder.repr_dim = int(value)?,
            }
        }
        Ok(self)
    }

    /// Checks the experiment's own settings (the data's are checked by the generator).
    pub fn validate(&self) -> Result<(), SslError> {
        let at_least = |key: &'static str, v: usize, min: usize| {
            if v >= min {
                Ok(())
            } else {
                Err(SslError::config(key, v, format!("at least {min}")))
            }
        };
        at_least("unlabelled", self.unlabelled, 2)?;
        at_least("test", self.test, 2)?;
        at_least("pretrain.batch_size", self.pretrain.batch_size, 2)?;
        at_least("encoder.repr_dim", self.pretrain.encoder.repr_dim, 1)?;
        if self.labels.is_empty() || self.labels.iter().any(|&n| n < 4) {
            return Err(SslError::config(
                "labels",
                format!("{:?}", self.labels),
                "one or more sizes, each at least 4 (the ridge's 4-fold cross-validation)",
            ));
        }
        if !(self.pretrain.lr.is_finite() && self.pretrain.lr > 0.0) {
            return Err(SslError::config(
                "pretrain.lr",
                self.pretrain.lr,
                "a positive number",
            ));
        }
        for (key, v) in [
            ("pretrain.final_lr_ratio", self.pretrain.final_lr_ratio),
            ("supervised_final_lr_ratio", self.supervised_final_lr_ratio),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(SslError::config(key, v, "between 0 and 1"));
            }
        }
        if !(self.pretrain.view.noise_std >= 0.0 && self.pretrain.view.boost_max >= 0.0) {
            return Err(SslError::config(
                "view.noise_std / view.boost_max",
                format!(
                    "{} / {}",
                    self.pretrain.view.noise_std, self.pretrain.view.boost_max
                ),
                "non-negative numbers",
            ));
        }
        if self.timestep_histories.is_empty() {
            return Err(SslError::config(
                "timestep_histories",
                "[]",
                "at least one history",
            ));
        }
        for &history in &self.timestep_histories {
            TimestepConfig {
                history,
                ..self.timestep.clone()
            }
            .check(&self.pretrain.view, self.data.frames, self.data.grid)?;
        }
        self.pretrain
            .view
            .shape(self.data.frames, self.data.grid)
            .map(|_| ())
    }
}

/// One row of the regression table (relative MSE of `ln c` on the test set; 1 = predicting
/// the mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionRow {
    /// Labelled trajectories.
    pub labels: usize,
    /// Ridge (linear head) on the Lie-pretrained encoder.
    pub ssl_rel_mse: f64,
    /// Kernel ridge (small non-linear head) on the Lie-pretrained encoder.
    pub ssl_kernel_rel_mse: f64,
    /// Ridge on the crop+noise-pretrained encoder (ablation).
    pub crop_noise_rel_mse: f64,
    /// Ridge on the untrained encoder.
    pub untrained_rel_mse: f64,
    /// Same encoder trained supervised from scratch.
    pub supervised_rel_mse: f64,
}

/// The symmetry ablation at the smallest label budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ablation {
    /// The label budget.
    pub labels: usize,
    /// Relative MSE with the Lie-symmetry views.
    pub lie: f64,
    /// Relative MSE with crop + noise views only.
    pub crop_noise_only: f64,
}

/// One pre-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainSummary {
    /// Which views.
    pub augmentation: Augmentation,
    /// Steps.
    pub steps: usize,
    /// Mean loss over the last 10 % of the steps.
    pub final_loss: f64,
    /// The loss every `max(1, steps/100)` steps: `(step, loss)`.
    pub curve: Vec<(usize, f64)>,
    /// Wall time.
    pub seconds: f64,
}

/// Total rollout errors of the time-steppers reading `history` past frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// Past frames.
    pub history: usize,
    /// With the representation.
    pub with_repr: f64,
    /// Without.
    pub without_repr: f64,
    /// Persistence `û = u_{t₀−1}`.
    pub persistence: f64,
}

/// Where the time went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Generating the trajectories.
    pub data: f64,
    /// Both pre-training runs.
    pub pretrain: f64,
    /// The supervised baselines.
    pub supervised: f64,
    /// Features and ridge probes.
    pub probes: f64,
    /// Training and rolling out the time-steppers.
    pub time_stepping: f64,
    /// The solver accuracy check.
    pub solver: f64,
    /// Everything.
    pub total: f64,
}

/// Everything the experiment measured (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `burgers`, `kdv` or `ks`.
    pub equation: String,
    /// The regressed coefficient (`nu` or `delta`), regressed in log.
    pub coefficient: String,
    /// The `--quick` setting.
    pub quick: bool,
    /// Seed.
    pub seed: u64,
    /// Unlabelled / labelled pool / test trajectories.
    pub trajectories: [usize; 3],
    /// One row per label budget.
    pub regression: Vec<RegressionRow>,
    /// Lie views vs crop + noise views at the smallest budget.
    pub augmentation_ablation: Ablation,
    /// The two pre-training runs (Lie, crop + noise).
    pub pretraining: Vec<PretrainSummary>,
    /// The time-stepper with and without the frozen Lie-SSL representation, for the first of
    /// `timestep_histories` past frames.
    pub time_stepping: TimeSteppingResult,
    /// Past frames of `time_stepping`.
    pub time_stepping_history: usize,
    /// Every history compared (total rollout errors).
    pub time_stepping_by_history: Vec<HistoryRow>,
    /// The Burgers solver against the exact Cole–Hopf solution.
    pub solver_accuracy: BurgersAccuracy,
    /// Seconds per part.
    pub seconds: Timings,
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
    Ok(probe_both(encoder, s, n, cfg, device, false)?.0)
}

/// Relative MSEs on the test set for `n` labels of the linear head and (when `kernel`) of
/// the kernel head (NaN when not asked) on `encoder`'s features.
pub fn probe_both(
    encoder: &PdeEncoder,
    s: &Splits,
    n: usize,
    cfg: &PretrainConfig,
    device: &Device,
    kernel: bool,
) -> Result<(f64, f64), SslError> {
    let xl = features(encoder, &s.labelled[..n], &cfg.view, device)?;
    let xt = features(encoder, &s.test, &cfg.view, device)?;
    let (yl, yt) = (log_coef(&s.labelled[..n]), log_coef(&s.test));
    let ridge = Ridge::fit_cv(&xl, &yl);
    let pred: Vec<f64> = xt.iter().map(|x| ridge.predict(x)).collect();
    let linear = relative_mse(&pred, &yt);
    if !kernel {
        return Ok((linear, f64::NAN));
    }
    let head = KernelRidge::fit_cv(&xl, &yl);
    let pred: Vec<f64> = xt.iter().map(|x| head.predict(x)).collect();
    Ok((linear, relative_mse(&pred, &yt)))
}

/// Runs the whole experiment; `log` receives progress lines.
pub fn run(
    cfg: &ExperimentConfig,
    quick: bool,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<Report, SslError> {
    cfg.validate()?;
    let t_all = Instant::now();
    let mut seconds = Timings::default();
    let t0 = Instant::now();
    let s = splits(cfg)?;
    seconds.data = t0.elapsed().as_secs_f64();
    let (sum2, count) = s.unlabelled.iter().fold((0.0, 0usize), |(a, c), t| {
        (a + t.u.iter().map(|v| v * v).sum::<f64>(), c + t.u.len())
    });
    let rms = (sum2 / count.max(1) as f64).sqrt();
    let mut cfg = cfg.clone();
    cfg.pretrain.view.scale = 1.0 / rms.max(1e-12);
    let cfg = &cfg;
    log(&format!(
        "data: {} unlabelled, {} labelled, {} test {} trajectories in {:.1} s; rms u = {rms:.3}",
        s.unlabelled.len(),
        s.labelled.len(),
        s.test.len(),
        cfg.data.equation.name(),
        seconds.data
    ));
    let objective = Vicreg(VicregConfig::default());
    let mut encoders = vec![];
    let mut pretraining = vec![];
    for aug in [Augmentation::Lie, Augmentation::CropNoise] {
        let pc = PretrainConfig {
            augmentation: aug,
            ..cfg.pretrain.clone()
        };
        let t0 = Instant::now();
        let every = (pc.steps / 100).max(1);
        let mut losses = vec![];
        let enc = pretrain(&s.unlabelled, &pc, &objective, device, &mut |step, loss| {
            losses.push(loss);
            if step % (pc.steps / 10).max(1) == 0 {
                log(&format!(
                    "  {aug:?} pre-training step {step}/{}: VICReg {loss:.3}",
                    pc.steps
                ));
            }
        })?;
        let tail = &losses[losses.len() - (losses.len() / 10).max(1)..];
        let summary = PretrainSummary {
            augmentation: aug,
            steps: pc.steps,
            final_loss: tail.iter().sum::<f64>() / tail.len() as f64,
            curve: losses
                .iter()
                .enumerate()
                .step_by(every)
                .map(|(i, &l)| (i, l))
                .collect(),
            seconds: t0.elapsed().as_secs_f64(),
        };
        log(&format!(
            "pre-trained ({aug:?}) in {:.1} s, final VICReg loss {:.3}",
            summary.seconds, summary.final_loss
        ));
        seconds.pretrain += summary.seconds;
        pretraining.push(summary);
        encoders.push(enc);
    }
    let shape = cfg.pretrain.view.shape(cfg.data.frames, cfg.data.grid)?;
    let untrained = seeded(device, cfg.pretrain.seed, |d| {
        PdeEncoder::new(&cfg.pretrain.encoder, shape, d)
    });
    let mut rows = vec![];
    for &n in &cfg.labels {
        let sup_cfg = SupervisedConfig {
            steps: cfg.supervised_steps,
            batch_size: cfg.pretrain.batch_size,
            lr: cfg.pretrain.lr,
            final_lr_ratio: cfg.supervised_final_lr_ratio,
            seed: cfg.pretrain.seed,
            encoder: cfg.pretrain.encoder.clone(),
            view: cfg.pretrain.view.clone(),
        };
        let t0 = Instant::now();
        let pred = supervised(
            &s.labelled[..n],
            &log_coef(&s.labelled[..n]),
            &s.test,
            &sup_cfg,
            device,
        )?;
        seconds.supervised += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (ssl_rel_mse, ssl_kernel_rel_mse) =
            probe_both(&encoders[0], &s, n, &cfg.pretrain, device, true)?;
        let row = RegressionRow {
            labels: n,
            ssl_rel_mse,
            ssl_kernel_rel_mse,
            crop_noise_rel_mse: probe(&encoders[1], &s, n, &cfg.pretrain, device)?,
            untrained_rel_mse: probe(&untrained, &s, n, &cfg.pretrain, device)?,
            supervised_rel_mse: relative_mse(&pred, &log_coef(&s.test)),
        };
        seconds.probes += t0.elapsed().as_secs_f64();
        log(&format!(
            "{n} labels: ssl {:.4} (kernel head {:.4}), crop+noise {:.4}, untrained {:.4}, supervised {:.4}",
            row.ssl_rel_mse, row.ssl_kernel_rel_mse, row.crop_noise_rel_mse, row.untrained_rel_mse, row.supervised_rel_mse
        ));
        rows.push(row);
    }
    let mut stepping = vec![];
    for &history in &cfg.timestep_histories {
        let tc = TimestepConfig {
            history,
            seed: cfg.pretrain.seed,
            ..cfg.timestep.clone()
        };
        log(&format!("time-stepping, {history} past frame(s):"));
        let r = compare(
            &s.unlabelled,
            &s.test,
            &tc,
            &cfg.pretrain.view,
            &encoders[0],
            device,
            &mut |line| {
                if !line.contains(" step ") {
                    log(line)
                }
            },
        )?;
        seconds.time_stepping += r.seconds;
        stepping.push((history, r));
    }
    let by_history = stepping
        .iter()
        .map(|(history, r)| HistoryRow {
            history: *history,
            with_repr: r.with_repr.total,
            without_repr: r.without_repr.total,
            persistence: r.persistence.total,
        })
        .collect();
    let (time_stepping_history, time_stepping) = stepping
        .into_iter()
        .next()
        .ok_or_else(|| SslError::config("timestep_histories", "[]", "at least one history"))?;
    let t0 = Instant::now();
    let solver_accuracy = burgers_accuracy()?;
    seconds.solver = t0.elapsed().as_secs_f64();
    seconds.total = t_all.elapsed().as_secs_f64();
    let smallest = rows
        .iter()
        .min_by_key(|r| r.labels)
        .ok_or_else(|| SslError::config("labels", "[]", "at least one size"))?;
    Ok(Report {
        equation: cfg.data.equation.name().into(),
        coefficient: cfg.data.equation.coefficient_name().into(),
        quick,
        seed: cfg.seed,
        trajectories: [s.unlabelled.len(), s.labelled.len(), s.test.len()],
        augmentation_ablation: Ablation {
            labels: smallest.labels,
            lie: smallest.ssl_rel_mse,
            crop_noise_only: smallest.crop_noise_rel_mse,
        },
        regression: rows,
        pretraining,
        time_stepping,
        time_stepping_history,
        time_stepping_by_history: by_history,
        solver_accuracy,
        seconds,
    })
}

/// The regression table as Markdown.
pub fn table(r: &Report) -> String {
    let mut out = format!(
        "relative MSE of ln {} on {} test trajectories ({})\n\n\
         | labels | SSL (Lie views), linear head | SSL (Lie views), kernel head | SSL (crop+noise), linear | untrained, linear | supervised |\n\
         |---|---|---|---|---|---|\n",
        r.coefficient, r.trajectories[2], r.equation
    );
    for row in &r.regression {
        out.push_str(&format!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
            row.labels,
            row.ssl_rel_mse,
            row.ssl_kernel_rel_mse,
            row.crop_noise_rel_mse,
            row.untrained_rel_mse,
            row.supervised_rel_mse
        ));
    }
    out.push_str(&format!(
        "\nsymmetry ablation at {} labels: Lie views {:.4}, crop+noise only {:.4}\n\n\
         time-stepping, rollout relative error over frames {}.. of the test trajectories\n\n\
         | past frames | with SSL representation | without | persistence |\n|---|---|---|---|\n",
        r.augmentation_ablation.labels,
        r.augmentation_ablation.lie,
        r.augmentation_ablation.crop_noise_only,
        r.time_stepping.start
    ));
    for h in &r.time_stepping_by_history {
        out.push_str(&format!(
            "| {} | {:.3e} | {:.3e} | {:.3e} |\n",
            h.history, h.with_repr, h.without_repr, h.persistence
        ));
    }
    out
}

/// Writes `report.json`, `table.md` and `regression.svg` (relative MSE against label budget,
/// log scales; pre-training loss curves; time-stepping error per rollout step) into `dir`, each atomically.
pub fn write(dir: &Path, r: &Report) -> Result<(), SslError> {
    let io = |path: &Path, e: String| SslError::Write {
        path: path.display().to_string(),
        msg: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e.to_string()))?;
    let json = serde_json::to_string_pretty(r).map_err(|e| io(dir, e.to_string()))?;
    let save = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        write_atomic(&path, bytes).map_err(|e| io(&path, e.to_string()))
    };
    save("report.json", json.as_bytes())?;
    save("table.md", table(r).as_bytes())?;
    let line = |name: &str, f: &dyn Fn(&RegressionRow) -> f64| Series {
        name: name.into(),
        points: r
            .regression
            .iter()
            .map(|row| ((row.labels as f64).log2(), f(row)))
            .collect(),
    };
    let panels = [
        Panel {
            title: format!(
                "{}: relative MSE of ln {} (x: log2 labels)",
                r.equation, r.coefficient
            ),
            series: vec![
                line("SSL, Lie views", &|row| row.ssl_rel_mse),
                line("SSL, Lie, kernel head", &|row| row.ssl_kernel_rel_mse),
                line("SSL, crop+noise", &|row| row.crop_noise_rel_mse),
                line("untrained", &|row| row.untrained_rel_mse),
                line("supervised", &|row| row.supervised_rel_mse),
            ],
            log_y: true,
        },
        Panel {
            title: "VICReg loss during pre-training (x: step)".into(),
            series: r
                .pretraining
                .iter()
                .map(|p| Series {
                    name: format!("{:?}", p.augmentation),
                    points: p.curve.iter().map(|&(i, l)| (i as f64, l)).collect(),
                })
                .collect(),
            log_y: false,
        },
        Panel {
            title: format!(
                "time-stepping ({} past frame(s)): relative error per rollout step",
                r.time_stepping_history
            ),
            series: [
                ("with SSL representation", &r.time_stepping.with_repr),
                ("without", &r.time_stepping.without_repr),
                ("persistence", &r.time_stepping.persistence),
            ]
            .into_iter()
            .map(|(name, e)| Series {
                name: name.into(),
                points: e
                    .per_step
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| ((k + 1) as f64, v))
                    .collect(),
            })
            .collect(),
            log_y: true,
        },
    ];
    save("regression.svg", render(&panels, 3, "").as_bytes())
}
