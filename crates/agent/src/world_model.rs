//! The world model as the planner sees it: a batched, deterministic latent dynamics model
//! (DESIGN.md §4 `WorldModel`; REFERENCE.md §14).

use crate::error::{check_len, AgentError};

/// A batched, deterministic latent dynamics model used by planners.
///
/// Planners only ever call [`WorldModel::rollout`]: they never see the true environment
/// state (REFERENCE.md §14, "evaluation caution").
pub trait WorldModel {
    /// Dimension `D` of the (latent) state.
    fn state_dim(&self) -> usize;
    /// Dimension `A` of one action.
    fn action_dim(&self) -> usize;
    /// Environment steps covered by one planned action (temporal abstraction; default 1).
    /// The episode loop holds each planned action for this many steps.
    fn action_repeat(&self) -> usize {
        1
    }
    /// Roll out `n` candidate action sequences of length `h` from one start state.
    ///
    /// Open loop: `s_{i,0} = s0`, `s_{i,t+1} = f(s_{i,t}, a_{i,t})`.
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]` → predicted states `[n, h, D]` (the state after each
    /// action, so row `t` is `s_{i,t+1}`).
    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError>;

    /// [`WorldModel::rollout`] into a caller-owned buffer (resized to `[n, h, D]`), so that
    /// planners reuse one allocation across iterations. The default calls `rollout`.
    fn rollout_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        *states = self.rollout(s0, actions, n, h)?;
        Ok(())
    }
}

/// Check the inputs of [`WorldModel::rollout`] against the model's dimensions.
pub fn check_rollout_inputs(
    model: &dyn WorldModel,
    s0: &[f32],
    actions: &[f32],
    n: usize,
    h: usize,
) -> Result<(), AgentError> {
    let (d, a) = (model.state_dim(), model.action_dim());
    check_len("rollout s0", s0, d, || format!("[D={d}]"))?;
    check_len("rollout actions", actions, n * h * a, || {
        format!("[n={n}, h={h}, A={a}] = {}", n * h * a)
    })
}

/// Linear dynamics `s' = A s + B a` (for tests and as a reference model).
///
/// With `A = I`, `B = I` this is the 2-D point mass used by the planner tests.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearWorldModel {
    /// State matrix `A`, row-major `[D, D]`.
    pub a: Vec<f32>,
    /// Input matrix `B`, row-major `[D, A]`.
    pub b: Vec<f32>,
    d: usize,
    act: usize,
}

impl LinearWorldModel {
    /// Build from row-major `a [D, D]` and `b [D, A]`.
    pub fn new(a: Vec<f32>, b: Vec<f32>, d: usize, act: usize) -> Result<Self, AgentError> {
        if d == 0 {
            return Err(AgentError::config("linear.state_dim", d, "at least 1"));
        }
        if act == 0 {
            return Err(AgentError::config("linear.action_dim", act, "at least 1"));
        }
        check_len("linear A", &a, d * d, || format!("[D={d}, D={d}]"))?;
        check_len("linear B", &b, d * act, || format!("[D={d}, A={act}]"))?;
        Ok(Self { a, b, d, act })
    }

    /// `s' = s + a` in `dim` dimensions (`A = I`, `B = I`): a point mass with velocity control.
    pub fn point_mass(dim: usize) -> Result<Self, AgentError> {
        let eye: Vec<f32> = (0..dim * dim)
            .map(|k| if k / dim == k % dim { 1.0 } else { 0.0 })
            .collect();
        Self::new(eye.clone(), eye, dim, dim)
    }

    /// One step `out = A s + B a`.
    ///
    /// # Shapes
    /// `s [D]`, `action [A]`, `out [D]`.
    pub fn step_into(&self, s: &[f32], action: &[f32], out: &mut [f32]) {
        for (r, o) in out.iter_mut().enumerate().take(self.d) {
            let a_row = &self.a[r * self.d..(r + 1) * self.d];
            let b_row = &self.b[r * self.act..(r + 1) * self.act];
            let ax: f32 = a_row.iter().zip(s).map(|(x, y)| x * y).sum();
            let bu: f32 = b_row.iter().zip(action).map(|(x, y)| x * y).sum();
            *o = ax + bu;
        }
    }
}

impl WorldModel for LinearWorldModel {
    fn state_dim(&self) -> usize {
        self.d
    }

    fn action_dim(&self) -> usize {
        self.act
    }

    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        let (d, act) = (self.d, self.act);
        let mut out = vec![0.0; n * h * d];
        for i in 0..n {
            let mut prev = s0.to_vec();
            for t in 0..h {
                let a_t = &actions[(i * h + t) * act..(i * h + t + 1) * act];
                let o = &mut out[(i * h + t) * d..(i * h + t + 1) * d];
                self.step_into(&prev, a_t, o);
                prev.copy_from_slice(o);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_rollout_matches_hand_computation() {
        // A = [[1, 1], [0, 1]] (double integrator), B = [[0], [1]].
        let m = LinearWorldModel::new(vec![1.0, 1.0, 0.0, 1.0], vec![0.0, 1.0], 2, 1).unwrap();
        let out = m.rollout(&[0.0, 0.0], &[1.0, 1.0, 0.0], 1, 3).unwrap();
        // s1 = (0, 1), s2 = (1, 2), s3 = (3, 2).
        assert_eq!(out, vec![0.0, 1.0, 1.0, 2.0, 3.0, 2.0]);
    }

    #[test]
    fn linear_rollout_rejects_bad_shapes() {
        let m = LinearWorldModel::point_mass(2).unwrap();
        let err = m.rollout(&[0.0, 0.0], &[1.0; 5], 1, 3).unwrap_err();
        assert!(err.to_string().contains("rollout actions"), "{err}");
        assert!(LinearWorldModel::new(vec![1.0; 3], vec![1.0; 2], 2, 1).is_err());
    }
}
