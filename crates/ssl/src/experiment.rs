//! `ami ssl train`: pre-train an encoder with one objective on an image set, then read the
//! labels out of the frozen representation with a linear probe at several label budgets,
//! against (a) the same architecture randomly initialised and frozen with the same probe and
//! (b) the same architecture trained supervised from scratch on the same labelled images.
//!
//! Protocol ([`run`]): one seeded permutation splits the images into a held-out **test**
//! split (`test_fraction`) and a **training** pool. Pre-training sees every training image
//! without its label; the collapse diagnostics use the first test images. For each label
//! fraction `f` the labelled set is the first `max(⌈f·n_train⌉, classes)` images of the pool
//! (nested budgets). Probes are fitted on the labelled set's frozen features and scored on the
//! whole test split: accuracy of the logistic probe for `labels`, and R² of a ridge probe for
//! each continuous factor (fitted on all training rows).

use std::path::Path;
use std::time::Instant;

use ami_io::svg::{render, Panel, Series};
use ami_io::write_atomic;
use ami_jepa::ssl::masking::MultiBlockConfig;
use ami_jepa::ssl::IjepaConfig;
use ami_jepa::vit::VitConfig;
use ami_jepa::{objective_by_name, Ijepa, SslObjective};
use ami_sampling::SplitMix64;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::augment::AugmentConfig;
use crate::dataset::ImageSet;
use crate::encoder::{Arch, Backbone, ChannelNorm, EncoderConfig};
use crate::error::SslError;
use crate::masked::{default_masking, pretrain_masked};
use crate::overrides::apply_sets;
use crate::probe::{accuracy, r2, Logistic, LogisticConfig, Ridge, Standardiser};
use crate::supervised::{supervised_accuracy, SupervisedConfig};
use crate::train::{pretrain, represent, Diagnostic, StepLog, TrainConfig, Trained};

/// Mixed into `train.seed` for the random-init reference encoder, so that it differs from the
/// pre-trained one's initialisation.
pub const RANDOM_INIT_SALT: u64 = 0x7261_6e64;

/// Mixed into `train.seed` for the supervised baseline's weights and batches.
pub const SUPERVISED_SALT: u64 = 0x0053_5550;

/// Settings of the probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Weight decay `λ` of the logistic probe (default 1e-4).
    pub weight_decay: f64,
    /// Gradient iterations of the logistic probe (default 500).
    pub iterations: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            weight_decay: 1e-4,
            iterations: 500,
        }
    }
}

/// Everything `ami ssl train` runs with; every leaf is a `--set` key (`train.steps`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Pre-training.
    pub train: TrainConfig,
    /// Encoder, projector, predictor sizes (two-view objectives).
    pub encoder: EncoderConfig,
    /// The ViT and its predictor (masked objectives: I-JEPA); `vit.image` is replaced by the
    /// data's shape.
    pub vit: VitConfig,
    /// The multi-block masks (masked objectives; [`default_masking`]).
    pub masking: MultiBlockConfig,
    /// I-JEPA's EMA momentum schedule (`--objective ijepa`; official 0.996 → 1).
    pub ijepa: IjepaConfig,
    /// Views.
    pub augment: AugmentConfig,
    /// The supervised baseline.
    pub supervised: SupervisedConfig,
    /// The linear probe.
    pub probe: ProbeConfig,
    /// Fraction of the images held out for testing (default 0.2).
    pub test_fraction: f64,
    /// Fractions of the training labels given to the probes and the baseline
    /// (default 0.01, 0.1, 1).
    pub label_fractions: Vec<f64>,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            train: TrainConfig::default(),
            encoder: EncoderConfig::default(),
            vit: VitConfig::default(),
            masking: default_masking(),
            ijepa: IjepaConfig::default(),
            augment: AugmentConfig::default(),
            supervised: SupervisedConfig::default(),
            probe: ProbeConfig::default(),
            test_fraction: 0.2,
            label_fractions: vec![0.01, 0.1, 1.0],
        }
    }
}

