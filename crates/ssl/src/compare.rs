//! `ami experiment ssl-compare`: every joint-embedding objective on the same images, the same
//! split, the same seed and the same budget of pre-training steps × batch, read out by the same
//! linear probes.
//!
//! Per objective (in [`OBJECTIVES`] order, or the ones asked for): pre-train with the loop its
//! `needs()` call for ([`ExperimentConfig::pretrain`]: the two-view loop on the conv encoder,
//! the token loop on the ViT for I-JEPA), then
//!
//! * **linear-probe accuracy** at each label budget and the mean R² of the factor probes
//!   ([`crate::experiment::probe`], frozen features, the same budgets and test split for all);
//! * **seconds per step** of pre-training (wall clock of the loop over its steps, diagnostics
//!   included);
//! * **effective rank** `exp(H(σ/‖σ‖₁))` of the held-out representation at initialisation and
//!   after training, and its curve over training.
//!
//! References in the same report: each backbone at random initialisation with the same probes,
//! and the supervised baseline (the conv encoder trained from scratch on each budget's labels,
//! [`crate::supervised`]). The backbones differ (conv for the two-view objectives, ViT for
//! I-JEPA), and the table says which each row used.

use std::path::Path;
use std::time::Instant;

use ami_io::svg::{render, Panel, Series};
use ami_io::write_atomic;
use ami_jepa::burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::dataset::ImageSet;
use crate::encoder::Arch;
use crate::error::SslError;
use crate::experiment::{probe, split, ExperimentConfig, RANDOM_INIT_SALT, SUPERVISED_SALT};
use crate::supervised::supervised_accuracy;
use crate::train::{Diagnostic, StepLog};

/// Every objective, in report order (the names of `ami ssl train --objective`).
pub const OBJECTIVES: &[&str] = ami_jepa::OBJECTIVE_NAMES;

/// One objective's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveResult {
    /// The objective.
    pub objective: String,
    /// `"conv"` or `"vit"`.
    pub backbone: String,
    /// Linear-probe test accuracy per label budget (the report's `labels` order).
    pub accuracy: Vec<f64>,
    /// Mean test R² of the factor probes (NaN, `null` in JSON, without factors).
    pub factor_r2: f64,
    /// Seconds per pre-training step.
    pub seconds_per_step: f64,
    /// Effective rank at initialisation.
    pub initial_rank: f64,
    /// Effective rank after training.
    pub final_rank: f64,
    /// Loss of the last step.
    pub final_loss: f64,
    /// Diagnostics over training.
    pub diagnostics: Vec<Diagnostic>,
}

/// A backbone at random initialisation, probed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomInit {
    /// `"conv"` or `"vit"`.
    pub backbone: String,
    /// Linear-probe test accuracy per label budget.
    pub accuracy: Vec<f64>,
    /// Mean test R² of the factor probes.
    pub factor_r2: f64,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// The settings (shared by every objective).
    pub config: ExperimentConfig,
    /// Training images (unlabelled for pre-training).
    pub train_images: usize,
    /// Test images of every probe.
    pub test_images: usize,
    /// Labelled images per budget.
    pub labels: Vec<usize>,
    /// The objectives.
    pub objectives: Vec<ObjectiveResult>,
    /// The backbones used, at random initialisation.
    pub random_init: Vec<RandomInit>,
    /// The conv encoder trained supervised from scratch, accuracy per budget.
    pub supervised: Vec<f64>,
    /// Wall-clock seconds of the whole experiment.
    pub seconds: f64,
}

/// The settings used by default: `ami ssl train`'s with 300 steps of 128 per objective and a
/// 300-step supervised baseline (eight objectives and the references in about 15 minutes on
/// 2 cores, 10 000 images).
pub fn standard() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::default();
    cfg.train.steps = 300;
    cfg.supervised.steps = 300;
    cfg
}

/// A seconds-long smoke test.
pub fn quick() -> ExperimentConfig {
    ExperimentConfig::quick()
}

