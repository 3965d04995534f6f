//! The `[cost]` section: which terms fill each slot of the cost module (DESIGN.md §1).
//!
//! ```toml
//! [[cost.task]]
//! term = "goal_distance"
//! weight = 1.0
//! terminal_weight = 0.0
//! ```
//! Slots: `intrinsic` (weights `> 0`, fixed once the agent is built), `guardrail` (terms
//! without a weight: their weight is [`crate::GUARDRAIL_WEIGHT`], and a guardrail's own
//! settings can only make it stricter), `task` and `critic` (re-weightable by a
//! configurator). A task can add guardrails ([`crate::task::TaskSpec::guardrails`]); nothing
//! removes one. The `critic` slot holds only `term = "critic"` (a trained [`Critic`],
//! attached at run time with [`CostConfig::with_critic`]), and that term fits no other slot.
//! A new cost term = one file implementing [`CostTerm`] plus one arm in [`CostTermConfig`]
//! (or [`GuardrailConfig`]).
//!
//! [`CostTerm`]: crate::cost::CostTerm

use std::sync::Arc;

use ami_envs::{Region, RegionKind};
use serde::{Deserialize, Serialize};

use crate::cost::{ActionEnergy, Cost, CostKind, FixedCost, GoalDistance};
use crate::critic::{Critic, CriticTerm};
use crate::error::AgentError;
use crate::imagined_error::ImaginedError;
use crate::latent_paths::LatentPaths;
use crate::probe::StateProbe;
use crate::readout_head::{FeatureReader, ReadoutHead};
use crate::risk::Risk;
use crate::terms::{FeatureBound, FeatureGuardrail, FeatureTarget, HazardGuardrail, StateBox};

/// What the agent can read about the world besides its representation: the state probe of
/// its world model (if fitted) and the environment's named regions.
#[derive(Debug, Clone, Default)]
pub struct WorldReadout {
    /// Representation → true state (see [`crate::probe`]).
    pub probe: Option<Arc<StateProbe>>,
    /// The environment's areas and hazards.
    pub regions: Vec<Region>,
    /// Representation → readout features by a small MLP, for runs whose probe reads some
    /// feature poorly (see [`crate::readout_head`]).
    pub head: Option<Arc<ReadoutHead>>,
    /// The measured error of reading imagined states per planned step
    /// ([`crate::imagined_error`]), when the run has it.
    pub imagined: Option<Arc<ImaginedError>>,
    /// Guardrail thresholds calibrated on held-out plans ([`crate::imagined_error`]'s
    /// `guards`), when the agent judges its feature guardrails by them
    /// (`agent.guardrail_rule = "recall"`): every feature guardrail then needs one.
    pub calibrated: Option<Arc<ImaginedError>>,
}

impl WorldReadout {
    /// What reads named features: the head if the run has one, else the probe (or an error
    /// saying which feature, `what`, needs one).
    pub fn reader(&self, what: &str) -> Result<Arc<dyn FeatureReader>, AgentError> {
        match &self.head {
            Some(h) => Ok(h.clone()),
            None => Ok(self.require_probe(what)?),
        }
    }

    /// The probe, or an error saying which feature (`what`) needs it.
    pub fn require_probe(&self, what: &str) -> Result<Arc<StateProbe>, AgentError> {
        self.probe.clone().ok_or_else(|| {
            AgentError::config_source(
                what,
                format!(
                    "needs the run's state probe ({}), which this run does not have; train the run again with this version of ami",
                    crate::probe::PROBE_FILE
                ),
            )
        })
    }
}

