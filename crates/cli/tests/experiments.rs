//! `ami experiment distractors --quick` runs the four conditions as full run directories and
//! writes the comparison; `ami experiment collapse --quick` writes each variant's curves;
//! `ami experiment ssl-compare --quick` probes every asked objective on one split; bad
//! settings fail naming the key and write nothing.

mod common;

use common::{ami, json, ok, shapes_data};

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

/// `ami experiment collapse --quick` on generated shapes: every asked variant gets its
/// curves; an unknown variant is an error naming the known ones, before any training.
#[test]
fn collapse_quick_writes_curves_for_each_variant() {
    let dir = tempfile::tempdir().unwrap();
    let data = shapes_data(dir.path(), "200");
    let out = dir.path().join("collapse");
    let args = [
        "experiment",
        "collapse",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--variants",
        "vicreg-no-var-cov,byol-no-ema",
        "--set",
        "train.steps=6",
        "--set",
        "train.diag_every=3",
    ];
    ok(&args);
    let r = json(&out.join("report.json"));
    let v = r["variants"].as_array().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["name"], "vicreg-no-var-cov");
    assert_eq!(v[1]["name"], "byol-no-ema");
    for x in v {
        let steps: Vec<u64> = x["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["step"].as_u64().unwrap())
            .collect();
        assert_eq!(steps.first(), Some(&0));
        assert!(steps.len() >= 3, "{steps:?}");
        let rank = x["final_rank"].as_f64().unwrap();
        assert!(
            rank >= 1.0 && rank <= r["repr_dim"].as_f64().unwrap(),
            "{rank}"
        );
    }
    assert!(out.join("collapse.svg").is_file() && out.join("table.md").is_file());

    let bad = dir.path().join("bad");
    let o = ami(&[
        "experiment",
        "collapse",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--out",
        bad.to_str().unwrap(),
        "--variants",
        "simclr",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("simclr") && err.contains("byol-no-ema"),
        "{err}"
    );
    assert!(!bad.exists());
}

/// `ami experiment ssl-compare --quick`: each asked objective gets a row with its backbone,
/// one accuracy per label budget and its rank curve; each backbone used gets a random-init
/// row; an unknown objective is refused before any training, naming the known ones.
#[test]
fn ssl_compare_quick_probes_each_objective_on_one_split() {
    let dir = tempfile::tempdir().unwrap();
    let data = shapes_data(dir.path(), "200");
    let out = dir.path().join("cmp");
    let stdout = ok(&[
        "experiment",
        "ssl-compare",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--objectives",
        "barlow-twins,ijepa",
        "--set",
        "train.steps=4",
        "--set",
        "train.diag_every=2",
        "--set",
        "supervised.steps=2",
        "--set",
        "label_fractions=0.1,1",
    ])
    .stdout;
    let table = String::from_utf8_lossy(&stdout);
    assert!(table.contains("| ijepa | vit |"), "{table}");
    let r = json(&out.join("report.json"));
    let labels: Vec<u64> = r["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(labels, [16, 160]);
    let rows = r["objectives"].as_array().unwrap();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|o| {
            (
                o["objective"].as_str().unwrap(),
                o["backbone"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("barlow-twins", "conv"), ("ijepa", "vit")]);
    for o in rows {
        let acc = o["accuracy"].as_array().unwrap();
        assert_eq!(acc.len(), 2);
        assert!(acc
            .iter()
            .all(|a| (0.0..=1.0).contains(&a.as_f64().unwrap())));
        let steps: Vec<u64> = o["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["step"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, [0, 2, 4]);
        assert!(o["seconds_per_step"].as_f64().unwrap() > 0.0);
    }
    let random: Vec<&str> = r["random_init"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["backbone"].as_str().unwrap())
        .collect();
    assert_eq!(random, ["conv", "vit"]);
    assert_eq!(r["supervised"].as_array().unwrap().len(), 2);
    for f in ["table.md", "ranks.svg", "probes.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }

    let bad = dir.path().join("bad");
    let o = ami(&[
        "experiment",
        "ssl-compare",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--out",
        bad.to_str().unwrap(),
        "--objectives",
        "vicreg,simclr",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("simclr") && err.contains("ijepa"),
        "{err}"
    );
    assert!(!bad.exists());
}
