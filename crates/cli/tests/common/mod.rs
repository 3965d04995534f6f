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

/// Reads a JSON file written by `ami`, failing the test with the path when it cannot.
#[allow(dead_code)] // not every test binary reads JSON files
pub fn json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}
