//! Monte Carlo tree search over a discrete action set `M` and the world model's latent
//! outcomes, with chance nodes (`[planner] kind = "mcts"`).
//!
//! **Tree.** A decision node at depth `t` is a history `(a_0, z_0, …, a_{t−1}, z_{t−1})` with
//! its predicted state `ŝ_t` (the root: `t = 0`, `ŝ_0 = s0`). Its children are one chance node
//! per action `a ∈ M`; the chance node `(history, a)` has one decision child per latent value
//! `z ∈ 0..K`, reached with probability `q(z | ŝ_t, a)` ([`WorldModel::latent_prior`]), so `z`
//! may change at every step (beam search and the sampling planners hold it over the horizon).
//! A deterministic model has `K = 1` and the chance nodes are pass-throughs.
//!
//! **Values** (costs, minimised) are costs of whole length-`h` rollouts, as [`Cost`] defines
//! them. A decision node at depth `h` is a complete sequence: its value is the exact cost
//! `C(ŝ_{1..h}, a_{0..h−1})` of its rollout along its latent path. Any other new decision node
//! gets the cost of its history completed by the *default continuation*: the idle action (the
//! zero vector of `M`, e.g. highway's IDLE) for the remaining steps, or, when `M` has no zero
//! action, the last action repeated; the latent is held at its last value `z_{t−1}` for those
//! steps. Backups are full Bellman backups over the expanded children (DP-UCT, Keller &
//! Helmert, "Trial-based heuristic tree search for finite horizon MDPs", ICAPS 2013), not
//! Monte Carlo means, because the rollouts are deterministic given `(a, z)`:
//! * decision node: `V = min_a Q(a)` over its chance children;
//! * chance node: `Q(a) = ρ({V_z}, {q(z | ŝ_t, a)})` with the cost's [`Risk`](crate::Risk)
//!   `ρ` ([`crate::risk`]): `worst` the max over every `z`, `average` the prior-weighted mean,
//!   `cvar:α` the CVaR with the prior as weights.
//!
//! Guardrails are ranked before cost: a rollout a guardrail rejects makes its node rejected;
//! a chance node is rejected when any of its `z` children is (guardrails hold on every
//! imagined future), a decision node when all its children are, and `min` compares
//! `(rejected, V)` lexicographically. A rejected non-terminal leaf may still hold a safe
//! completion; the search keeps exploring it, with a penalty.
//!
//! **Search.** Each iteration selects up to `leaf_batch` unexpanded decision nodes from the
//! root: at a decision node the chance child with the lowest confidence bound
//! `q̃(a) − c·√(ln N / n_a)` (`q̃` the value scaled to `[0, 1]` by the smallest and largest leaf
//! cost seen so far, plus 1 when rejected; `c = exploration`; `N`, `n_a` visit counts), at a
//! chance node the `z` child with the largest `w_z / (1 + n_z)` (`w_z` the prior for
//! `average`/`cvar`, uniform for `worst`, where every `z` counts). Visits are counted when a
//! leaf is selected (virtual visits), and a selected leaf is closed until its batch is
//! evaluated, so the next selection goes elsewhere; a subtree with no open leaf (fully
//! expanded to depth `h`) is never selected again. The selected leaves are then expanded all
//! at once: one [`WorldModel::latent_prior`] call for their `(ŝ_t, a)` pairs and one
//! [`WorldModel::rollout_latent`] call for their `|M|·K` children each, costed in one batch.
//! The search stops after `simulations` expansions or when the whole tree is expanded, in
//! which case the root value is the exact expectimax (minimax for `worst`) value of the
//! closed-loop problem.
//!
//! **Plan.** The root action with the best `(rejected, Q)`; the rest of the open-loop plan
//! follows, at each chance node, the most probable `z` and, at each decision node, the best
//! action, then the node's default continuation. The plan is judged by
//! [`super::final_plan`] (every latent branch held over the horizon, as for the other
//! planners); if a guardrail rejects it there, the cheapest safe plan of the other root
//! actions is taken, else the stop plan with `Plan::safe = false`. Deterministic (no random
//! stream); no warm start: each call searches a fresh tree.

use serde::{Deserialize, Serialize};

use super::{
    check_plan_inputs, check_rollout_output, cost_in_blocks, final_plan, require_f32,
    require_positive, Plan, Planner, SampleBuffers,
};
use crate::cost::{Cost, RolloutBatch};
use crate::error::AgentError;
use crate::risk::Risk;
use crate::world_model::WorldModel;

mod tree;

use tree::{Tree, ROOT};

