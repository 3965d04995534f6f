//! `ami ebm …` run as a user would: `.npy` in, JSON with scikit-learn names out, checked
//! against the scikit-learn fixtures of `ami-energy` (crates/energy/tests/fixtures).

use std::path::{Path, PathBuf};

use ami_io::{write_npy, write_npy_f64, NpyArray, NpyArrayF64};
use serde_json::Value;

mod common;
use common::{ami, fails, flat, ok, shape};

fn fixture(name: &str) -> Value {
    let p = format!(
        "{}/../energy/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Writes a JSON (nested) array as an f64 `.npy` file.
fn npy(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    let a = NpyArrayF64 {
        shape: shape(v),
        data: flat(v),
    };
    write_npy_f64(&p, &a).unwrap();
    p
}

fn assert_close(what: &str, got: &Value, want: &Value, tol: f64) {
    let (g, w) = (flat(got), flat(want));
    assert_eq!(g.len(), w.len(), "{what}: length");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{what}[{i}]: ami {a} vs scikit-learn {b}"
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fit_pca_writes_scikit_learn_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let case = &fixture("pca.json")["cases"][0];
    let x = npy(dir.path(), "x.npy", &case["x"]);
    let out = dir.path().join("pca.json");
    ok(&[
        "ebm",
        "fit",
        "pca",
        "--data",
        s(&x),
        "--components",
        "2",
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    for key in [
        "mean_",
        "components_",
        "explained_variance_",
        "explained_variance_ratio_",
        "singular_values_",
        "noise_variance_",
    ] {
        assert_close(key, &r[key], &case[key], 1e-8);
    }
    // No temporary file is left behind by the atomic write.
    assert!(!dir.path().join(".pca.json.tmp").exists());
}

#[test]
fn fit_kmeans_and_gmm_with_given_inits_match_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("kmeans.json");
    let case = &f["cases"][0];
    let x = npy(dir.path(), "x.npy", &f["x"]);
    let init = npy(dir.path(), "init.npy", &case["init"]);
    let out = dir.path().join("km.json");
    ok(&[
        "ebm",
        "fit",
        "kmeans",
        "--data",
        s(&x),
        "--k",
        "3",
        "--init",
        s(&init),
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    assert_eq!(r["labels_"], case["labels_"]);
    assert_eq!(r["n_iter_"], case["n_iter_"]);
    assert_close(
        "cluster_centers_",
        &r["cluster_centers_"],
        &case["cluster_centers_"],
        1e-8,
    );
    assert_close("inertia_", &r["inertia_"], &case["inertia_"], 1e-8);

    let g = &fixture("gmm.json")["datasets"][1];
    let case = &g["cases"][0];
    let x = npy(dir.path(), "gx.npy", &g["x"]);
    let w = npy(dir.path(), "w.npy", &g["weights_init"]);
    let m = npy(dir.path(), "m.npy", &g["means_init"]);
    let p = npy(dir.path(), "p.npy", &g["precisions_init"]);
    let out = dir.path().join("gmm.json");
    ok(&[
        "ebm",
        "fit",
        "gmm",
        "--data",
        s(&x),
        "--k",
        "2",
        "--weights-init",
        s(&w),
        "--means-init",
        s(&m),
        "--precisions-init",
        s(&p),
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    assert_eq!(r["n_iter_"], case["n_iter_"]);
    assert_eq!(r["converged_"], case["converged_"]);
    for key in ["weights_", "means_", "covariances_", "score"] {
        assert_close(key, &r[key], &case[key], 1e-8);
    }
}

/// `ami ebm fit NAME` on `x` with `extra` flags; returns stderr and the JSON written.
fn fit_quietly(dir: &Path, name: &str, x: &Path, extra: &[&str]) -> (String, Value) {
    let out = dir.join(format!("{name}.json"));
    let mut args = vec!["ebm", "fit", name, "--data", s(x), "--out", s(&out)];
    args.extend(extra);
    let res = ok(&args);
    (
        String::from_utf8_lossy(&res.stderr).to_string(),
        read_json(&out),
    )
}

#[test]
fn k_means_and_em_converge_on_defaults_and_say_so_on_stderr_when_they_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let x = npy(dir.path(), "x.npy", &fixture("kmeans.json")["x"]);
    let (err, r) = fit_quietly(dir.path(), "kmeans", &x, &["--k", "3"]);
    assert_eq!(r["converged"], true, "{r}");
    assert!(!err.contains("unconverged"), "{err}");
    let (err, r) = fit_quietly(dir.path(), "kmeans", &x, &["--k", "3", "--max-iter", "1"]);
    assert_eq!(r["converged"], false);
    assert!(
        err.contains("warning: k-means stopped unconverged at --max-iter 1"),
        "{err}"
    );

    let gx = npy(
        dir.path(),
        "gx.npy",
        &fixture("gmm.json")["datasets"][1]["x"],
    );
    let (err, r) = fit_quietly(dir.path(), "gmm", &gx, &["--k", "2"]);
    assert_eq!(r["converged_"], true, "{r}");
    assert!(!err.contains("unconverged"), "{err}");
    let (err, r) = fit_quietly(dir.path(), "gmm", &gx, &["--k", "2", "--max-iter", "1"]);
    assert_eq!(r["converged_"], false);
    assert!(
        err.contains("warning: EM stopped unconverged at --max-iter 1"),
        "{err}"
    );
}

#[test]
fn sparse_code_matches_lasso_lars_and_accepts_float32() {
    let dir = tempfile::tempdir().unwrap();
    let case = &fixture("sparse.json")["cases"][1];
    let x = npy(dir.path(), "x.npy", &case["x"]);
    let d = npy(dir.path(), "d.npy", &case["dictionary"]);
    let out = dir.path().join("codes.json");
    let lam = case["lambda"].to_string();
    ok(&[
        "ebm",
        "sparse-code",
        "--data",
        s(&x),
        "--dictionary",
        s(&d),
        "--lambda",
        &lam,
        "--algorithm",
        "cd",
        "--iters",
        "10000",
        "--tol",
        "1e-13",
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    assert_close("codes", &r["codes"], &case["codes"], 1e-6);
    assert_close("energy", &r["energy"], &case["energy"], 1e-8);
    // float32 data are read (widened exactly) too.
    let x32 = dir.path().join("x32.npy");
    let a = NpyArray {
        shape: shape(&case["x"]),
        data: flat(&case["x"]).iter().map(|&v| v as f32).collect(),
    };
    write_npy(&x32, &a).unwrap();
    ok(&[
        "ebm",
        "sparse-code",
        "--data",
        s(&x32),
        "--dictionary",
        s(&d),
        "--lambda",
        &lam,
        "--out",
        s(&out),
    ]);
    assert_eq!(shape(&read_json(&out)["codes"]), vec![12, 10]);
}

/// `ami ebm fit dictionary` from scikit-learn's starting atoms equals its `dict_learning`
/// (the ami-energy fixture `models.json`), to 1e-6: FISTA codes vs exact LARS.
#[test]
fn fit_dictionary_from_given_atoms_matches_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let case = &fixture("models.json")["dictionary"];
    let x = npy(dir.path(), "x.npy", &case["x"]);
    let init = npy(dir.path(), "d0.npy", &case["init"]);
    let out = dir.path().join("dict.json");
    let iters = case["iterations"].to_string();
    let lambda = case["lambda"].to_string();
    ok(&[
        "ebm",
        "fit",
        "dictionary",
        "--data",
        s(&x),
        "--atoms",
        "4",
        "--lambda",
        &lambda,
        "--iterations",
        &iters,
        "--init",
        s(&init),
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    assert_close("components_", &r["components_"], &case["atoms"], 1e-6);
    assert_close("codes", &r["codes"], &case["codes"], 1e-6);
    let n = flat(&case["x"]).len() as f64 / 5.0;
    let want_err: Vec<f64> = flat(&case["objective"]).iter().map(|j| j * n).collect();
    assert_close("error_", &r["error_"], &serde_json::json!(want_err), 1e-6);
    assert_eq!(r["n_iter_"], case["iterations"]);
    let err = fails(&[
        "ebm",
        "fit",
        "dictionary",
        "--data",
        s(&x),
        "--atoms",
        "3",
        "--lambda",
        &lambda,
        "--init",
        s(&init),
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("initial atoms") && err.contains("[4, 5]"),
        "{err}"
    );
}

/// `ami ebm fit rbm` on two noisy binary prototypes: the fitted free energy is lower on the
/// data than on random bits; values outside [0, 1] are refused with their position.
#[test]
fn fit_rbm_learns_prototypes_and_refuses_non_binary_data() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Vec<f64>> = (0..200)
        .map(|i| {
            (0..10)
                .map(|j| {
                    let bit = ((j < 5) == (i % 2 == 0)) as u8 as f64;
                    // Flip a few bits deterministically.
                    if (i * 7 + j * 3) % 23 == 0 {
                        1.0 - bit
                    } else {
                        bit
                    }
                })
                .collect()
        })
        .collect();
    let x = npy(dir.path(), "x.npy", &serde_json::json!(rows));
    let out = dir.path().join("rbm.json");
    ok(&[
        "ebm",
        "fit",
        "rbm",
        "--data",
        s(&x),
        "--components",
        "6",
        "--learning-rate",
        "0.05",
        "--n-iter",
        "20",
        "--out",
        s(&out),
    ]);
    let r = read_json(&out);
    assert_eq!(shape(&r["components_"]), vec![6, 10]);
    assert_eq!(shape(&r["intercept_hidden_"]), vec![6]);
    assert_eq!(shape(&r["intercept_visible_"]), vec![10]);
    // F(v) = −bᵀv − Σ_j softplus(c_j + W_j·v) for a random bit vector, from the JSON.
    let (w, c, b) = (
        r["components_"].clone(),
        flat(&r["intercept_hidden_"]),
        flat(&r["intercept_visible_"]),
    );
    let free = |v: &[f64]| {
        let mut f = -b.iter().zip(v).map(|(b, v)| b * v).sum::<f64>();
        for (j, cj) in c.iter().enumerate() {
            let a = cj + flat(&w[j]).iter().zip(v).map(|(w, v)| w * v).sum::<f64>();
            f -= a.max(0.0) + (-a.abs()).exp().ln_1p();
        }
        f
    };
    let random = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let data_f = r["mean_free_energy"].as_f64().unwrap();
    assert!(
        data_f < free(&random) - 2.0,
        "F(data) {data_f} vs F(random) {}",
        free(&random)
    );
    assert!((free(&rows[0]) - flat(&r["free_energy"])[0]).abs() < 1e-9);
    let mut bad = rows.clone();
    bad[3][7] = 2.0;
    let xb = npy(dir.path(), "bad.npy", &serde_json::json!(bad));
    let err = fails(&[
        "ebm",
        "fit",
        "rbm",
        "--data",
        s(&xb),
        "--components",
        "2",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("row 3, column 7") && err.contains("[0, 1]"),
        "{err}"
    );
}

#[test]
fn bad_files_shapes_and_parameters_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let missing = dir.path().join("missing.npy");
    let err = fails(&[
        "ebm",
        "fit",
        "pca",
        "--data",
        s(&missing),
        "--components",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("missing.npy") && err.contains("--data"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"hello").unwrap();
    let err = fails(&[
        "ebm",
        "fit",
        "pca",
        "--data",
        s(&garbage),
        "--components",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("garbage.npy") && err.contains("bad magic"),
        "{err}"
    );

    let cube = NpyArrayF64 {
        shape: vec![2, 2, 2],
        data: vec![0.0; 8],
    };
    let c = dir.path().join("cube.npy");
    write_npy_f64(&c, &cube).unwrap();
    let err = fails(&[
        "ebm",
        "fit",
        "kmeans",
        "--data",
        s(&c),
        "--k",
        "2",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("2-D") && err.contains("cube.npy"), "{err}");

    let mut vals = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    vals[3] = f64::NAN;
    let nan = dir.path().join("nan.npy");
    let a = NpyArrayF64 {
        shape: vec![3, 2],
        data: vals,
    };
    write_npy_f64(&nan, &a).unwrap();
    let err = fails(&[
        "ebm",
        "fit",
        "gmm",
        "--data",
        s(&nan),
        "--k",
        "2",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("non-finite") && err.contains("row 1"), "{err}");

    let good = dir.path().join("good.npy");
    let a = NpyArrayF64 {
        shape: vec![3, 2],
        data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
    };
    write_npy_f64(&good, &a).unwrap();
    let err = fails(&[
        "ebm",
        "fit",
        "kmeans",
        "--data",
        s(&good),
        "--k",
        "5",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("3 samples") && err.contains("k ≤ n_samples"),
        "{err}"
    );
    let err = fails(&[
        "ebm",
        "fit",
        "pca",
        "--data",
        s(&good),
        "--components",
        "3",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("`components` = 3"), "{err}");
    let err = fails(&[
        "ebm",
        "sparse-code",
        "--data",
        s(&good),
        "--dictionary",
        s(&c),
        "--lambda",
        "0.1",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("--dictionary") && err.contains("2-D"), "{err}");
    let err = fails(&[
        "ebm",
        "sparse-code",
        "--data",
        s(&good),
        "--dictionary",
        s(&good),
        "--lambda",
        "-1",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("`lambda` = -1"), "{err}");
    assert!(!out.exists(), "a failed command wrote its output");
}

#[test]
fn bench_writes_its_data_and_reports_fixed_work() {
    let dir = tempfile::tempdir().unwrap();
    // --quick: only the smallest case (the full list includes 800 MB of data).
    ok(&["ebm", "bench", "--quick", "--write-data", s(dir.path())]);
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cases.json")).unwrap())
            .unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 1);
    assert_eq!(cases[0]["case"], "10000x32");
    assert_eq!(cases[0]["kmeans_k"], 16);
    for f in [
        "X.npy",
        "kmeans_init.npy",
        "gmm_weights.npy",
        "gmm_means.npy",
        "gmm_precisions.npy",
    ] {
        assert!(dir.path().join("10000x32").join(f).is_file(), "missing {f}");
    }
    assert!(!dir.path().join("10000x256").exists());
    let out = ok(&[
        "ebm",
        "bench",
        "--quick",
        "--json",
        "--data-dir",
        s(dir.path()),
    ]);
    let line = String::from_utf8(out.stdout).unwrap();
    let r: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(r["case"], "10000x32");
    assert_eq!(r["n_samples"], 10_000);
    assert_eq!(r["n_features"], 32);
    // tol = 0: EM runs exactly max_iter iterations; Lloyd at most its cap.
    assert_eq!(r["gmm_n_iter"], 20);
    assert!((1..=30).contains(&r["kmeans_n_iter"].as_u64().unwrap()));
    for key in ["pca_ms", "kmeans_ms", "gmm_ms"] {
        assert!(r[key].as_f64().unwrap() > 0.0, "{key}");
    }
    let err = fails(&["ebm", "bench", "--quick", "--case", "7x7"]);
    assert!(
        err.contains("--case 7x7") && err.contains("10000x256"),
        "{err}"
    );
}

#[test]
fn every_example_writes_its_plot_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["parabola", "ellipse", "kmeans-gmm", "hopfield"] {
        ok(&["ebm", "example", name, "--out", s(dir.path())]);
        let png = std::fs::read(dir.path().join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{name}.png is not a PNG");
        let summary = read_json(&dir.path().join(format!("{name}.json")));
        assert_eq!(summary["example"], name);
    }
    // The numbers the pictures show.
    let p = read_json(&dir.path().join("parabola.json"));
    let err = p["max_abs_error_of_argmin_vs_x2_on_[-2,2]"]
        .as_f64()
        .unwrap();
    assert!(err < 0.05, "argmin inference misses y = x² by {err}");
    assert!((p["learned_w"][2].as_f64().unwrap() - 1.0).abs() < 0.02);
    let h = read_json(&dir.path().join("hopfield.json"));
    let curve = h["accuracy_vs_load"].as_array().unwrap();
    assert_eq!(
        curve[0]["accuracy"].as_f64().unwrap(),
        1.0,
        "few patterns are retrieved"
    );
    assert_eq!(
        curve.last().unwrap()["accuracy"].as_f64().unwrap(),
        0.0,
        "P = 0.4N fails"
    );
    let half = h["first_load_below_50pct"].as_f64().unwrap();
    assert!(
        (0.1..=0.25).contains(&half),
        "capacity at {half}, expected near 0.138"
    );
    let e = read_json(&dir.path().join("ellipse.json"));
    let f = e["free_energies"].as_array().unwrap();
    assert_eq!(
        f[0]["F_on_ellipse_(2,0)"].as_f64().unwrap(),
        0.0,
        "zero energy on the data at β = ∞"
    );
    let hot = &f[3];
    assert!(hot["F_at_centre"].as_f64().unwrap() < hot["F_on_ellipse_(2,0)"].as_f64().unwrap());
    let bad = ami(&["ebm", "example", "swirl", "--out", s(dir.path())]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("swirl"), "{err}");
}

/// The spiral's denoising auto-encoder (its own test, so it runs beside the others): noisy
/// points come back to the curve, the point midway between two branches does not.
#[test]
fn spiral_dae_denoises_except_between_branches() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["ebm", "example", "spiral", "--out", s(dir.path())]);
    let png = std::fs::read(dir.path().join("spiral.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let sp = read_json(&dir.path().join("spiral.json"));
    assert_eq!(sp["example"], "spiral");
    let (noisy, denoised) = (
        sp["mean_distance_to_spiral_noisy"].as_f64().unwrap(),
        sp["mean_distance_to_spiral_denoised"].as_f64().unwrap(),
    );
    assert!(
        denoised < 0.5 * noisy,
        "the DAE does not denoise: {noisy} -> {denoised}"
    );
    let stuck = sp["between_branches"]["distance_to_spiral_after"]
        .as_f64()
        .unwrap();
    assert!(
        stuck > 3.0 * denoised,
        "the point between two branches should stay off the curve: {stuck} vs {denoised}"
    );
}

/// The quick sweep of `contrastive-vs-regularised`: the same MLP energy learns the ring by
/// denoising score matching in d = 2 and 4 without negatives, while NCE needs many negatives
/// in d = 2 and fails in d = 4 with the quick budget.
#[test]
fn contrastive_vs_regularised_quick_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let name = "contrastive-vs-regularised";
    ok(&["ebm", "example", name, "--quick", "--out", s(dir.path())]);
    let png = std::fs::read(dir.path().join(format!("{name}.png"))).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let r = read_json(&dir.path().join(format!("{name}.json")));
    assert_eq!(r["example"], name);
    let dims = r["dims"].as_array().unwrap();
    assert_eq!(dims.len(), 2);
    let nce = |d: &Value, k: u64| {
        d["nce"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["negatives"] == k)
            .and_then(|e| e["auroc"]["median"].as_f64())
            .unwrap()
    };
    for d in dims {
        let (dsm, km) = (
            d["dsm_auroc"]["median"].as_f64().unwrap(),
            d["kmeans_auroc"].as_f64().unwrap(),
        );
        assert!(
            dsm > 0.95 && km > 0.95,
            "d = {}: DSM {dsm}, k-means {km}",
            d["dim"]
        );
    }
    let (d2, d4) = (&dims[0], &dims[1]);
    assert_eq!((d2["dim"].as_u64(), d4["dim"].as_u64()), (Some(2), Some(4)));
    assert!(nce(d2, 16) < nce(d2, 1024), "more negatives help in d = 2");
    assert!(nce(d2, 1024) > 0.95, "d = 2, K = 1024: {}", nce(d2, 1024));
    assert_eq!(d2["negatives_needed"], 1024);
    assert!(nce(d4, 16) < 0.8, "d = 4, K = 16: {}", nce(d4, 16));
    assert!(d4["negatives_needed"].is_null());
}
