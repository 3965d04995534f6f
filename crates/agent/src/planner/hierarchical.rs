//! Hierarchical planning with a two-level world model (H-JEPA; DESIGN.md §1): level 2 plans
//! a sequence of sub-goals toward the task's goal over macro-actions, level 1 plans actions
//! toward the first sub-goal with any flat planner, each re-planning on its own clock.
//!
//! **Level 2** is a search over the level-2 predictor ([`crate::level2::Level2Model`],
//! `ŝ_{t+k} = s + MLP([s, m])`) with a fixed set of macro-actions `M` (`directions` unit
//! vectors — evenly spaced angles when `A = 2`, `±e_j` otherwise — times each of
//! `magnitudes`). From the current state `s₀` it expands, depth by depth, every frontier state
//! by every macro-action in one batch; a predicted state closer than `merge · μ` to a state
//! already found (`μ`: the level-2 model's mean held-out macro step in representation space)
//! is the same place and is dropped; of the rest the `beam` closest to the goal form the next
//! frontier. The search ends at `depth` macro steps, or as soon as a state lies within
//! `merge · μ` of the goal. It is a breadth-first search of the imagined state space: it goes
//! around a wall as soon as the way around is among the places found, where a cost-descent
//! planner stays at the wall. Its plan is the path to the found state closest to the goal
//! `g`, `ŝ₁ … ŝ_L`.
//!
//! **Keeping to the data.** A search over a learned model finds every place where the model
//! is wrong: level 2 is a few px off at walls, and a search that trusts it routes the agent
//! through them. With `snap_radius > 0` the search uses the states level 2 was trained on
//! ([`DataSupport`]): each predicted state is replaced by the nearest seen state within
//! `snap_radius · μ` (dropped when there is none), and a macro step is kept only when the
//! segment from its start to that state stays within `line_radius · μ` of the data — no
//! trajectory walked inside a wall, so a step through one is dropped (segments from the
//! agent's own state start at its snapped state when it is off the data itself, and the
//! first step is trusted when nothing is near). The model still says
//! where a macro-action leads; the data says which places exist and which straight moves
//! between them stay in free space.
//!
//! **Level 1** plans toward the sub-goal `ŝ_j`, `j = subgoal_step` (toward `g` itself when the
//! path is no longer than that, or when level 2 finds nothing closer to the goal than `s₀`):
//! its cost is the task's cost re-aimed at the sub-goal ([`Cost::toward`]: the immutable
//! terms kept, one goal-distance task term). Level 1 re-plans at every call (each
//! `agent.replan_every` environment steps), level 2 every `replan_calls` calls.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Plan, Planner};
use crate::cost::Cost;
use crate::data_support::DataSupport;
use crate::error::AgentError;
use crate::level2::Level2Model;
use crate::world_model::WorldModel;

/// `[hierarchy.planner]`: the level-2 search and the hand-over to level 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HierarchicalConfig {
    /// Level-1 planning horizon toward the sub-goal, in planned actions (default 8).
    pub low_horizon: usize,
    /// Directions of the macro-actions (default 8).
    pub directions: usize,
    /// Magnitudes of the macro-actions, each in `(0, 1]` (default `[0.4]`: the summed
    /// actions of the random-walk data rarely reach the full `k · a_max`, and the level-2
    /// model is most precise where the data is).
    pub magnitudes: Vec<f32>,
    /// Macro steps searched at most (default 40).
    pub depth: usize,
    /// Frontier states kept per depth (default 32).
    pub beam: usize,
    /// Merge radius as a fraction of the mean macro step (default 0.5).
    pub merge: f32,
    /// Which state of the level-2 path is level 1's sub-goal (default 2).
    pub subgoal_step: usize,
    /// Level 2 re-plans every this many planning calls (default 2).
    pub replan_calls: usize,
    /// The agent counts itself stuck when, between two level-2 plans, it moved less than this
    /// fraction of the first macro step the earlier plan predicted (default 0.3).
    pub stuck_fraction: f32,
    /// Commitment: a new level-2 plan replaces the one being followed only when its
    /// estimated number of macro steps to the goal is smaller by more than this (default 2;
    /// 0 always takes the new plan).
    pub switch_margin: f32,
    /// A remembered dead end blocks macro-actions within 60° of the failed one from states
    /// closer than this many mean macro steps (default 1.0; 0 remembers nothing).
    pub block_radius: f32,
    /// Imagined states are snapped to the nearest state of the training data within this
    /// many mean macro steps, and dropped when there is none ([`DataSupport`]; default 0.3;
    /// 0 trusts the model everywhere and disables `line_radius` too).
    pub snap_radius: f32,
    /// An imagined macro step is kept only when the straight segment from its start to its
    /// (snapped) end stays within this many mean macro steps of the data (default 0.1).
    pub line_radius: f32,
}

