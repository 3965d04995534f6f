//! `gym`: any Gymnasium environment through the env bridge ([`crate::bridge`]).
//!
//! ```toml
//! [env]
//! kind = "gym"
//! id = "Pendulum-v1"          # any Gymnasium id (gymnasium-robotics, ogbench and
//! kwargs = { g = 9.81 }       # gym-pusht ids too); kwargs go to gymnasium.make
//! ```
//!
//! The env is made with `gymnasium.make(id, **kwargs)` and stepped through `env.unwrapped`:
//! the episode's length is ami's (Gymnasium's `TimeLimit` does not apply) and `terminated` is
//! ignored. What `state` is, per family:
//! * MuJoCo envs (`unwrapped.data`, `unwrapped.set_state`): `qpos ++ qvel`; `reset_to` is
//!   `set_state(qpos, qvel)`;
//! * classic control (`unwrapped.state`): that array (Pendulum `(θ, θ̇)`, CartPole
//!   `(x, ẋ, θ, θ̇)`, MountainCarContinuous `(x, ẋ)`); `reset_to` sets it;
//! * PointMaze (gymnasium-robotics): the point's `qpos ++ qvel` (through `point_env`); the
//!   observation is the dict's `observation` entry;
//! * Push-T (gym-pusht): `(1 − coverage, agent x, y, block x, y, block angle)`: the share of
//!   the goal zone the T does not cover (derived; `reset_to` ignores it), then the bodies;
//!   `reset_to` turns the block before placing it and leaves both bodies at rest, so the
//!   state read back is the state set (gym-pusht's own `_set_state` places the block before
//!   turning it about its centre of gravity, which moves it, and then steps the physics);
//! * any other env: no state; `reset_to`, tasks and data are errors saying so.
//!
//! OGBench's manipulation envs (`cube-single-v0`, …) are MuJoCo envs in this sense.
//!
//! Actions ([`crate::bridge::action`]), observations ([`crate::bridge::remote`]), tasks, goals
//! and data ([`crate::bridge::spec`]) are the bridge's. Goals:
//! `Pendulum-v1` is the swing-up to the upright state at rest, as the native `pendulum`
//! (θ compared modulo 2π); PointMaze takes the goal of its own reset (success on `(x, y)`;
//! its own rule is `success_radius = 0.45`); Push-T's goal is its T at the goal pose, the
//! agent where it starts, compared on `1 − coverage` alone (`success_radius = 0.05` is
//! Push-T's own rule, coverage above 0.95); every other env gets goals reached by
//! `goal_steps` random actions from the start.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::bridge::remote::RemoteEnv;
use crate::bridge::spec::RemoteSpec;
use crate::data::DataConfig;
use crate::env::{ActionSpace, BehaviourPolicy, Env, EnvSpec, Task};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;

/// A Gymnasium environment on the bridge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GymConfig {
    /// Gymnasium id (`Pendulum-v1`, `Reacher-v5`, `PointMaze_UMaze-v3`, …).
    pub id: String,
    /// Keyword arguments of `gymnasium.make` (default none).
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// Observe rendered RGB frames `[3, image_size, image_size]` instead of the env's
    /// observation (default false; MuJoCo renders offscreen with `MUJOCO_GL`, `egl` unless
    /// set).
    #[serde(default)]
    pub pixels: bool,
    /// Side of a pixel observation (default 64).
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    /// Success when `‖e‖ ≤ success_radius` on the error to the goal (default 0.5).
    #[serde(default = "default_success_radius")]
    pub success_radius: f32,
    /// Random actions from the start to a generated goal (default 50).
    #[serde(default = "default_goal_steps")]
    pub goal_steps: usize,
    /// Seconds the bridge waits for any reply before it kills the server (default 120:
    /// importing MuJoCo and making an env can take a while).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

pub(crate) fn default_image_size() -> usize {
    64
}
pub(crate) fn default_success_radius() -> f32 {
    0.5
}
pub(crate) fn default_goal_steps() -> usize {
    50
}
pub(crate) fn default_timeout_s() -> f64 {
    120.0
}

impl Default for GymConfig {
    fn default() -> Self {
        GymConfig {
            id: "Pendulum-v1".into(),
            kwargs: Map::new(),
            pixels: false,
            image_size: default_image_size(),
            success_radius: default_success_radius(),
            goal_steps: default_goal_steps(),
            timeout_s: default_timeout_s(),
        }
    }
}

/// Checks the settings every bridge env shares; errors name the field.
pub(crate) fn validate_common(
    image_size: usize,
    success_radius: f32,
    timeout_s: f64,
) -> Result<(), EnvError> {
    if !(8..=512).contains(&image_size) {
        return Err(EnvError::config(
            "env.image_size",
            image_size,
            "in [8, 512]",
        ));
    }
    if !(success_radius.is_finite() && success_radius > 0.0) {
        return Err(EnvError::config(
            "env.success_radius",
            success_radius,
            "a finite value > 0",
        ));
    }
    if !(timeout_s.is_finite() && timeout_s > 0.0) {
        return Err(EnvError::config(
            "env.timeout_s",
            timeout_s,
            "a finite value > 0",
        ));
    }
    Ok(())
}

impl GymConfig {
    /// How the bridge opens this env, and its task rules.
    pub fn remote(&self) -> RemoteSpec {
        let pendulum = self.id == "Pendulum-v1";
        RemoteSpec {
            label: format!("gym:{}", self.id),
            open: json!({
                "op": "open",
                "family": "gym",
                "id": self.id,
                "kwargs": self.kwargs,
                "pixels": self.pixels,
                "image_size": self.image_size,
            }),
            timeout: Duration::from_secs_f64(self.timeout_s.clamp(1e-3, 1e9)),
            success_radius: self.success_radius,
            goal_steps: self.goal_steps,
            goal: pendulum.then(|| vec![0.0, 0.0]),
            angles: if pendulum { vec![0] } else { vec![] },
        }
    }
}

impl EnvSpec for GymConfig {
    fn kind(&self) -> &'static str {
        "gym"
    }

    /// Checks the fields, then opens the env once (its spaces are cached).
    fn validate(&self) -> Result<(), EnvError> {
        if self.id.trim().is_empty() {
            return Err(EnvError::config(
                "env.id",
                "\"\"",
                "a Gymnasium id, e.g. \"Pendulum-v1\"",
            ));
        }
        validate_common(self.image_size, self.success_radius, self.timeout_s)?;
        self.remote().validate()
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(RemoteEnv::open(&self.remote())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        self.remote()
            .info()
            .map(|i| i.obs_shape)
            .unwrap_or_default()
    }

    fn action_space(&self) -> ActionSpace {
        self.remote().action_space()
    }

    fn state_dim(&self) -> usize {
        self.remote().info().map_or(0, |i| i.state_dim)
    }

    fn observation_name(&self) -> &'static str {
        if self.pixels {
            "image"
        } else {
            "state"
        }
    }

    fn behaviour(&self, _data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        self.remote().behaviour()
    }

    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        self.remote().tasks(n, seed)
    }

    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        self.remote().render_episodes(traces, cols, path)
    }

    fn video_frame(
        &self,
        trace: &EpisodeTrace,
        t: usize,
        imagined: &[Vec<f32>],
    ) -> Result<Option<ami_io::raster::Canvas>, EnvError> {
        self.remote().video_frame(trace, t, imagined).map(Some)
    }
}
