//! NT-Xent, SimCLR's loss (Chen et al., ICML 2020; google-research/simclr `objective.py`;
//! REFERENCE.md §5), as an [`SslObjective`], on two views `z[0]`, `z[1]` `[N, D]`: the 2N rows
//! `u = [z[0]; z[1]]` are l2-normalised (`tf.math.l2_normalize`, eps 1e-12 on the squared
//! norm), `s_ij = ûᵢ·ûⱼ/τ`, self-similarity is masked with −1e9 (its `exp` is 0), and each
//! anchor's positive `p(i)` is the other view of its sample:
//!
//! ```text
//! loss = (1/2N) Σ_i [−s_{i,p(i)} + log Σ_{k≠i} exp(s_ik)],   τ = 0.5
//! ```
//!
//! This is the paper's mean over the 2N anchors; the official `add_contrastive_loss` returns
//! `loss_a + loss_b`, each a mean over N anchors: twice this value. τ = 0.5 is SimCLR's README
//! value for CIFAR-10 (its flag default is 0.1, for ImageNet with batch 4096).
//!
//! Reported as two terms that sum to the loss: `alignment = −mean_i s_{i,p(i)}` and
//! `uniformity = mean_i log Σ_{k≠i} exp(s_ik)`.
//!
//! The f64 reference with analytic gradients is `ami_energy::ssl::nt_xent`.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::infonce::cross_entropy_terms;
use super::{
    enough_rows, first, l2_normalize, positive, same_shape, SslInputs, SslLoss, SslObjective,
};
use crate::error::JepaError;

/// Row norm below which SimCLR's `l2_normalize` clamps (`sqrt` of its 1e-12).
pub const SIMCLR_MIN_NORM: f64 = 1e-6;

/// NT-Xent's temperature (the f64 reference's default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NtXentConfig {
    /// τ > 0 (0.5).
    pub temperature: f64,
}

impl Default for NtXentConfig {
    fn default() -> Self {
        NtXentConfig { temperature: 0.5 }
    }
}

impl NtXentConfig {
    /// Fails unless the temperature is a finite number > 0.
    pub fn validate(&self) -> Result<(), JepaError> {
        positive("nt-xent.temperature", self.temperature)
    }
}

/// NT-Xent (SimCLR): each of the 2N views must pick the other view of its sample out of the
/// batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NtXent(pub NtXentConfig);

impl SslObjective for NtXent {
    fn name(&self) -> &'static str {
        "nt-xent"
    }

    /// Terms `alignment` and `uniformity` of the first two views `z` (`[N, D]`); total their
    /// sum.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        self.0.validate()?;
        let [z0, z1] = first(self.name(), "z", inputs.z)?;
        enough_rows(self.name(), "z[0]", &z0, 1, "every anchor needs a positive")?;
        same_shape(self.name(), "z[1]", &z1, z0.dims(), "z[0]")?;
        let n = z0.dims()[0];
        let device = z0.device();
        let u = l2_normalize(Tensor::cat(vec![z0, z1], 0), SIMCLR_MIN_NORM);
        let s = u
            .clone()
            .matmul(u.transpose())
            .div_scalar(self.0.temperature);
        let mut pos = vec![0.0f32; 4 * n * n];
        for i in 0..2 * n {
            pos[i * 2 * n + (i + n) % (2 * n)] = 1.0;
        }
        let pos = Tensor::from_data(TensorData::new(pos, [2 * n, 2 * n]), &device);
        let own = Tensor::<2>::eye(2 * n, &device).equal_elem(1.0);
        let (a, uni) = cross_entropy_terms(s, pos, Some(own));
        Ok(SslLoss {
            total: a.clone() + uni.clone(),
            terms: vec![("alignment", a), ("uniformity", uni)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SslNeeds;
    use super::*;
    use ami_energy::ssl::{nt_xent, NtXentParams};
    use burn::tensor::Device;

    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (n, d, seed, temperature) in [(4, 5, 1, 0.5), (1, 3, 2, 0.5), (9, 3, 3, 0.1)] {
            let (a, b) = (random(n, d, seed, 0.2), random(n, d, seed + 50, -0.3));
            let want = nt_xent(&a, &b, &NtXentParams { temperature }).unwrap();
            let (z0, z1) = (leaf(&a), leaf(&b));
            let loss = NtXent(NtXentConfig { temperature })
                .loss(SslInputs::pair(z0.clone(), z1.clone()))
                .unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            assert_weighted_terms(&loss, &[("alignment", 1.0), ("uniformity", 1.0)]);
            if n == 1 {
                // One sample: each anchor's only other row is its positive; loss 0, no slope.
                assert!(scalar(&loss.total).abs() < 1e-6);
                continue;
            }
            let g = grads(&loss, &[&z0, &z1]);
            assert_matrix("z1", g[0].as_ref().unwrap(), want.grad("z1").unwrap());
            assert_matrix("z2", g[1].as_ref().unwrap(), want.grad("z2").unwrap());
        }
    }

    /// z0 = z1 = [e1; e2], τ = 1: every anchor sees its positive (cos 1) and two orthogonal
    /// rows: alignment −1, uniformity log(e + 2) (the reference's hand computation).
    #[test]
    fn hand_computed_terms() {
        let e = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &Device::flex());
        let loss = NtXent(NtXentConfig { temperature: 1.0 })
            .loss(SslInputs::pair(e.clone(), e.mul_scalar(2.0)))
            .unwrap();
        assert!((term(&loss, "alignment") + 1.0).abs() < 1e-6);
        let u = (1f64.exp() + 2.0).ln();
        assert!((term(&loss, "uniformity") - u).abs() < 1e-6);
    }

    #[test]
    fn inputs_and_config_are_checked() {
        let obj = NtXent::default();
        assert_eq!(obj.needs(), SslNeeds::PLAIN);
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 5, 0.0), &dev);
        let e = err(obj.loss(SslInputs {
            z: vec![z(3, 2)],
            ..Default::default()
        }));
        assert!(e.contains("nt-xent inputs `z`"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(3, 2), z(3, 3))));
        assert!(e.contains("`z[1]`") && e.contains("[3, 2]"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(0, 2), z(0, 2))));
        assert!(e.contains("`z[0]`"), "{e}");
        let bad = NtXent(NtXentConfig { temperature: 0.0 });
        let e = err(bad.loss(SslInputs::pair(z(3, 2), z(3, 2))));
        assert!(e.contains("nt-xent.temperature"), "{e}");
    }
}