impl Default for HierarchicalConfig {
    fn default() -> Self {
        HierarchicalConfig {
            low_horizon: 8,
            directions: 8,
            magnitudes: vec![0.4],
            depth: 40,
            beam: 32,
            merge: 0.5,
            subgoal_step: 2,
            replan_calls: 2,
            stuck_fraction: 0.3,
            switch_margin: 2.0,
            block_radius: 1.0,
            snap_radius: 0.3,
            line_radius: 0.1,
        }
    }
}

impl HierarchicalConfig {
    /// Checks the settings (errors name the key).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (k, v) in [
            ("hierarchy.planner.low_horizon", self.low_horizon),
            ("hierarchy.planner.directions", self.directions),
            ("hierarchy.planner.depth", self.depth),
            ("hierarchy.planner.beam", self.beam),
            ("hierarchy.planner.subgoal_step", self.subgoal_step),
            ("hierarchy.planner.replan_calls", self.replan_calls),
        ] {
            if v == 0 {
                return Err(AgentError::config(k, 0, ">= 1"));
            }
        }
        if self.magnitudes.is_empty()
            || self
                .magnitudes
                .iter()
                .any(|m| !(m.is_finite() && *m > 0.0 && *m <= 1.0))
        {
            return Err(AgentError::config(
                "hierarchy.planner.magnitudes",
                format!("{:?}", self.magnitudes),
                "a non-empty list of values in (0, 1]",
            ));
        }
        for (k, v) in [
            ("hierarchy.planner.stuck_fraction", self.stuck_fraction),
            ("hierarchy.planner.block_radius", self.block_radius),
            ("hierarchy.planner.switch_margin", self.switch_margin),
            ("hierarchy.planner.snap_radius", self.snap_radius),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(AgentError::config(k, v, "a finite value >= 0"));
            }
        }
        if self.snap_radius > 0.0 && !(self.line_radius.is_finite() && self.line_radius > 0.0) {
            return Err(AgentError::config(
                "hierarchy.planner.line_radius",
                self.line_radius,
                "a finite value > 0 (with snap_radius > 0)",
            ));
        }
        if !(self.merge.is_finite() && self.merge > 0.0) {
            return Err(AgentError::config(
                "hierarchy.planner.merge",
                self.merge,
                "a finite value > 0",
            ));
        }
        Ok(())
    }

    /// The macro-actions `M` for `A`-dimensional actions (module docs), row-major `[|M|, A]`.
    pub fn macro_actions(&self, a: usize) -> Vec<f32> {
        let mut dirs: Vec<Vec<f32>> = Vec::new();
        if a == 2 {
            for i in 0..self.directions {
                let th = std::f32::consts::TAU * i as f32 / self.directions as f32;
                dirs.push(vec![th.cos(), th.sin()]);
            }
        } else {
            for j in 0..a {
                for sign in [1.0, -1.0] {
                    let mut e = vec![0.0; a];
                    e[j] = sign;
                    dirs.push(e);
                }
            }
        }
        let mut out = Vec::with_capacity(dirs.len() * self.magnitudes.len() * a);
        for m in &self.magnitudes {
            for d in &dirs {
                out.extend(d.iter().map(|x| x * m));
            }
        }
        out
    }
}

/// A level-2 plan: the imagined states `ŝ₁ … ŝ_L` of the path to the found state closest to
/// the goal, and that state's distance to the goal.
#[derive(Debug, Clone, PartialEq)]
pub struct Level2Plan {
    /// Row-major `[L, D]` (empty: nothing found closer to the goal than the start).
    pub path: Vec<f32>,
    /// The macro-actions of the path, row-major `[L, A]`.
    pub macros: Vec<f32>,
    /// `‖ŝ_L − g‖` (`‖s₀ − g‖` for an empty path).
    pub distance: f32,
    /// Imagined states found in all.
    pub states_found: usize,
}

struct Node {
    parent: usize,
    dist: f32,
    /// Index of the macro-action that led here (unused for the root).
    via: usize,
}

