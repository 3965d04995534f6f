//! [`RemoteSpec`]: what the `gym` and `dmc` specs share — opening the env to learn its
//! spaces, tasks and goals, the reward-free behaviour policy, episode pictures.
//!
//! **Tasks**: starts are the env's own resets (`reset(seed)` for seeds drawn from the task
//! seed). Goals: where the env has a goal, that goal — `Pendulum-v1`: upright at rest,
//! `(θ, θ̇) = (0, 0)`, θ compared modulo 2π as in the native `pendulum`; PointMaze: the goal
//! its reset drew, as the point at rest there, compared on `(x, y)` only (the server reports
//! both) — otherwise the state the env reaches from the start under `goal_steps` uniformly
//! random actions, so every goal is reachable. Success: `‖e‖ ≤ success_radius` on the error
//! to the goal.
//!
//! **Reward-free data**: starts as the tasks', actions uniform in the box (Gymnasium's
//! `action_space.sample()`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::bridge::action::ActionMap;
use crate::bridge::remote::{RemoteEnv, RemoteInfo};
use crate::bridge::{bridge_error, BridgeFailure};
use crate::env::{ActionSpace, BehaviourPolicy, Env, NamedRule, Task};
use crate::episodes::{EpisodeTrace, SuccessRule};
use crate::error::EnvError;
use crate::render::{check_trace_states, render_state_panels, state_video_frame, PANEL};

/// What a bridge spec knows without a server: how to open the env and its task rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSpec {
    /// `gym:Pendulum-v1`, `dmc:cartpole/swingup`.
    pub label: String,
    /// The `open` request's header.
    pub open: Value,
    /// Bound on every reply.
    pub timeout: Duration,
    /// Success radius on the error to the goal.
    pub success_radius: f32,
    /// Random actions from the start to a generated goal.
    pub goal_steps: usize,
    /// A fixed goal state, where the env has one.
    pub goal: Option<Vec<f32>>,
    /// State coordinates that are angles (compared modulo 2π).
    pub angles: Vec<usize>,
}

