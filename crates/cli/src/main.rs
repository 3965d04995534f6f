//! `ami`: the command-line tool. Parses arguments and prints; the work is in the libraries.

mod bench;
mod commands;
mod ebm;
mod ebm_bench;
mod ebm_examples;
mod ebm_negatives;
mod envs;
mod experiment;
mod images;
mod pde;
mod progress;
mod ssl;
mod ssl_train;

use std::path::PathBuf;

use ami_agent::pipeline::FitOptions;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Objective-driven AI: learn a JEPA world model from reward-free data and reach goals by planning.
#[derive(Parser)]
#[command(name = "ami", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that build a run configuration.
#[derive(clap::Args, Clone)]
pub struct ConfigArgs {
    /// Built-in starting point: tiny (smoke tests), check (≤ 1 minute, state observations),
    /// default (the demo), full, pldm (PLDM's exact two-rooms task, env pldm), random-wall
    /// (EB-JEPA's two-rooms with a random wall and door, env random-wall).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// TOML file overriding the preset (any subset of sections/keys).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one key, e.g. `--set mppi.samples=512` (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub sets: Vec<String>,
}

/// The divergence guard's action, for the commands that train.
#[derive(clap::Args, Clone)]
pub struct GuardArgs {
    /// What training does when the loss or a weight becomes NaN/infinite or the
    /// representation collapses (`guard.on_divergence`): `stop` (the default; the last good
    /// checkpoint is kept) or `rollback` (reload it, halve the learning rate, continue; at most
    /// `guard.max_rollbacks` times). Thresholds: `--set guard.KEY=VALUE`.
    #[arg(long, value_name = "stop|rollback")]
    pub on_divergence: Option<String>,
}

impl GuardArgs {
    /// The flag as a `--set` override.
    pub fn sets(&self) -> Vec<String> {
        self.on_divergence
            .iter()
            .map(|a| format!("guard.on_divergence={}", toml_string(a)))
            .collect()
    }
}

/// `s` as a TOML string literal.
fn toml_string(s: &str) -> String {
    toml::Value::from(s).to_string()
}