/// A dead end the agent met: from states near `at`, macro-actions within 60° of `dir` (unit)
/// did not move it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadEnd {
    /// Where the agent was stuck (representation `[D]`).
    pub at: Vec<f32>,
    /// The failed macro-action's direction (`[A]`, unit).
    pub dir: Vec<f32>,
}

/// The level-2 search of the module docs from `s0` toward `goal`, never expanding a state
/// with a macro-action that a remembered dead end blocks; with `support`, every predicted
/// state is snapped onto the data and a step whose segment leaves the data is dropped
/// (module docs).
pub fn search_level2(
    model: &Level2Model,
    cfg: &HierarchicalConfig,
    s0: &[f32],
    goal: &[f32],
    dead_ends: &[DeadEnd],
    support: Option<&DataSupport>,
) -> Result<Level2Plan, AgentError> {
    let (d, a) = (model.repr_dim(), model.action_dim());
    if s0.len() != d || goal.len() != d {
        return Err(AgentError::shape(
            "level-2 start and goal",
            s0.len().max(goal.len()),
            format!("[D={d}] (the level-2 model's representation width)"),
        ));
    }
    let macros = cfg.macro_actions(a);
    let n_macros = macros.len() / a;
    let radius = cfg.merge * model.report.mean_step.max(1e-6) as f32;
    let r2 = radius * radius;
    let dist = |s: &[f32]| sq(s, goal).sqrt();
    let mut states: Vec<f32> = s0.to_vec();
    let mut nodes = vec![Node {
        parent: usize::MAX,
        dist: dist(s0),
        via: 0,
    }];
    let block_r2 = (cfg.block_radius * model.report.mean_step as f32).powi(2);
    let unit: Vec<Vec<f32>> = macros.chunks_exact(a).map(unit_of).collect();
    let blocked = |state: &[f32], j: usize| {
        dead_ends.iter().any(|e| {
            sq(state, &e.at) < block_r2
                && e.dir.iter().zip(&unit[j]).map(|(x, y)| x * y).sum::<f32>() > 0.5
        })
    };
    // Segments from the start begin at the start itself when it lies on the data, else at
    // its snapped state (an agent in a doorway or against a wall can be where few
    // trajectories went); with neither, the first macro step is trusted.
    let root_anchor: Option<Vec<f32>> = support.and_then(|sup| {
        if sup.near(s0) {
            Some(s0.to_vec())
        } else {
            sup.snap(s0).map(<[f32]>::to_vec)
        }
    });
    let mut frontier = vec![0usize];
    let mut best = 0usize;
    for _ in 0..cfg.depth {
        if frontier.is_empty() || nodes[best].dist <= radius {
            break;
        }
        let mut s = Vec::with_capacity(frontier.len() * n_macros * d);
        let mut m = Vec::with_capacity(frontier.len() * n_macros * a);
        let mut from = Vec::with_capacity(frontier.len() * n_macros);
        for &f in &frontier {
            let state = &states[f * d..(f + 1) * d];
            for j in 0..n_macros {
                if !blocked(state, j) {
                    s.extend_from_slice(state);
                    m.extend_from_slice(&macros[j * a..(j + 1) * a]);
                    from.push((f, j));
                }
            }
        }
        let rows = from.len();
        if rows == 0 {
            break;
        }
        let next = model.step(&s, &m)?;
        let mut order: Vec<(f32, usize)> = (0..rows)
            .map(|i| (dist(&next[i * d..(i + 1) * d]), i))
            .filter(|(c, _)| c.is_finite())
            .collect();
        order.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut new_frontier = Vec::with_capacity(cfg.beam);
        for (c, i) in order {
            if new_frontier.len() == cfg.beam {
                break;
            }
            let raw = &next[i * d..(i + 1) * d];
            // A revisit as predicted is a revisit once snapped (cheap test first).
            if support.is_some() && states.chunks_exact(d).any(|v| sq(v, raw) < r2) {
                continue;
            }
            let (cand, c) = match support {
                None => (raw, c),
                Some(sup) => match sup.snap(raw) {
                    Some(on) => (on, dist(on)),
                    None => continue,
                },
            };
            if states.chunks_exact(d).any(|v| sq(v, cand) < r2) {
                continue;
            }
            if let Some(sup) = support {
                let p = from[i].0;
                let start = if p == 0 {
                    root_anchor.as_deref()
                } else {
                    Some(&states[p * d..(p + 1) * d])
                };
                if start.is_some_and(|a| !sup.segment(a, cand)) {
                    continue;
                }
            }
            states.extend_from_slice(cand);
            nodes.push(Node {
                parent: from[i].0,
                dist: c,
                via: from[i].1,
            });
            let id = nodes.len() - 1;
            if c < nodes[best].dist {
                best = id;
            }
            new_frontier.push(id);
        }
        frontier = new_frontier;
    }
    let mut chain = Vec::new();
    let mut at = best;
    while at != 0 {
        chain.push(at);
        at = nodes[at].parent;
    }
    chain.reverse();
    let mut path = Vec::with_capacity(chain.len() * d);
    let mut path_macros = Vec::with_capacity(chain.len() * a);
    for id in chain {
        path.extend_from_slice(&states[id * d..(id + 1) * d]);
        let j = nodes[id].via;
        path_macros.extend_from_slice(&macros[j * a..(j + 1) * a]);
    }
    Ok(Level2Plan {
        path,
        macros: path_macros,
        distance: nodes[best].dist,
        states_found: nodes.len(),
    })
}

