//! A guardrail on one decoded feature: an imagined trajectory is unsafe at every step where
//! the probe's reading of a named feature crosses a bound, widened by the probe's error.
//!
//! For candidate `i` with predicted states `s_{i,t}` and decoded feature `f̂_{i,t} =
//! R(s_{i,t})_j` (feature `j` of the environment's readout, e.g. highway's `gap_ahead`, read by
//! the run's readout head if it has one, else by its affine probe: [`FeatureReader`]):
//! * `below = b`: `cost_i = #{ t : f̂_{i,t} < b + m }` (keep the feature at least `b`),
//! * `above = b`: `cost_i = #{ t : f̂_{i,t} > b − m }` (keep it at most `b`),
//!
//! with the margin `m = p99_j + extra ≥ 0`, `p99_j` the reader's measured 99th percentile of
//! `|f̂_j − f_j|` on held-out data ([`FeatureReader::feature_p99`]; 0 when unmeasured)
//! and `extra ≥ 0` the configured widening. When the run measured how well it reads
//! *imagined* states ([`crate::imagined_error`]), the margin at planned step `t` is
//! `m_t = max(p99_j, p99^{imag}_{t,j}) + extra` (the last measured step's for later steps).
//! With a threshold calibrated on held-out plans instead ([`crate::imagined_error::GuardThreshold`],
//! `agent.guardrail_rule = "recall"`), a step is unsafe when `f̂ ≤ τ + extra` (`below`) or
//! `f̂ ≥ τ − extra` (`above`) at every planned step. The count is piecewise constant, so its gradient
//! is zero; planners reject unsafe candidates instead ([`crate::Cost::violations`]).

use std::sync::Arc;

use crate::cost::{CostTerm, RolloutBatch};
use crate::error::AgentError;
use crate::readout_head::FeatureReader;

/// Which side of the bound is safe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureBound {
    /// Safe while `f̂ ≥ b + m`.
    Below(f32),
    /// Safe while `f̂ ≤ b − m`.
    Above(f32),
}

impl FeatureBound {
    /// Whether the value `f` is on the unsafe side of the bound (`f < b` below, `f > b`
    /// above; the bound itself is safe).
    pub fn crossed_by(&self, f: f32) -> bool {
        match *self {
            FeatureBound::Below(b) => f < b,
            FeatureBound::Above(b) => f > b,
        }
    }
}

impl std::fmt::Display for FeatureBound {
    /// `below B` or `above B`, as the guardrail's configuration key reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureBound::Below(b) => write!(f, "below {b}"),
            FeatureBound::Above(b) => write!(f, "above {b}"),
        }
    }
}

/// Guardrail on one decoded feature (module docs).
#[derive(Debug, Clone)]
pub struct FeatureGuardrail {
    probe: Arc<dyn FeatureReader>,
    index: usize,
    name: String,
    bound: FeatureBound,
    /// The reader's measured error of the feature on encoded states.
    read_error: f32,
    /// The configured widening.
    extra: f32,
    /// Per planned step, the measured error of reading imagined states (empty: none).
    step_error: Vec<f32>,
    /// A calibrated threshold `τ` that replaces the margins (module docs).
    threshold: Option<f32>,
}

impl FeatureGuardrail {
    /// The guardrail on the probe's feature `feature`, unsafe beyond `bound`, with `extra ≥ 0`
    /// added to the probe's measured error of that feature.
    pub fn new(
        probe: Arc<dyn FeatureReader>,
        feature: &str,
        bound: FeatureBound,
        extra: f32,
    ) -> Result<Self, AgentError> {
        if !(extra.is_finite() && extra >= 0.0) {
            return Err(AgentError::config(
                "cost.guardrail.extra_margin",
                extra,
                "a finite value >= 0 (a guardrail's margin can only be widened)",
            ));
        }
        let b = match bound {
            FeatureBound::Below(b) | FeatureBound::Above(b) => b,
        };
        if !b.is_finite() {
            return Err(AgentError::config(
                "cost.guardrail.below/above",
                b,
                "a finite bound",
            ));
        }
        let index = probe.feature(feature)?;
        let read_error = probe.feature_p99().get(index).copied().unwrap_or(0.0);
        if !(read_error.is_finite() && read_error >= 0.0) {
            return Err(AgentError::config_source(
                "probe",
                format!("feature `{feature}` has no finite measured error ({read_error})"),
            ));
        }
        Ok(FeatureGuardrail {
            name: format!("{feature}_guardrail"),
            probe,
            index,
            bound,
            read_error,
            extra,
            step_error: Vec::new(),
            threshold: None,
        })
    }

