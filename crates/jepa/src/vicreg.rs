//! VICReg terms (Bardes, Ponce, LeCun, ICLR 2022), following the official code
//! (facebookresearch/vicreg `main_vicreg.py`; REFERENCE.md §1):
//!
//! * invariance `inv(x, y) = mean((x − y)²)` over all N·D entries;
//! * variance `v(x) = mean_j relu(γ − sqrt(Var_j(x) + ε))` with the unbiased (N−1) variance,
//!   γ = 1, ε = 1e-4; the two-branch loss uses `(v(x) + v(y)) / 2` (the code halves it, the
//!   paper does not);
//! * covariance `c(x) = Σ_{i≠j} C_ij² / D` with `C = xcᵀ xc / (N − 1)`, summed over branches.

use burn::tensor::activation::relu;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Numerical floor inside the square root of the variance term (hard-coded in the official code).
pub const VICREG_EPS: f32 = 1e-4;

/// Mean squared difference over all entries.
///
/// # Shapes
/// `x, y [N, D] -> [1]`
pub fn invariance(x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    (x - y).powi_scalar(2).mean()
}

/// Hinge on the per-dimension standard deviation: `mean_j relu(γ − sqrt(Var_j(x) + ε))`.
///
/// # Shapes
/// `x [N, D] -> [1]`
pub fn variance(x: Tensor<2>, gamma: f32) -> Tensor<1> {
    let std = x.var(0).add_scalar(VICREG_EPS).sqrt();
    relu(std.neg().add_scalar(gamma)).mean()
}

/// Sum of squared off-diagonal covariance entries divided by D.
///
/// # Shapes
/// `x [N, D] -> [1]`
pub fn covariance(x: Tensor<2>) -> Tensor<1> {
    let [n, d] = x.dims();
    let denom = (n.max(2) - 1) as f32;
    let xc = x.clone() - x.mean_dim(0);
    // diag(C)_j = Σ_i xc_ij² / (N − 1); off-diagonal sum of squares = ΣC² − Σ diag(C)².
    let diag = xc.clone().powi_scalar(2).sum_dim(0).div_scalar(denom);
    let c = xc.clone().transpose().matmul(xc).div_scalar(denom);
    (c.powi_scalar(2).sum() - diag.powi_scalar(2).sum()).div_scalar(d as f32)
}

/// Coefficients of the two-branch VICReg loss (defaults of the official code).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VicregConfig {
    /// λ, weight of the invariance term (25).
    pub sim_coeff: f32,
    /// μ, weight of the variance term (25).
    pub std_coeff: f32,
    /// ν, weight of the covariance term (1).
    pub cov_coeff: f32,
    /// γ, target standard deviation (1).
    pub gamma: f32,
}

impl Default for VicregConfig {
    fn default() -> Self {
        VicregConfig {
            sim_coeff: 25.0,
            std_coeff: 25.0,
            cov_coeff: 1.0,
            gamma: 1.0,
        }
    }
}

/// The separate terms of a VICReg loss, as tensors (for back-propagation).
pub struct VicregTerms {
    /// Weighted total.
    pub loss: Tensor<1>,
    /// `inv(x, y)`.
    pub invariance: Tensor<1>,
    /// `(v(x) + v(y)) / 2`.
    pub variance: Tensor<1>,
    /// `c(x) + c(y)`.
    pub covariance: Tensor<1>,
}

/// Two-branch VICReg loss `λ·inv + μ·(v(x)+v(y))/2 + ν·(c(x)+c(y))`.
///
/// # Shapes
/// `x, y [N, D]`
pub fn vicreg(x: Tensor<2>, y: Tensor<2>, cfg: &VicregConfig) -> VicregTerms {
    let inv = invariance(x.clone(), y.clone());
    let var = (variance(x.clone(), cfg.gamma) + variance(y.clone(), cfg.gamma)).div_scalar(2.0);
    let cov = covariance(x) + covariance(y);
    let loss = inv.clone().mul_scalar(cfg.sim_coeff)
        + var.clone().mul_scalar(cfg.std_coeff)
        + cov.clone().mul_scalar(cfg.cov_coeff);
    VicregTerms {
        loss,
        invariance: inv,
        variance: var,
        covariance: cov,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], n: usize, d: usize) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [n, d]), &Device::flex())
    }

    fn scalar(x: Tensor<1>) -> f32 {
        x.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    // Hand computation for x = [[0,0],[1,2],[2,1]] (N = 3, D = 2):
    // column means (1, 1); xc = [[-1,-1],[0,1],[1,0]];
    // Var (N−1): col0 = (1+0+1)/2 = 1, col1 = (1+1+0)/2 = 1;
    // C_01 = ((-1)(-1) + 0·1 + 1·0)/2 = 0.5; cov = 2·0.25/2 = 0.25.
    #[test]
    fn covariance_matches_hand_computation() {
        let x = t(&[0., 0., 1., 2., 2., 1.], 3, 2);
        assert!((scalar(covariance(x)) - 0.25).abs() < 1e-6);
    }

    // std_j = sqrt(1 + 1e-4) > 1 for both columns -> variance term is exactly 0;
    // scaling x by 0.5 gives Var = 0.25, std = sqrt(0.2501), term = 1 − sqrt(0.2501).
    #[test]
    fn variance_matches_hand_computation() {
        let x = t(&[0., 0., 1., 2., 2., 1.], 3, 2);
        assert_eq!(scalar(variance(x, 1.0)), 0.0);
        let x = t(&[0., 0., 0.5, 1., 1., 0.5], 3, 2);
        let expected = 1.0 - (0.25f32 + 1e-4).sqrt();
        assert!((scalar(variance(x, 1.0)) - expected).abs() < 1e-6);
    }

    #[test]
    fn invariance_and_total_match_hand_computation() {
        let x = t(&[0., 0., 1., 2., 2., 1.], 3, 2);
        let y = t(&[1., 0., 1., 2., 2., 3.], 3, 2);
        // squared diffs: 1, 0, 0, 0, 0, 4 -> mean 5/6
        let terms = vicreg(x, y.clone(), &VicregConfig::default());
        let inv = scalar(terms.invariance);
        assert!((inv - 5.0 / 6.0).abs() < 1e-6);
        // y: means (4/3, 5/3); xc col0 = (-1/3,-1/3,2/3) var = (1/9+1/9+4/9)/2 = 1/3
        // col1 = (-5/3, 1/3, 4/3): var = (25+1+16)/9/2 = 7/3; C01 = (5/9 − 1/9 + 8/9)/2 = 2/3
        let cov_y = 2.0 * (2.0f32 / 3.0).powi(2) / 2.0;
        let var_y = (1.0 - (1.0f32 / 3.0 + 1e-4).sqrt()).max(0.0) / 2.0;
        let var = var_y / 2.0; // x contributes 0; (v(x)+v(y))/2
        let expected = 25.0 * inv + 25.0 * var + (0.25 + cov_y);
        assert!((scalar(terms.loss) - expected).abs() < 1e-4);
        assert!((scalar(covariance(y)) - cov_y).abs() < 1e-6);
    }
}
