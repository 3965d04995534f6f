//! The cost module: a weighted sum of named cost terms (DESIGN.md §1 and §4 `CostTerm`).
//!
//! Total energy of an imagined trajectory `τ_i = (s_{i,1..h}, a_{i,0..h-1})`:
//! `C(τ_i) = Σ_k w_k · C_k(τ_i)`.
//!
//! **Immutable terms.** Intrinsic and guardrail terms are built into the agent once, as a
//! [`FixedCost`] ([`FixedCost::builder`]); a [`Cost`] holds it behind a shared, read-only
//! handle. Nothing in this API can remove, re-weight or replace them afterwards: a [`Cost`] is
//! extended only with task and critic terms ([`Cost::with_term`] rejects the other kinds) and
//! only those can be re-weighted ([`Cost::set_task_weight`]). Guardrail terms carry the fixed
//! weight [`GUARDRAIL_WEIGHT`] per violating step, and a candidate with any guardrail cost
//! `> 0` is *unsafe* ([`Cost::violations`]): planners never return it as safe.
//!
//! ```
//! use ami_agent::{ActionEnergy, Cost, CostKind, FixedCost, GoalDistance, RolloutBatch};
//! let fixed = FixedCost::builder().intrinsic(0.5, ActionEnergy)?.build();
//! let cost = Cost::with_fixed(fixed).with_term(CostKind::Task, 1.0, GoalDistance::new(vec![1.0, 0.0])?)?;
//! // One candidate, two steps: states (0, 0), (1, 0); actions (1, 2), (0, 1).
//! let batch = RolloutBatch::new(&[0.0, 0.0, 1.0, 0.0], &[1.0, 2.0, 0.0, 1.0], (1, 2), (2, 2))?;
//! assert_eq!(cost.evaluate(&batch)?, vec![0.5 * 6.0 + 1.0]);
//! // The intrinsic term can be neither added again nor re-weighted.
//! assert!(cost.with_term(CostKind::Intrinsic, 1.0, ActionEnergy).is_err());
//! # Ok::<(), ami_agent::AgentError>(())
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{check_len, AgentError};
use crate::latent_paths::LatentPaths;
use crate::risk::Risk;

/// Weight of every guardrail term: its cost (a count of violating steps) times this value
/// dominates any task cost, so a violating candidate is effectively rejected.
pub const GUARDRAIL_WEIGHT: f32 = 1.0e4;

/// One named cost term, evaluated on a batch of imagined trajectories.
pub trait CostTerm: Send + Sync {
    /// Stable name used in cost breakdowns and by [`Cost::set_task_weight`].
    fn name(&self) -> &str;

    /// Check that the term fits a world model with these dimensions (default: always).
    fn check_dims(&self, _state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        Ok(())
    }

    /// Cost of each candidate trajectory of `batch` (`[n]`). Candidates are independent:
    /// planners may evaluate them in blocks (on several cores), so `cost` of a block must equal
    /// the same rows of `cost` of the whole batch.
    fn cost(&self, batch: &RolloutBatch) -> Vec<f32>;

    /// Gradient of `Σ_i cost_i` (unweighted): **adds** `∂cost_i/∂s_{i,t}` to `states_bar`
    /// and `∂cost_i/∂a_{i,t}` to `actions_bar` for every candidate `i` and step `t` (each cost
    /// depends on its own candidate only). Gradient planners call it through
    /// [`Cost::gradient`]; a term without one returns the default,
    /// [`AgentError::TermNotDifferentiable`] naming it.
    ///
    /// # Shapes
    /// `states_bar [n, h, D]`, `actions_bar [n, h, A]` (as `batch`; see
    /// [`RolloutBatch::check_gradient_buffers`]).
    fn gradient(
        &self,
        _batch: &RolloutBatch,
        _states_bar: &mut [f32],
        _actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        Err(AgentError::TermNotDifferentiable {
            term: self.name().to_string(),
        })
    }
}

/// A batch of `n` imagined trajectories of `h` steps: the predicted states and the actions
/// that produced them (built by [`RolloutBatch::new`], which checks the buffer lengths).
///
/// # Shapes
/// `states [n, h, D]` (row `t` is the state after action `t`), `actions [n, h, A]`.
#[derive(Debug, Clone, Copy)]
pub struct RolloutBatch<'a> {
    /// The state the rollouts start from `[D]`, when known.
    start: Option<&'a [f32]>,
    /// Predicted states, row-major `[n, h, D]`.
    states: &'a [f32],
    /// Actions, row-major `[n, h, A]`.
    actions: &'a [f32],
    /// Candidates `n`.
    pub(crate) n: usize,
    /// Steps `h`.
    pub(crate) h: usize,
    /// State dimension `D`.
    pub(crate) d: usize,
    /// Action dimension `A`.
    pub(crate) a: usize,
}