impl ExperimentConfig {
    /// A seconds-long setting for tests and `--quick`: a small encoder, 40 pre-training and
    /// 40 supervised steps of 32, 200 probe iterations.
    pub fn quick() -> Self {
        let d = ExperimentConfig::default();
        ExperimentConfig {
            train: TrainConfig {
                steps: 40,
                batch_size: 32,
                diag_every: 10,
                diag_batch: 128,
                lr: 2e-3,
                ..d.train
            },
            encoder: EncoderConfig {
                channels: vec![8, 16, 16],
                hidden: 64,
                repr_dim: 32,
                projector: vec![64, 64],
                predictor_hidden: 64,
            },
            vit: VitConfig {
                dim: 32,
                depth: 2,
                heads: 2,
                predictor_dim: 16,
                predictor_depth: 1,
                ..d.vit
            },
            supervised: SupervisedConfig {
                steps: 40,
                batch_size: 32,
                lr: 2e-3,
                ..d.supervised
            },
            probe: ProbeConfig {
                iterations: 200,
                ..d.probe
            },
            ..d
        }
    }

    /// Applies `KEY=VALUE` overrides (dotted paths of the settings, e.g. `train.steps=300`,
    /// `encoder.channels=16,32`, `label_fractions=0.05,1`), then validates. Unknown keys and
    /// bad values are errors naming the key.
    pub fn with_overrides(self, sets: &[String]) -> Result<Self, SslError> {
        let cfg = apply_sets(self, sets)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every range; the error names the key.
    pub fn validate(&self) -> Result<(), SslError> {
        self.train.validate()?;
        self.encoder.validate()?;
        self.vit.validate()?;
        self.ijepa.validate()?;
        self.augment.validate()?;
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(SslError::config(
                "test_fraction",
                self.test_fraction,
                "in (0, 1)",
            ));
        }
        if self.label_fractions.is_empty()
            || self
                .label_fractions
                .iter()
                .any(|f| !(*f > 0.0 && *f <= 1.0))
        {
            return Err(SslError::config(
                "label_fractions",
                format!("{:?}", self.label_fractions),
                "a non-empty list of fractions in (0, 1]",
            ));
        }
        let s = &self.supervised;
        if s.steps == 0 || s.batch_size == 0 || !(s.lr > 0.0 && s.lr <= 1.0) {
            return Err(SslError::config(
                "supervised",
                format!("steps {} batch_size {} lr {}", s.steps, s.batch_size, s.lr),
                "steps ≥ 1, batch_size ≥ 1, lr in (0, 1]",
            ));
        }
        if self.probe.iterations == 0
            || self.probe.weight_decay.is_nan()
            || self.probe.weight_decay < 0.0
        {
            return Err(SslError::config(
                "probe",
                format!(
                    "iterations {} weight_decay {}",
                    self.probe.iterations, self.probe.weight_decay
                ),
                "iterations ≥ 1 and weight_decay ≥ 0",
            ));
        }
        Ok(())
    }

    /// The objective registered as `name` ([`objective_by_name`]), with this config's
    /// settings where it has some (`ijepa.…`).
    pub fn objective(&self, name: &str) -> Result<Box<dyn SslObjective>, SslError> {
        Ok(match name {
            "ijepa" => Box::new(Ijepa(self.ijepa.clone())),
            other => objective_by_name(other)?,
        })
    }

    /// The labelled images per fraction of a training pool of `n_train`:
    /// `min(max(⌈f·n_train⌉, classes), n_train)` (nested: each budget is a prefix of the pool).
    pub fn budgets(&self, classes: usize, n_train: usize) -> Vec<usize> {
        self.label_fractions
            .iter()
            .map(|f| {
                ((f * n_train as f64).ceil() as usize)
                    .max(classes)
                    .min(n_train)
            })
            .collect()
    }

    /// The backbone `objective` trains: the ViT (with the data's image shape, pixels
    /// standardised with the statistics of the images `train`) when it asks for block
    /// masking, the conv encoder otherwise.
    pub fn arch(&self, objective: &dyn SslObjective, data: &ImageSet, train: &[usize]) -> Arch {
        if objective.needs().masking {
            let vit = VitConfig {
                image: data.shape,
                ..self.vit.clone()
            };
            Arch::Vit(vit, ChannelNorm::fit(data, train))
        } else {
            Arch::Conv {
                cfg: self.encoder.clone(),
                shape: data.shape,
            }
        }
    }