fn unit_of(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The two-level planner of the module docs.
pub struct Hierarchical {
    cfg: HierarchicalConfig,
    low: Box<dyn Planner>,
    model: Arc<Level2Model>,
    calls: usize,
    /// The current sub-goal handed to level 1 (`None` before the first call).
    subgoal: Option<Vec<f32>>,
    last: Option<Level2Plan>,
    /// Where the last level-2 plan started.
    last_start: Vec<f32>,
    /// Dead ends met in this episode (the agent's short-term memory of its model's errors).
    dead_ends: Vec<DeadEnd>,
    /// The states level 2 was trained on (`None` when `snap_radius = 0`).
    support: Option<DataSupport>,
}

impl std::fmt::Debug for Hierarchical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hierarchical")
            .field("cfg", &self.cfg)
            .field("calls", &self.calls)
            .finish()
    }
}

impl Hierarchical {
    /// Level 1 = `low` (its horizon is the low horizon), level 2 = `model`; with
    /// `snap_radius > 0` the model must carry the trajectories it was trained on.
    pub fn new(
        cfg: HierarchicalConfig,
        low: Box<dyn Planner>,
        model: Arc<Level2Model>,
    ) -> Result<Self, AgentError> {
        cfg.validate()?;
        let support = if cfg.snap_radius > 0.0 {
            let seen = model.seen.as_ref().ok_or_else(|| {
                AgentError::config_source(
                    "hierarchy.planner.snap_radius",
                    format!(
                        "{} > 0 needs the trajectories level 2 was trained on \
                         (level2_memory.safetensors in the run, written by ami train / \
                         ami train-level2), and this level 2 has none; retrain level 2 or set 0",
                        cfg.snap_radius
                    ),
                )
            })?;
            let mu = model.report.mean_step.max(1e-6) as f32;
            Some(DataSupport::new(
                seen.states.clone(),
                model.repr_dim(),
                cfg.snap_radius * mu,
                cfg.line_radius * mu,
            )?)
        } else {
            None
        };
        Ok(Hierarchical {
            support,
            cfg,
            low,
            model,
            calls: 0,
            subgoal: None,
            last: None,
            last_start: Vec::new(),
            dead_ends: Vec::new(),
        })
    }

    /// Dead ends remembered in this episode.
    pub fn dead_ends(&self) -> &[DeadEnd] {
        &self.dead_ends
    }

    /// Remembers a dead end when the agent moved less than `stuck_fraction` of the first
    /// macro step the last level-2 plan predicted from `last_start`; `true` when it did.
    fn check_stuck(&mut self, s_now: &[f32]) -> bool {
        let (Some(plan), d) = (&self.last, s_now.len()) else {
            return false;
        };
        if plan.path.len() < d || self.last_start.len() != d || self.cfg.block_radius == 0.0 {
            return false;
        }
        let expected = sq(&plan.path[..d], &self.last_start).sqrt();
        let moved = sq(s_now, &self.last_start).sqrt();
        if moved < self.cfg.stuck_fraction * expected {
            let a = plan.macros.len() / (plan.path.len() / d);
            self.dead_ends.push(DeadEnd {
                at: s_now.to_vec(),
                dir: unit_of(&plan.macros[..a]),
            });
            return true;
        }
        false
    }

    /// The estimated macro steps from a plan's start to the goal: its length plus the
    /// remaining distance at one macro step per `magnitude · μ`.
    fn steps_to_goal(&self, len: usize, distance: f32) -> f32 {
        let v = self.cfg.magnitudes.iter().copied().fold(0.0f32, f32::max)
            * self.model.report.mean_step as f32;
        len as f32 + distance / v.max(1e-6)
    }

