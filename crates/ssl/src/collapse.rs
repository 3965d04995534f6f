//! `ami experiment collapse`: what keeps a joint embedding from collapsing, shown by removing
//! it.
//!
//! Every variant pre-trains the same encoder on the same images with the same views and seed
//! ([`crate::train::pretrain`]), and the loop records on a fixed held-out batch, every
//! `train.diag_every` steps, the **effective rank** `exp(H(σ/‖σ‖₁))` of the centred
//! representations (σ their singular values; RankMe, Garrido et al. 2023) and the mean
//! per-dimension standard deviation:
//!
//! | variant | what is removed |
//! |---|---|
//! | `vicreg` | nothing (25/25/1) |
//! | `vicreg-no-var-cov` | the variance and covariance terms (invariance alone) |
//! | `vicreg-no-cov` | the covariance term |
//! | `byol` | nothing (predictor, EMA target with the cosine momentum schedule) |
//! | `byol-no-predictor` | the predictor (`p = z`) |
//! | `byol-no-ema` | the EMA: the target is the online network behind a stop-gradient |
//! | `byol-no-predictor-no-ema` | both |
//!
//! Expected from the papers: invariance alone collapses to a point (rank → 1, std → 0);
//! without the covariance term the dimensions become redundant (low rank, std kept); BYOL
//! without its predictor collapses; without the EMA but with the predictor it does not
//! (SimSiam's finding); without both it collapses. The report says what happened here.

use std::path::Path;

use ami_io::svg::{render, Panel, Series};
use ami_io::write_atomic;
use ami_jepa::burn::tensor::Device;
use ami_jepa::vicreg::VicregConfig;
use ami_jepa::{Ablated, Byol, SslObjective, TargetBranch, Vicreg};
use serde::{Deserialize, Serialize};

use crate::dataset::ImageSet;
use crate::error::SslError;
use crate::experiment::{split, ExperimentConfig};
use crate::train::{pretrain, Diagnostic};

/// The variants, in report order.
pub const VARIANTS: [&str; 7] = [
    "vicreg",
    "vicreg-no-var-cov",
    "vicreg-no-cov",
    "byol",
    "byol-no-predictor",
    "byol-no-ema",
    "byol-no-predictor-no-ema",
];

/// The objective of variant `name` (one of [`VARIANTS`]).
pub fn variant(name: &str) -> Result<Box<dyn SslObjective>, SslError> {
    let vicreg = |std_coeff: f32, cov_coeff: f32| {
        Box::new(Vicreg(VicregConfig {
            std_coeff,
            cov_coeff,
            ..VicregConfig::default()
        }))
    };
    let byol = |label: &'static str, predictor: bool, ema: bool| {
        Box::new(Ablated {
            inner: Box::new(Byol::default()),
            label,
            predictor,
            target: (!ema).then_some(TargetBranch::StopGradient),
        })
    };
    Ok(match name {
        "vicreg" => vicreg(25.0, 1.0),
        "vicreg-no-var-cov" => vicreg(0.0, 0.0),
        "vicreg-no-cov" => vicreg(25.0, 0.0),
        "byol" => Box::new(Byol::default()),
        "byol-no-predictor" => byol("byol-no-predictor", false, true),
        "byol-no-ema" => byol("byol-no-ema", true, false),
        "byol-no-predictor-no-ema" => byol("byol-no-predictor-no-ema", false, false),
        other => {
            return Err(SslError::config(
                "variant",
                other,
                format!("one of {}", VARIANTS.join(", ")),
            ))
        }
    })
}

/// One variant's curves and final values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// The variant.
    pub name: String,
    /// Effective rank at initialisation.
    pub initial_rank: f64,
    /// Effective rank after training.
    pub final_rank: f64,
    /// Mean per-dimension std after training.
    pub final_mean_std: f64,
    /// Loss of the last step.
    pub final_loss: f64,
    /// Diagnostics over training (step, rank, std).
    pub diagnostics: Vec<Diagnostic>,
    /// Seconds of training.
    pub seconds: f64,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollapseReport {
    /// Representation dimension (the largest possible rank).
    pub repr_dim: usize,
    /// Training images.
    pub train_images: usize,
    /// Held-out images of the diagnostics.
    pub held_out_images: usize,
    /// Steps per variant.
    pub steps: usize,
    /// The variants.
    pub variants: Vec<VariantResult>,
}

