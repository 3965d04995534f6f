//! Planning with sub-goals on a graph of **imagined** walks: the world model explores the
//! episode's own world from the agent's state, and a shortest route through what it imagined
//! gives the sub-goal ([`DataGraph`] built from model rollouts instead of the data).
//!
//! Where each episode has its own layout (EB-JEPA's random wall and door), the data's states
//! come from other layouts and cannot be joined into one graph; the world model, which reads
//! the layout from the observation, can. At the first call toward a goal, and again every
//! `rebuild_calls` calls from the state the agent has reached, the planner rolls the model out
//! from `s₀` along `rollouts` persistent random walks of `steps` planned actions:
//!
//! `u₀ ~ uniform on the unit sphere`, `u_{t+1} = (u_t + τ ξ_t) / ‖u_t + τ ξ_t‖`, `ξ_t ~ N(0, I_A)`,
//! `a_t = v · a_max · u_t`
//!
//! (`τ` = `turn`, `v` = `speed`, `a_max` the action bound; in two dimensions the heading turns
//! by about `τ` radians per action, a walk like the data generator's von Mises turns). To see
//! farther than one walk goes, each later round of `rounds` starts `rollouts` more walks from
//! `starts` ends of the previous round's walks, chosen by greedy farthest-point sampling from
//! `s₀` (each the end farthest from `s₀` and the ends already chosen). The imagined states
//! `[ŝ_start, ŝ_1 … ŝ_h]` of every walk are the trajectories of a [`DataGraph`]
//! (nodes every `stride` actions, links closer than `link_radius · μ₁` whose segment stays
//! within `line_radius · μ₁` of an imagined state, `μ₁` the mean imagined step): the model
//! never walks through a wall it has learned, so no imagined state lies inside one and no link
//! crosses it. Dijkstra from the goal's representation, the route from `s₀`, and as sub-goal
//! the first waypoint `subgoal_steps · μ₁` along it (the goal itself when the route is
//! shorter or there is none); level 1 — the configured `[planner]` with `low_horizon` planned
//! actions — minimises the task's cost re-aimed at the sub-goal ([`Cost::toward`]). No data,
//! no true position: search in the world model's imagination.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::graph::route_subgoal;
use super::{fill_standard_normal, Plan, Planner};
use crate::cost::Cost;
use crate::data_graph::{sq, DataGraph, GoalField};
use crate::error::AgentError;
use crate::level2::SeenTrajectories;
use crate::world_model::WorldModel;

/// `[hierarchy.imagined]`: the imagined walks, their graph and the hand-over to level 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImaginedConfig {
    /// Random walks rolled out through the world model per round (default 256).
    pub rollouts: usize,
    /// Rounds of walks per build: round 1 starts at the agent's state, each later round
    /// from `starts` ends of the previous round's walks chosen by farthest-point sampling
    /// (default 2).
    pub rounds: usize,
    /// Start states of each later round (default 8).
    pub starts: usize,
    /// Planned actions per walk (default 40).
    pub steps: usize,
    /// Action length as a fraction of the action bound, `v` in `(0, 1]` (default 0.4).
    pub speed: f32,
    /// Heading noise per action, `τ` (default 0.7).
    pub turn: f32,
    /// A node every this many actions of each walk (default 1).
    pub stride: usize,
    /// Links join nodes closer than this many mean imagined steps `μ₁` (default 1.0).
    pub link_radius: f32,
    /// A link is kept only when its segment stays within this many `μ₁` of an imagined state
    /// (default 0.3).
    pub line_radius: f32,
    /// The sub-goal is the first waypoint this many `μ₁` along the route (default 3).
    pub subgoal_steps: f32,
    /// Level-1 planning horizon toward the sub-goal, in planned actions (default 8).
    pub low_horizon: usize,
    /// Imagine again from the agent's state after this many calls (0: once per goal;
    /// default 10).
    pub rebuild_calls: usize,
    /// The agent is stuck when it moved less than this fraction of its plan's predicted
    /// first step: the move is recorded as a barrier and the walks are imagined again
    /// (default 0.25).
    pub stuck_fraction: f32,
    /// Edges that start within this many mean imagined steps of a barrier and go through it
    /// are left out of the graph (default 2).
    pub barrier_radius: f32,
    /// Seed of the walks (the run's seed offset is added).
    pub seed: u64,
}

