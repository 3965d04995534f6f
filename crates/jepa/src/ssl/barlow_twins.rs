//! Barlow Twins (Zbontar et al., ICML 2021) as an [`SslObjective`], following the official
//! code (facebookresearch/barlowtwins `main.py`, one process; REFERENCE.md §2):
//!
//! ```text
//! ẑ   = BN(z)          BatchNorm1d(affine=False), training mode: per feature,
//!                      (z − mean)/sqrt(var_biased + 1e-5)
//! c   = ẑ0ᵀ ẑ1 / N     [D, D] cross-correlation of the two views
//! on_diag  = Σ_i (c_ii − 1)²,   off_diag = Σ_{i≠j} c_ij²
//! loss     = on_diag + λ·off_diag,   λ = 0.0051 (`--lambd`)
//! ```
//!
//! The f64 reference with analytic gradients is `ami_energy::ssl::barlow_twins`.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{enough_rows, first, same_shape, SslInputs, SslLoss, SslObjective};
use crate::error::JepaError;

/// The batch norm's `eps` (PyTorch's `BatchNorm1d` default).
pub const BATCH_NORM_EPS: f64 = 1e-5;

/// Barlow Twins' parameter (official default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BarlowTwinsConfig {
    /// λ ≥ 0, weight of the off-diagonal term (`--lambd`, 0.0051).
    pub lambd: f64,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        BarlowTwinsConfig { lambd: 0.0051 }
    }
}

impl BarlowTwinsConfig {
    /// Fails unless `lambd` is a finite number ≥ 0.
    pub fn validate(&self) -> Result<(), JepaError> {
        if self.lambd.is_finite() && self.lambd >= 0.0 {
            Ok(())
        } else {
            Err(JepaError::config(
                "barlow-twins.lambd",
                self.lambd,
                "a finite number >= 0",
            ))
        }
    }
}

/// Barlow Twins: decorrelate the features of two views while making them invariant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarlowTwins(pub BarlowTwinsConfig);

/// Batch norm in training mode without affine parameters (biased variance, eps 1e-5).
///
/// # Shapes
/// `z [N, D] -> [N, D]`
pub fn batch_norm(z: Tensor<2>) -> Tensor<2> {
    let sigma = z.clone().var_bias(0).add_scalar(BATCH_NORM_EPS).sqrt();
    (z.clone() - z.mean_dim(0)) / sigma
}

/// `1 − I`: ones off the diagonal.
fn off_diagonal_mask(d: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::eye(d, device).neg().add_scalar(1.0)
}

impl SslObjective for BarlowTwins {
    fn name(&self) -> &'static str {
        "barlow-twins"
    }

    /// Terms `on_diag` and `off_diag` of the first two views `z` (`[N, D]`, `N ≥ 2`); total
    /// `on_diag + λ·off_diag`.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        self.0.validate()?;
        let [z0, z1] = first(self.name(), "z", inputs.z)?;
        enough_rows(
            self.name(),
            "z[0]",
            &z0,
            2,
            "batch norm in training mode needs two values per feature",
        )?;
        same_shape(self.name(), "z[1]", &z1, z0.dims(), "z[0]")?;
        let [n, d] = z0.dims();
        let c = batch_norm(z0)
            .transpose()
            .matmul(batch_norm(z1))
            .div_scalar(n as f64);
        let device = c.device();
        let eye = Tensor::<2>::eye(d, &device);
        let on = (c.clone() * eye)
            .sum_dim(1)
            .sub_scalar(1.0)
            .powi_scalar(2)
            .sum();
        let off = (c * off_diagonal_mask(d, &device)).powi_scalar(2).sum();
        Ok(SslLoss {
            total: on.clone() + off.clone().mul_scalar(self.0.lambd),
            terms: vec![("on_diag", on), ("off_diag", off)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SslNeeds;
    use super::*;
    use ami_energy::ssl::{barlow_twins, BarlowTwinsParams};

    /// Value, terms and both gradients against the f64 reference, D ≠ N both ways.
    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (n, d, seed, lambd) in [(7, 4, 1, 0.0051), (3, 9, 2, 0.3), (16, 5, 3, 2.0)] {
            let (a, b) = (random(n, d, seed, 0.3), random(n, d, seed + 100, -0.2));
            let want = barlow_twins(&a, &b, &BarlowTwinsParams { lambd }).unwrap();
            let (za, zb) = (leaf(&a), leaf(&b));
            let obj = BarlowTwins(BarlowTwinsConfig { lambd });
            let loss = obj.loss(SslInputs::pair(za.clone(), zb.clone())).unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            for name in ["on_diag", "off_diag"] {
                assert_value(name, term(&loss, name), want.term(name).unwrap());
            }
            assert_weighted_terms(&loss, &[("on_diag", 1.0), ("off_diag", lambd)]);
            let g = grads(&loss, &[&za, &zb]);
            assert_matrix("z1", g[0].as_ref().unwrap(), want.grad("z1").unwrap());
            assert_matrix("z2", g[1].as_ref().unwrap(), want.grad("z2").unwrap());
        }
    }

    /// z0 = z1 = columns ±(1, 2): ẑ = ±1/√(1 + 1e-5), ±1/√(1 + 1e-5/4), c = ẑ_a·ẑ_b (the
    /// reference's hand computation).
    #[test]
    fn hand_computed_terms() {
        let z = Tensor::<2>::from_floats([[1.0, 2.0], [-1.0, -2.0]], &Device::flex());
        let loss = BarlowTwins::default()
            .loss(SslInputs::pair(z.clone(), z))
            .unwrap();
        let (a, b) = (1.0 / (1.0 + 1e-5), 1.0 / (1.0 + 0.25e-5));
        assert!((term(&loss, "off_diag") - 2.0 * a * b).abs() < 1e-5);
        let on = (a - 1.0f64).powi(2) + (b - 1.0f64).powi(2);
        assert!((term(&loss, "on_diag") - on).abs() < 1e-8);
    }

    #[test]
    fn inputs_and_config_are_checked() {
        let obj = BarlowTwins::default();
        assert_eq!(obj.needs(), SslNeeds::PLAIN);
        assert!(obj.regularizer().is_none());
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 5, 0.0), &dev);
        let e = err(obj.loss(SslInputs {
            z: vec![z(4, 3)],
            ..Default::default()
        }));
        assert!(
            e.contains("barlow-twins inputs `z`") && e.contains("at least 2"),
            "{e}"
        );
        let e = err(obj.loss(SslInputs::pair(z(4, 3), z(4, 2))));
        assert!(e.contains("`z[1]`") && e.contains("[4, 3]"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(1, 3), z(1, 3))));
        assert!(e.contains("`z[0]`") && e.contains("N >= 2"), "{e}");
        let bad = BarlowTwins(BarlowTwinsConfig { lambd: -1.0 });
        let e = err(bad.loss(SslInputs::pair(z(4, 3), z(4, 3))));
        assert!(e.contains("barlow-twins.lambd"), "{e}");
        assert!(BarlowTwinsConfig { lambd: 0.0 }.validate().is_ok());
        assert!(BarlowTwinsConfig { lambd: f64::NAN }.validate().is_err());
        let cfg: BarlowTwinsConfig = serde_json::from_str(r#"{"lambd": 0.01}"#).unwrap();
        assert_eq!(cfg.lambd, 0.01);
        assert!(serde_json::from_str::<BarlowTwinsConfig>(r#"{"lambda": 0.01}"#).is_err());
    }
}
