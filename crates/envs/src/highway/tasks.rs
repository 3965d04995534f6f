//! Starts of `highway` episodes (test tasks and `reset`) and the reward-free behaviour policy.
//!
//! **Task starts** ([`task_start`]): the ego at `x = 0` on the centre of a uniform lane at a
//! speed `~ U[18, 24]` m/s ([`TASK_SPEED`], clipped to `ego_speed_max`), the controller's
//! targets equal to its lane and speed; every car slot filled ([`place_car`]: uniform lane,
//! `x` uniform in the traffic window, at least [`super::SPAWN_GAP`] from the other cars in its lane,
//! desired speed and speed `~ U[driver_speed_min, driver_speed_max]`, mode drawn from
//! `mode_probs`), and no car in the ego's lane within [`TASK_EGO_GAP`] m bumper to bumper.
//! Highway tasks have no goal: [`crate::Task::goal`] is the start; episodes are scored by
//! collisions ([`super::HighwayConfig::collided`]) and progress ([`super::progress`]).
//!
//! **Reward-free data** ([`HighwayBehaviour`]): random starts with random densities — a
//! uniform number of cars in `[1, other_cars]` (the other slots empty), the ego anywhere on
//! the road (`y` uniform) at a uniform speed in `[0, ego_speed_max]`, cars at least
//! [`DATA_EGO_GAP`] m from it in its lane. Actions (continuous mode):
//! * longitudinal `a₀ = clip(n_t + K·(v_pref − v)/ego_accel_max, −1, 1)` with AR(1) noise
//!   `n_t = ρ n_{t−1} + √(1−ρ²)·σ·ξ_t` ([`ACCEL_RHO`], [`ACCEL_SIGMA`], ξ standard normal) and
//!   a preferred speed `v_pref ~ U[0, ego_speed_max]` redrawn with probability
//!   [`PREF_SPEED_REDRAW`] per step, gain `K` = [`SPEED_GAIN`] (s⁻¹);
//! * occasional hard braking: with probability [`HARD_BRAKE_PROB`] per step, `a₀ = −1` for
//!   [`HARD_BRAKE_STEPS`] steps;
//! * lane changes: with probability [`LANE_CHANGE_PROB`] per step the target lane moves to a
//!   uniform adjacent lane; `a₁ = clip((y* − y)/(lateral_speed_max·dt) + σ_y ξ, −1, 1)`
//!   (σ_y = [`LATERAL_SIGMA`]), so the ego steers to the target lane's centre with some weave;
//! * the pair is clipped onto the unit ball.
//!
//! In discrete mode the same intentions pick meta-actions: a lane change that starts →
//! LANE_LEFT/RIGHT, hard braking or `a₀ < −½` → SLOWER, `a₀ > ½` → FASTER, else IDLE.
//! The drivers behave as always; collisions happen in the data (the crashed flag in the
//! stored states is the logged safety signal).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::env::{clip_to_ball, BehaviourPolicy};
use crate::error::EnvError;
use crate::sampling::standard_normal;

use super::drivers::{draw_mode, place_car};
use super::sim::MetaAction;
use super::state::{Ego, Traffic, EGO_TARGET_LANE, EGO_V, EGO_Y};
use super::{ActionMode, HighwayConfig};

/// Range of the ego's start speed in tasks (m/s).
pub const TASK_SPEED: (f32, f32) = (18.0, 24.0);
/// Bumper-to-bumper gap kept free in front of and behind the ego in its lane at a task start (m).
pub const TASK_EGO_GAP: f32 = 20.0;
/// The same gap at a data start (m).
pub const DATA_EGO_GAP: f32 = 5.0;
/// AR(1) coefficient of the longitudinal noise ρ.
pub const ACCEL_RHO: f32 = 0.8;
/// Stationary standard deviation of the longitudinal noise σ (fraction of a_max).
pub const ACCEL_SIGMA: f32 = 0.5;
/// Gain towards the preferred speed K (s⁻¹).
pub const SPEED_GAIN: f32 = 0.5;
/// Probability per step of redrawing the preferred speed.
pub const PREF_SPEED_REDRAW: f32 = 0.05;
/// Probability per step of starting a hard brake.
pub const HARD_BRAKE_PROB: f32 = 0.03;
/// Steps of a hard brake.
pub const HARD_BRAKE_STEPS: usize = 4;
/// Probability per step of starting a lane change.
pub const LANE_CHANGE_PROB: f32 = 0.1;
/// Standard deviation of the lateral weave σ_y (fraction of lateral_speed_max).
pub const LATERAL_SIGMA: f32 = 0.2;

/// An ego on the centre of `lane` at `x = 0` with speed `v`, and empty slots.
fn road_with_ego(cfg: &HighwayConfig, lane: usize, y: f32, v: f32) -> Traffic {
    Traffic {
        ego: Ego {
            x: 0.0,
            y,
            v,
            vy: 0.0,
            crashed: false,
            target_lane: lane,
            target_speed: v,
        },
        cars: vec![None; cfg.other_cars],
    }
}

/// The ego alone at rest on the centre of lane 0.
pub fn empty_road(cfg: &HighwayConfig) -> Traffic {
    road_with_ego(cfg, 0, cfg.lane_centre(0), 0.0)
}

