//! SimSiam (Chen & He, CVPR 2021), following the official code (facebookresearch/simsiam
//! `main_simsiam.py`; REFERENCE §3):
//!
//! ```text
//! D(p, z) = −mean_b cos(p_b, z_b)         (nn.CosineSimilarity(dim=1), eps 1e-8)
//! loss    = ½·D(p1, z2) + ½·D(p2, z1)     minimum −1
//! ```
//!
//! The projections `z1`, `z2` are behind a stop-gradient (`z.detach()`): only `p1` and `p2`
//! get gradients, `∂loss/∂p1_b = −(1/(2N))·(ẑ2_b − cos·p̂1_b)/‖p1_b‖`.
//!
//! PyTorch's cosine divides by `max(‖p‖, 1e-8)·max(‖z‖, 1e-8)`; this computes the exact
//! cosine and refuses rows of norm below 1e-8, the only rows where the two differ.

use super::{check_inputs, row_cosines, scaled, SslLoss};
use crate::error::Result;
use crate::matrix::Matrix;

/// Row norm below which PyTorch's `cosine_similarity` clamps (its `eps`).
pub const SIMSIAM_MIN_NORM: f64 = 1e-8;

const SOURCE: &str = "PyTorch's cosine_similarity";

/// SimSiam loss of the predictions `p1`, `p2` and the projections `z1`, `z2` (all `[N, D]`):
/// terms `p1_z2 = D(p1, z2)` and `p2_z1 = D(p2, z1)` (the loss is their mean), gradients for
/// `p1` and `p2`.
///
/// # Errors
/// Different shapes, `N = 0` or `D = 0`, a non-finite value, or a row of norm below
/// [`SIMSIAM_MIN_NORM`].
pub fn simsiam(p1: &Matrix, p2: &Matrix, z1: &Matrix, z2: &Matrix) -> Result<SslLoss> {
    check_inputs(
        &[("p1", p1), ("p2", p2), ("z1", z1), ("z2", z2)],
        1,
        "the loss is a mean over the batch",
    )?;
    let n = p1.rows() as f64;
    let (c12, d12) = row_cosines((p1, "p1"), (z2, "z2"), SIMSIAM_MIN_NORM, SOURCE)?;
    let (c21, d21) = row_cosines((p2, "p2"), (z1, "z1"), SIMSIAM_MIN_NORM, SOURCE)?;
    let neg_mean = |c: &[f64]| -c.iter().sum::<f64>() / n;
    let (a, b) = (neg_mean(&c12), neg_mean(&c21));
    SslLoss {
        value: 0.5 * a + 0.5 * b,
        terms: vec![("p1_z2", a), ("p2_z1", b)],
        grads: vec![
            ("p1", scaled(-0.5 / n, &d12)),
            ("p2", scaled(-0.5 / n, &d21)),
        ],
    }
    .finite("simsiam")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    fn m(rows: &[&[f64]]) -> Matrix {
        Matrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        // p1 ∥ z2: D = −1; p2 ⟂ z1: D = 0; loss = −½.
        let (p1, z2) = (m(&[&[1.0, 1.0]]), m(&[&[3.0, 3.0]]));
        let (p2, z1) = (m(&[&[1.0, 0.0]]), m(&[&[0.0, -2.0]]));
        let l = simsiam(&p1, &p2, &z1, &z2).unwrap();
        assert!((l.term("p1_z2").unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(l.term("p2_z1"), Some(0.0));
        assert!((l.value + 0.5).abs() < 1e-15);
        // ∂/∂p2 = −½·ẑ1/‖p2‖ = −½·(0, −1).
        assert_eq!(l.grad("p2").unwrap().row(0), &[0.0, 0.5]);
        assert_eq!(l.grads.len(), 2, "no gradient for the projections");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (p1, p2, z1, z2) = (
            mat(6, 3, 0.5, 1.0),
            mat(6, 3, 0.9, 1.0),
            mat(6, 3, 1.3, 1.0),
            mat(6, 3, 2.3, 1.0),
        );
        let l = simsiam(&p1, &p2, &z1, &z2).unwrap();
        let f = |p: &Matrix| simsiam(p, &p2, &z1, &z2).unwrap().value;
        check_grad(&f, &p1, l.grad("p1").unwrap(), "simsiam p1");
        let f = |p: &Matrix| simsiam(&p1, p, &z1, &z2).unwrap().value;
        check_grad(&f, &p2, l.grad("p2").unwrap(), "simsiam p2");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = mat(2, 2, 0.4, 1.0);
        let mut tiny = a.clone();
        tiny.row_mut(0).fill(1e-9);
        let e = simsiam(&a, &a, &a, &tiny).unwrap_err().to_string();
        assert!(e.contains("`z2` row 0") && e.contains("1e-8"), "{e}");
        let e = simsiam(&Matrix::zeros(0, 2), &a, &a, &a).unwrap_err();
        assert!(e.to_string().contains("`p1` has 0 samples"), "{e}");
    }
}
