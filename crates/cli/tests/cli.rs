//! The `ami` binary run as a user would, on the tiny preset.

use std::path::Path;

mod common;
use common::{ami, events, ok, tiny_data};

/// The `step` of every line of a run's `metrics.jsonl`, and the file's text.
fn logged_steps(run: &Path) -> (Vec<u64>, String) {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let steps = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    (steps, text)
}

/// `ami train` of the tiny preset on `data` into `out` for `steps` steps, every step logged.
fn train_args(data: &str, out: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "--preset",
        "tiny",
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--set",
        &format!("train.steps={steps}"),
        "--set",
        "train.log_every=1",
    ]
    .map(String::from)
    .to_vec()
}

/// Resumes the killed run `killed` on `data` to its end, then checks that its weights and
/// `metrics.jsonl` are byte-identical to the uninterrupted run `whole`'s, and its TensorBoard
/// events the same but for their wall times.
fn resume_equals_uninterrupted(data: &str, killed: &Path, whole: &Path) {
    ok(&[
        "train",
        "--data",
        data,
        "--out",
        killed.to_str().unwrap(),
        "--resume",
    ]);
    let f = "checkpoint/model.safetensors";
    assert!(
        std::fs::read(whole.join(f)).unwrap() == std::fs::read(killed.join(f)).unwrap(),
        "{f} differs after the kill and resume"
    );
    assert_eq!(logged_steps(whole).1, logged_steps(killed).1);
    assert_eq!(events(whole), events(killed));
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn demo_on_the_tiny_preset_writes_the_run_directory_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    let r = report(&out);
    assert_eq!(r["env"], "two-rooms");
    assert_eq!(r["episodes"], 4);
    assert_eq!(r["actor"], "planner");
    for key in ["success_rate", "success_rate_mse1"] {
        let v = r[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    for key in ["plan_ms_per_step", "train_seconds", "total_seconds"] {
        assert!(r[key].as_f64().unwrap() > 0.0, "{key}");
    }
    for f in [
        "config.toml",
        "metrics.jsonl",
        "checkpoint/model.safetensors",
        "checkpoint/checkpoint.json",
        "plots/training.svg",
        "plots/episodes.png",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    // Image observations get the conv encoder by default (`model.encoder = "auto"`).
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(cfg.contains("encoder = \"auto\""), "{cfg}");
    let st = std::fs::read(out.join("checkpoint/model.safetensors")).unwrap();
    let header = String::from_utf8_lossy(&st[..st.len().min(4096)]);
    assert!(header.contains("encoder_conv.layers.0.weight"), "{header}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert_eq!(first["terms"].as_array().unwrap().len(), 5);
}

#[test]
fn data_train_resume_and_eval_compose() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.npz");
    let run = dir.path().join("run");
    let (d, r) = (data.to_str().unwrap(), run.to_str().unwrap());
    ok(&[
        "data",
        "two-rooms",
        "--transitions",
        "640",
        "--seed",
        "1",
        "--out",
        d,
    ]);
    assert!(dir.path().join("d.json").is_file());
    ok(&[
        "train",
        "--preset",
        "tiny",
        "--data",
        d,
        "--out",
        r,
        "--set",
        "train.steps=10",
    ]);
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoint/checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["step"], 10);
    // Resume to 20 steps: the config on disk is edited as a user would.
    let cfg = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("steps = 10", "steps = 20");
    std::fs::write(run.join("config.toml"), cfg).unwrap();
    ok(&["train", "--data", d, "--out", r, "--resume"]);
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoint/checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["step"], 20);
    let out = ok(&[
        "eval",
        "--run",
        r,
        "--set",
        "planner.kind=\"cem\"",
        "--set",
        "eval.episodes=2",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["planner"], "cem");
    assert_eq!(report(&run)["episodes"], 2);
    assert_eq!(report(&run)["split"], "test");
    // Validation tasks go to their own report; the test report is left alone.
    let test_report = std::fs::read(run.join("report.json")).unwrap();
    let out = ok(&[
        "eval",
        "--run",
        r,
        "--split",
        "val",
        "--set",
        "eval.episodes=2",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["split"], "val");
    assert!(run.join("report_val.json").is_file());
    assert_eq!(std::fs::read(run.join("report.json")).unwrap(), test_report);
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.npz");
    let out = ami(&[
        "train",
        "--data",
        missing.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");

    // Each `--set` list must fail before anything runs, naming every expected word.
    let run = dir.path().join("r");
    for (sets, words) in [
        (&["mppi.samplez=3"][..], &["mppi.samplez"][..]),
        (&["env.max_step=-2"], &["env.max_step"]),
        (
            &["env.obs=\"state\"", "model.encoder=\"conv\""],
            &["model.encoder", "image"],
        ),
    ] {
        let mut args = vec!["demo", "--preset", "tiny", "--out", run.to_str().unwrap()];
        for set in sets {
            args.extend(["--set", set]);
        }
        let out = ami(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sets:?} succeeded");
        for w in words {
            assert!(err.contains(w), "{sets:?}: {w:?} not in {err}");
        }
    }

    let out = ami(&["eval", "--run", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not a run directory"),
        "{err}"
    );
}

#[test]
fn an_interrupted_and_resumed_run_equals_an_uninterrupted_one_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_data(dir.path(), "4");
    let d = data.to_str().unwrap();
    let train = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--preset",
            "tiny",
            "--data",
            d,
            "--out",
            out.to_str().unwrap(),
            "--set",
            "train.steps=24",
            "--set",
            "train.log_every=1",
        ];
        args.extend(extra);
        ok(&args);
    };
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    train(&whole, &[]);
    // Stopped at step 10: the last checkpoint is at step 10 (cadence 24/4 = 6 → 6, then the stop).
    train(&parts, &["--stop-after", "10"]);
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(parts.join("checkpoint/checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["step"], 10);
    ok(&[
        "train",
        "--data",
        d,
        "--out",
        parts.to_str().unwrap(),
        "--resume",
    ]);
    // The weights and burn's records of the weights and of the AdamW state (parameter ids
    // included) are bit-identical.
    let bytes = |run: &Path, f: &str| std::fs::read(run.join(f)).unwrap();
    for f in [
        "checkpoint/model.safetensors",
        "checkpoint/model.bpk",
        "checkpoint/optimizer.bpk",
        "checkpoint/checkpoint.json",
    ] {
        assert!(bytes(&whole, f) == bytes(&parts, f), "{f} differs");
    }
    // Every step is logged once, and the logs are identical (TensorBoard's but for times).
    assert_eq!(events(&whole), events(&parts));
    let (steps, text) = logged_steps(&parts);
    assert_eq!(steps, (0..24).collect::<Vec<u64>>());
    assert_eq!(logged_steps(&whole).1, text);
}

#[test]
fn the_second_environment_runs_through_the_same_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pendulum");
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--set",
        "env.kind=\"pendulum\"",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = report(&out);
    assert_eq!(r["env"], "pendulum");
    assert_eq!(r["observation"], "state");
    assert!(r.get("success_rate_mse1").is_none(), "{r}");
    assert!(out.join("plots/episodes.png").is_file());
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        cfg.contains("kind = \"pendulum\"") && cfg.contains("max_torque"),
        "{cfg}"
    );
    // Its data: 1-D torques within the bound, 3-D observations, (θ, θ̇) states.
    let data = dir.path().join("p.npz");
    ok(&[
        "data",
        "pendulum",
        "--transitions",
        "64",
        "--out",
        data.to_str().unwrap(),
    ]);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(side["env"], "pendulum");
    assert_eq!(side["obs_shape"], serde_json::json!([3]));
    let out = ami(&["data", "nope", "--out", data.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("two-rooms, pendulum"),
        "{err}"
    );
}

#[test]
fn a_run_killed_between_checkpoints_resumes_to_the_same_weights_logging_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_data(dir.path(), "0");
    let d = data.to_str().unwrap();
    // 800 steps: checkpoints every 200; every step logged.
    let args = |out: &Path| train_args(d, out, 800);
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    ok(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    let lines = |run: &Path| {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .map(|t| t.matches('\n').count())
            .unwrap_or(0)
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(args(&killed))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) once it has logged 300 steps: past the checkpoint at step 200.
    while lines(&killed) < 300 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "training finished before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let logged = lines(&killed);
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(killed.join("checkpoint/checkpoint.json")).unwrap(),
    )
    .unwrap();
    let saved = meta["step"].as_u64().unwrap() as usize;
    assert!(
        logged > saved,
        "logged {logged}, checkpoint at {saved}: nothing to replay"
    );
    resume_equals_uninterrupted(d, &killed, &whole);
    let (steps, _) = logged_steps(&killed);
    assert_eq!(steps, (0..800).collect::<Vec<u64>>());
}

/// Runs `ami` expecting failure; returns its stderr, which must contain every word.
fn fails_naming(args: &[&str], words: &[&str]) {
    let out = ami(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    for w in words {
        assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
    }
}

const CRITIC_TERM: &str = "cost.critic=[{term=\"critic\", weight=1.0}]";

#[test]
fn the_policy_and_the_critic_train_and_act_on_the_tiny_preset() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--out",
        r,
        "--set",
        "eval.episodes=2",
    ]);

    // Before training: the key that asks for a file and the file are named.
    fails_naming(
        &["eval", "--run", r, "--set", "agent.actor=\"policy\""],
        &["agent.actor", "policy.json", "train-policy"],
    );
    fails_naming(
        &["eval", "--run", r, "--set", CRITIC_TERM],
        &["cost.critic", "critic.json", "train-critic"],
    );
    fails_naming(
        &["eval", "--run", r, "--set", "agent.actor=\"pilot\""],
        &["agent.actor", "pilot", "policy+planner"],
    );
    fails_naming(
        &["eval", "--run", r, "--set", "agent.critic=\"online\""],
        &["agent.critic", "cost.critic"],
    );
    fails_naming(
        &["train-policy", "--run", r, "--set", "eval.train_seed=1234"],
        &["eval.", "train_seed"],
    );

    let out = ok(&[
        "train-policy",
        "--run",
        r,
        "--episodes",
        "4",
        "--dagger-rounds",
        "1",
        "--set",
        "policy.dagger_episodes=2",
        "--set",
        "policy.fit.epochs=5",
    ]);
    let rounds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rounds.as_array().unwrap().len(), 2, "{rounds}");
    assert_eq!(rounds[0]["episodes"], 4);
    assert_eq!(rounds[1]["episodes"], 2);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("policy.json")).unwrap()).unwrap();
    assert_eq!(file["log"]["rounds"], rounds);
    assert_eq!(file["action_dim"], 2);

    for actor in ["policy", "policy+planner"] {
        let set = format!("agent.actor=\"{actor}\"");
        let out = ok(&["eval", "--run", r, "--set", &set]);
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["actor"], actor);
        assert_eq!(report(&run)["actor"], actor);
        assert!(
            printed["plan_ms_per_step"].as_f64().unwrap() > 0.0,
            "{printed}"
        );
    }

    let out = ok(&[
        "train-critic",
        "--run",
        r,
        "--episodes",
        "3",
        "--set",
        "critic.fit.epochs=5",
        "--set",
        "critic.sweeps=2",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["episodes"], 3);
    assert_eq!(summary["fit"]["sweep_losses"].as_array().unwrap().len(), 2);
    assert!(run.join("critic.json").is_file());
    ok(&[
        "eval",
        "--run",
        r,
        "--set",
        CRITIC_TERM,
        "--set",
        "agent.horizon=4",
    ]);
    let out = ok(&[
        "eval",
        "--run",
        r,
        "--set",
        CRITIC_TERM,
        "--set",
        "agent.critic=\"online\"",
        "--set",
        "critic.online_every=1",
        "--set",
        "critic.sweeps=1",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["episodes"], 2);
}

#[test]
fn the_gradient_planners_evaluate_a_tiny_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_data(dir.path(), "5");
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&[
        "train",
        "--preset",
        "tiny",
        "--data",
        data.to_str().unwrap(),
        "--out",
        r,
        "--set",
        "train.steps=10",
    ]);
    for (kind, key) in [
        ("gradient", "planner.iterations=3"),
        ("cem+gradient", "planner.gradient.iterations=3"),
    ] {
        let set_kind = format!("planner.kind=\"{kind}\"");
        let args = ["eval", "--run", r, "--set", &set_kind, "--set", key];
        let out = ok(&[&args[..], &["--set", "eval.episodes=2"]].concat());
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["planner"], kind);
        let rep = report(&run);
        assert_eq!(
            (rep["planner"].as_str(), rep["episodes"].as_u64()),
            (Some(kind), Some(2))
        );
        let success = rep["success_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&success), "{kind}: {success}");
        assert!(rep["plan_ms_per_step"].as_f64().unwrap() > 0.0, "{kind}");
    }
    // A bad value of a new planner's key fails before planning, naming the key.
    let out = ami(&[
        "eval",
        "--run",
        r,
        "--set",
        "planner.kind=\"gradient\"",
        "--set",
        "planner.lr=-1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("gradient.lr"),
        "{err}"
    );
}

