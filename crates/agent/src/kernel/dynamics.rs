//! Latent dynamics on the dense MLP kernel: `s' = MLP([s, c·a])` (plain) or
//! `s' = s + MLP([s, c·a])` (residual, the JEPA predictor of [`ami_jepa::Jepa::predict`]),
//! each planned action held for `repeat` steps; a batched rollout with reusable buffers and,
//! on request, a tape of every step's activations for the backward pass.
//!
//! **Latent branches.** The latent-variable predictor `Pred(s, a, z) = s + MLP([s, c·a, z])`
//! with a one-hot `z = e_j` ([`ami_jepa::LatentConfig`]) needs no wider product: the first
//! layer's pre-activation is `[x, e_j] W_1 + b_1 = x W_1' + (b_1 + w_j)`, with `W_1'` the first
//! `D + A` rows of `W_1` and `w_j` its row `D + A + j`. [`DenseDynamics::with_latents`] keeps
//! `W_1'` in the MLP and the rows `w_j` apart; a latent rollout
//! ([`DenseDynamics::rollout_latent_into`]) adds `w_{z_{i,t}}` to each candidate's row as a
//! per-row bias. The deterministic path is the same code as before (no extra work).

use std::sync::Mutex;

use rayon::prelude::*;

use super::adjoint::VjpWorkspace;
use super::dense_mlp::{Activations, DenseMlp};
use super::gemm::{Threads, PARALLEL_MIN_MACS};
use crate::error::AgentError;
use crate::world_model::{check_rollout_inputs, check_vjp_inputs, Cotangent, WorldModel};

/// How the MLP output becomes the next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `s' = MLP([s, c·a])`.
    Plain,
    /// `s' = s + MLP([s, c·a])`.
    Residual,
}

/// A dense-kernel dynamics model `f(s, a)` with action scale `c` and action repeat `r`.
#[derive(Debug, Clone)]
pub struct DenseDynamics {
    mlp: DenseMlp,
    kind: StepKind,
    action_scale: f32,
    repeat: usize,
    state_dim: usize,
    action_dim: usize,
    /// `w_j [k, H_1]`: the rows of the first weight matrix multiplying the one-hot latent
    /// (`None`: no latent).
    latent_rows: Option<Vec<f32>>,
    /// Number of latent values `k` (1 without a latent).
    latent_count: usize,
}

/// One predictor step's saved input `x = [s, c·a]` and hidden activations.
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    /// `x [n, D + A]`.
    pub x: Vec<f32>,
    /// `h_1 … h_{L-1}` of the MLP on `x`.
    pub acts: Activations,
}

/// Buffers of a rollout: the current state, the MLP output and the step records (one reused
/// record, or one per predictor step when a tape is kept).
#[derive(Debug, Clone, Default)]
pub struct RolloutWorkspace {
    state: Vec<f32>,
    out: Vec<f32>,
    /// Records of the predictor steps, in order (only the first is used without a tape).
    pub steps: Vec<StepRecord>,
    /// Workspaces of the per-core blocks of a row-split rollout.
    parts: Vec<RolloutWorkspace>,
    /// Per-row first-layer bias of a latent rollout `[n, H_1]`.
    latent_bias: Vec<f32>,
}

/// Smallest block of candidates worth a task of its own: below it a one-thread product
/// loses more to its small `m` than the split of whole rollouts saves in fork/joins.
const MIN_ROWS_PER_PART: usize = 32;

/// Number of blocks a tape-free rollout of `n` candidates is split into. Each block's whole
/// rollout runs on one core (one fork/join per rollout instead of one per product, and each
/// core's products keep their activations in its own cache). There are up to 4 blocks per
/// core, so that rayon's work stealing rebalances when another process slows one core down
/// (with exactly one block per core the plan waits for the slowest core), as long as every
/// block keeps at least [`MIN_ROWS_PER_PART`] rows and a step is a large enough product to
/// thread at all.
fn row_parts(n: usize, mlp: &DenseMlp) -> usize {
    let macs = mlp.forward_macs(n);
    let threads = rayon::current_num_threads();
    if macs < PARALLEL_MIN_MACS || threads < 2 {
        return 1;
    }
    [4, 2, 1]
        .into_iter()
        .map(|k| k * threads)
        .find(|&parts| n / parts >= MIN_ROWS_PER_PART)
        .unwrap_or(1)
}