/// One configured guardrail, tagged by `term`. Guardrails have no weight key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "term", rename_all = "snake_case", deny_unknown_fields)]
pub enum GuardrailConfig {
    /// [`HazardGuardrail`]: never plan a path through the environment's hazards.
    Hazards {
        /// Widens the margin around hazards beyond the probe's measured error (`≥ 0`).
        #[serde(default)]
        extra_margin: f32,
    },
    /// [`FeatureGuardrail`]: keep one decoded feature of the probe (e.g. highway's
    /// `gap_ahead`) on the safe side of a bound: exactly one of `below` (unsafe below it) or
    /// `above` (unsafe above it).
    Feature {
        /// Name of the probe's feature (the environment's readout names).
        feature: String,
        /// Unsafe when the decoded feature is below this (plus the margin).
        #[serde(default)]
        below: Option<f32>,
        /// Unsafe when the decoded feature is above this (minus the margin).
        #[serde(default)]
        above: Option<f32>,
        /// Widens the margin beyond the probe's measured error of the feature (`≥ 0`).
        #[serde(default)]
        extra_margin: f32,
    },
}

impl GuardrailConfig {
    /// A feature guardrail on `feature` (unsafe below `below` or above `above`) without extra
    /// margin.
    pub fn feature(feature: &str, below: Option<f32>, above: Option<f32>) -> Self {
        GuardrailConfig::Feature {
            feature: feature.into(),
            below,
            above,
            extra_margin: 0.0,
        }
    }

    fn add_to(
        &self,
        fixed: crate::cost::FixedCostBuilder,
        readout: &WorldReadout,
    ) -> Result<crate::cost::FixedCostBuilder, AgentError> {
        match self {
            GuardrailConfig::Hazards { extra_margin } => {
                let probe = readout.require_probe("cost.guardrail hazards")?;
                let hazards: Vec<StateBox> = readout
                    .regions
                    .iter()
                    .filter(|r| r.kind == RegionKind::Hazard)
                    .map(StateBox::of)
                    .collect();
                fixed.guardrail(HazardGuardrail::new(probe, &hazards, *extra_margin)?)
            }
            GuardrailConfig::Feature {
                feature,
                extra_margin,
                ..
            } => {
                let probe = readout.reader("cost.guardrail feature")?;
                let bound = self.bound()?;
                let mut guard =
                    FeatureGuardrail::new(probe.clone(), feature, bound, *extra_margin)?;
                if let Some(cal) = &readout.calibrated {
                    let g = cal.guard(feature, bound);
                    let tau = g.and_then(|g| g.threshold).ok_or_else(|| {
                        AgentError::config_source(
                            "agent.guardrail_rule",
                            format!(
                                "\"recall\": the run has no calibrated threshold for the guardrail on `{feature}` ({bound}; {} violating held-out plans, {} needed); train the run with it configured, or use \"margin\"",
                                cal.guard_calibration.as_ref().map_or(0, |c| c.violating_plans),
                                crate::imagined_error::min_violating_plans()
                            ),
                        )
                    })?;
                    guard = guard.with_threshold(tau)?;
                } else if let Some(e) = readout
                    .imagined
                    .as_ref()
                    .filter(|e| e.names == probe.names())
                {
                    guard = guard.with_step_error(e.of_feature(probe.feature(feature)?))?;
                }
                fixed.guardrail(guard)
            }
        }
    }

    /// The widening of the guardrail's margin.
    fn extra_margin(&self) -> f32 {
        match self {
            GuardrailConfig::Hazards { extra_margin }
            | GuardrailConfig::Feature { extra_margin, .. } => *extra_margin,
        }
    }

    /// The bound of a feature guardrail (exactly one of `below`/`above`).
    fn bound(&self) -> Result<FeatureBound, AgentError> {
        match self {
            GuardrailConfig::Feature {
                below: Some(b),
                above: None,
                ..
            } => Ok(FeatureBound::Below(*b)),
            GuardrailConfig::Feature {
                below: None,
                above: Some(b),
                ..
            } => Ok(FeatureBound::Above(*b)),
            _ => Err(AgentError::config(
                "cost.guardrail",
                format!("{self:?}"),
                "a feature guardrail with exactly one of `below` or `above`",
            )),
        }
    }

