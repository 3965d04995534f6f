//! Barlow Twins (Zbontar et al., ICML 2021), following the official code
//! (facebookresearch/barlowtwins `main.py`, one process; REFERENCE §2):
//!
//! ```text
//! ẑ   = BN(z)          BatchNorm1d(affine=False) in training mode: per feature,
//!                      (z − mean)/sqrt(var_biased + 1e-5)
//! c   = ẑ1ᵀ ẑ2 / N     [D, D]
//! on_diag  = Σ_i (c_ii − 1)²,   off_diag = Σ_{i≠j} c_ij²
//! loss     = on_diag + λ·off_diag
//! ```
//!
//! Gradients: with `G = ∂loss/∂c` (`2(c_ii − 1)` on the diagonal, `2λc_ij` off it),
//! `∂/∂ẑ1 = ẑ2 Gᵀ/N`, `∂/∂ẑ2 = ẑ1 G/N`, then back through the batch norm per feature:
//! `∂/∂z = (N·g − Σg − ẑ·Σ(g·ẑ)) / (N·σ)`, `σ = sqrt(var_biased + 1e-5)`.

use super::{check_inputs, SslLoss};
use crate::contrastive::nonneg;
use crate::error::Result;
use crate::matrix::Matrix;

/// The batch norm's `eps` (PyTorch's `BatchNorm1d` default).
pub const BATCH_NORM_EPS: f64 = 1e-5;

/// Barlow Twins' weight of the off-diagonal term (`--lambd`, official default 0.0051).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarlowTwinsParams {
    /// λ ≥ 0.
    pub lambd: f64,
}

impl Default for BarlowTwinsParams {
    fn default() -> Self {
        Self { lambd: 0.0051 }
    }
}

/// Batch norm without affine parameters: `ẑ` and the per-feature `σ`.
fn batch_norm(z: &Matrix) -> (Matrix, Vec<f64>) {
    let mean = z.column_means();
    let sigma: Vec<f64> = z
        .column_variances(0)
        .iter()
        .map(|v| (v + BATCH_NORM_EPS).sqrt())
        .collect();
    let mut zh = z.clone();
    for r in 0..z.rows() {
        for ((v, m), s) in zh.row_mut(r).iter_mut().zip(&mean).zip(&sigma) {
            *v = (*v - m) / s;
        }
    }
    (zh, sigma)
}

/// Back through [`batch_norm`]: `g = ∂L/∂ẑ` to `∂L/∂z`.
fn batch_norm_backward(g: &Matrix, zh: &Matrix, sigma: &[f64]) -> Matrix {
    let n = g.rows() as f64;
    let d = g.cols();
    let (mut sum_g, mut sum_gz) = (vec![0.0; d], vec![0.0; d]);
    for r in 0..g.rows() {
        for j in 0..d {
            sum_g[j] += g[(r, j)];
            sum_gz[j] += g[(r, j)] * zh[(r, j)];
        }
    }
    let mut out = Matrix::zeros(g.rows(), d);
    for r in 0..g.rows() {
        for j in 0..d {
            out[(r, j)] = (n * g[(r, j)] - sum_g[j] - zh[(r, j)] * sum_gz[j]) / (n * sigma[j]);
        }
    }
    out
}