    /// Pre-trains `objective` on the images `train` with the loop its backbone `arch`
    /// ([`ExperimentConfig::arch`] of the same objective and images) calls for: the token
    /// loop ([`pretrain_masked`]) on the ViT, the two-view loop ([`pretrain`]) on the conv
    /// encoder.
    #[allow(clippy::too_many_arguments)]
    pub fn pretrain(
        &self,
        arch: &Arch,
        data: &ImageSet,
        train: &[usize],
        held_out: &[usize],
        objective: &dyn SslObjective,
        device: &Device,
        log: &mut dyn FnMut(&StepLog),
    ) -> Result<Trained, SslError> {
        match arch {
            Arch::Vit(vit, norm) => pretrain_masked(
                data,
                train,
                held_out,
                &self.train,
                vit,
                &self.masking,
                norm,
                objective,
                device,
                log,
            ),
            Arch::Conv { .. } => pretrain(
                data,
                train,
                held_out,
                &self.train,
                &self.encoder,
                &self.augment,
                objective,
                device,
                log,
            ),
        }
    }
}

/// Accuracies at one label budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    /// Fraction of the training labels.
    pub fraction: f64,
    /// Number of labelled images.
    pub labels: usize,
    /// Linear probe on the pre-trained encoder.
    pub ssl: f64,
    /// Linear probe on the random-init encoder.
    pub random_init: f64,
    /// Encoder + linear head trained supervised from scratch.
    pub supervised: f64,
}

/// R² of one continuous factor (ridge probe, all training rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorRow {
    /// Factor name.
    pub name: String,
    /// On the pre-trained encoder.
    pub ssl_r2: f64,
    /// On the random-init encoder.
    pub random_init_r2: f64,
}

/// Wall-clock seconds per phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seconds {
    /// Pre-training.
    pub pretrain: f64,
    /// Feature extraction and probes.
    pub probe: f64,
    /// Supervised baselines.
    pub supervised: f64,
    /// Everything.
    pub total: f64,
}

/// What the data was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// Factor names.
    pub factors: Vec<String>,
    /// Training images.
    pub train: usize,
    /// Test images.
    pub test: usize,
}

/// The whole result of `ami ssl train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The objective's name.
    pub objective: String,
    /// The data.
    pub data: DataSummary,
    /// The settings.
    pub config: ExperimentConfig,
    /// Loss and terms at every step.
    pub loss: Vec<StepLog>,
    /// Effective rank and per-dimension std of the held-out representation over training.
    pub diagnostics: Vec<Diagnostic>,
    /// Label probes.
    pub probes: Vec<ProbeRow>,
    /// Factor probes.
    pub factors: Vec<FactorRow>,
    /// Timings.
    pub seconds: Seconds,
}

/// What [`run`] tells its caller as it goes.
pub trait Observer {
    /// A phase begins (`total` units of work).
    fn phase(&mut self, name: &str, total: usize);
    /// One pre-training step finished.
    fn step(&mut self, log: &StepLog);
    /// One unit of the current phase finished.
    fn advance(&mut self);
}

/// The test split and the training pool (see module docs).
pub fn split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed ^ 0x7370_6c69_7400);
    for i in (1..n).rev() {
        perm.swap(i, rng.below(i + 1));
    }
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let train = perm.split_off(n_test);
    (perm, train)
}

