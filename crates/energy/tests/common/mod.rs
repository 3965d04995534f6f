//! Reading the committed reference fixtures (`tests/fixtures/*.json`), shared by the test
//! binaries (each uses only some of these).
#![allow(dead_code)]

use ami_energy::Matrix;
use serde_json::Value;

/// The parsed fixture `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// A number.
pub fn f(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

/// An array of numbers.
pub fn vec1(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(f).collect()
}

/// An array of equal-length rows.
pub fn mat(v: &Value) -> Matrix {
    let rows: Vec<Vec<f64>> = v.as_array().expect("rows").iter().map(vec1).collect();
    Matrix::from_rows(&rows).expect("a rectangular matrix")
}

/// An array of matrices.
pub fn mats(v: &Value) -> Vec<Matrix> {
    v.as_array().expect("an array").iter().map(mat).collect()
}
