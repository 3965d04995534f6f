//! Model-predictive path integral control (MPPI; REFERENCE.md §14 "Planners", PLDM code).
//!
//! Each iteration `j` samples `n` action sequences `a_i = U + ε_i`, `ε_i ~ N(0, σ_j² I)` with
//! `σ_j = noise_std · max_action_norm · noise_decay^j`, projects every step onto `‖a_t‖ ≤ max_action_norm`,
//! rolls them out and scores them with the cost `c_i`. The update is the path-integral
//! average `U ← Π(Σ_i w_i a_i)` with
//!
//! `w_i = exp(−c̃_i / λ) / Σ_k exp(−c̃_k / λ)`,  `c̃_i = (c_i − min c) / (max c − min c)`.
//!
//! **Convention.** PLDM uses `w ∝ exp(−(S − min S)/λ)` on raw costs, so its λ depends on the
//! cost's scale. We first normalise the costs to `[0, 1]` so that λ is scale-free: λ = 0.05
//! means a candidate one full cost-range worse than the best gets weight `e^{−20}` relative
//! to it. When all costs are equal the weights are uniform. Averaging the projected
//! candidates (rather than adding `Σ w ε` to `U`) keeps `U` inside the constraint set, since
//! the ball is convex. PLDM's extra action-perturbation cost is not included.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{
    check_plan_inputs, fill_standard_normal, final_plan, project_to_ball, require_f32,
    require_positive, shift_mean, Plan, Planner, SampleBuffers,
};
use crate::cost::Cost;
use crate::error::{check_len, AgentError};
use crate::world_model::WorldModel;

/// Settings of [`Mppi`]; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MppiConfig {
    /// Planning horizon `h` (default 16). Not a key of the `[planner]` section: a run takes
    /// it from `[agent] horizon` ([`super::PlannerConfig::build`]).
    #[serde(skip)]
    pub horizon: usize,
    /// Candidates per iteration `n` (default 256).
    pub samples: usize,
    /// Update iterations per `plan` call (default 6).
    pub iterations: usize,
    /// Temperature λ on costs normalised to `[0, 1]` (default 0.05).
    pub temperature: f32,
    /// Initial exploration noise σ₀ in units of `max_action_norm` (default 0.5).
    pub noise_std: f32,
    /// Per-iteration decay of σ: `σ_j = σ₀ · noise_decay^j` (default 0.8).
    pub noise_decay: f32,
    /// Bound on every action: `‖a_t‖₂ ≤ max_action_norm` (default 1.0). Not a configuration
    /// key: a run takes it from the environment's action space.
    #[serde(skip)]
    pub max_action_norm: f32,
    /// Seed of the planner's random stream (default 0).
    pub seed: u64,
    /// Candidate 0 is the current mean, unperturbed (default true).
    pub keep_mean_candidate: bool,
}

impl Default for MppiConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            samples: 256,
            iterations: 6,
            temperature: 0.05,
            noise_std: 0.5,
            noise_decay: 0.8,
            max_action_norm: 1.0,
            seed: 0,
            keep_mean_candidate: true,
        }
    }
}

impl MppiConfig {
    /// Check every field; the error names the field, the value and what was expected.
    pub fn validate(&self) -> Result<(), AgentError> {
        require_positive("mppi.horizon", self.horizon)?;
        require_positive("mppi.samples", self.samples)?;
        require_positive("mppi.iterations", self.iterations)?;
        require_f32(
            "mppi.temperature",
            self.temperature,
            |v| v > 0.0,
            "a finite value > 0",
        )?;
        require_f32(
            "mppi.noise_std",
            self.noise_std,
            |v| v >= 0.0,
            "a finite value >= 0",
        )?;
        require_f32(
            "mppi.noise_decay",
            self.noise_decay,
            |v| v > 0.0 && v <= 1.0,
            "a value in (0, 1]",
        )?;
        require_f32(
            "mppi.max_action_norm",
            self.max_action_norm,
            |v| v > 0.0,
            "a finite value > 0",
        )
    }
}

/// MPPI planner with a warm-started mean plan `U [h, A]`.
#[derive(Debug, Clone)]
pub struct Mppi {
    cfg: MppiConfig,
    rng: StdRng,
    act_dim: usize,
    mean: Vec<f32>,
    weights: Vec<f32>,
    buf: SampleBuffers,
}

