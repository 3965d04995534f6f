//! The actor's planners: trajectory optimisers that minimise the total cost of imagined
//! rollouts (DESIGN.md §1 "acting is inference by energy minimisation"; REFERENCE.md §14
//! "Planners") — by sampling (MPPI, CEM), by gradient descent through the world model
//! (gradient), or both (cem+gradient).
//!
//! A planner owns its warm-start mean plan `U [h, A]`, a seeded random stream and all sample
//! buffers; model-predictive control is `plan` → execute the first action → [`Planner::shift`]
//! → `plan` again.

mod adam;
mod beam;
mod cem;
mod cem_gradient;
mod escape;
mod gradient;
mod graph;
mod hierarchical;
mod imagined;
mod mcts;
mod mppi;
#[cfg(test)]
mod test_doubles;

pub use adam::Adam;
pub use beam::{Beam, BeamConfig};
pub use cem::{Cem, CemConfig};
pub use cem_gradient::{CemGradient, CemGradientConfig};
pub use escape::Escape;
pub use gradient::{Gradient, GradientConfig};
pub use graph::{GraphConfig, GraphPlanner, NoRoute};
pub use hierarchical::{search_level2, DeadEnd, Hierarchical, HierarchicalConfig, Level2Plan};
pub use imagined::{crosses, farthest_points, random_walks, ImaginedConfig, ImaginedGraphPlanner};
pub use mcts::{Mcts, MctsConfig};
pub use mppi::{Mppi, MppiConfig};

use ami_sampling::box_muller;
use rand::rngs::StdRng;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, RolloutBatch};
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// The result of one planning call: the optimised mean action sequence and what the world
/// model predicts it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Planned actions, row-major `[h, A]`; execute the first row.
    pub actions: Vec<f32>,
    /// Predicted states after each action, row-major `[h, D]` (empty for an actor that does
    /// not imagine: the amortised policy acting alone).
    pub predicted_states: Vec<f32>,
    /// Total cost `C(τ)` of the plan (NaN when nothing was imagined).
    pub cost: f32,
    /// Weighted contribution of every cost term (sums to `cost`).
    pub cost_breakdown: Vec<(String, f32)>,
    /// Number of optimisation iterations run.
    pub iterations: usize,
    /// `false` when no candidate the planner found satisfies the guardrails: `actions` are
    /// then the stop plan (all zeros), the safest thing to do, and the episode loop counts
    /// the event. Always `true` for a cost without guardrails.
    #[serde(default = "yes")]
    pub safe: bool,
}

fn yes() -> bool {
    true
}

/// A trajectory optimiser over action sequences of a fixed horizon.
pub trait Planner {
    /// Minimise `cost` over action sequences from `s0` under `model`, warm-started from the
    /// stored mean plan.
    ///
    /// # Shapes
    /// `s0 [D]` → [`Plan`] with `actions [h, A]`, `predicted_states [h, D]`.
    fn plan(&mut self, s0: &[f32], cost: &Cost, model: &dyn WorldModel)
        -> Result<Plan, AgentError>;
    /// Warm start: drop the first `k` actions of the stored mean plan, append zeros (MPC
    /// receding horizon).
    fn shift(&mut self, k: usize);
    /// Forget the warm start (zero mean plan) and restart the random stream from the seed.
    fn reset(&mut self);
    /// Replace the stored mean plan by `actions [h, A]` (e.g. an amortised policy's rollout)
    /// for the next `plan`. Default: ignored, for planners that keep no mean plan.
    fn warm_start(&mut self, _actions: &[f32], _act_dim: usize) -> Result<(), AgentError> {
        Ok(())
    }
    /// Planning horizon `h`.
    fn horizon(&self) -> usize;
    /// The sub-goal (a representation `[D]`) the planner is heading for, for a planner that
    /// sets its own intermediate targets ([`Hierarchical`]); default `None`.
    fn subgoal(&self) -> Option<&[f32]> {
        None
    }
}

