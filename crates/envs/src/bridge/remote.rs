//! [`RemoteEnv`]: an environment running on an env server, and what the `gym` and `dmc`
//! specs share ([`RemoteSpec`]).
//!
//! **Actions** ([`ActionMap`]): the env's `Box(low, high)` must be bounded; a `Discrete` or
//! other space is an error (continuous actions only for now). When the box is symmetric with
//! one bound `h` on every coordinate (`low = −h`, `high = h`: Pendulum's torque, most MuJoCo
//! envs, every DMC task), the agent's actions are the env's own units; otherwise an agent
//! action `a ∈ [−1, 1]^d` maps affinely onto the box, `low + (a + 1)/2 · (high − low)`. Either
//! way each coordinate is clipped to the box before it is sent, and the
//! [`crate::ActionSpace`] is the ball of radius `h·√d` (resp. `√d`) that contains the box
//! (for `d = 1` the interval itself). Actions are sent as f64 so that the env computes with
//! the same values as a native implementation (Pendulum's torque enters its f64 arithmetic
//! unrounded).
//!
//! **Observations** are the env's observation flattened to f32 (a dict observation with an
//! `observation` key: that entry; any other dict: its entries concatenated in order; DMC:
//! its observation dict concatenated in order), or with `pixels = true` an RGB frame rendered
//! offscreen, `[3, image_size, image_size]` in `[0, 1]` (nearest-neighbour resampled).
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
//!
//! `Env::reset(seed)` cannot return an error; when the server fails there, the error is kept
//! and returned by the next `step`/`reset_to`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::bridge::protocol::{Array, Message};
use crate::bridge::server::EnvServer;
use crate::bridge::{bridge_error, BridgeFailure};
use crate::env::{check_dim, ActionSpace, BehaviourPolicy, Env, NamedRule, Step, Task};
use crate::episodes::{EpisodeTrace, SuccessRule};
use crate::error::EnvError;
use crate::render::{
    cell_grid, check_trace_states, frame_cell, FAILURE_FRAME, PAD, PATH, SUCCESS_FRAME,
};

/// What the server reports when it opens an environment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RemoteInfo {
    /// Shape of one observation.
    pub obs_shape: Vec<usize>,
    /// Length of the state (0: the env exposes none).
    pub state_dim: usize,
    /// Where the state comes from: `mujoco` (qpos ++ qvel), `pointmaze` (its point's
    /// qpos ++ qvel), `pusht` (agent and block pose), `classic` (`unwrapped.state`),
    /// `physics` (DMC's `physics.get_state()`) or `none`.
    pub state_kind: String,
    /// The action space.
    pub action: ActionInfo,
    /// How many leading state values the env's own goal constrains (PointMaze: 2, its x
    /// and y); `None`: the whole state.
    #[serde(default)]
    pub goal_dims: Option<usize>,
    /// The server's Python version.
    pub python: String,
}

/// The env's action space as the server describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ActionInfo {
    /// `Box(low, high)`; `None` stands for an infinite bound.
    Box {
        /// Lower bounds (flattened).
        low: Vec<Option<f64>>,
        /// Upper bounds (flattened).
        high: Vec<Option<f64>>,
    },
    /// `Discrete(n)`.
    Discrete {
        /// Number of actions.
        n: u64,
    },
    /// Any other space.
    Other {
        /// Python's `repr` of it.
        repr: String,
    },
}

/// The map from agent actions to the env's box (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionMap {
    low: Vec<f64>,
    high: Vec<f64>,
    /// Actions are in the env's units (symmetric box with one bound).
    units: bool,
}

impl ActionMap {
    /// The map of `info`'s action space; discrete, other and unbounded spaces are errors.
    pub fn new(label: &str, info: &ActionInfo) -> Result<Self, EnvError> {
        let unsupported = |d: String| bridge_error(label, BridgeFailure::Unsupported, d);
        let (low, high) = match info {
            ActionInfo::Box { low, high } => (low, high),
            ActionInfo::Discrete { n } => {
                let native = if label.contains("CartPole") {
                    " (the native `cartpole` env is CartPole-v1 with a continuous force)"
                } else {
                    ""
                };
                return Err(unsupported(format!(
                    "its action space is Discrete({n}); the bridge drives continuous \
                     (Box) action spaces only{native}"
                )));
            }
            ActionInfo::Other { repr } => {
                return Err(unsupported(format!(
                    "its action space is {repr}; the bridge drives continuous (Box) action \
                     spaces only"
                )))
            }
        };
        let finite = |v: &[Option<f64>]| v.iter().copied().collect::<Option<Vec<f64>>>();
        let (Some(low), Some(high)) = (finite(low), finite(high)) else {
            return Err(unsupported(
                "its action Box has an infinite bound; planners need a bounded action space".into(),
            ));
        };
        if low.is_empty() || low.len() != high.len() || low.iter().zip(&high).any(|(l, h)| l >= h) {
            return Err(unsupported(format!(
                "action Box low {low:?} / high {high:?} is empty or inverted"
            )));
        }
        let units = low
            .iter()
            .zip(&high)
            .all(|(l, h)| *l == -*h && *h == high[0]);
        Ok(ActionMap { low, high, units })
    }

