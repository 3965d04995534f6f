//! Hierarchical planning from the command line: `ami demo --env maze` trains the world model
//! and its level 2, and compares flat and hierarchical planning on the same episodes and on
//! the held-out layout; `ami train-level2` and `ami eval --set agent.planner=...`.

mod common;
use common::{ami, json, ok};

#[test]
fn maze_demo_reports_flat_and_hierarchical_on_the_same_tasks_and_the_heldout_layout() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&["demo", "--preset", "tiny", "--env", "maze", "--out", r]);
    let rep = json(&run.join("report.json"));
    assert_eq!(rep["env"], "maze");
    for (key, levels) in [("flat", "flat"), ("hierarchical", "hierarchical")] {
        let e = &rep[key];
        assert_eq!(e["episodes"], 4, "{key}: {e}");
        assert_eq!(e["levels"], levels);
        for field in ["success_rate", "plan_ms_per_step"] {
            assert!(e[field].is_number(), "{key}.{field} in {e}");
        }
        let held = &rep["heldout_layout"][key];
        assert_eq!(held["episodes"], 2, "heldout_layout.{key}: {held}");
        assert!(held["success_rate"].is_number());
        assert!(run.join(format!("eval/reach-{key}/report.json")).is_file());
        assert!(run
            .join(format!("eval/reach-heldout-{key}/episodes.jsonl"))
            .is_file());
    }
    assert_eq!(rep["heldout_layout"]["layout"], 7);
    // The same tasks: every episode of both starts from the same state.
    let starts = |key: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.join(format!("eval/reach-{key}/episodes.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["start"].clone())
            .collect()
    };
    assert_eq!(starts("flat"), starts("hierarchical"));
    // Level 2 and its held-out comparison with copying the input.
    let l2 = &rep["level2"];
    assert_eq!(l2["k"], 8);
    assert_eq!(l2["mse"].as_array().unwrap().len(), 3);
    assert!(run.join("level2.safetensors").is_file());
    assert!(run.join("level2_memory.safetensors").is_file());
    assert!(run.join("plots/level2.svg").is_file());

    // The same seed gives the same report (all but wall times).
    let run2 = dir.path().join("run2");
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--env",
        "maze",
        "--out",
        run2.to_str().unwrap(),
    ]);
    let rep2 = json(&run2.join("report.json"));
    assert_eq!(rep["level2"], rep2["level2"]);
    for key in ["flat", "hierarchical"] {
        for field in ["success_rate", "mean_min_goal_error", "mean_episode_steps"] {
            assert_eq!(rep[key][field], rep2[key][field], "{key}.{field}");
            assert_eq!(
                rep["heldout_layout"][key][field], rep2["heldout_layout"][key][field],
                "heldout_layout.{key}.{field}"
            );
        }
    }

    // Retrain level 2 with other settings; they are recorded in the run's config.
    ok(&["train-level2", "--run", r, "--set", "hierarchy.level2.k=4"]);
    assert_eq!(json(&run.join("level2.json"))["report"]["k"], 4);
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("k = 4"), "{cfg}");
    ok(&[
        "eval",
        "--run",
        r,
        "--episodes",
        "2",
        "--set",
        "agent.planner=\"hierarchical\"",
        "--set",
        "eval.tag=\"again\"",
    ]);
    let again = json(&run.join("eval/reach-again/report.json"));
    assert_eq!(again["levels"], "hierarchical");
    assert_eq!(again["episodes"], 2);

    // Without the trajectories level 2 was trained on, keeping the search on the data is a
    // clear error; trusting the model everywhere still plans.
    std::fs::remove_file(run.join("level2_memory.safetensors")).unwrap();
    let hier = [
        "eval",
        "--run",
        r,
        "--episodes",
        "1",
        "--set",
        "agent.planner=\"hierarchical\"",
    ];
    let out = ami(&hier);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hierarchy.planner.snap_radius") && err.contains("level2_memory"),
        "{err}"
    );
    let mut trusting = hier.to_vec();
    trusting.extend(["--set", "hierarchy.planner.snap_radius=0"]);
    ok(&trusting);
}

#[test]
fn hierarchical_planning_without_a_level_2_or_with_bad_keys_is_a_clear_error() {
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
        "eval.episodes=1",
    ]);
    let out = ami(&[
        "eval",
        "--run",
        r,
        "--set",
        "agent.planner=\"hierarchical\"",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent.planner") && err.contains("level2.json"),
        "{err}"
    );
    for (set, key) in [
        ("hierarchy.level2.k=0", "hierarchy.level2.k"),
        ("hierarchy.planner.depth=0", "hierarchy.planner.depth"),
    ] {
        let out = ami(&[
            "demo",
            "--preset",
            "tiny",
            "--env",
            "maze",
            "--out",
            dir.path().join("bad").to_str().unwrap(),
            "--set",
            set,
        ]);
        assert!(!out.status.success(), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{set}: {err}");
    }
}