    /// Widen the margin at planned step `t` to `max(p99_j, step_error[t]) + extra` (module
    /// docs; later steps use the last entry). Errors must be finite and `≥ 0`.
    pub fn with_step_error(mut self, step_error: Vec<f32>) -> Result<Self, AgentError> {
        if let Some(e) = step_error.iter().find(|e| !(e.is_finite() && **e >= 0.0)) {
            return Err(AgentError::config_source(
                "imagined error",
                format!("`{}` has a non-finite or negative error {e}", self.name),
            ));
        }
        self.step_error = step_error;
        Ok(self)
    }

    /// Judge readings against the calibrated threshold `tau` instead of the margins (module
    /// docs); it must be finite and on the bound's safe side or on it.
    pub fn with_threshold(mut self, tau: f32) -> Result<Self, AgentError> {
        if !tau.is_finite() || self.bound.crossed_by(tau) {
            return Err(AgentError::config_source(
                "guardrail threshold",
                format!(
                    "`{}` has threshold {tau}, which does not guard its bound ({})",
                    self.name, self.bound
                ),
            ));
        }
        self.threshold = Some(tau);
        Ok(self)
    }

    /// The margin at planned step `t` (0-based).
    pub fn margin_at(&self, t: usize) -> f32 {
        match self.step_error.get(t).or(self.step_error.last()) {
            Some(&e) => self.read_error.max(e) + self.extra,
            None => self.margin(),
        }
    }

    /// The margin `m` on encoded states (`p99_j + extra`).
    pub fn margin(&self) -> f32 {
        self.read_error + self.extra
    }

    /// Whether the decoded value `f` at planned step `t` is unsafe.
    fn unsafe_at(&self, f: f32, t: usize) -> bool {
        if let Some(tau) = self.threshold {
            return match self.bound {
                FeatureBound::Below(_) => f.is_nan() || f <= tau + self.extra,
                FeatureBound::Above(_) => f.is_nan() || f >= tau - self.extra,
            };
        }
        let m = self.margin_at(t);
        match self.bound {
            FeatureBound::Below(b) => f.is_nan() || f < b + m,
            FeatureBound::Above(b) => f.is_nan() || f > b - m,
        }
    }
}

impl CostTerm for FeatureGuardrail {
    fn name(&self) -> &str {
        &self.name
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        super::check_probe_input("feature guardrail", self.probe.repr_dim(), state_dim)
    }