impl<'a> RolloutBatch<'a> {
    /// A batch after checking both buffers against `(n, h, D, A)`.
    pub fn new(
        states: &'a [f32],
        actions: &'a [f32],
        (n, h): (usize, usize),
        (d, a): (usize, usize),
    ) -> Result<Self, AgentError> {
        check_len("cost states", states, n * h * d, || {
            format!("[n={n}, h={h}, D={d}]")
        })?;
        check_len("cost actions", actions, n * h * a, || {
            format!("[n={n}, h={h}, A={a}]")
        })?;
        Ok(RolloutBatch {
            start: None,
            states,
            actions,
            n,
            h,
            d,
            a,
        })
    }

    /// The same batch, knowing the common start state `s0 [D]` (so that terms can check the
    /// first step's segment `s0 → s_{i,0}`).
    pub fn with_start(mut self, s0: &'a [f32]) -> Result<Self, AgentError> {
        let d = self.d;
        check_len("rollout start", s0, d, || format!("[D={d}]"))?;
        self.start = Some(s0);
        Ok(self)
    }

    /// The common start state `s0 [D]`, when known.
    pub fn start(&self) -> Option<&'a [f32]> {
        self.start
    }

    /// Candidates `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Steps `h`.
    pub fn h(&self) -> usize {
        self.h
    }

    /// State dimension `D`.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Action dimension `A`.
    pub fn a(&self) -> usize {
        self.a
    }

    /// All predicted states, row-major `[n, h, D]`.
    pub fn states(&self) -> &'a [f32] {
        self.states
    }

    /// All actions, row-major `[n, h, A]`.
    pub fn actions(&self) -> &'a [f32] {
        self.actions
    }

    /// The state of candidate `i` after action `t` (`[D]`).
    pub fn state(&self, i: usize, t: usize) -> &'a [f32] {
        let k = (i * self.h + t) * self.d;
        &self.states[k..k + self.d]
    }

    /// All actions of candidate `i` (`[h, A]`).
    pub fn actions_of(&self, i: usize) -> &'a [f32] {
        let k = i * self.h * self.a;
        &self.actions[k..k + self.h * self.a]
    }

    /// Check gradient buffers against the batch: `states_bar [n, h, D]`,
    /// `actions_bar [n, h, A]`.
    pub fn check_gradient_buffers(
        &self,
        states_bar: &[f32],
        actions_bar: &[f32],
    ) -> Result<(), AgentError> {
        let (n, h, d, a) = (self.n, self.h, self.d, self.a);
        check_len("cost gradient states_bar", states_bar, n * h * d, || {
            format!("[n={n}, h={h}, D={d}]")
        })?;
        check_len("cost gradient actions_bar", actions_bar, n * h * a, || {
            format!("[n={n}, h={h}, A={a}]")
        })
    }
}

/// The role of a cost term in the architecture (DESIGN.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostKind {
    /// Hard-wired "discomfort" of the agent: weight fixed at construction.
    Intrinsic,
    /// Safety constraint expressed as a cost: weight fixed at construction.
    Guardrail,
    /// Goal for the current task (e.g. [`GoalDistance`]): re-weightable.
    Task,
    /// Trained estimate of future intrinsic cost: re-weightable.
    Critic,
}

impl CostKind {
    /// Whether the weight is fixed at construction (intrinsic and guardrail terms).
    pub fn is_immutable(self) -> bool {
        matches!(self, CostKind::Intrinsic | CostKind::Guardrail)
    }
}

struct WeightedTerm {
    kind: CostKind,
    weight: f32,
    term: Box<dyn CostTerm>,
}

/// The immutable part of an agent's cost: intrinsic terms (weights fixed `> 0`) and guardrail
/// terms (weight [`GUARDRAIL_WEIGHT`]). Built once with [`FixedCost::builder`]; no method
/// changes it afterwards.
#[derive(Default)]
pub struct FixedCost {
    terms: Vec<WeightedTerm>,
}

impl std::fmt::Debug for FixedCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .terms
            .iter()
            .map(|t| (t.term.name(), t.kind, t.weight))
            .collect();
        f.debug_list().entries(names).finish()
    }
}

/// Collects the terms of a [`FixedCost`].
#[derive(Default)]
pub struct FixedCostBuilder {
    terms: Vec<WeightedTerm>,
}

impl std::fmt::Debug for FixedCostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.terms.iter().map(|t| t.term.name()).collect();
        f.debug_struct("FixedCostBuilder")
            .field("terms", &names)
            .finish()
    }
}