impl DenseDynamics {
    /// `f` with input `[s (D), a (A)]` and output `D`; `action_scale` multiplies actions
    /// before the MLP, `repeat ≥ 1` predictor steps per planned action.
    pub fn new(
        mlp: DenseMlp,
        kind: StepKind,
        action_scale: f32,
        repeat: usize,
    ) -> Result<Self, AgentError> {
        let d = mlp.output_dim();
        if mlp.input_dim() <= d {
            return Err(AgentError::shape(
                "dense dynamics MLP input",
                mlp.input_dim(),
                format!("[D + A] with D = {d} (the output width) and A >= 1"),
            ));
        }
        if repeat == 0 {
            return Err(AgentError::config("action_repeat", 0, ">= 1"));
        }
        if !action_scale.is_finite() {
            return Err(AgentError::config("action_scale", action_scale, "finite"));
        }
        Ok(Self {
            action_dim: mlp.input_dim() - d,
            state_dim: d,
            mlp,
            kind,
            action_scale,
            repeat,
            latent_rows: None,
            latent_count: 1,
        })
    }

    /// `f(s, a, z)` with a one-hot latent over `k ≥ 2` values: `mlp` has input
    /// `[s (D), a (A), z (k)]` and output `D`. The latent rows of the first weight matrix are
    /// split off (see the module docs).
    pub fn with_latents(
        mlp: DenseMlp,
        kind: StepKind,
        action_scale: f32,
        repeat: usize,
        k: usize,
    ) -> Result<Self, AgentError> {
        let d = mlp.output_dim();
        if k < 2 || mlp.input_dim() <= d + k {
            return Err(AgentError::shape(
                "dense latent dynamics MLP input",
                mlp.input_dim(),
                format!("[D + A + k] with D = {d}, A >= 1 and k = {k} >= 2 latent values"),
            ));
        }
        let path = mlp.kernel_path();
        let mut layers = mlp.layers().to_vec();
        let first = &mut layers[0];
        let xa = first.fan_in - k;
        let rows = first.weight.split_off(xa * first.fan_out);
        first.fan_in = xa;
        let mlp = DenseMlp::from_layers_on(layers, path)?;
        let mut dynamics = Self::new(mlp, kind, action_scale, repeat)?;
        dynamics.latent_rows = Some(rows);
        dynamics.latent_count = k;
        Ok(dynamics)
    }

    /// Number of values of the latent (1: deterministic).
    pub fn latent_count(&self) -> usize {
        self.latent_count
    }

    /// The MLP.
    pub fn mlp(&self) -> &DenseMlp {
        &self.mlp
    }

    /// Plain or residual step.
    pub fn kind(&self) -> StepKind {
        self.kind
    }

    /// Multiplier `c` of the actions.
    pub fn action_scale(&self) -> f32 {
        self.action_scale
    }

    /// Predictor steps per planned action.
    pub fn repeat(&self) -> usize {
        self.repeat
    }

    /// `D`.
    pub fn state_dim(&self) -> usize {
        self.state_dim
    }

