//! Distance to a region: the task cost of "reach any point of this area".
//!
//! `cost_i = Σ_{t=0}^{h−1} dist(P(s_{i,t}), B)` with `P` the state probe and `B` the region's
//! box (Euclidean distance, 0 inside), so every imagined step that ends inside the region
//! costs nothing.

use std::sync::Arc;

use crate::cost::{CostTerm, RolloutBatch};
use crate::error::AgentError;
use crate::probe::StateProbe;
use crate::terms::StateBox;

/// Distance of the decoded states to a box (module docs).
#[derive(Debug, Clone)]
pub struct RegionDistance {
    probe: Arc<StateProbe>,
    region: StateBox,
}

impl RegionDistance {
    /// The task term for `region`, read through `probe`.
    pub fn new(probe: Arc<StateProbe>, region: StateBox) -> Result<Self, AgentError> {
        if region.lo.len() > probe.state_dim || region.lo.len() != region.hi.len() {
            return Err(AgentError::config(
                "task.region",
                format!("{region:?}"),
                "a box over at most the probe's state coordinates",
            ));
        }
        Ok(RegionDistance { probe, region })
    }

    /// Decoded distance of one representation to the region.
    pub fn distance(&self, s: &[f32]) -> f32 {
        self.region.distance_grad(&self.probe.decode(s)).0
    }
}

impl CostTerm for RegionDistance {
    fn name(&self) -> &str {
        "region_distance"
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        if state_dim == self.probe.repr_dim {
            Ok(())
        } else {
            Err(AgentError::shape(
                "region probe input",
                self.probe.repr_dim,
                format!("[D={state_dim}] (the world model's state dimension)"),
            ))
        }
    }

    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        if b.d() != self.probe.repr_dim {
            return vec![f32::NAN; b.n()];
        }
        (0..b.n())
            .map(|i| (0..b.h()).map(|t| self.distance(b.state(i, t))).sum())
            .collect()
    }

    /// `∂cost_i/∂s_{i,t} = Pᵀ ∇ₓ dist(x̂, B)` with `∇ₓ dist = (x̂ − proj_B x̂)/dist` outside the
    /// box and 0 inside.
    fn gradient(
        &self,
        b: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        b.check_gradient_buffers(states_bar, actions_bar)?;
        self.check_dims(b.d(), b.a())?;
        let d = b.d();
        for i in 0..b.n() {
            for t in 0..b.h() {
                let (_, g) = self.region.distance_grad(&self.probe.decode(b.state(i, t)));
                let k = (i * b.h() + t) * d;
                let mut full = vec![0.0; self.probe.state_dim];
                full[..g.len()].copy_from_slice(&g);
                self.probe.backward_into(&full, &mut states_bar[k..k + d]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_decoded_distances() {
        // Probe x̂ = 2 s + (1, 0).
        let probe = Arc::new(StateProbe {
            repr_dim: 2,
            state_dim: 2,
            weights: vec![2.0, 0.0, 0.0, 2.0],
            bias: vec![1.0, 0.0],
            ridge: 0.0,
            error: None,
            names: Vec::new(),
            feature_p99: Vec::new(),
        });
        let region = StateBox {
            lo: vec![0.0, 0.0],
            hi: vec![1.0, 1.0],
        };
        let r = RegionDistance::new(probe, region).unwrap();
        // s = (−0.2, 0.2) → x̂ = (0.6, 0.4): inside; s = (2, 2) → (5, 4): distance 5.
        let b = RolloutBatch::new(&[-0.2, 0.2, 2.0, 2.0], &[0.0; 4], (1, 2), (2, 2)).unwrap();
        assert_eq!(r.cost(&b), vec![5.0]);
        assert!(r.check_dims(3, 1).is_err());
        // Gradient against central differences on the outside state.
        let (mut sb, mut ab) = (vec![0.0; 4], vec![0.0; 4]);
        r.gradient(&b, &mut sb, &mut ab).unwrap();
        let eps = 1e-3;
        for k in 0..4 {
            let mut plus = [-0.2, 0.2, 2.0, 2.0];
            let mut minus = plus;
            plus[k] += eps;
            minus[k] -= eps;
            let c = |s: &[f32]| {
                let bb = RolloutBatch::new(s, &[0.0; 4], (1, 2), (2, 2)).unwrap();
                r.cost(&bb)[0]
            };
            let fd = (c(&plus) - c(&minus)) / (2.0 * eps);
            assert!((fd - sb[k]).abs() < 1e-2, "k {k}: fd {fd} vs {}", sb[k]);
        }
        assert_eq!(ab, vec![0.0; 4]);
    }
}
