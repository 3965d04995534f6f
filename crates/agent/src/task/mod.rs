//! The configurator's tasks: one trained world model, many tasks, no retraining.
//!
//! A task is a *configuration* of the same perceive–plan–act loop ([`crate::episode`]):
//! * which test episodes it runs (start and a sequence of [`Target`]s, true states drawn from
//!   the environment's own streams),
//! * which guardrails the agent must carry for it ([`TaskSpec::guardrails`]; these are added
//!   to whatever `[cost] guardrail` lists, never removed),
//! * how long an episode may last, and
//! * how it is scored on the true states ([`Scorer`]; the planner never sees them).
//!
//! The agent pursues the targets in order: a [`Target::Goal`] is planned toward with the
//! `[cost] task` terms on the encoded goal observation, a [`Target::Region`] with the same
//! terms on the observation of the region's anchor; the agent moves on to the next target
//! when its own reading says it is there (the probe's decoded position within
//! `task.advance_radius` of the decoded goal, or inside the region), not when the simulator
//! says so. (A pure region cost — the probe's distance to the box, [`crate::RegionDistance`]
//! — plans straight into the wall that separates the rooms, since that distance does not know
//! the door: 61/100 on `check` against the anchor's figure in the README.)
//!
//! Registered tasks (`[task] name = ...`, `ami eval --task NAME`): `reach`, `reach-safe`,
//! `region`, `waypoints`, `hold` (two-rooms), `drive` (highway: progress without
//! collisions, no goal) and the benchmarks `pldm` and `random-wall` (`reach` on PLDM's and EB-JEPA's own tasks, [`Benchmark`]). A new task = one file implementing [`TaskSpec`] plus one
//! arm in [`TaskConfig::spec`].

mod benchmark;
mod drive;
mod hold;
mod reach;
mod region;
mod waypoints;

pub use benchmark::{Benchmark, BENCHMARKS};
pub use drive::Drive;
pub use hold::Hold;
pub use reach::Reach;
pub use region::RegionTask;
pub use waypoints::Waypoints;

use ami_envs::{Env, EnvSpec, NamedRule, Region};
use serde::{Deserialize, Serialize};

use crate::cost_config::{CostTermConfig, GuardrailConfig};
use crate::error::AgentError;

/// What the agent is asked to reach next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// A goal state, shown to the agent only as its observation.
    Goal(Vec<f32>),
    /// Any state inside a named region of the environment. The planner is given the region
    /// as the observation of its `anchor` (a valid goal state inside it, the one nearest its
    /// centre among a fixed draw) and arrives when the probe reads it inside the region.
    Region {
        /// The region.
        region: Region,
        /// The anchor state shown to the planner.
        anchor: Vec<f32>,
    },
}

/// One test episode of a task: where it starts and what to reach, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEpisode {
    /// Start state.
    pub start: Vec<f32>,
    /// Targets in the order they must be reached.
    pub targets: Vec<Target>,
}

impl TaskEpisode {
    /// The state drawn as "the goal" in pictures: the last goal state, or the region's centre.
    pub fn display_goal(&self) -> Vec<f32> {
        match self.targets.last() {
            Some(Target::Goal(g)) => g.clone(),
            Some(Target::Region { anchor, .. }) => anchor.clone(),
            None => self.start.clone(),
        }
    }
}

/// Scores an episode on the true states as it runs.
pub trait Scorer: Send {
    /// Takes the true state after a step.
    fn observe(&mut self, env: &dyn Env, state: &[f32]);
    /// Per reported rule (in [`TaskSpec::rule_names`] order): met so far.
    fn successes(&self) -> Vec<bool>;
    /// Whether the episode is over (every rule met, or nothing can change any more).
    fn done(&self) -> bool;
}