/// Runs the experiment; returns the report and the pre-trained encoder.
pub fn run(
    data: &ImageSet,
    cfg: &ExperimentConfig,
    objective: &dyn SslObjective,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<(Report, Backbone), SslError> {
    cfg.validate()?;
    if data.len() < 4 {
        return Err(SslError::config("images", data.len(), "at least 4"));
    }
    let start = Instant::now();
    let seed = cfg.train.seed;
    let (test, train) = split(data.len(), cfg.test_fraction, seed);
    obs.phase("pretrain", cfg.train.steps);
    let arch = cfg.arch(objective, data, &train);
    let trained = cfg.pretrain(&arch, data, &train, &test, objective, device, &mut |s| {
        obs.step(s)
    })?;
    let mut seconds = Seconds {
        pretrain: trained.seconds,
        ..Seconds::default()
    };
    let random = arch.seeded(device, seed ^ RANDOM_INIT_SALT)?;
    let budgets = cfg.budgets(data.classes, train.len());
    let t = Instant::now();
    obs.phase("probe", 2 * (budgets.len() + 1));
    let mut probe_acc = vec![];
    let mut factors_r2 = vec![];
    for enc in [&trained.encoder, &random] {
        let p = probe(
            enc,
            data,
            &train,
            &test,
            &budgets,
            &cfg.probe,
            device,
            &mut || obs.advance(),
        );
        probe_acc.push(p.accuracy);
        factors_r2.push(p.factor_r2);
    }
    seconds.probe = t.elapsed().as_secs_f64();
    let t = Instant::now();
    obs.phase("supervised", budgets.len());
    let mut sup = vec![];
    for &m in &budgets {
        sup.push(supervised_accuracy(
            data,
            &train[..m],
            &test,
            &cfg.supervised,
            &arch,
            &cfg.augment,
            seed ^ SUPERVISED_SALT,
            device,
        )?);
        obs.advance();
    }
    seconds.supervised = t.elapsed().as_secs_f64();
    seconds.total = start.elapsed().as_secs_f64();
    let probes = cfg
        .label_fractions
        .iter()
        .enumerate()
        .map(|(k, &fraction)| ProbeRow {
            fraction,
            labels: budgets[k],
            ssl: probe_acc[0][k],
            random_init: probe_acc[1][k],
            supervised: sup[k],
        })
        .collect();
    let factors = data
        .factor_names
        .iter()
        .enumerate()
        .map(|(j, name)| FactorRow {
            name: name.clone(),
            ssl_r2: factors_r2[0][j],
            random_init_r2: factors_r2[1][j],
        })
        .collect();
    let report = Report {
        objective: objective.name().to_string(),
        data: DataSummary {
            shape: data.shape,
            classes: data.classes,
            factors: data.factor_names.clone(),
            train: train.len(),
            test: test.len(),
        },
        config: cfg.clone(),
        loss: trained.log,
        diagnostics: trained.diagnostics,
        probes,
        factors,
        seconds,
    };
    Ok((report, trained.encoder))
}

/// What the linear probes read from one frozen encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// Test accuracy of the logistic probe per label budget.
    pub accuracy: Vec<f64>,
    /// Test R² of the ridge probe per factor (fitted on every training row).
    pub factor_r2: Vec<f64>,
}

/// Probes `encoder`'s representation: for each budget `m`, a logistic probe on the first `m`
/// images of `train` (features standardised on those rows) scored on `test`; then the factor
/// R². `advance` after each budget and after the factors.
#[allow(clippy::too_many_arguments)]
pub fn probe(
    encoder: &Backbone,
    data: &ImageSet,
    train: &[usize],
    test: &[usize],
    budgets: &[usize],
    cfg: &ProbeConfig,
    device: &Device,
    advance: &mut dyn FnMut(),
) -> Probed {
    let lcfg = LogisticConfig {
        weight_decay: cfg.weight_decay,
        iterations: cfg.iterations,
    };
    let (htr, d) = represent(encoder, data, train, device);
    let (hte, _) = represent(encoder, data, test, device);
    let ytest: Vec<usize> = test.iter().map(|&i| data.labels[i]).collect();
    let mut accuracy_per_budget = vec![];
    for &m in budgets {
        let s = Standardiser::fit(&htr[..m * d], d);
        let ys: Vec<usize> = train[..m].iter().map(|&i| data.labels[i]).collect();
        let model = Logistic::fit(&s.apply(&htr[..m * d]), &ys, data.classes, lcfg);
        accuracy_per_budget.push(accuracy(&model, &s.apply(&hte), &ytest));
        advance();
    }
    let factor_r2 = factor_r2(data, train, test, &htr, &hte, d);
    advance();
    Probed {
        accuracy: accuracy_per_budget,
        factor_r2,
    }
}

/// Test R² of a ridge probe per factor, fitted on all training rows.
fn factor_r2(
    data: &ImageSet,
    train: &[usize],
    test: &[usize],
    htr: &[f32],
    hte: &[f32],
    d: usize,
) -> Vec<f64> {
    let f = data.factor_names.len();
    if f == 0 {
        return vec![];
    }
    let s = Standardiser::fit(htr, d);
    let (xtr, xte) = (s.apply(htr), s.apply(hte));
    let ys: Vec<Vec<f64>> = (0..f)
        .map(|j| {
            train
                .iter()
                .map(|&i| f64::from(data.factor_row(i)[j]))
                .collect()
        })
        .collect();
    Ridge::fit_cv(&xtr, &ys)
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let pred: Vec<f64> = xte.iter().map(|r| m.predict(r)).collect();
            let y: Vec<f64> = test
                .iter()
                .map(|&i| f64::from(data.factor_row(i)[j]))
                .collect();
            r2(&pred, &y)
        })
        .collect()
}

