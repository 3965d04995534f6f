//! `waypoints`: visit goals A, B, C, ... in order (each shown as an observation). A waypoint
//! counts as visited when the environment's headline rule holds for it (two-rooms: within
//! 4.5 px); the episode succeeds when the last one is visited. The step limit is
//! `count × [eval] max_steps`.

use ami_envs::{Env, EnvSpec, NamedRule};

use super::{at_goal, Scorer, Target, TaskEpisode, TaskSpec};
use crate::error::AgentError;

/// Seed offset of the waypoint stream (independent of the starts' stream).
const WAYPOINT_STREAM: u64 = 0x5741_5950;

/// Visit `count` goals in order (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waypoints {
    /// Number of waypoints.
    pub count: usize,
}

impl TaskSpec for Waypoints {
    fn name(&self) -> &'static str {
        "waypoints"
    }

    /// Starts from the environment's tasks; the first waypoint is that task's goal (so the
    /// first leg is a `reach` episode), the others are goal states of a stream of their own.
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        let tasks = env.tasks(n, seed)?;
        let extra = self.count.saturating_sub(1);
        let mut more = env
            .goal_states(n * extra, seed.wrapping_add(WAYPOINT_STREAM))?
            .into_iter();
        Ok(tasks
            .into_iter()
            .map(|t| {
                let mut targets = vec![Target::Goal(t.goal)];
                targets.extend(more.by_ref().take(extra).map(Target::Goal));
                TaskEpisode {
                    start: t.start,
                    targets,
                }
            })
            .collect())
    }

    fn max_steps(&self, base: usize) -> usize {
        base * self.count
    }

    fn rule_names(&self, _env_rules: &[NamedRule]) -> Vec<&'static str> {
        vec!["success_rate"]
    }

    fn scorer(&self, episode: &TaskEpisode, env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        let goals = episode
            .targets
            .iter()
            .filter_map(|t| match t {
                Target::Goal(g) => Some(g.clone()),
                Target::Region { .. } => None,
            })
            .collect();
        Box::new(InOrder {
            goals,
            rules: env_rules.to_vec(),
            next: 0,
        })
    }
}

/// Index of the next waypoint to visit.
struct InOrder {
    goals: Vec<Vec<f32>>,
    rules: Vec<NamedRule>,
    next: usize,
}

impl Scorer for InOrder {
    fn observe(&mut self, env: &dyn Env, state: &[f32]) {
        if let Some(g) = self.goals.get(self.next) {
            if at_goal(env, &self.rules, state, g) {
                self.next += 1;
            }
        }
    }

    fn successes(&self) -> Vec<bool> {
        vec![!self.goals.is_empty() && self.next == self.goals.len()]
    }

    fn done(&self) -> bool {
        self.next == self.goals.len()
    }
}
