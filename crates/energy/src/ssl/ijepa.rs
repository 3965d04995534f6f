//! I-JEPA's loss (Assran et al., CVPR 2023), following the official code
//! (facebookresearch/ijepa `src/train.py`; REFERENCE §4): the target encoder's output is
//! layer-normalised over the feature axis without affine parameters
//! (`F.layer_norm(h, (D,))`: biased variance, eps 1e-5), and the predictions are regressed on
//! it with the smooth-L1 loss (`F.smooth_l1_loss`, β = 1, mean over every element):
//!
//! ```text
//! h = (t − mean_D t)/sqrt(var_D t + 1e-5)          per row of t
//! loss = mean_{m,j} ℓ(pred_mj − h_mj),   ℓ(d) = ½d² if |d| < 1, |d| − ½ otherwise
//! ```
//!
//! The paper says "average L2 distance"; the code uses smooth-L1, and this follows the code.
//! The target is behind a stop-gradient: only `pred` gets a gradient,
//! `∂loss/∂pred = clamp(pred − h, −1, 1)/(M·D)`.
//! Inputs of any shape `[..., D]` are seen as `[M, D]` (the registry reshapes them).

use super::{check_inputs, SslLoss};
use crate::error::Result;
use crate::matrix::Matrix;

/// `F.layer_norm`'s default eps.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// `F.smooth_l1_loss`'s β (its default; I-JEPA does not set it).
pub const SMOOTH_L1_BETA: f64 = 1.0;

/// Layer norm of each row (no affine parameters).
pub fn layer_norm(t: &Matrix) -> Matrix {
    let d = t.cols() as f64;
    let mut h = t.clone();
    for r in 0..t.rows() {
        let row = h.row_mut(r);
        let mean = row.iter().sum::<f64>() / d;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d;
        let s = (var + LAYER_NORM_EPS).sqrt();
        row.iter_mut().for_each(|v| *v = (*v - mean) / s);
    }
    h
}

/// I-JEPA loss of the predictions `pred` and the target encoder's output `target` `[M, D]`:
/// no terms, a gradient for `pred`.
///
/// # Errors
/// Different shapes, `M = 0` or `D = 0`, or a non-finite value.
pub fn ijepa(pred: &Matrix, target: &Matrix) -> Result<SslLoss> {
    check_inputs(
        &[("pred", pred), ("target", target)],
        1,
        "the loss is a mean over the elements",
    )?;
    let h = layer_norm(target);
    let count = (pred.rows() * pred.cols()) as f64;
    let mut value = 0.0;
    let grad: Vec<f64> = pred
        .as_slice()
        .iter()
        .zip(h.as_slice())
        .map(|(p, h)| {
            let d = p - h;
            // `<` as PyTorch; at |d| = β both branches give β/2 and slope ±1.
            value += if d.abs() < SMOOTH_L1_BETA {
                0.5 * d * d / SMOOTH_L1_BETA
            } else {
                d.abs() - 0.5 * SMOOTH_L1_BETA
            };
            d.clamp(-SMOOTH_L1_BETA, SMOOTH_L1_BETA) / SMOOTH_L1_BETA / count
        })
        .collect();
    SslLoss {
        value: value / count,
        terms: vec![],
        grads: vec![("pred", Matrix::new(pred.rows(), pred.cols(), grad)?)],
    }
    .finite("ijepa")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    #[test]
    fn hand_computed_values() {
        // target row (1, 3): mean 2, variance 1, h = (−1, 1)/s with s = √(1 + 1e-5).
        let s = (1.0f64 + 1e-5).sqrt();
        let t = Matrix::from_rows(&[vec![1.0, 3.0]]).unwrap();
        // pred = 0: |d| = 1/s < 1, quadratic on both: mean ½/s².
        let l = ijepa(&Matrix::zeros(1, 2), &t).unwrap();
        assert!((l.value - 0.5 / (s * s)).abs() < 1e-16);
        assert_eq!(l.grad("pred").unwrap().row(0), &[0.5 / s, -0.5 / s]);
        // pred = (2, 1): d = (2 + 1/s, 1 − 1/s): linear, then quadratic.
        let p = Matrix::from_rows(&[vec![2.0, 1.0]]).unwrap();
        let (d0, d1) = (2.0 + 1.0 / s, 1.0 - 1.0 / s);
        let l = ijepa(&p, &t).unwrap();
        assert!((l.value - ((d0 - 0.5) + 0.5 * d1 * d1) / 2.0).abs() < 1e-15);
        assert_eq!(l.grad("pred").unwrap().row(0), &[0.5, d1 / 2.0]);
        assert!(l.terms.is_empty() && l.grads.len() == 1);
        // A constant target row normalises to 0.
        let c = Matrix::from_rows(&[vec![4.0, 4.0, 4.0]]).unwrap();
        assert_eq!(layer_norm(&c).row(0), &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Scale 2: a mix of quadratic and linear elements.
        let (p, t) = (mat(6, 5, 0.37, 2.0), mat(6, 5, 0.71, 3.0));
        let l = ijepa(&p, &t).unwrap();
        let h = layer_norm(&t);
        let big = p
            .as_slice()
            .iter()
            .zip(h.as_slice())
            .filter(|(a, b)| (*a - *b).abs() > 1.0);
        assert!(big.count() > 5, "both branches are exercised");
        let f = |x: &Matrix| ijepa(x, &t).unwrap().value;
        check_grad(&f, &p, l.grad("pred").unwrap(), "ijepa pred");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = ijepa(&mat(2, 3, 0.1, 1.0), &mat(3, 2, 0.1, 1.0)).unwrap_err();
        assert!(e.to_string().contains("`target` has shape [3, 2]"), "{e}");
        let mut t = mat(2, 3, 0.1, 1.0);
        t[(1, 2)] = f64::NAN;
        let e = ijepa(&mat(2, 3, 0.1, 1.0), &t).unwrap_err();
        assert!(
            e.to_string().contains("`target` has a non-finite value"),
            "{e}"
        );
    }
}
