//! VICReg (Bardes, Ponce, LeCun, ICLR 2022), following the official code
//! (facebookresearch/vicreg `main_vicreg.py`, `VICReg.forward` on one process; REFERENCE §1):
//!
//! ```text
//! inv   = mean((x − y)²)                                    over the N·D entries
//! xc    = x − mean₀(x),   std_j = sqrt(var_j(x, unbiased) + 1e-4)
//! var   = mean_j relu(1 − std_x,j)/2 + mean_j relu(1 − std_y,j)/2
//! C_x   = xcᵀxc/(N − 1),  cov = Σ_{a≠b} C_x,ab²/D + Σ_{a≠b} C_y,ab²/D
//! loss  = sim_coeff·inv + std_coeff·var + cov_coeff·cov
//! ```
//!
//! The code halves each branch's variance term where the paper's equation does not
//! (vicreg issues #8, #26); this follows the code. The terms are reported unweighted.
//!
//! Gradients: `∂inv/∂x = 2(x − y)/(ND)`; `∂var/∂x_ij = −1[std_j < 1]·xc_ij/(2D(N − 1)std_j)`
//! (relu′(0) = 0, as autograd); `∂cov/∂x = 4·xc·off(C_x)/(D(N − 1))`. Centring adds no term:
//! `xc·off(C)` and `xc` already have zero column means.

use super::{axpby, check_inputs, SslLoss};
use crate::contrastive::nonneg;
use crate::error::Result;
use crate::matrix::Matrix;

/// The `1e-4` added to the variance before the square root (hard-coded in the official code).
pub const VICREG_STD_EPS: f64 = 1e-4;

/// VICReg's coefficients (official defaults 25, 25, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VicregParams {
    /// Weight of the invariance term `inv` (`--sim-coeff`), ≥ 0.
    pub sim_coeff: f64,
    /// Weight of the variance term `var` (`--std-coeff`), ≥ 0.
    pub std_coeff: f64,
    /// Weight of the covariance term `cov` (`--cov-coeff`), ≥ 0.
    pub cov_coeff: f64,
}

impl Default for VicregParams {
    fn default() -> Self {
        Self {
            sim_coeff: 25.0,
            std_coeff: 25.0,
            cov_coeff: 1.0,
        }
    }
}

/// One branch's variance and covariance terms and their gradients.
struct Branch {
    var: f64,
    d_var: Matrix,
    cov: f64,
    d_cov: Matrix,
}

fn branch(z: &Matrix) -> Branch {
    let (n, d) = (z.rows(), z.cols());
    let mean = z.column_means();
    let mut xc = z.clone();
    for r in 0..n {
        xc.row_mut(r)
            .iter_mut()
            .zip(&mean)
            .for_each(|(v, m)| *v -= m);
    }
    let nm1 = (n - 1) as f64;
    let mut c = xc.transpose().matmul(&xc).expect("[D, N]·[N, D]");
    c.as_mut_slice().iter_mut().for_each(|v| *v /= nm1);
    let std: Vec<f64> = (0..d)
        .map(|j| (c[(j, j)] + VICREG_STD_EPS).sqrt())
        .collect();
    let var = std.iter().map(|s| (1.0 - s).max(0.0)).sum::<f64>() / d as f64 / 2.0;
    let mut d_var = Matrix::zeros(n, d);
    for i in 0..n {
        for (j, s) in std.iter().enumerate() {
            if *s < 1.0 {
                d_var[(i, j)] = -xc[(i, j)] / (2.0 * d as f64 * nm1 * s);
            }
        }
    }
    let mut off = c;
    for j in 0..d {
        off[(j, j)] = 0.0;
    }
    let cov = off.as_slice().iter().map(|v| v * v).sum::<f64>() / d as f64;
    let mut d_cov = xc.matmul(&off).expect("[N, D]·[D, D]");
    let k = 4.0 / (d as f64 * nm1);
    d_cov.as_mut_slice().iter_mut().for_each(|v| *v *= k);
    Branch {
        var,
        d_var,
        cov,
        d_cov,
    }
}

