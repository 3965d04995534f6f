//! I-JEPA's loss (Assran et al., CVPR 2023) as an [`SslObjective`], following the official
//! code (facebookresearch/ijepa `src/train.py`; REFERENCE.md §4): the target encoder's tokens
//! `t[0]` are layer-normalised over the feature axis without affine parameters
//! (`F.layer_norm(h, (D,))`: biased variance, eps 1e-5), and the predictor's tokens `p[0]`
//! regress them with the smooth-L1 loss (`F.smooth_l1_loss`, β = 1, mean over all elements):
//!
//! ```text
//! h = (t − mean_D t)/sqrt(var_D t + 1e-5)          per token (row) of t[0]
//! loss = mean_{m,j} ℓ(p_mj − h_mj),   ℓ(d) = ½d² if |d| < 1, |d| − ½ otherwise
//! ```
//!
//! The paper says "average L2 distance"; the code uses smooth-L1, and this follows the code.
//! The targets come from an EMA of the context encoder whose momentum rises linearly from
//! 0.996 to 1; they are behind a stop-gradient (detached here as well). The loop samples the
//! context and target blocks with [`super::masking`] and passes the tokens at the target
//! positions flattened to `[M, D]` (`M` = batch × blocks × tokens per block).
//!
//! The f64 reference with an analytic gradient is `ami_energy::ssl::ijepa`.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{
    enough_rows, first, same_shape, within, MomentumSchedule, SslInputs, SslLoss, SslNeeds,
    SslObjective, TargetBranch,
};
use crate::error::JepaError;

/// `F.layer_norm`'s default eps.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// `F.smooth_l1_loss`'s β (its default; I-JEPA does not set it).
pub const SMOOTH_L1_BETA: f64 = 1.0;

/// I-JEPA's EMA momentum schedule (official defaults `ema: [0.996, 1.0]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IjepaConfig {
    /// Momentum at step 0, in `[0, 1]` (0.996).
    pub momentum_start: f64,
    /// Momentum at the last step, in `[0, 1]` (1.0).
    pub momentum_end: f64,
}

impl Default for IjepaConfig {
    fn default() -> Self {
        IjepaConfig {
            momentum_start: 0.996,
            momentum_end: 1.0,
        }
    }
}

impl IjepaConfig {
    /// Fails unless both momenta lie in `[0, 1]`.
    pub fn validate(&self) -> Result<(), JepaError> {
        within("ijepa.momentum_start", self.momentum_start, 0.0, 1.0)?;
        within("ijepa.momentum_end", self.momentum_end, 0.0, 1.0)
    }
}

/// I-JEPA: predict the target encoder's (layer-normalised) tokens of masked blocks from a
/// context block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ijepa(pub IjepaConfig);

/// Layer norm of each row without affine parameters (biased variance, eps 1e-5).
///
/// # Shapes
/// `t [M, D] -> [M, D]`
pub fn layer_norm(t: Tensor<2>) -> Tensor<2> {
    let sigma = t.clone().var_bias(1).add_scalar(LAYER_NORM_EPS).sqrt();
    (t.clone() - t.mean_dim(1)) / sigma
}

/// Mean smooth-L1 of `d` (β = 1): `½d²` where `|d| < 1`, `|d| − ½` elsewhere.
///
/// # Shapes
/// `d [M, D] -> [1]`
pub fn smooth_l1(d: Tensor<2>) -> Tensor<1> {
    let abs = d.clone().abs();
    let far = abs.clone().greater_equal_elem(SMOOTH_L1_BETA);
    let quadratic = d.powi_scalar(2).mul_scalar(0.5 / SMOOTH_L1_BETA);
    let linear = abs.sub_scalar(0.5 * SMOOTH_L1_BETA);
    quadratic.mask_where(far, linear).mean()
}

