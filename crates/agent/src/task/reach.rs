//! `reach` and `reach-safe`: go to a goal shown as an observation (the environment's own test
//! tasks and success rules). `reach-safe` is the same task for an agent built with the hazard
//! guardrail; `reach` in a hazard environment is the ablation that shows what it prevents.

use ami_envs::{Env, EnvSpec, NamedRule};

use super::{Scorer, Target, TaskEpisode, TaskSpec};
use crate::cost_config::GuardrailConfig;
use crate::error::AgentError;

/// Reach the goal (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// Whether the agent carries the hazard guardrail (`reach-safe`).
    pub safe: bool,
}

impl TaskSpec for Reach {
    fn name(&self) -> &'static str {
        if self.safe {
            "reach-safe"
        } else {
            "reach"
        }
    }

    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        Ok(env
            .tasks(n, seed)?
            .into_iter()
            .map(|t| TaskEpisode {
                start: t.start,
                targets: vec![Target::Goal(t.goal)],
            })
            .collect())
    }

    fn guardrails(&self) -> Vec<GuardrailConfig> {
        if self.safe {
            vec![GuardrailConfig::Hazards { extra_margin: 0.0 }]
        } else {
            Vec::new()
        }
    }

    fn rule_names(&self, env_rules: &[NamedRule]) -> Vec<&'static str> {
        env_rules.iter().map(|r| r.name).collect()
    }

    fn scorer(&self, episode: &TaskEpisode, env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        Box::new(RuleScorer {
            goal: episode.display_goal(),
            rules: env_rules.to_vec(),
            met: vec![false; env_rules.len()],
        })
    }
}

/// Every rule of the environment, each met at some step.
struct RuleScorer {
    goal: Vec<f32>,
    rules: Vec<NamedRule>,
    met: Vec<bool>,
}

impl Scorer for RuleScorer {
    fn observe(&mut self, env: &dyn Env, state: &[f32]) {
        let e = env.goal_error(state, &self.goal);
        for (flag, r) in self.met.iter_mut().zip(&self.rules) {
            *flag |= r.rule.is_met(&e);
        }
    }

    fn successes(&self) -> Vec<bool> {
        self.met.clone()
    }

    fn done(&self) -> bool {
        !self.met.is_empty() && self.met.iter().all(|&m| m)
    }
}