impl Default for ImaginedConfig {
    fn default() -> Self {
        ImaginedConfig {
            rollouts: 256,
            rounds: 2,
            starts: 8,
            steps: 40,
            speed: 0.4,
            turn: 0.7,
            stride: 1,
            link_radius: 1.0,
            line_radius: 0.3,
            subgoal_steps: 3.0,
            low_horizon: 8,
            rebuild_calls: 10,
            stuck_fraction: 0.25,
            barrier_radius: 2.0,
            seed: 0,
        }
    }
}

impl ImaginedConfig {
    /// Checks the settings (errors name the key).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (k, v) in [
            ("hierarchy.imagined.rollouts", self.rollouts),
            ("hierarchy.imagined.rounds", self.rounds),
            ("hierarchy.imagined.starts", self.starts),
            ("hierarchy.imagined.steps", self.steps),
            ("hierarchy.imagined.stride", self.stride),
            ("hierarchy.imagined.low_horizon", self.low_horizon),
        ] {
            if v == 0 {
                return Err(AgentError::config(k, 0, ">= 1"));
            }
        }
        if !(self.speed > 0.0 && self.speed <= 1.0) {
            return Err(AgentError::config(
                "hierarchy.imagined.speed",
                self.speed,
                "a value in (0, 1]",
            ));
        }
        if !(self.turn.is_finite() && self.turn >= 0.0) {
            return Err(AgentError::config(
                "hierarchy.imagined.turn",
                self.turn,
                "a finite value >= 0",
            ));
        }
        if !(self.stuck_fraction >= 0.0 && self.stuck_fraction < 1.0) {
            return Err(AgentError::config(
                "hierarchy.imagined.stuck_fraction",
                self.stuck_fraction,
                "a value in [0, 1)",
            ));
        }
        for (k, v) in [
            ("hierarchy.imagined.barrier_radius", self.barrier_radius),
            ("hierarchy.imagined.link_radius", self.link_radius),
            ("hierarchy.imagined.line_radius", self.line_radius),
            ("hierarchy.imagined.subgoal_steps", self.subgoal_steps),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AgentError::config(k, v, "a finite value > 0"));
            }
        }
        Ok(())
    }
}

/// Persistent random walks of the module docs: `[n, h, A]` actions of length `len`.
pub fn random_walks(
    rng: &mut StdRng,
    n: usize,
    h: usize,
    a: usize,
    len: f32,
    turn: f32,
) -> Vec<f32> {
    let mut out = vec![0.0f32; n * h * a];
    let mut u = vec![0.0f32; a];
    let mut xi = vec![0.0f32; a];
    for walk in out.chunks_exact_mut((h * a).max(1)) {
        fill_standard_normal(rng, &mut u);
        normalise(&mut u);
        for (t, act) in walk.chunks_exact_mut(a).enumerate() {
            if t > 0 {
                fill_standard_normal(rng, &mut xi);
                for (ui, xi) in u.iter_mut().zip(&xi) {
                    *ui += turn * xi;
                }
                normalise(&mut u);
            }
            for (o, ui) in act.iter_mut().zip(&u) {
                *o = len * ui;
            }
        }
    }
    out
}

/// `u / ‖u‖` (the first axis when `u` is 0).
fn normalise(u: &mut [f32]) {
    let norm = u.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        u.iter_mut().for_each(|x| *x /= norm);
    } else {
        u.iter_mut().for_each(|x| *x = 0.0);
        if let Some(first) = u.first_mut() {
            *first = 1.0;
        }
    }
}