/// Fails unless every name is one of [`OBJECTIVES`].
pub fn check_names(names: &[&str]) -> Result<(), SslError> {
    match names.iter().find(|n| !OBJECTIVES.contains(n)) {
        None if !names.is_empty() => Ok(()),
        None => Err(SslError::config(
            "objectives",
            "[]",
            "at least one objective",
        )),
        Some(bad) => Err(SslError::config(
            "objectives",
            bad,
            format!("one of {}", OBJECTIVES.join(", ")),
        )),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Runs the comparison of `names` on `data` with `cfg` (module docs); `log` gets a line per
/// milestone and `step` every pre-training step (`(objective, log)`).
pub fn run(
    data: &ImageSet,
    cfg: &ExperimentConfig,
    names: &[&str],
    device: &Device,
    log: &mut dyn FnMut(&str),
    step: &mut dyn FnMut(&str, &StepLog),
) -> Result<CompareReport, SslError> {
    cfg.validate()?;
    check_names(names)?;
    if data.len() < 4 {
        return Err(SslError::config("images", data.len(), "at least 4"));
    }
    let start = Instant::now();
    let objectives = names
        .iter()
        .map(|n| cfg.objective(n))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = cfg.train.seed;
    let (test, train) = split(data.len(), cfg.test_fraction, seed);
    let budgets = cfg.budgets(data.classes, train.len());
    let mut rows = vec![];
    let mut archs: Vec<Arch> = vec![];
    for (name, objective) in names.iter().zip(&objectives) {
        let arch = cfg.arch(objective.as_ref(), data, &train);
        let trained = cfg.pretrain(
            &arch,
            data,
            &train,
            &test,
            objective.as_ref(),
            device,
            &mut |s| step(name, s),
        )?;
        let p = probe(
            &trained.encoder,
            data,
            &train,
            &test,
            &budgets,
            &cfg.probe,
            device,
            &mut || {},
        );
        let first = trained.diagnostics.first();
        let last = trained.diagnostics.last();
        let row = ObjectiveResult {
            objective: name.to_string(),
            backbone: arch.name().into(),
            accuracy: p.accuracy,
            factor_r2: mean(&p.factor_r2),
            seconds_per_step: trained.seconds / cfg.train.steps as f64,
            initial_rank: first.map_or(f64::NAN, |d| d.effective_rank),
            final_rank: last.map_or(f64::NAN, |d| d.effective_rank),
            final_loss: trained.log.last().map_or(f64::NAN, |l| l.loss),
            diagnostics: trained.diagnostics,
        };
        log(&format!(
            "{name} ({}): probe {:?}, rank {:.1} → {:.1}, {:.3} s/step",
            row.backbone,
            row.accuracy
                .iter()
                .map(|a| format!("{a:.3}"))
                .collect::<Vec<_>>(),
            row.initial_rank,
            row.final_rank,
            row.seconds_per_step
        ));
        rows.push(row);
        if !archs.iter().any(|a| a.name() == arch.name()) {
            archs.push(arch);
        }
    }
    let mut random_init = vec![];
    for arch in &archs {
        let encoder = arch.seeded(device, seed ^ RANDOM_INIT_SALT)?;
        let p = probe(
            &encoder,
            data,
            &train,
            &test,
            &budgets,
            &cfg.probe,
            device,
            &mut || {},
        );
        log(&format!(
            "{} at random init: probe {:?}",
            arch.name(),
            p.accuracy
        ));
        random_init.push(RandomInit {
            backbone: arch.name().into(),
            accuracy: p.accuracy,
            factor_r2: mean(&p.factor_r2),
        });
    }
    let conv = Arch::Conv {
        cfg: cfg.encoder.clone(),
        shape: data.shape,
    };
    let mut supervised = vec![];
    for &m in &budgets {
        supervised.push(supervised_accuracy(
            data,
            &train[..m],
            &test,
            &cfg.supervised,
            &conv,
            &cfg.augment,
            seed ^ SUPERVISED_SALT,
            device,
        )?);
    }
    log(&format!("supervised (conv): {supervised:?}"));
    Ok(CompareReport {
        config: cfg.clone(),
        train_images: train.len(),
        test_images: test.len(),
        labels: budgets,
        objectives: rows,
        random_init,
        supervised,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The comparison as a Markdown table.
pub fn table(r: &CompareReport) -> String {
    let heads: String = r.labels.iter().map(|m| format!(" {m} labels |")).collect();
    let rule: String = r.labels.iter().map(|_| "---|").collect();
    let mut s = format!(
        "Linear-probe test accuracy ({} test images; {} training images, {} steps of {} per \
         objective):\n\n| objective | backbone |{heads} factor R² | s/step | rank init → after |\n\
         |---|---|{rule}---|---|---|\n",
        r.test_images, r.train_images, r.config.train.steps, r.config.train.batch_size
    );
    let accs = |a: &[f64]| -> String { a.iter().map(|v| format!(" {v:.3} |")).collect() };
    let r2 = |v: f64| {
        if v.is_nan() {
            "—".to_string()
        } else {
            format!("{v:.3}")
        }
    };
    for o in &r.objectives {
        s += &format!(
            "| {} | {} |{} {} | {:.3} | {:.1} → {:.1} |\n",
            o.objective,
            o.backbone,
            accs(&o.accuracy),
            r2(o.factor_r2),
            o.seconds_per_step,
            o.initial_rank,
            o.final_rank
        );
    }
    for ri in &r.random_init {
        s += &format!(
            "| random init | {} |{} {} | — | — |\n",
            ri.backbone,
            accs(&ri.accuracy),
            r2(ri.factor_r2)
        );
    }
    s += &format!(
        "| supervised from scratch | conv |{} — | — | — |\n",
        accs(&r.supervised)
    );
    s += &format!("\ntotal {:.0} s\n", r.seconds);
    s
}

/// Writes `report.json`, `table.md`, `ranks.svg` (effective rank against the step, one line
/// per objective) and `probes.svg` (accuracy against the labelled images, one line per
/// objective and reference) into `dir`, each atomically.
pub fn write(dir: &Path, r: &CompareReport) -> Result<(), SslError> {
    std::fs::create_dir_all(dir).map_err(ami_io::IoError::io(dir))?;
    let ranks = render(
        &[Panel {
            title: "effective rank of the held-out representation".into(),
            series: r
                .objectives
                .iter()
                .map(|o| Series {
                    name: o.objective.clone(),
                    points: o
                        .diagnostics
                        .iter()
                        .map(|d| (d.step as f64, d.effective_rank))
                        .collect(),
                })
                .collect(),
            log_y: true,
        }],
        1,
        "step",
    );
    let curve = |name: String, acc: &[f64]| Series {
        name,
        points: r
            .labels
            .iter()
            .zip(acc)
            .map(|(&m, &a)| ((m as f64).log10(), a))
            .collect(),
    };
    let mut series: Vec<Series> = r
        .objectives
        .iter()
        .map(|o| curve(o.objective.clone(), &o.accuracy))
        .collect();
    series.extend(
        r.random_init
            .iter()
            .map(|ri| curve(format!("random init ({})", ri.backbone), &ri.accuracy)),
    );
    series.push(curve("supervised (conv)".into(), &r.supervised));
    let probes = render(
        &[Panel {
            title: "linear-probe test accuracy".into(),
            series,
            log_y: false,
        }],
        1,
        "log10 labelled images",
    );
    let json = serde_json::to_vec_pretty(r)
        .map_err(|e| SslError::bad(dir, "report.json", e.to_string()))?;
    write_atomic(&dir.join("report.json"), &json)?;
    write_atomic(&dir.join("table.md"), table(r).as_bytes())?;
    write_atomic(&dir.join("ranks.svg"), ranks.as_bytes())?;
    write_atomic(&dir.join("probes.svg"), probes.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_registered_and_unknown_ones_are_named() {
        let cfg = ExperimentConfig::default();
        for name in OBJECTIVES {
            assert_eq!(cfg.objective(name).unwrap().name(), *name);
        }
        check_names(OBJECTIVES).unwrap();
        let e = check_names(&["vicreg", "simclr"]).unwrap_err().to_string();
        assert!(e.contains("simclr") && e.contains("ijepa"), "{e}");
        assert!(check_names(&[])
            .unwrap_err()
            .to_string()
            .contains("objectives"));
    }

    #[test]
    fn the_table_has_a_row_per_objective_and_reference() {
        let row =
            |objective: &str, backbone: &str, accuracy: Vec<f64>, factor_r2: f64| ObjectiveResult {
                objective: objective.into(),
                backbone: backbone.into(),
                accuracy,
                factor_r2,
                seconds_per_step: 0.125,
                initial_rank: 78.84,
                final_rank: 16.44,
                final_loss: 1.0,
                diagnostics: vec![],
            };
        let r = CompareReport {
            config: ExperimentConfig::quick(),
            train_images: 100,
            test_images: 20,
            labels: vec![10, 100],
            objectives: vec![
                row("vicreg", "conv", vec![0.41, 0.52], 0.5),
                row("ijepa", "vit", vec![0.3, 0.35], f64::NAN),
            ],
            random_init: vec![RandomInit {
                backbone: "conv".into(),
                accuracy: vec![0.25, 0.3],
                factor_r2: f64::NAN,
            }],
            supervised: vec![0.6, 0.9],
            seconds: 12.0,
        };
        let t = table(&r);
        for line in [
            "| objective | backbone | 10 labels | 100 labels | factor R² | s/step |",
            "| vicreg | conv | 0.410 | 0.520 | 0.500 | 0.125 | 78.8 → 16.4 |",
            "| ijepa | vit | 0.300 | 0.350 | — | 0.125 |",
            "| random init | conv | 0.250 | 0.300 | — | — | — |",
            "| supervised from scratch | conv | 0.600 | 0.900 | — |",
            "20 test images; 100 training images, 40 steps of 32",
        ] {
            assert!(t.contains(line), "{line}\n{t}");
        }
    }

    #[test]
    fn the_backbone_follows_the_objective() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.npz");
        ami_envs::ShapesConfig::default()
            .generate(6, 1)
            .unwrap()
            .save(&p)
            .unwrap();
        let data = ImageSet::load(&p).unwrap();
        let cfg = ExperimentConfig::default();
        let arch = |n: &str| cfg.arch(cfg.objective(n).unwrap().as_ref(), &data, &[0, 1, 2]);
        assert_eq!(arch("ijepa").name(), "vit");
        for n in OBJECTIVES.iter().filter(|n| **n != "ijepa") {
            assert_eq!(arch(n).name(), "conv", "{n}");
        }
        match arch("ijepa") {
            Arch::Vit(v, norm) => {
                assert_eq!(v.image, [3, 32, 32]);
                assert_eq!(norm, crate::encoder::ChannelNorm::fit(&data, &[0, 1, 2]));
            }
            other => panic!("{other:?}"),
        }
    }
}
