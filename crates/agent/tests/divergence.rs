//! The divergence guard of `fit` on real tiny runs: a NaN forced by an absurd learning rate, a
//! collapse forced by removing the variance, covariance and inverse-dynamics terms, and a
//! healthy run that must not trigger it.

use std::path::Path;

use ami_agent::pipeline::{fit, generate_data, FitOptions, Preset, RunConfig, RunDir, Silent};
use ami_agent::AgentError;
use ami_envs::Dataset;
use ami_jepa::checkpoint::{load_meta, load_trainer};
use ami_jepa::OnDivergence;
use serde_json::Value;

/// The tiny preset on 20 trajectories, `steps` steps, every step logged, with `sets`.
fn config(steps: usize, sets: &[&str]) -> RunConfig {
    let mut all = vec![
        "data.trajectories=20".to_string(),
        format!("train.steps={steps}"),
        "train.log_every=1".to_string(),
    ];
    all.extend(sets.iter().map(|s| s.to_string()));
    RunConfig::preset(Preset::Tiny)
        .with_overrides(&all)
        .unwrap()
}

fn data(cfg: &RunConfig) -> Dataset {
    generate_data(cfg, &Silent).unwrap()
}

fn lines(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn divergences(run: &Path) -> Vec<Value> {
    lines(run)
        .into_iter()
        .filter(|l| l.get("divergence").is_some())
        .collect()
}

fn bytes(run: &Path, f: &str) -> Vec<u8> {
    std::fs::read(run.join(f)).unwrap()
}

/// The error of a run expected to fail.
fn diverged<T>(r: Result<T, AgentError>) -> AgentError {
    match r {
        Ok(_) => panic!("training did not diverge"),
        Err(e) => e,
    }
}

const WEIGHTS: &str = "checkpoint/model.safetensors";

/// A 40-step run stopped at its checkpoint at step 10, whose learning rate is then raised so
/// that the first step after the checkpoint makes the loss NaN (lr_at(10) = 1.0 · 11/100;
/// 0.5 · 11/100 trains: measured).
fn nan_after_checkpoint(run: &RunDir, on: OnDivergence) -> (RunConfig, Dataset, RunConfig) {
    let good = config(40, &[]);
    let ds = data(&good);
    let stop = FitOptions {
        resume: false,
        stop_after: Some(10),
    };
    fit(run, &good, &ds, stop, &Silent).unwrap();
    let mut bad = good
        .clone()
        .with_overrides(&["train.lr=1.0".into()])
        .unwrap();
    bad.guard.on_divergence = on;
    (good, ds, bad)
}

const RESUME: FitOptions = FitOptions {
    resume: true,
    stop_after: None,
};

#[test]
fn a_nan_stops_the_run_keeping_the_last_good_checkpoint_which_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(&dir.path().join("run")).unwrap();
    let (good, ds, bad) = nan_after_checkpoint(&run, OnDivergence::Stop);
    // burn's autodiff overflows to a NaN at step 11; the dense engine (the default), which
    // sums squares in f64, reports a finite 5e35 there, an explosion (tested below).
    let bad = bad
        .with_overrides(&["train.engine=\"burn\"".into()])
        .unwrap();
    let before = bytes(&run.root, WEIGHTS);
    let err = diverged(fit(&run, &bad, &ds, RESUME, &Silent));
    assert!(
        matches!(err, AgentError::Diverged { step: 11, .. }),
        "{err}"
    );
    let msg = err.to_string();
    for words in [
        "training diverged at step 11",
        "loss is not finite",
        "last good checkpoint is",
        "(step 10)",
        "divergence.json",
    ] {
        assert!(msg.contains(words), "{words:?} not in {msg}");
    }
    let rec = divergences(&run.root);
    assert_eq!(rec.len(), 1);
    let d = &rec[0]["divergence"];
    assert_eq!(rec[0]["step"], 11);
    assert_eq!(
        (&d["kind"], &d["what"], &d["action"], &d["checkpoint_step"]),
        (
            &"non_finite".into(),
            &"loss".into(),
            &"stop".into(),
            &10.into()
        )
    );
    let file: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(run.file("divergence.json")).unwrap())
            .unwrap();
    assert_eq!(file, rec);
    // The diverged state was not checkpointed: the checkpoint at step 10 is untouched.
    assert_eq!(load_meta(&run.checkpoint()).unwrap().step, 10);
    assert!(bytes(&run.root, WEIGHTS) == before);
    load_trainer(
        &run.checkpoint(),
        &ami_agent::pipeline::fit::compute_device(),
    )
    .unwrap();
    // Resumed with the good learning rate, it ends where a run that never diverged ends.
    fit(&run, &good, &ds, RESUME, &Silent).unwrap();
    let whole = RunDir::create(&dir.path().join("whole")).unwrap();
    fit(&whole, &good, &ds, FitOptions::default(), &Silent).unwrap();
    assert!(bytes(&run.root, WEIGHTS) == bytes(&whole.root, WEIGHTS));
    assert!(divergences(&run.root).is_empty() && !run.file("divergence.json").exists());
    assert_eq!(lines(&run.root), lines(&whole.root));
}

