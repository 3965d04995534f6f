#![cfg(unix)] // the fake servers are `sh` scripts
//! The bridge against fake servers (no Python needed): the framing over a real pipe, and the
//! failures a real server can have — dead, hung, malformed, a refusal — each an error naming
//! the environment, never a hang.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use ami_envs::bridge::protocol::{Array, Message};
use ami_envs::bridge::remote::RemoteEnv;
use ami_envs::bridge::server::EnvServer;
use ami_envs::bridge::spec::RemoteSpec;
use ami_envs::bridge::BridgeFailure;
use ami_envs::{Env, EnvError};
use serde_json::json;

const LABEL: &str = "gym:Fake-v0";

/// A server that plays back `replies` (one per request, in order) and then waits for its
/// input to close: `sh -c 'cat FILE; cat > /dev/null'`.
fn canned(replies: &[Message], dir: &tempfile::TempDir, timeout: Duration) -> EnvServer {
    let path = dir.path().join("replies.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    for r in replies {
        f.write_all(&r.encode()).unwrap();
    }
    drop(f);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("cat '{}'; cat > /dev/null", path.display()));
    EnvServer::spawn(LABEL, cmd, timeout).unwrap()
}

fn sh(script: &str, timeout: Duration) -> EnvServer {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    EnvServer::spawn(LABEL, cmd, timeout).unwrap()
}

fn failure(e: &EnvError) -> BridgeFailure {
    match e {
        EnvError::Bridge { failure, env, .. } => {
            assert_eq!(env, LABEL);
            failure.clone()
        }
        other => panic!("not a bridge error: {other}"),
    }
}

fn spec() -> RemoteSpec {
    RemoteSpec {
        label: LABEL.into(),
        open: json!({"op": "open"}),
        timeout: Duration::from_secs(5),
        success_radius: 0.5,
        goal_steps: 1,
        goal: None,
        angles: vec![0],
    }
}

fn obs_state(obs: &[f64], state: &[f64]) -> Message {
    Message::new(json!({"ok": true}))
        .with(Array::f32("obs", obs.to_vec()))
        .with(Array::f64("state", state.to_vec()))
}

fn open_reply(low: f64, high: f64) -> Message {
    Message::new(json!({"ok": true, "info": {
        "obs_shape": [3], "state_dim": 2, "state_kind": "classic", "python": "fake",
        "goal_dims": null, "action": {"kind": "box", "low": [low], "high": [high]}}}))
}

#[test]
fn a_remote_env_runs_on_a_fake_server() {
    let dir = tempfile::tempdir().unwrap();
    let replies = [
        open_reply(-2.0, 2.0),
        obs_state(&[1.0, 0.0, 0.5], &[0.0, 0.5]),
        obs_state(&[0.0, 1.0, -1.0], &[1.5, -1.0]),
        obs_state(&[0.5, 0.5, 2.0], &[0.25, 2.0]),
        // A reply of the wrong size.
        obs_state(&[0.5], &[0.25, 2.0]),
    ];
    let server = canned(&replies, &dir, Duration::from_secs(5));
    let mut env = RemoteEnv::open_on(server, &spec()).unwrap();
    assert_eq!(env.obs_shape(), vec![3]);
    assert_eq!(env.action_space().dim, 1);
    assert_eq!(env.action_space().max_norm, 2.0);
    assert_eq!(env.observe(), vec![1.0, 0.0, 0.5]);
    let step = env.step(&[0.3]).unwrap();
    assert_eq!(step.obs, vec![0.0, 1.0, -1.0]);
    assert_eq!(step.state, vec![1.5, -1.0]);
    assert_eq!(env.reset_to(&[0.25, 2.0]).unwrap(), vec![0.5, 0.5, 2.0]);
    assert_eq!(env.state_f64(), &[0.25, 2.0]);
    // Angle 0 is compared modulo 2π.
    let e = env.goal_error(&[2.0 * std::f32::consts::PI - 0.1, 1.0], &[0.0, 1.0]);
    assert!((e[0] + 0.1).abs() < 1e-5 && e[1] == 0.0, "{e:?}");
    let err = env.step(&[0.0]).unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::Malformed);
    assert!(err.to_string().contains("expected 3"), "{err}");
    // Bad input never reaches the server.
    assert!(matches!(
        env.step(&[f32::NAN]),
        Err(EnvError::InvalidAction(_))
    ));
    assert!(matches!(
        env.step(&[0.0, 1.0]),
        Err(EnvError::InvalidAction(_))
    ));
}