    /// `A`.
    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// Rolls `n` sequences of `h` actions from `s0`; writes the state after each planned
    /// action into `states`. With `tape`, keeps every predictor step's record in `ws.steps`
    /// (step `k` applies action `k / repeat`).
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `states [n, h, D]`.
    pub fn rollout_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        ws: &mut RolloutWorkspace,
        tape: bool,
        states: &mut [f32],
    ) -> Result<(), AgentError> {
        self.rollout_split(s0, actions, None, (n, h), ws, tape, states)
    }

    /// [`Self::rollout_into`] with one latent index per candidate and planned action:
    /// `s_{i,t+1} = f(s_{i,t}, a_{i,t}, e_{z_{i,t}})`, the same `z_{i,t}` for the `repeat`
    /// predictor steps of the action. A model without a latent accepts only `z = 0`.
    ///
    /// # Shapes
    /// `s0 [D]`, `actions [n, h, A]`, `latents [n, h]` (each `< k`), `states [n, h, D]`.
    #[allow(clippy::too_many_arguments)]
    pub fn rollout_latent_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        (n, h): (usize, usize),
        ws: &mut RolloutWorkspace,
        tape: bool,
        states: &mut [f32],
    ) -> Result<(), AgentError> {
        crate::world_model::check_latents(latents, n, h, self.latent_count)?;
        self.rollout_split(s0, actions, Some(latents), (n, h), ws, tape, states)
    }

    /// The rollout, split across cores when large enough (see [`row_parts`]).
    #[allow(clippy::too_many_arguments)]
    fn rollout_split(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: Option<&[u32]>,
        (n, h): (usize, usize),
        ws: &mut RolloutWorkspace,
        tape: bool,
        states: &mut [f32],
    ) -> Result<(), AgentError> {
        self.check_rollout_shapes(s0, actions, (n, h), states)?;
        let (d, a) = (self.state_dim, self.action_dim);
        let parts = if tape { 1 } else { row_parts(n, &self.mlp) };
        if parts > 1 {
            let chunk = n.div_ceil(parts);
            let blocks = n.div_ceil(chunk);
            let zs: Vec<Option<&[u32]>> = (0..blocks)
                .map(|p| latents.map(|z| &z[p * chunk * h..((p + 1) * chunk).min(n) * h]))
                .collect();
            ws.parts.resize_with(parts, RolloutWorkspace::default);
            return ws.parts[..blocks]
                .par_iter_mut()
                .zip(states.par_chunks_mut(chunk * h * d))
                .zip(actions.par_chunks(chunk * h * a))
                .zip(zs.into_par_iter())
                .try_for_each(|(((w, st), ac), z)| {
                    let rows = st.len() / (h * d);
                    let one = Some(Threads::One);
                    self.rollout_block_impl(s0, ac, z, (rows, h), w, false, st, one)
                });
        }
        self.rollout_block_impl(s0, actions, latents, (n, h), ws, tape, states, None)
    }

    /// [`Self::rollout_into`] without splitting the candidates across cores, every product
    /// on `threads` (`None`: chosen per shape). For callers that split the work themselves
    /// and pass `Some(Threads::One)` per block, or that need the tape of one unsplit rollout
    /// on a given threading (the gradient plan of `ami-bench`).
    ///
    /// # Shapes
    /// As [`Self::rollout_into`].
    #[allow(clippy::too_many_arguments)]
    pub fn rollout_block(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        ws: &mut RolloutWorkspace,
        tape: bool,
        states: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.rollout_block_impl(s0, actions, None, (n, h), ws, tape, states, threads)
    }

    /// [`Self::rollout_block`] with optional latents `[n, h]` (`None`: branch 0 of a latent
    /// model).
    #[allow(clippy::too_many_arguments)]
    fn rollout_block_impl(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: Option<&[u32]>,
        (n, h): (usize, usize),
        ws: &mut RolloutWorkspace,
        tape: bool,
        states: &mut [f32],
        threads: Option<Threads>,
    ) -> Result<(), AgentError> {
        self.check_rollout_shapes(s0, actions, (n, h), states)?;
        let (d, r) = (self.state_dim, self.repeat);
        self.size_workspace(ws, n, if tape { h * r } else { 1 });
        for row in ws.state.chunks_exact_mut(d) {
            row.copy_from_slice(s0);
        }
        for k in 0..h * r {
            let t = k / r;
            let rec = &mut ws.steps[if tape { k } else { 0 }];
            self.fill_input(&mut rec.x, &ws.state, actions, (n, h, t));
            match &self.latent_rows {
                None => self
                    .mlp
                    .forward_with(&rec.x, n, &mut rec.acts, &mut ws.out, threads)?,
                Some(rows) => {
                    if k % r == 0 {
                        let width = self.mlp.layers()[0].fan_out;
                        let bias = &mut ws.latent_bias;
                        fill_latent_bias(bias, (rows, width), latents, (n, h, t));
                    }
                    let (x, bias) = (&rec.x, &ws.latent_bias);
                    self.mlp.forward_with_row_bias(
                        x,
                        n,
                        bias,
                        &mut rec.acts,
                        &mut ws.out,
                        threads,
                    )?
                }
            }
            match self.kind {
                StepKind::Plain => ws.state.copy_from_slice(&ws.out),
                StepKind::Residual => ws.state.iter_mut().zip(&ws.out).for_each(|(s, o)| *s += o),
            }
            if k % r == r - 1 {
                for (i, s) in ws.state.chunks_exact(d).enumerate() {
                    states[(i * h + t) * d..(i * h + t + 1) * d].copy_from_slice(s);
                }
            }
        }
        Ok(())
    }

    /// Checks `s0 [D]`, `actions [n, h, A]` and `states [n, h, D]`.
    fn check_rollout_shapes(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states: &[f32],
    ) -> Result<(), AgentError> {
        let (d, a) = (self.state_dim, self.action_dim);
        if s0.len() != d || actions.len() != n * h * a || states.len() != n * h * d {
            return Err(AgentError::shape(
                "dense rollout s0/actions/states",
                actions.len(),
                format!("s0 [{d}], actions [n={n}, h={h}, A={a}], states [{n}, {h}, {d}]"),
            ));
        }
        Ok(())
    }

    /// Sizes `ws` for `n` rows and `records` step records (no allocation when sized).
    fn size_workspace(&self, ws: &mut RolloutWorkspace, n: usize, records: usize) {
        let d = self.state_dim;
        ws.state.resize(n * d, 0.0);
        ws.out.resize(n * d, 0.0);
        if ws.steps.len() < records {
            ws.steps.resize_with(records, StepRecord::default);
        }
        for rec in &mut ws.steps[..records] {
            rec.x.resize(n * (d + self.action_dim), 0.0);
            self.mlp.size_activations(&mut rec.acts, n);
        }
    }

    /// `x_i = [s_i, c · a_{i,t}]`.
    fn fill_input(
        &self,
        x: &mut [f32],
        state: &[f32],
        actions: &[f32],
        (n, h, t): (usize, usize, usize),
    ) {
        let (d, a) = (self.state_dim, self.action_dim);
        for (i, (row, s)) in x
            .chunks_exact_mut(d + a)
            .zip(state.chunks_exact(d))
            .enumerate()
            .take(n)
        {
            row[..d].copy_from_slice(s);
            let act = &actions[(i * h + t) * a..(i * h + t + 1) * a];
            row[d..]
                .iter_mut()
                .zip(act)
                .for_each(|(x, u)| *x = self.action_scale * u);
        }
    }
}