#[test]
fn a_rollback_reloads_the_checkpoint_scales_the_learning_rate_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(&dir.path().join("run")).unwrap();
    let (_, ds, mut bad) = nan_after_checkpoint(&run, OnDivergence::Rollback);
    // Half of lr = 1 trains to a loss 1e4 times the first one (an explosion) by step 40: a
    // tenth trains (measured).
    bad.guard.lr_factor = 0.1;
    let parts = dir.path().join("parts");
    copy_dir(&run.root, &parts);
    let t = fit(&run, &bad, &ds, RESUME, &Silent).unwrap();
    assert_eq!((t.step, t.guard.lr_scale, t.guard.rollbacks), (40, 0.1, 1));
    assert_eq!(load_meta(&run.checkpoint()).unwrap().guard, t.guard);
    // Steps 0..10, the record of the divergence at step 11, then steps 10..40 at a tenth of
    // the learning rate: every step logged once.
    let logs = lines(&run.root);
    let steps: Vec<u64> = logs.iter().map(|l| l["step"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (0..10).chain([11]).chain(10..40).collect();
    assert_eq!(steps, expected);
    let d = &logs[10]["divergence"];
    assert_eq!(
        (&d["action"], &d["lr_scale"], &d["checkpoint_step"]),
        (&"rollback".into(), &0.1.into(), &10.into())
    );
    for l in &logs[11..] {
        let step = l["step"].as_u64().unwrap() as usize;
        // serde_json's default float parser may be one ulp off: compare to 1e-12.
        let lr = bad.train.lr_at(step) * 0.1;
        assert!((l["lr"].as_f64().unwrap() - lr).abs() <= 1e-12 * lr, "{l}");
    }
    assert!(run.plot("training.svg").is_file());
    // Interrupted after the rollback and resumed: the same weights and log.
    let parts = RunDir::create(&parts).unwrap();
    let mid = FitOptions {
        resume: true,
        stop_after: Some(25),
    };
    fit(&parts, &bad, &ds, mid, &Silent).unwrap();
    assert_eq!(load_meta(&parts.checkpoint()).unwrap().guard.lr_scale, 0.1);
    fit(&parts, &bad, &ds, RESUME, &Silent).unwrap();
    assert!(bytes(&run.root, WEIGHTS) == bytes(&parts.root, WEIGHTS));
    assert_eq!(lines(&run.root), lines(&parts.root));
}

#[test]
fn a_rollback_before_the_first_checkpoint_restarts_from_the_initial_weights() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    // lr_at(0) = 10 / 100 makes the loss of step 1 NaN; a hundredth of it trains (measured;
    // a half explodes).
    let cfg = config(
        30,
        &[
            "train.lr=10.0",
            "guard.on_divergence=\"rollback\"",
            "guard.lr_factor=0.01",
        ],
    );
    let t = fit(&run, &cfg, &data(&cfg), FitOptions::default(), &Silent).unwrap();
    assert_eq!((t.step, t.guard.lr_scale), (30, 0.01));
    let logs = lines(&run.root);
    assert_eq!(logs[0]["divergence"]["checkpoint_step"], Value::Null);
    assert_eq!(logs[0]["step"], 1);
    assert_eq!(logs[1]["step"], 0);
    let lr = cfg.train.lr_at(0) * 0.01;
    assert!((logs[1]["lr"].as_f64().unwrap() - lr).abs() <= 1e-12 * lr);
    assert_eq!(logs.len(), 31);
    // The restart is the initial weights: its first loss is the first run's.
    assert_eq!(
        t.guard.first_loss,
        Some(logs[1]["loss"].as_f64().unwrap() as f32)
    );
}

#[test]
fn an_exploding_loss_stops_the_run_before_it_is_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    // lr_at(0) = 2.5 / 100: finite, but the loss of step 1 is 1e4 times the first (measured).
    let cfg = config(30, &["train.lr=2.5"]);
    let msg = diverged(fit(&run, &cfg, &data(&cfg), FitOptions::default(), &Silent)).to_string();
    assert!(
        msg.contains("at step 1: loss explosion: loss = ")
            && msg.contains("> guard.max_loss_ratio × the first step's loss = 1.250e4"),
        "{msg}"
    );
    assert!(!run.checkpoint().join("checkpoint.json").exists());
    let d = &divergences(&run.root)[0]["divergence"];
    assert_eq!(
        (&d["kind"], &d["what"]),
        (&"explosion".into(), &"loss".into())
    );
    assert!(d["value"].as_f64().unwrap() > 1.25e4, "{d}");
}

