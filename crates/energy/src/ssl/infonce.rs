//! InfoNCE (Oord et al. 2018) in the asymmetric form MoCo uses (facebookresearch/moco
//! `builder.py`, with the keys of the batch as the negatives; REFERENCE §5): the rows of
//! `q` and `k` `[N, D]` are l2-normalised, the logits are `q̂ k̂ᵀ/τ`, the positive of query
//! `i` is key `i` (the diagonal), and the loss is the cross-entropy averaged over the N
//! queries:
//!
//! ```text
//! loss = (1/N) Σ_i [−q̂ᵢ·k̂ᵢ/τ + log Σ_j exp(q̂ᵢ·k̂ⱼ/τ)]
//! ```
//!
//! This wraps [`crate::contrastive::info_nce_cosine`]. MoCo's `F.normalize` divides by
//! `max(‖x‖, 1e-12)`; rows of norm below 1e-12, the only rows where that differs from
//! `x/‖x‖`, are refused.

use super::{check_inputs, check_row_norms, SslLoss};
use crate::contrastive::{info_nce_cosine, positive};
use crate::error::Result;
use crate::matrix::Matrix;

/// Row norm below which PyTorch's `F.normalize` clamps (its `eps`).
pub const INFONCE_MIN_NORM: f64 = 1e-12;

const SOURCE: &str = "PyTorch's F.normalize";

/// InfoNCE's temperature (MoCo's `--moco-t` default 0.07).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfoNceParams {
    /// τ > 0.
    pub temperature: f64,
}

impl Default for InfoNceParams {
    fn default() -> Self {
        Self { temperature: 0.07 }
    }
}

/// InfoNCE of queries `q` and keys `k` `[N, D]` with the positives on the diagonal: no terms,
/// gradients for `q` and `k`.
///
/// # Errors
/// Different shapes, `N < 2` (a positive needs at least one negative), `D = 0`, a non-finite
/// value, a row of norm below [`INFONCE_MIN_NORM`], or a temperature that is not a finite
/// number > 0.
pub fn infonce(q: &Matrix, k: &Matrix, p: &InfoNceParams) -> Result<SslLoss> {
    check_inputs(
        &[("q", q), ("k", k)],
        2,
        "each query's positive needs at least one negative key",
    )?;
    let tau = positive("temperature", p.temperature)?;
    check_row_norms(q, "q", INFONCE_MIN_NORM, SOURCE)?;
    check_row_norms(k, "k", INFONCE_MIN_NORM, SOURCE)?;
    let (value, gq, gk) = info_nce_cosine(q, k, tau)?;
    SslLoss {
        value,
        terms: vec![],
        grads: vec![("q", gq), ("k", gk)],
    }
    .finite("infonce")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    #[test]
    fn hand_computed_values() {
        // q = k = [e1; e2], τ = 1: each row's logits are (1, 0) with the positive first:
        // L = log(e + 1) − 1. Scaling rows changes nothing.
        let e = Matrix::identity(2);
        let p = InfoNceParams { temperature: 1.0 };
        let l = infonce(&e, &e, &p).unwrap();
        assert!((l.value - ((1f64.exp() + 1.0).ln() - 1.0)).abs() < 1e-15);
        let e3 = Matrix::from_rows(&[vec![3.0, 0.0], vec![0.0, 0.2]]).unwrap();
        assert!((infonce(&e3, &e, &p).unwrap().value - l.value).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let p = InfoNceParams::default();
        let (q, k) = (mat(5, 3, 0.21, 1.0), mat(5, 3, 0.67, 1.0));
        let l = infonce(&q, &k, &p).unwrap();
        let f = |x: &Matrix| infonce(x, &k, &p).unwrap().value;
        check_grad(&f, &q, l.grad("q").unwrap(), "infonce q");
        let f = |x: &Matrix| infonce(&q, x, &p).unwrap().value;
        check_grad(&f, &k, l.grad("k").unwrap(), "infonce k");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = mat(1, 2, 0.4, 1.0);
        let e = infonce(&a, &a, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("`q` has 1 samples"), "{e}");
        let b = mat(3, 2, 0.4, 1.0);
        let mut z = b.clone();
        z.row_mut(0).fill(0.0);
        let e = infonce(&z, &b, &Default::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`q` row 0"), "{e}");
        let e = infonce(&b, &b, &InfoNceParams { temperature: -1.0 }).unwrap_err();
        assert!(e.to_string().contains("temperature"), "{e}");
    }
}
