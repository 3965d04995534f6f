//! Planning under uncertainty from the command line: a tiny latent-variable world model of
//! `highway`, the `drive` task, and the risk settings.

mod common;
use common::{ami, json, ok};

#[test]
fn highway_demo_drives_with_a_latent_model_and_every_risk_setting() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&[
        "demo",
        "--preset",
        "tiny",
        "--env",
        "highway",
        "--out",
        r,
        "--set",
        "model.latent={kind=\"discrete\", k=2}",
    ]);
    // The comparison: the latent model with the worst- and average-case planner, the same
    // model without the latent (its own run directory), the stay-in-lane baseline.
    let cmp = json(&run.join("report.json"));
    assert_eq!(cmp["latent"]["k"], 2);
    for row in ["worst", "average", "deterministic"] {
        let r = &cmp["risk"][row];
        assert_eq!(r["episodes"], 4, "{row}: {cmp}");
        let (n, rate) = (
            r["collisions"].as_u64().unwrap(),
            r["collision_rate"].as_f64().unwrap(),
        );
        assert!(
            n <= 4 && (rate - n as f64 / 4.0).abs() < 1e-12,
            "{row}: {cmp}"
        );
        for key in ["progress", "plan_ms_per_step", "unsafe_plans"] {
            assert!(r[key].is_number(), "{row}.{key}: {cmp}");
        }
    }
    assert_eq!(cmp["baseline"]["episodes"], 4);
    assert!(cmp["baseline"]["name"]
        .as_str()
        .unwrap()
        .contains("stay in lane"));
    assert!(cmp["baseline"]["progress"].as_f64().unwrap() > 0.0, "{cmp}");
    for h in ["h1", "h5", "h10"] {
        assert!(cmp["coverage_90"][h].as_f64().is_some(), "{h}: {cmp}");
    }
    // How each model's guardrails separate held-out plans that collide from safe ones.
    for key in ["guardrails", "guardrails_deterministic"] {
        let g = &cmp[key];
        let (v, s) = (g["violating_plans"].as_u64(), g["safe_plans"].as_u64());
        assert!(v.is_some() && s.is_some(), "{key}: {cmp}");
        let rate = g["margin_false_alarm"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&rate), "{key}: {cmp}");
    }
    assert!(run.join("deterministic/checkpoint").is_dir());
    let det = json(&run.join("deterministic/eval/drive-risk-deterministic/report.json"));
    assert_eq!(det["episodes"], 4);
    let rep = json(&run.join("eval/drive-risk-worst/report.json"));
    assert_eq!(rep["task"], "drive");
    assert_eq!(rep["env"], "highway");
    assert_eq!(rep["episodes"], 4);
    for key in [
        "success_rate",
        "violations",
        "violation_rate",
        "mean_progress",
        "plan_ms_per_step",
    ] {
        assert!(rep[key].is_number(), "{key} in {rep}");
    }
    assert_eq!(
        rep["guardrails"],
        serde_json::json!(["crashed_guardrail", "safety_gap_guardrail"])
    );
    // Coverage of the sampled futures on held-out trajectories (calibrated and raw, at
    // horizons 1, 5, 10) and its pictures.
    for key in [
        "coverage_90",
        "coverage_90_raw",
        "spread_90",
        "coverage_90_readout",
    ] {
        for h in ["h1", "h5", "h10"] {
            let v = rep[key][h].as_f64().unwrap_or(-1.0);
            assert!(v >= 0.0, "{key}.{h} in {rep}");
        }
    }
    assert!(rep["coverage_90"]["h1"].as_f64().unwrap() <= 1.0);
    assert_eq!(json(&run.join("coverage.json"))["latent_count"], 2);
    for plot in ["coverage.svg", "futures.svg"] {
        assert!(run.join("plots").join(plot).is_file(), "{plot}");
    }
    let probe = json(&run.join("probe.json"));
    assert_eq!(
        probe["names"],
        serde_json::json!(["y", "v", "crashed", "clearance", "safety_gap"])
    );
    for risk in ["average", "cvar:0.5"] {
        ok(&[
            "eval",
            "--run",
            r,
            "--episodes",
            "2",
            "--set",
            &format!("agent.risk=\"{risk}\""),
        ]);
        assert_eq!(json(&run.join("eval/drive/report.json"))["episodes"], 2);
    }
    // The least-violating plan executed instead of the fallback action.
    ok(&[
        "eval",
        "--run",
        r,
        "--episodes",
        "1",
        "--set",
        "agent.when_unsafe=\"least-unsafe\"",
        "--set",
        "eval.tag=\"lu\"",
    ]);
    assert_eq!(json(&run.join("eval/drive-lu/report.json"))["episodes"], 1);
    // The search planners on the discrete meta-actions: tree search with chance nodes over
    // the k = 2 latents, and beam search.
    for planner in [
        &["planner.kind=\"mcts\"", "planner.simulations=8"][..],
        &["planner.kind=\"beam\"", "planner.beam_width=4"][..],
    ] {
        let mut args = vec!["eval", "--run", r, "--episodes", "1"];
        for set in ["env.actions=\"discrete\""].iter().chain(planner) {
            args.extend(["--set", *set]);
        }
        ok(&args);
        let rep = json(&run.join("eval/drive/report.json"));
        assert_eq!(rep["episodes"], 1, "{planner:?}");
        assert!(rep["plan_ms_per_step"].is_number(), "{planner:?}: {rep}");
    }
    for (bad, words) in [
        ("planner.kind=\"mcts\"", &["planner.kind", "discrete"][..]),
        ("agent.risk=\"best\"", &["agent.risk", "best"][..]),
        ("agent.risk=\"cvar:1.5\"", &["agent.risk", "cvar"][..]),
        ("agent.when_unsafe=\"never\"", &["when_unsafe", "never"][..]),
        (
            "agent.guardrail_rule=\"loose\"",
            &["guardrail_rule", "loose"][..],
        ),
        // The tiny run holds out too few colliding plans to calibrate thresholds on.
        (
            "agent.guardrail_rule=\"recall\"",
            &[
                "agent.guardrail_rule",
                "no calibrated threshold",
                "violating held-out plans",
            ][..],
        ),
    ] {
        let mut args = vec!["eval", "--run", r];
        for set in bad.split('\n') {
            args.extend(["--set", set]);
        }
        let out = ami(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{bad} was accepted");
        for w in words {
            assert!(err.contains(w), "{bad}: {w:?} not in {err}");
        }
    }
}
