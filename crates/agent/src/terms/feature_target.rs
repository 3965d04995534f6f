//! A task term on one decoded feature: drive a named feature of the probe's readout toward a
//! target value (highway: the ego's speed `v` toward the speed limit, i.e. make progress).
//!
//! For candidate `i` with predicted states `s_{i,t}`, `f̂_{i,t} = P(s_{i,t})_j = w_j·s_{i,t} +
//! b_j` (row `j` of the affine probe):
//! `cost_i = (1/h) Σ_t |f̂_{i,t} − target|`, with gradient
//! `∂cost_i/∂s_{i,t} = sign(f̂_{i,t} − target)·w_j / h` (0 at the target) and none with
//! respect to the actions.

use std::sync::Arc;

use crate::cost::{CostTerm, RolloutBatch};
use crate::error::AgentError;
use crate::probe::StateProbe;
use crate::readout_head::FeatureReader;

/// Mean absolute deviation of a decoded feature from a target (module docs).
#[derive(Debug, Clone)]
pub struct FeatureTarget {
    probe: Arc<StateProbe>,
    index: usize,
    target: f32,
    name: String,
}

impl FeatureTarget {
    /// The term on the probe's feature `feature` with target value `target`.
    pub fn new(probe: Arc<StateProbe>, feature: &str, target: f32) -> Result<Self, AgentError> {
        if !target.is_finite() {
            return Err(AgentError::config(
                "cost.task.target",
                target,
                "a finite value",
            ));
        }
        Ok(FeatureTarget {
            index: probe.feature(feature)?,
            name: format!("{feature}_target"),
            probe,
            target,
        })
    }

    fn reading(&self, s: &[f32]) -> f32 {
        let d = self.probe.repr_dim;
        let w = &self.probe.weights[self.index * d..(self.index + 1) * d];
        w.iter().zip(s).map(|(a, b)| a * b).sum::<f32>() + self.probe.bias[self.index]
    }
}

impl CostTerm for FeatureTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        super::check_probe_input("feature target", self.probe.repr_dim, state_dim)
    }

    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        if b.d() != self.probe.repr_dim {
            return vec![f32::NAN; b.n()];
        }
        let h = b.h().max(1) as f32;
        (0..b.n())
            .map(|i| {
                (0..b.h())
                    .map(|t| (self.reading(b.state(i, t)) - self.target).abs())
                    .sum::<f32>()
                    / h
            })
            .collect()
    }

    fn gradient(
        &self,
        batch: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        batch.check_gradient_buffers(states_bar, actions_bar)?;
        let (d, h) = (batch.d(), batch.h());
        let w = &self.probe.weights[self.index * d..(self.index + 1) * d];
        for i in 0..batch.n() {
            for t in 0..h {
                let e = self.reading(batch.state(i, t)) - self.target;
                let g = if e > 0.0 {
                    1.0
                } else if e < 0.0 {
                    -1.0
                } else {
                    0.0
                } / h as f32;
                let row = &mut states_bar[(i * h + t) * d..(i * h + t + 1) * d];
                row.iter_mut().zip(w).for_each(|(r, wj)| *r += g * wj);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `v = 2·s0 − s1 + 1` from 2-D states.
    fn probe() -> Arc<StateProbe> {
        Arc::new(StateProbe {
            repr_dim: 2,
            state_dim: 1,
            weights: vec![2.0, -1.0],
            bias: vec![1.0],
            ridge: 0.0,
            error: None,
            names: vec!["v".into()],
            feature_p99: Vec::new(),
        })
    }

    #[test]
    fn cost_and_gradient_against_hand_values_and_finite_differences() {
        let term = FeatureTarget::new(probe(), "v", 10.0).unwrap();
        // v = 2·3 − 1 + 1 = 6 and 2·7 − 0 + 1 = 15: (4 + 5)/2.
        let states = [3.0, 1.0, 7.0, 0.0];
        let b = RolloutBatch::new(&states, &[0.0; 2], (1, 2), (2, 1)).unwrap();
        assert_eq!(term.cost(&b), vec![4.5]);
        let (mut sb, mut ab) = (vec![0.0; 4], vec![0.0; 2]);
        term.gradient(&b, &mut sb, &mut ab).unwrap();
        let eps = 1e-2;
        for k in 0..4 {
            let mut p = states;
            p[k] += eps;
            let mut m = states;
            m[k] -= eps;
            let c = |s: &[f32]| {
                let b = RolloutBatch::new(s, &[0.0; 2], (1, 2), (2, 1)).unwrap();
                term.cost(&b)[0]
            };
            let fd = (c(&p) - c(&m)) / (2.0 * eps);
            assert!((fd - sb[k]).abs() < 1e-3, "{k}: {fd} vs {}", sb[k]);
        }
        assert_eq!(ab, vec![0.0, 0.0]);
        assert!(FeatureTarget::new(probe(), "speed", 1.0).is_err());
        assert!(FeatureTarget::new(probe(), "v", f32::INFINITY).is_err());
    }
}