/// Settings of [`Mcts`] (`[planner] kind = "mcts"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MctsConfig {
    /// Planning horizon `h` (default 8). Not a key: a run takes it from `[agent] horizon`.
    #[serde(skip)]
    pub horizon: usize,
    /// Leaf expansions per plan call (default 64); each rolls out `|M|·K` sequences.
    pub simulations: usize,
    /// Exploration constant `c` of the lower confidence bound on costs scaled to `[0, 1]`
    /// (default 1.0; 0 is greedy best-first search).
    pub exploration: f32,
    /// Leaves selected (with virtual visits) and expanded together per iteration
    /// (default 8): one rollout call of `leaf_batch·|M|·K` sequences.
    pub leaf_batch: usize,
    /// The discrete actions, as vectors of the action space. Not a key: a run takes them
    /// from the environment ([`ami_envs::EnvSpec::action_set`]).
    #[serde(skip)]
    pub actions: Vec<Vec<f32>>,
}

impl Default for MctsConfig {
    fn default() -> Self {
        MctsConfig {
            horizon: 8,
            simulations: 64,
            exploration: 1.0,
            leaf_batch: 8,
            actions: Vec::new(),
        }
    }
}

impl MctsConfig {
    /// Checks the settings (errors name the key).
    pub fn validate(&self) -> Result<(), AgentError> {
        require_positive("planner.simulations", self.simulations)?;
        require_positive("planner.leaf_batch", self.leaf_batch)?;
        require_f32(
            "planner.exploration",
            self.exploration,
            |c| c >= 0.0,
            ">= 0",
        )?;
        require_positive("agent.horizon", self.horizon)
    }
}

/// Monte Carlo tree search planner with chance nodes (module docs).
#[derive(Debug, Clone)]
pub struct Mcts {
    cfg: MctsConfig,
    /// Index in `cfg.actions` of the default continuation (the zero action), if any.
    idle: Option<usize>,
    /// Root value `V(root)` and expansions of the last search.
    last: Option<(f32, usize)>,
}

impl Mcts {
    /// A tree search over `cfg.actions` (at least one action, all of one length).
    pub fn new(cfg: MctsConfig) -> Result<Self, AgentError> {
        cfg.validate()?;
        let dim = cfg.actions.first().map(Vec::len).ok_or_else(|| {
            AgentError::config_source(
                "planner.kind",
                "`mcts` searches a discrete action set, and this environment has none (highway: \
                 set env.actions = \"discrete\")",
            )
        })?;
        if dim == 0 || cfg.actions.iter().any(|a| a.len() != dim) {
            return Err(AgentError::config_source(
                "planner",
                "the discrete actions must all have the same positive length",
            ));
        }
        let idle = cfg.actions.iter().position(|a| a.iter().all(|&x| x == 0.0));
        Ok(Mcts {
            cfg,
            idle,
            last: None,
        })
    }

    /// `(V(root), expansions)` of the last search: the backed-up value of the root under the
    /// cost's risk (the exact expectimax/minimax value when the tree was fully expanded).
    pub fn last_search(&self) -> Option<(f32, usize)> {
        self.last
    }

    /// Expand `leaves` (unexpanded, non-terminal decision nodes) in one prior call and one
    /// rollout call, then back their new values up to the root.
    fn expand(
        &self,
        tree: &mut Tree,
        leaves: &[usize],
        (s0, cost, model): (&[f32], &Cost, &dyn WorldModel),
    ) -> Result<(), AgentError> {
        let (m, k, h) = (self.cfg.actions.len(), tree.k, self.cfg.horizon);
        let (d, a) = (model.state_dim(), model.action_dim());
        let priors = if k > 1 {
            let states: Vec<f32> = leaves
                .iter()
                .flat_map(|&l| std::iter::repeat_n(&tree.decisions[l].state, m).flatten())
                .copied()
                .collect();
            let acts: Vec<f32> = (0..leaves.len())
                .flat_map(|_| self.cfg.actions.iter().flatten())
                .copied()
                .collect();
            model.latent_prior(&states, &acts, leaves.len() * m)?
        } else {
            vec![1.0; leaves.len() * m]
        };
        let n = leaves.len() * m * k;
        let (mut acts, mut lats) = (Vec::with_capacity(n * h * a), Vec::with_capacity(n * h));
        for &l in leaves {
            let (prefix, zs) = tree.history(l);
            for act in 0..m {
                let fill = self.idle.unwrap_or(act);
                for z in 0..k as u32 {
                    let seq = prefix.iter().copied().chain([act]);
                    let seq = seq.chain(std::iter::repeat(fill)).take(h);
                    acts.extend(seq.flat_map(|i| self.cfg.actions[i].iter().copied()));
                    lats.extend(zs.iter().copied().chain(std::iter::repeat(z)).take(h));
                }
            }
        }
        let mut states = Vec::new();
        model.rollout_latent_into(s0, &acts, &lats, (n, h), &mut states)?;
        check_rollout_output(&states, n, h, d)?;
        let mut costs = vec![0.0; n];
        cost_in_blocks(s0, &states, &acts, (h, d, a), cost, &mut costs)?;
        if let Some(i) = costs.iter().position(|c| !c.is_finite()) {
            return Err(AgentError::NonFinite {
                what: format!("mcts: cost of rollout {i} of an expansion"),
            });
        }
        let rejected = if cost.has_guardrails() {
            let batch = RolloutBatch::new(&states, &acts, (n, h), (d, a))?.with_start(s0)?;
            cost.violations(&batch)?
        } else {
            vec![false; n]
        };
        for (j, &l) in leaves.iter().enumerate() {
            let t = tree.decisions[l].depth;
            for act in 0..m {
                let row0 = (j * m + act) * k;
                let children = (0..k)
                    .map(|z| {
                        let row = row0 + z;
                        let s = &states[(row * h + t) * d..(row * h + t + 1) * d];
                        (s.to_vec(), costs[row], rejected[row])
                    })
                    .collect();
                let prior = priors[(j * m + act) * k..(j * m + act + 1) * k].to_vec();
                tree.add_chance(l, act, prior, children)?;
            }
        }
        for &l in leaves {
            tree.backup(l)?;
        }
        Ok(())
    }

