//! PLDM's test protocol (`pldm_envs/wall/wall.py` `_generate_start_and_target`, level
//! `medium`, which the evaluations of `pldm/configs/wall/icml/*.yaml` use with `n_envs: 100`,
//! `seed: 42`, `n_steps: 200`).
//!
//! With PLDM's margins `padding = 2·dot_std = 2.6` and `border_padding = border_wall_loc − 1 +
//! padding = 6.6`: start `x ~ U[6.6, 28.4]` (left room, up to `31 − 2.6`), goal
//! `x ~ U[35.6, 57.4]` (right room, from `33 + 2.6` to `64 − 6.6`), both `y ~ U[6.6, 57.4]`
//! independently, and start and goal swapped with probability ½. Episodes last 200 steps; the
//! number of episodes, their seed and length are the run's `[eval]` settings (the `pldm`
//! preset sets PLDM's 100, 42 and 200).
//!
//! PLDM draws these from Python's unseeded `random` module; here episode `i` takes five draws
//! from `StdRng::seed_from_u64(seed)` in the order start x, goal x, start y, goal y, swap, so
//! the tasks are a function of the seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::env::Task;

use super::{BORDER, DOT_STD, SIZE, WALL_HALF, WALL_X};

/// PLDM's margin from walls, `2·dot_std` (px).
pub const PADDING: f32 = 2.0 * DOT_STD;
/// PLDM's margin from the border, `border_wall_loc − 1 + padding` (px).
pub const BORDER_PADDING: f32 = BORDER + PADDING;
/// PLDM's episode length (`n_steps: 200`).
pub const EPISODE_STEPS: usize = 200;
/// PLDM's number of test episodes (`n_envs: 100`).
pub const EPISODES: usize = 100;
/// PLDM's evaluation seed (`seed: 42`).
pub const SEED: u64 = 42;

/// One episode's start and goal positions from five draws of `rng`, in the order start x
/// (`U[start_x]`), goal x (`U[goal_x]`), start y, goal y (both `U[y_range()]`), then the swap
/// with probability ½ (module docs; `random-wall` draws the same way in its own layout).
pub fn start_and_goal(
    rng: &mut StdRng,
    start_x: (f32, f32),
    goal_x: (f32, f32),
) -> ([f32; 2], [f32; 2]) {
    let mut uniform = |(lo, hi): (f32, f32)| lo + rng.gen::<f32>() * (hi - lo);
    let start_x = uniform(start_x);
    let goal_x = uniform(goal_x);
    let start_y = uniform(y_range());
    let goal_y = uniform(y_range());
    let (start, goal) = ([start_x, start_y], [goal_x, goal_y]);
    if uniform((0.0, 1.0)) < 0.5 {
        (goal, start)
    } else {
        (start, goal)
    }
}

/// The range of start x (left room).
pub fn start_x_range() -> (f32, f32) {
    (BORDER_PADDING, WALL_X - WALL_HALF - PADDING)
}

/// The range of goal x (right room).
pub fn goal_x_range() -> (f32, f32) {
    (WALL_X + WALL_HALF + PADDING, SIZE - BORDER_PADDING)
}

/// The range of start and goal y.
pub fn y_range() -> (f32, f32) {
    (BORDER_PADDING, SIZE - BORDER_PADDING)
}

/// The `n` test tasks of `seed` (module docs).
pub fn test_tasks(n: usize, seed: u64) -> Vec<Task> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (start, goal) = start_and_goal(&mut rng, start_x_range(), goal_x_range());
            Task {
                start: start.to_vec(),
                goal: goal.to_vec(),
            }
        })
        .collect()
}
