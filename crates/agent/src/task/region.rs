//! `region`: reach any point of a named area of the environment (e.g. `right-room`). Scored by
//! the region test on the true state; the planner sees the region through the observation of
//! an anchor state inside it ([`super::Target::Region`]).

use ami_envs::{Env, EnvSpec, NamedRule, Region};

use super::{find_region, Scorer, Target, TaskEpisode, TaskSpec};
use crate::error::AgentError;

/// Reach the region named `region` (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionTask {
    /// Name of the environment region.
    pub region: String,
}

impl TaskSpec for RegionTask {
    fn name(&self) -> &'static str {
        "region"
    }

    /// Starts are the starts of the environment's tasks that lie outside the region (the
    /// first `n` of `4n` drawn).
    fn episodes(
        &self,
        env: &dyn EnvSpec,
        n: usize,
        seed: u64,
    ) -> Result<Vec<TaskEpisode>, AgentError> {
        let region = find_region(env, &self.region)?;
        let centre: Vec<f32> = region
            .lo
            .iter()
            .zip(&region.hi)
            .map(|(a, b)| 0.5 * (a + b))
            .collect();
        let anchor = env
            .goal_states(256, seed.wrapping_add(ANCHOR_STREAM))?
            .into_iter()
            .filter(|g| region.contains(g))
            .min_by(|a, b| region_gap(a, &centre).total_cmp(&region_gap(b, &centre)))
            .ok_or_else(|| {
                AgentError::config_source(
                    "task.region",
                    format!("no valid goal state lies in `{}`", self.region),
                )
            })?;
        let starts: Vec<_> = env
            .tasks(4 * n, seed)?
            .into_iter()
            .map(|t| t.start)
            .filter(|s| !region.contains(s))
            .take(n)
            .collect();
        if starts.len() < n {
            return Err(AgentError::config_source(
                "task.region",
                format!(
                    "only {} of {} test starts lie outside `{}`",
                    starts.len(),
                    4 * n,
                    self.region
                ),
            ));
        }
        Ok(starts
            .into_iter()
            .map(|start| TaskEpisode {
                start,
                targets: vec![Target::Region {
                    region: region.clone(),
                    anchor: anchor.clone(),
                }],
            })
            .collect())
    }

    fn rule_names(&self, _env_rules: &[NamedRule]) -> Vec<&'static str> {
        vec!["success_rate"]
    }

    fn scorer(&self, episode: &TaskEpisode, _env_rules: &[NamedRule]) -> Box<dyn Scorer> {
        let region = match episode.targets.first() {
            Some(Target::Region { region, .. }) => Some(region.clone()),
            _ => None,
        };
        Box::new(InRegion { region, met: false })
    }
}

/// Seed offset of the stream the anchor is drawn from.
const ANCHOR_STREAM: u64 = 0x414e_4348;

fn region_gap(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The true state was inside the region at some step.
struct InRegion {
    region: Option<Region>,
    met: bool,
}

impl Scorer for InRegion {
    fn observe(&mut self, _env: &dyn Env, state: &[f32]) {
        self.met |= self.region.as_ref().is_some_and(|r| r.contains(state));
    }

    fn successes(&self) -> Vec<bool> {
        vec![self.met]
    }

    fn done(&self) -> bool {
        self.met
    }
}
