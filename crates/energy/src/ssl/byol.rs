//! BYOL (Grill et al., NeurIPS 2020), following the official code (google-deepmind/
//! deepmind-research `byol/`, `helpers.regression_loss` and `byol_experiment.py`;
//! REFERENCE §3): each direction's per-sample loss is `‖p̂ − t̂‖² = 2 − 2·cos(p, t)` with
//! l2-normalised vectors, the two directions are summed and the sum is averaged over the batch:
//!
//! ```text
//! loss = (1/N) Σ_b [(2 − 2cos(p1_b, t2_b)) + (2 − 2cos(p2_b, t1_b))]
//! ```
//!
//! The targets `t1`, `t2` (the EMA network's projections) are behind a stop-gradient: only
//! `p1` and `p2` get gradients, `∂loss/∂p1_b = −(2/N)·(t̂2_b − cos·p̂1_b)/‖p1_b‖`.
//!
//! The official `l2_normalize` divides by `sqrt(max(‖x‖², 1e-12))`; this computes the exact
//! `x/‖x‖` and refuses rows of norm below 1e-6, the only rows where the two differ.

use super::{check_inputs, row_cosines, scaled, SslLoss};
use crate::error::Result;
use crate::matrix::Matrix;

/// Row norm below which BYOL's `l2_normalize` clamps (`sqrt` of its epsilon 1e-12 on the
/// squared norm).
pub const BYOL_MIN_NORM: f64 = 1e-6;

const SOURCE: &str = "BYOL's l2_normalize";

/// BYOL loss of the online predictions `p1`, `p2` and the target projections `t1`, `t2`
/// (all `[N, D]`): terms `p1_t2` and `p2_t1` (each direction's `mean_b (2 − 2cos)`, summing
/// to the loss), gradients for `p1` and `p2`.
///
/// # Errors
/// Different shapes, `N = 0` or `D = 0`, a non-finite value, or a row of norm below
/// [`BYOL_MIN_NORM`].
pub fn byol(p1: &Matrix, p2: &Matrix, t1: &Matrix, t2: &Matrix) -> Result<SslLoss> {
    check_inputs(
        &[("p1", p1), ("p2", p2), ("t1", t1), ("t2", t2)],
        1,
        "the loss is a mean over the batch",
    )?;
    let n = p1.rows() as f64;
    let (c12, d12) = row_cosines((p1, "p1"), (t2, "t2"), BYOL_MIN_NORM, SOURCE)?;
    let (c21, d21) = row_cosines((p2, "p2"), (t1, "t1"), BYOL_MIN_NORM, SOURCE)?;
    let dir = |c: &[f64]| c.iter().map(|c| 2.0 - 2.0 * c).sum::<f64>() / n;
    let (a, b) = (dir(&c12), dir(&c21));
    SslLoss {
        value: a + b,
        terms: vec![("p1_t2", a), ("p2_t1", b)],
        grads: vec![
            ("p1", scaled(-2.0 / n, &d12)),
            ("p2", scaled(-2.0 / n, &d21)),
        ],
    }
    .finite("byol")
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
        // p1 ∥ t2 (cos 1 → 0), p2 = −t1 (cos −1 → 4) in row 0; orthogonal (→ 2 each) in row 1.
        let p1 = m(&[&[2.0, 0.0], &[1.0, 0.0]]);
        let t2 = m(&[&[5.0, 0.0], &[0.0, 3.0]]);
        let p2 = m(&[&[0.0, -1.0], &[0.0, 1.0]]);
        let t1 = m(&[&[0.0, 7.0], &[4.0, 0.0]]);
        let l = byol(&p1, &p2, &t1, &t2).unwrap();
        assert_eq!(l.term("p1_t2"), Some((0.0 + 2.0) / 2.0));
        assert_eq!(l.term("p2_t1"), Some((4.0 + 2.0) / 2.0));
        assert_eq!(l.value, 4.0);
        assert_eq!(l.grads.len(), 2, "no gradient for the targets");
        // At p1 ∥ t2 the gradient vanishes; orthogonal rows: −(2/N)·t̂/‖p‖.
        assert_eq!(l.grad("p1").unwrap().row(0), &[0.0, 0.0]);
        assert_eq!(l.grad("p1").unwrap().row(1), &[0.0, -1.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (p1, p2, t1, t2) = (
            mat(5, 4, 0.3, 1.0),
            mat(5, 4, 0.7, 1.0),
            mat(5, 4, 1.1, 1.0),
            mat(5, 4, 1.9, 1.0),
        );
        let l = byol(&p1, &p2, &t1, &t2).unwrap();
        let f = |p: &Matrix| byol(p, &p2, &t1, &t2).unwrap().value;
        check_grad(&f, &p1, l.grad("p1").unwrap(), "byol p1");
        let f = |p: &Matrix| byol(&p1, p, &t1, &t2).unwrap().value;
        check_grad(&f, &p2, l.grad("p2").unwrap(), "byol p2");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = mat(3, 2, 0.4, 1.0);
        let e = byol(&a, &a, &a, &mat(3, 3, 0.1, 1.0)).unwrap_err();
        assert!(e.to_string().contains("`t2` has shape [3, 3]"), "{e}");
        let mut z = a.clone();
        z.row_mut(1).fill(0.0);
        let e = byol(&a, &a, &z, &a).unwrap_err().to_string();
        assert!(
            e.contains("`t1` row 1 has l2 norm 0") && e.contains("BYOL"),
            "{e}"
        );
    }
}
