//! Test episodes and success rules.
//!
//! Episode `i` of `test_episodes(cfg, n, seed)` starts uniformly in one room and has its goal
//! uniformly in the other: left→right for even `i`, right→left for odd `i` (so exactly half
//! are swapped), both at least [`EPISODE_MARGIN`] = 4 px from every obstacle. Draws come from
//! `StdRng::seed_from_u64(seed)` in the order start₀, goal₀, start₁, goal₁, …
//!
//! Success rules are applied to an error vector `e` (for two-rooms `e = p − g`, see
//! [`crate::Env::goal_error`]), usually at every step of an episode:
//! * [`SuccessRule::Radius`]`(4.5)`: `‖e‖ ≤ 4.5` px (DINO-WM, EB-JEPA).
//! * [`SuccessRule::Mse`]`(1.0)`: `mean_i e_i² < 1` px², i.e. `((p_x − g_x)² + (p_y − g_y)²)/2`
//!   in two-rooms (PLDM).

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

/// When an episode counts as solved, as a test on the error vector `e` to the goal.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum SuccessRule {
    /// `‖e‖₂ ≤ r` (two-rooms: distance to the goal in px; DINO-WM / EB-JEPA use 4.5).
    Radius(f32),
    /// `mean_i e_i² < m` (two-rooms: mean over the two coordinates, px²; PLDM uses 1).
    Mse(f32),
}

impl SuccessRule {
    /// Whether the error vector `err` satisfies the rule (an empty `err` never does).
    pub fn is_met(&self, err: &[f32]) -> bool {
        if err.is_empty() {
            return false;
        }
        let sq: f32 = err.iter().map(|e| e * e).sum();
        match *self {
            SuccessRule::Radius(r) => sq.sqrt() <= r,
            SuccessRule::Mse(m) => sq / (err.len() as f32) < m,
        }
    }

    /// Whether the 2-D position `pos` satisfies the rule for `goal` (`e = pos − goal`).
    pub fn is_success(&self, pos: [f32; 2], goal: [f32; 2]) -> bool {
        self.is_met(&[pos[0] - goal[0], pos[1] - goal[1]])
    }
}

/// Whether `pos` satisfies `rule` for `goal` (same as [`SuccessRule::is_success`]).
pub fn is_success(rule: SuccessRule, pos: [f32; 2], goal: [f32; 2]) -> bool {
    rule.is_success(pos, goal)
}

/// Start, goal and executed path of an episode, as true states, and whether the headline
/// success rule was met.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpisodeTrace {
    /// Start state.
    pub start: Vec<f32>,
    /// Goal state.
    pub goal: Vec<f32>,
    /// States visited, starting with `start`.
    pub path: Vec<Vec<f32>>,
    /// The headline success rule was met at some step.
    pub success: bool,
    /// The sub-goals a hierarchical agent set itself, as its state probe reads them (true-state
    /// units, `(x, y)` in the mazes), in the order set; empty for a flat agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subgoals: Vec<Vec<f32>>,
}

impl TestEpisode {
    /// The episode as a task on true states.
    pub fn task(&self) -> crate::Task {
        crate::Task {
            start: self.start.to_vec(),
            goal: self.goal.to_vec(),
        }
    }
}
