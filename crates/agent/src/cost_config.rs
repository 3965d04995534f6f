//! The `[cost]` section: which terms fill each slot of the cost module (DESIGN.md §1).
//!
//! ```toml
//! [[cost.task]]
//! term = "goal_distance"
//! weight = 1.0
//! terminal_weight = 0.0
//! ```
//! Slots: `intrinsic` and `guardrail` (weights fixed once built, > 0), `task` and `critic`
//! (re-weightable by a configurator). A new cost term = one file implementing [`CostTerm`]
//! plus one arm in [`CostTermConfig`].
//!
//! [`CostTerm`]: crate::cost::CostTerm

use serde::{Deserialize, Serialize};

use crate::cost::{ActionEnergy, Cost, CostKind, GoalDistance};
use crate::error::AgentError;

/// What a term may need from the episode when it is built.
#[derive(Debug, Clone, Copy)]
pub struct CostContext<'a> {
    /// The encoded goal observation `s_goal [D]`.
    pub goal: &'a [f32],
}

/// One configured cost term, tagged by `term`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "term", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostTermConfig {
    /// [`GoalDistance`] to the encoded goal.
    GoalDistance {
        /// Weight `w` of the term.
        weight: f32,
        /// Extra weight on the last predicted state.
        #[serde(default)]
        terminal_weight: f32,
        /// Squared distance (PLDM's MPPI objective) instead of Euclidean.
        #[serde(default)]
        squared: bool,
        /// Count only the last step (DINO-WM).
        #[serde(default)]
        terminal_only: bool,
    },
    /// [`ActionEnergy`] `Σ_t ‖a_t‖²`.
    ActionEnergy {
        /// Weight `w` of the term.
        weight: f32,
    },
}

impl CostTermConfig {
    fn weight(&self) -> f32 {
        match self {
            CostTermConfig::GoalDistance { weight, .. }
            | CostTermConfig::ActionEnergy { weight } => *weight,
        }
    }

    fn add_to(&self, cost: Cost, kind: CostKind, ctx: CostContext) -> Result<Cost, AgentError> {
        match self {
            CostTermConfig::GoalDistance {
                weight,
                terminal_weight,
                squared,
                terminal_only,
            } => {
                let term = GoalDistance::new(ctx.goal.to_vec())?
                    .terminal_weight(*terminal_weight)?
                    .squared(*squared)
                    .terminal_only(*terminal_only);
                cost.with_term(kind, *weight, term)
            }
            CostTermConfig::ActionEnergy { weight } => cost.with_term(kind, *weight, ActionEnergy),
        }
    }
}

/// The terms of each slot of the cost module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CostConfig {
    /// Hard-wired discomfort terms (weights fixed, > 0).
    pub intrinsic: Vec<CostTermConfig>,
    /// Safety terms (weights fixed, > 0).
    pub guardrail: Vec<CostTermConfig>,
    /// The task's terms (default: Euclidean goal distance summed over the horizon).
    pub task: Vec<CostTermConfig>,
    /// Trained critics (none is available yet: the slot must stay empty).
    pub critic: Vec<CostTermConfig>,
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            intrinsic: Vec::new(),
            guardrail: Vec::new(),
            task: vec![CostTermConfig::GoalDistance {
                weight: 1.0,
                terminal_weight: 0.0,
                squared: false,
                terminal_only: false,
            }],
            critic: Vec::new(),
        }
    }
}

impl CostConfig {
    fn slots(&self) -> [(CostKind, &'static str, &[CostTermConfig]); 4] {
        [
            (CostKind::Intrinsic, "cost.intrinsic", &self.intrinsic),
            (CostKind::Guardrail, "cost.guardrail", &self.guardrail),
            (CostKind::Task, "cost.task", &self.task),
            (CostKind::Critic, "cost.critic", &self.critic),
        ]
    }

    /// Checks weights (finite, ≥ 0; > 0 in the immutable slots) and that the critic slot is
    /// empty (no critic term is implemented yet).
    pub fn validate(&self) -> Result<(), AgentError> {
        if let Some(t) = self.critic.first() {
            return Err(AgentError::config(
                "cost.critic",
                format!("{t:?}"),
                "no entries: no trained critic term exists yet",
            ));
        }
        for (kind, field, terms) in self.slots() {
            for t in terms {
                let w = t.weight();
                let ok = w.is_finite() && (w > 0.0 || (!kind.is_immutable() && w == 0.0));
                if !ok {
                    return Err(AgentError::config(
                        field,
                        w,
                        "finite weights, > 0 for intrinsic and guardrail terms, >= 0 otherwise",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds the cost module for one episode.
    pub fn build(&self, ctx: CostContext) -> Result<Cost, AgentError> {
        self.validate()?;
        let mut cost = Cost::new().with_goal(ctx.goal.to_vec());
        for (kind, _, terms) in self.slots() {
            for t in terms {
                cost = t.add_to(cost, kind, ctx)?;
            }
        }
        Ok(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::RolloutBatch;

    #[test]
    fn default_is_the_goal_distance_task_and_slots_keep_their_kind() {
        let c = CostConfig {
            intrinsic: vec![CostTermConfig::ActionEnergy { weight: 0.5 }],
            ..CostConfig::default()
        };
        let cost = c.build(CostContext { goal: &[1.0, 0.0] }).unwrap();
        let terms: Vec<_> = cost.terms().collect();
        assert_eq!(
            terms,
            vec![
                ("action_energy", CostKind::Intrinsic, 0.5),
                ("goal_distance", CostKind::Task, 1.0)
            ]
        );
        // States (0,0), (1,0) → distances 1, 0; actions (1,2), (0,1) → energy 6.
        let (s, a) = ([0.0, 0.0, 1.0, 0.0], [1.0, 2.0, 0.0, 1.0]);
        let v = cost
            .evaluate(&RolloutBatch::new(&s, &a, (1, 2), (2, 2)).unwrap())
            .unwrap();
        assert_eq!(v, vec![1.0 + 0.5 * 6.0]);
    }

    #[test]
    fn bad_slots_are_errors_naming_the_slot() {
        let zero_guard = CostConfig {
            guardrail: vec![CostTermConfig::ActionEnergy { weight: 0.0 }],
            ..CostConfig::default()
        };
        let err = zero_guard.validate().unwrap_err().to_string();
        assert!(err.contains("cost.guardrail"), "{err}");
        let critic = CostConfig {
            critic: vec![CostTermConfig::ActionEnergy { weight: 1.0 }],
            ..CostConfig::default()
        };
        let err = critic.validate().unwrap_err().to_string();
        assert!(err.contains("cost.critic"), "{err}");
        let text = r#"{"task":[{"term":"goal_distance","weight":1.0,"bogus":2}]}"#;
        let err = serde_json::from_str::<CostConfig>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