/// The planner of the module docs.
pub struct ImaginedGraphPlanner {
    cfg: ImaginedConfig,
    max_action_norm: f32,
    rng: StdRng,
    low: Box<dyn Planner>,
    graph: Option<DataGraph>,
    field: Option<GoalField>,
    calls: usize,
    subgoal: Option<Vec<f32>>,
    /// The last call's start and the state its plan predicted after one action.
    last: Option<(Vec<f32>, Vec<f32>)>,
    /// Moves the world refused: `(p, d)`, the agent stayed at `p` although the model
    /// predicted `p + d`.
    barriers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl std::fmt::Debug for ImaginedGraphPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImaginedGraphPlanner")
            .field("cfg", &self.cfg)
            .field("nodes", &self.graph.as_ref().map_or(0, DataGraph::len))
            .finish()
    }
}

impl ImaginedGraphPlanner {
    /// Level 1 = `low` (its horizon is the low horizon); walks of actions up to
    /// `max_action_norm` (the environment's bound, `> 0`).
    pub fn new(
        cfg: ImaginedConfig,
        low: Box<dyn Planner>,
        max_action_norm: f32,
    ) -> Result<Self, AgentError> {
        cfg.validate()?;
        if !(max_action_norm.is_finite() && max_action_norm > 0.0) {
            return Err(AgentError::config(
                "max_action_norm",
                max_action_norm,
                "a finite bound > 0 (imagined walks need one)",
            ));
        }
        Ok(ImaginedGraphPlanner {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            max_action_norm,
            low,
            graph: None,
            field: None,
            calls: 0,
            subgoal: None,
            last: None,
            barriers: Vec::new(),
        })
    }

    /// The graph of the last build (none before the first call).
    pub fn graph(&self) -> Option<&DataGraph> {
        self.graph.as_ref()
    }

    /// The moves the world refused so far this episode (`(p, d)`: stayed at `p`, predicted
    /// `p + d`).
    pub fn barriers(&self) -> &[(Vec<f32>, Vec<f32>)] {
        &self.barriers
    }

    /// Records a barrier when the agent, now at `s0`, moved less than `stuck_fraction` of
    /// the last plan's predicted first step (of at least half a mean imagined step). Returns
    /// whether it did.
    fn check_stuck(&mut self, s0: &[f32], step: f32) -> bool {
        let Some((from, predicted)) = self.last.take() else {
            return false;
        };
        let dist = |a: &[f32], b: &[f32]| sq(a, b).sqrt();
        let expected = dist(&predicted, &from);
        if expected < 0.5 * step || dist(s0, &from) >= self.cfg.stuck_fraction * expected {
            return false;
        }
        let d = predicted.iter().zip(&from).map(|(p, f)| p - f).collect();
        self.barriers.push((from, d));
        true
    }

    /// Rolls the walks out from `s0` (then from the farthest ends, module docs) and builds
    /// their graph.
    fn imagine(&mut self, s0: &[f32], model: &dyn WorldModel) -> Result<DataGraph, AgentError> {
        let c = self.cfg.clone();
        let (h, a, d) = (c.steps, model.action_dim(), model.state_dim());
        let len = c.speed * self.max_action_norm;
        let mut seen = Vec::with_capacity(c.rounds * c.rollouts * (h + 1) * d);
        let mut walks = 0;
        let mut starts = vec![s0.to_vec()];
        for round in 0..c.rounds {
            let mut ends = Vec::new();
            let k = starts.len();
            for (j, start) in starts.iter().enumerate() {
                let n = c.rollouts / k + usize::from(j < c.rollouts % k);
                if n == 0 {
                    continue;
                }
                let actions = random_walks(&mut self.rng, n, h, a, len, c.turn);
                let states = model.rollout(start, &actions, n, h)?;
                for walk in states.chunks_exact(h * d) {
                    seen.extend_from_slice(start);
                    seen.extend_from_slice(walk);
                    ends.extend_from_slice(&walk[(h - 1) * d..]);
                    walks += 1;
                }
            }
            if round + 1 < c.rounds {
                starts = farthest_points(&ends, d, s0, c.starts);
            }
        }
        let seen = SeenTrajectories {
            states: seen,
            n: walks,
            len: h + 1,
        };
        let (barriers, reach) = (&self.barriers, c.barrier_radius);
        // Barrier radii are in mean imagined steps μ₁, which the graph measures on the walks.
        let keep = |u: &[f32], v: &[f32], step: f32| {
            !barriers
                .iter()
                .any(|(p, dir)| crosses(u, v, p, dir, reach * step))
        };
        DataGraph::build_with(&seen, d, c.stride, c.link_radius, c.line_radius, &keep)
    }
}

