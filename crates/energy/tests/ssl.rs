//! The SSL losses of `ami_energy::ssl` against the JAX reference: every case of
//! `tests/fixtures/ssl/` (inputs as `.npy`, the expected loss, terms, gradients and Q as JSON,
//! written by `make_fixtures.py` from the official code's formulas with `jax.grad` gradients)
//! is evaluated through the registry and checked to 1e-10 relative.

use std::path::{Path, PathBuf};

use ami_energy::ssl::{evaluate, SslArray, SslLossKind, SslOutput};
use serde_json::Value;

/// Relative tolerance of every comparison.
const TOL: f64 = 1e-10;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ssl")
}

/// Every case file, by name.
fn cases() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir())
        .expect("fixture directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn inputs(case: &Value) -> Vec<(String, SslArray)> {
    let files = case["inputs"].as_object().expect("inputs");
    files
        .iter()
        .map(|(name, file)| {
            let a = ami_io::read_npy_f64(&dir().join(file.as_str().unwrap())).unwrap();
            (name.clone(), SslArray::new(a.shape, a.data).unwrap())
        })
        .collect()
}

fn params(case: &Value) -> Vec<(String, String)> {
    let p = case["params"].as_object().expect("params");
    let s = |v: &Value| v.as_str().expect("parameters are strings").to_string();
    p.iter().map(|(k, v)| (k.clone(), s(v))).collect()
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}

fn shape(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(a) => {
            let mut s = vec![a.len()];
            s.extend(a.first().map(shape).unwrap_or_default());
            s
        }
        _ => vec![],
    }
}

/// Largest relative error of `got` against `want`: relative to each value, or to the largest
/// value of the array for values more than 1000× smaller (an absolute error of 1e-13 on a
/// gradient entry of 1e-7 beside entries of 1 is rounding, not a wrong formula).
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let big = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1e-3 * big).max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

fn check_array(what: &str, got: &SslArray, want: &Value) -> f64 {
    assert_eq!(got.shape, shape(want), "{what}: shape");
    let e = rel_err(&got.data, &flat(want));
    assert!(e <= TOL, "{what}: relative error {e:e} against JAX");
    e
}

/// Checks one evaluation against a case's "expected" object; returns the worst error.
fn check(case: &str, out: &SslOutput, want: &Value) -> f64 {
    let mut worst = 0.0f64;
    match (out.loss, want["loss"].as_f64()) {
        (Some(g), Some(w)) => worst = worst.max(rel_err(&[g], &[w])),
        (None, None) => assert!(want["loss"].is_null(), "{case}: loss"),
        (g, w) => panic!("{case}: loss {g:?} vs JAX {w:?}"),
    }
    let terms = want["terms"].as_object().expect("terms");
    assert_eq!(out.terms.len(), terms.len(), "{case}: term names");
    for (name, v) in &out.terms {
        let w = terms
            .get(*name)
            .unwrap_or_else(|| panic!("{case}: term {name}"));
        worst = worst.max(rel_err(&[*v], &[w.as_f64().unwrap()]));
    }
    let grads = want["grads"].as_object().expect("grads");
    assert_eq!(out.grads.len(), grads.len(), "{case}: gradient names");
    for (name, g) in &out.grads {
        let w = grads
            .get(*name)
            .unwrap_or_else(|| panic!("{case}: grad {name}"));
        worst = worst.max(check_array(&format!("{case} grad {name}"), g, w));
    }
    match (&out.q, want.get("Q")) {
        (Some(q), Some(w)) => worst = worst.max(check_array(&format!("{case} Q"), q, w)),
        (None, None) => {}
        _ => panic!("{case}: Q present on one side only"),
    }
    assert!(worst <= TOL, "{case}: relative error {worst:e} against JAX");
    worst
}

#[test]
fn every_case_matches_jax() {
    let cases = cases();
    assert_eq!(cases.len(), 13, "cases in tests/fixtures/ssl");
    for (name, case) in &cases {
        let kind: SslLossKind = case["loss_name"].as_str().unwrap().parse().unwrap();
        let out = evaluate(kind, &inputs(case), &params(case)).unwrap();
        let worst = check(name, &out, &case["expected"]);
        println!("{name}: worst relative error {worst:.1e}");
    }
}

#[test]
fn every_loss_has_a_golden_case() {
    let names: Vec<String> = cases()
        .iter()
        .map(|(_, c)| c["loss_name"].as_str().unwrap().to_string())
        .collect();
    for k in SslLossKind::ALL {
        assert!(names.iter().any(|n| n == k.name()), "no fixture for {k}");
    }
    // Every parameter of every loss is set away from its default in some case.
    for k in SslLossKind::ALL {
        for (p, _) in k.params() {
            let set = cases()
                .iter()
                .any(|(_, c)| c["loss_name"] == k.name() && c["params"].get(*p).is_some());
            assert!(set, "no fixture sets {k}'s {p}");
        }
    }
}

#[test]
fn typed_functions_equal_the_registry() {
    use ami_energy::ssl::{vicreg, VicregParams};
    use ami_energy::Matrix;
    let case = &cases()
        .into_iter()
        .find(|(n, _)| n == "vicreg_coeffs")
        .unwrap()
        .1;
    let inp = inputs(case);
    let m = |name: &str| {
        let a = &inp.iter().find(|(n, _)| n == name).unwrap().1;
        Matrix::new(a.shape[0], a.shape[1], a.data.clone()).unwrap()
    };
    let p = VicregParams {
        sim_coeff: 2.0,
        std_coeff: 3.0,
        cov_coeff: 0.5,
    };
    let l = vicreg(&m("x"), &m("y"), &p).unwrap();
    let out = evaluate(SslLossKind::Vicreg, &inp, &params(case)).unwrap();
    assert_eq!(out.loss, Some(l.value));
    assert_eq!(out.grads[0].1.data, l.grad("x").unwrap().as_slice());
}