/// `[planner]`: which trajectory optimiser the actor uses, tagged by `kind`, followed by that
/// planner's own keys (`kind = "mppi"` then `samples = 256`, ...). A new planner = one file
/// implementing [`Planner`] plus one arm here and in [`PlannerConfig::build`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PlannerConfig {
    /// Model-predictive path integral control ([`Mppi`]).
    Mppi(MppiConfig),
    /// Cross-entropy method ([`Cem`]).
    Cem(CemConfig),
    /// Adam through the world model's rollout ([`Gradient`]).
    Gradient(GradientConfig),
    /// CEM, then gradient refinement of its mean ([`CemGradient`]).
    #[serde(rename = "cem+gradient")]
    CemGradient(CemGradientConfig),
    /// Beam search over the environment's discrete actions ([`Beam`]).
    Beam(BeamConfig),
    /// Tree search with chance nodes over the discrete actions and latent outcomes ([`Mcts`]).
    Mcts(MctsConfig),
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig::Mppi(MppiConfig::default())
    }
}

/// What a planner takes from the rest of a run when it is built (derived, never configured
/// twice).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanContext {
    /// Planned actions per call (`[agent] horizon`).
    pub horizon: usize,
    /// Bound on `‖a_t‖₂` (the environment's action space).
    pub max_action_norm: f32,
    /// Added to the planner's own seed (e.g. the run's seed).
    pub seed_offset: u64,
    /// The environment's discrete actions, if it has a discrete action set (search planners).
    pub action_set: Option<Vec<Vec<f32>>>,
}

impl PlannerConfig {
    /// Every registered `kind`.
    pub const KINDS: &'static [&'static str] =
        &["mppi", "cem", "gradient", "cem+gradient", "beam", "mcts"];

    /// The default settings of `kind` (`None` for an unknown kind).
    pub fn default_of(kind: &str) -> Option<Self> {
        match kind {
            "mppi" => Some(PlannerConfig::Mppi(MppiConfig::default())),
            "cem" => Some(PlannerConfig::Cem(CemConfig::default())),
            "gradient" => Some(PlannerConfig::Gradient(GradientConfig::default())),
            "cem+gradient" => Some(PlannerConfig::CemGradient(CemGradientConfig::default())),
            "beam" => Some(PlannerConfig::Beam(BeamConfig::default())),
            "mcts" => Some(PlannerConfig::Mcts(MctsConfig::default())),
            _ => None,
        }
    }

    /// The registered name of this planner.
    pub fn kind(&self) -> &'static str {
        match self {
            PlannerConfig::Mppi(_) => "mppi",
            PlannerConfig::Cem(_) => "cem",
            PlannerConfig::Gradient(_) => "gradient",
            PlannerConfig::CemGradient(_) => "cem+gradient",
            PlannerConfig::Beam(_) => "beam",
            PlannerConfig::Mcts(_) => "mcts",
        }
    }

    /// Checks the planner's own settings (with the default horizon and bound).
    pub fn validate(&self) -> Result<(), AgentError> {
        match self {
            PlannerConfig::Mppi(c) => c.validate(),
            PlannerConfig::Cem(c) => c.validate(),
            PlannerConfig::Gradient(c) => c.validate(),
            PlannerConfig::CemGradient(c) => c.validate(),
            PlannerConfig::Beam(c) => c.validate(),
            PlannerConfig::Mcts(c) => c.validate(),
        }
    }

    /// The planner, with the horizon, action bound and seed offset of `ctx`.
    pub fn build(&self, ctx: PlanContext) -> Result<Box<dyn Planner>, AgentError> {
        Ok(match self {
            PlannerConfig::Mppi(c) => Box::new(Mppi::new(MppiConfig {
                horizon: ctx.horizon,
                max_action_norm: ctx.max_action_norm,
                seed: c.seed.wrapping_add(ctx.seed_offset),
                ..c.clone()
            })?),
            PlannerConfig::Cem(c) => Box::new(Cem::new(CemConfig {
                horizon: ctx.horizon,
                max_action_norm: ctx.max_action_norm,
                seed: c.seed.wrapping_add(ctx.seed_offset),
                ..c.clone()
            })?),
            PlannerConfig::Gradient(c) => Box::new(Gradient::new(GradientConfig {
                horizon: ctx.horizon,
                max_action_norm: ctx.max_action_norm,
                seed: c.seed.wrapping_add(ctx.seed_offset),
                ..c.clone()
            })?),
            PlannerConfig::CemGradient(c) => {
                let mut c = c.clone();
                (c.horizon, c.max_action_norm) = (ctx.horizon, ctx.max_action_norm);
                c.cem.seed = c.cem.seed.wrapping_add(ctx.seed_offset);
                c.gradient.seed = c.gradient.seed.wrapping_add(ctx.seed_offset);
                Box::new(CemGradient::new(c)?)
            }
            PlannerConfig::Beam(c) => Box::new(Beam::new(BeamConfig {
                horizon: ctx.horizon,
                actions: ctx.action_set.clone().unwrap_or_default(),
                ..c.clone()
            })?),
            PlannerConfig::Mcts(c) => Box::new(Mcts::new(MctsConfig {
                horizon: ctx.horizon,
                actions: ctx.action_set.clone().unwrap_or_default(),
                ..c.clone()
            })?),
        })
    }
}

