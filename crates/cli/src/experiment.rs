//! `ami experiment NAME`: experiments that are one command each, with a table and a plot in
//! their output directory. Only the command line is parsed here; the experiments are the
//! libraries'.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::progress::Bars;
use ami_agent::pipeline::Progress;

use ami_agent::pipeline::distractors::{self, DistractorsConfig};
use ami_agent::pipeline::frontier::{self, FrontierConfig};
use ami_agent::pipeline::wall_leaks::{self, WallLeaksConfig};
use ami_agent::pipeline::TrainedRun;
use ami_jepa::burn::tensor::Device;
use ami_pde::Equation;
use ami_pde_ssl::experiment::{run, table, write, ExperimentConfig};
use ami_ssl::{collapse, compare, ImageSet};

/// `ami experiment …`.
#[derive(clap::Subcommand)]
pub enum ExperimentCommand {
    /// Self-supervised learning for PDEs with Lie point symmetries (Mialon et al. 2023):
    /// VICReg pre-training on unlabelled trajectories with symmetry views, then regression of
    /// the equation's coefficient from the frozen representation, against the same encoder
    /// trained supervised on the same labels, crop+noise views, and an untrained encoder.
    PdeSsl {
        /// Equation: burgers (ν), kdv (δ) or ks (ν).
        #[arg(long, default_value = "burgers")]
        equation: String,
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Output directory (`report.json`, `table.md`, `regression.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the data, the weights and the views.
        #[arg(long)]
        seed: Option<u64>,
        /// Override one setting (repeatable): unlabelled, labels (comma list), test,
        /// supervised_steps, supervised_final_lr_ratio, pretrain.steps, pretrain.batch_size,
        /// pretrain.lr, pretrain.final_lr_ratio,
        /// view.crop_frames, view.x_stride, view.boost_max, view.noise_std, view.probe_crops,
        /// encoder.repr_dim,
        /// or data.KEY (the keys of `ami data pde`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// What keeps a joint embedding from collapsing: VICReg without its variance/covariance
    /// terms, BYOL without its predictor and/or EMA — effective rank and per-dimension std of
    /// a held-out batch over training, per variant.
    Collapse {
        /// Images written by `ami data shapes` (or any image set `ami ssl train` reads).
        #[arg(long)]
        data: PathBuf,
        /// Output directory (`report.json`, `table.md`, `collapse.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Variants to run (comma list; default all): vicreg, vicreg-no-var-cov,
        /// vicreg-no-cov, byol, byol-no-predictor, byol-no-ema, byol-no-predictor-no-ema.
        #[arg(long, value_delimiter = ',')]
        variants: Vec<String>,
        /// Override one setting of `ami ssl train` (repeatable), e.g. `train.steps=200`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Every joint-embedding objective on the same images and budget (vicreg, barlow-twins,
    /// byol, simsiam, swav, nt-xent, infonce on the conv encoder; ijepa on the ViT):
    /// linear-probe accuracy per label budget, factor R², seconds per step and effective
    /// rank, next to each backbone at random init and the supervised baseline.
    SslCompare {
        /// Images written by `ami data shapes` (or any image set `ami ssl train` reads).
        #[arg(long)]
        data: PathBuf,
        /// Output directory (`report.json`, `table.md`, `ranks.svg`, `probes.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Objectives to run (comma list; default all).
        #[arg(long, value_delimiter = ',')]
        objectives: Vec<String>,
        /// Seed of the split, weights, batches and views (`train.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Override one setting of `ami ssl train` (repeatable), e.g. `train.steps=200`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// JEPA vs pixel-reconstruction world model in two-rooms with and without unpredictable
    /// distractors ("leaves" anywhere, anew every frame): four full runs (data, training,
    /// planning on the same test episodes) and the drop in success of each model.
    Distractors {
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Output directory (four run directories, `report.json`, `table.md`, `success.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the data and the weights of every run (`data.seed`, `train.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Leaves per frame in the distractor condition.
        #[arg(long, default_value_t = 4)]
        leaves: usize,
        /// Override one key of the base run's config for all four runs, e.g.
        /// `--set train.steps=4000` (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Success per unit of planning compute: re-evaluates a trained run (an `ami demo`
    /// directory) on its test episodes under a grid of planner settings (family ×
    /// candidates × iterations × schedule) and marks the Pareto front of success vs planning
    /// ms per environment step. Writes nothing into the run.
    PlanningFrontier {
        /// The trained run.
        #[arg(long)]
        run: PathBuf,
        /// Output directory (`frontier.json`, `table.md`, `frontier.svg`, `samples.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Test episodes per setting (default: the run's `eval.episodes`).
        #[arg(long)]
        episodes: Option<usize>,
        /// A few tiny settings on at most 4 episodes (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Tasks: test, or val to choose settings without seeing the test tasks.
        #[arg(long, default_value = "test")]
        split: String,
        /// Planner families of a custom grid (comma list): mppi, cem, gradient,
        /// cem+gradient, policy, policy+mppi. Any grid option replaces the standard grid.
        #[arg(long, value_delimiter = ',')]
        planners: Vec<String>,
        /// Candidates per iteration of a custom grid (comma list; default 16,32,64).
        #[arg(long, value_delimiter = ',')]
        candidates: Vec<usize>,
        /// Iterations per planning call of a custom grid (comma list; default 1,2).
        #[arg(long, value_delimiter = ',')]
        iterations: Vec<usize>,
        /// Replanning periods of a custom grid (comma list; default the run's).
        #[arg(long = "replan-every", value_delimiter = ',')]
        replan_every: Vec<usize>,
        /// Override one key of the run's config for every setting (repeatable), e.g.
        /// `--set eval.max_steps=100`.
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Does a trained world model walk through walls in imagination (`pldm`, `random-wall`)?
    /// From each task's start it rolls out the imagined-walk planner's random walks, decodes
    /// the positions with the run's state probe, plays the same actions in the environment,
    /// and counts the walks that cross the central wall through the door and through the
    /// wall, with the position error per step. Writes nothing into the run.
    WallLeaks {
        /// The trained run (an `ami demo` or `ami train` directory of env pldm or random-wall).
        #[arg(long)]
        run: PathBuf,
        /// Output directory (`report.json`, `table.md`, `leaks.svg`).
        #[arg(long)]
        out: PathBuf,
        /// Tasks whose starts are measured: val (default) or test.
        #[arg(long, default_value = "val")]
        split: String,
        /// Starts measured.
        #[arg(long, default_value_t = 20)]
        episodes: usize,
        /// Random walks per start.
        #[arg(long, default_value_t = 256)]
        walks: usize,
        /// Actions per walk.
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// Px past the wall's face for a crossing, and beyond the door's edge for a crossing
        /// through the door.
        #[arg(long, default_value_t = 2.0)]
        margin: f32,
        /// Seed of the walks.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Runs one experiment.
pub fn run_experiment(cmd: ExperimentCommand) -> Result<()> {
    match cmd {
        ExperimentCommand::PdeSsl {
            equation,
            quick,
            out,
            seed,
            sets,
        } => {
            let equation: Equation = equation.parse()?;
            let base = if quick {
                ExperimentConfig::quick(equation)
            } else {
                ExperimentConfig::for_equation(equation)
            };
            let mut cfg = base.with_overrides(&sets)?;
            if let Some(seed) = seed {
                cfg.seed = seed;
                cfg.pretrain.seed = seed;
            }
            let report = run(&cfg, quick, &Device::flex(), &mut |line| {
                eprintln!("{line}")
            })?;
            write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", table(&report));
            eprintln!(
                "total {:.1} s; report, table and plot in {}",
                report.seconds.total,
                out.display()
            );
            Ok(())
        }
        ExperimentCommand::Collapse {
            data,
            out,
            quick,
            variants,
            sets,
        } => {
            let base = if quick {
                collapse::quick()
            } else {
                collapse::standard()
            };
            let cfg = base.with_overrides(&sets)?;
            let names: Vec<&str> = if variants.is_empty() {
                collapse::VARIANTS.to_vec()
            } else {
                variants.iter().map(String::as_str).collect()
            };
            for n in &names {
                collapse::variant(n)?;
            }
            let images = ImageSet::load(&data)?;
            let report = collapse::run(&images, &cfg, &names, &Device::flex(), &mut |line| {
                eprintln!("{line}")
            })?;
            collapse::write(&out, &report)?;
            println!("{}", collapse::table(&report));
            eprintln!("report, table and plot in {}", out.display());
            Ok(())
        }
        ExperimentCommand::SslCompare {
            data,
            out,
            quick,
            objectives,
            seed,
            sets,
        } => {
            let base = if quick {
                compare::quick()
            } else {
                compare::standard()
            };
            let mut sets = sets;
            if let Some(s) = seed {
                sets.insert(0, format!("train.seed={s}"));
            }
            let cfg = base.with_overrides(&sets)?;
            let names: Vec<&str> = if objectives.is_empty() {
                compare::OBJECTIVES.to_vec()
            } else {
                objectives.iter().map(String::as_str).collect()
            };
            compare::check_names(&names)?;
            let images = ImageSet::load(&data)?;
            let bars = Bars::default();
            let steps = cfg.train.steps as u64;
            let report = compare::run(
                &images,
                &cfg,
                &names,
                &Device::flex(),
                &mut |line| {
                    bars.finish();
                    eprintln!("{line}")
                },
                &mut |name, s| {
                    if s.step == 0 {
                        bars.start(name, steps);
                    }
                    bars.set(s.step as u64 + 1, &format!("loss {:.4}", s.loss));
                },
            );
            bars.finish();
            let report = report?;
            compare::write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", compare::table(&report));
            eprintln!("report, table and plots in {}", out.display());
            Ok(())
        }
        ExperimentCommand::Distractors {
            quick,
            out,
            seed,
            leaves,
            sets,
        } => {
            let mut cfg = if quick {
                DistractorsConfig::quick()
            } else {
                DistractorsConfig::standard()
            };
            cfg.base = cfg.base.with_overrides(&sets)?;
            if let Some(seed) = seed {
                cfg.base.data.seed = seed;
                cfg.base.train.seed = seed;
            }
            cfg.leaves = leaves;
            let report = distractors::run(&out, &cfg, &Bars::default(), &mut |line| {
                eprintln!("{line}")
            })?;
            println!("{}", distractors::table(&report));
            eprintln!("report, table and plot in {}", out.display());
            Ok(())
        }
        ExperimentCommand::PlanningFrontier {
            run,
            out,
            episodes,
            quick,
            split,
            planners,
            candidates,
            iterations,
            replan_every,
            sets,
        } => {
            let custom = !(planners.is_empty()
                && candidates.is_empty()
                && iterations.is_empty()
                && replan_every.is_empty());
            let mut cfg = if custom {
                let policy = run.join(ami_agent::pipeline::POLICY_FILE).is_file();
                FrontierConfig::from_lists(
                    &planners,
                    &candidates,
                    &iterations,
                    &replan_every,
                    policy,
                )?
            } else {
                FrontierConfig::for_run(&run, quick)
            };
            cfg.episodes = episodes.or(cfg.episodes);
            cfg.split = split.parse()?;
            cfg.sets = sets;
            let report = frontier::run(&run, &out, &cfg, &Bars::default(), &mut |line| {
                eprintln!("{line}")
            })?;
            println!("{}", frontier::front::table(&report.rows));
            match &report.cheapest_at_target {
                Some(l) => eprintln!(
                    "cheapest setting with success >= {}: {l}",
                    report.target_success
                ),
                None => eprintln!("no setting reached success {}", report.target_success),
            }
            eprintln!(
                "{:.0} s, load {} -> {}; frontier.json, table.md and plots in {}",
                report.seconds,
                report.load_before.map_or("?".into(), |l| format!("{l:.2}")),
                report.load_after.map_or("?".into(), |l| format!("{l:.2}")),
                out.display()
            );
            Ok(())
        }
        ExperimentCommand::WallLeaks {
            run,
            out,
            split,
            episodes,
            walks,
            steps,
            margin,
            seed,
        } => {
            let cfg = WallLeaksConfig {
                split: split.parse()?,
                episodes,
                walks,
                steps,
                margin,
                seed,
            };
            let trained = TrainedRun::open(&run)?;
            let report = wall_leaks::measure(&trained, &cfg, &Bars::default())?;
            wall_leaks::write(&out, &report)?;
            println!("{}", wall_leaks::table(&report));
            eprintln!("report, table and plot in {}", out.display());
            Ok(())
        }
    }
}