    /// The ball of agent actions that contains the box.
    pub fn space(&self) -> ActionSpace {
        let d = self.low.len();
        let h = if self.units { self.high[0] } else { 1.0 };
        ActionSpace {
            dim: d,
            max_norm: (h * (d as f64).sqrt()) as f32,
        }
    }

    /// The env's action for agent action `a` (clipped to the box).
    pub fn to_env(&self, a: &[f32]) -> Vec<f64> {
        a.iter()
            .zip(self.low.iter().zip(&self.high))
            .map(|(&a, (&l, &h))| {
                let a = f64::from(a);
                let v = if self.units {
                    a
                } else {
                    l + (a.clamp(-1.0, 1.0) + 1.0) / 2.0 * (h - l)
                };
                v.clamp(l, h)
            })
            .collect()
    }

    /// A uniformly random agent action whose image is uniform in the box.
    pub fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        self.low
            .iter()
            .zip(&self.high)
            .map(|(&l, &h)| {
                if self.units {
                    rng.gen_range(l..=h) as f32
                } else {
                    rng.gen_range(-1.0..=1.0f64) as f32
                }
            })
            .collect()
    }
}

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
        let info = env.info.clone();
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
            let goal = match self.goal.as_ref().or(env.env_goal.as_ref()) {
                Some(g) => g.clone(),
                None => {
                    for _ in 0..self.goal_steps {
                        let a = env.map.sample(&mut rng);
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
        let dim = self.info()?.state_dim;
        if dim == 0 {
            return Err(bridge_error(
                &self.label,
                BridgeFailure::Unsupported,
                "it has no state to draw",
            ));
        }
        check_trace_states(traces, dim, "the env's state", path)?;
        let angle = |i: usize, v: f32| {
            if self.angles.contains(&i) {
                let tau = 2.0 * std::f32::consts::PI;
                (v + tau / 2.0).rem_euclid(tau) - tau / 2.0
            } else {
                v
            }
        };
        let point = |s: &[f32], t: usize| {
            [
                angle(0, s[0]),
                if dim > 1 { angle(1, s[1]) } else { t as f32 },
            ]
        };
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for tr in traces {
            let ends = [point(&tr.start, 0), point(&tr.goal, tr.path.len())];
            let pts = tr.path.iter().enumerate().map(|(t, s)| point(s, t));
            for p in pts.chain(ends) {
                for k in 0..2 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
            }
        }
        let cols = cols.clamp(1, traces.len().max(1));
        let rows = traces.len().div_ceil(cols).max(1);
        let cell = PANEL + 2 * PAD;
        let mut cv = cell_grid(cols, rows, cell);
        for (k, tr) in traces.iter().enumerate() {
            let (ox, oy) = ((k % cols) * cell + PAD, (k / cols) * cell + PAD);
            let to_px = |p: [f32; 2]| {
                let f = |v: f32, k: usize| (v - lo[k]) / (hi[k] - lo[k]).max(1e-6);
                let x = ox as f32 + f(p[0], 0) * PANEL as f32;
                (x, oy as f32 + (1.0 - f(p[1], 1)) * PANEL as f32)
            };
            let frame = if tr.success {
                SUCCESS_FRAME
            } else {
                FAILURE_FRAME
            };
            frame_cell(&mut cv, k, cols, cell, 2, frame);
            for (t, w) in tr.path.windows(2).enumerate() {
                let (a, b) = (point(&w[0], t), point(&w[1], t + 1));
                // Not across the ±π seam of a wrapped angle.
                if (0..2).all(|k| !self.angles.contains(&k) || (a[k] - b[k]).abs() < 3.0) {
                    cv.line_dda(to_px(a), to_px(b), PATH);
                }
            }
            let (gx, gy) = to_px(point(&tr.goal, tr.path.len()));
            cv.disc(gx, gy, 4.0, FAILURE_FRAME);
            let (sx, sy) = to_px(point(&tr.start, 0));
            cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
        }
        Ok(cv.save(path)?)
    }
}

/// Side of one picture panel (px).
const PANEL: usize = 192;

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
        self.env.map.sample(rng)
    }
}