/// The spaces of every opened configuration, so that the spec's infallible accessors
/// (`obs_shape`, `action_space`) do not start a server each time.
fn info_cache() -> &'static Mutex<HashMap<String, RemoteInfo>> {
    static CACHE: OnceLock<Mutex<HashMap<String, RemoteInfo>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl RemoteSpec {
    /// The env's spaces: from the cache, else by opening it once on a server.
    pub fn info(&self) -> Result<RemoteInfo, EnvError> {
        let key = self.open.to_string();
        if let Some(i) = info_cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(i.clone());
        }
        let env = RemoteEnv::open(self)?;
        let info = env.info().clone();
        info_cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, info.clone());
        Ok(info)
    }

    /// Checks that the env opens and that the bridge can drive it.
    pub fn validate(&self) -> Result<(), EnvError> {
        let info = self.info()?;
        ActionMap::new(&self.label, &info.action)?;
        if let Some(g) = &self.goal {
            if g.len() != info.state_dim {
                return Err(bridge_error(
                    &self.label,
                    BridgeFailure::Unsupported,
                    format!(
                        "its state has {} values, its goal {}",
                        info.state_dim,
                        g.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The action space (an empty one when the env cannot be opened: `validate` says why).
    pub fn action_space(&self) -> ActionSpace {
        self.info()
            .ok()
            .and_then(|i| ActionMap::new(&self.label, &i.action).ok())
            .map_or(
                ActionSpace {
                    dim: 0,
                    max_norm: 0.0,
                },
                |m| m.space(),
            )
    }

    /// The success rules.
    pub fn rules(&self) -> Vec<NamedRule> {
        vec![NamedRule {
            name: "success_rate",
            rule: SuccessRule::Radius(self.success_radius),
        }]
    }

    /// The `n` tasks of `seed` (module docs).
    pub fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        let mut env = RemoteEnv::open(self)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            env.reset_checked(rng.gen::<u32>().into())?;
            let start = env.state();
            let goal = match self.goal.as_deref().or(env.env_goal()) {
                Some(g) => g.to_vec(),
                None => {
                    for _ in 0..self.goal_steps {
                        let a = env.action_map().sample(&mut rng);
                        env.step(&a)?;
                    }
                    env.state()
                }
            };
            tasks.push(Task { start, goal });
        }
        Ok(tasks)
    }

    /// Uniformly random actions in the box, starts from the env's resets.
    pub fn behaviour(&self) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        let env = RemoteEnv::open(self)?;
        Ok(Box::new(RandomBox { env }))
    }

    /// Draws each episode's first two state coordinates (x right, y up; the second is the
    /// step index for a one-dimensional state; angles wrapped to `[−π, π)`) on axes fitted to
    /// all traces: path blue, start green, goal red.
    pub fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        let plot = self.state_plot(traces, path)?;
        render_state_panels(
            traces,
            cols,
            path,
            |s, t| plot.offset(s, t),
            |a, b, t| plot.joined(a, b, t),
        )
    }

    /// Frame `t` of a video of `trace` on the episode picture's state plot (axes fitted to
    /// the trace, the same in every frame), with `imagined`, the plan's states read by the
    /// run's probe (the env's full state: [`crate::EnvSpec::readout`]'s default), as a dotted
    /// path (clipped at the panel's edge).
    pub fn video_frame(
        &self,
        trace: &EpisodeTrace,
        t: usize,
        imagined: &[Vec<f32>],
    ) -> Result<ami_io::raster::Canvas, EnvError> {
        let plot = self.state_plot(std::slice::from_ref(trace), Path::new("video"))?;
        let imagined: Vec<Vec<f32>> = imagined
            .iter()
            .filter(|s| s.len() == plot.dim)
            .cloned()
            .collect();
        Ok(state_video_frame(
            trace,
            t,
            &imagined,
            |s, i| plot.offset(s, i),
            |a, b, i| plot.joined(a, b, i),
        ))
    }

    /// The axes of a state plot of `traces`, fitted to all their states.
    fn state_plot(&self, traces: &[EpisodeTrace], path: &Path) -> Result<StatePlot, EnvError> {
        let dim = self.info()?.state_dim;
        if dim == 0 {
            return Err(bridge_error(
                &self.label,
                BridgeFailure::Unsupported,
                "it has no state to draw",
            ));
        }
        check_trace_states(traces, dim, "the env's state", path)?;
        let mut plot = StatePlot {
            dim,
            angles: self.angles.clone(),
            lo: [f32::INFINITY; 2],
            hi: [f32::NEG_INFINITY; 2],
        };
        let mut points = Vec::new();
        for tr in traces {
            points.push(plot.point(&tr.start, 0));
            points.push(plot.point(&tr.goal, tr.path.len()));
            points.extend(tr.path.iter().enumerate().map(|(t, s)| plot.point(s, t)));
        }
        for p in points
            .into_iter()
            .filter(|p| p.iter().all(|v| v.is_finite()))
        {
            for (k, v) in p.into_iter().enumerate() {
                plot.lo[k] = plot.lo[k].min(v);
                plot.hi[k] = plot.hi[k].max(v);
            }
        }
        Ok(plot)
    }
}

/// A state plot's axes: the first two state coordinates (the step index as the second for a
/// one-dimensional state), angles wrapped to `[−π, π)`, scaled onto a [`PANEL`]-px square.
struct StatePlot {
    dim: usize,
    angles: Vec<usize>,
    lo: [f32; 2],
    hi: [f32; 2],
}

impl StatePlot {
    fn angle(&self, i: usize, v: f32) -> f32 {
        if self.angles.contains(&i) {
            let tau = 2.0 * std::f32::consts::PI;
            (v + tau / 2.0).rem_euclid(tau) - tau / 2.0
        } else {
            v
        }
    }

    fn point(&self, s: &[f32], t: usize) -> [f32; 2] {
        [
            self.angle(0, s[0]),
            if self.dim > 1 {
                self.angle(1, s[1])
            } else {
                t as f32
            },
        ]
    }

    /// Pixel offset of state `s` at index `t` inside the panel (y up).
    fn offset(&self, s: &[f32], t: usize) -> (f32, f32) {
        let p = self.point(s, t);
        let f = |k: usize| (p[k] - self.lo[k]) / (self.hi[k] - self.lo[k]).max(1e-6);
        (f(0) * PANEL as f32, (1.0 - f(1)) * PANEL as f32)
    }

    /// Not across the ±π seam of a wrapped angle.
    fn joined(&self, a: &[f32], b: &[f32], t: usize) -> bool {
        let (a, b) = (self.point(a, t), self.point(b, t + 1));
        (0..2).all(|k| !self.angles.contains(&k) || (a[k] - b[k]).abs() < 3.0)
    }
}

/// Uniformly random actions in the box; starts are the env's resets.
struct RandomBox {
    env: RemoteEnv,
}

impl BehaviourPolicy for RandomBox {
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        self.env.reset_checked(rng.gen::<u32>().into())?;
        Ok(self.env.state())
    }

    fn act(&mut self, _t: usize, _state: &[f32], rng: &mut StdRng) -> Vec<f32> {
        self.env.action_map().sample(rng)
    }
}