/// Whether the move `u → v` goes through the barrier `(p, dir)`: it starts within `radius` of
/// `p`, heads within 60° of `dir` and ends beyond `p` along `dir`.
pub fn crosses(u: &[f32], v: &[f32], p: &[f32], dir: &[f32], radius: f32) -> bool {
    if sq(u, p) >= radius * radius {
        return false;
    }
    // `(a − b) · dir`, without allocating: this runs for every edge near a barrier.
    let along = |a: &[f32], b: &[f32]| -> f32 {
        a.iter()
            .zip(b)
            .zip(dir)
            .map(|((x, y), e)| (x - y) * e)
            .sum()
    };
    let dd: f32 = dir.iter().map(|e| e * e).sum();
    along(v, u) > 0.5 * (sq(v, u) * dd).sqrt() && along(v, p) > 0.0
}

/// Greedy farthest-point sampling: up to `k` of `points` (`[m, d]`), each the one farthest
/// from `anchor` and the points already chosen (ties: the first).
pub fn farthest_points(points: &[f32], d: usize, anchor: &[f32], k: usize) -> Vec<Vec<f32>> {
    let mut nearest: Vec<f32> = points.chunks_exact(d).map(|p| sq(p, anchor)).collect();
    let mut out: Vec<Vec<f32>> = Vec::new();
    while out.len() < k {
        let Some((i, &far)) = nearest
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1).then(y.0.cmp(&x.0)))
        else {
            break;
        };
        if far <= 0.0 && !out.is_empty() {
            break;
        }
        let chosen = points[i * d..(i + 1) * d].to_vec();
        for (n, p) in nearest.iter_mut().zip(points.chunks_exact(d)) {
            *n = n.min(sq(p, &chosen));
        }
        out.push(chosen);
    }
    out
}

