//! `ami experiment planning-frontier --quick` re-evaluates a tiny run under one setting per
//! planner family (the policy's too, once the run has a policy), writes the rows, the table and
//! the plots, and leaves the run's own reports alone; bad input fails naming the field.

mod common;

use std::path::Path;

use common::{ami, json, ok};

/// A tiny-preset run with a (barely trained) amortised policy in `dir/run`.
fn tiny_run(dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    let path = run.to_str().unwrap();
    ok(&["demo", "--preset", "tiny", "--out", path]);
    ok(&[
        "train-policy",
        "--run",
        path,
        "--episodes",
        "2",
        "--dagger-rounds",
        "0",
        "--set",
        "policy.fit.epochs=2",
    ]);
    run
}

#[test]
fn quick_writes_one_row_per_family_and_the_plots() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let report_before = std::fs::read(run.join("report.json")).unwrap();
    let out = dir.path().join("frontier");
    let res = ok(&[
        "experiment",
        "planning-frontier",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quick",
    ]);
    let table = String::from_utf8_lossy(&res.stdout);
    assert!(table.contains("| policy r4 |"), "{table}");
    let r = json(&out.join("frontier.json"));
    let rows = r["rows"].as_array().unwrap();
    let planners: Vec<&str> = rows
        .iter()
        .map(|x| x["planner"].as_str().unwrap())
        .collect();
    assert_eq!(
        planners,
        [
            "mppi",
            "cem",
            "gradient",
            "cem+gradient",
            "policy",
            "policy+mppi"
        ]
    );
    for row in rows {
        assert_eq!(row["episodes"], 4, "{row}");
        let s = row["success_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s), "{row}");
        assert!(row["success_rate_mse1"].as_f64().is_some(), "{row}");
        assert!(row["plan_ms_per_step"].as_f64().unwrap() >= 0.0, "{row}");
        let (n, k) = (
            row["candidates"].as_u64().unwrap(),
            row["iterations"].as_u64().unwrap(),
        );
        let policy = row["planner"] == "policy";
        assert_eq!((n, k) == (0, 0), policy, "{row}");
        assert_eq!(
            row["actor"] == "planner",
            !row["planner"].as_str().unwrap().contains("policy")
        );
    }
    // At least one row is on the front (the fastest one always is).
    assert!(rows.iter().any(|x| x["pareto"] == true));
    for name in ["frontier.svg", "samples.svg"] {
        let svg = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(">mppi<"), "{name}");
    }
    assert!(std::fs::read_to_string(out.join("frontier.svg"))
        .unwrap()
        .contains("Pareto front"));
    assert!(out.join("table.md").is_file());
    // The run's own report is untouched and no evaluation directory was added for the grid.
    assert_eq!(
        std::fs::read(run.join("report.json")).unwrap(),
        report_before
    );
}

#[test]
fn bad_input_names_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frontier");
    let missing = dir.path().join("no-such-run");
    let base = |run: &Path| {
        vec![
            "experiment".to_string(),
            "planning-frontier".into(),
            "--run".into(),
            run.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let fails = |args: Vec<String>, needle: &str| {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let res = ami(&argv);
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success(), "{argv:?} succeeded");
        assert!(err.contains(needle), "{argv:?}: {err}");
    };
    fails(base(&missing), "no-such-run");
    // A run directory is needed before the grid is checked: use a bare config.toml.
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), "").unwrap();
    for (extra, needle) in [
        (vec!["--candidates", "0"], "candidates"),
        (vec!["--candidates", "many"], "--candidates"),
        (vec!["--iterations", "0"], "iterations"),
        (vec!["--planners", "mppi,ppo"], "planners"),
        (vec!["--replan-every", "0"], "replan_every"),
        (vec!["--planners", "policy"], "train-policy"),
        (vec!["--quick", "--episodes", "0"], "episodes"),
    ] {
        let mut args = base(&run);
        args.extend(extra.iter().map(|s| s.to_string()));
        fails(args, needle);
    }
    assert!(!out.exists());
}
