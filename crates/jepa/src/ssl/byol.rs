//! BYOL (Grill et al., NeurIPS 2020) as an [`SslObjective`], following the official code
//! (google-deepmind/deepmind-research `byol/`, `helpers.regression_loss`; REFERENCE.md §3):
//!
//! ```text
//! p1_t2 = mean_b (2 − 2cos(p[0]_b, t[1]_b)),   p2_t1 = mean_b (2 − 2cos(p[1]_b, t[0]_b))
//! loss  = p1_t2 + p2_t1
//! ```
//!
//! `2 − 2cos = ‖p̂ − t̂‖²` with `x̂ = x / sqrt(max(‖x‖², 1e-12))` (the official
//! `l2_normalize`). The predictions `p` come from the online predictor; the targets `t` are
//! the projections of the EMA target network, behind a stop-gradient (detached here as well).
//! The EMA momentum follows the cosine schedule from 0.996 up to 1 (the 1000-epoch preset).
//!
//! The f64 reference with analytic gradients is `ami_energy::ssl::byol`.

use serde::{Deserialize, Serialize};

use super::{
    enough_rows, first, row_cosine, same_shape, within, MomentumSchedule, SslInputs, SslLoss,
    SslNeeds, SslObjective, TargetBranch,
};
use crate::error::JepaError;

/// Row norm below which BYOL's `l2_normalize` clamps (`sqrt` of its 1e-12 on the squared norm).
pub const BYOL_MIN_NORM: f64 = 1e-6;

/// BYOL's parameter (official default of the 1000-epoch preset).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ByolConfig {
    /// `τ_base` in `[0, 1]`, the EMA momentum at step 0 (0.996); it rises to 1 along a cosine.
    pub base_momentum: f64,
}

impl Default for ByolConfig {
    fn default() -> Self {
        ByolConfig {
            base_momentum: 0.996,
        }
    }
}

impl ByolConfig {
    /// Fails unless `base_momentum` lies in `[0, 1]`.
    pub fn validate(&self) -> Result<(), JepaError> {
        within("byol.base_momentum", self.base_momentum, 0.0, 1.0)
    }
}

/// BYOL: the online predictions regress the EMA target's projections of the other view.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Byol(pub ByolConfig);

impl SslObjective for Byol {
    fn name(&self) -> &'static str {
        "byol"
    }

    /// A predictor and an EMA target with the cosine momentum schedule from `base_momentum`.
    fn needs(&self) -> SslNeeds {
        SslNeeds {
            predictor: true,
            target: TargetBranch::Ema(MomentumSchedule::Cosine {
                base: self.0.base_momentum,
            }),
            ..SslNeeds::PLAIN
        }
    }

    /// Terms `p1_t2` (`p[0]` against `t[1]`) and `p2_t1` (`p[1]` against `t[0]`), all `[B, D]`;
    /// total their sum.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        self.0.validate()?;
        let name = self.name();
        let [p0, p1] = first(name, "p", inputs.p)?;
        let [t0, t1] = first(name, "t", inputs.t)?;
        enough_rows(name, "p[0]", &p0, 1, "the loss is a mean over the batch")?;
        let shape = p0.dims();
        same_shape(name, "p[1]", &p1, shape, "p[0]")?;
        same_shape(name, "t[0]", &t0, shape, "p[0]")?;
        same_shape(name, "t[1]", &t1, shape, "p[0]")?;
        let direction = |p, t: burn::tensor::Tensor<2>| {
            let cos = row_cosine(p, t.detach(), BYOL_MIN_NORM);
            cos.mul_scalar(-2.0).add_scalar(2.0).mean()
        };
        let a = direction(p0, t1);
        let b = direction(p1, t0);
        Ok(SslLoss {
            total: a.clone() + b.clone(),
            terms: vec![("p1_t2", a), ("p2_t1", b)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use ami_energy::ssl::byol;
    use burn::tensor::Device;

    /// Value, terms and the gradients of `p` against the f64 reference; `t` passed with a
    /// gradient still gets none.
    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (n, d, seed) in [(5, 4, 1), (3, 8, 2), (12, 3, 3)] {
            let m: Vec<_> = (0..4).map(|i| random(n, d, seed * 10 + i, 0.2)).collect();
            let want = byol(&m[0], &m[1], &m[2], &m[3]).unwrap();
            let x: Vec<_> = m.iter().map(leaf).collect();
            let loss = Byol::default()
                .loss(SslInputs {
                    p: vec![x[0].clone(), x[1].clone()],
                    t: vec![x[2].clone(), x[3].clone()],
                    ..Default::default()
                })
                .unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            for name in ["p1_t2", "p2_t1"] {
                assert_value(name, term(&loss, name), want.term(name).unwrap());
            }
            assert_weighted_terms(&loss, &[("p1_t2", 1.0), ("p2_t1", 1.0)]);
            let g = grads(&loss, &[&x[0], &x[1], &x[2], &x[3]]);
            assert_matrix("p1", g[0].as_ref().unwrap(), want.grad("p1").unwrap());
            assert_matrix("p2", g[1].as_ref().unwrap(), want.grad("p2").unwrap());
            assert_no_grad("t1", &g[2]);
            assert_no_grad("t2", &g[3]);
        }
    }

    #[test]
    fn needs_and_input_checks() {
        let obj = Byol::default();
        let needs = obj.needs();
        assert!(needs.predictor && !needs.masking && needs.prototypes.is_none());
        assert_eq!(
            needs.target,
            TargetBranch::Ema(MomentumSchedule::Cosine { base: 0.996 })
        );
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 7, 0.0), &dev);
        let e = err(obj.loss(SslInputs {
            p: vec![z(4, 3), z(4, 3)],
            ..Default::default()
        }));
        assert!(e.contains("byol inputs `t`"), "{e}");
        let e = err(obj.loss(SslInputs::pair(z(4, 3), z(4, 3))));
        assert!(e.contains("byol inputs `p`"), "{e}");
        let e = err(obj.loss(SslInputs {
            p: vec![z(4, 3), z(4, 3)],
            t: vec![z(4, 3), z(5, 3)],
            ..Default::default()
        }));
        assert!(e.contains("`t[1]`") && e.contains("[5, 3]"), "{e}");
        let bad = Byol(ByolConfig { base_momentum: 1.5 });
        assert!(err(bad.loss(SslInputs::default())).contains("byol.base_momentum"));
    }
}
