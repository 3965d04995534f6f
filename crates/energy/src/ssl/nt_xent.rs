//! NT-Xent, SimCLR's loss (Chen et al., ICML 2020; google-research/simclr `objective.py`;
//! REFERENCE §5), on two views `z1`, `z2` `[N, D]`: the 2N rows are l2-normalised,
//! `s_ij = ûᵢᵀûⱼ/τ`, and every anchor's positive is the other view of its sample; each anchor's
//! loss is `−s_{i,p(i)} + log Σ_{k≠i} exp(s_ik)` (self-similarity excluded: the official
//! code masks it with −1e9, whose `exp` is exactly 0), and the loss is the **mean over the
//! 2N anchors**, the paper's value. The official `add_contrastive_loss` returns
//! `loss_a + loss_b`, each a mean over N anchors: twice this value.
//!
//! This wraps [`crate::contrastive::nt_xent`] (rows `i` and `i + N` of `[z1; z2]` are the two
//! views) and splits its gradient. SimCLR's `tf.math.l2_normalize` divides by
//! `sqrt(max(‖z‖², 1e-12))`; rows of norm below 1e-6, the only rows where that differs from
//! `z/‖z‖`, are refused.

use super::{check_inputs, check_row_norms, SslLoss};
use crate::contrastive::{self, positive};
use crate::error::Result;
use crate::matrix::Matrix;

/// Row norm below which SimCLR's `l2_normalize` clamps (`sqrt` of its epsilon 1e-12 on the
/// squared norm).
pub const SIMCLR_MIN_NORM: f64 = 1e-6;

const SOURCE: &str = "SimCLR's tf.math.l2_normalize";

/// NT-Xent's temperature (0.5, SimCLR's README value for CIFAR-10; its flag default is 0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NtXentParams {
    /// τ > 0.
    pub temperature: f64,
}

impl Default for NtXentParams {
    fn default() -> Self {
        Self { temperature: 0.5 }
    }
}

/// NT-Xent of two views `z1`, `z2` `[N, D]` (row `i` of each is a view of sample `i`): no
/// terms, gradients for `z1` and `z2`.
///
/// # Errors
/// Different shapes, `N = 0` or `D = 0`, a non-finite value, a row of norm below
/// [`SIMCLR_MIN_NORM`], or a temperature that is not a finite number > 0.
pub fn nt_xent(z1: &Matrix, z2: &Matrix, p: &NtXentParams) -> Result<SslLoss> {
    check_inputs(
        &[("z1", z1), ("z2", z2)],
        1,
        "every anchor needs a positive",
    )?;
    let tau = positive("temperature", p.temperature)?;
    check_row_norms(z1, "z1", SIMCLR_MIN_NORM, SOURCE)?;
    check_row_norms(z2, "z2", SIMCLR_MIN_NORM, SOURCE)?;
    let (n, d) = (z1.rows(), z1.cols());
    let z = Matrix::new(2 * n, d, [z1.as_slice(), z2.as_slice()].concat())?;
    let l = contrastive::nt_xent(&z, tau)?;
    let (g1, g2) = l.grad.split_at(n * d);
    SslLoss {
        value: l.value,
        terms: vec![],
        grads: vec![
            ("z1", Matrix::new(n, d, g1.to_vec())?),
            ("z2", Matrix::new(n, d, g2.to_vec())?),
        ],
    }
    .finite("nt-xent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    #[test]
    fn hand_computed_values() {
        // One sample: each anchor's only other row is its positive, so the loss is 0.
        let (a, b) = (mat(1, 3, 0.3, 1.0), mat(1, 3, 0.8, 1.0));
        assert_eq!(nt_xent(&a, &b, &Default::default()).unwrap().value, 0.0);
        // z1 = z2 = [e1; e2], τ = 1: every anchor sees its positive (cos 1) and two orthogonal
        // rows (cos 0): L = −1 + log(e + 2).
        let e = Matrix::identity(2);
        let l = nt_xent(&e, &e, &NtXentParams { temperature: 1.0 }).unwrap();
        assert!((l.value - ((1f64.exp() + 2.0).ln() - 1.0)).abs() < 1e-15);
        // Halving τ doubles every logit.
        let l = nt_xent(&e, &e, &NtXentParams { temperature: 0.5 }).unwrap();
        assert!((l.value - ((2f64.exp() + 2.0).ln() - 2.0)).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let p = NtXentParams { temperature: 0.3 };
        let (z1, z2) = (mat(4, 5, 0.41, 1.0), mat(4, 5, 0.93, 1.0));
        let l = nt_xent(&z1, &z2, &p).unwrap();
        let f = |z: &Matrix| nt_xent(z, &z2, &p).unwrap().value;
        check_grad(&f, &z1, l.grad("z1").unwrap(), "nt-xent z1");
        let f = |z: &Matrix| nt_xent(&z1, z, &p).unwrap().value;
        check_grad(&f, &z2, l.grad("z2").unwrap(), "nt-xent z2");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = mat(3, 2, 0.4, 1.0);
        let e = nt_xent(&a, &a, &NtXentParams { temperature: 0.0 }).unwrap_err();
        assert!(e.to_string().contains("temperature"), "{e}");
        let mut z = a.clone();
        z.row_mut(2).fill(0.0);
        let e = nt_xent(&a, &z, &Default::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`z2` row 2 has l2 norm 0"), "{e}");
        let e = nt_xent(&a, &mat(2, 2, 0.4, 1.0), &Default::default()).unwrap_err();
        assert!(e.to_string().contains("`z2` has shape [2, 2]"), "{e}");
    }
}