impl Mppi {
    /// Validate `cfg` and build the planner (zero mean plan).
    pub fn new(cfg: MppiConfig) -> Result<Self, AgentError> {
        cfg.validate()?;
        Ok(Self {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            act_dim: 0,
            mean: Vec::new(),
            weights: Vec::new(),
            buf: SampleBuffers::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &MppiConfig {
        &self.cfg
    }

    /// The stored mean plan `U [h, A]` (empty before the first `plan`).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Size the buffers for `A`-dimensional actions; a new `A` zeroes the mean plan.
    fn ensure_dims(&mut self, act_dim: usize) {
        if self.act_dim != act_dim {
            self.act_dim = act_dim;
            self.mean = vec![0.0; self.cfg.horizon * act_dim];
        }
        self.buf.ensure(self.cfg.samples, self.cfg.horizon, act_dim);
        self.weights.resize(self.cfg.samples, 0.0);
    }

    /// `candidates = Π(U + σ ε)`, with candidate 0 = `U` when `keep_mean_candidate`.
    fn sample(&mut self, sigma: f32) {
        let buf = &mut self.buf;
        fill_standard_normal(&mut self.rng, &mut buf.noise);
        if self.cfg.keep_mean_candidate {
            buf.noise[..self.mean.len()].fill(0.0);
        }
        for (cand, eps) in buf
            .candidates
            .chunks_exact_mut(self.mean.len())
            .zip(buf.noise.chunks_exact(self.mean.len()))
        {
            for ((c, e), u) in cand.iter_mut().zip(eps).zip(&self.mean) {
                *c = u + sigma * e;
            }
        }
        project_to_ball(&mut buf.candidates, self.act_dim, self.cfg.max_action_norm);
    }

    /// `U ← Π(Σ_i w_i a_i)`.
    fn update_mean(&mut self) {
        mppi_weights(
            &self.buf.costs,
            &self.buf.rejected,
            self.cfg.temperature,
            &mut self.weights,
        );
        self.mean.fill(0.0);
        let rows = self.buf.candidates.chunks_exact(self.mean.len());
        for (cand, &w) in rows.zip(&self.weights) {
            self.mean
                .iter_mut()
                .zip(cand)
                .for_each(|(u, c)| *u += w * c);
        }
        project_to_ball(&mut self.mean, self.act_dim, self.cfg.max_action_norm);
    }
}

/// MPPI weights on range-normalised costs (see the module docs); `weights` sum to 1.
///
/// Candidates a guardrail rejects get weight 0 and are left out of the range, so a rejected
/// candidate's huge cost cannot flatten the weights of the safe ones; when every candidate is
/// rejected, all take part (the costs then rank them by how often they violate).
///
/// # Shapes
/// `costs [n]` (finite), `rejected [n]` → `weights [n]`.
pub fn mppi_weights(costs: &[f32], rejected: &[bool], temperature: f32, weights: &mut [f32]) {
    let any_safe = rejected.iter().any(|r| !r);
    let counts = |i: usize| !any_safe || !rejected.get(i).copied().unwrap_or(false);
    let kept = || {
        costs
            .iter()
            .enumerate()
            .filter(|(i, _)| counts(*i))
            .map(|(_, c)| *c)
    };
    let min = kept().fold(f32::INFINITY, f32::min);
    let max = kept().fold(f32::NEG_INFINITY, f32::max);
    let range = max - min;
    let n_kept = kept().count().max(1) as f32;
    if !(range > 0.0 && range.is_finite()) {
        for (i, w) in weights.iter_mut().enumerate() {
            *w = if counts(i) { 1.0 / n_kept } else { 0.0 };
        }
        return;
    }
    let scale = 1.0 / (range * temperature);
    let mut total = 0.0f32;
    for (i, (w, c)) in weights.iter_mut().zip(costs).enumerate() {
        *w = if counts(i) {
            (-(c - min) * scale).exp()
        } else {
            0.0
        };
        total += *w;
    }
    // total >= 1 because the best candidate has weight exp(0) = 1.
    weights.iter_mut().for_each(|w| *w /= total);
}

impl Planner for Mppi {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let act_dim = check_plan_inputs(s0, cost, model)?;
        self.ensure_dims(act_dim);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
        let h = self.cfg.horizon;
        for it in 0..self.cfg.iterations {
            let sigma = self.cfg.noise_std
                * self.cfg.max_action_norm
                * self.cfg.noise_decay.powi(it as i32);
            self.sample(sigma);
            self.buf
                .evaluate(s0, cost, model, h, || format!("MPPI iteration {it}:"))?;
            self.update_mean();
        }
        let plan = final_plan(
            s0,
            &self.mean,
            cost,
            model,
            h,
            self.cfg.iterations,
            Some(&self.buf),
        )?;
        self.mean.copy_from_slice(&plan.actions);
        Ok(plan)
    }

    fn shift(&mut self, k: usize) {
        shift_mean(&mut self.mean, self.act_dim, k);
    }

    fn reset(&mut self) {
        self.mean.fill(0.0);
        self.rng = StdRng::seed_from_u64(self.cfg.seed);
    }

    fn warm_start(&mut self, actions: &[f32], act_dim: usize) -> Result<(), AgentError> {
        let h = self.cfg.horizon;
        check_len("mppi warm start", actions, h * act_dim, || {
            format!("[h={h}, A={act_dim}]")
        })?;
        self.ensure_dims(act_dim);
        self.mean.copy_from_slice(actions);
        project_to_ball(&mut self.mean, act_dim, self.cfg.max_action_norm);
        Ok(())
    }

    fn horizon(&self) -> usize {
        self.cfg.horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = MppiConfig::default();
        c.validate().unwrap();
        assert_eq!((c.horizon, c.samples, c.iterations), (16, 256, 6));
        assert_eq!(
            (c.temperature, c.noise_std, c.noise_decay),
            (0.05, 0.5, 0.8)
        );
    }

    #[test]
    fn validation_names_the_field() {
        let bad = MppiConfig {
            temperature: 0.0,
            ..MppiConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("mppi.temperature") && err.contains("> 0"),
            "{err}"
        );
        let bad = MppiConfig {
            samples: 0,
            ..MppiConfig::default()
        };
        assert!(Mppi::new(bad)
            .unwrap_err()
            .to_string()
            .contains("mppi.samples"));
        let bad = MppiConfig {
            noise_decay: 1.5,
            ..MppiConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mppi.noise_decay"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<MppiConfig>(r#"{"samples": 4, "lambda": 1}"#);
        assert!(err.unwrap_err().to_string().contains("lambda"));
        // The horizon and the action bound are derived, not configured.
        let err = serde_json::from_str::<MppiConfig>(r#"{"horizon": 4}"#);
        assert!(err.unwrap_err().to_string().contains("horizon"));
        let ok: MppiConfig = serde_json::from_str(r#"{"samples": 4}"#).unwrap();
        assert_eq!((ok.horizon, ok.samples), (16, 4));
    }

    #[test]
    fn weights_are_normalised_and_scale_free() {
        let mut w = vec![0.0; 3];
        mppi_weights(&[1.0, 2.0, 3.0], &[false; 3], 0.5, &mut w);
        // c̃ = 0, 0.5, 1 → exp(0), exp(-1), exp(-2), normalised.
        let z = 1.0 + (-1.0f32).exp() + (-2.0f32).exp();
        let expected = [1.0 / z, (-1.0f32).exp() / z, (-2.0f32).exp() / z];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
        let mut w2 = vec![0.0; 3];
        mppi_weights(&[100.0, 200.0, 300.0], &[false; 3], 0.5, &mut w2);
        assert!(
            w.iter().zip(&w2).all(|(a, b)| (a - b).abs() < 1e-6),
            "{w2:?}"
        );
        mppi_weights(&[5.0, 5.0, 5.0], &[false; 3], 0.5, &mut w2);
        assert_eq!(w2, vec![1.0 / 3.0; 3]);
    }

    #[test]
    fn rejected_candidates_get_no_weight_and_do_not_flatten_the_others() {
        let mut w = vec![0.0; 4];
        // Without the mask the 1e4 would make the first three nearly equal.
        mppi_weights(
            &[1.0, 2.0, 3.0, 1.0e4],
            &[false, false, false, true],
            0.5,
            &mut w,
        );
        let z = 1.0 + (-1.0f32).exp() + (-2.0f32).exp();
        let expected = [1.0 / z, (-1.0f32).exp() / z, (-2.0f32).exp() / z, 0.0];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
        // All rejected: everyone counts again.
        mppi_weights(&[1.0, 1.0], &[true, true], 0.5, &mut w[..2]);
        assert_eq!(&w[..2], &[0.5, 0.5]);
        mppi_weights(&[7.0, 1.0, 1.0], &[true, false, false], 0.5, &mut w[..3]);
        assert_eq!(&w[..3], &[0.0, 0.5, 0.5]);
    }
}