    /// Whether `other` guards the same thing (the margins may differ): the hazards, or the
    /// same feature on the same side of the same bound.
    fn same_guard(&self, other: &GuardrailConfig) -> bool {
        match (self, other) {
            (GuardrailConfig::Hazards { .. }, GuardrailConfig::Hazards { .. }) => true,
            (
                GuardrailConfig::Feature {
                    feature: f,
                    below: b,
                    above: a,
                    ..
                },
                GuardrailConfig::Feature {
                    feature: g,
                    below: c,
                    above: d,
                    ..
                },
            ) => f == g && b == c && a == d,
            _ => false,
        }
    }
}

/// What a term may need from the episode when it is built.
#[derive(Debug, Clone, Copy)]
pub struct CostContext<'a> {
    /// The encoded goal observation `s_goal [D]`.
    pub goal: &'a [f32],
    /// The run's state probe, for terms stated on decoded features.
    pub probe: Option<&'a Arc<StateProbe>>,
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
    /// [`FeatureTarget`] `(1/h) Σ_t |f̂_t − target|` on a decoded feature of the probe.
    Feature {
        /// Weight `w` of the term.
        weight: f32,
        /// Name of the probe's feature (the environment's readout names).
        feature: String,
        /// Target value of the feature.
        target: f32,
    },
    /// [`CriticTerm`] `V(s_h, s_goal)` on the last predicted state (critic slot only).
    Critic {
        /// Weight `w` of the term.
        weight: f32,
    },
}

impl CostTermConfig {
    fn weight(&self) -> f32 {
        match self {
            CostTermConfig::GoalDistance { weight, .. }
            | CostTermConfig::ActionEnergy { weight }
            | CostTermConfig::Feature { weight, .. }
            | CostTermConfig::Critic { weight } => *weight,
        }
    }

    /// Adds this term to an agent's immutable terms as an intrinsic term (a goal distance has
    /// no goal there and is an error).
    fn add_fixed(
        &self,
        fixed: crate::cost::FixedCostBuilder,
    ) -> Result<crate::cost::FixedCostBuilder, AgentError> {
        match self {
            CostTermConfig::ActionEnergy { weight } => fixed.intrinsic(*weight, ActionEnergy),
            CostTermConfig::GoalDistance { .. }
            | CostTermConfig::Feature { .. }
            | CostTermConfig::Critic { .. } => Err(AgentError::config(
                "cost.intrinsic",
                format!("{self:?}"),
                "terms that need no goal or probe (action_energy)",
            )),
        }
    }

    fn add_to(
        &self,
        cost: Cost,
        kind: CostKind,
        ctx: CostContext,
        critic: Option<&Arc<Critic>>,
    ) -> Result<Cost, AgentError> {
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
            CostTermConfig::Feature {
                weight,
                feature,
                target,
            } => {
                let probe = ctx.probe.ok_or_else(|| {
                    AgentError::config_source(
                        "cost.task feature",
                        "needs the run's state probe (probe.json), which this run does not have",
                    )
                })?;
                let term = FeatureTarget::new(Arc::clone(probe), feature, *target)?;
                cost.with_term(kind, *weight, term)
            }
            CostTermConfig::Critic { weight } => {
                let critic = critic.ok_or_else(|| {
                    AgentError::config_source(
                        "cost.critic",
                        "a `critic` term needs a trained critic: run `ami train-critic` (it writes \
                         critic.json in the run directory) or set agent.critic = \"online\"",
                    )
                })?;
                let term = CriticTerm::new(Arc::clone(critic), ctx.goal.to_vec());
                cost.with_term(kind, *weight, term)
            }
        }
    }
}

