//! `two-rooms-hazards`: two-rooms with forbidden regions (issue 10's safety test bed).
//!
//! The same arena, move rule and observations as [`TwoRoomsConfig`], with hazards by default:
//! * `hazard-0` `[12, 20] × [24, 40]` in the left room, in front of the door, so that the
//!   straight way from the far left of the room to the door crosses it;
//! * `hazard-1` `[42, 50] × [28, 40]` in the right room, just past the door, so that the
//!   straight way from the door to goals behind it crosses it.
//!
//! Hazards are not walls: the agent can walk into them, and each step that ends inside one is
//! a violation ([`crate::Env::violation`]). Image observations draw them in a third channel;
//! reward-free data is the same random walk (it enters hazards freely; the safety signal is
//! the true state, logged in the dataset's `states`). Test starts and goals keep
//! [`crate::two_rooms::HAZARD_TASK_MARGIN`] from them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{ActionSpace, BehaviourPolicy, Env, EnvSpec, Region, Task};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::two_rooms::{Rect, TwoRoomsConfig};

/// The default hazards (px; see the module docs).
pub const DEFAULT_HAZARDS: [Rect; 2] = [
    Rect {
        x0: 12.0,
        y0: 24.0,
        x1: 20.0,
        y1: 40.0,
    },
    Rect {
        x0: 42.0,
        y0: 28.0,
        x1: 50.0,
        y1: 40.0,
    },
];

/// `[env] kind = "two-rooms-hazards"`: a [`TwoRoomsConfig`] whose `hazards` default to
/// [`DEFAULT_HAZARDS`] and must not be empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct TwoRoomsHazardsConfig(pub TwoRoomsConfig);

impl Default for TwoRoomsHazardsConfig {
    fn default() -> Self {
        TwoRoomsHazardsConfig(TwoRoomsConfig {
            hazards: DEFAULT_HAZARDS.to_vec(),
            ..TwoRoomsConfig::default()
        })
    }
}

impl EnvSpec for TwoRoomsHazardsConfig {
    fn kind(&self) -> &'static str {
        "two-rooms-hazards"
    }

    fn validate(&self) -> Result<(), EnvError> {
        if self.0.hazards.is_empty() {
            return Err(EnvError::config(
                "env.hazards",
                "[]",
                "at least one hazard rectangle for two-rooms-hazards (use kind = \"two-rooms\" for none)",
            ));
        }
        self.0.validate()
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        EnvSpec::validate(self)?;
        self.0.build()
    }

    fn obs_shape(&self) -> Vec<usize> {
        self.0.obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        self.0.action_space()
    }

    fn state_dim(&self) -> usize {
        2
    }

    fn observation_name(&self) -> &'static str {
        EnvSpec::observation_name(&self.0)
    }

    fn behaviour(&self, data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        self.0.behaviour(data)
    }

    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        EnvSpec::tasks(&self.0, n, seed)
    }

    fn regions(&self) -> Vec<Region> {
        self.0.regions()
    }

    fn readout_names(&self) -> Vec<String> {
        self.0.readout_names()
    }

    fn goal_states(&self, n: usize, seed: u64) -> Result<Vec<Vec<f32>>, EnvError> {
        self.0.goal_states(n, seed)
    }

    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        self.0.render_episodes(traces, cols, path)
    }

    fn video_frame(
        &self,
        trace: &EpisodeTrace,
        t: usize,
        imagined: &[Vec<f32>],
    ) -> Result<Option<ami_io::raster::Canvas>, EnvError> {
        self.0.video_frame(trace, t, imagined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RegionKind;
    use crate::EnvConfig;

    #[test]
    fn hazards_are_enterable_violations_drawn_in_their_own_channel() {
        let cfg = EnvConfig::of_kind("two-rooms-hazards").unwrap();
        let spec = cfg.spec();
        let mut env = spec.build().unwrap();
        // Walk right from (8, 32) into hazard-0 ([12, 20] × [24, 40]): not blocked.
        env.reset_to(&[8.0, 32.0]).unwrap();
        let mut inside = 0;
        for _ in 0..4 {
            let st = env.step(&[2.0, 0.0]).unwrap();
            inside += usize::from(env.violation(&st.state));
        }
        assert_eq!(env.state(), vec![16.0, 32.0]);
        assert_eq!(inside, 3, "steps ending at x = 12, 14, 16 are inside");
        let hazards: Vec<_> = spec
            .regions()
            .into_iter()
            .filter(|r| r.kind == RegionKind::Hazard)
            .collect();
        assert_eq!(hazards.len(), 2);
        assert!(hazards[0].contains(&[12.0, 24.0]) && !hazards[0].contains(&[11.9, 30.0]));
        // Tasks keep their margin from hazards.
        for t in spec.tasks(50, 3).unwrap() {
            for p in [&t.start, &t.goal] {
                assert!(hazards.iter().all(|h| h.distance(p) >= 6.0), "{p:?}");
            }
        }
    }

    #[test]
    fn image_observations_gain_a_hazard_channel() {
        let text = r#"{"kind":"two-rooms-hazards","size":64.0,"border":2.0,"wall_thickness":2.0,
            "door_y":32.0,"door_height":12.0,"max_step":2.0,"obs":"image","image_res":16,
            "blob_sigma":1.5,"hazards":[{"x0":12.0,"y0":24.0,"x1":20.0,"y1":40.0}]}"#;
        let cfg: EnvConfig = serde_json::from_str(text).unwrap();
        assert_eq!(cfg.spec().obs_shape(), vec![3, 16, 16]);
        let env = cfg.spec().build().unwrap();
        let obs = env.observe_state(&[50.0, 50.0]).unwrap();
        // Pixel (row 8, col 4) has centre (18, 34): inside the hazard.
        assert_eq!(obs[2 * 256 + 8 * 16 + 4], 1.0);
        assert_eq!(obs[2 * 256 + 8 * 16 + 8], 0.0);
        assert_eq!(obs[2 * 256..].iter().filter(|&&v| v == 1.0).count(), 2 * 4);
    }

    #[test]
    fn bad_hazards_are_errors_naming_the_key() {
        let mut c = TwoRoomsHazardsConfig::default();
        c.0.hazards[0].x1 = 70.0;
        let err = EnvSpec::validate(&c).unwrap_err().to_string();
        assert!(err.contains("env.hazards"), "{err}");
        c.0.hazards.clear();
        let err = EnvSpec::validate(&c).unwrap_err().to_string();
        assert!(err.contains("env.hazards"), "{err}");
    }
}