/// Action constraint: each `a_t` is projected onto the ball `‖a_t‖₂ ≤ max_norm`
/// (`a_t ← a_t · max_norm / ‖a_t‖₂` when outside; direction kept).
///
/// # Shapes
/// `a [.., A]` with `A = act_dim`; a trailing partial row (if any) is left unchanged.
pub fn project_to_ball(a: &mut [f32], act_dim: usize, max_norm: f32) {
    if act_dim == 0 {
        return;
    }
    for row in a.chunks_exact_mut(act_dim) {
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm > f64::from(max_norm) {
            let scale = f64::from(max_norm) / norm;
            row.iter_mut()
                .for_each(|x| *x = (f64::from(*x) * scale) as f32);
        }
    }
}

/// Fill `buf` with independent standard normal samples: each pair of entries is
/// [`box_muller`]`(u₁, u₂)` rounded to f32, with `u₁ = 1 − U ∈ (0, 1]` (so `ln u₁` is finite)
/// and `u₂ = U'`, two uniforms of `rng` per pair (an odd tail keeps the cosine output).
pub(crate) fn fill_standard_normal(rng: &mut StdRng, buf: &mut [f32]) {
    for pair in buf.chunks_mut(2) {
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen::<f64>();
        let (z0, z1) = box_muller(u1, u2);
        pair[0] = z0 as f32;
        if let Some(p1) = pair.get_mut(1) {
            *p1 = z1 as f32;
        }
    }
}

/// Receding horizon: drop the first `k` rows of `mean [h, A]`, fill the tail with zeros.
pub(crate) fn shift_mean(mean: &mut [f32], act_dim: usize, k: usize) {
    let drop = (k * act_dim).min(mean.len());
    mean.copy_within(drop.., 0);
    let keep = mean.len() - drop;
    mean[keep..].fill(0.0);
}

/// Buffers reused across iterations and calls: `noise`, `candidates [n, h, A]`, `costs [n]`,
/// and `rejected [n]` (the candidate violates a guardrail; all `false` without guardrails).
#[derive(Debug, Default, Clone)]
pub(crate) struct SampleBuffers {
    pub noise: Vec<f32>,
    pub candidates: Vec<f32>,
    pub costs: Vec<f32>,
    pub rejected: Vec<bool>,
    /// Predicted states `[n, h, D]` of the last evaluation (reused).
    pub states: Vec<f32>,
}