/// Fills the first `n` slots (module docs); an error when a car finds no free spot.
fn fill(
    cfg: &HighwayConfig,
    t: &mut Traffic,
    n: usize,
    ego_gap: f32,
    rng: &mut StdRng,
) -> Result<(), EnvError> {
    let window = (t.ego.x - cfg.window_behind, t.ego.x + cfg.window_ahead);
    for i in 0..n {
        let mode = draw_mode(cfg, rng);
        if !place_car(cfg, t, i, window, ego_gap, mode, rng) {
            return Err(EnvError::InvalidPosition(format!(
                "highway: no free spot for car {i} of {n} in the traffic window"
            )));
        }
    }
    Ok(())
}

/// One task start drawn from `rng` (module docs).
pub fn task_start(cfg: &HighwayConfig, rng: &mut StdRng) -> Result<Traffic, EnvError> {
    let lane = rng.gen_range(0..cfg.lanes);
    let v = rng
        .gen_range(TASK_SPEED.0..=TASK_SPEED.1)
        .min(cfg.ego_speed_max);
    let mut t = road_with_ego(cfg, lane, cfg.lane_centre(lane), v);
    fill(cfg, &mut t, cfg.other_cars, TASK_EGO_GAP, rng)?;
    Ok(t)
}

/// The `n` task starts of `seed`: [`task_start`] repeatedly from one
/// `StdRng::seed_from_u64(seed)`.
pub fn task_starts(cfg: &HighwayConfig, n: usize, seed: u64) -> Result<Vec<Vec<f32>>, EnvError> {
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| Ok(task_start(cfg, &mut rng)?.to_state()))
        .collect()
}

/// The reward-free behaviour policy of `highway` (module docs).
pub struct HighwayBehaviour {
    cfg: HighwayConfig,
    noise: f32,
    pref_speed: f32,
    brake_left: usize,
    target_lane: usize,
}

impl HighwayBehaviour {
    /// The policy for `cfg`.
    pub fn new(cfg: HighwayConfig) -> Self {
        HighwayBehaviour {
            cfg,
            noise: 0.0,
            pref_speed: 0.0,
            brake_left: 0,
            target_lane: 0,
        }
    }
}

impl BehaviourPolicy for HighwayBehaviour {
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let cfg = &self.cfg;
        let half = cfg.car_width / 2.0;
        let y = rng.gen_range(half..=cfg.road_width() - half);
        let v = rng.gen_range(0.0..=cfg.ego_speed_max);
        let mut t = road_with_ego(cfg, cfg.lane_of(y), y, v);
        let n = if cfg.other_cars == 0 {
            0
        } else {
            rng.gen_range(1..=cfg.other_cars)
        };
        fill(cfg, &mut t, n, DATA_EGO_GAP, rng)?;
        self.noise = ACCEL_SIGMA * standard_normal(rng);
        self.pref_speed = rng.gen_range(0.0..=cfg.ego_speed_max);
        self.brake_left = 0;
        self.target_lane = t.ego.target_lane;
        Ok(t.to_state())
    }

    fn act(&mut self, _t: usize, state: &[f32], rng: &mut StdRng) -> Vec<f32> {
        let cfg = &self.cfg;
        let (y, v) = (state[EGO_Y], state[EGO_V]);
        if cfg.actions == ActionMode::Discrete {
            self.target_lane = state[EGO_TARGET_LANE] as usize;
        }
        self.noise = ACCEL_RHO * self.noise
            + (1.0 - ACCEL_RHO * ACCEL_RHO).sqrt() * ACCEL_SIGMA * standard_normal(rng);
        if rng.gen::<f32>() < PREF_SPEED_REDRAW {
            self.pref_speed = rng.gen_range(0.0..=cfg.ego_speed_max);
        }
        if self.brake_left == 0 && rng.gen::<f32>() < HARD_BRAKE_PROB {
            self.brake_left = HARD_BRAKE_STEPS;
        }
        let (mut lane_change, before) = (None, self.target_lane);
        if rng.gen::<f32>() < LANE_CHANGE_PROB {
            let lane = before;
            let (left, right) = (
                lane.checked_sub(1),
                (lane + 1 < cfg.lanes).then_some(lane + 1),
            );
            let go_left = rng.gen::<bool>();
            lane_change = match (left, right) {
                (Some(l), Some(r)) => Some(if go_left { l } else { r }),
                (l, r) => l.or(r),
            };
        }
        if let Some(l) = lane_change {
            self.target_lane = l;
        }
        let braking = self.brake_left > 0;
        let a0 = if braking {
            self.brake_left -= 1;
            -1.0
        } else {
            (self.noise + SPEED_GAIN * (self.pref_speed - v) / cfg.ego_accel_max).clamp(-1.0, 1.0)
        };
        let steer = (cfg.lane_centre(self.target_lane) - y) / (cfg.lateral_speed_max * cfg.dt);
        let a1 = (steer + LATERAL_SIGMA * standard_normal(rng)).clamp(-1.0, 1.0);
        match cfg.actions {
            ActionMode::Continuous => {
                let mut a = [a0, a1];
                clip_to_ball(&mut a, 1.0);
                a.to_vec()
            }
            ActionMode::Discrete => {
                let m = match lane_change {
                    Some(l) if l < before => MetaAction::LaneLeft,
                    Some(_) => MetaAction::LaneRight,
                    None if braking || a0 < -0.5 => MetaAction::Slower,
                    None if a0 > 0.5 => MetaAction::Faster,
                    None => MetaAction::Idle,
                };
                m.vector().to_vec()
            }
        }
    }
}