#[derive(Subcommand)]
enum Command {
    /// Generate data, train a JEPA world model, and evaluate planning on the test episodes.
    Demo {
        /// Run directory (created; an existing run there is overwritten).
        #[arg(long, default_value = "runs/demo")]
        out: PathBuf,
        /// Seed of data generation, weight initialisation and planning.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Environment (two-rooms, two-rooms-hazards, pendulum, highway, maze, pldm,
        /// random-wall); the
        /// preset's settings carry over where they apply. With two-rooms-hazards every task is
        /// evaluated.
        #[arg(long)]
        env: Option<String>,
        /// Task to evaluate (reach, reach-safe, region, waypoints, hold, pldm, random-wall) or
        /// `all`.
        #[arg(long)]
        task: Option<String>,
        /// Test episodes per task.
        #[arg(long)]
        episodes: Option<usize>,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Generate reward-free trajectories of an environment (two-rooms, two-rooms-hazards,
    /// pendulum, cartpole, highway, maze, pldm, random-wall; gym and dmc through the Python
    /// bridge, see `ami envs setup`; `--preset pldm` / `--preset random-wall` for PLDM's and
    /// EB-JEPA's generator settings), or with
    /// `ami data pde EQUATION` solutions of a PDE, or with `ami data shapes` /
    /// `ami data moving-shapes` procedural images and videos.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Data {
        #[command(subcommand)]
        pde: Option<DataKind>,
        /// Environment kind.
        #[arg(required = true)]
        env: Option<String>,
        /// Number of transitions (rounded up to whole trajectories); default: the preset's
        /// (after `--config` / `--set`), i.e. the data `ami demo` generates with the same
        /// preset — 96 000 for `default`, 1 000 000 for `random-wall`.
        #[arg(long)]
        transitions: Option<usize>,
        /// Seed of the generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Gymnasium id of ENV = gym (sets `env.id`), e.g. `Pendulum-v1`.
        #[arg(long)]
        id: Option<String>,
        /// Output `.npz` (a `.json` sidecar is written beside it).
        #[arg(long, required = true)]
        out: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Train a JEPA world model on a dataset.
    Train {
        /// Dataset written by `ami data`.
        #[arg(long)]
        data: PathBuf,
        /// Run directory.
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in `--out` from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Stop after this many steps (with a checkpoint), as if interrupted; `--resume`
        /// continues exactly.
        #[arg(long)]
        stop_after: Option<usize>,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Benchmark the standard workloads (see bench/README.md for the peers).
    Bench {
        /// Workload to run.
        #[arg(long, value_enum, ignore_case = true, default_value = "all")]
        workload: bench::Workload,
        /// Also print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Few repetitions (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Demo run directory used by workload D.
        #[arg(long, default_value = "runs/demo")]
        run: PathBuf,
    },
    /// Environments outside ami: `ami envs setup` installs the Python side of the
    /// Gymnasium / DeepMind Control bridge.
    Envs {
        #[command(subcommand)]
        cmd: envs::EnvsCommand,
    },
    /// Classic energy-based models: PCA, k-means, Gaussian mixtures, sparse coding.
    Ebm {
        #[command(subcommand)]
        cmd: ebm::EbmCommand,
    },
    /// Self-supervised learning: evaluate a joint-embedding loss on arrays from `.npy` files
    /// (`ami ssl loss`), or pre-train an image encoder and probe it (`ami ssl train`).
    Ssl {
        #[command(subcommand)]
        cmd: ssl::SslCommand,
    },
    /// Experiments that are one command each, with a table and a plot (pde-ssl).
    Experiment {
        #[command(subcommand)]
        cmd: experiment::ExperimentCommand,
    },
    /// Train the amortised policy of a run: behaviour cloning on planner episodes, then DAgger.
    TrainPolicy {
        /// Run directory written by `ami train` or `ami demo` (`policy.json` is written there).
        #[arg(long)]
        run: PathBuf,
        /// Planner episodes for behaviour cloning (`policy.episodes`).
        #[arg(long)]
        episodes: Option<usize>,
        /// DAgger rounds (`policy.dagger_rounds`).
        #[arg(long)]
        dagger_rounds: Option<usize>,
        /// Override one key of the run's config, e.g. `--set policy.fit.epochs=100`.
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Train (or retrain) the H-JEPA level 2 of a run on its frozen world model (the run's
    /// data is regenerated from its config, so it is the data the world model saw).
    TrainLevel2 {
        /// Run directory written by `ami train` or `ami demo` (`level2.json` is written there).
        #[arg(long)]
        run: PathBuf,
        /// Override one key of the run's config, e.g. `--set hierarchy.level2.k=4`; the
        /// settings used are written back to the run's `config.toml`.
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Train the critic of a run by TD(λ) on planner episodes.
    TrainCritic {
        /// Run directory written by `ami train` or `ami demo` (`critic.json` is written there).
        #[arg(long)]
        run: PathBuf,
        /// Planner episodes to learn from (`critic.episodes`).
        #[arg(long)]
        episodes: Option<usize>,
        /// Override one key of the run's config, e.g. `--set critic.lambda=0.9`.
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Evaluate a trained run by planning on the test episodes.
    Eval {
        /// Run directory written by `ami train` or `ami demo`.
        #[arg(long)]
        run: PathBuf,
        /// Tasks to plan on: `val` (tune on these; `report_val.json`) or `test` (report these;
        /// `report.json`).
        #[arg(long, default_value = "test")]
        split: String,
        /// Task (reach, reach-safe, region, waypoints, hold, pldm, random-wall) or `all` (a
        /// task table in `eval/tasks.md`); default: the run's `[task]`. Reports go to
        /// `eval/<task>/`.
        #[arg(long)]
        task: Option<String>,
        /// Number of test episodes (`eval.episodes`).
        #[arg(long)]
        episodes: Option<usize>,
        /// Override one key of the run's config, e.g. `--set agent.planner=cem` (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
}

/// `ami data pde …`: data sets that are not environment trajectories.
#[derive(Subcommand)]
enum DataKind {
    /// Trajectories of a 1-D periodic PDE (burgers, kdv, ks) from random initial conditions
    /// and coefficients, solved pseudo-spectrally with ETDRK4.
    Pde(pde::PdeDataArgs),
    /// Images `[N, 3, 32, 32]` of one shape each (square, circle, triangle, cross) with known
    /// factors: position, scale, rotation, hue.
    Shapes(images::ShapesArgs),
    /// Videos `[N, T, 3, 32, 32]` of a shape moving at constant velocity and bouncing off the
    /// borders, with per-frame positions and velocities.
    MovingShapes(images::MovingShapesArgs),
}

/// Command-line flags that stand for config keys, as `--set` overrides before `sets`.
fn with_flags(flags: &[(&str, Option<usize>)], sets: Vec<String>) -> Vec<String> {
    flags
        .iter()
        .filter_map(|(key, v)| v.map(|v| format!("{key}={v}")))
        .chain(sets)
        .collect()
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {}", error_chain(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message already
/// holds (the library errors spell out their I/O cause, e.g. `PATH: File too large`).
fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo {
            out,
            seed,
            env,
            task,
            episodes,
            guard,
            cfg,
        } => {
            let tasks = commands::TaskArgs {
                task: task.as_deref(),
                episodes,
            };
            commands::demo(&out, seed, env.as_deref(), &tasks, &guard, &cfg)
        }
        Command::Data {
            pde: Some(DataKind::Pde(args)),
            ..
        } => pde::data(&args),
        Command::Data {
            pde: Some(DataKind::Shapes(args)),
            ..
        } => images::shapes(&args),
        Command::Data {
            pde: Some(DataKind::MovingShapes(args)),
            ..
        } => images::moving_shapes(&args),
        Command::Data {
            pde: None,
            env,
            transitions,
            seed,
            id,
            out,
            cfg,
        } => {
            // clap requires both when there is no subcommand.
            let (env, out) = env.zip(out).context("`ami data` needs ENV and --out")?;
            commands::data(&env, id.as_deref(), transitions, seed, &out, &cfg)
        }
        Command::Train {
            data,
            out,
            resume,
            stop_after,
            guard,
            cfg,
        } => {
            let opts = FitOptions { resume, stop_after };
            commands::train(&data, &out, opts, &guard, &cfg)
        }
        Command::Eval {
            run,
            split,
            task,
            episodes,
            sets,
        } => {
            let tasks = commands::TaskArgs {
                task: task.as_deref(),
                episodes,
            };
            commands::eval(&run, &split, &tasks, &sets)
        }
        Command::TrainPolicy {
            run,
            episodes,
            dagger_rounds,
            sets,
        } => {
            let flags = [
                ("policy.episodes", episodes),
                ("policy.dagger_rounds", dagger_rounds),
            ];
            commands::train_policy(&run, &with_flags(&flags, sets))
        }
        Command::TrainLevel2 { run, sets } => commands::train_level2(&run, &sets),
        Command::TrainCritic {
            run,
            episodes,
            sets,
        } => commands::train_critic(&run, &with_flags(&[("critic.episodes", episodes)], sets)),
        Command::Envs { cmd } => envs::run(cmd),
        Command::Ebm { cmd } => ebm::run(cmd),
        Command::Ssl { cmd } => ssl::run(cmd),
        Command::Experiment { cmd } => experiment::run_experiment(cmd),
        Command::Bench {
            workload,
            json,
            quick,
            run,
        } => bench::bench(workload, json, quick, &run),
    }
}
