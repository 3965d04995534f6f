//! `drive`: make progress without collisions among other drivers (highway). There is no goal:
//! the task cost drives the decoded ego speed `v` toward `task.target_speed`
//! ([`crate::terms::FeatureTarget`]) and the agent carries two guardrails on the run's
//! readout ([`crate::terms::FeatureGuardrail`]): `crashed` above 0.5 and `safety_gap` below 0
//! (each widened by the reader's measured error of that feature).
//!
//! An episode succeeds when it ends without a collision ([`Env::violation`] never true); it
//! ends at the first collision (nothing changes after it: the crashed car stops) or after
//! `eval.max_steps`. Progress (metres driven) is reported by the evaluation from the
//! environment's [`EnvSpec::progress`].

use ami_envs::{Env, EnvSpec, NamedRule};

use super::{scored_by_progress, Scorer, Target, TaskEpisode, TaskSpec};
use crate::cost_config::{CostTermConfig, GuardrailConfig};
use crate::error::AgentError;

/// Drive without collisions (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drive {
    /// Target of the decoded ego speed (m/s).
    pub target_speed: f32,
}

impl TaskSpec for Drive {
    fn name(&self) -> &'static str {
        "drive"
    }

    /// The environment's test starts; the single target is the start itself, which the drive
    /// cost does not use (no goal).
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        if !scored_by_progress(env) {
            return Err(AgentError::config_source(
                "task.name",
                format!(
                    "`drive` needs an environment scored by progress (highway), not `{}`",
                    env.kind()
                ),
            ));
        }
        Ok(env
            .tasks(n, seed)?
            .into_iter()
            .map(|t| TaskEpisode {
                targets: vec![Target::Goal(t.start.clone())],
                start: t.start,
            })
            .collect())
    }

    fn guardrails(&self) -> Vec<GuardrailConfig> {
        let feature = GuardrailConfig::feature;
        vec![
            feature("crashed", None, Some(0.5)),
            feature("safety_gap", Some(0.0), None),
        ]
    }

    /// Only the speed term: the configured `[cost] task` terms (a goal distance by default)
    /// have no goal to measure here.
    fn task_terms(&self, _base: &[CostTermConfig]) -> Vec<CostTermConfig> {
        vec![CostTermConfig::Feature {
            weight: 1.0,
            feature: "v".into(),
            target: self.target_speed,
        }]
    }

    fn rule_names(&self, _env_rules: &[NamedRule]) -> Vec<&'static str> {
        vec!["success_rate"]
    }

    fn scorer(&self, _episode: &TaskEpisode, _env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        Box::new(NoCollision { collided: false })
    }
}

/// Success = no step violated the environment's safety constraint.
struct NoCollision {
    collided: bool,
}

impl Scorer for NoCollision {
    fn observe(&mut self, env: &dyn Env, state: &[f32]) {
        self.collided |= env.violation(state);
    }

    fn successes(&self) -> Vec<bool> {
        vec![!self.collided]
    }

    fn done(&self) -> bool {
        self.collided
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_envs::EnvConfig;

    #[test]
    fn drive_needs_progress_and_scores_collisions() {
        let task = Drive { target_speed: 30.0 };
        let two_rooms = EnvConfig::of_kind("two-rooms").unwrap();
        let err = task
            .episodes(two_rooms.spec(), 2, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("drive") && err.contains("two-rooms"), "{err}");
        let highway = EnvConfig::of_kind("highway").unwrap();
        let eps = task.episodes(highway.spec(), 3, 5).unwrap();
        assert_eq!(eps.len(), 3);
        let env = highway.spec().build().unwrap();
        let mut scorer = task.scorer(&eps[0], &[]);
        scorer.observe(env.as_ref(), &eps[0].start);
        assert_eq!((scorer.successes(), scorer.done()), (vec![true], false));
        let mut crashed = eps[0].start.clone();
        crashed[ami_envs::highway::state::EGO_CRASHED] = 1.0;
        scorer.observe(env.as_ref(), &crashed);
        scorer.observe(env.as_ref(), &eps[0].start);
        assert_eq!((scorer.successes(), scorer.done()), (vec![false], true));
        assert_eq!(task.guardrails().len(), 2);
        assert_eq!(task.rule_names(&[]), vec!["success_rate"]);
    }
}