/// Barlow Twins loss of two batches of embeddings `z1`, `z2` `[N, D]` (`N ≥ 2`): terms
/// `on_diag`, `off_diag` (unweighted), gradients for `z1` and `z2`.
///
/// # Errors
/// Different shapes, `N < 2` (PyTorch's batch norm refuses one value per feature in training
/// mode), `D = 0`, a non-finite value, or a negative or non-finite `lambd`.
pub fn barlow_twins(z1: &Matrix, z2: &Matrix, p: &BarlowTwinsParams) -> Result<SslLoss> {
    check_inputs(
        &[("z1", z1), ("z2", z2)],
        2,
        "batch norm in training mode needs more than one value per feature",
    )?;
    let lambd = nonneg("lambd", p.lambd)?;
    let n = z1.rows() as f64;
    let (h1, s1) = batch_norm(z1);
    let (h2, s2) = batch_norm(z2);
    let mut c = h1.transpose().matmul(&h2).expect("[D, N]·[N, D]");
    c.as_mut_slice().iter_mut().for_each(|v| *v /= n);
    let (mut on, mut off) = (0.0, 0.0);
    let mut g = c.clone();
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let v = c[(i, j)];
            if i == j {
                on += (v - 1.0) * (v - 1.0);
                g[(i, j)] = 2.0 * (v - 1.0) / n;
            } else {
                off += v * v;
                g[(i, j)] = 2.0 * lambd * v / n;
            }
        }
    }
    // g = (∂loss/∂c)/N: ∂/∂ẑ1 = ẑ2 gᵀ, ∂/∂ẑ2 = ẑ1 g.
    let gh1 = h2.matmul_t(&g).expect("[N, D]·[D, D]ᵀ");
    let gh2 = h1.matmul(&g).expect("[N, D]·[D, D]");
    SslLoss {
        value: on + lambd * off,
        terms: vec![("on_diag", on), ("off_diag", off)],
        grads: vec![
            ("z1", batch_norm_backward(&gh1, &h1, &s1)),
            ("z2", batch_norm_backward(&gh2, &h2, &s2)),
        ],
    }
    .finite("barlow-twins")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    #[test]
    fn hand_computed_terms() {
        // Each column is ±1·(1, 2): variance 1 (·1, ·4), so ẑ = ±1/√(1 + 1e-5) (first column)
        // and ±1/√(1 + 1e-5/4) (second); with z2 = z1, c_ab = ẑ_a·ẑ_b.
        let z = Matrix::from_rows(&[vec![1.0, 2.0], vec![-1.0, -2.0]]).unwrap();
        let l = barlow_twins(&z, &z, &Default::default()).unwrap();
        let (a, b) = (1.0 / (1.0 + 1e-5), 1.0 / (1.0 + 0.25e-5));
        let on = (a - 1.0f64).powi(2) + (b - 1.0f64).powi(2);
        let off = 2.0 * a * b;
        assert!((l.term("on_diag").unwrap() - on).abs() < 1e-20);
        assert!((l.term("off_diag").unwrap() - off).abs() < 1e-14);
        assert!((l.value - (on + 0.0051 * off)).abs() < 1e-15);
        // Batch norm removes shift and scale (up to eps): the loss barely moves.
        let moved = Matrix::from_rows(&[vec![13.0, -2.0], vec![7.0, -14.0]]).unwrap();
        let l2 = barlow_twins(&moved, &z, &Default::default()).unwrap();
        assert!((l2.value - l.value).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let p = BarlowTwinsParams { lambd: 0.3 };
        let (z1, z2) = (mat(7, 4, 0.61, 1.0), mat(7, 4, 1.17, 2.0));
        let l = barlow_twins(&z1, &z2, &p).unwrap();
        let f1 = |z: &Matrix| barlow_twins(z, &z2, &p).unwrap().value;
        check_grad(&f1, &z1, l.grad("z1").unwrap(), "barlow z1");
        let f2 = |z: &Matrix| barlow_twins(&z1, z, &p).unwrap().value;
        check_grad(&f2, &z2, l.grad("z2").unwrap(), "barlow z2");
        // Default λ: the on-diagonal part dominates; still exact.
        let p = BarlowTwinsParams::default();
        let l = barlow_twins(&z1, &z2, &p).unwrap();
        let f1 = |z: &Matrix| barlow_twins(z, &z2, &p).unwrap().value;
        check_grad(&f1, &z1, l.grad("z1").unwrap(), "barlow z1, default λ");
    }

    #[test]
    fn batch_norm_backward_is_the_gradient_of_batch_norm() {
        // Inside the loss the incoming gradient has zero column sums (ẑ's columns do), which
        // hides the Σg term; a generic weighting w does not: f(z) = Σ w ⊙ BN(z).
        let (z, w) = (mat(5, 3, 0.47, 1.5), mat(5, 3, 1.31, 1.0));
        assert!((0..3).all(|j| (0..5).map(|i| w[(i, j)]).sum::<f64>().abs() > 0.05));
        let (zh, sigma) = batch_norm(&z);
        let g = batch_norm_backward(&w, &zh, &sigma);
        let f = |z: &Matrix| {
            let h = batch_norm(z).0;
            h.as_slice()
                .iter()
                .zip(w.as_slice())
                .map(|(a, b)| a * b)
                .sum()
        };
        check_grad(&f, &z, &g, "batch norm");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = BarlowTwinsParams::default();
        let e = barlow_twins(&mat(1, 3, 0.1, 1.0), &mat(1, 3, 0.2, 1.0), &p).unwrap_err();
        assert!(e.to_string().contains("`z1` has 1 samples"), "{e}");
        let e = barlow_twins(&mat(3, 3, 0.1, 1.0), &mat(4, 3, 0.2, 1.0), &p).unwrap_err();
        assert!(e.to_string().contains("`z2` has shape [4, 3]"), "{e}");
        let bad = BarlowTwinsParams { lambd: f64::NAN };
        let e = barlow_twins(&mat(3, 3, 0.1, 1.0), &mat(3, 3, 0.2, 1.0), &bad).unwrap_err();
        assert!(e.to_string().contains("lambd"), "{e}");
    }
}
