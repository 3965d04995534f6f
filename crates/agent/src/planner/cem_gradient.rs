//! CEM, then gradient refinement (`kind = "cem+gradient"`; the hybrid of DESIGN.md §1 and
//! REFERENCE.md §14 "Planners": sampling finds the basin, gradients descend into it).
//!
//! One `plan` call runs the [`Cem`] iterations from the warm-start plan, then the [`Gradient`]
//! planner's projected Adam steps from the CEM mean `μ` (its restart 0 is `μ` itself, further
//! restarts are drawn around `μ`). The gradient planner keeps the cheapest iterate it has
//! evaluated, `μ` included, so the result is whichever of `μ` and its refinements costs least
//! under the cost: refining never makes the plan worse than CEM's. The result is the warm
//! start of both parts at the next call.
//!
//! ```toml
//! [planner]
//! kind = "cem+gradient"
//! [planner.cem]
//! samples = 256
//! [planner.gradient]
//! iterations = 10
//! ```

use serde::{Deserialize, Serialize};

use super::cem::{Cem, CemConfig};
use super::gradient::{Gradient, GradientConfig};
use super::{check_plan_inputs, final_plan, Plan, Planner};
use crate::cost::Cost;
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// Settings of [`CemGradient`]: those of its two stages; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CemGradientConfig {
    /// Planning horizon `h` of both stages (default 16; their own `horizon` is ignored). Not
    /// a configuration key: a run takes it from `[agent] horizon`.
    #[serde(skip)]
    pub horizon: usize,
    /// Bound on every action of both stages (default 1.0; their own `max_action_norm` is
    /// ignored). Not a configuration key: a run takes it from the environment's action space.
    #[serde(skip)]
    pub max_action_norm: f32,
    /// The sampling stage (default: [`CemConfig::default`]).
    pub cem: CemConfig,
    /// The refinement (default: [`GradientConfig::default`] with `samples = 1`: the CEM mean
    /// only).
    pub gradient: GradientConfig,
}

impl Default for CemGradientConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            max_action_norm: 1.0,
            cem: CemConfig::default(),
            gradient: GradientConfig {
                samples: 1,
                ..GradientConfig::default()
            },
        }
    }
}

impl CemGradientConfig {
    /// The two stages' settings with this horizon and bound.
    fn stages(&self) -> (CemConfig, GradientConfig) {
        let (horizon, max_action_norm) = (self.horizon, self.max_action_norm);
        let cem = CemConfig {
            horizon,
            max_action_norm,
            ..self.cem.clone()
        };
        let gradient = GradientConfig {
            horizon,
            max_action_norm,
            ..self.gradient.clone()
        };
        (cem, gradient)
    }

    /// Check both stages; the error names the field (`cem.…` or `gradient.…`).
    pub fn validate(&self) -> Result<(), AgentError> {
        let (cem, gradient) = self.stages();
        cem.validate()?;
        gradient.validate()
    }
}

/// CEM followed by gradient refinement of its mean.
#[derive(Debug, Clone)]
pub struct CemGradient {
    cem: Cem,
    gradient: Gradient,
}

impl CemGradient {
    /// Validate `cfg` and build both stages (zero mean plan).
    pub fn new(cfg: CemGradientConfig) -> Result<Self, AgentError> {
        let (cem, gradient) = cfg.stages();
        Ok(Self {
            cem: Cem::new(cem)?,
            gradient: Gradient::new(gradient)?,
        })
    }

    /// The stored mean plan `[h, A]` (empty before the first `plan`).
    pub fn mean(&self) -> &[f32] {
        self.cem.mean()
    }
}

impl Planner for CemGradient {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let act_dim = check_plan_inputs(s0, cost, model)?;
        self.cem.optimise(s0, cost, model, act_dim)?;
        self.gradient.set_mean(self.cem.mean(), act_dim);
        self.gradient.optimise(s0, cost, model)?;
        self.cem.set_mean(self.gradient.mean());
        let iterations = self.cem.config().iterations + self.gradient.config().iterations;
        let h = self.horizon();
        // A refined plan the guardrails reject falls back on CEM's safe samples.
        let plan = final_plan(
            s0,
            self.gradient.mean(),
            cost,
            model,
            h,
            iterations,
            Some(self.cem.buffers()),
        )?;
        self.cem.set_mean(&plan.actions);
        self.gradient.set_mean(&plan.actions, act_dim);
        Ok(plan)
    }

    fn shift(&mut self, k: usize) {
        self.cem.shift(k);
        self.gradient.shift(k);
    }

    fn reset(&mut self) {
        self.cem.reset();
        self.gradient.reset();
    }

    fn horizon(&self) -> usize {
        self.cem.horizon()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = CemGradientConfig::default();
        c.validate().unwrap();
        assert_eq!(c.cem, CemConfig::default());
        let refine = GradientConfig {
            samples: 1,
            ..GradientConfig::default()
        };
        assert_eq!(c.gradient, refine);
        assert_eq!(c.gradient.iterations, 10);
    }

    #[test]
    fn validation_names_the_stage_and_field() {
        let mut bad = CemGradientConfig::default();
        bad.gradient.lr = -1.0;
        let err = CemGradient::new(bad).unwrap_err().to_string();
        assert!(err.contains("gradient.lr") && err.contains("-1"), "{err}");
        let mut bad = CemGradientConfig::default();
        bad.cem.elites = 0;
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cem.elites"));
        let bad = CemGradientConfig {
            horizon: 0,
            ..CemGradientConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("horizon"));
    }

    #[test]
    fn stage_tables_reject_unknown_keys() {
        let err = serde_json::from_str::<CemGradientConfig>(r#"{"gradient": {"lrate": 1}}"#);
        assert!(err.unwrap_err().to_string().contains("lrate"));
        let err = serde_json::from_str::<CemGradientConfig>(r#"{"iterations": 3}"#);
        assert!(err.unwrap_err().to_string().contains("iterations"));
    }
}