    /// Unsafe steps per candidate; a NaN reading counts as unsafe, and a batch of the wrong
    /// state dimension (or one the reader fails on) gives NaN costs (never safe).
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        let (n, h) = (b.n(), b.h());
        let k = self.probe.names().len().max(1);
        let read = (b.d() == self.probe.repr_dim())
            .then(|| self.probe.read(b.states(), n * h).ok())
            .flatten();
        let Some(x) = read else {
            return vec![f32::NAN; n];
        };
        (0..n)
            .map(|i| {
                (0..h)
                    .filter(|&t| self.unsafe_at(x[(i * h + t) * k + self.index], t))
                    .count() as f32
            })
            .collect()
    }

    /// Piecewise constant: zero gradient wherever defined.
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

    /// Reads `[s0, s1]` as features `gap` and `crashed`, with measured errors 0.5 and 0.1.
    fn probe() -> Arc<dyn FeatureReader> {
        Arc::new(crate::probe::StateProbe {
            repr_dim: 2,
            state_dim: 2,
            weights: vec![1.0, 0.0, 0.0, 1.0],
            bias: vec![0.0, 0.0],
            ridge: 0.0,
            error: None,
            names: vec!["gap".into(), "crashed".into()],
            feature_p99: vec![0.5, 0.1],
        })
    }

    #[test]
    fn counts_the_steps_past_the_widened_bound() {
        let g = FeatureGuardrail::new(probe(), "gap", FeatureBound::Below(1.0), 0.25).unwrap();
        assert_eq!(g.margin(), 0.75);
        assert_eq!(g.name(), "gap_guardrail");
        // Candidate 0: gaps 3, 1.8, 1.7 → one step below 1.75. Candidate 1: 2, 2, NaN.
        let states = [
            3.0,
            0.0,
            1.8,
            0.0,
            1.7,
            0.0,
            2.0,
            0.0,
            2.0,
            0.0,
            f32::NAN,
            0.0,
        ];
        let b = RolloutBatch::new(&states, &[0.0; 6], (2, 3), (2, 1)).unwrap();
        assert_eq!(g.cost(&b), vec![1.0, 1.0]);
        let c = FeatureGuardrail::new(probe(), "crashed", FeatureBound::Above(0.5), 0.0).unwrap();
        // Crashed readings 0, 0.39, 0.41 against 0.5 − 0.1.
        let states = [0.0, 0.0, 0.0, 0.39, 0.0, 0.41];
        let b = RolloutBatch::new(&states, &[0.0; 3], (1, 3), (2, 1)).unwrap();
        assert_eq!(c.cost(&b), vec![1.0]);
        // Measured errors of imagined states widen later steps: margins 0.1, 0.2, 0.2 (the
        // last entry beyond), never below the encoded-state error 0.1.
        let c = c.with_step_error(vec![0.05, 0.2]).unwrap();
        assert_eq!(
            (c.margin_at(0), c.margin_at(1), c.margin_at(5)),
            (0.1, 0.2, 0.2)
        );
        let states = [0.0, 0.39, 0.0, 0.29, 0.0, 0.31];
        let b = RolloutBatch::new(&states, &[0.0; 3], (1, 3), (2, 1)).unwrap();
        assert_eq!(c.cost(&b), vec![1.0]);
        assert!(c.clone().with_step_error(vec![f32::NAN]).is_err());
        assert!(c.with_step_error(vec![-1.0]).is_err());
    }

    #[test]
    fn a_calibrated_threshold_replaces_every_margin() {
        // Gap unsafe below 1 with threshold 1.5 (+ extra 0.25): readings 1.8, 1.75, 1.7 → the
        // reading at 1.75 is on the threshold (rejected), 1.8 is not; the encoded margin (0.5)
        // and imagined step errors no longer matter.
        let g = FeatureGuardrail::new(probe(), "gap", FeatureBound::Below(1.0), 0.25)
            .unwrap()
            .with_step_error(vec![5.0])
            .unwrap()
            .with_threshold(1.5)
            .unwrap();
        let states = [1.8, 0.0, 1.75, 0.0, 1.7, 0.0, 1.8, 0.0, 1.8, 0.0, 1.8, 0.0];
        let b = RolloutBatch::new(&states, &[0.0; 6], (2, 3), (2, 1)).unwrap();
        assert_eq!(g.cost(&b), vec![2.0, 0.0]);
        // Crashed unsafe above 0.5 with threshold 0.2: 0.19 passes, 0.2 and NaN do not.
        let c = FeatureGuardrail::new(probe(), "crashed", FeatureBound::Above(0.5), 0.0)
            .unwrap()
            .with_threshold(0.2)
            .unwrap();
        let states = [0.0, 0.19, 0.0, 0.2, 0.0, f32::NAN];
        let b = RolloutBatch::new(&states, &[0.0; 3], (1, 3), (2, 1)).unwrap();
        assert_eq!(c.cost(&b), vec![2.0]);
        // A threshold on the unsafe side of the bound, or not finite, guards nothing.
        for (bound, tau) in [
            (FeatureBound::Below(1.0), 0.9),
            (FeatureBound::Above(0.5), 0.6),
            (FeatureBound::Below(1.0), f32::INFINITY),
        ] {
            let g = FeatureGuardrail::new(probe(), "gap", bound, 0.0).unwrap();
            let err = g.with_threshold(tau).unwrap_err().to_string();
            assert!(err.contains("gap_guardrail"), "{err}");
        }
    }

    #[test]
    fn bad_settings_are_errors_naming_what_is_wrong() {
        let err = FeatureGuardrail::new(probe(), "speed", FeatureBound::Below(0.0), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("speed") && err.contains("gap, crashed"),
            "{err}"
        );
        for extra in [-1.0, f32::NAN] {
            let err = FeatureGuardrail::new(probe(), "gap", FeatureBound::Below(0.0), extra)
                .unwrap_err()
                .to_string();
            assert!(err.contains("extra_margin"), "{err}");
        }
        assert!(FeatureGuardrail::new(probe(), "gap", FeatureBound::Below(f32::NAN), 0.0).is_err());
        let g = FeatureGuardrail::new(probe(), "gap", FeatureBound::Below(0.0), 0.0).unwrap();
        assert!(g.check_dims(3, 1).is_err());
        let b = RolloutBatch::new(&[0.0; 3], &[0.0], (1, 1), (3, 1)).unwrap();
        assert!(g.cost(&b)[0].is_nan());
    }
}