/// The Markdown table of the report.
pub fn table(r: &Report) -> String {
    let mut out = format!(
        "linear-probe accuracy on {} test images ({} train, {} classes), objective {}\n\n\
         | labels | fraction | SSL + linear probe | random init + linear probe | supervised from scratch |\n\
         |---|---|---|---|---|\n",
        r.data.test, r.data.train, r.data.classes, r.objective
    );
    for p in &r.probes {
        out.push_str(&format!(
            "| {} | {} % | {:.3} | {:.3} | {:.3} |\n",
            p.labels,
            p.fraction * 100.0,
            p.ssl,
            p.random_init,
            p.supervised
        ));
    }
    if !r.factors.is_empty() {
        out.push_str("\n| factor | R² SSL | R² random init |\n|---|---|---|\n");
        for f in &r.factors {
            out.push_str(&format!(
                "| {} | {:.3} | {:.3} |\n",
                f.name, f.ssl_r2, f.random_init_r2
            ));
        }
    }
    if let (Some(first), Some(last)) = (r.diagnostics.first(), r.diagnostics.last()) {
        out.push_str(&format!(
            "\neffective rank of the held-out representation: {:.1} at init → {:.1} after {} steps \
             (mean per-dim std {:.3} → {:.3})\n",
            first.effective_rank, last.effective_rank, last.step, first.mean_std, last.mean_std
        ));
    }
    out.push_str(&format!(
        "\nseconds: pretrain {:.1}, probes {:.1}, supervised {:.1}, total {:.1}\n",
        r.seconds.pretrain, r.seconds.probe, r.seconds.supervised, r.seconds.total
    ));
    out
}

/// The training chart: loss, terms, effective rank and mean std against the step.
pub fn chart(r: &Report) -> String {
    let mut term_names: Vec<&str> = vec![];
    if let Some(first) = r.loss.first() {
        term_names = first.terms.iter().map(|(k, _)| k.as_str()).collect();
    }
    let terms = term_names
        .iter()
        .enumerate()
        .map(|(j, name)| Series {
            name: name.to_string(),
            points: r
                .loss
                .iter()
                .map(|s| (s.step as f64, s.terms[j].1))
                .collect(),
        })
        .collect();
    let diag = |name: &str, f: &dyn Fn(&Diagnostic) -> f64| Series {
        name: name.into(),
        points: r
            .diagnostics
            .iter()
            .map(|d| (d.step as f64, f(d)))
            .collect(),
    };
    let panels = [
        Panel {
            title: format!("{} loss (x: step)", r.objective),
            series: vec![Series {
                name: "total".into(),
                points: r.loss.iter().map(|s| (s.step as f64, s.loss)).collect(),
            }],
            log_y: false,
        },
        Panel {
            title: "loss terms, unweighted".into(),
            series: terms,
            log_y: true,
        },
        Panel {
            title: "effective rank of held-out representation".into(),
            series: vec![diag("effective rank", &|d| d.effective_rank)],
            log_y: false,
        },
        Panel {
            title: "mean per-dimension std".into(),
            series: vec![diag("mean std", &|d| d.mean_std)],
            log_y: false,
        },
    ];
    render(&panels, 2, "step")
}

/// Writes `report.json`, `table.md`, `training.svg` and `encoder.safetensors` into `dir`
/// (created), each atomically.
pub fn write(dir: &Path, r: &Report, encoder: &Backbone) -> Result<(), SslError> {
    std::fs::create_dir_all(dir).map_err(ami_io::IoError::io(dir))?;
    let json = serde_json::to_vec_pretty(r)
        .map_err(|e| SslError::bad(dir, "report.json", e.to_string()))?;
    write_atomic(&dir.join("report.json"), &json)?;
    write_atomic(&dir.join("table.md"), table(r).as_bytes())?;
    write_atomic(&dir.join("training.svg"), chart(r).as_bytes())?;
    let weights = ami_jepa::checkpoint::safetensors_bytes(&encoder.tensors());
    write_atomic(&dir.join("encoder.safetensors"), &weights)?;
    Ok(())
}