/// `bias_i = w_{z_{i,t}}` (`z = 0` without latents), for the `n` rows of step `t`.
///
/// # Shapes
/// `rows [k, width]`, `latents [n, h]`, `bias [n, width]` (resized).
fn fill_latent_bias(
    bias: &mut Vec<f32>,
    (rows, width): (&[f32], usize),
    latents: Option<&[u32]>,
    (n, h, t): (usize, usize, usize),
) {
    bias.resize(n * width, 0.0);
    for (i, dst) in bias.chunks_exact_mut(width).enumerate() {
        let z = latents.map_or(0, |z| z[i * h + t] as usize);
        dst.copy_from_slice(&rows[z * width..(z + 1) * width]);
    }
}

/// [`DenseDynamics`] as a planner's [`WorldModel`], owning its reusable buffers.
#[derive(Debug)]
pub struct DenseWorldModel {
    dynamics: DenseDynamics,
    workspace: Mutex<RolloutWorkspace>,
    /// Buffers of the taped rollouts of the vector–Jacobian products.
    vjp: Mutex<VjpWorkspace>,
}

impl DenseWorldModel {
    /// Wraps `dynamics` with empty buffers (sized by the first rollout).
    pub fn new(dynamics: DenseDynamics) -> Self {
        Self {
            dynamics,
            workspace: Mutex::new(RolloutWorkspace::default()),
            vjp: Mutex::new(VjpWorkspace::default()),
        }
    }

    fn rollout_workspace(&self) -> Result<std::sync::MutexGuard<'_, RolloutWorkspace>, AgentError> {
        self.workspace
            .lock()
            .map_err(|_| AgentError::WorldModel("rollout buffers poisoned by a panic".into()))
    }

    fn vjp_workspace(&self) -> Result<std::sync::MutexGuard<'_, VjpWorkspace>, AgentError> {
        self.vjp
            .lock()
            .map_err(|_| AgentError::WorldModel("VJP buffers poisoned by a panic".into()))
    }

    /// The dynamics.
    pub fn dynamics(&self) -> &DenseDynamics {
        &self.dynamics
    }
}

impl WorldModel for DenseWorldModel {
    fn state_dim(&self) -> usize {
        self.dynamics.state_dim
    }