impl FixedCostBuilder {
    /// Adds an intrinsic term with a finite weight `> 0` (names must be unique).
    pub fn intrinsic(self, weight: f32, term: impl CostTerm + 'static) -> Result<Self, AgentError> {
        self.push(CostKind::Intrinsic, weight, Box::new(term))
    }

    /// Adds a guardrail term (weight [`GUARDRAIL_WEIGHT`]; names must be unique).
    pub fn guardrail(self, term: impl CostTerm + 'static) -> Result<Self, AgentError> {
        self.push(CostKind::Guardrail, GUARDRAIL_WEIGHT, Box::new(term))
    }

    /// Adds a boxed term of an immutable kind.
    pub fn boxed(
        self,
        kind: CostKind,
        weight: f32,
        term: Box<dyn CostTerm>,
    ) -> Result<Self, AgentError> {
        match kind {
            CostKind::Intrinsic => self.push(kind, weight, term),
            CostKind::Guardrail => self.push(kind, GUARDRAIL_WEIGHT, term),
            _ => Err(AgentError::CostTerm {
                name: term.name().to_string(),
                msg: format!(
                    "{kind:?} terms belong to the task part of the cost (Cost::with_term)"
                ),
            }),
        }
    }

    fn push(
        mut self,
        kind: CostKind,
        weight: f32,
        term: Box<dyn CostTerm>,
    ) -> Result<Self, AgentError> {
        check_unique(self.terms.iter(), term.name())?;
        check_weight(kind, weight)?;
        self.terms.push(WeightedTerm { kind, weight, term });
        Ok(self)
    }

    /// The immutable cost, shared read-only.
    pub fn build(self) -> Arc<FixedCost> {
        Arc::new(FixedCost { terms: self.terms })
    }
}

impl FixedCost {
    /// Starts an empty set of immutable terms.
    pub fn builder() -> FixedCostBuilder {
        FixedCostBuilder::default()
    }

    /// No intrinsic or guardrail term.
    pub fn none() -> Arc<FixedCost> {
        Arc::new(FixedCost::default())
    }

    /// `(name, kind, weight)` of every term.
    pub fn terms(&self) -> impl Iterator<Item = (&str, CostKind, f32)> + '_ {
        self.terms.iter().map(|t| (t.term.name(), t.kind, t.weight))
    }

    /// Whether any guardrail term is present.
    pub fn has_guardrails(&self) -> bool {
        self.terms.iter().any(|t| t.kind == CostKind::Guardrail)
    }
}

fn check_unique<'a>(
    mut terms: impl Iterator<Item = &'a WeightedTerm>,
    name: &str,
) -> Result<(), AgentError> {
    if terms.any(|t| t.term.name() == name) {
        return Err(AgentError::CostTerm {
            name: name.to_string(),
            msg: "a term with this name already exists; names must be unique".into(),
        });
    }
    Ok(())
}

/// Weighted sum of cost terms: `C(τ) = Σ_k w_k · C_k(τ)`, the agent's [`FixedCost`] followed by
/// the task and critic terms.
#[derive(Default)]
pub struct Cost {
    fixed: Arc<FixedCost>,
    terms: Vec<WeightedTerm>,
    /// The encoded goal of the task, when the task has one (read by the critic and the
    /// amortised policy, which are conditioned on it).
    goal: Option<Vec<f32>>,
    /// How sampling planners aggregate a candidate's cost over the branches of a
    /// latent-variable world model ([`crate::risk`]; irrelevant for a deterministic model).
    risk: Risk,
    /// Which latent paths a candidate is judged on ([`crate::latent_paths`]).
    paths: LatentPaths,
}

impl std::fmt::Debug for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.terms()).finish()
    }
}

impl Cost {
    /// An empty cost (evaluates to zero) without intrinsic or guardrail terms.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cost carrying the agent's immutable terms; add the task's terms with
    /// [`Cost::with_term`].
    pub fn with_fixed(fixed: Arc<FixedCost>) -> Self {
        Cost {
            fixed,
            ..Cost::default()
        }
    }

    /// The immutable terms (read-only).
    pub fn fixed(&self) -> &FixedCost {
        &self.fixed
    }

