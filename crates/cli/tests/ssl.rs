//! `ami ssl loss …` run as a user would: the golden fixtures of `ami-energy`
//! (`crates/energy/tests/fixtures/ssl`, JAX reference values) through the binary with
//! `--json`, float32 inputs, the table, and the error cases.

use std::path::{Path, PathBuf};

use ami_energy::ssl::{evaluate, SslArray, SslLossKind};
use ami_io::{read_npy_f64, write_npy, write_npy_f64, NpyArray, NpyArrayF64};
use serde_json::Value;

mod common;
use common::{fails, flat, ok, shape};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../energy/tests/fixtures/ssl")
}

fn fixture(case: &str) -> Value {
    let p = fixtures().join(format!("{case}.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// Every case name in the fixture directory.
fn case_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// The command line of a fixture case, with `extra` arguments, and its inputs' paths.
fn case_args(case: &Value, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "ssl".to_string(),
        "loss".to_string(),
        case["loss_name"].as_str().unwrap().to_string(),
    ];
    for (key, file) in case["inputs"].as_object().unwrap() {
        let path = fixtures().join(file.as_str().unwrap());
        args.push("--input".into());
        args.push(format!("{key}={}", path.display()));
    }
    for (key, v) in case["params"].as_object().unwrap() {
        args.push("--param".into());
        args.push(format!("{key}={}", v.as_str().unwrap()));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `ami` with `args`, expecting success; returns stdout.
fn stdout(args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    String::from_utf8(ok(&args).stdout).unwrap()
}

/// Checks `got` against JAX's `want` to 1e-10 relative (relative to the largest value of the
/// array for values more than 1000× smaller).
fn assert_close(what: &str, got: &Value, want: &Value) {
    assert_eq!(shape(got), shape(want), "{what}: shape");
    let (g, w) = (flat(got), flat(want));
    let big = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let scale = b.abs().max(1e-3 * big).max(f64::MIN_POSITIVE);
        assert!(
            (a - b).abs() <= 1e-10 * scale,
            "{what}[{i}]: ami {a} vs JAX {b}"
        );
    }
}

/// The library's result for a case, as `(key, value)` pairs the JSON must hold exactly.
fn library_values(case: &Value) -> Vec<(String, Vec<f64>)> {
    let inputs: Vec<(String, SslArray)> = case["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, f)| {
            let a = read_npy_f64(&fixtures().join(f.as_str().unwrap())).unwrap();
            (k.clone(), SslArray::new(a.shape, a.data).unwrap())
        })
        .collect();
    let params: Vec<(String, String)> = case["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let kind: SslLossKind = case["loss_name"].as_str().unwrap().parse().unwrap();
    let out = evaluate(kind, &inputs, &params).unwrap();
    let mut v: Vec<(String, Vec<f64>)> = vec![];
    v.extend(out.loss.map(|l| ("loss".to_string(), vec![l])));
    v.extend(
        out.terms
            .iter()
            .map(|(k, t)| (format!("terms.{k}"), vec![*t])),
    );
    v.extend(
        out.grads
            .iter()
            .map(|(k, g)| (format!("grads.{k}"), g.data.clone())),
    );
    v.extend(out.q.map(|q| ("Q".to_string(), q.data)));
    v
}

/// The numbers of a JSON text in document order, each parsed exactly from its digits
/// (serde_json's own parser may be one ulp off without its `float_roundtrip` feature).
fn numbers_in(text: &str) -> Vec<f64> {
    let (mut out, mut token, mut in_string) = (vec![], String::new(), false);
    for c in text.chars() {
        if in_string {
            in_string = c != '"';
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_digit() || "+-.eE".contains(c) {
            token.push(c);
            continue;
        }
        if !token.is_empty() {
            out.push(token.parse().unwrap());
            token.clear();
        }
    }
    out
}

/// The paths (`grads.x`, ...) of the numbers of `v` in document order, one per number.
fn number_paths(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            number_paths(v, &p, out)
        }),
        Value::Array(a) => a.iter().for_each(|v| number_paths(v, path, out)),
        Value::Number(_) => out.push(path.to_string()),
        _ => {}
    }
}

#[test]
fn every_fixture_matches_jax_through_the_binary() {
    let names = case_names();
    assert_eq!(names.len(), 13, "cases in the fixture directory");
    for name in &names {
        let case = fixture(name);
        let text = stdout(&case_args(&case, &["--json"]));
        let got: Value = serde_json::from_str(&text).expect("one JSON object on stdout");
        let want = &case["expected"];
        // The same keys as the reference object: loss, terms, grads (and Q for sinkhorn).
        let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        assert_eq!(keys(&got), keys(want), "{name}: keys");
        assert_eq!(keys(&got["terms"]), keys(&want["terms"]), "{name}: terms");
        assert_eq!(keys(&got["grads"]), keys(&want["grads"]), "{name}: grads");
        if want["loss"].is_null() {
            assert!(
                got["loss"].is_null(),
                "{name}: sinkhorn prints \"loss\": null"
            );
        } else {
            assert_close(&format!("{name} loss"), &got["loss"], &want["loss"]);
        }
        for section in ["terms", "grads"] {
            for (k, w) in want[section].as_object().unwrap() {
                assert_close(&format!("{name} {section}.{k}"), &got[section][k], w);
            }
        }
        if let Some(q) = want.get("Q") {
            assert_close(&format!("{name} Q"), &got["Q"], q);
        }
        // Full precision: the printed numbers are the library's f64 values, bit for bit.
        let mut paths = vec![];
        number_paths(&got, "", &mut paths);
        let printed = numbers_in(&text);
        assert_eq!(paths.len(), printed.len(), "{name}: numbers in the text");
        for (path, values) in library_values(&case) {
            let here: Vec<f64> = paths
                .iter()
                .zip(&printed)
                .filter(|(p, _)| **p == path)
                .map(|(_, v)| *v)
                .collect();
            assert_eq!(here, values, "{name} {path}: printed != computed");
        }
    }
}

#[test]
fn float32_inputs_give_the_float64_result_of_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (
        read_npy_f64(&fixtures().join("vicreg_x.npy")).unwrap(),
        read_npy_f64(&fixtures().join("vicreg_y.npy")).unwrap(),
    );
    let as_f32 = |a: &NpyArrayF64| NpyArray {
        shape: a.shape.clone(),
        data: a.data.iter().map(|v| *v as f32).collect(),
    };
    let widened = |a: &NpyArrayF64| NpyArrayF64 {
        shape: a.shape.clone(),
        data: a.data.iter().map(|v| *v as f32 as f64).collect(),
    };
    let p = |n: &str| dir.path().join(n);
    write_npy(&p("x32.npy"), &as_f32(&x)).unwrap();
    write_npy(&p("y32.npy"), &as_f32(&y)).unwrap();
    write_npy_f64(&p("x64.npy"), &widened(&x)).unwrap();
    write_npy_f64(&p("y64.npy"), &widened(&y)).unwrap();
    let run = |a: &str, b: &str| {
        let args = [
            "ssl".to_string(),
            "loss".into(),
            "vicreg".into(),
            "--input".into(),
            format!("x={}", p(a).display()),
            "--input".into(),
            format!("y={}", p(b).display()),
            "--json".into(),
        ];
        stdout(&args)
    };
    let (f32_out, f64_out) = (run("x32.npy", "y32.npy"), run("x64.npy", "y64.npy"));
    assert_eq!(f32_out, f64_out, "the same text");
    // And not the float64 fixture's result (the rounding to f32 is visible in f64).
    let got: Value = serde_json::from_str(&f32_out).unwrap();
    let exact = &fixture("vicreg")["expected"]["loss"];
    assert!((got["loss"].as_f64().unwrap() - exact.as_f64().unwrap()).abs() > 1e-9);
}