/// The terms of each slot of the cost module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CostConfig {
    /// Hard-wired discomfort terms (weights fixed, > 0).
    pub intrinsic: Vec<CostTermConfig>,
    /// Safety terms (no weight: fixed at [`crate::GUARDRAIL_WEIGHT`]).
    pub guardrail: Vec<GuardrailConfig>,
    /// The task's terms (default: Euclidean goal distance summed over the horizon).
    pub task: Vec<CostTermConfig>,
    /// Trained critics: `term = "critic"` entries only.
    pub critic: Vec<CostTermConfig>,
    /// The trained critic the `critic` terms read (attached at run time, never serialised).
    #[serde(skip)]
    attached: AttachedCritic,
    /// How the built costs aggregate over latent branches (`[agent] risk`, set at run time).
    #[serde(skip)]
    risk: Risk,
    /// Which latent paths the built costs judge candidates on (`[agent] latent_paths`, set
    /// at run time).
    #[serde(skip)]
    paths: LatentPaths,
}

/// A critic attached to a configuration at run time; equal when it is the same critic.
#[derive(Clone, Default)]
struct AttachedCritic(Option<Arc<Critic>>);

impl PartialEq for AttachedCritic {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

impl std::fmt::Debug for AttachedCritic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.0 {
            Some(c) if c.is_trained() => "trained",
            Some(_) => "untrained",
            None => "none",
        };
        f.write_str(what)
    }
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
            attached: AttachedCritic::default(),
            risk: Risk::default(),
            paths: LatentPaths::default(),
        }
    }
}

