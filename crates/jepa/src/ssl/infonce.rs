//! InfoNCE (Oord et al. 2018) as an [`SslObjective`], in the asymmetric form MoCo uses with
//! the keys of the batch as the negatives (facebookresearch/moco `builder.py`; REFERENCE.md §5):
//! queries `q = z[0]`, keys `k = z[1]`, rows l2-normalised (`F.normalize`, eps 1e-12), logits
//! `q̂ k̂ᵀ/τ`, the positive of query `i` is key `i`:
//!
//! ```text
//! loss = CE(q̂ k̂ᵀ/τ, diagonal) = (1/N) Σ_i [−q̂ᵢ·k̂ᵢ/τ + log Σ_j exp(q̂ᵢ·k̂ⱼ/τ)],   τ = 0.07
//! ```
//!
//! Reported as two terms that sum to the loss (Wang & Isola 2020's split): `alignment`
//! `= −mean_i q̂ᵢ·k̂ᵢ/τ` (pulls positives together) and `uniformity` `= mean_i log Σ_j
//! exp(q̂ᵢ·k̂ⱼ/τ)` (pushes the batch apart).
//!
//! The f64 reference with analytic gradients is `ami_energy::ssl::infonce`.

use burn::tensor::{Bool, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    enough_rows, first, l2_normalize, positive, same_shape, SslInputs, SslLoss, SslObjective,
};
use crate::error::JepaError;

/// `eps` of PyTorch's `F.normalize` (each norm is clamped below at it).
pub const INFONCE_MIN_NORM: f64 = 1e-12;

/// InfoNCE's temperature (MoCo's `--moco-t` default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InfoNceConfig {
    /// τ > 0 (0.07).
    pub temperature: f64,
}

impl Default for InfoNceConfig {
    fn default() -> Self {
        InfoNceConfig { temperature: 0.07 }
    }
}

impl InfoNceConfig {
    /// Fails unless the temperature is a finite number > 0.
    pub fn validate(&self) -> Result<(), JepaError> {
        positive("infonce.temperature", self.temperature)
    }
}

/// InfoNCE: each query must pick its own key out of the batch's keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InfoNce(pub InfoNceConfig);

/// The cross-entropy of `logits [R, C]` with one positive per row (`positives`, a 0/1 mask
/// with one 1 per row), split into `alignment = −mean_r logit_{r, pos(r)}` and `uniformity =
/// mean_r log Σ_c exp(logit_rc)` over the entries not in `excluded` (NT-Xent's self
/// similarities; `excluded` get −1e9, the official masking, whose `exp` is 0).
pub(super) fn cross_entropy_terms(
    logits: Tensor<2>,
    positives: Tensor<2>,
    excluded: Option<Tensor<2, Bool>>,
) -> (Tensor<1>, Tensor<1>) {
    let rows = logits.dims()[0] as f64;
    let logits = match excluded {
        Some(mask) => logits.mask_fill(mask, -1e9),
        None => logits,
    };
    let alignment = (logits.clone() * positives).sum().div_scalar(-rows);
    let max = logits.clone().max_dim(1).detach();
    let lse = (logits - max.clone()).exp().sum_dim(1).log() + max;
    (alignment, lse.mean())
}

impl SslObjective for InfoNce {
    fn name(&self) -> &'static str {
        "infonce"
    }

    /// Terms `alignment` and `uniformity` of queries `z[0]` and keys `z[1]` (`[N, D]`,
    /// `N ≥ 2`); total their sum.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        self.0.validate()?;
        let [q, k] = first(self.name(), "z", inputs.z)?;
        enough_rows(
            self.name(),
            "z[0]",
            &q,
            2,
            "each query's positive needs a negative key",
        )?;
        same_shape(self.name(), "z[1]", &k, q.dims(), "z[0]")?;
        let n = q.dims()[0];
        let device = q.device();
        let logits = l2_normalize(q, INFONCE_MIN_NORM)
            .matmul(l2_normalize(k, INFONCE_MIN_NORM).transpose())
            .div_scalar(self.0.temperature);
        let (a, u) = cross_entropy_terms(logits, Tensor::eye(n, &device), None);
        Ok(SslLoss {
            total: a.clone() + u.clone(),
            terms: vec![("alignment", a), ("uniformity", u)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SslNeeds;
    use super::*;
    use ami_energy::ssl::{infonce, InfoNceParams};
    use burn::tensor::Device;

    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (n, d, seed, temperature) in [(5, 3, 1, 0.07), (2, 6, 2, 0.5), (11, 4, 3, 1.0)] {
            let (a, b) = (random(n, d, seed, 0.1), random(n, d, seed + 50, 0.4));
            let want = infonce(&a, &b, &InfoNceParams { temperature }).unwrap();
            let (q, k) = (leaf(&a), leaf(&b));
            let loss = InfoNce(InfoNceConfig { temperature })
                .loss(SslInputs::pair(q.clone(), k.clone()))
                .unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            assert_weighted_terms(&loss, &[("alignment", 1.0), ("uniformity", 1.0)]);
            let g = grads(&loss, &[&q, &k]);
            assert_matrix("q", g[0].as_ref().unwrap(), want.grad("q").unwrap());
            assert_matrix("k", g[1].as_ref().unwrap(), want.grad("k").unwrap());
        }
    }

    /// q = k = [e1; e2], τ = 1: alignment −1, uniformity log(e + 1) (the reference's hand
    /// computation); scaling the rows changes nothing.
    #[test]
    fn hand_computed_terms() {
        let dev = Device::flex();
        let e = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &dev);
        let e3 = Tensor::<2>::from_floats([[3.0, 0.0], [0.0, 0.2]], &dev);
        let loss = InfoNce(InfoNceConfig { temperature: 1.0 })
            .loss(SslInputs::pair(e3, e))
            .unwrap();
        assert!((term(&loss, "alignment") + 1.0).abs() < 1e-6);
        let u = (1f64.exp() + 1.0).ln();
        assert!((term(&loss, "uniformity") - u).abs() < 1e-6);
    }

    #[test]
    fn inputs_and_config_are_checked() {
        let obj = InfoNce::default();
        assert_eq!(obj.needs(), SslNeeds::PLAIN);
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 5, 0.0), &dev);
        let e = err(obj.loss(SslInputs::default()));
        assert!(e.contains("infonce inputs `z`"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(1, 3), z(1, 3))));
        assert!(e.contains("`z[0]`") && e.contains("N >= 2"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(3, 3), z(4, 3))));
        assert!(e.contains("`z[1]`"), "{e}");
        for t in [0.0, -1.0, f64::INFINITY] {
            let bad = InfoNce(InfoNceConfig { temperature: t });
            let e = err(bad.loss(SslInputs::pair(z(3, 3), z(3, 3))));
            assert!(e.contains("infonce.temperature"), "{e}");
        }
    }
}
