//! `ami ssl train`: pre-train an image encoder with a joint-embedding objective and probe it.
//! Only the command line is parsed and progress printed here; the loop, the probes and the
//! report are `ami_ssl::experiment`'s.

use std::path::Path;

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use ami_jepa::burn::tensor::Device;
use ami_jepa::objective_by_name;
use ami_ssl::experiment::{run, table, write, ExperimentConfig, Observer};
use ami_ssl::video::{run_video, VideoConfig};
use ami_ssl::{ImageSet, StepLog, VideoSet};

use crate::progress::bar;

/// The arguments of `ami ssl train`.
pub struct TrainArgs<'a> {
    /// Objective name.
    pub objective: &'a str,
    /// Image set.
    pub data: &'a Path,
    /// Output directory.
    pub out: &'a Path,
    /// `train.steps` override.
    pub steps: Option<usize>,
    /// `train.seed` override.
    pub seed: Option<u64>,
    /// The seconds-long setting.
    pub quick: bool,
    /// `KEY=VALUE` overrides.
    pub sets: &'a [String],
}

/// One progress bar per phase; the loss and its terms as the bar's message.
#[derive(Default)]
struct Bars(Option<ProgressBar>);

impl Observer for Bars {
    fn phase(&mut self, name: &str, total: usize) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
        self.0 = Some(bar(name, total as u64));
    }

    fn step(&mut self, s: &StepLog) {
        if let Some(b) = &self.0 {
            b.set_position(s.step as u64 + 1);
            if s.step.is_multiple_of(10) {
                b.set_message(format!("loss {:.4}", s.loss));
            }
        }
    }

    fn advance(&mut self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
}

/// Runs `ami ssl train`.
pub fn train(a: &TrainArgs) -> Result<()> {
    let base = if a.quick {
        ExperimentConfig::quick()
    } else {
        ExperimentConfig::default()
    };
    let mut sets = a.sets.to_vec();
    if let Some(s) = a.steps {
        sets.insert(0, format!("train.steps={s}"));
    }
    if let Some(s) = a.seed {
        sets.insert(0, format!("train.seed={s}"));
    }
    let cfg = base.with_overrides(&sets)?;
    let objective = cfg.objective(a.objective)?;
    let data = ImageSet::load(a.data)?;
    eprintln!(
        "{} images {:?}, {} classes; objective {}; {} steps of {}",
        data.len(),
        data.shape,
        data.classes,
        objective.name(),
        cfg.train.steps,
        cfg.train.batch_size
    );
    let mut bars = Bars::default();
    let (report, encoder) = run(&data, &cfg, objective.as_ref(), &Device::flex(), &mut bars)?;
    if let Some(b) = bars.0.take() {
        b.finish_and_clear();
    }
    write(a.out, &report, &encoder).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{}", table(&report));
    eprintln!(
        "total {:.1} s; report.json, table.md, training.svg, encoder.safetensors in {}",
        report.seconds.total,
        a.out.display()
    );
    Ok(())
}

/// Runs `ami ssl video`.
pub fn video(objective: &str, data: &Path, out: &Path, quick: bool, sets: &[String]) -> Result<()> {
    let objective = objective_by_name(objective)?;
    let base = if quick {
        VideoConfig::quick()
    } else {
        VideoConfig::default()
    };
    let cfg = base.with_overrides(sets)?;
    let data = VideoSet::load(data)?;
    let pb = bar("video", cfg.steps as u64);
    let report = run_video(
        &data,
        &cfg,
        objective.as_ref(),
        &Device::flex(),
        &mut |s, _| pb.set_position(s as u64 + 1),
    );
    pb.finish_and_clear();
    let report = report?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("report.json");
    ami_io::write_atomic(&path, &serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "video JEPA ({} context frames, {} ahead) on {} test clips:\n\
         prediction error {:.3} (copy-last {:.3}), relative to the target spread\n\n\
         | factor | R² SSL context | R² random init |\n|---|---|---|",
        cfg.context, cfg.horizon, report.clips[1], report.prediction_error, report.copy_last_error
    );
    for f in &report.factors {
        println!("| {} | {:.3} | {:.3} |", f.name, f.ssl_r2, f.random_init_r2);
    }
    eprintln!(
        "total {:.1} s; report.json in {}",
        report.seconds,
        out.display()
    );
    Ok(())
}