    /// The plan being followed, from the node nearest to `s0` on (`None` when `s0` is more
    /// than one mean macro step from every node, or nothing is left of it).
    fn remaining(&self, s0: &[f32]) -> Option<Level2Plan> {
        let plan = self.last.as_ref()?;
        let d = s0.len();
        let a = self.model.action_dim();
        let (j, near) = plan
            .path
            .chunks_exact(d)
            .map(|p| sq(p, s0))
            .enumerate()
            .min_by(|x, y| x.1.total_cmp(&y.1))?;
        let mu = self.model.report.mean_step as f32;
        if near.sqrt() > mu || (j + 1) * d >= plan.path.len() {
            return None;
        }
        Some(Level2Plan {
            path: plan.path[(j + 1) * d..].to_vec(),
            macros: plan.macros[(j + 1) * a..].to_vec(),
            distance: plan.distance,
            states_found: plan.states_found,
        })
    }

    /// The last level-2 plan (for pictures and diagnostics).
    pub fn level2_plan(&self) -> Option<&Level2Plan> {
        self.last.as_ref()
    }
}

impl Planner for Hierarchical {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let goal = cost.goal().ok_or_else(|| {
            AgentError::config_source(
                "agent.planner",
                "\"hierarchical\" plans toward the task's goal, and this cost has none",
            )
        })?;
        if self.subgoal.is_none() || self.calls.is_multiple_of(self.cfg.replan_calls) {
            let stuck = self.check_stuck(s0);
            let d = goal.len();
            let mut plan = search_level2(
                &self.model,
                &self.cfg,
                s0,
                goal,
                &self.dead_ends,
                self.support.as_ref(),
            )?;
            if let (false, Some(old)) = (stuck, self.remaining(s0)) {
                let new_steps = self.steps_to_goal(plan.path.len() / d, plan.distance);
                let old_steps = self.steps_to_goal(old.path.len() / d, old.distance);
                if new_steps >= old_steps - self.cfg.switch_margin {
                    plan = old;
                }
            }
            self.last_start = s0.to_vec();
            let len = plan.path.len() / d;
            let start = sq(s0, goal).sqrt();
            self.subgoal = Some(if len <= self.cfg.subgoal_step || plan.distance >= start {
                goal.to_vec()
            } else {
                let j = self.cfg.subgoal_step - 1;
                plan.path[j * d..(j + 1) * d].to_vec()
            });
            self.last = Some(plan);
        }
        self.calls += 1;
        let sub = self.subgoal.clone().unwrap_or_else(|| goal.to_vec());
        let low_cost = cost.toward(sub)?;
        self.low.plan(s0, &low_cost, model)
    }

    fn shift(&mut self, k: usize) {
        self.low.shift(k);
    }

    fn reset(&mut self) {
        self.low.reset();
        self.calls = 0;
        self.subgoal = None;
        self.last = None;
        self.last_start.clear();
        self.dead_ends.clear();
    }

    fn warm_start(&mut self, actions: &[f32], act_dim: usize) -> Result<(), AgentError> {
        self.low.warm_start(actions, act_dim)
    }

    fn horizon(&self) -> usize {
        self.low.horizon()
    }

    fn subgoal(&self) -> Option<&[f32]> {
        self.subgoal.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{CostKind, GoalDistance};
    use crate::planner::test_doubles::{Recorder, Still};
    use ami_jepa::checkpoint::TensorMap;
    use ami_jepa::hjepa::{Level2, Level2Report};
    use ami_jepa::Collapse;

    /// A level 2 that ignores the macro-action: `ŝ' = s + (0.5, 0)` (zero weights, bias
    /// `(0.5, 0)`), mean macro step 0.5.
    fn drifting() -> Arc<Level2Model> {
        let mut map = TensorMap::new();
        map.insert(
            "predictor.layers.0.weight".into(),
            (vec![2, 4], vec![0.0; 8]),
        );
        map.insert("predictor.layers.0.bias".into(), (vec![2], vec![0.5, 0.0]));
        let model =
            Level2::from_tensors(&map, 1, &ami_jepa::burn::tensor::Device::default()).unwrap();
        let c = Collapse {
            mean_std: 1.0,
            effective_rank: 2.0,
        };
        let report = Level2Report {
            k: 8,
            rollout: 1,
            heldout_trajectories: 1,
            mse: vec![0.0],
            copy_mse: vec![0.25],
            collapse_predicted: c,
            collapse_real: c,
            mean_step: 0.5,
            final_loss: 0.0,
        };
        Arc::new(Level2Model::new(&model, 2, 2, report).unwrap())
    }

    #[test]
    fn sub_goals_follow_the_level2_path_and_an_agent_that_does_not_move_meets_a_dead_end() {
        let goal = vec![5.0, 0.0];
        let cost = Cost::new()
            .with_goal(goal.clone())
            .with_term(
                CostKind::Task,
                1.0,
                GoalDistance::new(goal.clone()).unwrap(),
            )
            .unwrap();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let cfg = HierarchicalConfig {
            replan_calls: 1,
            snap_radius: 0.0,
            ..HierarchicalConfig::default()
        };
        // Trusting the model needs no data; the default, keeping to the data, does.
        let err = Hierarchical::new(
            HierarchicalConfig::default(),
            Box::new(Recorder(seen.clone())),
            drifting(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("hierarchy.planner.snap_radius"), "{err}");
        let mut h = Hierarchical::new(cfg, Box::new(Recorder(seen.clone())), drifting()).unwrap();
        let s0 = [0.0, 0.0];
        h.plan(&s0, &cost, &Still).unwrap();
        // Level 2 drifts +0.5 per macro step: the path is (0.5, 0), (1, 0), …, and level 1 is
        // handed its second state.
        assert_eq!(seen.borrow()[0], vec![1.0, 0.0]);
        assert_eq!(h.subgoal(), Some(&[1.0f32, 0.0][..]));
        assert!(h.dead_ends().is_empty());
        // Not having moved after a plan that predicted a 0.5 step is a dead end here.
        h.plan(&s0, &cost, &Still).unwrap();
        assert_eq!(h.dead_ends().len(), 1);
        assert_eq!(h.dead_ends()[0].at, s0.to_vec());
        // Having moved along the path: no new dead end, the plan is followed on.
        h.plan(&[0.5, 0.0], &cost, &Still).unwrap();
        assert_eq!(h.dead_ends().len(), 1);
        h.reset();
        assert!(h.dead_ends().is_empty() && h.subgoal().is_none());
    }

    #[test]
    fn macro_actions_are_evenly_spaced_directions_times_each_magnitude() {
        let cfg = HierarchicalConfig {
            directions: 4,
            magnitudes: vec![1.0, 0.5],
            ..HierarchicalConfig::default()
        };
        let m = cfg.macro_actions(2);
        assert_eq!(m.len(), 2 * 4 * 2);
        let norms: Vec<f32> = m.chunks(2).map(|r| r[0].hypot(r[1])).collect();
        for (i, n) in norms.iter().enumerate() {
            let want = if i < 4 { 1.0 } else { 0.5 };
            assert!((n - want).abs() < 1e-6, "{i}: {n}");
        }
        // Directions 0°, 90°, 180°, 270°.
        assert!((m[0] - 1.0).abs() < 1e-6 && m[1].abs() < 1e-6);
        assert!(m[2].abs() < 1e-6 && (m[3] - 1.0).abs() < 1e-6);
        // Other widths: ±e_j.
        let m3 = HierarchicalConfig::default().macro_actions(3);
        assert_eq!(m3.len(), 6 * 3);
        assert_eq!(&m3[..6], &[0.4, 0.0, 0.0, -0.4, 0.0, 0.0]);
    }

    #[test]
    fn bad_settings_name_their_key() {
        for (cfg, key) in [
            (
                HierarchicalConfig {
                    low_horizon: 0,
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.low_horizon",
            ),
            (
                HierarchicalConfig {
                    magnitudes: vec![],
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.magnitudes",
            ),
            (
                HierarchicalConfig {
                    stuck_fraction: f32::NAN,
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.stuck_fraction",
            ),
            (
                HierarchicalConfig {
                    replan_calls: 0,
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.replan_calls",
            ),
            (
                HierarchicalConfig {
                    snap_radius: -0.1,
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.snap_radius",
            ),
            (
                HierarchicalConfig {
                    line_radius: 0.0,
                    ..HierarchicalConfig::default()
                },
                "hierarchy.planner.line_radius",
            ),
        ] {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        HierarchicalConfig::default().validate().unwrap();
        // Without the data support the segment radius is unused.
        HierarchicalConfig {
            snap_radius: 0.0,
            line_radius: 0.0,
            ..HierarchicalConfig::default()
        }
        .validate()
        .unwrap();
    }
}
