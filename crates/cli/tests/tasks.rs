//! The configurator's tasks from the command line: one tiny checkpoint in two-rooms-hazards,
//! every task evaluated on it, and the guardrail that no option can take away.

use std::path::Path;

mod common;
use common::{ami, json, ok};

fn task_report(run: &Path, task: &str) -> serde_json::Value {
    json(&run.join("eval").join(task).join("report.json"))
}

/// The stderr of a failing `ami` call (the test fails if it succeeds).
fn fails(args: &[&str]) -> String {
    let out = ami(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "ami {args:?} succeeded");
    err
}

#[test]
fn every_task_runs_on_one_checkpoint_and_guardrails_cannot_be_removed() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--env",
        "two-rooms-hazards",
        "--out",
        r,
    ]);
    assert!(run.join("probe.json").is_file());
    let table = std::fs::read_to_string(run.join("eval/tasks.md")).unwrap();
    for task in ["reach", "reach-safe", "region", "waypoints", "hold"] {
        let rep = task_report(&run, task);
        assert_eq!(rep["task"], task);
        assert_eq!(rep["env"], "two-rooms-hazards");
        assert_eq!(rep["episodes"], 4);
        for key in [
            "success_rate",
            "violations",
            "violation_rate",
            "plan_ms_per_step",
            "unsafe_plans",
        ] {
            assert!(rep[key].is_number(), "{task}: {key} in {rep}");
        }
        assert_eq!(rep["actor"], "planner");
        assert_eq!(rep["planner"], "mppi");
        assert!(table.contains(&format!("| {task} |")), "{table}");
        assert!(run.join("eval").join(task).join("episodes.png").is_file());
        // One record per episode, agreeing with the report's totals.
        let lines =
            std::fs::read_to_string(run.join("eval").join(task).join("episodes.jsonl")).unwrap();
        let records: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 4, "{task}");
        let sum = |key: &str| {
            records
                .iter()
                .map(|r| r[key].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(
            Some(sum("violations")),
            rep["violations"].as_u64(),
            "{task}"
        );
        assert_eq!(
            Some(sum("unsafe_plans")),
            rep["unsafe_plans"].as_u64(),
            "{task}"
        );
        let hits = records
            .iter()
            .filter(|r| r["successes"]["success_rate"] == true)
            .count();
        assert_eq!(
            hits as f64 / 4.0,
            rep["success_rate"].as_f64().unwrap(),
            "{task}"
        );
    }
    assert_eq!(
        task_report(&run, "reach")["guardrails"],
        serde_json::json!([])
    );
    let safe = serde_json::json!(["hazard_guardrail"]);
    assert_eq!(task_report(&run, "reach-safe")["guardrails"], safe);
    assert!(task_report(&run, "hold")["reached"].is_number());

    // One task, fewer episodes; emptying the guardrail list does not remove the task's own.
    ok(&[
        "eval",
        "--run",
        r,
        "--task",
        "reach-safe",
        "--episodes",
        "2",
        "--set",
        "cost.guardrail=[]",
    ]);
    let rep = task_report(&run, "reach-safe");
    assert_eq!(
        (rep["episodes"].as_u64(), &rep["guardrails"]),
        (Some(2), &safe)
    );

    // Bad input names the key.
    for (args, words) in [
        (&["--task", "fly"][..], &["task.name", "fly"][..]),
        (
            &["--set", "task.region=\"kitchen\"", "--task", "region"],
            &["kitchen", "right-room"],
        ),
        (
            &["--set", "cost.guardrail=[{term=\"hazards\",weight=0.0}]"],
            &["weight"],
        ),
        (
            &[
                "--set",
                "cost.guardrail=[{term=\"hazards\",extra_margin=-1.0}]",
            ],
            &["extra_margin"],
        ),
        (
            &["--set", "env.hazards=[{x0=60.0,y0=1.0,x1=70.0,y1=2.0}]"],
            &["env.hazards"],
        ),
    ] {
        let mut all = vec!["eval", "--run", r];
        all.extend(args);
        let err = fails(&all);
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
}

#[test]
fn a_guardrail_needs_hazards_to_guard_against() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&["demo", "--preset", "tiny", "--out", r]);
    let err = fails(&["eval", "--run", r, "--task", "reach-safe"]);
    assert!(err.contains("hazards"), "{err}");
    let err = fails(&["eval", "--run", r, "--task", "drive"]);
    assert!(err.contains("drive") && err.contains("progress"), "{err}");
    // The plain two-rooms run still has its top-level report, now also under eval/reach/.
    assert_eq!(task_report(&run, "reach")["task"], "reach");
    assert!(run.join("report.json").is_file());
}
