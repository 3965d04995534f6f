//! `ami data shapes|moving-shapes` write images, labels, factors and the sidecar, and refuse
//! bad arguments; `ami ssl train --quick` runs end to end on a generated set and writes its
//! report; a bad `--set` names the key and writes nothing.

mod common;

use ami_io::read_npz;
use common::{ami, json, ok, shapes_data};

#[test]
fn data_shapes_and_moving_shapes_write_arrays_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.npz");
    let run = ok(&[
        "data",
        "shapes",
        "--n",
        "12",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("wrote images [12, 3, 32, 32]"));
    let a = read_npz(&out).unwrap();
    assert_eq!(a["images"].shape, vec![12, 3, 32, 32]);
    assert_eq!(a["labels"].shape, vec![12]);
    assert_eq!(a["factors"].shape, vec![12, 5]);
    let side = json(&dir.path().join("s.json"));
    assert_eq!(side["kind"], "shapes");
    assert_eq!(side["factors"][0], "x");
    assert_eq!(side["classes"].as_array().unwrap().len(), 4);
    let v = dir.path().join("v.npz");
    let vs = v.to_str().unwrap();
    ok(&[
        "data",
        "moving-shapes",
        "--n",
        "2",
        "--frames",
        "5",
        "--out",
        vs,
    ]);
    let a = read_npz(&v).unwrap();
    assert_eq!(a["videos"].shape, vec![2, 5, 3, 32, 32]);
    assert_eq!(a["factors"].shape, vec![2, 5, 4]);
    for (args, needle) in [
        (vec!["data", "shapes", "--n", "0", "--out", vs], "`n`"),
        (
            vec!["data", "shapes", "--n", "2", "--size", "4", "--out", vs],
            "`size`",
        ),
        (
            vec![
                "data",
                "moving-shapes",
                "--n",
                "2",
                "--frames",
                "1",
                "--out",
                vs,
            ],
            "`frames`",
        ),
    ] {
        let r = ami(&args);
        assert!(!r.status.success());
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn ssl_train_quick_writes_report_table_chart_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = shapes_data(dir.path(), "200");
    let out = dir.path().join("run");
    let run = ok(&[
        "ssl",
        "train",
        "--objective",
        "vicreg",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quick",
        "--steps",
        "12",
        "--set",
        "supervised.steps=5",
    ]);
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("SSL + linear probe") && table.contains("| factor |"),
        "{table}"
    );
    let r = json(&out.join("report.json"));
    assert_eq!(r["objective"], "vicreg");
    assert_eq!(r["loss"].as_array().unwrap().len(), 12);
    assert_eq!(r["probes"].as_array().unwrap().len(), 3);
    assert!(r["diagnostics"][0]["effective_rank"].as_f64().unwrap() >= 1.0);
    for f in ["table.md", "training.svg", "encoder.safetensors"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// `--objective ijepa` trains the ViT with the token loop: the report records the EMA
/// momentum of every step, the ViT settings with the data's shape, and the weights are the
/// ViT's; a mask that cannot fit the token grid names `masking.min_keep`.
#[test]
fn ssl_train_ijepa_runs_the_token_loop_on_the_vit() {
    let dir = tempfile::tempdir().unwrap();
    let data = shapes_data(dir.path(), "200");
    let out = dir.path().join("run");
    let args = |out: &std::path::Path, extra: &[&str]| {
        let mut a: Vec<String> = [
            "ssl",
            "train",
            "--objective",
            "ijepa",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quick",
            "--steps",
            "8",
            "--set",
            "supervised.steps=3",
            "--set",
            "ijepa.momentum_start=0.9",
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let a = args(&out, &[]);
    ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let r = json(&out.join("report.json"));
    assert_eq!(r["objective"], "ijepa");
    let loss = r["loss"].as_array().unwrap();
    assert_eq!(loss.len(), 8);
    assert!((loss[0]["momentum"].as_f64().unwrap() - 0.9).abs() < 1e-12);
    assert!(loss[7]["momentum"].as_f64().unwrap() > 0.9);
    assert_eq!(r["config"]["vit"]["image"], serde_json::json!([3, 32, 32]));
    let weights = ami_jepa::checkpoint::read_safetensors(&out.join("encoder.safetensors")).unwrap();
    assert!(
        weights.contains_key("vit.patch_embed.weight"),
        "{:?}",
        weights.keys()
    );
    let bad = dir.path().join("bad");
    let a = args(&bad, &["--set", "masking.min_keep=40"]);
    let o = ami(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("masking.min_keep"),
        "{err}"
    );
    assert!(!bad.exists());
}

#[test]
fn ssl_train_bad_set_names_the_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = shapes_data(dir.path(), "20");
    let out = dir.path().join("run");
    for (set, needle) in [
        ("train.stepz=3", "train.stepz"),
        ("train.steps=-1", "train.steps"),
        ("train.lr=2", "train.lr"),
        ("label_fractions=0.5,abc", "label_fractions"),
    ] {
        let r = ami(&[
            "ssl",
            "train",
            "--objective",
            "vicreg",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quick",
            "--set",
            set,
        ]);
        assert!(!r.status.success());
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(e.contains(needle), "{set}: {e}");
        assert!(!out.exists(), "{set}: wrote {}", out.display());
    }
    let r = ami(&[
        "ssl",
        "train",
        "--objective",
        "simclr",
        "--data",
        "x.npz",
        "--out",
        "y",
        "--quick",
    ]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("vicreg"));
}
