//! Perception: the module that turns an observation into the state the planner works on
//! (DESIGN.md §1 "Perception"; for a JEPA, its encoder `s = Enc(o)`).

use crate::error::AgentError;

/// Observation → representation.
pub trait Perception {
    /// Encodes one observation.
    ///
    /// # Shapes
    /// `obs [obs_dim]` → `s [D]`.
    fn encode(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError>;
}
