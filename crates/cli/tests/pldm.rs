//! `ami demo --preset pldm` and `--preset random-wall` end to end at tiny sizes (issue 18's
//! interface: report.json with both success rules, episodes, planning time, total time and
//! `task = "pldm"` / `"random-wall"`), and `ami data pldm` / `ami data random-wall` with
//! PLDM's generator.

mod common;

use common::{fails, json, ok};

#[test]
fn the_pldm_preset_runs_end_to_end_and_reports_the_pldm_task() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&[
        "demo",
        "--preset",
        "pldm",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "1",
        "--set",
        "data.transitions=900",
        "--set",
        "data.door_crossing_rate=0",
        "--set",
        "train.steps=10",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.log_every=5",
        "--set",
        "planner.samples=16",
        "--set",
        "planner.iterations=1",
        "--set",
        "eval.episodes=2",
        "--set",
        "eval.max_steps=8",
        "--set",
        "eval.plot_episodes=2",
        "--set",
        "hierarchy.level2.steps=20",
    ]);
    let r = json(&out.join("report.json"));
    assert_eq!(r["task"], "pldm");
    // Sub-goals from the graph of the data's representations, kept with level 2.
    assert_eq!(r["levels"], "graph");
    assert!(out.join("level2_memory.safetensors").is_file());
    assert_eq!(r["env"], "pldm");
    assert_eq!(r["observation"], "image");
    assert_eq!(r["episodes"], 2);
    for key in ["success_rate", "success_rate_mse1"] {
        let v = r[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    for key in ["plan_ms_per_step", "total_seconds"] {
        assert!(r[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(out.join("eval/pldm/report.json").is_file());
    assert!(out.join("plots/episodes.png").is_file());
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in [
        "kind = \"pldm\"",
        "pool = 4",
        "door_crossing_rate = 0.0",
        "transitions = 900",
        "seed = 42",
        // No door crossing, no route in the data graph: the imagined walks take over.
        "no_route = \"imagined\"",
    ] {
        assert!(cfg.contains(line), "missing `{line}` in\n{cfg}");
    }
    // Without the kept representations the graph cannot be built: the error says what to run.
    std::fs::remove_file(out.join("level2_memory.safetensors")).unwrap();
    let err = fails(&["eval", "--run", out.to_str().unwrap(), "--episodes", "1"]);
    assert!(
        err.contains("agent.planner") && err.contains("train-level2"),
        "{err}"
    );
}

#[test]
fn ami_data_writes_pldm_trajectories_of_91_states() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.npz");
    ok(&[
        "data",
        "pldm",
        "--preset",
        "pldm",
        "--transitions",
        "180",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "env.obs=\"state\"",
    ]);
    let side = json(&out.with_extension("json"));
    assert_eq!(side["n_traj"], 2);
    assert_eq!(side["traj_len"], 90);
    assert_eq!(side["env_config"]["kind"], "pldm");
    assert_eq!(side["data_config"]["door_crossing_rate"], 0.6);
}

#[test]
fn the_random_wall_preset_runs_end_to_end_and_reports_the_random_wall_task() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&[
        "demo",
        "--preset",
        "random-wall",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "1",
        "--set",
        "data.transitions=900",
        "--set",
        "train.steps=10",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.log_every=5",
        "--set",
        "planner.samples=16",
        "--set",
        "planner.iterations=1",
        "--set",
        "hierarchy.imagined.rollouts=16",
        "--set",
        "hierarchy.imagined.steps=8",
        "--set",
        "eval.episodes=2",
        "--set",
        "eval.max_steps=8",
        "--set",
        "eval.plot_episodes=2",
    ]);
    let r = json(&out.join("report.json"));
    assert_eq!(r["task"], "random-wall");
    assert_eq!(r["env"], "random-wall");
    assert_eq!(r["observation"], "image");
    assert_eq!(r["episodes"], 2);
    for key in ["success_rate", "success_rate_mse1"] {
        let v = r[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    for key in ["plan_ms_per_step", "total_seconds"] {
        assert!(r[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(out.join("eval/random-wall/report.json").is_file());
    assert!(out.join("plots/episodes.png").is_file());
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in [
        "kind = \"random-wall\"",
        "pool = 4",
        "transitions = 900",
        "name = \"random-wall\"",
    ] {
        assert!(cfg.contains(line), "missing `{line}` in\n{cfg}");
    }
    // EB-JEPA's 35 % (an f32, written as its f64 value).
    let rate: f64 = cfg
        .lines()
        .find_map(|l| l.strip_prefix("door_crossing_rate = "))
        .expect("door_crossing_rate in config.toml")
        .parse()
        .unwrap();
    assert!((rate - 0.35).abs() < 1e-6, "{rate}");

    // The wall-leak measurement on the trained run: the world never leaks, the walks and
    // steps are the ones asked for, the counts per step are cumulative.
    let leaks = dir.path().join("leaks");
    let run = out.to_str().unwrap();
    let common = ["experiment", "wall-leaks", "--run", run, "--out"];
    let mut args = common.to_vec();
    args.extend([
        leaks.to_str().unwrap(),
        "--episodes",
        "2",
        "--walks",
        "8",
        "--steps",
        "6",
    ]);
    ok(&args);
    let r = json(&leaks.join("report.json"));
    assert_eq!(
        (r["env"].as_str(), r["split"].as_str()),
        (Some("random-wall"), Some("val"))
    );
    assert_eq!(
        (r["episodes"].as_u64(), r["walks"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(r["action_repeat"], 4);
    assert_eq!(r["real"]["leaks"], 0);
    let rows = r["by_step"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let mut last = [0u64; 3];
    for (t, row) in rows.iter().enumerate() {
        assert_eq!(row["step"].as_u64(), Some(t as u64 + 1));
        let now =
            ["imagined_door", "imagined_leaks", "real_crossings"].map(|k| row[k].as_u64().unwrap());
        assert!(now.iter().zip(&last).all(|(n, l)| n >= l), "{rows:?}");
        last = now;
        let e = row["position_error"].as_f64().unwrap();
        assert!(e.is_finite() && e >= 0.0, "{e}");
    }
    assert_eq!(last[0], r["imagined"]["door"].as_u64().unwrap());
    assert_eq!(last[1], r["imagined"]["leaks"].as_u64().unwrap());
    assert_eq!(last[2], r["real"]["door"].as_u64().unwrap());
    for f in ["table.md", "leaks.svg"] {
        assert!(leaks.join(f).is_file(), "{f}");
    }
    let mut args = common.to_vec();
    args.extend([leaks.to_str().unwrap(), "--steps", "0"]);
    assert!(fails(&args).contains("wall-leaks --steps"));
}

#[test]
fn ami_data_writes_random_wall_trajectories_with_their_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.npz");
    ok(&[
        "data",
        "random-wall",
        "--preset",
        "random-wall",
        "--transitions",
        "180",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "env.obs=\"state\"",
    ]);
    let side = json(&out.with_extension("json"));
    assert_eq!(side["n_traj"], 2);
    assert_eq!(side["traj_len"], 90);
    assert_eq!(side["env_config"]["kind"], "random-wall");
    assert_eq!(side["data_config"]["door_crossing_rate"], 0.35);

    // Without --transitions the size is the configuration's, as `ami demo` would generate.
    ok(&[
        "data",
        "random-wall",
        "--preset",
        "random-wall",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "env.obs=\"state\"",
        "--set",
        "data.transitions=270",
    ]);
    assert_eq!(json(&out.with_extension("json"))["n_traj"], 3);
}