impl CostConfig {
    fn slots(&self) -> [(CostKind, &'static str, &[CostTermConfig]); 3] {
        [
            (CostKind::Intrinsic, "cost.intrinsic", &self.intrinsic),
            (CostKind::Task, "cost.task", &self.task),
            (CostKind::Critic, "cost.critic", &self.critic),
        ]
    }

    /// The same terms, with `critic` as the trained critic the `critic` terms read.
    pub fn with_critic(mut self, critic: Arc<Critic>) -> Self {
        self.attached = AttachedCritic(Some(critic));
        self
    }

    /// The same terms; the costs it builds aggregate over latent branches with `risk`.
    pub fn with_risk(mut self, risk: Risk) -> Self {
        self.risk = risk;
        self
    }

    /// The same terms; the costs it builds judge candidates on the latent paths `paths`.
    pub fn with_latent_paths(mut self, paths: LatentPaths) -> Self {
        self.paths = paths;
        self
    }

    /// Whether the critic slot has a term (which then needs a trained critic).
    pub fn uses_critic(&self) -> bool {
        !self.critic.is_empty()
    }

    /// Checks weights (finite, ≥ 0; > 0 in the immutable slots) and that `critic` terms sit
    /// in the critic slot and nowhere else.
    pub fn validate(&self) -> Result<(), AgentError> {
        for (kind, field, terms) in self.slots() {
            for t in terms {
                let is_critic = matches!(t, CostTermConfig::Critic { .. });
                if is_critic != (kind == CostKind::Critic) {
                    return Err(AgentError::config(
                        field,
                        format!("{t:?}"),
                        "`term = \"critic\"` in the cost.critic slot only, and only it there",
                    ));
                }
                let w = t.weight();
                let ok = w.is_finite() && (w > 0.0 || (!kind.is_immutable() && w == 0.0));
                if !ok {
                    return Err(AgentError::config(
                        field,
                        w,
                        "finite weights, > 0 for intrinsic terms, >= 0 otherwise",
                    ));
                }
            }
        }
        for g in &self.guardrail {
            let extra_margin = g.extra_margin();
            if let GuardrailConfig::Feature { .. } = g {
                g.bound()?;
            }
            if !(extra_margin.is_finite() && extra_margin >= 0.0) {
                return Err(AgentError::config(
                    "cost.guardrail.extra_margin",
                    extra_margin,
                    "a finite value >= 0 (a guardrail's margin can only be widened)",
                ));
            }
        }
        Ok(())
    }

    /// Builds the agent's immutable cost: the `intrinsic` terms, then the `guardrail` terms
    /// followed by `required` (a task's guardrails; one that guards the same thing as a listed
    /// one is not added twice: the listed one's margin can only be wider).
    pub fn build_fixed(
        &self,
        required: &[GuardrailConfig],
        readout: &WorldReadout,
    ) -> Result<Arc<FixedCost>, AgentError> {
        self.validate()?;
        let mut fixed = FixedCost::builder();
        for t in &self.intrinsic {
            fixed = t.add_fixed(fixed)?;
        }
        let extra = required
            .iter()
            .filter(|r| !self.guardrail.iter().any(|g| g.same_guard(r)));
        for g in self.guardrail.iter().chain(extra) {
            fixed = g.add_to(fixed, readout)?;
        }
        Ok(fixed.build())
    }

    /// The feature guardrails the agent carries: the configured ones and those of `required`
    /// (the task's) not configured (as [`CostConfig::build_fixed`] assembles them).
    pub fn feature_guards(
        &self,
        required: &[GuardrailConfig],
    ) -> Result<Vec<crate::imagined_error::GuardSpec>, AgentError> {
        let extra = required
            .iter()
            .filter(|r| !self.guardrail.iter().any(|g| g.same_guard(r)));
        self.guardrail
            .iter()
            .chain(extra)
            .filter_map(|g| match g {
                GuardrailConfig::Feature { feature, .. } => {
                    Some(g.bound().map(|bound| crate::imagined_error::GuardSpec {
                        feature: feature.clone(),
                        bound,
                    }))
                }
                GuardrailConfig::Hazards { .. } => None,
            })
            .collect()
    }

    /// The cost of one target: the agent's `fixed` terms plus the `task` and `critic` terms
    /// built on the goal of `ctx`.
    pub fn build_task(&self, fixed: Arc<FixedCost>, ctx: CostContext) -> Result<Cost, AgentError> {
        self.validate()?;
        let mut cost = Cost::with_fixed(fixed)
            .with_goal(ctx.goal.to_vec())
            .with_risk(self.risk)
            .with_latent_paths(self.paths);
        let critic = self.attached.0.as_ref();
        for (kind, _, terms) in self.slots() {
            if !kind.is_immutable() {
                for t in terms {
                    cost = t.add_to(cost, kind, ctx, critic)?;
                }
            }
        }
        Ok(cost)
    }

    /// Builds the whole cost module for one goal, for an agent without guardrails that need
    /// a readout (intrinsic terms and `task`/`critic` terms).
    pub fn build(&self, ctx: CostContext) -> Result<Cost, AgentError> {
        let fixed = self.build_fixed(&[], &WorldReadout::default())?;
        self.build_task(fixed, ctx)
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
        let cost = c
            .build(CostContext {
                goal: &[1.0, 0.0],
                probe: None,
            })
            .unwrap();
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
    fn feature_guards_are_the_configured_ones_then_the_tasks_not_configured() {
        let feature = GuardrailConfig::feature;
        let c = CostConfig {
            guardrail: vec![
                feature("gap", Some(1.0), None),
                GuardrailConfig::Hazards { extra_margin: 0.0 },
            ],
            ..CostConfig::default()
        };
        let required = [
            feature("crashed", None, Some(0.5)),
            feature("gap", Some(1.0), None),
        ];
        let specs = c.feature_guards(&required).unwrap();
        let got: Vec<(String, FeatureBound)> =
            specs.into_iter().map(|g| (g.feature, g.bound)).collect();
        assert_eq!(
            got,
            vec![
                ("gap".to_string(), FeatureBound::Below(1.0)),
                ("crashed".to_string(), FeatureBound::Above(0.5)),
            ]
        );
        let both = [feature("gap", Some(1.0), Some(2.0))];
        assert!(CostConfig::default().feature_guards(&both).is_err());
    }

    #[test]
    fn a_calibrated_readout_judges_feature_guardrails_by_their_thresholds() {
        use crate::imagined_error::{GuardThreshold, ImaginedError};
        let probe = crate::probe::StateProbe {
            repr_dim: 1,
            state_dim: 1,
            weights: vec![1.0],
            bias: vec![0.0],
            ridge: 0.0,
            error: None,
            names: vec!["gap".into()],
            feature_p99: vec![5.0],
        };
        let guard = GuardrailConfig::feature("gap", Some(0.0), None);
        let calibrated = |threshold| ImaginedError {
            names: vec!["gap".into()],
            p99: vec![vec![9.0]],
            median: vec![vec![1.0]],
            latent_paths: "held".into(),
            starts: 1,
            guards: vec![GuardThreshold {
                feature: "gap".into(),
                below: Some(0.0),
                above: None,
                threshold,
            }],
            guard_calibration: None,
        };
        let readout = |cal: Option<ImaginedError>| WorldReadout {
            probe: Some(Arc::new(probe.clone())),
            calibrated: cal.map(Arc::new),
            ..WorldReadout::default()
        };
        // One step reading gap 3: unsafe under the margin rule (3 < 0 + 5), safe with τ = 2.
        let batch_states = [3.0];
        let b = RolloutBatch::new(&batch_states, &[0.0], (1, 1), (1, 1)).unwrap();
        let decide = |cal: Option<ImaginedError>| {
            CostConfig::default()
                .build_fixed(std::slice::from_ref(&guard), &readout(cal))
                .map(|fixed| Cost::with_fixed(fixed).violations(&b).unwrap())
        };
        assert_eq!(decide(None).unwrap(), vec![true]);
        assert_eq!(decide(Some(calibrated(Some(2.0)))).unwrap(), vec![false]);
        assert_eq!(decide(Some(calibrated(Some(3.0)))).unwrap(), vec![true]);
        // Asked for, but not calibrated: an error naming the setting and the guardrail.
        let err = decide(Some(calibrated(None))).unwrap_err().to_string();
        assert!(
            err.contains("agent.guardrail_rule") && err.contains("gap"),
            "{err}"
        );
    }

    #[test]
    fn bad_slots_are_errors_naming_the_slot() {
        let zero_intrinsic = CostConfig {
            intrinsic: vec![CostTermConfig::ActionEnergy { weight: 0.0 }],
            ..CostConfig::default()
        };
        let err = zero_intrinsic.validate().unwrap_err().to_string();
        assert!(err.contains("cost.intrinsic"), "{err}");
        // A guardrail has no weight to set.
        let text = r#"{"guardrail":[{"term":"hazards","weight":0.0}]}"#;
        let err = serde_json::from_str::<CostConfig>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("weight"), "{err}");
        let critic = CostConfig {
            critic: vec![CostTermConfig::ActionEnergy { weight: 1.0 }],
            ..CostConfig::default()
        };
        let err = critic.validate().unwrap_err().to_string();
        assert!(err.contains("cost.critic"), "{err}");
        // The critic term fits the critic slot only, and needs a trained critic to build.
        let misplaced = CostConfig {
            task: vec![CostTermConfig::Critic { weight: 1.0 }],
            ..CostConfig::default()
        };
        let err = misplaced.validate().unwrap_err().to_string();
        assert!(err.contains("cost.task") && err.contains("critic"), "{err}");
        let critic = CostConfig {
            critic: vec![CostTermConfig::Critic { weight: 1.0 }],
            ..CostConfig::default()
        };
        critic.validate().unwrap();
        let err = critic
            .build(CostContext {
                goal: &[0.0],
                probe: None,
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cost.critic") && err.contains("train-critic"),
            "{err}"
        );
        let built = critic
            .with_critic(Arc::new(Critic::untrained()))
            .build(CostContext {
                goal: &[0.0],
                probe: None,
            })
            .unwrap();
        let terms: Vec<_> = built.terms().map(|t| (t.0.to_string(), t.1)).collect();
        assert_eq!(terms[1], ("critic".to_string(), CostKind::Critic));
        let text = r#"{"task":[{"term":"goal_distance","weight":1.0,"bogus":2}]}"#;
        let err = serde_json::from_str::<CostConfig>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