#[test]
fn a_non_finite_parameter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    // An update of 1e39 overflows f32: the weights are infinite after step 0.
    let cfg = config(30, &["train.lr=1e39", "train.warmup_steps=0"]);
    let err = diverged(fit(&run, &cfg, &data(&cfg), FitOptions::default(), &Silent));
    let msg = err.to_string();
    assert!(
        msg.contains("at step 0: parameter `") && msg.contains("no checkpoint was written"),
        "{msg}"
    );
    assert!(!run.checkpoint().join("checkpoint.json").exists());
    let rec = divergences(&run.root);
    assert!(rec[0]["divergence"]["what"]
        .as_str()
        .unwrap()
        .starts_with("parameter `"));
}

/// Without the variance, covariance and inverse-dynamics terms the representation collapses
/// (mean std ≈ 0.002 from step 200 on; healthy ≥ 0.67).
const COLLAPSE: [&str; 4] = [
    "objective.variance=0",
    "objective.covariance=0",
    "objective.inverse_dynamics=0",
    "train.log_every=10",
];

#[test]
fn a_collapse_stops_the_run_with_the_value_and_the_threshold_and_rollbacks_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(&dir.path().join("stop")).unwrap();
    let cfg = config(400, &COLLAPSE);
    let ds = data(&cfg);
    let err = diverged(fit(&run, &cfg, &ds, FitOptions::default(), &Silent));
    let msg = err.to_string();
    // Checks from step 200 (guard.check_after), three failures in a row: 200, 210, 220.
    for words in [
        "training diverged at step 220: representation collapse: mean_std = 0.00",
        "< guard.min_std = 0.02 on 3 logged checks in a row",
        "(step 200)",
    ] {
        assert!(msg.contains(words), "{words:?} not in {msg}");
    }
    let d = &divergences(&run.root)[0]["divergence"];
    assert_eq!(
        (&d["kind"], &d["threshold"]),
        (&"collapse".into(), &0.02.into())
    );
    assert!(d["value"].as_f64().unwrap() < 0.01, "{d}");
    assert_eq!(load_meta(&run.checkpoint()).unwrap().step, 200);

    // Rolling back cannot cure an objective that collapses: after guard.max_rollbacks it stops.
    let run = RunDir::create(&dir.path().join("rollback")).unwrap();
    let cfg = cfg
        .with_overrides(&[
            "guard.on_divergence=\"rollback\"".into(),
            "guard.max_rollbacks=1".into(),
        ])
        .unwrap();
    let msg = diverged(fit(&run, &cfg, &ds, FitOptions::default(), &Silent)).to_string();
    assert!(msg.contains("after 1 rollback(s)"), "{msg}");
    let actions: Vec<Value> = divergences(&run.root)
        .iter()
        .map(|l| l["divergence"]["action"].clone())
        .collect();
    assert_eq!(actions, [Value::from("rollback"), Value::from("stop")]);
    assert_eq!(load_meta(&run.checkpoint()).unwrap().guard.lr_scale, 0.5);
}

#[test]
fn a_healthy_tiny_run_does_not_trigger_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    let cfg = config(800, &[]);
    let t = fit(&run, &cfg, &data(&cfg), FitOptions::default(), &Silent).unwrap();
    assert_eq!((t.step, t.guard.rollbacks, t.guard.lr_scale), (800, 0, 1.0));
    assert!(divergences(&run.root).is_empty());
    assert!(!run.file("divergence.json").exists());
}

#[test]
fn the_guard_section_is_optional_checked_and_named_in_errors() {
    let base = RunConfig::preset(Preset::Tiny);
    let old = RunConfig::from_toml_str("[train]\nsteps = 5\n", "old.toml", &base).unwrap();
    assert_eq!(old.guard, ami_jepa::GuardConfig::default());
    for (set, words) in [
        ("guard.lr_factor=1.5", "guard.lr_factor"),
        ("guard.patience=0", "guard.patience"),
        ("guard.on_divergence=\"maybe\"", "maybe"),
        ("guard.typo=1", "typo"),
    ] {
        let err = base
            .clone()
            .with_overrides(&[set.into()])
            .and_then(|c| c.validate().map(|_| c))
            .unwrap_err()
            .to_string();
        assert!(err.contains(words), "{set}: {err}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), dest).unwrap();
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
