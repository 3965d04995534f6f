//! The subcommands: `data`, `train`, `eval` and `demo` (= data → train → eval).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use ami_agent::episode::{run_episode, ActSettings, EpisodeOutcome};
use ami_agent::{Cem, JepaWorldModel, Mppi, Planner};
use ami_envs::{render_episodes_png, test_episodes, Dataset, TwoRoomsConfig};
use ami_jepa::burn::tensor::Device;
use ami_jepa::checkpoint::{load_model, load_trainer, save_trainer};
use ami_jepa::{Trainer, Trajectories};

use crate::config::{PlannerKind, RunConfig};
use crate::plot::{render, Panel, Series};
use crate::progress::bar;
use crate::run_dir::{write_atomic, RunDir};
use crate::ConfigArgs;

/// The device everything runs on: burn's default, i.e. the first backend compiled in
/// (CUDA with `--features cuda`, wgpu with `--features wgpu`, else the `flex` CPU backend).
fn compute_device() -> Device {
    Device::default()
}

/// Builds the run configuration from a preset, an optional file and `--set` overrides.
fn build_config(args: &ConfigArgs) -> Result<RunConfig> {
    let base = RunConfig::preset(args.preset);
    let cfg = match &args.config {
        Some(path) => RunConfig::from_toml_file(path, &base)?,
        None => base,
    };
    let cfg = cfg.with_overrides(&args.sets)?;
    cfg.validate()?;
    Ok(cfg)
}

/// `ami data two-rooms`.
pub fn data(transitions: usize, seed: u64, out: &Path, args: &ConfigArgs) -> Result<()> {
    let mut cfg = build_config(args)?;
    cfg.data.trajectories = transitions.div_ceil(cfg.data.traj_len).max(1);
    cfg.data.seed = seed;
    cfg.validate()?;
    let ds = generate(&cfg)?;
    ds.save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {} trajectories × {} steps ({} transitions) to {}",
        ds.n_traj,
        ds.traj_len,
        ds.n_traj * ds.traj_len,
        out.display()
    );
    Ok(())
}

fn generate(cfg: &RunConfig) -> Result<Dataset> {
    let pb = bar("data", cfg.data.trajectories as u64);
    let ds = ami_envs::generate(&cfg.env, &cfg.data, &mut |done| {
        pb.set_position(done as u64)
    })?;
    pb.finish();
    Ok(ds)
}

/// The dataset as training windows, and the shape of one observation.
fn trajectories(ds: Dataset) -> (Trajectories, Vec<usize>) {
    let obs_dim = ds.obs_shape.iter().product();
    let data = Trajectories {
        observations: ds.observations,
        actions: ds.actions,
        n_traj: ds.n_traj,
        traj_len: ds.traj_len,
        obs_dim,
        action_dim: 2,
    };
    (data, ds.obs_shape)
}

/// `ami train`.
pub fn train(data_path: &Path, out: &Path, resume: bool, args: &ConfigArgs) -> Result<()> {
    let ds =
        Dataset::load(data_path).with_context(|| format!("loading {}", data_path.display()))?;
    let run = if resume {
        RunDir::open(out)?
    } else {
        RunDir::create(out)?
    };
    let cfg = if resume {
        run.read_config()?
    } else {
        build_config(args)?
    };
    let (data, obs_shape) = trajectories(ds);
    let t = Instant::now();
    train_on(&run, cfg, (&data, &obs_shape), resume)?;
    eprintln!(
        "trained in {:.1} s; checkpoint in {}",
        t.elapsed().as_secs_f64(),
        run.checkpoint().display()
    );
    Ok(())
}

