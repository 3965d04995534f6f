//! The latent variable `z` of the predictor `ŝ' = Pred(s, a, z)` (DESIGN.md §4; REFERENCE.md §0).
//!
//! The world is not fully predictable: from the same `(s, a)` several futures `s'` are
//! plausible (another driver cruises, brakes or cuts in). A deterministic predictor trained on
//! the squared error predicts the mean of those futures, which may be none of them. With a
//! latent `z`, the predictor is a latent-variable energy-based model
//!
//! ```text
//! E(s, a, s', z) = ‖s' − Pred(s, a, z)‖²        (per sample: mean over the D features)
//! F∞(s, a, s')   = min_z E(s, a, s', z),        z* = argmin_z E(s, a, s', z)
//! ```
//!
//! trained by minimising the zero-temperature free energy `F∞` (inference of `z` by
//! minimisation, REFERENCE.md §0). Each value of `z` can then represent one plausible future.
//! The information `z` carries is limited by construction, so that it cannot encode the whole
//! target: a discrete `z ∈ {0, …, k−1}` (one-hot in the predictor's input) carries at most
//! `log₂ k` bits.
//!
//! A prior `q(z | s, a)` (a small head, [`crate::Jepa::latent_prior`]) is trained by
//! cross-entropy on the inferred `z*`, so that planners can sample plausible futures and weight
//! them by their probabilities.

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::JepaError;

/// The `latent` key of the `[model]` section: the latent variable of the predictor.
///
/// TOML: `latent = { kind = "none" }` (default), `latent = { kind = "discrete", k = 4 }`
/// (`--set 'model.latent={kind="discrete", k=4}'`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LatentConfig {
    /// Deterministic predictor `Pred(s, a)` (the baseline).
    #[default]
    None,
    /// `z` one-hot over `k ≥ 2` values (capacity `log₂ k` bits).
    Discrete {
        /// Number of values of `z`; at least 2 (one value is the deterministic predictor).
        #[serde(default = "default_k")]
        k: usize,
        /// Hidden widths of the prior head `q(z | s, a)`: MLP `[s, a/action_scale] → k logits`.
        #[serde(default = "default_prior_hidden")]
        prior_hidden: Vec<usize>,
    },
}

fn default_k() -> usize {
    2
}

fn default_prior_hidden() -> Vec<usize> {
    vec![64]
}

impl LatentConfig {
    /// A discrete latent with `k` values and the default prior head.
    pub fn discrete(k: usize) -> Self {
        LatentConfig::Discrete {
            k,
            prior_hidden: default_prior_hidden(),
        }
    }

    /// Number of values of a discrete `z`: 1 for a deterministic predictor.
    pub fn count(&self) -> usize {
        match self {
            LatentConfig::None => 1,
            LatentConfig::Discrete { k, .. } => *k,
        }
    }

    /// Width of `z` in the predictor's input (0 for a deterministic predictor).
    pub fn input_dim(&self) -> usize {
        match self {
            LatentConfig::None => 0,
            LatentConfig::Discrete { k, .. } => *k,
        }
    }

    /// `k ≥ 2` and positive prior widths; the error names `model.latent.k` or
    /// `model.latent.prior_hidden`.
    pub fn validate(&self) -> Result<(), JepaError> {
        if let LatentConfig::Discrete { k, prior_hidden } = self {
            if *k < 2 {
                return Err(JepaError::config(
                    "model.latent.k",
                    k,
                    ">= 2 (z must take at least two values to represent more than one future; \
                     use `latent = { kind = \"none\" }` for a deterministic predictor)",
                ));
            }
            if prior_hidden.contains(&0) {
                return Err(JepaError::config(
                    "model.latent.prior_hidden",
                    format!("{prior_hidden:?}"),
                    "positive widths",
                ));
            }
        }
        Ok(())
    }
}

/// How often each value of a discrete `z` was chosen by the energy minimisation: an unused
/// latent (every sample choosing the same value) shows as one fraction near 1 and an entropy
/// near 0.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatentUsage {
    /// Fraction of the (sample, step) pairs that chose each value `0 … k−1`.
    pub fractions: Vec<f32>,
    /// Entropy of [`Self::fractions`] in bits: `−Σ p log₂ p`, between 0 (one value used) and
    /// `log₂ k` (all used equally).
    pub entropy_bits: f32,
}

impl LatentUsage {
    /// The usage of `counts[j]` choices of value `j`.
    pub fn from_counts(counts: &[usize]) -> Self {
        let total: usize = counts.iter().sum();
        let fractions: Vec<f32> = counts
            .iter()
            .map(|&c| c as f32 / total.max(1) as f32)
            .collect();
        let entropy_bits = -fractions
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| p * p.log2())
            .sum::<f32>();
        LatentUsage {
            fractions,
            entropy_bits,
        }
    }
}

