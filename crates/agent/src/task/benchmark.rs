//! `pldm`: a published task run as published — `reach` on the environment of the same name
//! (its own test protocol and success rules), reported under the benchmark's name, so that a
//! report says which task its numbers are on (`task = "pldm"`, issue 18). The environment's
//! test tasks already are the benchmark's ([`ami_envs::pldm::tasks`]); this task only refuses
//! to run anywhere else. `random-wall` is EB-JEPA's variant the same way
//! ([`ami_envs::random_wall::tasks`]).

use ami_envs::{EnvSpec, NamedRule};

use super::{Reach, Scorer, TaskEpisode, TaskSpec};
use crate::error::AgentError;

/// The benchmark tasks, each named after the environment that implements it.
pub const BENCHMARKS: &[&str] = &["pldm", "random-wall"];

/// Reach on a benchmark environment's own protocol (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Benchmark {
    /// The benchmark's name (= its environment's kind).
    pub name: &'static str,
}

impl TaskSpec for Benchmark {
    fn name(&self) -> &'static str {
        self.name
    }

    /// The episodes of `reach`, in the benchmark's own environment only.
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        if env.kind() != self.name {
            return Err(AgentError::config_source(
                "task.name",
                format!(
                    "`{}` is the benchmark task of env.kind = \"{}\", not of `{}` (use task \
                     `reach` there)",
                    self.name,
                    self.name,
                    env.kind()
                ),
            ));
        }
        Reach { safe: false }.episodes(env, n, seed)
    }

    fn rule_names(&self, env_rules: &[NamedRule]) -> Vec<&'static str> {
        Reach { safe: false }.rule_names(env_rules)
    }

    fn scorer(&self, episode: &TaskEpisode, env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        Reach { safe: false }.scorer(episode, env_rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskConfig;
    use ami_envs::EnvConfig;

    #[test]
    fn the_pldm_task_is_reach_on_pldms_own_tasks_and_nowhere_else() {
        let pldm = EnvConfig::of_kind("pldm").unwrap();
        let task = Benchmark { name: "pldm" };
        let episodes = task.episodes(pldm.spec(), 5, 42).unwrap();
        let reach = Reach { safe: false }.episodes(pldm.spec(), 5, 42).unwrap();
        assert_eq!(episodes, reach);
        let rules = pldm.spec().build().unwrap().success_rules();
        assert_eq!(
            task.rule_names(&rules),
            vec!["success_rate", "success_rate_mse1"]
        );
        let two_rooms = EnvConfig::of_kind("two-rooms").unwrap();
        let err = task
            .episodes(two_rooms.spec(), 5, 42)
            .unwrap_err()
            .to_string();
        assert!(err.contains("task.name") && err.contains("pldm"), "{err}");
        assert!(TaskConfig::names_for(pldm.spec()).contains(&"pldm"));
        assert!(!TaskConfig::names_for(two_rooms.spec()).contains(&"pldm"));
        assert!(TaskConfig::is_headline("pldm") && TaskConfig::is_headline("reach"));
        assert!(!TaskConfig::is_headline("hold"));
    }

    #[test]
    fn the_random_wall_task_is_reach_on_eb_jepas_tasks_in_random_wall_only() {
        let rw = EnvConfig::of_kind("random-wall").unwrap();
        let task = TaskConfig {
            name: "random-wall".into(),
            ..TaskConfig::default()
        }
        .spec()
        .unwrap();
        assert_eq!(task.name(), "random-wall");
        let episodes = task.episodes(rw.spec(), 5, 42).unwrap();
        assert_eq!(
            episodes,
            Reach { safe: false }.episodes(rw.spec(), 5, 42).unwrap()
        );
        let rules = rw.spec().build().unwrap().success_rules();
        assert_eq!(
            task.rule_names(&rules),
            vec!["success_rate", "success_rate_mse1"]
        );
        let pldm = EnvConfig::of_kind("pldm").unwrap();
        let err = task.episodes(pldm.spec(), 5, 42).unwrap_err().to_string();
        assert!(
            err.contains("task.name") && err.contains("random-wall"),
            "{err}"
        );
        let names = TaskConfig::names_for(rw.spec());
        assert!(names.contains(&"random-wall") && !names.contains(&"pldm"));
        assert!(!TaskConfig::names_for(pldm.spec()).contains(&"random-wall"));
        assert!(TaskConfig::is_headline("random-wall"));
    }
}
