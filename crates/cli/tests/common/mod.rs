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
