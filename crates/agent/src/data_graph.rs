//! A graph of the places the reward-free data visited, in representation space, and shortest
//! paths on it: where a goal-distance cost has a local minimum (an agent pressed against the
//! wall between it and its goal), the path along the data goes around (search on the replay
//! buffer, Eysenbach et al. 2019; the data graph of offline goal-conditioned RL).
//!
//! **Nodes** are the representations `s_{i,t}` of the training trajectories every `stride`
//! steps. **Edges**: consecutive nodes of a trajectory (the data walked from one to the other,
//! so no such edge crosses a wall), and *links* between nodes of any trajectories closer than
//! `r_link` (of each node's [`MAX_LINK_CANDIDATES`] nearest) whose straight segment stays on
//! the data ([`DataSupport::segment`] over all seen
//! states at `r_line`: no trajectory walks inside a wall, so a link through one is refused).
//! Each edge weighs its length `‖s_a − s_b‖`. Radii are multiples of `μ₁`, the mean
//! representation distance of one environment step of the data,
//! `μ₁ = mean_{i,t} ‖s_{i,t+1} − s_{i,t}‖`.
//!
//! **Distances to a goal** `g` ([`DataGraph::field`]): Dijkstra from `g`, attached to the
//! nodes `n` within `r_link` of it whose segment to `g` stays on the data, and always to its
//! nearest node, at cost `‖g − n‖`: `D(n) = min over paths`, `next(n)` the node after `n` on
//! a shortest path (or the goal). **A route** from `s₀` ([`DataGraph::route`]) starts at the
//! attached node `c` (same rule) minimising `‖s₀ − c‖ + D(c)` and follows `next`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::data_support::DataSupport;
use crate::error::AgentError;
use crate::level2::SeenTrajectories;

/// Candidates for links per node: the nearest this many within `r_link` (bounds the graph at
/// `N · 512` links).
pub const MAX_LINK_CANDIDATES: usize = 512;

/// `keep(s_a, s_b, μ₁)` of [`DataGraph::build_with`]: whether an edge from `s_a` to `s_b` may
/// stay in the graph (`μ₁` the mean step of the trajectories).
pub type EdgeFilter<'a> = dyn Fn(&[f32], &[f32], f32) -> bool + 'a;

/// `next` of a node attached to the goal itself.
const TO_GOAL: u32 = u32::MAX;

/// The graph of the module docs.
#[derive(Debug, Clone)]
pub struct DataGraph {
    d: usize,
    /// `[N, D]`.
    nodes: Vec<f32>,
    /// Neighbours and edge lengths per node.
    adj: Vec<Vec<(u32, f32)>>,
    /// `μ₁`.
    step: f32,
    /// `r_link` (representation units).
    link: f32,
    /// The nodes, indexed for radius-`r_link` queries.
    index: DataSupport,
    /// Every seen state, indexed for segment checks at `r_line`.
    support: DataSupport,
    links: usize,
}

/// Shortest-path distances from every node to one goal ([`DataGraph::field`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GoalField {
    /// The goal `g` (`[D]`).
    pub goal: Vec<f32>,
    /// `D(n)` (infinite where the goal is unreachable).
    pub dist: Vec<f32>,
    next: Vec<u32>,
}

/// A route from a state to the goal along the graph ([`DataGraph::route`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The nodes visited, row-major `[L, D]`, then the goal.
    pub waypoints: Vec<f32>,
    /// Distance along the route from the start to each waypoint (`[L + 1]`, increasing).
    pub along: Vec<f32>,
}

impl Route {
    /// Length of the route from its start to the goal.
    pub fn length(&self) -> f32 {
        self.along.last().copied().unwrap_or(0.0)
    }

    /// The first waypoint at least `reach` along the route (the goal when none is), `[D]`.
    pub fn ahead(&self, reach: f32) -> &[f32] {
        let d = self.waypoints.len() / self.along.len().max(1);
        let j = self
            .along
            .iter()
            .position(|&a| a >= reach)
            .unwrap_or(self.along.len() - 1);
        &self.waypoints[j * d..(j + 1) * d]
    }
}