/// The one-hot codes of every value of `z`, repeated for each of `b` samples: row `i·k + j`
/// is `e_j`.
///
/// # Shapes
/// `-> [b·k, k]`
pub fn enumerate_one_hot(b: usize, k: usize, device: &burn::tensor::Device) -> Tensor<2> {
    let mut data = vec![0f32; b * k * k];
    for i in 0..b {
        for j in 0..k {
            data[(i * k + j) * k + j] = 1.0;
        }
    }
    Tensor::from_data(burn::tensor::TensorData::new(data, [b * k, k]), device)
}

/// Inference of a discrete `z` by minimisation: given the prediction of every branch and the
/// target, the per-sample energies `E[i, j] = mean_d (pred[i, j, d] − target[i, d])²`, the
/// choice `z*_i = argmin_j E[i, j]` (ties to the lowest index; not differentiated) and the
/// chosen branch's prediction (differentiable through that branch only).
///
/// # Shapes
/// `branches [B, k, D]`, `target [B, D]` → `(chosen [B, D], z* [B], energies [B, k])`
pub fn choose_branch(
    branches: Tensor<3>,
    target: Tensor<2>,
) -> (Tensor<2>, Tensor<1, Int>, Tensor<2>) {
    let [b, k, d] = branches.dims();
    let diff = branches.clone() - target.unsqueeze_dim::<3>(1).repeat_dim(1, k);
    let energies = diff.powi_scalar(2).mean_dim(2).reshape([b, k]);
    let z = energies.clone().detach().argmin(1).reshape([b]);
    let index = z.clone().reshape([b, 1, 1]).repeat_dim(2, d);
    let chosen = branches.gather(1, index).reshape([b, d]);
    (chosen, z, energies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn validation_names_the_key() {
        assert!(LatentConfig::None.validate().is_ok());
        assert!(LatentConfig::discrete(2).validate().is_ok());
        for k in [0, 1] {
            let err = LatentConfig::discrete(k).validate().unwrap_err();
            assert!(err.to_string().contains("model.latent.k"), "{err}");
        }
        let bad = LatentConfig::Discrete {
            k: 3,
            prior_hidden: vec![0],
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("model.latent.prior_hidden"), "{err}");
    }

    #[test]
    fn toml_syntax_and_defaults() {
        #[derive(Deserialize)]
        struct M {
            latent: LatentConfig,
        }
        let m: M = toml_like(r#"{"latent": {"kind": "discrete", "k": 4}}"#);
        assert_eq!(m.latent, LatentConfig::discrete(4));
        let m: M = toml_like(r#"{"latent": {"kind": "discrete"}}"#);
        assert_eq!(m.latent.count(), 2);
        let m: M = toml_like(r#"{"latent": {"kind": "none"}}"#);
        assert_eq!(m.latent, LatentConfig::None);
        assert!(serde_json::from_str::<M>(r#"{"latent": {"kind": "discrete", "q": 1}}"#).is_err());
    }

    fn toml_like<T: for<'de> Deserialize<'de>>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn usage_entropy() {
        let u = LatentUsage::from_counts(&[5, 5]);
        assert_eq!(u.fractions, vec![0.5, 0.5]);
        assert!((u.entropy_bits - 1.0).abs() < 1e-6);
        let u = LatentUsage::from_counts(&[0, 7, 0, 0]);
        assert_eq!(u.entropy_bits, 0.0);
        assert_eq!(u.fractions[1], 1.0);
    }

    /// Hand-made branches: the argmin picks the branch with the lowest energy per sample, and
    /// the chosen prediction is that branch's.
    #[test]
    fn choose_branch_picks_the_lowest_energy() {
        let dev = Device::flex();
        // B = 3 samples, k = 3 branches, D = 2.
        let branches = [
            [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]],
            [[5.0, 5.0], [-1.0, 0.0], [0.0, -1.0]],
            [[3.0, 3.0], [3.0, 3.0], [9.0, 9.0]],
        ];
        let targets = [[1.9, 2.2], [-0.9, 0.1], [3.0, 3.0]];
        let flat: Vec<f32> = branches.iter().flatten().flatten().copied().collect();
        let t: Vec<f32> = targets.iter().flatten().copied().collect();
        let br = Tensor::<3>::from_data(TensorData::new(flat, [3, 3, 2]), &dev);
        let tg = Tensor::<2>::from_data(TensorData::new(t, [3, 2]), &dev);
        let (chosen, z, e) = choose_branch(br, tg);
        let z: Vec<i64> = z.into_data().convert::<i64>().try_to_vec().unwrap();
        assert_eq!(z, vec![2, 1, 0], "ties go to the lowest index");
        let chosen: Vec<f32> = chosen.into_data().try_to_vec().unwrap();
        assert_eq!(chosen, vec![2.0, 2.0, -1.0, 0.0, 3.0, 3.0]);
        // Energies against enumeration by hand.
        let e: Vec<f32> = e.into_data().try_to_vec().unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let want = (0..2)
                    .map(|d| (branches[i][j][d] - targets[i][d]).powi(2))
                    .sum::<f32>()
                    / 2.0;
                assert!((e[i * 3 + j] - want).abs() < 1e-5);
            }
        }
    }
}
