//! [`RemoteEnv`]: an environment running on an env server. Its actions go through an
//! [`ActionMap`] ([`crate::bridge::action`]); its spec side is [`crate::bridge::spec`].
//!
//! **Observations** are the env's observation flattened to f32 (a dict observation with an
//! `observation` key: that entry; any other dict: its entries concatenated in order; DMC:
//! its observation dict concatenated in order), or with `pixels = true` an RGB frame rendered
//! offscreen, `[3, image_size, image_size]` in `[0, 1]` (nearest-neighbour resampled).
//!
//! `Env::reset(seed)` cannot return an error; when the server fails there, the error is kept
//! and returned by the next `step`/`reset_to`.

use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::bridge::action::{ActionInfo, ActionMap};
use crate::bridge::protocol::{Array, Message};
use crate::bridge::server::EnvServer;
use crate::bridge::spec::RemoteSpec;
use crate::bridge::{bridge_error, BridgeFailure};
use crate::env::{check_dim, ActionSpace, Env, NamedRule, Step};
use crate::error::EnvError;

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
    /// The env's own reward for the last step (never used for planning or training).
    last_reward: Option<f64>,
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
            last_reward: None,
        };
        env.reset_checked(0)?;
        Ok(env)
    }

    /// What the server reported when it opened the env.
    pub fn info(&self) -> &RemoteInfo {
        &self.info
    }

    /// The map from agent actions to the env's box.
    pub fn action_map(&self) -> &ActionMap {
        &self.map
    }

    /// The env's own goal after the last reset, as a state (PointMaze), if it has one.
    pub fn env_goal(&self) -> Option<&[f32]> {
        self.env_goal.as_deref()
    }

    /// The reward the env itself paid for the last step (`None` before the first step or when
    /// the server sent none). ami never plans or trains on it; it is there to check a task's
    /// success rule against the env's own (e.g. DMC reacher's reward 1 inside the target).
    pub fn last_reward(&self) -> Option<f64> {
        self.last_reward
    }

    /// The current state at full precision.
    pub fn state_f64(&self) -> &[f64] {
        &self.state
    }

    /// `reset(seed)` with its error.
    pub fn reset_checked(&mut self, seed: u64) -> Result<Vec<f32>, EnvError> {
        self.pending = None;
        self.last_reward = None;
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
        self.last_reward = None;
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
        let reply = self.exchange(Message::new(json!({"op": "step"})).with(a))?;
        self.last_reward = reply.header.get("reward").and_then(Value::as_f64);
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
