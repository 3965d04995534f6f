//! SwAV (Caron et al., NeurIPS 2020) as an [`SslObjective`], following the official code
//! (facebookresearch/swav `main_swav.py`, two crops, both used for assignment, no queue, one
//! process; REFERENCE.md §5). With trainable prototypes `C [K, D]` (the loop l2-normalises
//! their rows before each forward, as SwAV does under `no_grad`):
//!
//! ```text
//! ẑ_v = z_v / max(‖z_v‖, 1e-12)      rows of each view (F.normalize)
//! s_v = ẑ_v Cᵀ                       [B, K] prototype scores
//! q_v = sinkhorn(sg(s_v))            [B, K] codes, each row sums to 1 (ε 0.05, 3 iterations)
//! p_v = softmax(s_v / τ)             τ = 0.1
//! q1_p2 = −mean_b Σ_k q_0,bk log p_1,bk,   q2_p1 = −mean_b Σ_k q_1,bk log p_0,bk
//! loss  = ½·(q1_p2 + q2_p1)          the "swapped" prediction of each view's code
//! ```
//!
//! [`sinkhorn`] is the official `distributed_sinkhorn` on one process, on detached scores
//! (no gradient flows through the codes), with the largest score subtracted before the
//! exponential as the f64 reference `ami_energy::ssl::sinkhorn` does (it cancels exactly in
//! the first normalisation). SwAV uses K = 3000 prototypes on ImageNet; the default here,
//! 64, suits small models and batches.

use burn::tensor::activation::log_softmax;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{
    enough_rows, first, l2_normalize, missing, positive, same_shape, SslInputs, SslLoss, SslNeeds,
    SslObjective,
};
use crate::error::JepaError;

/// `eps` of PyTorch's `F.normalize` (each norm is clamped below at it).
pub const SWAV_MIN_NORM: f64 = 1e-12;

/// SwAV's parameters (official defaults, except the number of prototypes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SwavConfig {
    /// K ≥ 1 trainable prototypes (64 here; SwAV uses 3000 on ImageNet).
    pub prototypes: usize,
    /// τ > 0 of the softmax over prototype scores (`--temperature` 0.1).
    pub temperature: f64,
    /// ε > 0 of the Sinkhorn-Knopp codes (`--epsilon` 0.05).
    pub epsilon: f64,
    /// Sinkhorn-Knopp normalisation rounds (`--sinkhorn_iterations` 3).
    pub sinkhorn_iterations: usize,
}

impl Default for SwavConfig {
    fn default() -> Self {
        SwavConfig {
            prototypes: 64,
            temperature: 0.1,
            epsilon: 0.05,
            sinkhorn_iterations: 3,
        }
    }
}

impl SwavConfig {
    /// Fails unless `prototypes ≥ 1` and the temperature and ε are finite numbers > 0.
    pub fn validate(&self) -> Result<(), JepaError> {
        if self.prototypes == 0 {
            return Err(JepaError::config("swav.prototypes", 0, "at least 1"));
        }
        positive("swav.temperature", self.temperature)?;
        positive("swav.epsilon", self.epsilon)
    }
}

/// SwAV: predict the Sinkhorn-Knopp prototype code of one view from the other.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Swav(pub SwavConfig);

/// Sinkhorn-Knopp codes of `scores [B, K]` (the official `distributed_sinkhorn`, one process,
/// on the detached scores):
///
/// ```text
/// Q = exp((s − max s)/ε)ᵀ; Q /= ΣQ
/// repeat iters: Q /= rowsum(Q); Q /= K;  Q /= colsum(Q); Q /= B
/// return B·Qᵀ                       each sample's row sums to 1
/// ```
///
/// A prototype or sample whose every `exp` underflows (scores ≈ 87·ε below the largest in
/// f32, impossible for cosine scores with ε = 0.05) gives NaN, as the official code does.
///
/// # Shapes
/// `scores [B, K] -> [B, K]`
pub fn sinkhorn(scores: Tensor<2>, epsilon: f64, iterations: usize) -> Tensor<2> {
    let [b, k] = scores.dims();
    let s = scores.detach();
    let max = s.clone().max().unsqueeze::<2>();
    let q = (s - max).div_scalar(epsilon).exp();
    let mut q = q.clone() / q.sum().unsqueeze::<2>();
    for _ in 0..iterations {
        // The layout is [B, K]: a prototype's total is a column sum, a sample's a row sum.
        q = (q.clone() / q.sum_dim(0)).div_scalar(k as f64);
        q = (q.clone() / q.sum_dim(1)).div_scalar(b as f64);
    }
    q.mul_scalar(b as f64)
}

impl SslObjective for Swav {
    fn name(&self) -> &'static str {
        "swav"
    }

    /// `K` trainable prototypes.
    fn needs(&self) -> SslNeeds {
        SslNeeds {
            prototypes: Some(self.0.prototypes),
            ..SslNeeds::PLAIN
        }
    }

    /// Terms `q1_p2` (the code of `z[0]` predicted from `z[1]`) and `q2_p1`, from the first
    /// two views `z` `[B, D]` and `prototypes` `[K, D]`; total their mean.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        let cfg = &self.0;
        cfg.validate()?;
        let name = self.name();
        let [z0, z1] = first(name, "z", inputs.z)?;
        let c = inputs
            .prototypes
            .ok_or_else(|| missing(name, "prototypes", 1))?;
        enough_rows(name, "z[0]", &z0, 1, "the loss is a mean over the batch")?;
        let [_, d] = z0.dims();
        same_shape(name, "z[1]", &z1, z0.dims(), "z[0]")?;
        same_shape(
            name,
            "prototypes",
            &c,
            [cfg.prototypes, d],
            "[K, D] of the config and z[0]",
        )?;
        let scores = |z| l2_normalize(z, SWAV_MIN_NORM).matmul(c.clone().transpose());
        let (s0, s1) = (scores(z0), scores(z1));
        let code = |s: &Tensor<2>| sinkhorn(s.clone(), cfg.epsilon, cfg.sinkhorn_iterations);
        let (q0, q1) = (code(&s0), code(&s1));
        let swapped = |q: Tensor<2>, s: Tensor<2>| {
            let log_p = log_softmax(s.div_scalar(cfg.temperature), 1);
            (q * log_p).sum_dim(1).mean().neg()
        };
        let a = swapped(q0, s1);
        let b = swapped(q1, s0);
        Ok(SslLoss {
            total: (a.clone() + b.clone()).mul_scalar(0.5),
            terms: vec![("q1_p2", a), ("q2_p1", b)],
        })
    }
}

#[cfg(test)]
mod tests;
