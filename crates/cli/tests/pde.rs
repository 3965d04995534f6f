//! `ami data pde` writes the trajectories, the coefficients, the grid and the sidecar;
//! `ami experiment pde-ssl --quick` writes its report, table and plot; bad settings fail
//! naming the key and the limit, and leave no file behind.

mod common;

use ami_io::read_npz;
use common::{ami, json, ok};

#[test]
fn data_pde_writes_trajectories_coefficients_grid_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kdv.npz");
    let path = out.to_str().unwrap();
    let args = [
        "data",
        "pde",
        "kdv",
        "--n",
        "3",
        "--out",
        path,
        "--seed",
        "5",
        "--set",
        "grid=128",
        "--set",
        "dt=0.005",
        "--set",
        "frames=6",
        "--set",
        "save_every=20",
        "--set",
        "delta_min=0.5",
        "--set",
        "delta_max=2",
    ];
    let run = ok(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("wrote 3 kdv trajectories × 6 frames × 128 points"),
        "{stderr}"
    );
    let arrays = read_npz(&out).unwrap();
    assert_eq!(arrays["u"].shape, vec![3, 6, 128]);
    assert!(arrays["u"].data.iter().all(|v| v.is_finite()));
    assert_eq!(arrays["delta"].shape, vec![3]);
    assert!(arrays["delta"]
        .data
        .iter()
        .all(|&d| (0.5..=2.0).contains(&d)));
    assert_eq!(arrays["x"].shape, vec![128]);
    assert_eq!(arrays["x"].data[1], 0.5); // L = 64 over 128 points
    assert_eq!(arrays["t"].shape, vec![6]);
    assert!((arrays["t"].data[5] - 0.5).abs() < 1e-6); // frames 20 × 0.005 apart
                                                       // The first frame is the random sine initial condition: not all zero.
    assert!(arrays["u"].data[..128].iter().any(|&v| v.abs() > 1e-3));
    let side = json(&dir.path().join("kdv.json"));
    assert_eq!(side["equation"], "kdv");
    assert_eq!(side["coefficient"], "delta");
    assert_eq!(side["seed"], 5);
    assert_eq!(side["config"]["grid"], 128);
    // The same seed gives the same file.
    let again = dir.path().join("again.npz");
    let mut args2 = args;
    args2[6] = again.to_str().unwrap();
    ok(&args2);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn bad_pde_settings_fail_naming_the_key_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npz");
    let path = out.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["burgers", "--set", "nu_min=0"],
            &["`nu_min` = 0", "positive"],
        ),
        (&["kdv", "--set", "grid=10"], &["`grid` = 10", "≥ 16"]),
        (
            &["burgers", "--set", "dt=0.05"],
            &["`dt` = 0.05", "at most", "Courant"],
        ),
        (&["heat"], &["unknown equation `heat`", "burgers, kdv, ks"]),
        // Passes the check before the run, breaks the Courant limit during it.
        (
            &[
                "ks",
                "--set",
                "dt=0.2",
                "--set",
                "warmup=0",
                "--set",
                "ic_amplitude=0.01",
                "--set",
                "frames=20",
                "--set",
                "save_every=50",
            ],
            &["`dt` = 0.2 is too large", "Courant"],
        ),
    ];
    for (extra, words) in cases {
        let mut args = vec!["data", "pde"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--n", "2", "--out", path]);
        let run = ami(&args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
        assert!(
            !out.exists() && !dir.path().join("x.json").exists(),
            "{args:?} wrote a file"
        );
    }
}

#[test]
fn experiment_pde_ssl_quick_writes_the_report_table_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let path = out.to_str().unwrap();
    let run = ok(&[
        "experiment",
        "pde-ssl",
        "--equation",
        "kdv",
        "--quick",
        "--out",
        path,
        "--seed",
        "3",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("relative MSE of ln delta"), "{stdout}");
    let r = json(&out.join("report.json"));
    assert_eq!(r["equation"], "kdv");
    assert_eq!(r["coefficient"], "delta");
    assert_eq!(r["seed"], 3);
    assert_eq!(r["quick"], true);
    let rows = r["regression"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, n) in rows.iter().zip([16, 32]) {
        assert_eq!(row["labels"], n);
        for key in [
            "ssl_rel_mse",
            "ssl_kernel_rel_mse",
            "crop_noise_rel_mse",
            "untrained_rel_mse",
            "supervised_rel_mse",
        ] {
            let v = row[key].as_f64().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
        }
    }
    let ab = &r["augmentation_ablation"];
    assert_eq!(ab["labels"], 16);
    assert_eq!(ab["lie"], rows[0]["ssl_rel_mse"]);
    assert_eq!(ab["crop_noise_only"], rows[0]["crop_noise_rel_mse"]);
    let ts = &r["time_stepping"];
    for key in ["with_repr", "without_repr", "persistence"] {
        let total = ts[key]["total"].as_f64().unwrap();
        assert!(total.is_finite() && total > 0.0, "{key}: {total}");
        assert_eq!(ts[key]["per_step"].as_array().unwrap().len(), 4, "{key}");
    }
    let acc = &r["solver_accuracy"];
    for order in acc["order_in_time"].as_array().unwrap() {
        assert!(order.as_f64().unwrap() > 3.5, "{acc}");
    }
    assert!(out.join("table.md").exists() && out.join("regression.svg").exists());
    let svg = std::fs::read_to_string(out.join("regression.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("supervised"));
}

#[test]
fn experiment_pde_ssl_bad_settings_name_the_key_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let path = out.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--set", "labels=2,16"], &["`labels`", "at least 4"]),
        (
            &["--set", "view.crop_frames=40"],
            &["`view.crop_frames` = 40", "12 frames"],
        ),
        (
            &["--set", "pretrain.stepz=3"],
            &["pretrain.stepz", "one of"],
        ),
        (&["--set", "data.nu_min=-1"], &["`nu_min` = -1", "positive"]),
        (&["--equation", "heat"], &["unknown equation `heat`"]),
    ];
    for (extra, words) in cases {
        let mut args = vec!["experiment", "pde-ssl", "--quick", "--out", path];
        args.extend_from_slice(extra);
        let run = ami(&args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
        assert!(!out.exists(), "{args:?} wrote {path}");
    }
}
