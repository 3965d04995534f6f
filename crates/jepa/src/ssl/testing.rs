//! What the objectives' tests share: random inputs as f64 reference matrices and as f32 leaf
//! tensors on the autodiff device, gradients back as matrices, and the tolerance checks.
//!
//! Tolerance (f32 against the f64 reference): every value and every gradient entry within
//! [`TOL`] = 1e-4 relative, relative to the entry itself or, for entries near zero, to a
//! tenth of the largest entry of the same array (losses: to 1e-2).

use ami_energy::Matrix;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::SslLoss;

/// Relative tolerance of every f32-against-f64 comparison.
pub const TOL: f64 = 1e-4;

/// The autodiff CPU device.
pub fn ad() -> Device {
    Device::flex().autodiff()
}

/// A random `[n, d]` matrix, entries uniform in `[−1.5, 1.5)` plus `shift`, rounded to f32 so
/// that the reference and the burn objective see the same numbers.
pub fn random(n: usize, d: usize, seed: u64, shift: f64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let v = (0..n * d)
        .map(|_| (rng.gen_range(-1.5..1.5) + shift) as f32 as f64)
        .collect();
    Matrix::new(n, d, v).unwrap()
}

/// `m` as an f32 tensor on `device`.
pub fn tensor(m: &Matrix, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = m.as_slice().iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [m.rows(), m.cols()]), device)
}

/// `m` as an f32 leaf tensor that records its gradient, on the autodiff device.
pub fn leaf(m: &Matrix) -> Tensor<2> {
    tensor(m, &ad()).require_grad()
}

/// A 2-D tensor as a matrix.
pub fn matrix(t: Tensor<2>) -> Matrix {
    let [n, d] = t.dims();
    let v = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    Matrix::new(n, d, v.into_iter().map(f64::from).collect()).unwrap()
}

/// The value of a `[1]` tensor.
pub fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

/// The value of term `name`.
pub fn term(loss: &SslLoss, name: &str) -> f64 {
    let (_, t) = loss.terms.iter().find(|(n, _)| *n == name).unwrap();
    scalar(t)
}

/// The gradients of `loss.total` with respect to `inputs` (`None` where none arrives).
pub fn grads(loss: &SslLoss, inputs: &[&Tensor<2>]) -> Vec<Option<Matrix>> {
    let g = loss.total.backward();
    inputs.iter().map(|x| x.grad(&g).map(matrix)).collect()
}

/// `|got − want| ≤ TOL·max(|want|, 1e-2)`.
pub fn assert_value(what: &str, got: f64, want: f64) {
    let tol = TOL * want.abs().max(1e-2);
    assert!(
        (got - want).abs() <= tol,
        "{what}: burn {got} vs reference {want}"
    );
}

/// Every entry within [`TOL`] relative (to a tenth of the largest for entries near zero).
pub fn assert_matrix(what: &str, got: &Matrix, want: &Matrix) {
    assert_eq!(
        (got.rows(), got.cols()),
        (want.rows(), want.cols()),
        "{what}"
    );
    let max = want.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max > 0.0, "{what}: the reference is zero everywhere");
    for (i, (g, w)) in got.as_slice().iter().zip(want.as_slice()).enumerate() {
        let tol = TOL * w.abs().max(0.1 * max);
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: burn {g} vs reference {w}"
        );
    }
}

/// A gradient that must not arrive (behind a stop-gradient): absent or zero.
pub fn assert_no_grad(what: &str, g: &Option<Matrix>) {
    if let Some(g) = g {
        assert!(
            g.as_slice().iter().all(|v| *v == 0.0),
            "{what} received a gradient"
        );
    }
}

/// The term names in order, and the total equal to `Σ weight · term`.
pub fn assert_weighted_terms(loss: &SslLoss, weights: &[(&str, f64)]) {
    let names: Vec<&str> = loss.terms.iter().map(|(n, _)| *n).collect();
    let want: Vec<&str> = weights.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want);
    let sum: f64 = weights.iter().map(|(n, w)| w * term(loss, n)).sum();
    assert_value("total = Σ weight·term", scalar(&loss.total), sum);
}

/// The error message of `r`, which must be an error.
pub fn err<T>(r: Result<T, crate::error::JepaError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
