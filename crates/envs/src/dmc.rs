//! `dmc`: a DeepMind Control Suite task through the env bridge ([`crate::bridge`]).
//!
//! ```toml
//! [env]
//! kind = "dmc"
//! domain = "cartpole"
//! task = "swingup"
//! pixels = true        # optional: [3, 64, 64] frames rendered offscreen (MUJOCO_GL=egl
//!                      # unless set; osmesa where there is no EGL)
//! ```
//!
//! Loaded with `suite.load(domain, task)` without a time limit (the episode's length is
//! ami's). The state is `physics.get_state()` (`qpos ++ qvel ++ act`); `reset_to` sets it in
//! `physics.reset_context()`; `reset(seed)` re-seeds the task's random state and resets.
//! Observations are the task's observation dict concatenated in order, or frames of
//! `camera`. Every DMC action spec is a symmetric box, so actions are in the task's units
//! (usually `[−1, 1]`). Goals: the state reached by `goal_steps` random actions from the
//! start ([`crate::bridge::spec`]), except in `reacher`, which has a goal of its own.
//!
//! **`reacher`** (the JEPA world-model papers' DMC Reacher): the state is the fingertip's
//! `(x, y)`, then `physics.get_state()`, then the target's `(x, y)` — the target is a model
//! parameter that the task draws at each reset, so the state carries it for `reset_to` to
//! restore the task (the fingertip is derived and ignored by `reset_to`). The goal is the
//! task's target: the arm placed by closed-form inverse kinematics with the fingertip on the
//! target (the elbow solution nearer the start within the wrist's range), at rest; the error
//! to it is fingertip − target, so `success_radius = 0.06` (target 0.05 + finger 0.01 in
//! `reacher/easy`) is exactly the condition under which the task pays reward 1.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bridge::remote::RemoteEnv;
use crate::bridge::spec::RemoteSpec;
use crate::data::DataConfig;
use crate::env::{ActionSpace, BehaviourPolicy, Env, EnvSpec, Task};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::gym::{
    default_goal_steps, default_image_size, default_success_radius, default_timeout_s,
    validate_common,
};

/// A DeepMind Control task on the bridge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DmcConfig {
    /// Domain (`cartpole`, `reacher`, `point_mass`, …).
    pub domain: String,
    /// Task of the domain (`swingup`, `easy`, …).
    pub task: String,
    /// Observe rendered RGB frames instead of the observation dict (default false).
    #[serde(default)]
    pub pixels: bool,
    /// Side of a pixel observation (default 64).
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    /// Camera of pixel observations (default 0).
    #[serde(default)]
    pub camera: usize,
    /// Success when `‖e‖ ≤ success_radius` on the error to the goal (default 0.5).
    #[serde(default = "default_success_radius")]
    pub success_radius: f32,
    /// Random actions from the start to a generated goal (default 50).
    #[serde(default = "default_goal_steps")]
    pub goal_steps: usize,
    /// Seconds the bridge waits for any reply before it kills the server (default 120).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

impl Default for DmcConfig {
    fn default() -> Self {
        DmcConfig {
            domain: "cartpole".into(),
            task: "swingup".into(),
            pixels: false,
            image_size: default_image_size(),
            camera: 0,
            success_radius: default_success_radius(),
            goal_steps: default_goal_steps(),
            timeout_s: default_timeout_s(),
        }
    }
}

impl DmcConfig {
    /// How the bridge opens this task, and its task rules.
    pub fn remote(&self) -> RemoteSpec {
        RemoteSpec {
            label: format!("dmc:{}/{}", self.domain, self.task),
            open: json!({
                "op": "open",
                "family": "dmc",
                "domain": self.domain,
                "task": self.task,
                "pixels": self.pixels,
                "image_size": self.image_size,
                "camera": self.camera,
            }),
            timeout: Duration::from_secs_f64(self.timeout_s.clamp(1e-3, 1e9)),
            success_radius: self.success_radius,
            goal_steps: self.goal_steps,
            goal: None,
            angles: vec![],
        }
    }
}

impl EnvSpec for DmcConfig {
    fn kind(&self) -> &'static str {
        "dmc"
    }

    /// Checks the fields, then opens the task once (its spaces are cached).
    fn validate(&self) -> Result<(), EnvError> {
        for (field, v) in [("env.domain", &self.domain), ("env.task", &self.task)] {
            if v.trim().is_empty() {
                return Err(EnvError::config(field, "\"\"", "a DeepMind Control name"));
            }
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