/// Candidates per block below which the cost is evaluated on the calling thread only.
const MIN_COST_BLOCK: usize = 32;

impl SampleBuffers {
    /// Resize for `n` candidates of `h` steps of `A`-dimensional actions (no-op when sized).
    pub fn ensure(&mut self, n: usize, h: usize, act_dim: usize) {
        self.noise.resize(n * h * act_dim, 0.0);
        self.candidates.resize(n * h * act_dim, 0.0);
        self.costs.resize(n, 0.0);
        self.rejected.resize(n, false);
    }

    /// The cheapest candidate that no guardrail rejects, as `(actions [h, A], cost)`.
    pub fn best_safe(&self) -> Option<(&[f32], f32)> {
        let n = self.costs.len();
        if n == 0 {
            return None;
        }
        let row = self.candidates.len() / n;
        (0..n)
            .filter(|&i| !self.rejected[i])
            .min_by(|&i, &j| self.costs[i].total_cmp(&self.costs[j]))
            .map(|i| (&self.candidates[i * row..(i + 1) * row], self.costs[i]))
    }

    /// Roll out `candidates` and write their total costs into `costs`; errors on wrong
    /// shapes or non-finite costs (`what` names the planner and iteration).
    pub fn evaluate(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
        h: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), AgentError> {
        let (n, d, a) = (self.costs.len(), model.state_dim(), model.action_dim());
        if model.latent_count() > 1 {
            let (costs, rejected, states) =
                evaluate_branches(s0, &self.candidates, (n, h), cost, model)?;
            (self.costs, self.rejected, self.states) = (costs, rejected, states);
        } else {
            self.evaluate_one_branch(s0, cost, model, (n, h, d, a))?;
        }
        match self.costs.iter().position(|c| !c.is_finite()) {
            None => Ok(()),
            Some(i) => Err(AgentError::NonFinite {
                what: format!("{} cost of candidate {i}", what()),
            }),
        }
    }

    /// [`SampleBuffers::evaluate`] for a deterministic world model: one rollout per
    /// candidate, costs on all cores by blocks, guardrail verdicts.
    fn evaluate_one_branch(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
        (n, h, d, a): (usize, usize, usize, usize),
    ) -> Result<(), AgentError> {
        model.rollout_into(s0, &self.candidates, (n, h), &mut self.states)?;
        check_rollout_output(&self.states, n, h, d)?;
        cost_in_blocks(
            s0,
            &self.states,
            &self.candidates,
            (h, d, a),
            cost,
            &mut self.costs,
        )?;
        if cost.has_guardrails() {
            let batch = RolloutBatch::new(&self.states, &self.candidates, (n, h), (d, a))?
                .with_start(s0)?;
            self.rejected = cost.violations(&batch)?;
        } else {
            self.rejected.fill(false);
        }
        Ok(())
    }
}

/// Total costs `costs [n]` of the rollouts `states [n, h, D]` of `actions [n, h, A]` from
/// `s0`. Cost terms are per candidate, so above [`MIN_COST_BLOCK`] candidates per core the
/// candidates are split into blocks evaluated on all cores (same result as one batch).
pub(crate) fn cost_in_blocks(
    s0: &[f32],
    states: &[f32],
    actions: &[f32],
    (h, d, a): (usize, usize, usize),
    cost: &Cost,
    costs: &mut [f32],
) -> Result<(), AgentError> {
    let n = costs.len();
    let parts = rayon::current_num_threads().min(n / MIN_COST_BLOCK);
    if parts > 1 && h * d * a > 0 {
        let chunk = n.div_ceil(parts);
        costs
            .par_chunks_mut(chunk)
            .zip(states.par_chunks(chunk * h * d))
            .zip(actions.par_chunks(chunk * h * a))
            .try_for_each(|((c, st), ac)| {
                let batch = RolloutBatch::new(st, ac, (c.len(), h), (d, a))?.with_start(s0)?;
                cost.evaluate_into(&batch, c)
            })
    } else {
        let batch = RolloutBatch::new(states, actions, (n, h), (d, a))?.with_start(s0)?;
        cost.evaluate_into(&batch, costs)
    }
}

