//! An objective with parts of its architecture removed, for ablations (the `collapse`
//! experiment): the same loss, but the training loop is told to build less.
//!
//! * **No predictor**: [`SslObjective::needs`] reports `predictor: false`, so the loop builds
//!   none, and the loss reads the projections themselves as the predictions, `p_v = z_v` (the
//!   identity predictor). BYOL without its predictor collapses (Grill et al. 2020, Table 5).
//! * **Another target**: e.g. [`TargetBranch::StopGradient`] instead of an EMA copy, so
//!   `t_v = sg(z_v)` (BYOL with momentum 0; with a predictor this is SimSiam's setting).

use super::{SslInputs, SslLoss, SslNeeds, SslObjective, TargetBranch};
use crate::error::JepaError;

/// `inner` with its predictor and/or target branch replaced (module docs).
pub struct Ablated {
    /// The objective whose loss is used.
    pub inner: Box<dyn SslObjective>,
    /// The name reported (e.g. `byol-no-predictor`).
    pub label: &'static str,
    /// Keep the inner objective's predictor (when it has one).
    pub predictor: bool,
    /// The target branch to use instead of the inner one's (`None`: keep it).
    pub target: Option<TargetBranch>,
}

impl SslObjective for Ablated {
    fn name(&self) -> &'static str {
        self.label
    }

    fn needs(&self) -> SslNeeds {
        let inner = self.inner.needs();
        SslNeeds {
            predictor: inner.predictor && self.predictor,
            target: self.target.unwrap_or(inner.target),
            ..inner
        }
    }

    /// The inner loss, with `p = z` when the predictor was removed.
    fn loss(&self, mut inputs: SslInputs) -> Result<SslLoss, JepaError> {
        if self.inner.needs().predictor && !self.predictor {
            inputs.p = inputs.z.clone();
        }
        self.inner.loss(inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::{Byol, MomentumSchedule};
    use burn::tensor::{Device, Tensor, TensorData};

    fn t(v: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [2, 2]), &Device::flex())
    }

    fn value(l: &SslLoss) -> f32 {
        l.total.clone().into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn no_predictor_reads_the_projections_as_predictions() {
        let ablated = Ablated {
            inner: Box::new(Byol::default()),
            label: "byol-no-predictor",
            predictor: false,
            target: None,
        };
        let needs = ablated.needs();
        assert!(!needs.predictor);
        assert_eq!(
            needs.target,
            TargetBranch::Ema(MomentumSchedule::Cosine { base: 0.996 })
        );
        assert_eq!(ablated.name(), "byol-no-predictor");
        let (z0, z1) = (t(&[1.0, 0.0, 0.0, 1.0]), t(&[0.0, 1.0, 1.0, 0.0]));
        let targets = vec![t(&[1.0, 0.0, 0.0, 1.0]), t(&[1.0, 0.0, 0.0, 1.0])];
        let got = ablated
            .loss(SslInputs {
                z: vec![z0.clone(), z1.clone()],
                t: targets.clone(),
                ..Default::default()
            })
            .unwrap();
        let want = Byol::default()
            .loss(SslInputs {
                z: vec![z0.clone(), z1.clone()],
                p: vec![z0, z1],
                t: targets,
                prototypes: None,
            })
            .unwrap();
        assert_eq!(value(&got), value(&want));
        // p0 = e1 vs t1 = e1: 0; p1 = e2 vs t0 = e1: 2 − 0 = 2; rows 2: e2 vs e2: 0, e1 vs e2: 2.
        assert!((value(&got) - 2.0).abs() < 1e-6, "{}", value(&got));
    }

    #[test]
    fn a_replaced_target_and_a_kept_predictor() {
        let ablated = Ablated {
            inner: Box::new(Byol::default()),
            label: "byol-no-ema",
            predictor: true,
            target: Some(TargetBranch::StopGradient),
        };
        let needs = ablated.needs();
        assert!(needs.predictor);
        assert_eq!(needs.target, TargetBranch::StopGradient);
    }
}
