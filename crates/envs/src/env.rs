//! The environment interface the agent runs on (DESIGN.md §4 `Env`, §5).
//!
//! Two traits split what an environment is:
//! * [`Env`] — a running instance: reset, step, observe, the true state (for scoring only).
//! * [`EnvSpec`] — what its configuration knows without running it: observation shape, action
//!   space, the behaviour policy of reward-free data collection, the test tasks, the success
//!   rules and the episode pictures.
//!
//! The episode loop, data collection, evaluation and rendering only see these two traits;
//! every environment is registered once in [`crate::EnvConfig`].

use std::path::Path;

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::episodes::{EpisodeTrace, SuccessRule};
use crate::error::EnvError;

/// The set of admissible actions: vectors of `dim` values with `‖a‖₂ ≤ max_norm` (for
/// `dim = 1` the interval `|a| ≤ max_norm`). Planners project onto this ball; environments
/// clip to it the same way (scaling, direction kept).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActionSpace {
    /// Length of one action.
    pub dim: usize,
    /// Bound on the Euclidean norm of one action.
    pub max_norm: f32,
}

/// What one environment step returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step (flat, `obs_dim()` values).
    pub obs: Vec<f32>,
    /// The true state after the step (for evaluation only, never for planning).
    pub state: Vec<f32>,
}

/// A goal-reaching task: start and goal as true states (the goal is shown to the agent only as
/// the observation of that state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Start state.
    pub start: Vec<f32>,
    /// Goal state.
    pub goal: Vec<f32>,
}

/// A success rule with the name it is reported under (e.g. `success_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NamedRule {
    /// Key of the rule's rate in the evaluation report.
    pub name: &'static str,
    /// The rule, applied to [`Env::goal_error`].
    pub rule: SuccessRule,
}

/// What a named region of the true state space is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionKind {
    /// A place a task can ask for (e.g. a room).
    Area,
    /// A forbidden place: ending a step inside it is a safety violation.
    Hazard,
}

/// A named axis-aligned box `lo ≤ x ≤ hi` over the leading coordinates of the true state
/// (two-rooms: `(x, y)` in px).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Name used by tasks (`left-room`, `hazard-0`, ...).
    pub name: String,
    /// Area or hazard.
    pub kind: RegionKind,
    /// Lower corner (one value per constrained state coordinate).
    pub lo: Vec<f32>,
    /// Upper corner.
    pub hi: Vec<f32>,
}

impl Region {
    /// Whether `state` lies in the closed box (coordinates past `lo.len()` are ignored).
    pub fn contains(&self, state: &[f32]) -> bool {
        state.len() >= self.lo.len()
            && self
                .lo
                .iter()
                .zip(&self.hi)
                .zip(state)
                .all(|((lo, hi), x)| x >= lo && x <= hi)
    }

    /// Euclidean distance from `state` to the box (0 inside).
    pub fn distance(&self, state: &[f32]) -> f32 {
        self.lo
            .iter()
            .zip(&self.hi)
            .zip(state)
            .map(|((lo, hi), x)| (lo - x).max(0.0).max(x - hi).powi(2))
            .sum::<f32>()
            .sqrt()
    }
}

/// A controllable environment with flat f32 observations, actions and true states.
///
/// Dynamics are deterministic given the seed or the start: the same start followed by the
/// same actions gives the same observations. Environments with random parts seed them from
/// the start (highway's other drivers are random but seeded from the state, see
/// [`crate::highway`]).
pub trait Env: Send {
    /// Shape of one observation (`[C, H, W]` for images, `[n]` for vectors).
    fn obs_shape(&self) -> Vec<usize>;
    /// Length of one observation.
    fn obs_dim(&self) -> usize {
        self.obs_shape().iter().product()
    }
    /// The admissible actions.
    fn action_space(&self) -> ActionSpace;
    /// Length of the true state.
    fn state_dim(&self) -> usize;
    /// Starts a new episode from a start drawn with `seed`; returns the first observation.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    /// Starts a new episode at the true state `state`; returns the first observation.
    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError>;
    /// Applies `action` (`action_space().dim` values).
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError>;
    /// The current observation.
    fn observe(&self) -> Vec<f32>;
    /// The observation the environment would give in true state `state` (goal images).
    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError>;
    /// The current true state (for evaluation only).
    fn state(&self) -> Vec<f32>;
    /// The error vector `e(state, goal)` the success rules are applied to (default: the
    /// difference `state − goal`; angles are wrapped by environments that have them).
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        state.iter().zip(goal).map(|(s, g)| s - g).collect()
    }
    /// The success rules, the first one being the headline `success_rate`.
    fn success_rules(&self) -> Vec<NamedRule>;
    /// Whether the true state `state` violates a safety constraint of the environment
    /// (two-rooms: inside a hazard). Default: no constraint.
    fn violation(&self, _state: &[f32]) -> bool {
        false
    }
}

/// The reward-free behaviour policy that collects training data (no rewards, no goals).
pub trait BehaviourPolicy {
    /// The start state of the next trajectory (draws from `rng`).
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError>;
    /// The action at step `t` of the trajectory, from the true `state` (draws from `rng`).
    fn act(&mut self, t: usize, state: &[f32], rng: &mut StdRng) -> Vec<f32>;
}