#[test]
fn a_second_writer_into_a_run_is_refused_and_a_killed_holder_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_data(dir.path(), "5");
    let out = dir.path().join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let train = |steps: usize| train_args(d, &out, steps);
    let mut holder = std::process::Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(train(1_000_000))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join("run.lock");
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
        assert!(
            t0.elapsed().as_secs() < 60,
            "the first ami train never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let args = train(5);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let second = ami(&args);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second writer ran: {err}");
    assert!(
        err.contains("run.lock")
            && err.contains("in use")
            && err.contains(&format!("pid {}", holder.id())),
        "{err}"
    );
    // The holder writes config.toml after taking the lock; train-critic needs a run.
    while !out.join("config.toml").is_file() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "the first ami train never wrote its config"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let critic = ami(&["train-critic", "--run", o]);
    assert!(!critic.status.success());
    let err = String::from_utf8_lossy(&critic.stderr);
    assert!(err.contains("in use"), "{err}");
    // SIGKILL leaves run.lock behind; it must not block the next writer.
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(lock.is_file());
    ok(&args);
    let said = std::fs::read_to_string(&lock).unwrap();
    assert!(!said.contains(&format!("pid {},", holder.id())), "{said}");
}

#[test]
fn a_run_killed_before_its_first_checkpoint_resumes_from_step_zero_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_data(dir.path(), "2");
    let d = data.to_str().unwrap();
    let args = |out: &Path| train_args(d, out, 800);
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    ok(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ami"))
        .args(args(&killed))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once config.toml is written, before the first checkpoint (step 200).
    while !killed.join("config.toml").is_file() {
        assert!(child.try_wait().unwrap().is_none(), "finished too early");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("checkpoint/checkpoint.json").is_file());
    resume_equals_uninterrupted(d, &killed, &whole);
}
