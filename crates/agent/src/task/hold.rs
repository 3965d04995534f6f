//! `hold`: reach the goal and stay there: success once the true state has been within
//! `radius` of the goal for `steps` consecutive steps (leaving resets the count). The step
//! limit is `[eval] max_steps + steps`. `reached` reports arriving at all.
//!
//! Configuration: the `[cost] task` terms plus an effort term `effort · Σ_t ‖a_t‖²`
//! ([`crate::ActionEnergy`], unless the task terms already have one), so that at the goal
//! the cheapest plan is to stand still rather than to jitter around it.

use ami_envs::{Env, EnvSpec, NamedRule};

use super::{Reach, Scorer, TaskEpisode, TaskSpec};
use crate::cost_config::CostTermConfig;
use crate::error::AgentError;

/// Reach and hold (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// Consecutive steps to stay within the radius.
    pub steps: usize,
    /// Radius (true-state units).
    pub radius: f32,
    /// Weight of the effort term added to the task's cost.
    pub effort: f32,
}

impl TaskSpec for Hold {
    fn name(&self) -> &'static str {
        "hold"
    }

    /// The episodes of `reach`.
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        Reach { safe: false }.episodes(env, n, seed)
    }

    fn task_terms(&self, base: &[CostTermConfig]) -> Vec<CostTermConfig> {
        let mut terms = base.to_vec();
        let has_effort = base
            .iter()
            .any(|t| matches!(t, CostTermConfig::ActionEnergy { .. }));
        if self.effort > 0.0 && !has_effort {
            terms.push(CostTermConfig::ActionEnergy {
                weight: self.effort,
            });
        }
        terms
    }

    fn max_steps(&self, base: usize) -> usize {
        base + self.steps
    }

    fn rule_names(&self, _env_rules: &[NamedRule]) -> Vec<&'static str> {
        vec!["success_rate", "reached"]
    }

    fn scorer(&self, episode: &TaskEpisode, _env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        Box::new(Holding {
            goal: episode.display_goal(),
            radius: self.radius,
            need: self.steps,
            run: 0,
            reached: false,
        })
    }
}

/// Consecutive steps within the radius so far.
struct Holding {
    goal: Vec<f32>,
    radius: f32,
    need: usize,
    run: usize,
    reached: bool,
}

impl Scorer for Holding {
    fn observe(&mut self, env: &dyn Env, state: &[f32]) {
        if self.run >= self.need {
            return;
        }
        let e = env.goal_error(state, &self.goal);
        let inside = !e.is_empty() && e.iter().map(|x| x * x).sum::<f32>().sqrt() <= self.radius;
        self.reached |= inside;
        self.run = if inside { self.run + 1 } else { 0 };
    }

    fn successes(&self) -> Vec<bool> {
        vec![self.run >= self.need, self.reached]
    }

    fn done(&self) -> bool {
        self.run >= self.need
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_envs::EnvConfig;

    #[test]
    fn hold_counts_consecutive_steps_and_resets_on_leaving() {
        let env = EnvConfig::of_kind("two-rooms")
            .unwrap()
            .spec()
            .build()
            .unwrap();
        let ep = TaskEpisode {
            start: vec![10.0, 10.0],
            targets: vec![super::super::Target::Goal(vec![20.0, 20.0])],
        };
        let task = Hold {
            steps: 3,
            radius: 4.5,
            effort: 1.0,
        };
        let terms = task.task_terms(&crate::CostConfig::default().task);
        assert_eq!(terms.len(), 2);
        assert_eq!(task.task_terms(&terms), terms, "not added twice");
        let mut s = task.scorer(&ep, &[]);
        for p in [[30.0, 20.0], [24.0, 20.0], [20.0, 24.0], [30.0, 30.0]] {
            s.observe(env.as_ref(), &p);
        }
        assert_eq!(s.successes(), vec![false, true], "2 inside, then left");
        for p in [[21.0, 20.0], [20.0, 21.0]] {
            s.observe(env.as_ref(), &p);
        }
        assert!(!s.done());
        s.observe(env.as_ref(), &[20.0, 20.0]);
        assert!(s.done() && s.successes() == vec![true, true]);
    }
}