/// Runs every variant of `names` on `data` with the settings of `cfg` (its `train`,
/// `encoder`, `augment`, `test_fraction`; the probes are not used).
pub fn run(
    data: &ImageSet,
    cfg: &ExperimentConfig,
    names: &[&str],
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<CollapseReport, SslError> {
    cfg.validate()?;
    let objectives = names
        .iter()
        .map(|n| variant(n))
        .collect::<Result<Vec<_>, _>>()?;
    let (held, train) = split(data.len(), cfg.test_fraction, cfg.train.seed);
    let mut variants = Vec::new();
    for (name, objective) in names.iter().zip(&objectives) {
        let every = cfg.train.steps.div_ceil(5).max(1);
        let trained = pretrain(
            data,
            &train,
            &held,
            &cfg.train,
            &cfg.encoder,
            &cfg.augment,
            objective.as_ref(),
            device,
            &mut |s| {
                if s.step % every == 0 {
                    log(&format!("{name}: step {} loss {:.4}", s.step, s.loss));
                }
            },
        )?;
        let first = trained.diagnostics.first();
        let last = trained.diagnostics.last();
        let r = VariantResult {
            name: name.to_string(),
            initial_rank: first.map_or(f64::NAN, |d| d.effective_rank),
            final_rank: last.map_or(f64::NAN, |d| d.effective_rank),
            final_mean_std: last.map_or(f64::NAN, |d| d.mean_std),
            final_loss: trained.log.last().map_or(f64::NAN, |l| l.loss),
            diagnostics: trained.diagnostics,
            seconds: trained.seconds,
        };
        log(&format!(
            "{name}: effective rank {:.1} → {:.1}, mean std {:.3} ({:.0} s)",
            r.initial_rank, r.final_rank, r.final_mean_std, r.seconds
        ));
        variants.push(r);
    }
    Ok(CollapseReport {
        repr_dim: cfg.encoder.repr_dim,
        train_images: train.len(),
        held_out_images: held.len().min(cfg.train.diag_batch),
        steps: cfg.train.steps,
        variants,
    })
}

/// The settings the experiment uses by default: `ami ssl train`'s, with 400 steps per variant
/// (seven variants in about 15 minutes on 2 cores).
pub fn standard() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::default();
    cfg.train.steps = 400;
    cfg
}

/// A seconds-long smoke test.
pub fn quick() -> ExperimentConfig {
    ExperimentConfig::quick()
}

/// The comparison as a Markdown table.
pub fn table(r: &CollapseReport) -> String {
    let mut s = format!(
        "Effective rank (of {}) and mean per-dimension std of the held-out representation ({} images), {} steps:\n\n| variant | rank at init | rank after | mean std after | final loss | s |\n|---|---|---|---|---|---|\n",
        r.repr_dim, r.held_out_images, r.steps
    );
    for v in &r.variants {
        s += &format!(
            "| {} | {:.1} | {:.1} | {:.4} | {:.4} | {:.0} |\n",
            v.name, v.initial_rank, v.final_rank, v.final_mean_std, v.final_loss, v.seconds
        );
    }
    s
}

/// Writes `report.json`, `table.md` and `collapse.svg` (rank and std against the step, one
/// line per variant) into `dir`, each atomically.
pub fn write(dir: &Path, r: &CollapseReport) -> Result<(), SslError> {
    std::fs::create_dir_all(dir).map_err(ami_io::IoError::io(dir))?;
    let curves = |f: fn(&Diagnostic) -> f64| -> Vec<Series> {
        r.variants
            .iter()
            .map(|v| Series {
                name: v.name.clone(),
                points: v
                    .diagnostics
                    .iter()
                    .map(|d| (d.step as f64, f(d)))
                    .collect(),
            })
            .collect()
    };
    let svg = render(
        &[
            Panel {
                title: "effective rank of the representation".into(),
                series: curves(|d| d.effective_rank),
                log_y: true,
            },
            Panel {
                title: "mean per-dimension std".into(),
                series: curves(|d| d.mean_std),
                log_y: true,
            },
        ],
        2,
        "step",
    );
    let json = serde_json::to_vec_pretty(r)
        .map_err(|e| SslError::bad(dir, "report.json", e.to_string()))?;
    write_atomic(&dir.join("report.json"), &json)?;
    write_atomic(&dir.join("table.md"), table(r).as_bytes())?;
    write_atomic(&dir.join("collapse.svg"), svg.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_builds_what_its_name_says() {
        for name in VARIANTS {
            let o = variant(name).unwrap();
            let needs = o.needs();
            if name.starts_with("byol") {
                assert_eq!(needs.predictor, !name.contains("no-predictor"), "{name}");
                assert_eq!(
                    matches!(needs.target, TargetBranch::Ema(_)),
                    !name.contains("no-ema"),
                    "{name}"
                );
                assert_eq!(o.name(), name);
            } else {
                assert_eq!(o.name(), "vicreg");
                assert!(!needs.predictor && needs.target == TargetBranch::None);
            }
        }
        let e = variant("simclr").err().unwrap().to_string();
        assert!(e.contains("simclr") && e.contains("vicreg-no-cov"), "{e}");
    }
}
