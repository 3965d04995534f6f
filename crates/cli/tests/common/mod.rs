//! Helpers shared by the CLI test binaries: run `ami` as a user would.

use std::process::{Command, Output};

/// Runs the `ami` binary with `args`.
pub fn ami(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(args)
        .output()
        .expect("run ami")
}

/// Runs `ami`, failing the test (with its stderr) unless it succeeds.
pub fn ok(args: &[&str]) -> Output {
    let out = ami(args);
    assert!(
        out.status.success(),
        "ami {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `ami` expecting a clean failure (exit 1, `error: …`, no panic); returns stderr.
#[allow(dead_code)] // not every test binary checks failures
pub fn fails(args: &[&str]) -> String {
    let out = ami(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "ami {args:?}: {err}");
    assert!(
        err.starts_with("error:") && !err.contains("panicked"),
        "{err}"
    );
    err
}

/// Writes 640 transitions of tiny-preset two-rooms data with `seed` to `dir/d.npz` (and its
/// sidecar `dir/d.json`).
#[allow(dead_code)] // not every test binary trains
pub fn tiny_data(dir: &std::path::Path, seed: &str) -> std::path::PathBuf {
    let data = dir.join("d.npz");
    ok(&[
        "data",
        "two-rooms",
        "--preset",
        "tiny",
        "--transitions",
        "640",
        "--seed",
        seed,
        "--out",
        data.to_str().unwrap(),
    ]);
    data
}

/// Writes `n` images of `ami data shapes` (seed 0) to `dir/shapes.npz` (and its sidecar).
#[allow(dead_code)] // not every test binary trains on images
pub fn shapes_data(dir: &std::path::Path, n: &str) -> std::path::PathBuf {
    let data = dir.join("shapes.npz");
    ok(&["data", "shapes", "--n", n, "--out", data.to_str().unwrap()]);
    data
}

/// Reads a JSON file written by `ami`, failing the test with the path when it cannot.
#[allow(dead_code)] // not every test binary reads JSON files
pub fn json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Flattens nested JSON arrays of numbers.
#[allow(dead_code)] // not every test binary compares arrays
pub fn flat(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(flat).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}

/// The shape of nested JSON arrays (`[]` for a scalar).
#[allow(dead_code)] // not every test binary compares arrays
pub fn shape(v: &serde_json::Value) -> Vec<usize> {
    match v {
        serde_json::Value::Array(a) => {
            let mut s = vec![a.len()];
            s.extend(a.first().map(shape).unwrap_or_default());
            s
        }
        _ => vec![],
    }
}

/// One event without its wall time: step, file version (empty for scalars), scalars.
#[allow(dead_code)] // not every test binary reads event files
pub type TimelessEvent = (i64, String, Vec<(String, f32)>);

/// The events of a run's TensorBoard file (`events.out.tfevents.ami`) without their wall
/// times.
#[allow(dead_code)] // not every test binary reads event files
pub fn events(run: &std::path::Path) -> Vec<TimelessEvent> {
    use ami_io::tfevents::{decode_events, EventKind};
    let path = run.join("events.out.tfevents.ami");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_events(&bytes, &path)
        .unwrap()
        .into_iter()
        .map(|e| match e.kind {
            EventKind::FileVersion(v) => (e.step, v, Vec::new()),
            EventKind::Scalars(s) => (
                e.step,
                String::new(),
                s.into_iter().map(|s| (s.tag, s.value)).collect(),
            ),
        })
        .collect()
}