/// Trains (or resumes) the world model of `run` on `data` (observations of shape
/// `obs_shape`), logging to `metrics.jsonl`.
fn train_on(
    run: &RunDir,
    mut cfg: RunConfig,
    (data, obs_shape): (&Trajectories, &[usize]),
    resume: bool,
) -> Result<()> {
    data.validate()?;
    let device = compute_device();
    let mut trainer = if resume {
        // Continue with the run's config.toml (identical to the checkpoint's unless the user
        // edited it, e.g. to train for more steps).
        let mut t = load_trainer(&run.checkpoint(), &device)?;
        t.train_config = cfg.train.clone();
        t
    } else {
        let (mean, std) = data.obs_moments();
        cfg.model.obs_dim = data.obs_dim;
        cfg.model.obs_shape = obs_shape.to_vec();
        cfg.model.action_dim = data.action_dim;
        cfg.model.obs_mean = mean;
        cfg.model.obs_std = std;
        cfg.model.action_scale = cfg.env.max_step;
        run.write_config(&cfg)?;
        Trainer::new(
            cfg.model.clone(),
            cfg.objective.clone(),
            cfg.train.clone(),
            &device,
        )?
    };
    let mut metrics = run.metrics(!resume)?;
    let total = trainer.train_config.steps;
    let pb = bar("train", total as u64);
    pb.set_position(trainer.step as u64);
    let checkpoint_every = (total / 4).max(1);
    while trainer.step < total {
        let log = trainer.train_step(data)?;
        if log.step % trainer.train_config.log_every == 0 || log.step + 1 == total {
            writeln!(metrics, "{}", serde_json::to_string(&log)?)?;
            pb.set_message(format!("loss {:.4}", log.loss));
        }
        if trainer.step % checkpoint_every == 0 {
            save_trainer(&trainer, &run.checkpoint())?;
        }
        pb.inc(1);
    }
    pb.finish();
    save_trainer(&trainer, &run.checkpoint())?;
    plot_training(run)?;
    Ok(())
}

/// `plots/training.svg`: every loss term and the collapse diagnostics over training.
fn plot_training(run: &RunDir) -> Result<()> {
    let text = std::fs::read_to_string(run.file("metrics.jsonl"))?;
    let logs: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let series = |name: &str, f: &dyn Fn(&serde_json::Value) -> Option<f64>| Series {
        name: name.to_string(),
        points: logs
            .iter()
            .filter_map(|l| Some((l["step"].as_f64()?, f(l)?)))
            .collect(),
    };
    let mut panels = vec![Panel {
        title: "total loss".into(),
        series: vec![series("total", &|l| l["loss"].as_f64())],
        log_y: true,
    }];
    for (i, name) in ami_jepa::TERM_NAMES.iter().enumerate() {
        panels.push(Panel {
            title: format!("{name} (unweighted)"),
            series: vec![series(name, &|l| l["terms"][i][1].as_f64())],
            log_y: true,
        });
    }
    panels.push(Panel {
        title: "collapse diagnostics".into(),
        series: vec![
            series("mean std", &|l| l["collapse"]["mean_std"].as_f64()),
            series("effective rank", &|l| {
                l["collapse"]["effective_rank"].as_f64()
            }),
        ],
        log_y: false,
    });
    write_atomic(
        &run.plot("training.svg"),
        render(&panels, 2, "step").as_bytes(),
    )
}

