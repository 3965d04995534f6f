//! The VICReg variance and covariance terms of one embedding batch, with their gradients, on
//! plain buffers (the terms of [`mod@ami_jepa::vicreg`]).
//!
//! For `x [n, d]`: `x̄ = x − mean_rows(x)`, `C = x̄ᵀx̄ / (n − 1)`, `σ_j = sqrt(C_jj + ε)`,
//! `v(x) = (1/d) Σ_j relu(γ − σ_j)`, `c(x) = (1/d) Σ_{i≠j} C_ij²`, and
//!
//! * `∂v/∂x_ij = −1[σ_j < γ] · x̄_ij / (d · σ_j · (n − 1))`;
//! * `∂c/∂x = 4 · x̄ · offdiag(C) / (d · (n − 1))` (the centring's backward vanishes: the
//!   columns of `x̄` sum to zero).

use super::gemm::{matmul_tn_with, matmul_with, Epilogue, Rhs, Threads};

/// Weights and constants of [`variance_covariance`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarCov {
    /// `w_v`, multiplies `∂v/∂x` in the gradient.
    pub w_var: f32,
    /// `w_c`, multiplies `∂c/∂x` in the gradient.
    pub w_cov: f32,
    /// `γ`, the target standard deviation.
    pub gamma: f32,
    /// `ε` under the square root.
    pub eps: f32,
}

/// `(v(x), c(x))` of `x [n, d]` (module docs), adding `w_v · ∂v/∂x + w_c · ∂c/∂x` to
/// `g [n, d]`. `centred [n, d]` and `cov [d, d]` are scratch; `n ≥ 2`.
pub fn variance_covariance(
    x: &[f32],
    n: usize,
    d: usize,
    s: VarCov,
    g: &mut [f32],
    centred: &mut [f32],
    cov: &mut [f32],
) -> (f32, f32) {
    let mut mean = vec![0.0f64; d];
    for row in x[..n * d].chunks_exact(d) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += f64::from(*v));
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    for (c, row) in centred.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
        for ((c, v), m) in c.iter_mut().zip(row).zip(&mean) {
            *c = v - m;
        }
    }
    let denom = (n.max(2) - 1) as f32;
    matmul_tn_with(cov, centred, centred, (d, n, d), false, Threads::One);
    cov.iter_mut().for_each(|c| *c /= denom);

    // Variance hinge and its gradient.
    let sigma: Vec<f32> = (0..d).map(|j| (cov[j * d + j] + s.eps).sqrt()).collect();
    let variance = sigma.iter().map(|&sd| (s.gamma - sd).max(0.0)).sum::<f32>() / d as f32;
    let coef: Vec<f32> = sigma
        .iter()
        .map(|&sd| {
            if sd < s.gamma {
                -s.w_var / (d as f32 * sd * denom)
            } else {
                0.0
            }
        })
        .collect();
    for (g, c) in g.chunks_exact_mut(d).zip(centred.chunks_exact(d)) {
        for ((g, c), k) in g.iter_mut().zip(c).zip(&coef) {
            *g += k * c;
        }
    }

    // Covariance penalty; `cov` becomes its gradient factor `4 w_c offdiag(C) / (d (n−1))`.
    let mut off = 0.0f64;
    let w = 4.0 * s.w_cov / (d as f32 * denom);
    for i in 0..d {
        for j in 0..d {
            let c = &mut cov[i * d + j];
            if i == j {
                *c = 0.0;
            } else {
                off += f64::from(*c * *c);
                *c *= w;
            }
        }
    }
    let epi = (Rhs::Plain, true, Epilogue::None);
    matmul_with(g, centred, cov, (n, d, d), epi, Threads::One);
    (variance, (off / d as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values against the hand computations of `ami_jepa::vicreg`'s tests, and the gradient
    /// against central finite differences of `w_v·v + w_c·c`.
    #[test]
    fn values_and_gradient_match_hand_and_finite_differences() {
        let x = [0.0f32, 0.0, 0.5, 1.0, 1.0, 0.5];
        let s = VarCov {
            w_var: 0.7,
            w_cov: 1.3,
            gamma: 1.0,
            eps: 1e-4,
        };
        let (mut cen, mut cov) = (vec![0.0; 6], vec![0.0; 4]);
        let mut g = vec![0.0f32; 6];
        let (v, c) = variance_covariance(&x, 3, 2, s, &mut g, &mut cen, &mut cov);
        assert!((v - (1.0 - (0.25f32 + 1e-4).sqrt())).abs() < 1e-6, "{v}");
        // C = [[0.25, 0.125], [0.125, 0.25]]: c = 2 · 0.125² / 2.
        assert!((c - 0.015625).abs() < 1e-6, "{c}");
        let f = |x: &[f32]| {
            let (mut cen, mut cov, mut g) = (vec![0.0; 6], vec![0.0; 4], vec![0.0; 6]);
            let (v, c) = variance_covariance(x, 3, 2, s, &mut g, &mut cen, &mut cov);
            f64::from(s.w_var * v + s.w_cov * c)
        };
        for i in 0..6 {
            let h = 1e-3f32;
            let (mut p, mut m) = (x, x);
            p[i] += h;
            m[i] -= h;
            let fd = (f(&p) - f(&m)) / (2.0 * f64::from(h));
            assert!(
                (f64::from(g[i]) - fd).abs() < 2e-3,
                "[{i}] {} vs {fd}",
                g[i]
            );
        }
    }
}