/// VICReg loss of two batches of embeddings `x`, `y` `[N, D]` (`N ≥ 2`): terms `inv`, `var`,
/// `cov` (unweighted), gradients for `x` and `y`.
///
/// # Errors
/// Different shapes, `N < 2` (the unbiased variance divides by `N − 1`), `D = 0`, a
/// non-finite value, or a negative or non-finite coefficient.
pub fn vicreg(x: &Matrix, y: &Matrix, p: &VicregParams) -> Result<SslLoss> {
    check_inputs(
        &[("x", x), ("y", y)],
        2,
        "the unbiased variance divides by N - 1",
    )?;
    let w_inv = nonneg("sim_coeff", p.sim_coeff)?;
    let w_var = nonneg("std_coeff", p.std_coeff)?;
    let w_cov = nonneg("cov_coeff", p.cov_coeff)?;
    let nd = (x.rows() * x.cols()) as f64;
    let diff = axpby(1.0, x, -1.0, y);
    let inv = diff.as_slice().iter().map(|v| v * v).sum::<f64>() / nd;
    let (bx, by) = (branch(x), branch(y));
    let grad = |b: &Branch, sign: f64| {
        let g = axpby(sign * w_inv * 2.0 / nd, &diff, w_var, &b.d_var);
        axpby(1.0, &g, w_cov, &b.d_cov)
    };
    let (gx, gy) = (grad(&bx, 1.0), grad(&by, -1.0));
    let (var_t, cov_t) = (bx.var + by.var, bx.cov + by.cov);
    SslLoss {
        value: w_inv * inv + w_var * var_t + w_cov * cov_t,
        terms: vec![("inv", inv), ("var", var_t), ("cov", cov_t)],
        grads: vec![("x", gx), ("y", gy)],
    }
    .finite("vicreg")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::{check_grad, mat};

    fn m(rows: &[&[f64]]) -> Matrix {
        Matrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn hand_computed_terms() {
        // x = [0, 2]ᵀ, y = [1, 1]ᵀ: inv = 1; std_x = √(2 + 1e-4) > 1, std_y = √1e-4 = 0.01,
        // var = (0 + 0.99)/2; one feature, no covariance.
        let l = vicreg(
            &m(&[&[0.0], &[2.0]]),
            &m(&[&[1.0], &[1.0]]),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(l.term("inv"), Some(1.0));
        assert!((l.term("var").unwrap() - 0.495).abs() < 1e-15);
        assert_eq!(l.term("cov"), Some(0.0));
        assert!((l.value - (25.0 + 25.0 * 0.495)).abs() < 1e-12);
        // x = [[1, 1], [−1, −1]]: C_x = [[2, 2], [2, 2]], off-diagonal Σ = 2·4, /D = 4; y = x.
        let x = m(&[&[1.0, 1.0], &[-1.0, -1.0]]);
        let l = vicreg(&x, &x, &Default::default()).unwrap();
        assert_eq!(l.term("inv"), Some(0.0));
        assert_eq!(l.term("var"), Some(0.0), "std = √2.0001 > 1");
        assert_eq!(l.term("cov"), Some(8.0));
        assert_eq!(l.value, 8.0);
        // The coefficients weight the terms.
        let p = VicregParams {
            sim_coeff: 2.0,
            std_coeff: 3.0,
            cov_coeff: 0.5,
        };
        let (x, y) = (mat(5, 3, 0.7, 0.5), mat(5, 3, 1.9, 0.5));
        let l = vicreg(&x, &y, &p).unwrap();
        let t = |n| l.term(n).unwrap();
        assert!((l.value - (2.0 * t("inv") + 3.0 * t("var") + 0.5 * t("cov"))).abs() < 1e-14);
        assert!(t("var") > 0.0 && t("cov") > 0.0 && t("inv") > 0.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let p = VicregParams {
            sim_coeff: 1.5,
            std_coeff: 2.5,
            cov_coeff: 0.7,
        };
        // Feature j scaled by 0.4 + 0.6·j: some stds below 1 and others above, so both sides
        // of the hinge are exercised.
        let spread = |m: Matrix| {
            let mut m = m;
            for r in 0..m.rows() {
                for (j, v) in m.row_mut(r).iter_mut().enumerate() {
                    *v *= 0.4 + 0.6 * j as f64;
                }
            }
            m
        };
        let (x, y) = (spread(mat(6, 4, 0.83, 1.0)), spread(mat(6, 4, 1.37, 1.0)));
        let l = vicreg(&x, &y, &p).unwrap();
        for z in [&x, &y] {
            let stds = z.column_variances(1);
            assert!(stds.iter().any(|v| v.sqrt() < 0.9) && stds.iter().any(|v| v.sqrt() > 1.1));
        }
        let fx = |x: &Matrix| vicreg(x, &y, &p).unwrap().value;
        check_grad(&fx, &x, l.grad("x").unwrap(), "vicreg x");
        let fy = |y: &Matrix| vicreg(&x, y, &p).unwrap().value;
        check_grad(&fy, &y, l.grad("y").unwrap(), "vicreg y");
        // Each term separately (one coefficient at a time).
        for (s, v, c) in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)] {
            let p = VicregParams {
                sim_coeff: s,
                std_coeff: v,
                cov_coeff: c,
            };
            let g = vicreg(&x, &y, &p).unwrap();
            let fx = |x: &Matrix| vicreg(x, &y, &p).unwrap().value;
            check_grad(&fx, &x, g.grad("x").unwrap(), "vicreg term x");
        }
    }

    #[test]
    fn at_std_one_the_variance_hinge_is_flat() {
        // Column [0, t] with t²/2 + 1e-4 rounding to exactly 1: std = 1, relu(1 − std) = 0 and
        // its derivative is taken as 0 there (relu′(0) = 0, as autograd).
        let mut t = (2.0f64 * (1.0 - VICREG_STD_EPS)).sqrt();
        let std = |t: f64| ((t * t / 2.0) + VICREG_STD_EPS).sqrt();
        for _ in 0..64 {
            if std(t) == 1.0 {
                break;
            }
            t = if std(t) < 1.0 {
                t.next_up()
            } else {
                t.next_down()
            };
        }
        assert_eq!(std(t), 1.0);
        let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![t, 3.0]]).unwrap();
        let p = VicregParams {
            sim_coeff: 0.0,
            std_coeff: 1.0,
            cov_coeff: 0.0,
        };
        let l = vicreg(&x, &x, &p).unwrap();
        assert_eq!(l.term("var"), Some(0.0));
        assert_eq!(l.grad("x").unwrap().as_slice(), &[0.0; 4]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = VicregParams::default();
        let one = Matrix::zeros(1, 3);
        let e = vicreg(&one, &one, &p).unwrap_err().to_string();
        assert!(e.contains("`x` has 1 samples; at least 2"), "{e}");
        let e = vicreg(&mat(3, 2, 0.1, 1.0), &mat(3, 3, 0.2, 1.0), &p).unwrap_err();
        assert!(e.to_string().contains("`y` has shape [3, 3]"), "{e}");
        let bad = VicregParams {
            cov_coeff: -1.0,
            ..p
        };
        let e = vicreg(&mat(3, 2, 0.1, 1.0), &mat(3, 2, 0.2, 1.0), &bad).unwrap_err();
        assert!(e.to_string().contains("cov_coeff"), "{e}");
    }
}