/// A task: a configuration of episodes, guardrails, horizon of the episode and scoring.
pub trait TaskSpec: Send + Sync {
    /// Registered name (`[task] name`).
    fn name(&self) -> &'static str;
    /// The `n` test episodes of `seed` in the environment `env` (deterministic).
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError>;
    /// Guardrails the agent must carry for this task (added to `[cost] guardrail`).
    fn guardrails(&self) -> Vec<GuardrailConfig> {
        Vec::new()
    }
    /// The task's cost terms, from `[cost] task` (default: unchanged).
    fn task_terms(&self, base: &[CostTermConfig]) -> Vec<CostTermConfig> {
        base.to_vec()
    }
    /// Step limit, from `[eval] max_steps`.
    fn max_steps(&self, base: usize) -> usize {
        base
    }
    /// Names of the reported success rates (the first is `success_rate`).
    fn rule_names(&self, env_rules: &[NamedRule]) -> Vec<&'static str>;
    /// A fresh scorer for `episode`.
    fn scorer(&self, episode: &TaskEpisode, env_rules: &[NamedRule]) -> Box<dyn Scorer>;
}

/// `[task]`: which task the agent is configured for, and its settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// `reach`, `reach-safe`, `region`, `waypoints`, `hold`, `drive`, `pldm` or
    /// `random-wall`.
    pub name: String,
    /// The environment region of the `region` task (e.g. `right-room`).
    pub region: String,
    /// Number of goals of the `waypoints` task, visited in order.
    pub waypoints: usize,
    /// Steps the `hold` task must stay within `hold_radius` of the goal.
    pub hold_steps: usize,
    /// Radius (true-state units, px) of the `hold` task.
    pub hold_radius: f32,
    /// Weight of the effort term `Σ_t ‖a_t‖²` the `hold` task adds to its cost (keeps the
    /// agent still at the goal; 0 turns it off).
    pub hold_effort: f32,
    /// The agent moves on to its next target when its decoded position is within this radius
    /// of the decoded goal (true-state units).
    pub advance_radius: f32,
    /// Target of the decoded ego speed in the `drive` task (m/s).
    pub target_speed: f32,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            name: "reach".into(),
            region: "right-room".into(),
            waypoints: 3,
            hold_steps: 50,
            hold_radius: 4.5,
            hold_effort: 1.0,
            advance_radius: 3.0,
            target_speed: 30.0,
        }
    }
}

impl TaskConfig {
    /// Every registered task name.
    pub const NAMES: &'static [&'static str] = &[
        "reach",
        "reach-safe",
        "region",
        "waypoints",
        "hold",
        "drive",
        "pldm",
        "random-wall",
    ];

    /// Whether `name`'s report is the run's headline: `reach` or a benchmark task (written to
    /// the run's top-level `report.json` and `plots/episodes.png` as well).
    pub fn is_headline(name: &str) -> bool {
        name == "reach" || BENCHMARKS.contains(&name)
    }

    /// The tasks that make sense in `env` (`--task all`): `drive` where episodes are scored by
    /// progress (highway), the goal tasks otherwise, and a benchmark task in its own
    /// environment only.
    pub fn names_for(env: &dyn EnvSpec) -> Vec<&'static str> {
        let progress = scored_by_progress(env);
        Self::NAMES
            .iter()
            .copied()
            .filter(|n| (*n == "drive") == progress)
            .filter(|n| !BENCHMARKS.contains(n) || *n == env.kind())
            .collect()
    }

    /// The task, after checking its settings (errors name the key).
    pub fn spec(&self) -> Result<Box<dyn TaskSpec>, AgentError> {
        self.validate()?;
        Ok(match self.name.as_str() {
            "reach" => Box::new(Reach { safe: false }),
            "reach-safe" => Box::new(Reach { safe: true }),
            "region" => Box::new(RegionTask {
                region: self.region.clone(),
            }),
            "waypoints" => Box::new(Waypoints {
                count: self.waypoints,
            }),
            "hold" => Box::new(Hold {
                steps: self.hold_steps,
                radius: self.hold_radius,
                effort: self.hold_effort,
            }),
            "drive" => Box::new(Drive {
                target_speed: self.target_speed,
            }),
            "pldm" => Box::new(Benchmark { name: "pldm" }),
            "random-wall" => Box::new(Benchmark {
                name: "random-wall",
            }),
            _ => unreachable!("validated"),
        })
    }

    /// Range checks (errors name the key and what was expected).
    pub fn validate(&self) -> Result<(), AgentError> {
        if !Self::NAMES.contains(&self.name.as_str()) {
            return Err(AgentError::config(
                "task.name",
                &self.name,
                "one of reach, reach-safe, region, waypoints, hold, drive, pldm, random-wall",
            ));
        }
        if self.waypoints < 1 {
            return Err(AgentError::config("task.waypoints", self.waypoints, ">= 1"));
        }
        if self.hold_steps < 1 {
            return Err(AgentError::config(
                "task.hold_steps",
                self.hold_steps,
                ">= 1",
            ));
        }
        if !(self.hold_effort.is_finite() && self.hold_effort >= 0.0) {
            return Err(AgentError::config(
                "task.hold_effort",
                self.hold_effort,
                "a finite value >= 0",
            ));
        }
        for (field, v) in [
            ("task.hold_radius", self.hold_radius),
            ("task.advance_radius", self.advance_radius),
            ("task.target_speed", self.target_speed),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AgentError::config(field, v, "a finite value > 0"));
            }
        }
        Ok(())
    }
}