#[test]
fn without_json_a_short_table() {
    let case = fixture("vicreg_coeffs");
    let text = stdout(&case_args(&case, &[]));
    assert!(
        text.starts_with("ssl loss vicreg (sim_coeff=2, std_coeff=3, cov_coeff=0.5)\n"),
        "{text}"
    );
    let loss = case["expected"]["loss"].as_f64().unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("loss"))
        .unwrap();
    let printed: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((printed - loss).abs() <= 1e-10 * loss.abs(), "{line}");
    for t in ["term inv", "term var", "term cov", "grad x", "grad y"] {
        assert!(text.contains(t), "{t} missing:\n{text}");
    }
    let text = stdout(&case_args(&fixture("sinkhorn"), &[]));
    assert!(
        text.contains("epsilon=0.05, iters=3") && text.contains("Q [6, 5]"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("loss")),
        "sinkhorn has no loss:\n{text}"
    );
}

fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

fn input(key: &str, path: &Path) -> String {
    format!("{key}={}", path.display())
}

#[test]
fn bad_names_values_shapes_and_files_are_clear_errors() {
    let f = |n: &str| fixtures().join(n);
    let (x, y) = (
        input("x", &f("vicreg_x.npy")),
        input("y", &f("vicreg_y.npy")),
    );
    let err = fails(&["ssl", "loss", "vicregl", "--input", &x, "--input", &y]);
    assert!(
        err.contains("unknown SSL loss `vicregl`")
            && err
                .contains("vicreg, barlow-twins, byol, simsiam, nt-xent, infonce, ijepa, sinkhorn"),
        "{err}"
    );
    let err = fails(&["ssl", "loss", "vicreg", "--input", &x]);
    assert!(
        err.contains("`vicreg` needs input `y` (its inputs: x, y)"),
        "{err}"
    );
    let z = input("z", &f("vicreg_y.npy"));
    let err = fails(&["ssl", "loss", "vicreg", "--input", &x, "--input", &z]);
    assert!(
        err.contains("unknown input of `vicreg` `z`; known: x, y"),
        "{err}"
    );
    let err = fails(&["ssl", "loss", "vicreg", "--input", &x, "--input", &x]);
    assert!(err.contains("input `x` is given twice"), "{err}");
    let base = ["ssl", "loss", "vicreg", "--input", &x, "--input", &y];
    let err = fails(&cat(&base, &["--param", "temperature=0.1"]));
    assert!(
        err.contains(
            "unknown parameter of `vicreg` `temperature`; known: sim_coeff, std_coeff, cov_coeff"
        ),
        "{err}"
    );
    let err = fails(&cat(&base, &["--param", "sim_coeff=lots"]));
    assert!(
        err.contains("`sim_coeff` = \"lots\"; expected a number"),
        "{err}"
    );
    let err = fails(&cat(&base, &["--param", "sim_coeff=-2"]));
    assert!(
        err.contains("`sim_coeff` = -2; expected a finite number >= 0"),
        "{err}"
    );
    let err = fails(&cat(&base, &["--param", "sim_coeff"]));
    assert!(
        err.contains("--param `sim_coeff`: expected KEY=VALUE"),
        "{err}"
    );
    let err = fails(&["ssl", "loss", "vicreg", "--input", "x", "--input", &y]);
    assert!(err.contains("--input `x`: expected KEY=FILE.npy"), "{err}");

    // Shapes and values.
    let dir = tempfile::tempdir().unwrap();
    let npy = |name: &str, shape: Vec<usize>, data: Vec<f64>| {
        let p = dir.path().join(name);
        write_npy_f64(&p, &NpyArrayF64 { shape, data }).unwrap();
        p
    };
    let wide = npy("wide.npy", vec![6, 4], vec![0.5; 24]);
    let err = fails(&[
        "ssl",
        "loss",
        "vicreg",
        "--input",
        &x,
        "--input",
        &input("y", &wide),
    ]);
    assert!(
        err.contains("`y` has shape [6, 4]; expected [6, 5] (the shape of `x`)"),
        "{err}"
    );
    let one = npy("one.npy", vec![1, 5], vec![0.5, 1.0, 2.0, 3.0, 4.0]);
    let (x1, y1) = (input("x", &one), input("y", &one));
    let err = fails(&["ssl", "loss", "vicreg", "--input", &x1, "--input", &y1]);
    assert!(
        err.contains("`x` has 1 samples; at least 2 are needed"),
        "{err}"
    );
    let (z1, z2) = (input("z1", &one), input("z2", &one));
    let err = fails(&[
        "ssl",
        "loss",
        "barlow-twins",
        "--input",
        &z1,
        "--input",
        &z2,
    ]);
    assert!(
        err.contains("`z1` has 1 samples; at least 2 are needed"),
        "{err}"
    );
    let cube = npy("cube.npy", vec![2, 3, 5], vec![0.5; 30]);
    let err = fails(&[
        "ssl",
        "loss",
        "vicreg",
        "--input",
        &input("x", &cube),
        "--input",
        &y,
    ]);
    assert!(
        err.contains("`x` has shape [2, 3, 5]; expected a 2-D array [N, D]"),
        "{err}"
    );
    let mut data = vec![0.25; 30];
    data[13] = f64::NAN;
    let nan = npy("nan.npy", vec![6, 5], data);
    let err = fails(&[
        "ssl",
        "loss",
        "vicreg",
        "--input",
        &x,
        "--input",
        &input("y", &nan),
    ]);
    assert!(
        err.contains("`y` has a non-finite value (NaN) at row 2, column 3"),
        "{err}"
    );
    let mut data = vec![0.25; 30];
    data[29] = f64::INFINITY;
    let inf = npy("inf.npy", vec![6, 5], data);
    let err = fails(&[
        "ssl",
        "loss",
        "ijepa",
        "--input",
        &input("pred", &inf),
        "--input",
        &input("target", &nan),
    ]);
    assert!(
        err.contains("`pred` has a non-finite value (inf) at row 5, column 4"),
        "{err}"
    );
    let zero = npy("zero.npy", vec![6, 5], vec![0.0; 30]);
    let err = fails(&[
        "ssl",
        "loss",
        "nt-xent",
        "--input",
        &input("z1", &f("nt-xent_z1.npy")),
        "--input",
        &input("z2", &zero),
    ]);
    assert!(err.contains("`z2` row 0 has l2 norm 0"), "{err}");
    let scores = input("scores", &f("sinkhorn_scores.npy"));
    let err = fails(&[
        "ssl",
        "loss",
        "sinkhorn",
        "--input",
        &scores,
        "--param",
        "iters=2.5",
    ]);
    assert!(
        err.contains("`iters` = \"2.5\"; expected a whole number >= 0"),
        "{err}"
    );

    // Files.
    let missing = dir.path().join("missing.npy");
    let err = fails(&[
        "ssl",
        "loss",
        "vicreg",
        "--input",
        &x,
        "--input",
        &input("y", &missing),
    ]);
    assert!(
        err.contains("--input y=") && err.contains("missing.npy"),
        "{err}"
    );
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"hello").unwrap();
    let err = fails(&[
        "ssl",
        "loss",
        "vicreg",
        "--input",
        &x,
        "--input",
        &input("y", &garbage),
    ]);
    assert!(
        err.contains("garbage.npy: array `y`: not a .npy array"),
        "{err}"
    );
}