/// `(costs [n], rejected [n], states of branch 0 [n, h, D])` of [`evaluate_branches`].
pub(crate) type BranchCosts = (Vec<f32>, Vec<bool>, Vec<f32>);

/// Costs of `n` candidates `[n, h, A]` under a latent-variable world model with `K > 1`
/// values of `z` ([`crate::risk`]): every candidate is rolled out once per latent path of the
/// cost's [`LatentPaths`](crate::LatentPaths) (the `K` held paths, or `S` paths sampled from
/// the prior), each path costed, and the path costs aggregated with the cost's
/// [`Risk`](crate::Risk) — weighted by the prior `q(z | s0, a_0)` of the candidate's first
/// action for held paths, equally for sampled ones. A candidate is rejected when any path
/// violates a guardrail (guardrails hold on every imagined future). Returns `(costs [n],
/// rejected [n], states of path 0 [n, h, D])`.
pub(crate) fn evaluate_branches(
    s0: &[f32],
    candidates: &[f32],
    (n, h): (usize, usize),
    cost: &Cost,
    model: &dyn WorldModel,
) -> Result<BranchCosts, AgentError> {
    let (d, a) = (model.state_dim(), model.action_dim());
    let row = h * a;
    if candidates.len() != n * row {
        return Err(AgentError::shape(
            "planner candidates",
            candidates.len(),
            format!("[n={n}, h={h}, A={a}]"),
        ));
    }
    let paths = cost.latent_paths().paths(s0, h, model)?;
    let k = paths.count;
    let mut expanded = Vec::with_capacity(n * k * row);
    let mut latents = Vec::with_capacity(n * k * h);
    for c in candidates.chunks_exact(row.max(1)) {
        for path in paths.latents.chunks_exact(h.max(1)) {
            expanded.extend_from_slice(c);
            latents.extend_from_slice(path);
        }
    }
    let mut states = Vec::new();
    model.rollout_latent_into(s0, &expanded, &latents, (n * k, h), &mut states)?;
    check_rollout_output(&states, n * k, h, d)?;
    let batch = RolloutBatch::new(&states, &expanded, (n * k, h), (d, a))?.with_start(s0)?;
    let mut branch = vec![0.0; n * k];
    cost.evaluate_into(&batch, &mut branch)?;
    let violations = if cost.has_guardrails() {
        cost.violations(&batch)?
    } else {
        vec![false; n * k]
    };
    let probs = match &paths.weights {
        Some(w) => (0..n).flat_map(|_| w.iter().copied()).collect(),
        None => {
            let starts: Vec<f32> = (0..n).flat_map(|_| s0.iter().copied()).collect();
            let first: Vec<f32> = candidates
                .chunks_exact(row.max(1))
                .flat_map(|c| c[..a].iter().copied())
                .collect();
            model.latent_prior(&starts, &first, n)?
        }
    };
    let mut costs = Vec::with_capacity(n);
    for i in 0..n {
        costs.push(
            cost.risk()
                .aggregate(&branch[i * k..(i + 1) * k], &probs[i * k..(i + 1) * k])?,
        );
    }
    let rejected = violations
        .chunks_exact(k)
        .map(|v| v.iter().any(|&x| x))
        .collect();
    let mut first_branch = Vec::with_capacity(n * h * d);
    for i in 0..n {
        first_branch.extend_from_slice(&states[i * k * h * d..(i * k + 1) * h * d]);
    }
    Ok((costs, rejected, first_branch))
}

fn check_rollout_output(states: &[f32], n: usize, h: usize, d: usize) -> Result<(), AgentError> {
    if states.len() == n * h * d {
        Ok(())
    } else {
        Err(AgentError::shape(
            "world model rollout output",
            states.len(),
            format!("[n={n}, h={h}, D={d}]"),
        ))
    }
}

