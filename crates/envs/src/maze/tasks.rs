//! Test tasks of the maze and its reward-free behaviour policy.
//!
//! **Tasks** ([`tasks_in`]): the ordered room pairs `(a, b)` of the layout with door-graph
//! distance `≥ task.min_rooms_apart` are listed (rooms in index order, `b` inner); task `i`
//! draws one pair uniformly, then its start uniformly in `a` and its goal uniformly in `b`,
//! each at least [`EPISODE_MARGIN`] px from the room's walls. All draws come from
//! `StdRng::seed_from_u64(seed)` in the order pair₀, start₀, goal₀, pair₁, …
//!
//! **Reward-free data** ([`MazeWalk`]): each trajectory first draws its layout uniformly from
//! [`MazeConfig::training_layouts`], then follows two-rooms' correlated random walk
//! ([`crate::data`]): with probability `door_fraction` it starts near a uniformly drawn door of
//! that layout ([`Arena::door_start`]) and is steered for its first `⌊T/2⌋` steps towards the
//! point beyond it (direction to the target + VonMises(0, κ)); otherwise it starts uniformly in
//! free space with a uniform direction and turns by VonMises(0, κ) each step. Step lengths
//! are `N(step_mean, step_std²)` truncated to `[0, max_step]`.
//!
//! Trajectories are shorter than the test tasks, so that no single one shows a whole
//! solution: a trajectory of T steps moves at most `T·max_step` px (64 px for the default 32
//! steps of 2 px, two room pitches). That is not a proof (doors on adjacent sides of a room
//! are only ≈ 13 px apart, so three doors could be crossed in ≈ 35 px), but measured on the
//! default maze with the default data settings (3000 trajectories, seed 0) 1683 trajectories
//! stay in one room, 1288 visit two neighbouring rooms, 29 span two doors and none spans
//! three; with every trajectory steered through a door (`door_fraction = 1`): 377, 2563, 60
//! and 0. The test `data_has_the_documented_shapes_is_deterministic_and_never_spans_a_task`
//! checks the last number on 300 trajectories.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f32::consts::PI;

use crate::data::{wrap_angle, DataConfig};
use crate::env::{BehaviourPolicy, Task};
use crate::episodes::EPISODE_MARGIN;
use crate::error::EnvError;
use crate::sampling::{truncated_normal, von_mises};

use super::{Arena, MazeConfig, RoomId};

/// The `n` test tasks of `seed` in layout `id` (module docs); states are `(x, y, id)`.
pub fn tasks_in(cfg: &MazeConfig, id: usize, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
    cfg.validate()?;
    let arena = cfg.arena(id)?;
    let pairs = far_pairs(&arena, cfg.task.min_rooms_apart);
    if pairs.is_empty() {
        return Err(EnvError::config(
            "env.task.min_rooms_apart",
            cfg.task.min_rooms_apart,
            "a distance that some pair of rooms of the layout has",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let state = |p: [f32; 2]| vec![p[0], p[1], id as f32];
    Ok((0..n)
        .map(|_| {
            let (a, b) = pairs[rng.gen_range(0..pairs.len())];
            let start = arena.sample_in_room(&mut rng, a, EPISODE_MARGIN);
            let goal = arena.sample_in_room(&mut rng, b, EPISODE_MARGIN);
            Task {
                start: state(start),
                goal: state(goal),
            }
        })
        .collect())
}

/// Ordered room pairs at door-graph distance ≥ `k`, rooms in index order.
pub fn far_pairs(arena: &Arena, k: usize) -> Vec<(RoomId, RoomId)> {
    let l = arena.layout();
    (0..l.rooms())
        .flat_map(|i| {
            let a = l.room(i);
            l.distances_from(a)
                .into_iter()
                .enumerate()
                .filter(move |(_, d)| d.is_some_and(|d| d >= k))
                .map(move |(j, _)| (a, l.room(j)))
        })
        .collect()
}

/// Two-rooms' correlated random walk with door steering over the training layouts (module
/// docs).
pub struct MazeWalk {
    /// `(id, walls)` of every training layout.
    layouts: Vec<(usize, Arena)>,
    cfg: DataConfig,
    max_step: f32,
    /// Current direction θ.
    theta: f32,
    /// Steering target beyond a door, for steered trajectories.
    target: Option<[f32; 2]>,
}

impl MazeWalk {
    /// The walk with `data`'s settings over `env`'s training layouts.
    pub fn new(env: &MazeConfig, data: DataConfig) -> Result<MazeWalk, EnvError> {
        env.validate()?;
        let layouts = env
            .training_layouts()
            .into_iter()
            .map(|k| Ok((k, env.arena(k)?)))
            .collect::<Result<Vec<_>, EnvError>>()?;
        Ok(MazeWalk {
            layouts,
            cfg: data,
            max_step: env.max_step,
            theta: 0.0,
            target: None,
        })
    }
}

impl BehaviourPolicy for MazeWalk {
    /// Layout, then steered (door start) with probability `door_fraction` or a uniform free
    /// start, then a uniform direction.
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let (id, arena) = &self.layouts[rng.gen_range(0..self.layouts.len())];
        let doors = arena.layout().doors();
        let steered = rng.gen::<f32>() < self.cfg.door_fraction && !doors.is_empty();
        let p = if steered {
            let door = doors[rng.gen_range(0..doors.len())];
            let (p, target) = arena.door_start(rng, door)?;
            self.target = Some(target);
            p
        } else {
            self.target = None;
            arena.sample_free(rng)?
        };
        self.theta = rng.gen_range(-PI..PI);
        Ok(vec![p[0], p[1], *id as f32])
    }

    fn act(&mut self, t: usize, p: &[f32], rng: &mut StdRng) -> Vec<f32> {
        let base = match self.target {
            Some(g) if t < self.cfg.traj_len / 2 => (g[1] - p[1]).atan2(g[0] - p[0]),
            _ => self.theta,
        };
        self.theta = wrap_angle(base + von_mises(rng, self.cfg.kappa));
        let len = truncated_normal(
            rng,
            self.cfg.step_mean,
            self.cfg.step_std,
            0.0,
            self.max_step,
        );
        vec![len * self.theta.cos(), len * self.theta.sin()]
    }
}
