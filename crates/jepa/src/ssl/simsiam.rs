//! SimSiam (Chen & He, CVPR 2021) as an [`SslObjective`], following the official code
//! (facebookresearch/simsiam `main_simsiam.py`; REFERENCE.md §3):
//!
//! ```text
//! p1_z2 = −mean_b cos(p[0]_b, t[1]_b),   p2_z1 = −mean_b cos(p[1]_b, t[0]_b)
//! loss  = ½·p1_z2 + ½·p2_z1              minimum −1
//! ```
//!
//! `cos` is `nn.CosineSimilarity(dim=1)`: each norm clamped below at eps 1e-8. The targets
//! are the online projections behind a stop-gradient, `t_v = sg(z_v)` (the training loop
//! fills `t` with the detached `z`; they are detached here as well). No EMA, no parameters.
//!
//! The f64 reference with analytic gradients is `ami_energy::ssl::simsiam` (its `z1`, `z2`
//! are `t[0]`, `t[1]` here).

use burn::tensor::Tensor;

use super::{
    enough_rows, first, row_cosine, same_shape, SslInputs, SslLoss, SslNeeds, SslObjective,
    TargetBranch,
};
use crate::error::JepaError;

/// `eps` of PyTorch's `nn.CosineSimilarity` (each norm is clamped below at it).
pub const SIMSIAM_EPS: f64 = 1e-8;

/// SimSiam: the online predictions of each view regress the stop-gradient projection of the
/// other. It has no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimSiam;

impl SslObjective for SimSiam {
    fn name(&self) -> &'static str {
        "simsiam"
    }

    /// A predictor and the online projections behind a stop-gradient as targets.
    fn needs(&self) -> SslNeeds {
        SslNeeds {
            predictor: true,
            target: TargetBranch::StopGradient,
            ..SslNeeds::PLAIN
        }
    }

    /// Terms `p1_z2` (`p[0]` against `t[1]`) and `p2_z1` (`p[1]` against `t[0]`), all
    /// `[B, D]`; total their mean.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError> {
        let name = self.name();
        let [p0, p1] = first(name, "p", inputs.p)?;
        let [t0, t1] = first(name, "t", inputs.t)?;
        enough_rows(name, "p[0]", &p0, 1, "the loss is a mean over the batch")?;
        let shape = p0.dims();
        same_shape(name, "p[1]", &p1, shape, "p[0]")?;
        same_shape(name, "t[0]", &t0, shape, "p[0]")?;
        same_shape(name, "t[1]", &t1, shape, "p[0]")?;
        let d = |p, t: Tensor<2>| row_cosine(p, t.detach(), SIMSIAM_EPS).mean().neg();
        let a = d(p0, t1);
        let b = d(p1, t0);
        Ok(SslLoss {
            total: (a.clone() + b.clone()).mul_scalar(0.5),
            terms: vec![("p1_z2", a), ("p2_z1", b)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use ami_energy::ssl::simsiam;
    use burn::tensor::Device;

    /// Value, terms and the gradients of `p` against the f64 reference; `t` passed with a
    /// gradient still gets none.
    #[test]
    fn matches_the_f64_reference_with_gradients() {
        for (n, d, seed) in [(6, 3, 1), (2, 7, 2), (9, 9, 3)] {
            let m: Vec<_> = (0..4).map(|i| random(n, d, seed * 10 + i, -0.1)).collect();
            let want = simsiam(&m[0], &m[1], &m[2], &m[3]).unwrap();
            let x: Vec<_> = m.iter().map(leaf).collect();
            let loss = SimSiam
                .loss(SslInputs {
                    p: vec![x[0].clone(), x[1].clone()],
                    t: vec![x[2].clone(), x[3].clone()],
                    ..Default::default()
                })
                .unwrap();
            assert_value("loss", scalar(&loss.total), want.value);
            for name in ["p1_z2", "p2_z1"] {
                assert_value(name, term(&loss, name), want.term(name).unwrap());
            }
            assert_weighted_terms(&loss, &[("p1_z2", 0.5), ("p2_z1", 0.5)]);
            let g = grads(&loss, &[&x[0], &x[1], &x[2], &x[3]]);
            assert_matrix("p1", g[0].as_ref().unwrap(), want.grad("p1").unwrap());
            assert_matrix("p2", g[1].as_ref().unwrap(), want.grad("p2").unwrap());
            assert_no_grad("z1", &g[2]);
            assert_no_grad("z2", &g[3]);
        }
    }

    #[test]
    fn needs_and_input_checks() {
        let needs = SimSiam.needs();
        assert!(needs.predictor && !needs.masking && needs.prototypes.is_none());
        assert_eq!(needs.target, TargetBranch::StopGradient);
        let dev = Device::flex();
        let z = |n, d| tensor(&random(n, d, 7, 0.0), &dev);
        let e = err(SimSiam.loss(SslInputs {
            p: vec![z(4, 3), z(4, 3)],
            t: vec![z(4, 3)],
            ..Default::default()
        }));
        assert!(e.contains("simsiam inputs `t`") && e.contains("2"), "{e}");
        let e = err(SimSiam.loss(SslInputs::pair(z(4, 3), z(4, 3))));
        assert!(e.contains("simsiam inputs `p`"), "{e}");
        let e = err(SimSiam.loss(SslInputs {
            p: vec![z(4, 3), z(4, 2)],
            t: vec![z(4, 3), z(4, 3)],
            ..Default::default()
        }));
        assert!(e.contains("`p[1]`") && e.contains("[4, 2]"), "{e}");
    }
}
