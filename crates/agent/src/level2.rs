//! The H-JEPA level-2 predictor as the hierarchical planner sees it: `ŝ_{t+k} = s + MLP([s,
//! m])` on level-1 representations, one macro step of `k` environment steps per call, batched on
//! the dense CPU kernel ([`crate::kernel::DenseMlp`]; training is [`ami_jepa::hjepa`]).
//!
//! The macro-action `m ∈ ℝ^A`, `‖m‖ ≤ 1`, is the summed level-1 actions of the macro step over
//! `k · a_max`: the displacement the agent intends, which the walls may stop.

use ami_jepa::hjepa::{Level2, Level2Report};

use crate::error::AgentError;
use crate::kernel::{Activations, DenseMlp};

/// A trained level 2, ready for batched prediction.
pub struct Level2Model {
    mlp: DenseMlp,
    repr_dim: usize,
    action_dim: usize,
    /// Environment steps per macro step.
    pub k: usize,
    /// The held-out report of its training (`mean_step` sets the planner's distances).
    pub report: Level2Report,
    /// The level-2 states of the trajectories it was trained on, when the run kept them (the
    /// planner's [`crate::data_support::DataSupport`]).
    pub seen: Option<SeenTrajectories>,
}

/// Level-2 states of `n` trajectories of `len` steps each, row-major `[n, len, D]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenTrajectories {
    /// `[n, len, D]`.
    pub states: Vec<f32>,
    /// Trajectories.
    pub n: usize,
    /// States per trajectory (`T + 1`).
    pub len: usize,
}

impl std::fmt::Debug for Level2Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Level2Model")
            .field("repr_dim", &self.repr_dim)
            .field("action_dim", &self.action_dim)
            .field("k", &self.k)
            .finish()
    }
}

impl Level2Model {
    /// Copies the predictor of a trained [`Level2`] into the dense kernel; checks that it maps
    /// `[D + A] → [D]`.
    pub fn new(
        model: &Level2,
        repr_dim: usize,
        action_dim: usize,
        report: Level2Report,
    ) -> Result<Self, AgentError> {
        let mlp = DenseMlp::from_mlp(&model.predictor)?;
        if mlp.input_dim() != repr_dim + action_dim || mlp.output_dim() != repr_dim {
            return Err(AgentError::shape(
                "level-2 predictor",
                mlp.input_dim(),
                format!("[D + A = {}] -> [D = {repr_dim}]", repr_dim + action_dim),
            ));
        }
        let k = report.k;
        Ok(Level2Model {
            mlp,
            repr_dim,
            action_dim,
            k,
            report,
            seen: None,
        })
    }

    /// The same model with the trajectories it was trained on (`[n, len, D]`, checked).
    pub fn with_seen(mut self, seen: SeenTrajectories) -> Result<Self, AgentError> {
        if seen.states.len() != seen.n * seen.len * self.repr_dim {
            return Err(AgentError::shape(
                "level-2 trajectories",
                seen.states.len(),
                format!(
                    "[n = {}, len = {}, D = {}]",
                    seen.n, seen.len, self.repr_dim
                ),
            ));
        }
        self.seen = Some(seen);
        Ok(self)
    }

    /// Representation width `D`.
    pub fn repr_dim(&self) -> usize {
        self.repr_dim
    }

    /// Macro-action width `A`.
    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// One macro step for `n` rows: `out_i = s_i + MLP([s_i, m_i])`.
    ///
    /// # Shapes
    /// `s [n, D]`, `m [n, A]` → `[n, D]`.
    pub fn step(&self, s: &[f32], m: &[f32]) -> Result<Vec<f32>, AgentError> {
        let (d, a) = (self.repr_dim, self.action_dim);
        let n = s.len() / d.max(1);
        if s.len() != n * d || m.len() != n * a {
            return Err(AgentError::shape(
                "level-2 step input",
                m.len(),
                format!("s [n, D={d}] and m [n={n}, A={a}]"),
            ));
        }
        let mut x = Vec::with_capacity(n * (d + a));
        for i in 0..n {
            x.extend_from_slice(&s[i * d..(i + 1) * d]);
            x.extend_from_slice(&m[i * a..(i + 1) * a]);
        }
        let mut acts: Activations = self.mlp.activations(n);
        let mut out = vec![0.0; n * d];
        self.mlp.forward(&x, n, &mut acts, &mut out)?;
        for (o, si) in out.iter_mut().zip(s) {
            *o += si;
        }
        Ok(out)
    }
}