/// `ami eval`.
pub fn eval(run_path: &Path, sets: &[String]) -> Result<()> {
    let run = RunDir::open(run_path)?;
    let cfg = run.read_config()?.with_overrides(sets)?;
    cfg.validate()?;
    let report = evaluate(&run, &cfg)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn planner(cfg: &RunConfig, seed: u64) -> Result<Box<dyn Planner>> {
    Ok(match cfg.agent.planner {
        PlannerKind::Mppi => {
            let mut c = cfg.mppi.clone();
            c.seed = c.seed.wrapping_add(seed);
            Box::new(Mppi::new(c)?)
        }
        PlannerKind::Cem => {
            let mut c = cfg.cem.clone();
            c.seed = c.seed.wrapping_add(seed);
            Box::new(Cem::new(c)?)
        }
    })
}

/// Loads the run's world model for planning (one copy per evaluation worker).
fn world_model(run: &RunDir, cfg: &RunConfig) -> Result<JepaWorldModel> {
    let device = compute_device();
    let (model, meta) = load_model(&run.checkpoint(), &device)?;
    Ok(JepaWorldModel::new(
        model,
        device,
        meta.model.obs_dim,
        meta.model.repr_dim,
        meta.model.action_dim,
        cfg.agent.action_repeat,
    )?)
}

/// Plans on the test episodes and writes `report.json` and `plots/episodes.png`.
///
/// Episodes are independent (the planner is reset to its seed at the start of each), so they
/// are spread over one worker per core; the results do not depend on the number of workers.
/// Each worker runs inside its own one-thread rayon pool, so the tensor backend and the
/// planning kernel do not split a worker's work over cores the other workers already use.
fn evaluate(run: &RunDir, cfg: &RunConfig) -> Result<serde_json::Value> {
    let episodes = test_episodes(&cfg.env, cfg.eval.episodes, cfg.eval.seed)?;
    let settings = ActSettings {
        replan_every: cfg.agent.replan_every,
        max_steps: cfg.eval.max_steps,
        terminal_weight: cfg.agent.terminal_weight,
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(episodes.len())
        .max(1);
    let pb = bar("eval", episodes.len() as u64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; episodes.len()]);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
                    pool.install(|| -> Result<()> {
                        let wm = world_model(run, cfg)?;
                        let mut planner = planner(cfg, cfg.train.seed)?;
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let Some(ep) = episodes.get(i) else {
                                return Ok(());
                            };
                            let outcome =
                                run_episode(&cfg.env, &wm, planner.as_mut(), ep, &settings)?;
                            let mut res = results
                                .lock()
                                .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
                            res[i] = Some(outcome);
                            let done: Vec<_> = res.iter().flatten().collect();
                            let ok = done.iter().filter(|o| o.success).count();
                            pb.set_message(format!("success {ok}/{}", done.len()));
                            pb.inc(1);
                        }
                    })
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("an evaluation worker panicked"))??;
        }
        Ok(())
    })?;
    pb.finish();
    let outcomes: Vec<EpisodeOutcome> = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        .into_iter()
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow::anyhow!("an episode was not evaluated"))?;
    let mut report = report_json(cfg, &outcomes);
    report["eval_workers"] = json!(workers);
    write_atomic(
        &run.file("report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let traces: Vec<_> = outcomes
        .iter()
        .take(cfg.eval.plot_episodes)
        .map(|o| o.trace.clone())
        .collect();
    render_episodes_png(&cfg.env, &traces, 4, &run.plot("episodes.png"))?;
    Ok(report)
}

fn report_json(cfg: &RunConfig, outcomes: &[EpisodeOutcome]) -> serde_json::Value {
    let n = outcomes.len().max(1) as f64;
    let rate =
        |f: &dyn Fn(&EpisodeOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as f64 / n;
    let steps: usize = outcomes.iter().map(|o| o.steps).sum();
    let calls: usize = outcomes.iter().map(|o| o.plan_calls).sum();
    let plan_s: f64 = outcomes.iter().map(|o| o.plan_seconds).sum();
    json!({
        "env": "two-rooms",
        "episodes": outcomes.len(),
        "success_rate": rate(&|o| o.success),
        "success_rate_mse1": rate(&|o| o.success_mse1),
        "plan_ms_per_step": 1e3 * plan_s / steps.max(1) as f64,
        "plan_ms_per_call": 1e3 * plan_s / calls.max(1) as f64,
        "mean_episode_steps": steps as f64 / n,
        "mean_min_distance_px": outcomes.iter().map(|o| o.min_distance as f64).sum::<f64>() / n,
        "planner": cfg.agent.planner,
        "observation": cfg.env.obs,
        "backend": format!("{:?}", compute_device()),
    })
}

/// `ami demo`: data → train → eval in one run directory.
pub fn demo(out: &Path, seed: u64, args: &ConfigArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut cfg = build_config(args)?;
    cfg.data.seed = seed;
    cfg.train.seed = seed;
    cfg.validate()?;
    if out.exists() && !out.is_dir() {
        bail!("--out {} exists and is not a directory", out.display());
    }
    let run = RunDir::create(out)?;
    eprintln!(
        "ami demo: two-rooms, {} observations, run directory {}",
        obs_name(&cfg.env),
        out.display()
    );
    let ds = generate(&cfg)?;
    let (data, obs_shape) = trajectories(ds);
    let t_train = Instant::now();
    train_on(&run, cfg.clone(), (&data, &obs_shape), false)?;
    let train_s = t_train.elapsed().as_secs_f64();
    let cfg = run.read_config()?;
    let mut report = evaluate(&run, &cfg)?;
    let total_s = t0.elapsed().as_secs_f64();
    report["train_seconds"] = json!(train_s);
    report["total_seconds"] = json!(total_s);
    write_atomic(
        &run.file("report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn obs_name(env: &TwoRoomsConfig) -> String {
    format!("{:?}", env.obs).to_lowercase()
}
