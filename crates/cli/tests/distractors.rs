//! `ami experiment distractors --quick` runs the four conditions as full run directories and
//! writes the comparison; bad settings fail naming the key and write nothing.

mod common;

use common::{ami, json, ok};

#[test]
fn quick_writes_four_runs_and_the_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let path = out.to_str().unwrap();
    let stdout = ok(&[
        "experiment",
        "distractors",
        "--quick",
        "--out",
        path,
        "--leaves",
        "3",
    ])
    .stdout;
    let table = String::from_utf8_lossy(&stdout);
    assert!(table.contains("| reconstruction | 3 |"), "{table}");
    let r = json(&out.join("report.json"));
    assert_eq!(r["leaves"], 3);
    let runs = r["runs"].as_array().unwrap();
    let got: Vec<(String, u64)> = runs
        .iter()
        .map(|x| {
            (
                x["model"].as_str().unwrap().to_string(),
                x["leaves"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("jepa", 0),
        ("jepa", 3),
        ("reconstruction", 0),
        ("reconstruction", 3),
    ];
    assert_eq!(got, want.map(|(m, l)| (m.to_string(), l)).to_vec());
    let s = |i: usize| runs[i]["success_rate"].as_f64().unwrap();
    assert_eq!(r["jepa_drop"].as_f64().unwrap(), s(0) - s(1));
    assert_eq!(r["reconstruction_drop"].as_f64().unwrap(), s(2) - s(3));
    for name in ["table.md", "success.svg"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    // Each condition is a run directory with its own config: leaves only where asked, the
    // decoder and the pixel loss only in the reconstruction runs.
    for (run, leaves, recon) in [
        ("jepa-clean", 0, false),
        ("jepa-leaves", 3, false),
        ("reconstruction-clean", 0, true),
        ("reconstruction-leaves", 3, true),
    ] {
        let cfg = std::fs::read_to_string(out.join(run).join("config.toml")).unwrap();
        let v: toml::Value = toml::from_str(&cfg).unwrap();
        assert_eq!(
            v["env"]["distractors"]["leaves"].as_integer(),
            Some(leaves),
            "{run}"
        );
        assert_eq!(v["model"]["decoder"].as_bool(), Some(recon), "{run}");
        let eta = v["objective"]["reconstruction"].as_float().unwrap();
        let pred = v["objective"]["prediction"].as_float().unwrap();
        assert_eq!((eta > 0.0, pred > 0.0), (recon, !recon), "{run}");
        assert!(out.join(run).join("report.json").is_file(), "{run}");
    }
}

#[test]
fn bad_settings_name_the_key_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        (vec!["--leaves", "0"], "leaves"),
        (vec!["--set", "env.obs=\"state\""], "env.obs"),
        (
            vec!["--set", "env.distractors.intensity=2"],
            "env.distractors.intensity",
        ),
    ] {
        let out = dir.path().join(key);
        let mut args = vec![
            "experiment",
            "distractors",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = ami(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(key), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
