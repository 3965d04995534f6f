//! `ami train --on-divergence stop|rollback` on tiny runs forced to diverge.

use std::path::Path;

mod common;
use common::{ami, json, ok};

/// 640 transitions of tiny-preset two-rooms data (seed 0) in `dir/d.npz`.
fn tiny_data(dir: &Path) -> String {
    common::tiny_data(dir, "0").to_str().unwrap().to_string()
}

/// `ami train` of the tiny preset at learning rate 10: lr_at(0) = 0.1 makes the loss of
/// step 1 NaN.
fn absurd_lr<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--preset",
        "tiny",
        "--data",
        data,
        "--out",
        out,
        "--set",
        "train.lr=10",
    ];
    args.extend(extra);
    args
}

fn divergence_lines(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l.get("divergence").is_some())
        .collect()
}

#[test]
fn on_divergence_stop_fails_saying_what_and_where_and_rollback_finishes_at_a_lower_rate() {
    let dir = tempfile::tempdir().unwrap();
    let d = tiny_data(dir.path());
    let stopped = dir.path().join("stopped");
    let s = stopped.to_str().unwrap();
    let out = ami(&absurd_lr(&d, s, &["--on-divergence", "stop"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // Step 1's loss overflows to infinity (burn's autodiff) or stays a finite 1e36 (the dense
    // engine accumulates squares in f64): either is a divergence at step 1.
    assert!(
        err.contains("training diverged at step 1: loss is not finite")
            || err.contains("training diverged at step 1: loss explosion"),
        "no step-1 loss divergence in {err}"
    );
    for words in ["no checkpoint was written before it", "divergence.json"] {
        assert!(err.contains(words), "{words:?} not in {err}");
    }
    let rec = json(&stopped.join("divergence.json"));
    assert_eq!(rec[0]["divergence"]["action"], "stop");
    assert_eq!(divergence_lines(&stopped), rec.as_array().unwrap().clone());
    assert!(!stopped.join("checkpoint/checkpoint.json").exists());

    let rolled = dir.path().join("rolled");
    let r = rolled.to_str().unwrap();
    // Half the rate explodes (loss 1e4 times the first); a hundredth trains (measured).
    let factor = [
        "--on-divergence",
        "rollback",
        "--set",
        "guard.lr_factor=0.01",
    ];
    ok(&absurd_lr(&d, r, &factor));
    let meta = json(&rolled.join("checkpoint/checkpoint.json"));
    assert_eq!(meta["step"], 30);
    assert_eq!(meta["guard"]["lr_scale"], "0.01");
    assert_eq!(meta["guard"]["rollbacks"], 1);
    let rec = divergence_lines(&rolled);
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["divergence"]["action"], "rollback");
    assert!(rolled.join("plots/training.svg").is_file());
    // The flag is written to the run's config as guard.on_divergence.
    let cfg = std::fs::read_to_string(rolled.join("config.toml")).unwrap();
    assert!(cfg.contains("on_divergence = \"rollback\""), "{cfg}");
}

#[test]
fn a_healthy_tiny_run_writes_no_divergence_and_a_bad_flag_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = tiny_data(dir.path());
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&["train", "--preset", "tiny", "--data", &d, "--out", r]);
    assert!(divergence_lines(&run).is_empty());
    assert!(!run.join("divergence.json").exists());
    let out = ami(&[
        "train",
        "--preset",
        "tiny",
        "--data",
        &d,
        "--out",
        r,
        "--on-divergence",
        "maybe",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("guard.on_divergence") && err.contains("maybe"),
        "{err}"
    );
}
