//! The vector–Jacobian product of a [`DenseDynamics`] rollout with respect to its actions:
//! one rollout that keeps a tape of every predictor step, then the backward pass through it
//! (the adjoint method; the gradient planner's hot path, and workload C of `ami-bench`).
//!
//! Predictor step `k` applies planned action `t = k / r` (`r` = action repeat):
//! `s_{k+1} = [s_k +] MLP([s_k, c·a_t])` (`+ s_k` for [`StepKind::Residual`]). With `ḡ_{k+1}`
//! the adjoint `∂L/∂s_{k+1}` and `s̄` the cotangent of the reported states, for
//! `k = h·r − 1, …, 0`:
//!
//! * `ḡ_{k+1} += s̄_t` when step `k` ends planned action `t` (`k mod r = r − 1`; the state
//!   after it is row `t` of the rollout);
//! * `[ḡ_s, ḡ_x] = ḡ_{k+1} · ∂MLP/∂x` at the taped `x = [s_k, c·a_t]`
//!   ([`DenseMlp::backward_input_with`](super::DenseMlp::backward_input_with));
//! * `ā_t += c · ḡ_x` and `ḡ_k = ḡ_s [+ ḡ_{k+1}]`.

use super::dense_mlp::BackwardScratch;
use super::dynamics::{DenseDynamics, RolloutWorkspace, StepKind};
use super::gemm::Threads;
use crate::error::AgentError;
use crate::world_model::Cotangent;

/// Buffers of [`DenseDynamics::rollout_and_vjp_with`], reused across calls: the taped
/// rollout, its states and their cotangent, and the backward pass's own.
#[derive(Debug, Clone, Default)]
pub struct VjpWorkspace {
    /// The rollout, with one record per predictor step.
    pub rollout: RolloutWorkspace,
    /// `states [n, h, D]` of the last rollout.
    states: Vec<f32>,
    /// `s̄ [n, h, D]` of the last call.
    states_bar: Vec<f32>,
    scratch: BackwardScratch,
    /// `ḡ [n, D]`.
    g_state: Vec<f32>,
    /// `∂L/∂x [n, D + A]` of the current step.
    g_x: Vec<f32>,
}

impl DenseDynamics {
    /// Rolls `actions` out from `s0` keeping the tape, calls `cotangent(states, states_bar)`
    /// (`states_bar` zeroed; the callee writes `∂L/∂states` into it), then **adds**
    /// `(∂states/∂actions)ᵀ · states_bar` to `actions_bar` (module docs). Every product runs
    /// on `threads` (`None`: chosen per shape).
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `states`/`states_bar [n, h, D]`, `actions_bar [n, h, A]`.
    #[allow(clippy::too_many_arguments)]
    pub fn rollout_and_vjp_with(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        ws: &mut VjpWorkspace,
        cotangent: &mut Cotangent<'_>,
        actions_bar: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        let (d, a) = (self.state_dim(), self.action_dim());
        if actions_bar.len() != n * h * a {
            return Err(AgentError::shape(
                "dense rollout VJP actions_bar",
                actions_bar.len(),
                format!("[n={n}, h={h}, A={a}]"),
            ));
        }
        ws.states.resize(n * h * d, 0.0);
        let (rollout, states) = (&mut ws.rollout, &mut ws.states);
        self.rollout_block(s0, actions, (n, h), rollout, true, states, threads)?;
        ws.states_bar.clear();
        ws.states_bar.resize(n * h * d, 0.0);
        cotangent(&ws.states, &mut ws.states_bar)?;
        self.backward_actions(ws, (n, h), actions_bar, threads)
    }

    /// [`Self::rollout_and_vjp_with`] with a given cotangent `states_bar [n, h, D]`.
    ///
    /// # Shapes
    /// As [`Self::rollout_and_vjp_with`].
    #[allow(clippy::too_many_arguments)]
    pub fn rollout_vjp_with(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        ws: &mut VjpWorkspace,
        states_bar: &[f32],
        actions_bar: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        let d = self.state_dim();
        if states_bar.len() != n * h * d {
            return Err(AgentError::shape(
                "dense rollout VJP states_bar",
                states_bar.len(),
                format!("[n={n}, h={h}, D={d}]"),
            ));
        }
        let mut copy = |_: &[f32], bar: &mut [f32]| {
            bar.copy_from_slice(states_bar);
            Ok(())
        };
        self.rollout_and_vjp_with(s0, actions, (n, h), ws, &mut copy, actions_bar, threads)
    }

    /// The backward pass through the tape in `ws.rollout` with the cotangent in
    /// `ws.states_bar`, adding into `actions_bar [n, h, A]`.
    fn backward_actions(
        &self,
        ws: &mut VjpWorkspace,
        (n, h): (usize, usize),
        actions_bar: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        let (d, a, r, c) = (
            self.state_dim(),
            self.action_dim(),
            self.repeat(),
            self.action_scale(),
        );
        ws.g_state.clear();
        ws.g_state.resize(n * d, 0.0);
        ws.g_x.resize(n * (d + a), 0.0);
        for k in (0..h * r).rev() {
            let t = k / r;
            if k % r == r - 1 {
                for (i, g) in ws.g_state.chunks_exact_mut(d).enumerate() {
                    let s_bar = &ws.states_bar[(i * h + t) * d..(i * h + t + 1) * d];
                    g.iter_mut().zip(s_bar).for_each(|(g, s)| *g += s);
                }
            }
            let acts = &ws.rollout.steps[k].acts;
            let (g_state, scratch, g_x) = (&ws.g_state, &mut ws.scratch, &mut ws.g_x);
            self.mlp()
                .backward_input_with(acts, g_state, n, scratch, g_x, threads)?;
            for (i, (gx, gs)) in ws
                .g_x
                .chunks_exact(d + a)
                .zip(ws.g_state.chunks_exact_mut(d))
                .enumerate()
            {
                let ab = &mut actions_bar[(i * h + t) * a..(i * h + t + 1) * a];
                ab.iter_mut().zip(&gx[d..]).for_each(|(g, x)| *g += c * x);
                match self.kind() {
                    StepKind::Plain => gs.copy_from_slice(&gx[..d]),
                    StepKind::Residual => gs.iter_mut().zip(&gx[..d]).for_each(|(g, x)| *g += x),
                }
            }
        }
        Ok(())
    }
}
