//! The world model as the planner sees it: a batched latent dynamics model, deterministic or
//! with a discrete latent variable `z` for the unpredictable part of the future
//! (DESIGN.md §4 `WorldModel — rollout(s0, actions[H], latents[H])`; REFERENCE.md §0, §14).

use crate::error::{check_len, AgentError};

/// The callback of [`WorldModel::rollout_and_vjp`]: given the predicted states `[n, h, D]`,
/// write `∂L/∂states` into the second buffer (`[n, h, D]`, zeroed).
pub type Cotangent<'a> = dyn FnMut(&[f32], &mut [f32]) -> Result<(), AgentError> + 'a;

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

    /// Vector–Jacobian product of [`WorldModel::rollout`]: **adds** `(∂states/∂actions)ᵀ ·
    /// states_bar` to `actions_bar`, i.e. the gradient with respect to the actions of any loss
    /// `L(states)` with `∂L/∂states = states_bar`, the states being the rollout of `actions`
    /// from `s0`.
    ///
    /// Reverse mode through `s_{t+1} = f(s_t, a_t)` (the adjoint method): with `s̄_{t+1}` the
    /// row `t` of `states_bar` and `λ_{h+1} = 0`, for `t = h−1, …, 0`
    /// `λ_{t+1} = s̄_{t+1} + (∂f/∂s)(s_{t+1}, a_{t+1})ᵀ λ_{t+2}` and
    /// `ā_t += (∂f/∂a)(s_t, a_t)ᵀ λ_{t+1}`.
    ///
    /// The default is [`AgentError::ModelNotDifferentiable`] naming the model: planners that
    /// need gradients (`gradient`, `cem+gradient`) then fail with that error, sampling
    /// planners never call this.
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `states_bar [n, h, D]`, `actions_bar [n, h, A]`.
    fn rollout_vjp(
        &self,
        _s0: &[f32],
        _actions: &[f32],
        _shape: (usize, usize),
        _states_bar: &[f32],
        _actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        Err(AgentError::ModelNotDifferentiable {
            model: std::any::type_name::<Self>().to_string(),
            reason: "it does not implement `WorldModel::rollout_vjp`".into(),
        })
    }

    /// One rollout and its vector–Jacobian product, with the cotangent computed from the
    /// predicted states in between: rolls `actions` out from `s0`, calls
    /// `cotangent(states, states_bar)` (with `states [n, h, D]` and `states_bar` zeroed, to be
    /// filled with `∂L/∂states`), then adds `(∂states/∂actions)ᵀ · states_bar` to
    /// `actions_bar` as [`WorldModel::rollout_vjp`] does.
    ///
    /// The default rolls out twice (`rollout`, then `rollout_vjp`); a model that can keep a
    /// tape of its forward pass overrides it to roll out once.
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `actions_bar [n, h, A]`.
    fn rollout_and_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        cotangent: &mut Cotangent<'_>,
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        let states = self.rollout(s0, actions, n, h)?;
        let mut states_bar = vec![0.0; states.len()];
        cotangent(&states, &mut states_bar)?;
        self.rollout_vjp(s0, actions, (n, h), &states_bar, actions_bar)
    }

    /// Number of values `K` of the model's discrete latent `z` (the plausible futures it can
    /// represent per step); 1 for a deterministic model (the default).
    fn latent_count(&self) -> usize {
        1
    }

    /// Roll out `n` candidates with one latent index per candidate and planned action:
    /// `s_{i,0} = s0`, `s_{i,t+1} = f(s_{i,t}, a_{i,t}, z_{i,t})`, the same `z_{i,t}` for every
    /// predictor step of a held action (`action_repeat`). For a planner, `(a_{i,·}, z_{i,·})`
    /// is one candidate future: worst-case planning minimises over actions the maximum over
    /// latents, average-case planning weights them by [`WorldModel::latent_prior`].
    ///
    /// [`WorldModel::rollout`] of a latent model follows branch `z = 0` at every step.
    ///
    /// The default (deterministic models) checks the shapes and that every latent is
    /// `< latent_count()` (i.e. 0, else [`AgentError::Shape`] naming the entry), then calls
    /// [`WorldModel::rollout`].
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `latents [n, h]` (indices in `0..K`) → `[n, h, D]`.
    fn rollout_latent(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        check_latents(latents, n, h, self.latent_count())?;
        self.rollout(s0, actions, n, h)
    }

    /// [`WorldModel::rollout_latent`] into a caller-owned buffer (resized to `[n, h, D]`).
    /// The default calls `rollout_latent`.
    fn rollout_latent_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        *states = self.rollout_latent(s0, actions, latents, n, h)?;
        Ok(())
    }

    /// The prior `q(z | s, a)` over the `K` latent values for `n` (state, action) pairs: rows
    /// of probabilities summing to 1 (for a JEPA, the prior head trained by cross-entropy on
    /// the latents inferred during training). The default (deterministic models) is 1 for the
    /// only value.
    ///
    /// # Shapes
    /// `states [n, D]`, `actions [n, A]` → `[n, K]`.
    fn latent_prior(
        &self,
        states: &[f32],
        actions: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, AgentError> {
        check_prior_inputs(self.state_dim(), self.action_dim(), states, actions, n)?;
        Ok(vec![1.0; n * self.latent_count()])
    }

    /// One planned step from `n` different states at once: row `i` is
    /// `f(s_i, a_i, z_i)` (the action held for `action_repeat` predictor steps), i.e. what
    /// [`WorldModel::rollout_latent`] gives with `s0 = s_i`, `h = 1`. Used where every row
    /// has its own state, e.g. ancestral sampling of futures from many starts
    /// ([`crate::coverage`]).
    ///
    /// The default checks the shapes and calls `rollout_latent` once per row; a batched model
    /// overrides it.
    ///
    /// # Shapes
    /// `states [n, D]`, `actions [n, A]`, `latents [n]` → `[n, D]`.
    fn step_latent(
        &self,
        states: &[f32],
        actions: &[f32],
        latents: &[u32],
        n: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let (d, a) = (self.state_dim(), self.action_dim());
        check_step_inputs((d, a), states, actions, n)?;
        check_latents(latents, n, 1, self.latent_count())?;
        let mut out = Vec::with_capacity(n * d);
        for i in 0..n {
            out.extend(self.rollout_latent(
                &states[i * d..(i + 1) * d],
                &actions[i * a..(i + 1) * a],
                &latents[i..=i],
                1,
                1,
            )?);
        }
        Ok(out)
    }
}

