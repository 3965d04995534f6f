//! PLDM's reward-free data generator for `pldm` (`pldm_envs/wall/data/single.py`
//! `generate_actions`, `pldm_envs/wall/data/wall.py` `generate_cross_wall_state_and_actions`,
//! settings of `pldm_envs/wall/configs/good_quality_data.yaml`), written from its description
//! as a [`BehaviourPolicy`] that draws each whole trajectory at its start.
//!
//! **Walk.** `T` actions (`data.traj_len`; PLDM 90 = `n_steps − 1`, 91 states): direction
//! `θ_0` given, `θ_t = θ_{t−1} + VonMises(0, κ)` (`κ = data.kappa`, PLDM 5 =
//! `1/action_angle_noise` with `action_angle_noise: 0.2`), step length
//! `ℓ_t ~ TruncNormal(μ, σ, [lo, hi])` (`data.step_mean` 1.0, `data.step_std` 0.4,
//! `data.step_min` 0.2, `data.step_max` 1.8: `action_step_mean`, `action_step_std`,
//! `action_lower_bd`, `action_upper_bd`), action `ℓ_t·(cos θ_t, sin θ_t)`. A trajectory is
//! random-direction (κ = 0, uniform turns) with probability `data.random_fraction` (PLDM's
//! mixtures of its `random_trajectories.yaml` data, `action_angle_noise: 1e6`, with good
//! data: `combine_two_datasets.py`); `data.kappa = 0` makes all of them so.
//!
//! **Plain trajectories**: start uniform in free space, `θ_0 ~ U[0, 2π)` (`single.py`
//! `generate_state`: uniform in `[4, 60]²`, moved out of the wall; `generate_actions`).
//!
//! **Steered through the door** (PLDM's cross-wall samples): a door point `d`, `x ~ U[31, 33]`,
//! `y ~ TruncNormal(10, 1.4, [6, 14])` (for another layout, the same about its wall and door:
//! `x ~ U[wall_x − 1, wall_x + 1]`, `y ~ TruncNormal(door_y, 1.4, [door_y − 4, door_y + 4])`); the step `k ~ U{1, …, T}` at which the agent is at
//! `d`; the side it comes from, left or right with probability ½; a walk of `k` steps from `d`
//! back to that side, heading `β ~ (π or 0) + U(−π/4, π/4)`, reversed and negated to lead from
//! the start `d + Σ back` to `d`, then a walk of `T − k` steps heading `β + π` (away to the
//! other side). PLDM clamps a start that falls outside the arena onto the border, after which
//! the actions no longer lead to the door; here such a draw is redrawn instead.
//!
//! **Door crossings.** A trajectory *passes through the door* when its states reach both
//! rooms past the wall: `min x < 31` and `max x > 33` (`pldm_envs/wall/select_wc.py`, how PLDM
//! built its no-crossing data set `wc = 0`). Each trajectory passes through the door with
//! probability `data.door_crossing_rate` (PLDM's `cross_wall_rate` 0.6; its `wc0` data has
//! none): it is steered, and redrawn until its simulated states ([`data_move`]) cross;
//! otherwise it is plain and redrawn while they do, so `door_crossing_rate = 0` gives no
//! crossing at all. (PLDM's plain trajectories may cross by chance and its steered ones may
//! fail to; `select_wc.py` filters by the same test to set an exact rate.) Measured with
//! PLDM's settings (κ = 5, 5000 draws each): 7.8 % of plain draws cross and are redrawn when
//! no crossing is wanted; 56 % of steered draws start in free space and 39 % cross, the rest
//! are redrawn; the accepted ones cross the wall's centre line at step 9 / 22 / 42
//! (quartiles of 2000) of 90.

use std::f32::consts::PI;

use rand::rngs::StdRng;
use rand::Rng;

use crate::data::{wrap_angle, DataConfig};
use crate::env::BehaviourPolicy;
use crate::error::EnvError;
use crate::sampling::{truncated_normal, von_mises};
use crate::two_rooms::TwoRoomsConfig;

use super::dynamics::data_move;

/// Draws per trajectory before the generator gives up.
pub const MAX_ATTEMPTS: usize = 10_000;
/// Standard deviation of the door point's y (`sample_truncated_norm`'s default `std=1.4`).
pub const DOOR_Y_STD: f32 = 1.4;
/// Half spread of a steered trajectory's heading (`(rand − 0.5)·π/2`).
pub const HEADING_SPREAD: f32 = PI / 4.0;

/// One trajectory: its start and its `T` actions.
pub type Trajectory = ([f32; 2], Vec<[f32; 2]>);

/// PLDM's generator (module docs).
pub struct PldmWalk {
    geometry: TwoRoomsConfig,
    cfg: DataConfig,
    actions: Vec<[f32; 2]>,
}