/// A hand-written controller that reads the true state: the reference an agent's report is
/// compared with (highway: [`crate::highway::baseline::StayInLane`]).
pub trait Baseline: Send + Sync {
    /// What it does, for reports.
    fn name(&self) -> String;
    /// The action in the true `state`.
    fn act(&self, state: &[f32]) -> Vec<f32>;
}

/// What an environment's configuration provides without running it.
pub trait EnvSpec {
    /// Registered name (the `kind` in `[env]`).
    fn kind(&self) -> &'static str;
    /// Checks every field; the error names the field, its value and what was expected.
    fn validate(&self) -> Result<(), EnvError>;
    /// A new running instance.
    fn build(&self) -> Result<Box<dyn Env>, EnvError>;
    /// The instance reward-free data is collected in (default: [`EnvSpec::build`]). An
    /// environment whose data were generated with other dynamics than its evaluation returns
    /// that variant here (`pldm`: a blocked move leaves the agent where it was, where the
    /// evaluation stops it at the wall with a random bounce).
    fn build_for_data(&self) -> Result<Box<dyn Env>, EnvError> {
        self.build()
    }
    /// Shape of one observation.
    fn obs_shape(&self) -> Vec<usize>;
    /// The admissible actions.
    fn action_space(&self) -> ActionSpace;
    /// Length of the true state.
    fn state_dim(&self) -> usize;
    /// Short name of the observation kind (`state`, `image`), for reports.
    fn observation_name(&self) -> &'static str;
    /// The behaviour policy that collects reward-free data with `data`'s settings.
    fn behaviour(&self, data: &crate::DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError>;
    /// The `n` test tasks of `seed` (deterministic).
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError>;
    /// Named areas and hazards of the true state space (default: none).
    fn regions(&self) -> Vec<Region> {
        Vec::new()
    }
    /// `n` states drawn with `seed` that are valid goals (deterministic; default: the goals
    /// of [`EnvSpec::tasks`]).
    fn goal_states(&self, n: usize, seed: u64) -> Result<Vec<Vec<f32>>, EnvError> {
        Ok(self.tasks(n, seed)?.into_iter().map(|t| t.goal).collect())
    }
    /// The finite set of actions of an environment with discrete actions, each a vector of
    /// `action_space().dim` values (default `None`: continuous actions). `step` still accepts
    /// any vector and executes the member nearest to it, so sampling planners work unchanged
    /// and search planners can enumerate the set (highway's meta-actions).
    fn action_set(&self) -> Option<Vec<Vec<f32>>> {
        None
    }
    /// The action an agent takes when it has no plan it can show to be safe (default: the
    /// zero action — in two-rooms, stand still). Highway: brake hard and keep the lane
    /// (the zero action there would hold the speed).
    fn fallback_action(&self) -> Vec<f32> {
        vec![0.0; self.action_space().dim]
    }
    /// The environment's reference controller, if it has one (default: none). Highway: stay
    /// in the lane at a safe speed.
    fn baseline(&self) -> Option<Box<dyn Baseline>> {
        None
    }
    /// The features of a true state that the agent's state probe learns to read from its
    /// representation (a probe regresses them; guardrails and cost terms use them by name).
    /// Default: the state itself.
    fn readout(&self, state: &[f32]) -> Vec<f32> {
        state.to_vec()
    }
    /// Names of the [`EnvSpec::readout`] features, in order. Default: `state[i]`.
    fn readout_names(&self) -> Vec<String> {
        (0..self.state_dim())
            .map(|i| format!("state[{i}]"))
            .collect()
    }
    /// Distance made good from `start` to `state` for tasks scored by progress (highway:
    /// metres driven along the road); `None` for environments without such a notion.
    fn progress(&self, _start: &[f32], _state: &[f32]) -> Option<f32> {
        None
    }
    /// Draws up to all `traces` in a grid of `cols` columns and writes a PNG atomically.
    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError>;
    /// Frame `t` (`0 ≤ t < trace.path.len()`: the state after `t` steps) of a video of the
    /// episode `trace`: the environment's episode picture up to that state, with the agent
    /// and the plan it imagined there (`imagined`: the state probe's readout features,
    /// [`EnvSpec::readout`], along the plan, the current state first) drawn over it.
    /// `Ok(None)` (the default): the environment has no picture to animate.
    fn video_frame(
        &self,
        _trace: &EpisodeTrace,
        _t: usize,
        _imagined: &[Vec<f32>],
    ) -> Result<Option<ami_io::raster::Canvas>, EnvError> {
        Ok(None)
    }
}

/// Checks that `v` has `expected` values (the error names `what`).
pub(crate) fn check_dim(what: &str, v: &[f32], expected: usize) -> Result<(), EnvError> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(EnvError::InvalidAction(format!(
            "{what}: expected {expected} values, got {}",
            v.len()
        )))
    }
}

/// Scales `a` onto the ball `‖a‖₂ ≤ max_norm` (direction kept; computed in f64 so the norm of
/// finite f32 values cannot overflow).
pub fn clip_to_ball(a: &mut [f32], max_norm: f32) {
    let norm = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    if norm > f64::from(max_norm) {
        let s = f64::from(max_norm) / norm;
        a.iter_mut().for_each(|x| *x = (f64::from(*x) * s) as f32);
    }
}