    fn all(&self) -> impl Iterator<Item = &WeightedTerm> + '_ {
        self.fixed.terms.iter().chain(&self.terms)
    }

    /// Record the encoded goal `s_goal [D]` of the task this cost was built for.
    pub fn with_goal(mut self, goal: Vec<f32>) -> Self {
        self.goal = Some(goal);
        self
    }

    /// Aggregate the cost over latent branches with `risk` ([`crate::risk`]).
    pub fn with_risk(mut self, risk: Risk) -> Self {
        self.risk = risk;
        self
    }

    /// The risk attitude over latent branches.
    pub fn risk(&self) -> Risk {
        self.risk
    }

    /// Judge candidates on the latent paths `paths` ([`crate::latent_paths`]).
    pub fn with_latent_paths(mut self, paths: LatentPaths) -> Self {
        self.paths = paths;
        self
    }

    /// Which latent paths candidates are judged on.
    pub fn latent_paths(&self) -> LatentPaths {
        self.paths
    }

    /// The same agent aimed at another goal: this cost's immutable terms, risk and latent
    /// paths with one task term, [`GoalDistance`] to `goal` (weight 1, summed over the
    /// horizon) — how the hierarchical planner hands a sub-goal to level 1. Task and critic
    /// terms of this cost are not carried over.
    pub fn toward(&self, goal: Vec<f32>) -> Result<Cost, AgentError> {
        let term = GoalDistance::new(goal.clone())?;
        Cost::with_fixed(Arc::clone(&self.fixed))
            .with_goal(goal)
            .with_risk(self.risk)
            .with_latent_paths(self.paths)
            .with_term(CostKind::Task, 1.0, term)
    }

    /// The encoded goal of the task, if the cost was built with one.
    pub fn goal(&self) -> Option<&[f32]> {
        self.goal.as_deref()
    }

    /// Add a task or critic term (finite weight `≥ 0`; names unique across all terms).
    /// Intrinsic and guardrail terms are an error: they are given once, in the [`FixedCost`].
    pub fn with_term(
        self,
        kind: CostKind,
        weight: f32,
        term: impl CostTerm + 'static,
    ) -> Result<Self, AgentError> {
        self.with_boxed(kind, weight, Box::new(term))
    }

    /// [`Cost::with_term`] for a boxed term.
    pub fn with_boxed(
        mut self,
        kind: CostKind,
        weight: f32,
        term: Box<dyn CostTerm>,
    ) -> Result<Self, AgentError> {
        if kind.is_immutable() {
            return Err(AgentError::CostTerm {
                name: term.name().to_string(),
                msg: format!(
                    "{kind:?} terms are fixed when the agent is built (FixedCost) and cannot be added to a task's cost"
                ),
            });
        }
        check_unique(self.all(), term.name())?;
        check_weight(kind, weight)?;
        self.terms.push(WeightedTerm { kind, weight, term });
        Ok(self)
    }

    /// Change the weight of a task or critic term.
    ///
    /// Errors if no term has this name, if it is intrinsic or guardrail (immutable), or if the
    /// weight is not finite and `≥ 0`.
    pub fn set_task_weight(&mut self, name: &str, weight: f32) -> Result<(), AgentError> {
        if let Some(fixed) = self.fixed.terms.iter().find(|t| t.term.name() == name) {
            return Err(AgentError::CostTerm {
                name: name.to_string(),
                msg: format!(
                    "{:?} terms have a weight fixed at construction and cannot be re-weighted",
                    fixed.kind
                ),
            });
        }
        let entry = self
            .terms
            .iter_mut()
            .find(|t| t.term.name() == name)
            .ok_or_else(|| AgentError::CostTerm {
                name: name.to_string(),
                msg: "no term with this name".into(),
            })?;
        check_weight(entry.kind, weight)?;
        entry.weight = weight;
        Ok(())
    }

    /// `(name, kind, weight)` of every term, in insertion order.
    pub fn terms(&self) -> impl Iterator<Item = (&str, CostKind, f32)> + '_ {
        self.all().map(|t| (t.term.name(), t.kind, t.weight))
    }

    /// Check every term against a world model's dimensions.
    pub fn check_dims(&self, state_dim: usize, action_dim: usize) -> Result<(), AgentError> {
        self.all()
            .try_for_each(|t| t.term.check_dims(state_dim, action_dim))
    }

    /// Whether the cost has guardrail terms (so that candidates can be unsafe).
    pub fn has_guardrails(&self) -> bool {
        self.fixed.has_guardrails()
    }

    /// Per candidate of `batch` (`[n]`): whether any guardrail term's cost is `> 0`, i.e. the
    /// imagined trajectory violates a safety constraint. All `false` without guardrails.
    pub fn violations(&self, batch: &RolloutBatch) -> Result<Vec<bool>, AgentError> {
        let n = batch.n;
        let mut out = vec![false; n];
        for t in self.all().filter(|t| t.kind == CostKind::Guardrail) {
            let c = t.term.cost(batch);
            check_len(t.term.name(), &c, n, || format!("[n={n}] costs"))?;
            // NaN counts as a violation: an unreadable safety cost is not safe.
            out.iter_mut()
                .zip(&c)
                .for_each(|(o, c)| *o |= c.is_nan() || *c > 0.0);
        }
        Ok(out)
    }

    /// Weighted sum `C_i = Σ_k w_k · C_k(τ_i)` for every candidate of `batch` (`[n]`).
    pub fn evaluate(&self, batch: &RolloutBatch) -> Result<Vec<f32>, AgentError> {
        let mut out = vec![0.0; batch.n];
        self.evaluate_into(batch, &mut out)?;
        Ok(out)
    }

    /// Like [`Cost::evaluate`], writing into `out [n]`. Terms with weight zero are skipped;
    /// a term returning other than `n` costs is an error naming it.
    pub fn evaluate_into(&self, batch: &RolloutBatch, out: &mut [f32]) -> Result<(), AgentError> {
        let n = batch.n;
        check_len("cost output", out, n, || format!("[n={n}]"))?;
        out.fill(0.0);
        for t in self.all().filter(|t| t.weight != 0.0) {
            let c = t.term.cost(batch);
            check_len(t.term.name(), &c, n, || format!("[n={n}] costs"))?;
            out.iter_mut().zip(&c).for_each(|(o, c)| *o += t.weight * c);
        }
        Ok(())
    }

    /// [`Cost::evaluate`] over the terms whose kind passes `keep` only (the episode loop
    /// records the cost without the critic's term, which is what the critic learns to predict).
    pub fn evaluate_kinds(
        &self,
        batch: &RolloutBatch,
        keep: impl Fn(CostKind) -> bool,
    ) -> Result<Vec<f32>, AgentError> {
        let n = batch.n;
        let mut out = vec![0.0; n];
        for t in self.all().filter(|t| t.weight != 0.0 && keep(t.kind)) {
            let c = t.term.cost(batch);
            check_len(t.term.name(), &c, n, || format!("[n={n}] costs"))?;
            out.iter_mut().zip(&c).for_each(|(o, c)| *o += t.weight * c);
        }
        Ok(out)
    }

    /// Gradient of `Σ_i C(τ_i)` with respect to the states and the actions of `batch`:
    /// `(∂/∂states [n, h, D], ∂/∂actions [n, h, A])` = `Σ_k w_k ·` [`CostTerm::gradient`]
    /// (terms with weight zero are skipped, as in [`Cost::evaluate`]). A term without a
    /// gradient is [`AgentError::TermNotDifferentiable`] naming it.
    pub fn gradient(&self, batch: &RolloutBatch) -> Result<(Vec<f32>, Vec<f32>), AgentError> {
        let mut states_bar = vec![0.0; batch.n * batch.h * batch.d];
        let mut actions_bar = vec![0.0; batch.n * batch.h * batch.a];
        self.gradient_into(batch, &mut states_bar, &mut actions_bar)?;
        Ok((states_bar, actions_bar))
    }

    /// Like [`Cost::gradient`], **adding** into caller-owned `states_bar [n, h, D]` and
    /// `actions_bar [n, h, A]`.
    pub fn gradient_into(
        &self,
        batch: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        batch.check_gradient_buffers(states_bar, actions_bar)?;
        let (mut s_k, mut a_k) = (Vec::new(), Vec::new());
        for t in self.all().filter(|t| t.weight != 0.0) {
            s_k.clear();
            s_k.resize(states_bar.len(), 0.0);
            a_k.clear();
            a_k.resize(actions_bar.len(), 0.0);
            t.term.gradient(batch, &mut s_k, &mut a_k)?;
            let w = t.weight;
            states_bar
                .iter_mut()
                .zip(&s_k)
                .for_each(|(o, g)| *o += w * g);
            actions_bar
                .iter_mut()
                .zip(&a_k)
                .for_each(|(o, g)| *o += w * g);
        }
        Ok(())
    }

    /// Weighted contribution `w_k · C_k(τ_0)` of every term for the first candidate (pass a
    /// batch of one for a single plan); the contributions sum to the total cost.
    pub fn breakdown(&self, batch: &RolloutBatch) -> Vec<(String, f32)> {
        self.all()
            .map(|t| {
                let c = t.term.cost(batch);
                let v = c.first().copied().unwrap_or(f32::NAN);
                (t.term.name().to_string(), t.weight * v)
            })
            .collect()
    }
}