/// An environment running on an env server (module docs).
pub struct RemoteEnv {
    server: Mutex<EnvServer>,
    info: RemoteInfo,
    map: ActionMap,
    obs: Vec<f32>,
    state: Vec<f64>,
    angles: Vec<usize>,
    rules: Vec<NamedRule>,
    /// The error of a `reset(seed)`, reported by the next fallible call.
    pending: Option<EnvError>,
    /// The env's own goal after the last reset, as a state (PointMaze).
    env_goal: Option<Vec<f32>>,
}

impl RemoteEnv {
    /// Starts a server, opens the env of `spec` and checks its action space.
    pub fn open(spec: &RemoteSpec) -> Result<Self, EnvError> {
        Self::open_on(EnvServer::start(&spec.label, spec.timeout)?, spec)
    }

    /// Opens the env of `spec` on a running `server` (any program speaking the protocol).
    pub fn open_on(mut server: EnvServer, spec: &RemoteSpec) -> Result<Self, EnvError> {
        let reply = server.call(&Message::new(spec.open.clone()))?;
        let info: RemoteInfo = reply
            .header
            .get("info")
            .cloned()
            .ok_or_else(|| "no `info`".to_string())
            .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
            .map_err(|e| {
                bridge_error(&spec.label, BridgeFailure::Malformed, format!("open: {e}"))
            })?;
        let map = ActionMap::new(&spec.label, &info.action)?;
        let mut env = RemoteEnv {
            server: Mutex::new(server),
            obs: vec![0.0; info.obs_shape.iter().product()],
            state: vec![0.0; info.state_dim],
            info,
            map,
            angles: spec.angles.clone(),
            rules: spec.rules(),
            pending: None,
            env_goal: None,
        };
        env.reset_checked(0)?;
        Ok(env)
    }

    /// What the server reported when it opened the env.
    pub fn info(&self) -> &RemoteInfo {
        &self.info
    }

    /// The current state at full precision.
    pub fn state_f64(&self) -> &[f64] {
        &self.state
    }

    /// `reset(seed)` with its error.
    pub fn reset_checked(&mut self, seed: u64) -> Result<Vec<f32>, EnvError> {
        self.pending = None;
        let reply = self.exchange(Message::new(json!({"op": "reset", "seed": seed})))?;
        self.env_goal = reply.header.get("goal").and_then(Value::as_array).map(|g| {
            g.iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN) as f32)
                .collect()
        });
        Ok(self.obs.clone())
    }

    /// Sends `request`, checks the reply's `obs` and `state` and keeps them.
    fn exchange(&mut self, request: Message) -> Result<Message, EnvError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let server = self.server.get_mut().unwrap_or_else(|p| p.into_inner());
        let reply = server.call(&request)?;
        let (obs, state) = (reply.array("obs"), reply.array("state"));
        let (Some(obs), Some(state)) = (obs, state) else {
            let label = server.label().to_string();
            return Err(bridge_error(
                &label,
                BridgeFailure::Malformed,
                "reply lacks obs/state",
            ));
        };
        if obs.data.len() != self.obs.len() || state.data.len() != self.state.len() {
            let detail = format!(
                "reply has {} observation and {} state values, expected {} and {}",
                obs.data.len(),
                state.data.len(),
                self.obs.len(),
                self.state.len()
            );
            let label = server.label().to_string();
            return Err(bridge_error(&label, BridgeFailure::Malformed, detail));
        }
        self.obs = obs.data.iter().map(|&v| v as f32).collect();
        self.state.clone_from(&state.data);
        Ok(reply)
    }

    fn check_state(&self, state: &[f32]) -> Result<(), EnvError> {
        if self.info.state_dim == 0 {
            let server = self.server.lock().unwrap_or_else(|p| p.into_inner());
            return Err(bridge_error(
                server.label(),
                BridgeFailure::Unsupported,
                "this env exposes no state (neither MuJoCo's qpos/qvel nor unwrapped.state), \
                 so it cannot be reset to a state",
            ));
        }
        check_dim("bridge env state", state, self.info.state_dim)?;
        if let Some(v) = state.iter().find(|v| !v.is_finite()) {
            return Err(EnvError::InvalidPosition(format!(
                "state value {v} is not finite"
            )));
        }
        Ok(())
    }
}

fn state_array(state: &[f32]) -> Array {
    Array::f64("state", state.iter().map(|&v| f64::from(v)).collect())
}

