//! Test episodes and success rules.
//!
//! Episode `i` of `test_episodes(cfg, n, seed)` starts uniformly in one room and has its goal
//! uniformly in the other: left→right for even `i`, right→left for odd `i` (so exactly half
//! are swapped), both at least [`EPISODE_MARGIN`] = 4 px from every obstacle. Draws come from
//! `StdRng::seed_from_u64(seed)` in the order start₀, goal₀, start₁, goal₁, …
//!
//! Success rules (checked on a position, usually at every step of an episode):
//! * [`SuccessRule::Radius`]`(4.5)`: `‖p − g‖ ≤ 4.5` px (DINO-WM, EB-JEPA).
//! * [`SuccessRule::Mse`]`(1.0)`: `((p_x − g_x)² + (p_y − g_y)²)/2 < 1` px² (PLDM).

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::error::EnvError;
use crate::two_rooms::{Room, TwoRoomsConfig};

/// Minimum clearance of starts and goals from obstacles (px).
pub const EPISODE_MARGIN: f32 = 4.0;

/// Start and goal of one test episode.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TestEpisode {
    /// Start position (px).
    pub start: [f32; 2],
    /// Goal position (px).
    pub goal: [f32; 2],
}

/// The `n` test episodes of `seed` (deterministic).
pub fn test_episodes(
    cfg: &TwoRoomsConfig,
    n: usize,
    seed: u64,
) -> Result<Vec<TestEpisode>, EnvError> {
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (from, to) = if i % 2 == 0 {
            (Room::Left, Room::Right)
        } else {
            (Room::Right, Room::Left)
        };
        let start = cfg.sample_free(&mut rng, EPISODE_MARGIN, Some(from))?;
        let goal = cfg.sample_free(&mut rng, EPISODE_MARGIN, Some(to))?;
        out.push(TestEpisode { start, goal });
    }
    Ok(out)
}

/// When an episode counts as solved.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum SuccessRule {
    /// Euclidean distance to the goal ≤ r px (DINO-WM / EB-JEPA use 4.5).
    Radius(f32),
    /// Mean over the two coordinates of the squared error < m px² (PLDM uses 1).
    Mse(f32),
}

impl SuccessRule {
    /// Whether `pos` satisfies the rule for `goal`.
    pub fn is_success(&self, pos: [f32; 2], goal: [f32; 2]) -> bool {
        let (dx, dy) = (pos[0] - goal[0], pos[1] - goal[1]);
        match *self {
            SuccessRule::Radius(r) => (dx * dx + dy * dy).sqrt() <= r,
            SuccessRule::Mse(m) => (dx * dx + dy * dy) / 2.0 < m,
        }
    }
}

/// Whether `pos` satisfies `rule` for `goal` (same as [`SuccessRule::is_success`]).
pub fn is_success(rule: SuccessRule, pos: [f32; 2], goal: [f32; 2]) -> bool {
    rule.is_success(pos, goal)
}

/// Start, goal and executed path of an episode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpisodeTrace {
    /// Start position.
    pub start: [f32; 2],
    /// Goal position.
    pub goal: [f32; 2],
    /// Positions visited, starting with `start`.
    pub path: Vec<[f32; 2]>,
}

impl EpisodeTrace {
    /// Closest approach to the goal along the path (px; infinity for an empty path).
    pub fn min_distance(&self) -> f32 {
        self.path
            .iter()
            .map(|p| ((p[0] - self.goal[0]).powi(2) + (p[1] - self.goal[1]).powi(2)).sqrt())
            .fold(f32::INFINITY, f32::min)
    }
}
