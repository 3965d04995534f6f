//! Joint-embedding self-supervised objectives behind one trait (DESIGN.md §4
//! `SslObjective`): each reports its terms separately, by name.
//!
//! An objective has two uses:
//! * [`SslObjective::loss`] — the two-view loss between embeddings `z_a, z_b [B, D]` of two
//!   views of the same `B` samples (e.g. VICReg `λ·inv + μ·(v(z_a)+v(z_b))/2 + ν·(c(z_a)+c(z_b))`);
//! * [`SslObjective::regularize`] — its anti-collapse part on one batch of embeddings, which
//!   the world-model objective ([`crate::objective`]) applies to the representation of every
//!   time step (for VICReg `μ·v(z) + ν·c(z)`).
//!
//! A new objective = one file implementing this trait.

use burn::tensor::Tensor;

use crate::vicreg::{covariance, variance, vicreg, VicregConfig};

/// A loss and its unweighted terms, in a fixed order.
pub struct SslLoss {
    /// Weighted total `Σ_k w_k · term_k`.
    pub total: Tensor<1>,
    /// `(name, unweighted value)` of every term.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// A joint-embedding objective.
pub trait SslObjective: Send + Sync {
    /// Short name (`vicreg`, ...).
    fn name(&self) -> &'static str;

    /// Two-view loss.
    ///
    /// # Shapes
    /// `za, zb [B, D]` → total `[1]`, terms `[1]` each.
    fn loss(&self, za: Tensor<2>, zb: Tensor<2>) -> SslLoss;

    /// The anti-collapse regulariser on one view.
    ///
    /// # Shapes
    /// `z [B, D]` → total `[1]`, terms `[1]` each.
    fn regularize(&self, z: Tensor<2>) -> SslLoss;
}

/// VICReg (Bardes, Ponce, LeCun 2022) with the official code's conventions ([`crate::vicreg`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Vicreg(pub VicregConfig);

impl SslObjective for Vicreg {
    fn name(&self) -> &'static str {
        "vicreg"
    }

    /// Terms `invariance`, `variance` (`(v(za)+v(zb))/2`), `covariance` (`c(za)+c(zb)`).
    fn loss(&self, za: Tensor<2>, zb: Tensor<2>) -> SslLoss {
        let t = vicreg(za, zb, &self.0);
        SslLoss {
            total: t.loss,
            terms: vec![
                ("invariance", t.invariance),
                ("variance", t.variance),
                ("covariance", t.covariance),
            ],
        }
    }

    /// Terms `variance` `v(z)` and `covariance` `c(z)`; total `μ·v(z) + ν·c(z)`.
    fn regularize(&self, z: Tensor<2>) -> SslLoss {
        let v = variance(z.clone(), self.0.gamma);
        let c = covariance(z);
        SslLoss {
            total: v.clone().mul_scalar(self.0.std_coeff) + c.clone().mul_scalar(self.0.cov_coeff),
            terms: vec![("variance", v), ("covariance", c)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], n: usize, d: usize) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [n, d]), &Device::flex())
    }

    fn scalar(x: &Tensor<1>) -> f32 {
        x.clone().into_data().try_to_vec::<f32>().unwrap()[0]
    }

    /// x = [[0,0],[1,2],[2,1]]: column std √(1 + 1e-4) → v(x) = relu(1 − 1.00005) = 0;
    /// cov(x) = 0.25 (hand computation in `vicreg`'s tests). y = x/2: std √(0.25 + 1e-4) →
    /// v(y) = 1 − 0.5001 = 0.4999; cov(y) = 0.25/16.
    #[test]
    fn vicreg_terms_by_name_match_hand_computation() {
        let x = [0.0, 0.0, 1.0, 2.0, 2.0, 1.0];
        let y: Vec<f32> = x.iter().map(|v| v / 2.0).collect();
        let obj = Vicreg(VicregConfig::default());
        let reg = obj.regularize(t(&y, 3, 2));
        let names: Vec<_> = reg.terms.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["variance", "covariance"]);
        let v = 1.0 - (0.25f32 + 1e-4).sqrt();
        assert!((scalar(&reg.terms[0].1) - v).abs() < 1e-6);
        assert!((scalar(&reg.terms[1].1) - 0.25 / 16.0).abs() < 1e-6);
        assert!((scalar(&reg.total) - (25.0 * v + 0.25 / 16.0)).abs() < 1e-5);
        let two = obj.loss(t(&x, 3, 2), t(&y, 3, 2));
        let names: Vec<_> = two.terms.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["invariance", "variance", "covariance"]);
        // inv = mean((x − x/2)²) = mean(x²)/4 = (0+0+1+4+4+1)/6/4.
        let inv = 10.0 / 6.0 / 4.0;
        assert!((scalar(&two.terms[0].1) - inv).abs() < 1e-6);
        assert!((scalar(&two.terms[1].1) - v / 2.0).abs() < 1e-6);
        let want = 25.0 * inv + 25.0 * v / 2.0 + (0.25 + 0.25 / 16.0);
        assert!((scalar(&two.total) - want).abs() < 1e-4);
    }
}