impl SslObjective for Ijepa {
    fn name(&self) -> &'static str {
        "ijepa"
    }

    /// A predictor, an EMA target with the linear momentum schedule, and block masking.
    fn needs(&self) -> SslNeeds {
        SslNeeds {
            predictor: true,
            target: TargetBranch::Ema(MomentumSchedule::Linear {
                start: self.0.momentum_start,
                end: self.0.momentum_end,
            }),
            prototypes: None,
            masking: true,
        }
    }

    /// Term `smooth_l1` of the predicted tokens `p[0]` against the target tokens `t[0]`
    /// (both `[M, D]`); total the same.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        self.0.validate()?;
        let [pred] = first(self.name(), "p", inputs.p)?;
        let [target] = first(self.name(), "t", inputs.t)?;
        enough_rows(
            self.name(),
            "p[0]",
            &pred,
            1,
            "the loss is a mean over the tokens",
        )?;
        same_shape(self.name(), "t[0]", &target, pred.dims(), "p[0]")?;
        let loss = smooth_l1(pred - layer_norm(target.detach()));
        Ok(SslLoss {
            total: loss.clone(),
            terms: vec![("smooth_l1", loss)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use ami_energy::ssl::ijepa;
    use burn::tensor::Device;

    /// Value and the gradient of `p` against the f64 reference, with both branches of the
    /// smooth-L1 exercised (scale 2); `t` passed with a gradient still gets none.
    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (m, d, seed, shift) in [(6, 5, 1, 0.0), (3, 12, 2, 1.0), (20, 2, 3, -0.5)] {
            let (a, b) = (random(m, d, seed, shift), random(m, d, seed + 9, 2.0));
            let want = ijepa(&a, &b).unwrap();
            let (p, t) = (leaf(&a), leaf(&b));
            let loss = Ijepa::default()
                .loss(SslInputs {
                    p: vec![p.clone()],
                    t: vec![t.clone()],
                    ..Default::default()
                })
                .unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            assert_weighted_terms(&loss, &[("smooth_l1", 1.0)]);
            let g = grads(&loss, &[&p, &t]);
            assert_matrix("pred", g[0].as_ref().unwrap(), want.grad("pred").unwrap());
            assert_no_grad("target", &g[1]);
        }
    }

    /// Target row (1, 3): h = (−1, 1)/√(1 + 1e-5). pred (2, 1): d = (2 + 1/s, 1 − 1/s), the
    /// first linear, the second quadratic (the reference's hand computation).
    #[test]
    fn hand_computed_value() {
        let dev = Device::flex();
        let s = (1.0f64 + 1e-5).sqrt();
        let (d0, d1) = (2.0 + 1.0 / s, 1.0 - 1.0 / s);
        let loss = Ijepa::default()
            .loss(SslInputs {
                p: vec![Tensor::from_floats([[2.0, 1.0]], &dev)],
                t: vec![Tensor::from_floats([[1.0, 3.0]], &dev)],
                ..Default::default()
            })
            .unwrap();
        let want = ((d0 - 0.5) + 0.5 * d1 * d1) / 2.0;
        assert!((scalar(&loss.total) - want).abs() < 1e-6);
        // |d| = 1 exactly is on the linear side (`<` as PyTorch): ℓ(1) = ½ either way, and
        // ℓ(−3) = 2.5.
        let d = Tensor::<2>::from_floats([[1.0, -3.0]], &dev);
        assert!((scalar(&smooth_l1(d)) - 1.5).abs() < 1e-7);
    }

    #[test]
    fn needs_and_input_checks() {
        let obj = Ijepa::default();
        let needs = obj.needs();
        assert!(needs.predictor && needs.masking && needs.prototypes.is_none());
        assert_eq!(
            needs.target,
            TargetBranch::Ema(MomentumSchedule::Linear {
                start: 0.996,
                end: 1.0
            })
        );
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 5, 0.0), &dev);
        let e = err(obj.loss(SslInputs {
            p: vec![z(4, 3)],
            ..Default::default()
        }));
        assert!(e.contains("ijepa inputs `t`"), "{e}");
        let e = err(obj.loss(SslInputs {
            t: vec![z(4, 3)],
            ..Default::default()
        }));
        assert!(e.contains("ijepa inputs `p`"), "{e}");
        let e = err(obj.loss(SslInputs {
            p: vec![z(4, 3)],
            t: vec![z(4, 4)],
            ..Default::default()
        }));
        assert!(e.contains("`t[0]`") && e.contains("[4, 4]"), "{e}");
        let bad = Ijepa(IjepaConfig {
            momentum_end: 1.1,
            ..Default::default()
        });
        assert!(err(bad.loss(SslInputs::default())).contains("ijepa.momentum_end"));
    }
}