/// Checks `latents [n, h]` with every entry `< k`; the error names the first bad entry.
pub fn check_latents(latents: &[u32], n: usize, h: usize, k: usize) -> Result<(), AgentError> {
    check_len("rollout latents", latents, n * h, || {
        format!("[n={n}, h={h}] = {}", n * h)
    })?;
    match latents.iter().position(|&z| z as usize >= k) {
        None => Ok(()),
        Some(p) => Err(AgentError::shape(
            format!(
                "rollout latents[{}, {}] = {}",
                p / h.max(1),
                p % h.max(1),
                latents[p]
            ),
            latents[p] as usize,
            format!("a latent index < {k} (the model's latent_count)"),
        )),
    }
}

/// Checks the inputs of [`WorldModel::latent_prior`]: `states [n, D]`, `actions [n, A]`.
pub fn check_prior_inputs(
    d: usize,
    a: usize,
    states: &[f32],
    actions: &[f32],
    n: usize,
) -> Result<(), AgentError> {
    check_len("latent_prior states", states, n * d, || {
        format!("[n={n}, D={d}] = {}", n * d)
    })?;
    check_len("latent_prior actions", actions, n * a, || {
        format!("[n={n}, A={a}] = {}", n * a)
    })
}

/// Checks the inputs of [`WorldModel::step_latent`]: `states [n, D]`, `actions [n, A]`.
pub fn check_step_inputs(
    (d, a): (usize, usize),
    states: &[f32],
    actions: &[f32],
    n: usize,
) -> Result<(), AgentError> {
    check_len("step_latent states", states, n * d, || {
        format!("[n={n}, D={d}] = {}", n * d)
    })?;
    check_len("step_latent actions", actions, n * a, || {
        format!("[n={n}, A={a}] = {}", n * a)
    })
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

/// Check the inputs of [`WorldModel::rollout_vjp`]: those of a rollout, plus
/// `states_bar [n, h, D]` and `actions_bar [n, h, A]`.
pub fn check_vjp_inputs(
    model: &dyn WorldModel,
    s0: &[f32],
    actions: &[f32],
    (n, h): (usize, usize),
    states_bar: &[f32],
    actions_bar: &[f32],
) -> Result<(), AgentError> {
    check_rollout_inputs(model, s0, actions, n, h)?;
    let (d, a) = (model.state_dim(), model.action_dim());
    check_len("rollout_vjp states_bar", states_bar, n * h * d, || {
        format!("[n={n}, h={h}, D={d}] = {}", n * h * d)
    })?;
    check_len("rollout_vjp actions_bar", actions_bar, n * h * a, || {
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

    /// Exact VJP of the linear rollout: `λ_{t+1} = s̄_{t+1} + Aᵀ λ_{t+2}`,
    /// `ā_t += Bᵀ λ_{t+1}` (the Jacobians are constant, so no forward pass is needed).
    fn rollout_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states_bar: &[f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        check_vjp_inputs(self, s0, actions, (n, h), states_bar, actions_bar)?;
        let (d, act) = (self.d, self.act);
        let (mut lambda, mut next) = (vec![0.0f32; d], vec![0.0f32; d]);
        for i in 0..n {
            lambda.fill(0.0);
            for t in (0..h).rev() {
                let k = i * h + t;
                let s_bar = &states_bar[k * d..(k + 1) * d];
                for (c, nx) in next.iter_mut().enumerate() {
                    let at_lambda: f32 = (0..d).map(|r| self.a[r * d + c] * lambda[r]).sum();
                    *nx = s_bar[c] + at_lambda;
                }
                std::mem::swap(&mut lambda, &mut next);
                for (c, ab) in actions_bar[k * act..(k + 1) * act].iter_mut().enumerate() {
                    *ab += (0..d).map(|r| self.b[r * act + c] * lambda[r]).sum::<f32>();
                }
            }
        }
        Ok(())
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
    fn deterministic_models_accept_only_latent_zero() {
        let m = LinearWorldModel::point_mass(2).unwrap();
        assert_eq!(m.latent_count(), 1);
        let acts = [1.0, 0.0, 0.5, 0.5];
        let want = m.rollout(&[0.0, 0.0], &acts, 1, 2).unwrap();
        assert_eq!(
            m.rollout_latent(&[0.0, 0.0], &acts, &[0, 0], 1, 2).unwrap(),
            want
        );
        let err = m
            .rollout_latent(&[0.0, 0.0], &acts, &[0, 1], 1, 2)
            .unwrap_err();
        assert!(err.to_string().contains("latents[0, 1]"), "{err}");
        assert!(m.rollout_latent(&[0.0, 0.0], &acts, &[0], 1, 2).is_err());
        let p = m.latent_prior(&[0.0; 6], &[0.0; 6], 3).unwrap();
        assert_eq!(p, vec![1.0; 3]);
        assert!(m.latent_prior(&[0.0; 5], &[0.0; 6], 3).is_err());
    }

    #[test]
    fn linear_rollout_rejects_bad_shapes() {
        let m = LinearWorldModel::point_mass(2).unwrap();
        let err = m.rollout(&[0.0, 0.0], &[1.0; 5], 1, 3).unwrap_err();
        assert!(err.to_string().contains("rollout actions"), "{err}");
        assert!(LinearWorldModel::new(vec![1.0; 3], vec![1.0; 2], 2, 1).is_err());
    }
}