impl Env for RemoteEnv {
    fn obs_shape(&self) -> Vec<usize> {
        self.info.obs_shape.clone()
    }

    fn action_space(&self) -> ActionSpace {
        self.map.space()
    }

    fn state_dim(&self) -> usize {
        self.info.state_dim
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        match self.reset_checked(seed) {
            Ok(obs) => obs,
            Err(e) => {
                self.pending = Some(e);
                self.obs.clone()
            }
        }
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        self.check_state(state)?;
        let msg = Message::new(json!({"op": "reset_to"})).with(state_array(state));
        self.exchange(msg)?;
        Ok(self.obs.clone())
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        check_dim("bridge env action", action, self.map.space().dim)?;
        if let Some(v) = action.iter().find(|v| !v.is_finite()) {
            return Err(EnvError::InvalidAction(format!(
                "action value {v} is not finite"
            )));
        }
        let a = Array::f64("action", self.map.to_env(action));
        self.exchange(Message::new(json!({"op": "step"})).with(a))?;
        Ok(Step {
            obs: self.obs.clone(),
            state: Env::state(self),
        })
    }

    fn observe(&self) -> Vec<f32> {
        self.obs.clone()
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        self.check_state(state)?;
        let msg = Message::new(json!({"op": "observe_state"})).with(state_array(state));
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let reply = server.call(&msg)?;
        match reply.array("obs") {
            Some(o) if o.data.len() == self.obs.len() => {
                Ok(o.data.iter().map(|&v| v as f32).collect())
            }
            _ => Err(bridge_error(
                server.label(),
                BridgeFailure::Malformed,
                "observe_state: reply lacks an observation of the env's size",
            )),
        }
    }

    fn state(&self) -> Vec<f32> {
        self.state.iter().map(|&v| v as f32).collect()
    }

    /// `state − goal`, angles wrapped to `[−π, π)`, over the values the env's goal
    /// constrains (all, or PointMaze's `(x, y)`).
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        let dims = self.info.goal_dims.unwrap_or(state.len());
        state
            .iter()
            .zip(goal)
            .take(dims)
            .enumerate()
            .map(|(i, (s, g))| {
                let e = f64::from(*s) - f64::from(*g);
                if self.angles.contains(&i) {
                    let tau = 2.0 * std::f64::consts::PI;
                    ((e + tau / 2.0).rem_euclid(tau) - tau / 2.0) as f32
                } else {
                    e as f32
                }
            })
            .collect()
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        self.rules.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(low: &[f64], high: &[f64]) -> ActionInfo {
        ActionInfo::Box {
            low: low.iter().map(|&v| Some(v)).collect(),
            high: high.iter().map(|&v| Some(v)).collect(),
        }
    }

    #[test]
    fn symmetric_boxes_keep_units_others_map_from_unit_cube() {
        let m = ActionMap::new("t", &boxed(&[-2.0], &[2.0])).unwrap();
        assert_eq!(
            m.space(),
            ActionSpace {
                dim: 1,
                max_norm: 2.0
            }
        );
        assert_eq!(m.to_env(&[1.5, 0.0][..1]), vec![1.5]);
        assert_eq!(m.to_env(&[3.0]), vec![2.0]);
        let m = ActionMap::new("t", &boxed(&[0.0, -1.0], &[4.0, 3.0])).unwrap();
        assert_eq!(m.space().dim, 2);
        assert!((m.space().max_norm - 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(m.to_env(&[-1.0, 1.0]), vec![0.0, 3.0]);
        assert_eq!(m.to_env(&[0.0, 0.0]), vec![2.0, 1.0]);
        assert_eq!(m.to_env(&[5.0, -5.0]), vec![4.0, -1.0]);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let a = m.to_env(&m.sample(&mut rng));
            assert!((0.0..=4.0).contains(&a[0]) && (-1.0..=3.0).contains(&a[1]));
        }
    }

    #[test]
    fn discrete_unbounded_and_inverted_spaces_are_errors() {
        let err = ActionMap::new("gym:CartPole-v1", &ActionInfo::Discrete { n: 2 })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gym:CartPole-v1") && err.contains("Discrete(2)"),
            "{err}"
        );
        let inf = ActionInfo::Box {
            low: vec![None],
            high: vec![Some(1.0)],
        };
        let err = ActionMap::new("t", &inf).unwrap_err().to_string();
        assert!(err.contains("infinite"), "{err}");
        let err = ActionMap::new("t", &boxed(&[1.0], &[1.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inverted"), "{err}");
    }
}