fn check_weight(kind: CostKind, weight: f32) -> Result<(), AgentError> {
    if kind.is_immutable() && !(weight.is_finite() && weight > 0.0) {
        return Err(AgentError::config(
            "cost.weight",
            weight,
            "a finite weight > 0 for intrinsic and guardrail terms",
        ));
    }
    if !(weight.is_finite() && weight >= 0.0) {
        return Err(AgentError::config(
            "cost.weight",
            weight,
            "a finite weight >= 0",
        ));
    }
    Ok(())
}

/// Task objective: distance of each predicted state to a goal representation
/// (REFERENCE.md §14: PLDM uses `Σ_t ‖ẑ_t − z_goal‖²`, DINO-WM the final step only).
///
/// `cost_i = Σ_{t=0}^{h−1} w_t · δ(s_{i,t}, g)` with `δ = ‖s − g‖₂` (or `‖s − g‖₂²` when
/// `squared`), `w_t = 1` for `t < h−1` (`0` when `terminal_only`) and
/// `w_{h−1} = 1 + terminal_weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalDistance {
    goal: Vec<f32>,
    squared: bool,
    terminal_weight: f32,
    terminal_only: bool,
}

impl GoalDistance {
    /// Euclidean distance summed over all steps, no extra terminal weight.
    pub fn new(goal: Vec<f32>) -> Result<Self, AgentError> {
        if goal.is_empty() || goal.iter().any(|g| !g.is_finite()) {
            return Err(AgentError::config(
                "goal_distance.goal",
                format!("{goal:?}"),
                "a non-empty vector of finite values",
            ));
        }
        Ok(Self {
            goal,
            squared: false,
            terminal_weight: 0.0,
            terminal_only: false,
        })
    }

