//! The whole pipeline end to end, as a user runs it: the `check` preset (state observations,
//! 1000 trajectories, 2000 training steps, MPPI 128 × 4, 30 test episodes) must plan far above
//! chance on a fixed seed (28 of 30 when last measured; untrained: 0 of 10), and the same pipeline with an
//! untrained world model (the negative control: `train.steps = 0`) must fail.

use std::path::Path;

mod common;
use common::ok;

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn demo(out: &Path, sets: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "demo",
        "--preset",
        "check",
        "--seed",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    ok(&args);
    report(out)
}

#[test]
fn the_check_preset_plans_far_above_chance_and_an_untrained_model_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let trained = demo(&dir.path().join("trained"), &[]);
    let rate = trained["success_rate"].as_f64().unwrap();
    assert_eq!(trained["episodes"], 30);
    assert!(
        rate >= 0.8,
        "success rate {rate} of the trained check preset"
    );
    let untrained = demo(
        &dir.path().join("untrained"),
        &["train.steps=0", "eval.episodes=10", "eval.max_steps=100"],
    );
    let chance = untrained["success_rate"].as_f64().unwrap();
    assert!(chance <= 0.1, "untrained model: success rate {chance}");
}