impl PldmWalk {
    /// The generator with `cfg`'s settings on PLDM's layout `geometry`.
    pub fn new(geometry: TwoRoomsConfig, cfg: DataConfig) -> Self {
        PldmWalk {
            geometry,
            cfg,
            actions: Vec::new(),
        }
    }

    /// Draws one trajectory (module docs): random-direction with probability
    /// `random_fraction`, through the door with probability `door_crossing_rate`.
    pub fn draw(&self, rng: &mut StdRng) -> Result<Trajectory, EnvError> {
        let random = rng.gen::<f32>() < self.cfg.random_fraction;
        let kappa = if random { 0.0 } else { self.cfg.kappa };
        let cross = rng.gen::<f32>() < self.cfg.door_crossing_rate;
        for _ in 0..MAX_ATTEMPTS {
            let drawn = if cross {
                self.steered(rng, kappa)
            } else {
                Some(self.plain(rng, kappa)?)
            };
            if let Some((start, actions)) = drawn {
                if crosses_door(&self.geometry, &self.simulate(start, &actions)) == cross {
                    return Ok((start, actions));
                }
            }
        }
        Err(EnvError::InvalidPosition(format!(
            "no trajectory that {} the door found in {MAX_ATTEMPTS} draws",
            if cross { "passes through" } else { "avoids" }
        )))
    }

    /// The states of `actions` from `start` under the data rule.
    pub fn simulate(&self, start: [f32; 2], actions: &[[f32; 2]]) -> Vec<[f32; 2]> {
        let mut p = start;
        let mut out = vec![p];
        for &a in actions {
            p = data_move(&self.geometry, p, a);
            out.push(p);
        }
        out
    }

    /// `n` actions of the walk from heading `theta` (module docs).
    fn walk(&self, rng: &mut StdRng, n: usize, theta: f32, kappa: f32) -> Vec<[f32; 2]> {
        let c = &self.cfg;
        let mut theta = theta;
        (0..n)
            .map(|t| {
                if t > 0 {
                    theta = wrap_angle(theta + von_mises(rng, kappa));
                }
                let len = truncated_normal(rng, c.step_mean, c.step_std, c.step_min, c.step_max);
                [len * theta.cos(), len * theta.sin()]
            })
            .collect()
    }

    /// A plain trajectory: uniform free start, uniform initial heading.
    fn plain(&self, rng: &mut StdRng, kappa: f32) -> Result<Trajectory, EnvError> {
        let start = self.geometry.sample_free(rng, 0.0, None)?;
        let theta = rng.gen_range(0.0..2.0 * PI);
        Ok((start, self.walk(rng, self.cfg.traj_len, theta, kappa)))
    }

    /// A trajectory steered through a door point, or `None` when its start is not free.
    fn steered(&self, rng: &mut StdRng, kappa: f32) -> Option<Trajectory> {
        let g = &self.geometry;
        let (half, w) = (g.wall_thickness / 2.0, g.wall_center());
        let door_half = g.door_height / 2.0;
        let door = [
            rng.gen_range(w - half..=w + half),
            truncated_normal(
                rng,
                g.door_y,
                DOOR_Y_STD,
                g.door_y - door_half,
                g.door_y + door_half,
            ),
        ];
        let t_len = self.cfg.traj_len;
        let k = rng.gen_range(1..=t_len);
        let side = if rng.gen::<bool>() { PI } else { 0.0 };
        let beta = side + rng.gen_range(-HEADING_SPREAD..HEADING_SPREAD);
        let back = self.walk(rng, k, beta, kappa);
        let forward = self.walk(rng, t_len - k, beta + PI, kappa);
        let start = back.iter().fold(door, |p, a| [p[0] + a[0], p[1] + a[1]]);
        if !g.is_free(start) {
            return None;
        }
        let actions = back
            .iter()
            .rev()
            .map(|a| [-a[0], -a[1]])
            .chain(forward)
            .collect();
        Some((start, actions))
    }
}

/// Whether `states` reach both rooms past the wall: `min x < 31` and `max x > 33` (the
/// wall's faces `wall_x ∓ 1` of `geometry`'s layout).
pub fn crosses_door(geometry: &TwoRoomsConfig, states: &[[f32; 2]]) -> bool {
    let (half, w) = (geometry.wall_thickness / 2.0, geometry.wall_center());
    let (lo, hi) = (w - half, w + half);
    states.iter().any(|p| p[0] < lo) && states.iter().any(|p| p[0] > hi)
}

impl BehaviourPolicy for PldmWalk {
    /// Draws the whole trajectory ([`PldmWalk::draw`]) and returns its start.
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let (start, actions) = self.draw(rng)?;
        self.actions = actions;
        Ok(start.to_vec())
    }

    /// The `t`-th action of the drawn trajectory.
    fn act(&mut self, t: usize, _state: &[f32], _rng: &mut StdRng) -> Vec<f32> {
        self.actions.get(t).map_or(vec![0.0, 0.0], |a| a.to_vec())
    }
}