    /// Use the squared distance `‖s − g‖²` (PLDM's MPPI objective).
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    /// Extra weight on the last step (`w_{h−1} = 1 + terminal_weight`); finite and `≥ 0`.
    pub fn terminal_weight(mut self, w: f32) -> Result<Self, AgentError> {
        if !(w.is_finite() && w >= 0.0) {
            return Err(AgentError::config(
                "goal_distance.terminal_weight",
                w,
                "a finite value >= 0",
            ));
        }
        self.terminal_weight = w;
        Ok(self)
    }

    /// Count only the last step (DINO-WM's objective).
    pub fn terminal_only(mut self, yes: bool) -> Self {
        self.terminal_only = yes;
        self
    }

    /// The goal `g`.
    pub fn goal(&self) -> &[f32] {
        &self.goal
    }

    /// Weight `w_t` of step `t` in a horizon of `h` steps.
    pub fn step_weight(&self, t: usize, h: usize) -> f32 {
        match (t + 1 == h, self.terminal_only) {
            (true, _) => 1.0 + self.terminal_weight,
            (false, true) => 0.0,
            (false, false) => 1.0,
        }
    }
}

impl CostTerm for GoalDistance {
    fn name(&self) -> &str {
        "goal_distance"
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        check_len("goal_distance goal", &self.goal, state_dim, || {
            format!("[D={state_dim}] (the world model's state dimension)")
        })
    }

    /// Returns NaN costs when `D` differs from the goal's dimension (see `check_dims`).
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        if b.d != self.goal.len() {
            return vec![f32::NAN; b.n];
        }
        (0..b.n)
            .map(|i| {
                (0..b.h)
                    .map(|t| {
                        let s = b.state(i, t);
                        let sq: f32 = s
                            .iter()
                            .zip(&self.goal)
                            .map(|(x, g)| (x - g) * (x - g))
                            .sum();
                        let dist = if self.squared { sq } else { sq.sqrt() };
                        self.step_weight(t, b.h) * dist
                    })
                    .sum()
            })
            .collect()
    }

    /// `∂cost_i/∂s_{i,t} = w_t · 2 (s − g)` (squared) or `w_t · (s − g) / ‖s − g‖`
    /// (Euclidean; `0` at `s = g`, a subgradient, where the distance has no gradient); no
    /// action dependence.
    fn gradient(
        &self,
        b: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        self.check_dims(b.d, b.a)?;
        b.check_gradient_buffers(states_bar, actions_bar)?;
        for (k, bar) in states_bar.chunks_exact_mut(b.d).enumerate() {
            let w = self.step_weight(k % b.h, b.h);
            let s = &b.states[k * b.d..(k + 1) * b.d];
            let scale = if self.squared {
                2.0 * w
            } else {
                let dist = s
                    .iter()
                    .zip(&self.goal)
                    .map(|(x, g)| (x - g) * (x - g))
                    .sum::<f32>()
                    .sqrt();
                if dist > 0.0 {
                    w / dist
                } else {
                    0.0
                }
            };
            if scale != 0.0 {
                for ((o, x), g) in bar.iter_mut().zip(s).zip(&self.goal) {
                    *o += scale * (x - g);
                }
            }
        }
        Ok(())
    }
}

