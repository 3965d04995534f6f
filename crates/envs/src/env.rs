//! The environment interface the agent runs on (DESIGN.md §4 `Env`).

use crate::error::EnvError;

/// What one environment step returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step (flat, `obs_dim()` values).
    pub obs: Vec<f32>,
    /// The true position after the step (px; for evaluation only, never for planning).
    pub position: [f32; 2],
}

/// A controllable environment with flat f32 observations and actions.
///
/// Dynamics are deterministic: the same `reset` seed followed by the same actions gives the
/// same observations.
pub trait Env {
    /// Starts a new episode from a start drawn with `seed`; returns the first observation.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    /// Applies `action` (`action_dim()` values).
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError>;
    /// Length of one observation.
    fn obs_dim(&self) -> usize;
    /// Length of one action.
    fn action_dim(&self) -> usize;
}
