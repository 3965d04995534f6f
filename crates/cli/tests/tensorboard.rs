//! Training writes a TensorBoard event file beside `metrics.jsonl` holding every scalar of
//! every line, readable by the Rust decoder and, where a Python with `tensorboard` is named by
//! `AMI_TEST_PYTHON`, by TensorBoard's own reader. (Kill and resume: `cli.rs`, whose resume
//! tests compare the event files of the resumed and the uninterrupted runs.)

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{events, ok, tiny_data};

/// Trains the tiny preset for 24 steps, every step logged, into `dir/run`.
fn train(dir: &Path) -> std::path::PathBuf {
    let data = tiny_data(dir, "5");
    let run = dir.join("run");
    ok(&[
        "train",
        "--preset",
        "tiny",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--set",
        "train.steps=24",
        "--set",
        "train.log_every=1",
    ]);
    run
}

/// The scalars each `metrics.jsonl` line should give, read from the JSON independently of
/// the writer: step → tag → value.
fn expected(run: &Path) -> BTreeMap<i64, BTreeMap<String, f32>> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut tags = BTreeMap::new();
        let f = |x: &serde_json::Value| x.as_f64().unwrap() as f32;
        tags.insert("loss/total".to_string(), f(&v["loss"]));
        tags.insert("lr".to_string(), f(&v["lr"]));
        for t in v["terms"].as_array().unwrap() {
            tags.insert(format!("loss/{}", t[0].as_str().unwrap()), f(&t[1]));
        }
        tags.insert("collapse/mean_std".into(), f(&v["collapse"]["mean_std"]));
        tags.insert(
            "collapse/effective_rank".into(),
            f(&v["collapse"]["effective_rank"]),
        );
        out.insert(v["step"].as_i64().unwrap(), tags);
    }
    out
}

#[test]
fn every_logged_scalar_is_in_the_event_file_at_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path());
    let want = expected(&run);
    assert_eq!(want.len(), 24);
    let got = events(&run);
    assert_eq!(got[0], (0, "brain.Event:2".to_string(), Vec::new()));
    let scalars: BTreeMap<i64, BTreeMap<String, f32>> = got[1..]
        .iter()
        .map(|(step, _, s)| (*step, s.iter().cloned().collect()))
        .collect();
    assert_eq!(got.len(), 25, "one event per line, each step once");
    assert_eq!(scalars, want);
    assert!(want[&0].contains_key("loss/prediction"), "{:?}", want[&0]);
    // Wall times are real times, in order.
    let path = run.join("events.out.tfevents.ami");
    let bytes = std::fs::read(&path).unwrap();
    let times: Vec<f64> = ami_io::tfevents::decode_events(&bytes, &path)
        .unwrap()
        .iter()
        .map(|e| e.wall_time)
        .collect();
    assert!(times[0] > 1.6e9, "{times:?}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// Reads the run's events with TensorBoard's `EventAccumulator`; prints tag → [[step, value]].
const READER: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
"#;

#[test]
fn tensorboard_reads_the_event_file() {
    let Ok(python) = std::env::var("AMI_TEST_PYTHON") else {
        eprintln!("skipped: set AMI_TEST_PYTHON to a Python with `tensorboard` installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path());
    let out = std::process::Command::new(&python)
        .args(["-c", READER])
        .arg(&run)
        .output()
        .expect("run AMI_TEST_PYTHON");
    assert!(
        out.status.success(),
        "TensorBoard's reader failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: BTreeMap<String, Vec<(i64, f32)>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut want: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for (step, tags) in expected(&run) {
        for (tag, v) in tags {
            want.entry(tag).or_default().push((step, v));
        }
    }
    assert_eq!(read, want);
}
