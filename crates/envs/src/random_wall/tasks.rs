//! EB-JEPA's test protocol for `random-wall` (`DotWall.reset` and `_generate_start_and_target`
//! in `eb_jepa/datasets/two_rooms/env.py`, with `level: normal`, `n_allowed_steps: 200` and
//! `num_eval_episodes: 20` of `examples/ac_video_jepa/cfgs/eval.yaml`).
//!
//! Each episode draws its own layout ([`super::draw_layout`]: `wall_x ~ U{20, …, 44}`,
//! `door_y ~ U{10, …, 54}`), then, with PLDM's margins ([`crate::pldm::tasks::PADDING`] =
//! 2.6, [`crate::pldm::tasks::BORDER_PADDING`] = 6.6): start `x ~ U[6.6, wall_x − 1 − 2.6]`
//! (the left room, up to its wall face `wall_x − wall_width // 2` less the padding), goal
//! `x ~ U[wall_x + 1 + 2.6, 57.4]` (the right room, up to `img_size − 1 − border_padding`),
//! both `y ~ U[6.6, 57.4]` independently, and start and goal swapped with probability ½. Start
//! and goal are therefore in opposite rooms and in free space (at least 2.6 px from every
//! wall). The goal carries the episode's layout. Episodes last [`EPISODE_STEPS`] = 200 steps.
//!
//! EB-JEPA runs 20 episodes for each of 3 seeds; our pipeline has one evaluation seed per run,
//! so the `random-wall` preset runs [`EPISODES`] = 60 episodes of one seed (the same number of
//! episodes, one stream). Episode `i` takes seven draws from `StdRng::seed_from_u64(seed)` in
//! EB-JEPA's order — wall x, door y, start x, goal x, start y, goal y, swap — so the tasks
//! are a function of the seed.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::env::Task;
use crate::pldm::tasks::{start_and_goal, BORDER_PADDING, PADDING};
use crate::pldm::{Layout, SIZE, WALL_HALF};

use super::draw_layout;

/// EB-JEPA's episode length (`n_allowed_steps: 200`).
pub const EPISODE_STEPS: usize = 200;
/// Test episodes of the `random-wall` preset: EB-JEPA's 20 episodes × 3 seeds.
pub const EPISODES: usize = 60;

/// The range of start x (left room) in `layout`.
pub fn start_x_range(layout: Layout) -> (f32, f32) {
    (BORDER_PADDING, layout.wall_x - WALL_HALF - PADDING)
}

/// The range of goal x (right room) in `layout`.
pub fn goal_x_range(layout: Layout) -> (f32, f32) {
    (layout.wall_x + WALL_HALF + PADDING, SIZE - BORDER_PADDING)
}

/// The `n` test tasks of `seed` (module docs): states `(x, y, wall_x, door_y)`.
pub fn test_tasks(n: usize, seed: u64) -> Vec<Task> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let layout = draw_layout(&mut rng);
            let (start, goal) =
                start_and_goal(&mut rng, start_x_range(layout), goal_x_range(layout));
            let state = |p: [f32; 2]| vec![p[0], p[1], layout.wall_x, layout.door_y];
            Task {
                start: state(start),
                goal: state(goal),
            }
        })
        .collect()
}
