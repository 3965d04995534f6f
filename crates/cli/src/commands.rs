//! The run subcommands: `data`, `train`, `eval`, `demo` (= data → train → eval),
//! `train-policy` and `train-critic`. Each builds the configuration from the command line,
//! calls `ami_agent::pipeline` and prints.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use ami_agent::pipeline::{
    self, evaluate, fit, train_critic as fit_critic, train_policy as fit_policy, EvalReport,
    FitOptions, Preset, RunConfig, RunDir, CRITIC_FILE, POLICY_FILE,
};
use ami_envs::{Dataset, EnvConfig};

use crate::progress::Bars;
use crate::ConfigArgs;

/// Builds the run configuration from a preset, an optional file and `--set` overrides.
fn build_config(args: &ConfigArgs, extra: &[String]) -> Result<RunConfig> {
    let preset: Preset = args.preset.parse()?;
    let base = RunConfig::preset(preset);
    let cfg = match &args.config {
        Some(path) => RunConfig::from_toml_file(path, &base)?,
        None => base,
    };
    let sets: Vec<String> = extra.iter().chain(&args.sets).cloned().collect();
    let cfg = cfg.with_overrides(&sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// `ami data ENV`.
pub fn data(env: &str, transitions: usize, seed: u64, out: &Path, args: &ConfigArgs) -> Result<()> {
    EnvConfig::of_kind(env)?;
    let mut cfg = build_config(args, &[format!("env.kind=\"{env}\"")])?;
    cfg.data.trajectories = transitions.div_ceil(cfg.data.traj_len).max(1);
    cfg.data.seed = seed;
    cfg.validate()?;
    let ds = pipeline::generate_data(&cfg, &Bars::default())?;
    ds.save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {} trajectories × {} steps ({} transitions) of {env} to {}",
        ds.n_traj,
        ds.traj_len,
        ds.n_traj * ds.traj_len,
        out.display()
    );
    Ok(())
}

/// `ami train`.
pub fn train(data_path: &Path, out: &Path, opts: FitOptions, args: &ConfigArgs) -> Result<()> {
    let ds =
        Dataset::load(data_path).with_context(|| format!("loading {}", data_path.display()))?;
    let (run, cfg) = if opts.resume {
        let run = RunDir::open(out)?;
        let cfg = run.read_config()?;
        (run, cfg)
    } else {
        (RunDir::create(out)?, build_config(args, &[])?)
    };
    let t = Instant::now();
    let trainer = fit(&run, &cfg, &ds, opts, &Bars::default())?;
    eprintln!(
        "trained to step {} in {:.1} s; checkpoint in {}",
        trainer.step,
        t.elapsed().as_secs_f64(),
        run.checkpoint().display()
    );
    Ok(())
}

/// `ami eval`.
pub fn eval(run_path: &Path, split: &str, sets: &[String]) -> Result<()> {
    let run = RunDir::open(run_path)?;
    let cfg = run.read_config()?.with_overrides(sets)?;
    cfg.validate()?;
    let report = evaluate(&run, &cfg, split.parse()?, &Bars::default())?;
    print_report(&report)
}

/// The configuration of an existing run with `sets` applied.
fn run_config(run: &RunDir, sets: &[String]) -> Result<RunConfig> {
    let cfg = run.read_config()?.with_overrides(sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// `ami train-policy`.
pub fn train_policy(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open(run_path)?;
    let cfg = run_config(&run, sets)?;
    let log = fit_policy(&run, &cfg, &Bars::default())?;
    eprintln!("wrote {}", run.file(POLICY_FILE).display());
    println!("{}", serde_json::to_string_pretty(&log.rounds)?);
    Ok(())
}

/// `ami train-critic`.
pub fn train_critic(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open(run_path)?;
    let cfg = run_config(&run, sets)?;
    let summary = fit_critic(&run, &cfg, &Bars::default())?;
    eprintln!("wrote {}", run.file(CRITIC_FILE).display());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// `ami demo`: data → train → eval in one run directory.
pub fn demo(out: &Path, seed: u64, args: &ConfigArgs) -> Result<()> {
    let mut cfg = build_config(args, &[])?;
    cfg.data.seed = seed;
    cfg.train.seed = seed;
    eprintln!(
        "ami demo: {}, {} observations, run directory {}",
        cfg.env.kind(),
        cfg.env.spec().observation_name(),
        out.display()
    );
    let report = pipeline::demo(out, cfg, &Bars::default())?;
    print_report(&report)
}

fn print_report(report: &EvalReport) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}
