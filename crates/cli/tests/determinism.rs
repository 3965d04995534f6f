//! Same seed, same run: `ami demo` writes the same bytes every time and on any number of
//! threads — every file of the run directory, checkpoints (burn's records with their parameter
//! ids and AdamW state) included. The only exceptions are the lock file (it names the process),
//! the wall-clock fields of the reports (`*_seconds`, `plan_ms_*`), which are compared with
//! those fields removed, and the TensorBoard event file, whose events are compared with their
//! `wall_time` removed (step, tags and values are compared; the file must decode whole).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the tiny demo with seed 3 into `out`, with `threads` rayon threads (`None`: the default).
fn demo(out: &Path, threads: Option<usize>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ami"));
    cmd.args(["demo", "--preset", "tiny", "--seed", "3", "--out"])
        .arg(out);
    match threads {
        Some(n) => cmd.env("RAYON_NUM_THREADS", n.to_string()),
        None => cmd.env_remove("RAYON_NUM_THREADS"),
    };
    let res = cmd.output().expect("run ami");
    assert!(
        res.status.success(),
        "ami demo failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Every regular file under `dir`, by path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Whether a report key holds a wall-clock measurement.
fn is_timing(key: &str) -> bool {
    key.ends_with("_seconds") || key.starts_with("plan_ms_")
}

/// The JSON with every wall-clock field removed, at any depth.
fn without_timing(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter(|(k, _)| !is_timing(k))
            .map(|(k, v)| (k, without_timing(v)))
            .collect(),
        serde_json::Value::Array(a) => a.into_iter().map(without_timing).collect(),
        other => other,
    }
}

/// Asserts that runs `a` and `b` hold the same files with the same contents (see the module docs).
fn assert_same_run(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "{what}: different files"
    );
    assert!(fa.len() >= 10, "only {} files in the run", fa.len());
    for (rel, bytes) in &fa {
        let other = &fb[rel];
        if rel.file_name().is_some_and(|n| n == "run.lock") {
            continue;
        }
        if rel
            .file_name()
            .is_some_and(|n| n == "events.out.tfevents.ami")
        {
            let parse = |b: &[u8]| {
                let events = ami_io::tfevents::decode_events(b, rel).unwrap();
                events
                    .into_iter()
                    .map(|e| (e.step, e.kind))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                parse(bytes),
                parse(other),
                "{what}: {} differs",
                rel.display()
            );
        } else if rel.file_name().is_some_and(|n| n == "report.json") {
            let parse = |b: &[u8]| without_timing(serde_json::from_slice(b).unwrap());
            assert_eq!(
                parse(bytes),
                parse(other),
                "{what}: {} differs",
                rel.display()
            );
        } else {
            assert!(bytes == other, "{what}: {} differs", rel.display());
        }
    }
}

#[test]
fn the_same_seed_writes_the_same_run_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, threads| {
        let out = dir.path().join(name);
        demo(&out, threads);
        out
    };
    let first = run("first", None);
    let again = run("again", None);
    assert_same_run(&first, &again, "second run");
    for f in ["model.bpk", "optimizer.bpk", "model.safetensors"] {
        assert!(first.join("checkpoint").join(f).is_file(), "{f} missing");
    }
    let one = run("one-thread", Some(1));
    assert_same_run(&first, &one, "one thread");
    let three = run("three-threads", Some(3));
    assert_same_run(&first, &three, "three threads");
}

#[test]
fn timing_fields_are_the_only_ones_ignored() {
    let v = serde_json::json!({
        "total_seconds": 1.0, "plan_ms_per_step": 2.0, "success_rate": 0.5,
        "nested": [{ "train_seconds": 3.0, "episodes": 4 }]
    });
    assert_eq!(
        without_timing(v),
        serde_json::json!({ "success_rate": 0.5, "nested": [{ "episodes": 4 }] })
    );
}