    fn action_dim(&self) -> usize {
        self.dynamics.action_dim
    }

    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let mut states = Vec::new();
        self.rollout_into(s0, actions, (n, h), &mut states)?;
        Ok(states)
    }

    fn rollout_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        states.resize(n * h * self.dynamics.state_dim, 0.0);
        let mut ws = self.rollout_workspace()?;
        self.dynamics
            .rollout_into(s0, actions, (n, h), &mut ws, false, states)
    }

    fn latent_count(&self) -> usize {
        self.dynamics.latent_count
    }

    fn rollout_latent(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let mut states = Vec::new();
        self.rollout_latent_into(s0, actions, latents, (n, h), &mut states)?;
        Ok(states)
    }

    /// Each candidate's first-layer pre-activation gets its branch's latent row (module docs).
    fn rollout_latent_into(
        &self,
        s0: &[f32],
        actions: &[f32],
        latents: &[u32],
        (n, h): (usize, usize),
        states: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        states.resize(n * h * self.dynamics.state_dim, 0.0);
        let mut ws = self.rollout_workspace()?;
        self.dynamics
            .rollout_latent_into(s0, actions, latents, (n, h), &mut ws, false, states)
    }

    /// Exact VJP through a taped rollout ([`super::adjoint`]).
    fn rollout_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        states_bar: &[f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        check_vjp_inputs(self, s0, actions, (n, h), states_bar, actions_bar)?;
        let mut ws = self.vjp_workspace()?;
        let d = &self.dynamics;
        d.rollout_vjp_with(s0, actions, (n, h), &mut ws, states_bar, actions_bar, None)
    }

    /// One taped rollout, then the backward pass through it ([`super::adjoint`]).
    fn rollout_and_vjp(
        &self,
        s0: &[f32],
        actions: &[f32],
        (n, h): (usize, usize),
        cotangent: &mut Cotangent<'_>,
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        check_rollout_inputs(self, s0, actions, n, h)?;
        let mut ws = self.vjp_workspace()?;
        let d = &self.dynamics;
        d.rollout_and_vjp_with(s0, actions, (n, h), &mut ws, cotangent, actions_bar, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::dense_mlp::tests::assert_close;
    use ami_jepa::burn::tensor::{Device, Distribution, Tensor, TensorData};
    use ami_jepa::mlp::Mlp;

    /// Plain dynamics on odd shapes against burn: `s' = MLP([s, c·a])`, repeat 2.
    #[test]
    fn plain_rollout_matches_burn_loop() {
        let dev = Device::flex();
        dev.seed(21);
        let (d, a, n, h, c) = (5, 3, 4, 3, 0.7f32);
        let mlp = Mlp::new(&[d + a, 11, d], &dev);
        let acts = Tensor::<3>::random([n, h, a], Distribution::Normal(0.0, 1.0), &dev);
        let s0: Vec<f32> = (0..d).map(|i| i as f32 * 0.3 - 0.5).collect();
        let mut s =
            Tensor::<2>::from_data(TensorData::new(s0.clone(), [1, d]), &dev).repeat_dim(0, n);
        let mut want = Vec::new();
        for t in 0..h {
            let at = acts.clone().narrow(1, t, 1).reshape([n, a]).mul_scalar(c);
            for _ in 0..2 {
                s = mlp.forward(Tensor::cat(vec![s, at.clone()], 1));
            }
            want.push(s.clone());
        }
        let want = Tensor::stack::<3>(want, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let dense = DenseMlp::from_mlp(&mlp).unwrap();
        let model = DenseWorldModel::new(DenseDynamics::new(dense, StepKind::Plain, c, 2).unwrap());
        let actions = acts.into_data().try_to_vec::<f32>().unwrap();
        let got = model.rollout(&s0, &actions, n, h).unwrap();
        assert_close(&got, &want, 1e-4);
        // Buffers are reused: a second, smaller call gives the same prefix states.
        let again = model.rollout(&s0, &actions[..h * a], 1, h).unwrap();
        assert_close(&again, &want[..h * d], 1e-5);
        assert!(model.rollout(&s0, &actions[1..], n, h).is_err());
    }

    #[test]
    fn row_split_rollout_matches_one_candidate_at_a_time() {
        let dev = Device::flex();
        dev.seed(22);
        let (d, a, n, h) = (32, 2, 256, 3);
        let mlp = Mlp::new(&[d + a, 96, 96, d], &dev);
        let dense = DenseMlp::from_mlp(&mlp).unwrap();
        assert!(
            rayon::current_num_threads() < 2 || row_parts(n, &dense) >= 2,
            "the test must exercise the split"
        );
        let model =
            DenseWorldModel::new(DenseDynamics::new(dense, StepKind::Residual, 0.5, 1).unwrap());
        let s0: Vec<f32> = (0..d).map(|i| (i as f32 * 0.21).sin()).collect();
        let actions: Vec<f32> = (0..n * h * a).map(|i| (i as f32 * 0.37).cos()).collect();
        let mut all = Vec::new();
        model.rollout_into(&s0, &actions, (n, h), &mut all).unwrap();
        for i in [0, 1, 127, 128, 200, 255] {
            let one = model
                .rollout(&s0, &actions[i * h * a..(i + 1) * h * a], 1, h)
                .unwrap();
            assert_close(&all[i * h * d..(i + 1) * h * d], &one, 1e-5);
        }
    }
}