/// The region named `name` of `env`, or an error listing the names there are.
pub(crate) fn find_region(env: &dyn EnvSpec, name: &str) -> Result<Region, AgentError> {
    let regions = env.regions();
    regions
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<_> = regions.iter().map(|r| r.name.as_str()).collect();
            AgentError::config_source(
                "task.region",
                format!(
                    "`{name}` is not a region of env `{}`; its regions are: {}",
                    env.kind(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

/// Whether `env` scores episodes by progress ([`EnvSpec::progress`] is defined on its test
/// starts: highway) rather than by goals.
pub(crate) fn scored_by_progress(env: &dyn EnvSpec) -> bool {
    env.tasks(1, 0)
        .ok()
        .and_then(|t| t.first().and_then(|t| env.progress(&t.start, &t.start)))
        .is_some()
}

/// Whether the headline rule of the environment holds between `state` and `goal`.
pub(crate) fn at_goal(env: &dyn Env, rules: &[NamedRule], state: &[f32], goal: &[f32]) -> bool {
    rules
        .first()
        .is_some_and(|r| r.rule.is_met(&env.goal_error(state, goal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_envs::EnvConfig;

    #[test]
    fn names_and_settings_are_checked() {
        for name in TaskConfig::NAMES {
            let c = TaskConfig {
                name: name.to_string(),
                ..TaskConfig::default()
            };
            assert_eq!(c.spec().unwrap().name(), *name);
        }
        for (c, key) in [
            (
                TaskConfig {
                    name: "fly".into(),
                    ..TaskConfig::default()
                },
                "task.name",
            ),
            (
                TaskConfig {
                    waypoints: 0,
                    ..TaskConfig::default()
                },
                "task.waypoints",
            ),
            (
                TaskConfig {
                    hold_steps: 0,
                    ..TaskConfig::default()
                },
                "task.hold_steps",
            ),
            (
                TaskConfig {
                    hold_radius: -1.0,
                    ..TaskConfig::default()
                },
                "task.hold_radius",
            ),
        ] {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let env = EnvConfig::of_kind("two-rooms").unwrap();
        let err = find_region(env.spec(), "kitchen").unwrap_err().to_string();
        assert!(
            err.contains("kitchen") && err.contains("right-room"),
            "{err}"
        );
        let pendulum = EnvConfig::of_kind("pendulum").unwrap();
        let err = find_region(pendulum.spec(), "right-room")
            .unwrap_err()
            .to_string();
        assert!(err.contains("none"), "{err}");
    }
}