#[derive(PartialEq)]
struct Entry(f32, u32);

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` pops the smallest distance (ties: the smaller node).
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// `‖a − b‖²`.
pub(crate) fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl DataGraph {
    /// Builds the graph of `seen` (`[n, len, D]`) with nodes every `stride` steps, links
    /// shorter than `link_radius · μ₁` and segment checks at `line_radius · μ₁` (module
    /// docs). Errors name the key (`hierarchy.graph.*`) or the shape.
    pub fn build(
        seen: &SeenTrajectories,
        d: usize,
        stride: usize,
        link_radius: f32,
        line_radius: f32,
    ) -> Result<Self, AgentError> {
        Self::build_with(seen, d, stride, link_radius, line_radius, &|_, _, _| true)
    }

    /// [`DataGraph::build`] keeping only the edges (trajectory steps and links) between `a`
    /// and `b` for which `keep(s_a, s_b, μ₁)` and `keep(s_b, s_a, μ₁)` hold — e.g. not those
    /// across a place the world refused to the agent
    /// ([`crate::planner::ImaginedGraphPlanner`]).
    pub fn build_with(
        seen: &SeenTrajectories,
        d: usize,
        stride: usize,
        link_radius: f32,
        line_radius: f32,
        keep: &EdgeFilter<'_>,
    ) -> Result<Self, AgentError> {
        if stride == 0 {
            return Err(AgentError::config("hierarchy.graph.stride", 0, ">= 1"));
        }
        for (key, r) in [
            ("hierarchy.graph.link_radius", link_radius),
            ("hierarchy.graph.line_radius", line_radius),
        ] {
            if !(r.is_finite() && r > 0.0) {
                return Err(AgentError::config(key, r, "a finite value > 0"));
            }
        }
        let (n, len) = (seen.n, seen.len);
        if d == 0 || n == 0 || len < 2 || seen.states.len() != n * len * d {
            return Err(AgentError::shape(
                "data graph trajectories",
                seen.states.len(),
                format!("[n ≥ 1, len ≥ 2, D = {d}]"),
            ));
        }
        let at = |i: usize, t: usize| &seen.states[(i * len + t) * d..(i * len + t + 1) * d];
        let mut total = 0.0f64;
        for i in 0..n {
            for t in 0..len - 1 {
                total += f64::from(sq(at(i, t), at(i, t + 1)).sqrt());
            }
        }
        let step = (total / (n * (len - 1)) as f64) as f32;
        if !(step.is_finite() && step > 0.0) {
            return Err(AgentError::shape(
                "data graph trajectories",
                seen.states.len(),
                "trajectories that move (mean step > 0)",
            ));
        }
        let link = link_radius * step;
        let support = DataSupport::new(seen.states.clone(), d, link, line_radius * step)?;
        let times: Vec<usize> = (0..len).step_by(stride).collect();
        let mut nodes = Vec::with_capacity(n * times.len() * d);
        let mut adj: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n * times.len());
        for i in 0..n {
            for (j, &t) in times.iter().enumerate() {
                nodes.extend_from_slice(at(i, t));
                let id = adj.len();
                let mut edges = Vec::new();
                let (a, b) = (at(i, times[j.saturating_sub(1)]), at(i, t));
                if j > 0 && keep(a, b, step) && keep(b, a, step) {
                    let w = sq(at(i, t), at(i, times[j - 1])).sqrt();
                    edges.push(((id - 1) as u32, w));
                    adj[id - 1].push((id as u32, w));
                }
                adj.push(edges);
            }
        }
        let index = DataSupport::new(nodes.clone(), d, link, line_radius * step)?;
        let count = adj.len();
        let mut links = 0;
        for a in 0..count {
            let sa = &nodes[a * d..(a + 1) * d];
            let mut near = index.within_snap(sa);
            // At most the `MAX_LINK_CANDIDATES` nearest (a model that barely moves puts every
            // node within `r_link` of every other: without the bound, n² links).
            if near.len() > MAX_LINK_CANDIDATES {
                near.select_nth_unstable_by(MAX_LINK_CANDIDATES, |x, y| {
                    x.1.total_cmp(&y.1).then(x.0.cmp(&y.0))
                });
                near.truncate(MAX_LINK_CANDIDATES);
            }
            for (b, e) in near {
                if b <= a || adj[a].iter().any(|&(x, _)| x as usize == b) {
                    continue;
                }
                let sb = &nodes[b * d..(b + 1) * d];
                if support.segment(sa, sb) && keep(sa, sb, step) && keep(sb, sa, step) {
                    let w = e.sqrt();
                    adj[a].push((b as u32, w));
                    adj[b].push((a as u32, w));
                    links += 1;
                }
            }
        }
        Ok(DataGraph {
            d,
            nodes,
            adj,
            step,
            link,
            index,
            support,
            links,
        })
    }

    /// Nodes `N`.
    pub fn len(&self) -> usize {
        self.adj.len()
    }

    /// Whether the graph has no node (never: [`DataGraph::build`] needs one).
    pub fn is_empty(&self) -> bool {
        self.adj.is_empty()
    }

    /// Links between trajectories (edges other than consecutive nodes).
    pub fn links(&self) -> usize {
        self.links
    }

    /// `μ₁`, the mean representation distance of one step of the data.
    pub fn step(&self) -> f32 {
        self.step
    }

    /// The nodes a state `x` (`[D]`) attaches to, with their distances: those within
    /// `r_link` whose segment to `x` stays on the data, and the nearest node.
    fn attach(&self, x: &[f32]) -> Vec<(usize, f32)> {
        let d = self.d;
        let nearest = (0..self.len())
            .map(|k| (k, sq(&self.nodes[k * d..(k + 1) * d], x)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut out: Vec<(usize, f32)> = self
            .index
            .within_snap(x)
            .into_iter()
            .filter(|&(k, _)| self.support.segment(x, &self.nodes[k * d..(k + 1) * d]))
            .map(|(k, e)| (k, e.sqrt()))
            .collect();
        if let Some((k, e)) = nearest {
            if !out.iter().any(|&(j, _)| j == k) {
                out.push((k, e.sqrt()));
            }
        }
        out
    }

    /// Dijkstra from `goal` (`[D]`; module docs).
    pub fn field(&self, goal: &[f32]) -> Result<GoalField, AgentError> {
        if goal.len() != self.d {
            return Err(AgentError::shape(
                "data graph goal",
                goal.len(),
                format!("[D = {}]", self.d),
            ));
        }
        let mut dist = vec![f32::INFINITY; self.len()];
        let mut next = vec![TO_GOAL; self.len()];
        let mut heap = BinaryHeap::new();
        for (k, e) in self.attach(goal) {
            if e < dist[k] {
                dist[k] = e;
                heap.push(Entry(e, k as u32));
            }
        }
        while let Some(Entry(c, k)) = heap.pop() {
            let k = k as usize;
            if c > dist[k] {
                continue;
            }
            for &(j, w) in &self.adj[k] {
                let (j, nc) = (j as usize, c + w);
                if nc < dist[j] {
                    dist[j] = nc;
                    next[j] = k as u32;
                    heap.push(Entry(nc, j as u32));
                }
            }
        }
        Ok(GoalField {
            goal: goal.to_vec(),
            dist,
            next,
        })
    }

    /// The route from `s0` to `field`'s goal (module docs), or `None` when no attached node
    /// reaches the goal.
    pub fn route(&self, s0: &[f32], field: &GoalField) -> Option<Route> {
        if s0.len() != self.d || field.dist.len() != self.len() {
            return None;
        }
        let (start, e) = self
            .attach(s0)
            .into_iter()
            .filter(|&(k, _)| field.dist[k].is_finite())
            .min_by(|a, b| {
                (a.1 + field.dist[a.0])
                    .total_cmp(&(b.1 + field.dist[b.0]))
                    .then(a.0.cmp(&b.0))
            })?;
        let d = self.d;
        let total = e + field.dist[start];
        let mut waypoints = Vec::new();
        let mut along = Vec::new();
        let mut k = start as u32;
        while k != TO_GOAL {
            let ku = k as usize;
            waypoints.extend_from_slice(&self.nodes[ku * d..(ku + 1) * d]);
            along.push(total - field.dist[ku]);
            k = field.next[ku];
        }
        waypoints.extend_from_slice(&field.goal);
        along.push(total);
        Some(Route { waypoints, along })
    }

    /// `r_link` in representation units.
    pub fn link_radius(&self) -> f32 {
        self.link
    }
}

#[cfg(test)]
/// Trajectories on a 2-D plane with a wall at x ∈ (4, 6) for y > 2 (the representation is
/// the position): walks along the rows y = 0, 0.5, …, 10 (across the door below y = 2, on
/// each side of the wall above) and up the columns x = 0, 0.5, …, 4 and 6, …, 10, cut into
/// trajectories of 17 states 0.25 apart.
pub(crate) fn walled() -> SeenTrajectories {
    rooms(true)
}

#[cfg(test)]
/// [`walled`]'s two rooms; without `door` the rows below y = 2 stay on their side of the
/// wall too, so no trajectory joins the rooms.
pub(crate) fn rooms(door: bool) -> SeenTrajectories {
    let mut trajs: Vec<Vec<[f32; 2]>> = Vec::new();
    // Rows: left side x ∈ [0, 4], right side x ∈ [6, 10] (the door row y < 2 crosses).
    for r in 0..=20 {
        let y = r as f32 * 0.5;
        if door && y < 2.0 {
            trajs.push((0..=40).map(|k| [k as f32 * 0.25, y]).collect());
        } else {
            trajs.push((0..=16).map(|k| [k as f32 * 0.25, y]).collect());
            trajs.push((0..=16).map(|k| [6.0 + k as f32 * 0.25, y]).collect());
        }
    }
    // Columns on both sides.
    for c in (0..=8).chain(12..=20) {
        let x = c as f32 * 0.5;
        trajs.push((0..=40).map(|k| [x, k as f32 * 0.25]).collect());
    }
    let len = 17;
    // Cut every walk into pieces of 17 states (dropping the rest).
    let mut states = Vec::new();
    let mut n = 0;
    for t in trajs {
        for piece in t.chunks_exact(len) {
            for p in piece {
                states.extend_from_slice(p);
            }
            n += 1;
        }
    }
    SeenTrajectories { states, n, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_go_around_the_wall_through_the_door() {
        let g = DataGraph::build(&walled(), 2, 2, 2.5, 1.5).unwrap();
        assert!((g.step() - 0.25).abs() < 1e-6, "{}", g.step());
        assert!(g.links() > 0);
        let goal = [8.0f32, 8.0];
        let field = g.field(&goal).unwrap();
        let route = g.route(&[2.0, 8.0], &field).unwrap();
        // Straight across is 6; around through the door (y < 2) is about 6 + 2·6 = 18.
        assert!(route.length() > 16.0, "{}", route.length());
        let d = 2;
        let lowest = route
            .waypoints
            .chunks_exact(d)
            .map(|p| p[1])
            .fold(f32::MAX, f32::min);
        assert!(
            lowest < 2.0,
            "the route never reaches the door row: {lowest}"
        );
        // No step of the route lands in the wall or jumps across it above the door.
        for w in route
            .waypoints
            .chunks_exact(d)
            .collect::<Vec<_>>()
            .windows(2)
        {
            let (a, b) = (w[0], w[1]);
            assert!(!(a[0] > 4.0 && a[0] < 6.0 && a[1] > 2.0), "{a:?}");
            let crosses = (a[0] <= 4.0) != (b[0] <= 4.0);
            assert!(!crosses || a[1] <= 2.0 && b[1] <= 2.0, "{a:?} -> {b:?}");
        }
        // `along` increases to the length; `ahead` picks the first waypoint that far along.
        assert!(route.along.windows(2).all(|w| w[1] >= w[0]));
        let a3 = route.ahead(3.0);
        let j = route.along.iter().position(|&x| x >= 3.0).unwrap();
        assert_eq!(a3, &route.waypoints[j * d..(j + 1) * d]);
        assert_eq!(route.ahead(1e9), &goal);
        // On the goal's side the route is straight.
        let near = g.route(&[7.0, 8.0], &field).unwrap();
        assert!(near.length() < 1.6, "{}", near.length());
    }

    #[test]
    fn without_segment_checks_links_would_cross_and_build_errors_name_keys() {
        // A link radius wider than the wall with a huge line radius accepts links across it:
        // the route then goes straight (this is what the segment check prevents).
        let g = DataGraph::build(&walled(), 2, 2, 10.0, 100.0).unwrap();
        let field = g.field(&[8.0, 8.0]).unwrap();
        assert!(g.route(&[2.0, 8.0], &field).unwrap().length() < 7.0);
        // An edge filter that refuses every edge crossing x = 5 between y = 3 and y = 10 (a
        // wall the links ignored): the route goes around it again, below y = 3.
        let wall = |a: &[f32], b: &[f32], _step: f32| {
            let crosses = (a[0] - 5.0) * (b[0] - 5.0) <= 0.0;
            !(crosses && a[1].max(b[1]) > 3.0)
        };
        let filtered = DataGraph::build_with(&walled(), 2, 2, 10.0, 100.0, &wall).unwrap();
        assert!(filtered.links() < g.links());
        let field = filtered.field(&[8.0, 8.0]).unwrap();
        let route = filtered.route(&[2.0, 8.0], &field).unwrap();
        assert!(route.length() > 9.0, "{}", route.length());
        for (stride, link, line, key) in [
            (0, 1.0, 1.0, "hierarchy.graph.stride"),
            (1, 0.0, 1.0, "hierarchy.graph.link_radius"),
            (1, 1.0, f32::NAN, "hierarchy.graph.line_radius"),
        ] {
            let err = DataGraph::build(&walled(), 2, stride, link, line)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
        let bad = SeenTrajectories {
            states: vec![0.0; 6],
            n: 1,
            len: 3,
        };
        assert!(DataGraph::build(&bad, 2, 1, 1.0, 1.0).is_err());
        assert!(g.field(&[1.0]).is_err());
    }
}
