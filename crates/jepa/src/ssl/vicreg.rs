//! VICReg as an [`SslObjective`].

use burn::tensor::Tensor;

use super::{missing, Regularizer, SslInputs, SslLoss, SslObjective};
use crate::error::JepaError;
use crate::vicreg::{covariance, variance, vicreg, VicregConfig};

/// VICReg (Bardes, Ponce, LeCun 2022) with the official code's conventions ([`crate::vicreg`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vicreg(pub VicregConfig);

impl SslObjective for Vicreg {
    fn name(&self) -> &'static str {
        "vicreg"
    }

    /// Terms `invariance`, `variance` (`(v(z_0)+v(z_1))/2`), `covariance` (`c(z_0)+c(z_1)`) of
    /// the first two views `z`.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        let mut z = inputs.z.into_iter();
        let (Some(za), Some(zb)) = (z.next(), z.next()) else {
            return Err(missing(self.name(), "z", 2));
        };
        if za.dims() != zb.dims() {
            return Err(JepaError::Shape {
                what: "vicreg inputs `z[1]`".into(),
                got: zb.dims().to_vec(),
                expected: format!("{:?} (the shape of `z[0]`)", za.dims()),
            });
        }
        let t = vicreg(za, zb, &self.0);
        Ok(SslLoss {
            total: t.loss,
            terms: vec![
                ("invariance", t.invariance),
                ("variance", t.variance),
                ("covariance", t.covariance),
            ],
        })
    }

    fn regularizer(&self) -> Option<&dyn Regularizer> {
        Some(self)
    }
}

impl Regularizer for Vicreg {
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
        let reg = obj.regularizer().unwrap().regularize(t(&y, 3, 2));
        let names: Vec<_> = reg.terms.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["variance", "covariance"]);
        let v = 1.0 - (0.25f32 + 1e-4).sqrt();
        assert!((scalar(&reg.terms[0].1) - v).abs() < 1e-6);
        assert!((scalar(&reg.terms[1].1) - 0.25 / 16.0).abs() < 1e-6);
        assert!((scalar(&reg.total) - (25.0 * v + 0.25 / 16.0)).abs() < 1e-5);
        let two = obj.loss(SslInputs::pair(t(&x, 3, 2), t(&y, 3, 2))).unwrap();
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
