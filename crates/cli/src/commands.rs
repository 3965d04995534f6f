//! The run subcommands: `data`, `train`, `eval`, `demo` (= data → train → eval),
//! `train-policy` and `train-critic`. Each builds the configuration from the command line,
//! calls `ami_agent::pipeline` and prints.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use ami_agent::pipeline::{
    self, evaluate, evaluate_tasks, fit, task_table, train_critic as fit_critic,
    train_policy as fit_policy, EvalReport, FitOptions, Preset, RunConfig, RunDir, TaskResult,
    CRITIC_FILE, POLICY_FILE,
};
use ami_agent::TaskConfig;
use ami_envs::{Dataset, EnvConfig};

use crate::progress::Bars;
use crate::{ConfigArgs, GuardArgs};

/// Builds the run configuration from a preset (in the environment `env`, if given), an
/// optional file and `--set` overrides.
fn build_config(args: &ConfigArgs, extra: &[String]) -> Result<RunConfig> {
    build_config_in(args, None, extra)
}

fn build_config_in(args: &ConfigArgs, env: Option<&str>, extra: &[String]) -> Result<RunConfig> {
    let preset: Preset = args.preset.parse()?;
    let base = match env {
        Some(kind) => RunConfig::preset_in(preset, kind)?,
        None => RunConfig::preset(preset),
    };
    let cfg = match &args.config {
        Some(path) => RunConfig::from_toml_file(path, &base)?,
        None => base,
    };
    let sets: Vec<String> = extra.iter().chain(&args.sets).cloned().collect();
    let cfg = cfg.with_overrides(&sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// `ami data ENV` (`--id` sets `env.id` of `gym`).
pub fn data(
    env: &str,
    id: Option<&str>,
    transitions: Option<usize>,
    seed: u64,
    out: &Path,
    args: &ConfigArgs,
) -> Result<()> {
    EnvConfig::of_kind(env)?;
    let mut sets = vec![format!("env.kind=\"{env}\"")];
    match id {
        Some(id) if env == "gym" => sets.push(format!("env.id={}", toml::Value::from(id))),
        Some(id) => anyhow::bail!("--id {id}: --id names a Gymnasium env and needs ENV = gym"),
        None => {}
    }
    let mut cfg = build_config(args, &sets)?;
    if let Some(n) = transitions {
        cfg.data.trajectories = n.div_ceil(cfg.data.traj_len).max(1);
        cfg.data.transitions = 0;
    }
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

/// `ami train` (`--on-divergence` applies to a resumed run too).
pub fn train(
    data_path: &Path,
    out: &Path,
    opts: FitOptions,
    guard: &GuardArgs,
    args: &ConfigArgs,
) -> Result<()> {
    let ds =
        Dataset::load(data_path).with_context(|| format!("loading {}", data_path.display()))?;
    let (run, cfg) = if opts.resume {
        let run = RunDir::open_locked(out, "ami train --resume")?;
        let cfg = run_config(&run, &guard.sets())?;
        (run, cfg)
    } else {
        (
            RunDir::create_locked(out, "ami train")?,
            build_config(args, &guard.sets())?,
        )
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

/// What `ami eval` and `ami demo` are asked to evaluate.
pub struct TaskArgs<'a> {
    /// `--task`: a task name, `all`, or none (the run's `[task]`).
    pub task: Option<&'a str>,
    /// `--episodes`.
    pub episodes: Option<usize>,
}

impl TaskArgs<'_> {
    /// The tasks named by `--task` (`None`: the configuration's own).
    fn names(&self, env: &dyn ami_envs::EnvSpec) -> Option<Vec<&str>> {
        match self.task {
            Some("all") => Some(TaskConfig::names_for(env)),
            Some(name) => Some(vec![name]),
            None => None,
        }
    }

    fn apply(&self, cfg: &mut RunConfig) -> Result<()> {
        if let Some(n) = self.episodes {
            cfg.eval.episodes = n;
        }
        if let Some(names) = self.names(cfg.env.spec()) {
            if names.len() == 1 {
                cfg.task.name = names[0].to_string();
            }
        }
        cfg.validate()?;
        Ok(())
    }
}

/// `ami eval`.
pub fn eval(run_path: &Path, split: &str, tasks: &TaskArgs, sets: &[String]) -> Result<()> {
    let run = RunDir::open(run_path)?;
    let mut cfg = run.read_config()?.with_overrides(sets)?;
    tasks.apply(&mut cfg)?;
    match tasks.names(cfg.env.spec()) {
        Some(names) if names.len() > 1 => {
            let rows = evaluate_tasks(&run, &cfg, &names, split.parse()?, &Bars::default())?;
            print_tasks(&rows)
        }
        _ => {
            let report = evaluate(&run, &cfg, split.parse()?, &Bars::default())?;
            print_report(&report)
        }
    }
}

/// The configuration of an existing run with `sets` applied.
fn run_config(run: &RunDir, sets: &[String]) -> Result<RunConfig> {
    let cfg = run.read_config()?.with_overrides(sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// `ami train-policy`.
pub fn train_policy(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open_locked(run_path, "ami train-policy")?;
    let cfg = run_config(&run, sets)?;
    let log = fit_policy(&run, &cfg, &Bars::default())?;
    eprintln!("wrote {}", run.file(POLICY_FILE).display());
    println!("{}", serde_json::to_string_pretty(&log.rounds)?);
    Ok(())
}

/// `ami train-level2`.
pub fn train_level2(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open_locked(run_path, "ami train-level2")?;
    let cfg = run_config(&run, sets)?;
    let report = pipeline::level2_fit::retrain_level2(&run, &cfg, &Bars::default())?;
    eprintln!(
        "wrote {}",
        run.file(pipeline::level2_fit::LEVEL2_FILE).display()
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `ami train-critic`.
pub fn train_critic(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open_locked(run_path, "ami train-critic")?;
    let cfg = run_config(&run, sets)?;
    let summary = fit_critic(&run, &cfg, &Bars::default())?;
    eprintln!("wrote {}", run.file(CRITIC_FILE).display());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// `ami demo`: data → train → eval in one run directory (every task with `--task all`, and by
/// default in an environment with hazards).
pub fn demo(
    out: &Path,
    seed: u64,
    env: Option<&str>,
    tasks: &TaskArgs,
    guard: &GuardArgs,
    args: &ConfigArgs,
) -> Result<()> {
    let mut cfg = build_config_in(args, env, &guard.sets())?;
    cfg.data.seed = seed;
    cfg.train.seed = seed;
    tasks.apply(&mut cfg)?;
    eprintln!(
        "ami demo: {}, {} observations, run directory {}",
        cfg.env.kind(),
        cfg.env.spec().observation_name(),
        out.display()
    );
    let hazards = cfg.env.kind() == "two-rooms-hazards";
    let names = match (tasks.names(cfg.env.spec()), hazards) {
        (Some(names), _) => names,
        (None, true) => TaskConfig::names_for(cfg.env.spec()),
        (None, false) => vec![],
    };
    if names.len() > 1 {
        let rows = pipeline::demo_tasks(out, cfg, &names, &Bars::default())?;
        return print_tasks(&rows);
    }
    if cfg.env.kind() == "maze" && cfg.hierarchy.train && cfg.task.name == "reach" {
        let report = pipeline::demo_levels(out, cfg, &Bars::default())?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if cfg.env.kind() == "highway"
        && cfg.task.name == "drive"
        && cfg.model.latent != ami_jepa::latent::LatentConfig::None
    {
        let report = pipeline::risk::demo_risk(out, cfg, &Bars::default())?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let report = pipeline::demo(out, cfg, &Bars::default())?;
    print_report(&report)
}

fn print_tasks(rows: &[TaskResult]) -> Result<()> {
    let json: Vec<_> = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    println!("{}", serde_json::to_string_pretty(&json)?);
    eprintln!("{}", task_table(rows));
    Ok(())
}

fn print_report(report: &EvalReport) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}