/// Soft action-magnitude penalty `cost_i = Σ_t ‖a_{i,t}‖²` (weight set by the caller).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActionEnergy;

impl CostTerm for ActionEnergy {
    fn name(&self) -> &str {
        "action_energy"
    }

    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        (0..b.n)
            .map(|i| b.actions_of(i).iter().map(|x| x * x).sum())
            .collect()
    }

    /// `∂cost_i/∂a_{i,t} = 2 a_{i,t}`; no state dependence.
    fn gradient(
        &self,
        b: &RolloutBatch,
        states_bar: &mut [f32],
        actions_bar: &mut [f32],
    ) -> Result<(), AgentError> {
        b.check_gradient_buffers(states_bar, actions_bar)?;
        for (o, x) in actions_bar.iter_mut().zip(b.actions) {
            *o += 2.0 * x;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two candidates, h = 2, D = 2, A = 2.
    /// Candidate 0: states (0,0), (1,0); actions (1,2), (0,1).
    /// Candidate 1: states (1,3), (4,4); actions (3,0), (0,0).
    fn batch() -> (Vec<f32>, Vec<f32>) {
        let states = vec![0.0, 0.0, 1.0, 0.0, 1.0, 3.0, 4.0, 4.0];
        let actions = vec![1.0, 2.0, 0.0, 1.0, 3.0, 0.0, 0.0, 0.0];
        (states, actions)
    }

    fn rb<'a>(s: &'a [f32], a: &'a [f32], n: usize) -> RolloutBatch<'a> {
        RolloutBatch::new(s, a, (n, 2), (2, 2)).unwrap()
    }

    fn goal() -> GoalDistance {
        GoalDistance::new(vec![1.0, 0.0]).unwrap()
    }

    #[test]
    fn goal_distance_matches_hand_computation() {
        let (s, a) = batch();
        // Distances to g = (1, 0): cand 0: 1, 0; cand 1: 3, 5.
        assert_eq!(goal().cost(&rb(&s, &a, 2)), vec![1.0, 8.0]);
        assert_eq!(goal().squared(true).cost(&rb(&s, &a, 2)), vec![1.0, 34.0]);
        let tw = goal().terminal_weight(1.0).unwrap();
        assert_eq!(tw.cost(&rb(&s, &a, 2)), vec![1.0, 13.0]);
        let last = goal().terminal_only(true);
        assert_eq!(last.cost(&rb(&s, &a, 2)), vec![0.0, 5.0]);
    }

    #[test]
    fn goal_distance_checks_dims() {
        assert!(goal().check_dims(2, 7).is_ok());
        let err = goal().check_dims(3, 2).unwrap_err();
        assert!(err.to_string().contains("goal_distance goal"), "{err}");
        let three = RolloutBatch::new(&[0.0; 3], &[], (1, 1), (3, 0)).unwrap();
        assert!(goal().cost(&three)[0].is_nan());
        let err = RolloutBatch::new(&[0.0; 3], &[], (1, 1), (2, 0)).unwrap_err();
        assert!(err.to_string().contains("cost states"), "{err}");
        let err = RolloutBatch::new(&[0.0; 2], &[0.0], (1, 1), (2, 2)).unwrap_err();
        assert!(err.to_string().contains("cost actions"), "{err}");
        assert!(GoalDistance::new(vec![f32::NAN]).is_err());
        assert!(goal().terminal_weight(-1.0).is_err());
    }

    #[test]
    fn action_energy_matches_hand_computation() {
        let (s, a) = batch();
        assert_eq!(ActionEnergy.cost(&rb(&s, &a, 2)), vec![6.0, 9.0]);
    }

    fn cost() -> Cost {
        let fixed = FixedCost::builder()
            .intrinsic(0.5, ActionEnergy)
            .unwrap()
            .build();
        Cost::with_fixed(fixed)
            .with_term(CostKind::Task, 2.0, goal())
            .unwrap()
    }

    #[test]
    fn weighted_sum_and_breakdown() {
        let (s, a) = batch();
        let c = cost();
        // 0.5·6 + 2·1 = 5; 0.5·9 + 2·8 = 20.5.
        assert_eq!(c.evaluate(&rb(&s, &a, 2)).unwrap(), vec![5.0, 20.5]);
        let b = c.breakdown(&rb(&s[4..], &a[4..], 1));
        assert_eq!(
            b,
            vec![
                ("action_energy".into(), 4.5),
                ("goal_distance".into(), 16.0)
            ]
        );
        let mut out = vec![0.0; 3];
        assert!(c.evaluate_into(&rb(&s, &a, 2), &mut out).is_err());
    }

    #[test]
    fn evaluate_kinds_leaves_out_the_other_kinds() {
        let (s, a) = batch();
        let c = cost();
        let b = rb(&s, &a, 2);
        // Task only: 2·(1, 8); intrinsic only: 0.5·(6, 9).
        assert_eq!(
            c.evaluate_kinds(&b, |k| k == CostKind::Task).unwrap(),
            vec![2.0, 16.0]
        );
        let no_task = c.evaluate_kinds(&b, |k| k != CostKind::Task).unwrap();
        assert_eq!(no_task, vec![3.0, 4.5]);
        assert_eq!(
            c.evaluate_kinds(&b, |_| true).unwrap(),
            c.evaluate(&b).unwrap()
        );
    }

    #[test]
    fn task_weight_can_change() {
        let (s, a) = batch();
        let mut c = cost();
        c.set_task_weight("goal_distance", 1.0).unwrap();
        assert_eq!(c.evaluate(&rb(&s, &a, 2)).unwrap(), vec![4.0, 12.5]);
        assert!(c.set_task_weight("goal_distance", f32::NAN).is_err());
        assert!(c.set_task_weight("nope", 1.0).is_err());
    }

    /// Flags candidate `i` as violating when its first state's x exceeds 0.5.
    struct XAbove;
    impl CostTerm for XAbove {
        fn name(&self) -> &str {
            "x_above"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| f32::from(u8::from(b.state(i, 0)[0] > 0.5)))
                .collect()
        }
    }

    #[test]
    fn intrinsic_and_guardrail_terms_are_immutable() {
        let (s, a) = batch();
        let fixed = FixedCost::builder()
            .intrinsic(0.5, ActionEnergy)
            .unwrap()
            .guardrail(XAbove)
            .unwrap()
            .build();
        let mut c = Cost::with_fixed(fixed.clone())
            .with_term(CostKind::Task, 1.0, goal())
            .unwrap();
        // Neither fixed term can be re-weighted (to zero or anything else).
        for name in ["action_energy", "x_above"] {
            for w in [0.0, 1.0, 1e9] {
                let err = c.set_task_weight(name, w).unwrap_err().to_string();
                assert!(err.contains("fixed at construction"), "{err}");
            }
        }
        // Nor added (again or afresh) through the task part.
        for kind in [CostKind::Intrinsic, CostKind::Guardrail] {
            let err = Cost::new().with_term(kind, 1.0, XAbove).unwrap_err();
            assert!(
                err.to_string().contains("fixed when the agent is built"),
                "{err}"
            );
        }
        // A task term cannot shadow a fixed one by name.
        assert!(Cost::with_fixed(fixed.clone())
            .with_term(CostKind::Task, 1.0, ActionEnergy)
            .is_err());
        // Their contributions are always counted: candidate 1 starts at x = 1 (> 0.5).
        let v = c.evaluate(&rb(&s, &a, 2)).unwrap();
        assert_eq!(v, vec![0.5 * 6.0 + 1.0, 0.5 * 9.0 + GUARDRAIL_WEIGHT + 8.0]);
        assert_eq!(c.violations(&rb(&s, &a, 2)).unwrap(), vec![false, true]);
        assert!(c.has_guardrails() && !cost().has_guardrails());
        assert_eq!(c.fixed().terms().count(), 2);
        // Zero or negative intrinsic weights would silently disable them.
        assert!(FixedCost::builder().intrinsic(0.0, ActionEnergy).is_err());
        assert!(FixedCost::builder().intrinsic(-1.0, ActionEnergy).is_err());
        assert!(FixedCost::builder()
            .boxed(CostKind::Task, 1.0, Box::new(ActionEnergy))
            .is_err());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let err = cost().with_term(CostKind::Task, 1.0, goal()).unwrap_err();
        assert!(err.to_string().contains("unique"), "{err}");
        let err = FixedCost::builder()
            .guardrail(XAbove)
            .unwrap()
            .guardrail(XAbove)
            .unwrap_err();
        assert!(err.to_string().contains("unique"), "{err}");
    }

    #[test]
    fn batches_can_carry_their_start() {
        let (s, a) = batch();
        let b = rb(&s, &a, 2).with_start(&[5.0, 6.0]).unwrap();
        assert_eq!(b.start(), Some(&[5.0, 6.0][..]));
        assert!(rb(&s, &a, 2).with_start(&[1.0]).is_err());
        assert_eq!(rb(&s, &a, 2).start(), None);
    }
}