/// Common checks at the start of `plan`: `s0 [D]`, `A ≥ 1`, cost terms fit `(D, A)`.
/// Returns `A`.
pub(crate) fn check_plan_inputs(
    s0: &[f32],
    cost: &Cost,
    model: &dyn WorldModel,
) -> Result<usize, AgentError> {
    let (d, a) = (model.state_dim(), model.action_dim());
    if s0.len() != d {
        return Err(AgentError::shape("plan s0", s0.len(), format!("[D={d}]")));
    }
    if a == 0 {
        return Err(AgentError::WorldModel("action_dim is 0".into()));
    }
    cost.check_dims(d, a)?;
    Ok(a)
}

/// Re-evaluate the final mean plan with one rollout and package it as a [`Plan`].
///
/// With guardrails, a mean plan they reject is never returned as safe: it is replaced by the
/// cheapest safe candidate of `samples` (the last evaluated set, if any), and when there is
/// none by the stop plan (all-zero actions) with `safe = false`. Planners should continue
/// from the returned actions (their warm start).
pub(crate) fn final_plan(
    s0: &[f32],
    mean: &[f32],
    cost: &Cost,
    model: &dyn WorldModel,
    h: usize,
    iterations: usize,
    samples: Option<&SampleBuffers>,
) -> Result<Plan, AgentError> {
    let plan = package_plan(s0, mean, cost, model, h, iterations)?;
    if plan.safe {
        return Ok(plan);
    }
    if let Some((best, _)) = samples.and_then(SampleBuffers::best_safe) {
        let alt = package_plan(s0, best, cost, model, h, iterations)?;
        if alt.safe {
            return Ok(alt);
        }
    }
    let stop = vec![0.0; mean.len()];
    let mut plan = package_plan(s0, &stop, cost, model, h, iterations)?;
    plan.safe = false;
    Ok(plan)
}

/// One rollout of `actions`, its cost, breakdown and guardrail verdict (with a latent model:
/// the predicted states and breakdown of branch 0, the cost aggregated over the branches and
/// the verdict of all of them, [`evaluate_branches`]).
fn package_plan(
    s0: &[f32],
    mean: &[f32],
    cost: &Cost,
    model: &dyn WorldModel,
    h: usize,
    iterations: usize,
) -> Result<Plan, AgentError> {
    let (d, a) = (model.state_dim(), model.action_dim());
    let states = model.rollout(s0, mean, 1, h)?;
    check_rollout_output(&states, 1, h, d)?;
    if states.iter().any(|x| !x.is_finite()) {
        return Err(AgentError::NonFinite {
            what: "predicted state of the final plan".into(),
        });
    }
    let mut total = [0.0f32];
    let batch = RolloutBatch::new(&states, mean, (1, h), (d, a))?.with_start(s0)?;
    let safe = if model.latent_count() > 1 {
        // Cost and verdict over every latent branch, as the candidates were judged.
        let (c, rejected, _) = evaluate_branches(s0, mean, (1, h), cost, model)?;
        total[0] = c[0];
        !rejected[0]
    } else {
        cost.evaluate_into(&batch, &mut total)?;
        !cost.violations(&batch)?[0]
    };
    if !total[0].is_finite() {
        return Err(AgentError::NonFinite {
            what: "cost of the final plan".into(),
        });
    }
    Ok(Plan {
        actions: mean.to_vec(),
        cost_breakdown: cost.breakdown(&batch),
        predicted_states: states,
        cost: total[0],
        iterations,
        safe,
    })
}

/// `Err(InvalidConfig)` unless `value ≥ 1`.
pub(crate) fn require_positive(field: &'static str, value: usize) -> Result<(), AgentError> {
    if value >= 1 {
        Ok(())
    } else {
        Err(AgentError::config(field, value, "an integer >= 1"))
    }
}

