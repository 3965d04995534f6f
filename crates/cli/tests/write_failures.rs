//! A checkpoint that cannot be written — the disk is full, the directory is read-only — fails
//! the command with an error that names the path, and leaves the previous checkpoint intact:
//! a later `--resume` continues from it to the same weights as an uninterrupted run.
//!
//! "Disk full" is a real write error mid-file: the file-size limit (`ulimit -f`, with SIGXFSZ
//! ignored so that write(2) returns EFBIG instead of killing the process) is set below the size
//! of the checkpoint's weights. "Read-only" is a checkpoint directory without write permission,
//! entered as an unprivileged user (root ignores permissions, so under root the command runs as
//! `nobody` through `setpriv`).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::ok;

const STEPS: &str = "24";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ami")
}

/// A world-readable temporary directory holding tiny-preset data `d.npz`.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = common::tiny_data(dir.path(), "7");
    (dir, data)
}

/// `ami train` of the tiny preset for [`STEPS`] steps, with `extra` arguments.
fn train_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--preset", "tiny", "--data"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(data.to_str().unwrap().into());
    args.push("--out".into());
    args.push(out.to_str().unwrap().into());
    for s in [
        "--set",
        &format!("train.steps={STEPS}"),
        "--set",
        "train.log_every=1",
    ] {
        args.push(s.into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The four files of the run's current checkpoint, by name.
fn checkpoint_files(run: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "checkpoint.json",
        "model.safetensors",
        "model.bpk",
        "optimizer.bpk",
    ]
    .iter()
    .map(|f| {
        let bytes = std::fs::read(run.join("checkpoint").join(f))
            .unwrap_or_else(|e| panic!("checkpoint/{f} unreadable: {e}"));
        (f.to_string(), bytes)
    })
    .collect()
}

/// Runs `ami` with owned arguments, failing the test unless it succeeds.
fn ok_owned(args: &[String]) {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Trains `whole` uninterrupted and `run` stopped at step 12 (a checkpoint); returns the
/// checkpoint files of `run` at that point.
fn whole_and_stopped(data: &Path, whole: &Path, run: &Path) -> Vec<(String, Vec<u8>)> {
    ok_owned(&train_args(data, whole, &[]));
    ok_owned(&train_args(data, run, &["--stop-after", "12"]));
    checkpoint_files(run)
}

/// After the failed save: the command failed naming `path_part`, the checkpoint is the one of
/// step 12 byte for byte, and `--resume` finishes with the uninterrupted run's weights.
fn assert_failed_cleanly(out: &Output, path_part: &str, before: &[(String, Vec<u8>)], run: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the save should have failed");
    assert!(
        stderr.contains(path_part),
        "the error should name {path_part}: {stderr}"
    );
    assert!(
        checkpoint_files(run) == before,
        "the step-12 checkpoint changed"
    );
}

fn resume_to_end_equals(data: &Path, run: &Path, whole: &Path) {
    let out = run.to_str().unwrap();
    ok(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out,
        "--resume",
    ]);
    let f = "checkpoint/model.safetensors";
    assert!(
        std::fs::read(run.join(f)).unwrap() == std::fs::read(whole.join(f)).unwrap(),
        "{f} after the resume differs from the uninterrupted run's"
    );
}

#[test]
fn a_full_disk_fails_the_save_naming_the_file_and_keeps_the_last_checkpoint() {
    let (dir, data) = setup();
    let (whole, run) = (dir.path().join("whole"), dir.path().join("run"));
    let before = whole_and_stopped(&data, &whole, &run);
    let weights = before
        .iter()
        .find(|(f, _)| f == "model.safetensors")
        .unwrap();
    assert!(
        weights.1.len() > 400 * 1024,
        "the weights must exceed the limit below"
    );
    // 400 blocks: 200 KiB in dash (512-byte blocks), 400 KiB in bash; below the weights' size,
    // above everything else the resume writes (config, metrics, checkpoint.json).
    let resume = train_args(&data, &run, &["--resume"]);
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 400; exec \"$@\"")
        .arg("sh")
        .arg(bin())
        .args(&resume)
        .output()
        .unwrap();
    assert_failed_cleanly(&out, "model.safetensors", &before, &run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("File too large").count(), 1, "{stderr}");
    resume_to_end_equals(&data, &run, &whole);
}

#[test]
fn a_read_only_checkpoint_directory_fails_the_save_naming_it_and_keeps_the_last_checkpoint() {
    let (dir, data) = setup();
    let (whole, run) = (dir.path().join("whole"), dir.path().join("run"));
    let before = whole_and_stopped(&data, &whole, &run);
    let ckpt = run.join("checkpoint");
    let root = std::fs::metadata(&data).unwrap().uid() == 0;
    if root {
        // The run belongs to `nobody`, who may write it but not its checkpoint directory.
        chown_tree(&run, 65534);
    }
    std::fs::set_permissions(&ckpt, std::fs::Permissions::from_mode(0o555)).unwrap();
    let resume = train_args(&data, &run, &["--resume"]);
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()]);
        c
    } else {
        Command::new(bin())
    };
    let out = cmd
        .args(&resume)
        .output()
        .expect("run setpriv (util-linux)");
    std::fs::set_permissions(&ckpt, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_failed_cleanly(&out, "checkpoint", &before, &run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("permission denied"),
        "the error should say why: {stderr}"
    );
    if root {
        chown_tree(&run, 0);
    }
    resume_to_end_equals(&data, &run, &whole);
}

/// Gives `dir` and everything in it (links themselves, not their targets) to user and group `id`.
fn chown_tree(dir: &Path, id: u32) {
    std::os::unix::fs::lchown(dir, Some(id), Some(id)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            chown_tree(&path, id);
        } else {
            std::os::unix::fs::lchown(&path, Some(id), Some(id)).unwrap();
        }
    }
}