impl Planner for ImaginedGraphPlanner {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let goal = cost
            .goal()
            .ok_or_else(|| {
                AgentError::config_source(
                    "agent.planner",
                    "\"imagined\" plans toward the task's goal, and this cost has none",
                )
            })?
            .to_vec();
        let new_goal = self.field.as_ref().is_none_or(|f| f.goal != goal);
        let due = self.cfg.rebuild_calls > 0 && self.calls >= self.cfg.rebuild_calls;
        let step = self.graph.as_ref().map_or(0.0, DataGraph::step);
        let stuck = self.check_stuck(s0, step);
        if self.graph.is_none() || new_goal || due || stuck {
            self.graph = Some(self.imagine(s0, model)?);
            self.field = None;
            self.calls = 0;
        }
        self.calls += 1;
        let graph = self.graph.as_ref().expect("built above");
        let reach = self.cfg.subgoal_steps * graph.step();
        let sub = route_subgoal(graph, &mut self.field, s0, &goal, reach)?.unwrap_or(goal);
        let low_cost = cost.toward(sub.clone())?;
        self.subgoal = Some(sub);
        let plan = self.low.plan(s0, &low_cost, model)?;
        let d = s0.len();
        if plan.predicted_states.len() >= d {
            self.last = Some((s0.to_vec(), plan.predicted_states[..d].to_vec()));
        }
        Ok(plan)
    }

    fn shift(&mut self, k: usize) {
        self.low.shift(k);
    }

    fn reset(&mut self) {
        self.low.reset();
        self.rng = StdRng::seed_from_u64(self.cfg.seed);
        self.graph = None;
        self.field = None;
        self.calls = 0;
        self.subgoal = None;
        self.last = None;
        self.barriers.clear();
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
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::planner::test_doubles::{cost_to, Recorder, Walled};

    fn cfg() -> ImaginedConfig {
        ImaginedConfig {
            rollouts: 256,
            steps: 60,
            speed: 0.5,
            ..ImaginedConfig::default()
        }
    }

    /// The first sub-goal from `(2, 8)` toward `(8, 8)` in a world whose wall is open in `door`.
    fn first_subgoal(door: (f32, f32), cfg: ImaginedConfig) -> (Vec<f32>, usize) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut p = ImaginedGraphPlanner::new(cfg, Box::new(Recorder(seen.clone())), 1.0).unwrap();
        let model = Walled::new(door);
        p.plan(&[2.0, 8.0], &cost_to(&[8.0, 8.0]), &model).unwrap();
        let nodes = p.graph().unwrap().len();
        let sub = seen.borrow()[0].clone();
        (sub, nodes)
    }

    #[test]
    fn walks_are_persistent_headings_of_the_given_length() {
        let mut rng = StdRng::seed_from_u64(3);
        let a = random_walks(&mut rng, 5, 7, 2, 0.8, 0.3);
        assert_eq!(a.len(), 5 * 7 * 2);
        for act in a.chunks_exact(2) {
            let norm = (act[0] * act[0] + act[1] * act[1]).sqrt();
            assert!((norm - 0.8).abs() < 1e-5, "{norm}");
        }
        // τ = 0: one heading per walk; different walks, different headings.
        let straight = random_walks(&mut rng, 3, 4, 2, 1.0, 0.0);
        for walk in straight.chunks_exact(8) {
            let same = |x: &[f32]| (x[0] - walk[0]).abs() + (x[1] - walk[1]).abs() < 1e-5;
            assert!(walk.chunks_exact(2).all(same), "{walk:?}");
        }
        assert_ne!(straight[..2], straight[8..10]);
        // Small τ turns a little per step, large τ a lot (mean |Δheading|).
        let mean_turn = |turn: f32| {
            let w = random_walks(&mut StdRng::seed_from_u64(0), 50, 20, 2, 1.0, turn);
            let mut total = 0.0f32;
            for walk in w.chunks_exact(40) {
                for t in 1..20 {
                    let (a, b) = (&walk[2 * t - 2..2 * t], &walk[2 * t..2 * t + 2]);
                    total += (a[0] * b[0] + a[1] * b[1]).clamp(-1.0, 1.0).acos();
                }
            }
            total / (50.0 * 19.0)
        };
        let (small, large) = (mean_turn(0.1), mean_turn(1.0));
        assert!((0.05..0.12).contains(&small), "{small}");
        assert!(large > 0.4, "{large}");
        // Same seed, same walks; A = 1 gives ±len.
        let again = random_walks(&mut StdRng::seed_from_u64(3), 5, 7, 2, 0.8, 0.3);
        assert_eq!(
            again,
            random_walks(&mut StdRng::seed_from_u64(3), 5, 7, 2, 0.8, 0.3)
        );
        let one = random_walks(&mut rng, 4, 3, 1, 0.5, 0.7);
        assert!(one.iter().all(|x| (x.abs() - 0.5).abs() < 1e-6), "{one:?}");
    }

    #[test]
    fn the_route_through_imagination_leads_to_the_door_not_into_the_wall() {
        // Door at the bottom: the sub-goal goes down the left room (the straight way to the
        // goal is through the wall, which the model never walks through).
        let (sub, nodes) = first_subgoal((0.0, 3.0), cfg());
        assert_eq!(nodes, 2 * 256 * 61);
        assert!(sub[0] < 4.5 && sub[1] < 7.0, "{sub:?}");
        // Door in line with the agent and its goal: the sub-goal is straight ahead.
        let (sub, _) = first_subgoal((6.5, 9.5), cfg());
        assert!(sub[0] > 2.5 && (sub[1] - 8.0).abs() < 1.0, "{sub:?}");
        // Door at the top: up the left room.
        let (sub, _) = first_subgoal((9.0, 10.0), cfg());
        assert!(sub[0] < 4.5 && sub[1] > 8.3, "{sub:?}");
    }

    #[test]
    fn later_rounds_start_from_the_farthest_ends_and_see_farther() {
        // Farthest-point sampling: from the anchor 0, first 10, then 4 (the farthest from both
        // 0 and 10), then 7 or 2 — the first of equals — and never a point twice.
        let pts = [1.0f32, 10.0, 4.0, 2.0, 7.0, 10.0];
        let chosen = farthest_points(&pts, 1, &[0.0], 4);
        assert_eq!(chosen, vec![vec![10.0], vec![4.0], vec![7.0], vec![2.0]]);
        assert_eq!(farthest_points(&pts, 1, &[0.0], 10).len(), 5);
        assert_eq!(farthest_points(&[3.0, 3.0], 1, &[3.0], 2), vec![vec![3.0]]);
        // Walks too short to reach the door and the goal behind it in one round: three rounds
        // find the way down to the door.
        let short = ImaginedConfig {
            rollouts: 128,
            steps: 14,
            speed: 0.5,
            ..ImaginedConfig::default()
        };
        let (sub, nodes) = first_subgoal((0.0, 3.0), ImaginedConfig { rounds: 3, ..short });
        assert_eq!(nodes, 3 * 128 * 15);
        assert!(sub[0] < 4.5 && sub[1] < 7.0, "{sub:?}");
    }

    #[test]
    fn a_move_the_world_refused_becomes_a_barrier_that_routes_avoid() {
        // `crosses`: from near `p`, toward `dir` (within 60°), ending beyond `p`.
        let (p, dir) = ([4.0f32, 8.0], [1.0f32, 0.0]);
        assert!(crosses(&[4.2, 8.0], &[5.5, 8.3], &p, &dir, 1.0));
        assert!(
            !crosses(&[2.5, 8.0], &[5.5, 8.0], &p, &dir, 1.0),
            "starts too far"
        );
        assert!(
            !crosses(&[4.2, 8.0], &[4.4, 9.0], &p, &dir, 1.0),
            "along the wall"
        );
        assert!(
            !crosses(&[4.2, 8.0], &[3.0, 8.0], &p, &dir, 1.0),
            "away from it"
        );
        assert!(
            !crosses(&[3.5, 8.0], &[3.9, 8.0], &p, &dir, 1.0),
            "not beyond p"
        );
        // The recorder's plan predicts (0, 0): from (2, 8) that is a move of 8.2, and the
        // agent does not move, so the second call records the barrier ((2, 8), (−2, −8)) and
        // imagines again; a call after a real move records nothing.
        let seen = Rc::new(RefCell::new(Vec::new()));
        let c = ImaginedConfig {
            rollouts: 32,
            rounds: 1,
            steps: 10,
            ..ImaginedConfig::default()
        };
        let mut p = ImaginedGraphPlanner::new(c, Box::new(Recorder(seen)), 1.0).unwrap();
        let model = Walled::new((0.0, 3.0));
        let goal = cost_to(&[8.0, 8.0]);
        p.plan(&[2.0, 8.0], &goal, &model).unwrap();
        assert!(p.barriers().is_empty());
        p.plan(&[2.0, 8.0], &goal, &model).unwrap();
        assert_eq!(p.barriers(), &[(vec![2.0, 8.0], vec![-2.0, -8.0])]);
        assert_eq!(model.rollouts.get(), 2);
        p.plan(&[1.0, 6.0], &goal, &model).unwrap();
        assert_eq!(p.barriers().len(), 1);
        assert_eq!(model.rollouts.get(), 2);
        p.reset();
        assert!(p.barriers().is_empty());
    }

    #[test]
    fn the_walks_are_imagined_again_for_a_new_goal_and_every_rebuild_calls() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let c = ImaginedConfig {
            rollouts: 32,
            rounds: 1,
            steps: 10,
            rebuild_calls: 3,
            // The recorder's plans predict moves the agent never makes: no barriers here.
            stuck_fraction: 0.0,
            ..ImaginedConfig::default()
        };
        let mut p = ImaginedGraphPlanner::new(c, Box::new(Recorder(seen.clone())), 1.0).unwrap();
        let model = Walled::new((0.0, 3.0));
        let goal = cost_to(&[8.0, 8.0]);
        for _ in 0..3 {
            p.plan(&[2.0, 8.0], &goal, &model).unwrap();
        }
        assert_eq!(model.rollouts.get(), 1);
        p.plan(&[2.0, 8.0], &goal, &model).unwrap();
        assert_eq!(model.rollouts.get(), 2);
        p.plan(&[2.0, 8.0], &cost_to(&[7.0, 7.0]), &model).unwrap();
        assert_eq!(model.rollouts.get(), 3);
        assert_eq!(p.subgoal(), seen.borrow().last().map(|g| &g[..]));
        // Reset forgets the graph and restarts the walks' stream: same sub-goal again.
        p.reset();
        assert!(p.graph().is_none() && p.subgoal().is_none());
        p.plan(&[2.0, 8.0], &goal, &model).unwrap();
        assert_eq!(seen.borrow()[5], seen.borrow()[0]);
        // A cost without a goal cannot be planned toward.
        let err = p.plan(&[2.0, 8.0], &Cost::new(), &model).unwrap_err();
        assert!(err.to_string().contains("agent.planner"), "{err}");
    }

    #[test]
    fn bad_settings_name_their_key() {
        let d = ImaginedConfig::default;
        for (c, key) in [
            (
                ImaginedConfig { rollouts: 0, ..d() },
                "hierarchy.imagined.rollouts",
            ),
            (
                ImaginedConfig { steps: 0, ..d() },
                "hierarchy.imagined.steps",
            ),
            (
                ImaginedConfig { stride: 0, ..d() },
                "hierarchy.imagined.stride",
            ),
            (
                ImaginedConfig {
                    low_horizon: 0,
                    ..d()
                },
                "hierarchy.imagined.low_horizon",
            ),
            (
                ImaginedConfig { speed: 0.0, ..d() },
                "hierarchy.imagined.speed",
            ),
            (
                ImaginedConfig { speed: 1.5, ..d() },
                "hierarchy.imagined.speed",
            ),
            (
                ImaginedConfig { turn: -1.0, ..d() },
                "hierarchy.imagined.turn",
            ),
            (
                ImaginedConfig {
                    turn: f32::NAN,
                    ..d()
                },
                "hierarchy.imagined.turn",
            ),
            (
                ImaginedConfig {
                    link_radius: 0.0,
                    ..d()
                },
                "hierarchy.imagined.link_radius",
            ),
            (
                ImaginedConfig {
                    line_radius: f32::INFINITY,
                    ..d()
                },
                "hierarchy.imagined.line_radius",
            ),
            (
                ImaginedConfig {
                    subgoal_steps: -2.0,
                    ..d()
                },
                "hierarchy.imagined.subgoal_steps",
            ),
        ] {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        d().validate().unwrap();
        let low = || Box::new(Recorder(Rc::default())) as Box<dyn Planner>;
        assert!(ImaginedGraphPlanner::new(d(), low(), 0.0).is_err());
        assert!(ImaginedGraphPlanner::new(d(), low(), f32::NAN).is_err());
    }
}