/// `Err(InvalidConfig)` unless `value` is finite and `ok(value)`.
pub(crate) fn require_f32(
    field: &'static str,
    value: f32,
    ok: impl Fn(f32) -> bool,
    expected: &'static str,
) -> Result<(), AgentError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(AgentError::config(field, value, expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn project_inside_is_unchanged() {
        let mut a = vec![0.3, -0.4, 0.0, 1.0];
        project_to_ball(&mut a, 2, 1.0);
        assert_eq!(a, vec![0.3, -0.4, 0.0, 1.0]);
    }

    #[test]
    fn project_outside_scales_to_max_norm_keeping_direction() {
        let mut a = vec![3.0, -4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
        project_to_ball(&mut a, 4, 2.0);
        assert!((norm(&a[..4]) - 2.0).abs() < 1e-6, "{a:?}");
        assert!(
            (a[0] - 1.2).abs() < 1e-6 && (a[1] + 1.6).abs() < 1e-6,
            "{a:?}"
        );
        assert_eq!(&a[4..], &[0.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn project_zero_vector_is_ok() {
        let mut a = vec![0.0; 3];
        project_to_ball(&mut a, 3, 0.5);
        assert_eq!(a, vec![0.0; 3]);
    }

    #[test]
    fn shift_drops_first_rows_and_appends_zeros() {
        let mut m = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        shift_mean(&mut m, 2, 1);
        assert_eq!(m, vec![3.0, 4.0, 5.0, 6.0, 0.0, 0.0]);
        shift_mean(&mut m, 2, 5);
        assert_eq!(m, vec![0.0; 6]);
    }

    #[test]
    fn standard_normal_has_unit_moments() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut buf = vec![0.0f32; 20_001];
        fill_standard_normal(&mut rng, &mut buf);
        let n = buf.len() as f64;
        let mean = buf.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = buf
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }
}

#[cfg(test)]
mod branch_tests {
    use super::*;
    use crate::cost::{CostKind, CostTerm, FixedCost};
    use crate::risk::Risk;

    /// 1-D state, two futures: branch 0 `s' = s + a`, branch 1 `s' = s + a + 1` (something
    /// pushes), prior `[0.8, 0.2]` whatever the state and action.
    struct TwoFutures;

    impl WorldModel for TwoFutures {
        fn state_dim(&self) -> usize {
            1
        }
        fn action_dim(&self) -> usize {
            1
        }
        fn rollout(
            &self,
            s0: &[f32],
            a: &[f32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            self.rollout_latent(s0, a, &vec![0; n * h], n, h)
        }
        fn latent_count(&self) -> usize {
            2
        }
        fn rollout_latent(
            &self,
            s0: &[f32],
            a: &[f32],
            z: &[u32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            let mut out = Vec::with_capacity(n * h);
            for i in 0..n {
                let mut s = s0[0];
                for t in 0..h {
                    s += a[i * h + t] + z[i * h + t] as f32;
                    out.push(s);
                }
            }
            Ok(out)
        }
        fn rollout_latent_into(
            &self,
            s0: &[f32],
            a: &[f32],
            z: &[u32],
            (n, h): (usize, usize),
            states: &mut Vec<f32>,
        ) -> Result<(), AgentError> {
            *states = self.rollout_latent(s0, a, z, n, h)?;
            Ok(())
        }
        fn latent_prior(&self, _s: &[f32], _a: &[f32], n: usize) -> Result<Vec<f32>, AgentError> {
            Ok([0.8, 0.2].repeat(n))
        }
    }

    /// `Σ_t s_t²`.
    struct SumSquares;
    impl CostTerm for SumSquares {
        fn name(&self) -> &str {
            "sum_squares"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| (0..b.h()).map(|t| b.state(i, t)[0].powi(2)).sum())
                .collect()
        }
    }

    /// `(s_h − 3)²`: get to 3.
    struct ToThree;
    impl CostTerm for ToThree {
        fn name(&self) -> &str {
            "to_three"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| (b.state(i, b.h() - 1)[0] - 3.0).powi(2))
                .collect()
        }
    }

    /// Unsafe steps: `s > 2.5` (a wall).
    struct Wall;
    impl CostTerm for Wall {
        fn name(&self) -> &str {
            "wall"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| (0..b.h()).filter(|&t| b.state(i, t)[0] > 2.5).count() as f32)
                .collect()
        }
    }

    fn guarded(term: impl CostTerm + 'static, risk: Risk) -> Cost {
        let fixed = FixedCost::builder().guardrail(Wall).unwrap().build();
        Cost::with_fixed(fixed)
            .with_term(CostKind::Task, 1.0, term)
            .unwrap()
            .with_risk(risk)
    }

    #[test]
    fn branch_costs_aggregate_by_risk_and_any_violating_branch_rejects() {
        // c0 = [0, 0]: branch 0 states [0, 0], branch 1 [1, 2] → Σs² = 0 and 5.
        // c1 = [1, 1]: branch 0 [1, 2], branch 1 [2, 4] → 5 and 20 (4 > 2.5: unsafe).
        let cands = [0.0, 0.0, 1.0, 1.0];
        let plain = || {
            Cost::new()
                .with_term(CostKind::Task, 1.0, SumSquares)
                .unwrap()
        };
        for (risk, want) in [
            (Risk::Worst, [5.0, 20.0]),
            (Risk::Average, [1.0, 8.0]),
            (Risk::Cvar(0.2), [5.0, 20.0]),
        ] {
            let cost = plain().with_risk(risk);
            let (c, rej, st) =
                evaluate_branches(&[0.0], &cands, (2, 2), &cost, &TwoFutures).unwrap();
            for (got, w) in c.iter().zip(want) {
                assert!((got - w).abs() < 1e-5, "{risk}: {c:?} vs {want:?}");
            }
            assert_eq!(rej, vec![false, false]);
            assert_eq!(st, vec![0.0, 0.0, 1.0, 2.0], "branch 0 states");
        }
        let cost = guarded(SumSquares, Risk::Average);
        let (_, rej, _) = evaluate_branches(&[0.0], &cands, (2, 2), &cost, &TwoFutures).unwrap();
        assert_eq!(rej, vec![false, true]);
        // The buffers' evaluation takes the same path.
        let mut buf = SampleBuffers::default();
        buf.ensure(2, 2, 1);
        buf.candidates.copy_from_slice(&cands);
        buf.evaluate(&[0.0], &cost, &TwoFutures, 2, || "test".into())
            .unwrap();
        assert_eq!(buf.rejected, vec![false, true]);
        assert_eq!(buf.states.len(), 4);
    }

    #[test]
    fn a_plan_is_safe_on_every_branch_not_only_the_likely_one() {
        // Get to 3 with a wall at 2.5: on branch 0 alone a plan can reach 2.5; the worst
        // future adds 1 per step, so a safe plan must stay below 2.5 on that branch too.
        let cost = guarded(ToThree, Risk::Average);
        let mut planner = Mppi::new(MppiConfig {
            horizon: 3,
            max_action_norm: 1.0,
            ..MppiConfig::default()
        })
        .unwrap();
        for _ in 0..3 {
            let plan = planner.plan(&[0.0], &cost, &TwoFutures).unwrap();
            let worst = TwoFutures
                .rollout_latent(&[0.0], &plan.actions, &[1, 1, 1], 1, 3)
                .unwrap();
            if plan.safe {
                assert!(
                    worst.iter().all(|&s| s <= 2.5),
                    "{:?} → {worst:?}",
                    plan.actions
                );
            } else {
                assert!(plan.actions.iter().all(|&a| a == 0.0));
            }
            assert!(plan.safe, "a safe plan exists (e.g. all actions −0.2)");
        }
    }
}
