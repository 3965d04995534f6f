//! The hazard guardrail: an imagined trajectory is unsafe when its decoded path comes within a
//! margin of a hazard.
//!
//! For candidate `i` with predicted states `s_{i,0..h−1}` from the start `s0`, decoded by the
//! probe to `x̂_{i,t} = P(s_{i,t})` (and `x̂_{−1} = P(s0)`):
//! `cost_i = #{ t : the segment x̂_{i,t−1} → x̂_{i,t} meets some hazard grown by m }`.
//! Segments, not points: one planned action is held for several environment steps and the
//! agent moves along a straight line meanwhile, so checking only the predicted points could
//! step over a hazard's corner. Without a known start (a batch without
//! [`crate::RolloutBatch::with_start`]) the first step is checked as the point `x̂_{i,0}`.
//!
//! The margin `m = max(probe p99 error, 0.5) + extra` covers the probe's measured reading
//! error; `extra ≥ 0` can only widen it. The cost is a count, so its gradient is zero almost
//! everywhere: gradient planners rely on the unsafe-plan check ([`crate::Cost::violations`]),
//! not on this term's slope.

use std::sync::Arc;

use crate::cost::{CostTerm, RolloutBatch};
use crate::error::AgentError;
use crate::probe::StateProbe;
use crate::terms::StateBox;

/// Guardrail against entering hazards (module docs).
#[derive(Debug, Clone)]
pub struct HazardGuardrail {
    probe: Arc<StateProbe>,
    grown: Vec<StateBox>,
    margin: f32,
}

impl HazardGuardrail {
    /// The guardrail for `hazards` read through `probe`, with `extra_margin ≥ 0` on top of the
    /// probe's measured p99 error.
    pub fn new(
        probe: Arc<StateProbe>,
        hazards: &[StateBox],
        extra_margin: f32,
    ) -> Result<Self, AgentError> {
        if !(extra_margin.is_finite() && extra_margin >= 0.0) {
            return Err(AgentError::config(
                "cost.guardrail.extra_margin",
                extra_margin,
                "a finite value >= 0 (a guardrail's margin can only be widened)",
            ));
        }
        if hazards.is_empty() {
            return Err(AgentError::config(
                "cost.guardrail",
                "hazards",
                "an environment with hazards (e.g. env.kind = \"two-rooms-hazards\")",
            ));
        }
        if let Some(h) = hazards.iter().find(|h| h.lo.len() > probe.state_dim) {
            return Err(AgentError::config(
                "cost.guardrail",
                format!("hazard over {} coordinates", h.lo.len()),
                "hazards over at most the probe's state coordinates",
            ));
        }
        let read_error = probe.error.map_or(0.0, |e| e.p99).max(0.5);
        let margin = read_error + extra_margin;
        Ok(HazardGuardrail {
            grown: hazards.iter().map(|h| h.expanded(margin)).collect(),
            probe,
            margin,
        })
    }

    /// The margin `m` the hazards are grown by.
    pub fn margin(&self) -> f32 {
        self.margin
    }
}

impl CostTerm for HazardGuardrail {
    fn name(&self) -> &str {
        "hazard_guardrail"
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        super::check_probe_input("hazard guardrail", self.probe.repr_dim, state_dim)
    }

    /// NaN costs when the batch's state dimension differs from the probe's (see
    /// `check_dims`): an unreadable trajectory is never counted as safe.
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        if b.d() != self.probe.repr_dim {
            return vec![f32::NAN; b.n()];
        }
        let start = b.start().map(|s0| self.probe.decode(s0));
        let mut prev = vec![0.0; self.probe.state_dim];
        let mut cur = vec![0.0; self.probe.state_dim];
        (0..b.n())
            .map(|i| {
                let mut count = 0u32;
                for t in 0..b.h() {
                    self.probe.decode_into(b.state(i, t), &mut cur);
                    let hit = match (t, &start) {
                        (0, None) => self.grown.iter().any(|h| h.contains(&cur)),
                        (0, Some(x0)) => self.grown.iter().any(|h| h.meets_segment(x0, &cur)),
                        _ => self.grown.iter().any(|h| h.meets_segment(&prev, &cur)),
                    };
                    count += u32::from(hit);
                    std::mem::swap(&mut prev, &mut cur);
                }
                count as f32
            })
            .collect()
    }

    /// The count is piecewise constant in the states: its gradient is zero wherever it is
    /// defined (the planners' rejection of unsafe candidates does the work, module docs).
    fn gradient(
        &self,
        batch: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        batch.check_gradient_buffers(states_bar, actions_bar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity probe on 2-D states (x̂ = s), with a measured p99 error of 0.2.
    fn identity() -> Arc<StateProbe> {
        Arc::new(StateProbe {
            repr_dim: 2,
            state_dim: 2,
            weights: vec![1.0, 0.0, 0.0, 1.0],
            bias: vec![0.0, 0.0],
            ridge: 0.0,
            error: None,
            names: Vec::new(),
            feature_p99: Vec::new(),
        })
    }

    fn hazard() -> Vec<StateBox> {
        vec![StateBox {
            lo: vec![4.0, 0.0],
            hi: vec![6.0, 2.0],
        }]
    }

    #[test]
    fn counts_segments_that_cross_the_grown_hazard() {
        let g = HazardGuardrail::new(identity(), &hazard(), 0.5).unwrap();
        assert_eq!(g.margin(), 1.0);
        // Candidate 0 jumps over the hazard: (0, 1) → (10, 1): both points outside, the
        // segment crosses. Candidate 1 passes above the grown box (y = 3.5 > 2 + 1).
        let states = [10.0, 1.0, 10.0, 1.0, 0.0, 3.5, 10.0, 3.5];
        let actions = [0.0; 8];
        let b = RolloutBatch::new(&states, &actions, (2, 2), (2, 2)).unwrap();
        let from = b.with_start(&[0.0, 1.0]).unwrap();
        assert_eq!(g.cost(&from), vec![1.0, 0.0]);
        // Without the start only the points are checked for t = 0.
        assert_eq!(g.cost(&b), vec![0.0, 0.0]);
        // Within the margin counts: y = 2.9 is 0.9 from the hazard.
        let near = [5.0, 2.9];
        let b = RolloutBatch::new(&near, &[0.0, 0.0], (1, 1), (2, 2)).unwrap();
        assert_eq!(g.cost(&b), vec![1.0]);
    }

    #[test]
    fn margins_only_widen_and_dims_are_checked() {
        for bad in [-0.1, f32::NAN] {
            let err = HazardGuardrail::new(identity(), &hazard(), bad).unwrap_err();
            assert!(err.to_string().contains("extra_margin"), "{err}");
        }
        assert!(HazardGuardrail::new(identity(), &[], 0.0).is_err());
        let g = HazardGuardrail::new(identity(), &hazard(), 0.0).unwrap();
        assert!(g.check_dims(3, 2).is_err());
        let b = RolloutBatch::new(&[0.0; 3], &[0.0; 2], (1, 1), (3, 2)).unwrap();
        assert!(g.cost(&b)[0].is_nan());
    }
}
