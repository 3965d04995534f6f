//! `ami data shapes|moving-shapes` write images, labels, factors and the sidecar, and refuse
//! bad arguments; `ami ssl train --quick` runs end to end on a generated set and writes its
//! report; a bad `--set` names the key and writes nothing.

mod common;

use ami_io::read_npz;
use common::{ami, json, ok};

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
    let data = dir.path().join("s.npz");
    ok(&[
        "data",
        "shapes",
        "--n",
        "200",
        "--out",
        data.to_str().unwrap(),
    ]);
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

#[test]
fn ssl_train_bad_set_names_the_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s.npz");
    ok(&[
        "data",
        "shapes",
        "--n",
        "20",
        "--out",
        data.to_str().unwrap(),
    ]);
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