#[test]
fn the_framing_crosses_a_pipe_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let reply = Message::new(json!({"ok": true, "note": "é"}))
        .with(Array::f64(
            "state",
            vec![std::f64::consts::PI, -0.0, 1e-300],
        ))
        .with(Array::f32("obs", vec![0.1f32.into(); 1000]));
    let mut server = canned(std::slice::from_ref(&reply), &dir, Duration::from_secs(5));
    let got = server.call(&Message::new(json!({"op": "reset"}))).unwrap();
    assert_eq!(got, reply);
}

#[test]
fn a_dead_server_is_an_error_not_a_hang() {
    let t = Instant::now();
    let mut server = sh(
        "echo 'Traceback: boom' >&2; exit 3",
        Duration::from_secs(20),
    );
    let err = server
        .call(&Message::new(json!({"op": "reset"})))
        .unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::Crashed);
    let text = err.to_string();
    assert!(text.contains("exit") && text.contains("boom"), "{text}");
    assert!(text.contains("ami envs setup"), "{text}");
    // It stays dead, and says so again.
    let again = server
        .call(&Message::new(json!({"op": "reset"})))
        .unwrap_err();
    assert_eq!(failure(&again), BridgeFailure::Crashed);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn a_hung_server_times_out_and_is_killed() {
    let t = Instant::now();
    let mut server = sh("sleep 30", Duration::from_millis(300));
    let err = server
        .call(&Message::new(json!({"op": "step"})))
        .unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::Timeout);
    assert!(err.to_string().contains("`step`"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn malformed_replies_and_refusals_are_named() {
    let mut server = sh("printf 'garbage'; sleep 5", Duration::from_secs(5));
    let err = server
        .call(&Message::new(json!({"op": "reset"})))
        .unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::Malformed);
    let dir = tempfile::tempdir().unwrap();
    let refusals = [
        Message::new(json!({"ok": false, "error": "unknown_env", "message": "no Fake-v0"})),
        Message::new(
            json!({"ok": false, "error": "missing_package", "package": "mujoco",
                            "message": "cannot import mujoco"}),
        ),
        Message::new(json!({"no": "ok field"})),
    ];
    let mut server = canned(&refusals, &dir, Duration::from_secs(5));
    let ask = Message::new(json!({"op": "open"}));
    let err = server.call(&ask).unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::UnknownEnv);
    assert!(err.to_string().contains("no Fake-v0") && err.to_string().contains("env.id"));
    let err = server.call(&ask).unwrap_err();
    assert_eq!(
        failure(&err),
        BridgeFailure::MissingPackage("mujoco".into())
    );
    assert!(err.to_string().contains("ami envs setup"), "{err}");
    let err = server.call(&ask).unwrap_err();
    assert_eq!(failure(&err), BridgeFailure::Malformed);
}

#[test]
fn discrete_action_spaces_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let open = Message::new(json!({"ok": true, "info": {
        "obs_shape": [4], "state_dim": 4, "state_kind": "classic", "python": "fake",
        "action": {"kind": "discrete", "n": 2}}}));
    let server = canned(&[open], &dir, Duration::from_secs(5));
    let err = RemoteEnv::open_on(server, &spec()).err().unwrap();
    assert_eq!(failure(&err), BridgeFailure::Unsupported);
    assert!(err.to_string().contains("Discrete(2)"), "{err}");
}

#[test]
fn a_missing_interpreter_says_what_to_install() {
    let cmd = Command::new("/nonexistent/ami-python");
    let err = EnvServer::spawn(LABEL, cmd, Duration::from_secs(1))
        .err()
        .unwrap();
    assert_eq!(failure(&err), BridgeFailure::NoPython);
    assert!(err.to_string().contains("ami envs setup"), "{err}");
}
