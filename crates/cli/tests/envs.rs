//! `ami envs setup` and `ami data gym` as a user runs them. The tests that need the bridge's
//! Python (`ami envs setup`) print why they skip when it is absent, as on CI.

use std::process::Command;

use ami_envs::bridge::BridgeFailure;
use ami_envs::{Dataset, EnvError, EnvSpec, GymConfig};

mod common;
use common::ok;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether the bridge's Python (with gymnasium) is installed here; says why not.
fn bridge_available() -> bool {
    match GymConfig::default().validate() {
        Ok(()) => true,
        Err(
            e @ EnvError::Bridge {
                failure: BridgeFailure::NoPython | BridgeFailure::MissingPackage(_),
                ..
            },
        ) => {
            eprintln!("SKIPPED: the bridge's Python is not available here ({e})");
            false
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn data_gym_without_python_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ami"))
        .args([
            "data",
            "gym",
            "--id",
            "Pendulum-v1",
            "--transitions",
            "10",
            "--out",
        ])
        .arg(dir.path().join("d.npz"))
        .env("AMI_PYTHON", "")
        .env("AMI_VENV", dir.path().join("no-venv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("gym:Pendulum-v1") && err.contains("ami envs setup"),
        "{err}"
    );
    assert!(!dir.path().join("d.npz").exists());
}

#[test]
fn id_is_only_for_gym() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(["data", "pendulum", "--id", "Pendulum-v1", "--out"])
        .arg(dir.path().join("d.npz"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--id") && err.contains("gym"), "{err}");
}

#[test]
fn setup_reports_a_python_that_cannot_create_the_venv() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let out = Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(["envs", "setup", "--python", "/nonexistent/python3"])
        .env("AMI_VENV", &venv)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&venv.display().to_string()), "{err}");
    assert!(
        err.contains("venv") && err.contains("/nonexistent/python3"),
        "{err}"
    );
}

#[test]
fn data_gym_writes_a_dataset_that_loads() {
    if !bridge_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pendulum.npz");
    let p = path.to_str().unwrap();
    let args = ["data", "gym", "--id", "Pendulum-v1", "--preset", "tiny"];
    ok(&[
        &args[..],
        &["--transitions", "64", "--seed", "3", "--out", p],
    ]
    .concat());
    let ds = Dataset::load(&path).unwrap();
    assert_eq!(ds.env_config.kind(), "gym");
    assert_eq!(ds.obs_shape, vec![3]);
    assert_eq!((ds.action_dim, ds.state_dim), (1, 2));
    assert!(ds.n_traj * ds.traj_len >= 64);
    assert!(ds.actions.iter().all(|a| a.abs() <= 2.0));
    assert!(
        ds.actions.iter().any(|a| a.abs() > 1.0),
        "actions span the box"
    );
    // Each observation is [cos θ, sin θ, θ̇] of its state.
    for (o, s) in ds.observations.chunks(3).zip(ds.states.chunks(2)) {
        assert!((o[0] - s[0].cos()).abs() < 1e-5 && (o[2] - s[1]).abs() < 1e-6);
    }
    // The same seed gives the same file.
    let again = dir.path().join("again.npz");
    let a = again.to_str().unwrap();
    ok(&[
        &args[..],
        &["--transitions", "64", "--seed", "3", "--out", a],
    ]
    .concat());
    assert_eq!(Dataset::load(&again).unwrap().observations, ds.observations);
}