    /// The open-loop plan below root action `act`: best actions along the most probable
    /// latents, then the reached node's default continuation (action indices, length `h`).
    fn plan_below(&self, tree: &Tree, act: usize) -> Vec<usize> {
        let mut seq = Vec::with_capacity(self.cfg.horizon);
        let mut node = ROOT;
        let mut chance = Some(tree.decisions[ROOT].children[act]);
        while let Some(c) = chance {
            let ch = &tree.chances[c];
            seq.push(ch.action);
            node = ch.children[tree.most_probable(c)];
            chance = tree.best_chance(node);
        }
        let fill = self
            .idle
            .unwrap_or(*seq.last().expect("the root was expanded"));
        let missing = self.cfg.horizon - tree.decisions[node].depth;
        seq.extend(std::iter::repeat_n(fill, missing));
        seq
    }
}

impl Planner for Mcts {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let a = check_plan_inputs(s0, cost, model)?;
        if self.cfg.actions[0].len() != a {
            return Err(AgentError::shape(
                "mcts actions",
                self.cfg.actions[0].len(),
                format!("[A={a}] (the world model's action dimension)"),
            ));
        }
        let (h, k, risk) = (self.cfg.horizon, model.latent_count().max(1), cost.risk());
        let weights = |prior: &[f32]| -> Vec<f32> {
            match risk {
                Risk::Worst => vec![1.0; prior.len()],
                Risk::Average | Risk::Cvar(_) => prior.to_vec(),
            }
        };
        let mut tree = Tree::new(s0.to_vec(), k, risk, h);
        let mut expansions = 0;
        while expansions < self.cfg.simulations {
            let want = self.cfg.leaf_batch.min(self.cfg.simulations - expansions);
            let mut leaves = Vec::with_capacity(want);
            while leaves.len() < want {
                match tree.select(self.cfg.exploration, &weights) {
                    Some(l) => leaves.push(l),
                    None => break,
                }
            }
            if leaves.is_empty() {
                break; // every leaf is at depth h: the search is exhaustive
            }
            expansions += leaves.len();
            self.expand(&mut tree, &leaves, (s0, cost, model))?;
        }
        self.last = Some((tree.decisions[ROOT].value, expansions));
        let m = self.cfg.actions.len();
        let to_vec = |seq: &[usize]| -> Vec<f32> {
            seq.iter()
                .flat_map(|&i| self.cfg.actions[i].iter().copied())
                .collect()
        };
        let best = tree.best_chance(ROOT).expect("the root was expanded");
        let plan = to_vec(&self.plan_below(&tree, tree.chances[best].action));
        // Fallbacks for `final_plan`: the plan below every root action, judged as it is.
        let mut alternatives = SampleBuffers::default();
        alternatives.ensure(m, h, a);
        for (act, row) in alternatives.candidates.chunks_exact_mut(h * a).enumerate() {
            row.copy_from_slice(&to_vec(&self.plan_below(&tree, act)));
        }
        if cost.has_guardrails() {
            alternatives.evaluate(s0, cost, model, h, || "mcts alternatives:".into())?;
        }
        let samples = cost.has_guardrails().then_some(&alternatives);
        final_plan(s0, &plan, cost, model, h, expansions, samples)
    }

    /// No warm start to shift: every call searches a fresh tree.
    fn shift(&mut self, _k: usize) {}

    /// Nothing to forget: the search is deterministic.
    fn reset(&mut self) {
        self.last = None;
    }

    fn horizon(&self) -> usize {
        self.cfg.horizon
    }
}
