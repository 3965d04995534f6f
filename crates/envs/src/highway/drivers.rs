//! The other drivers of `highway`: car following (IDM), hidden behaviour modes, their random
//! switches, and placing cars in the traffic window.
//!
//! **Car following** — the Intelligent Driver Model (Treiber, Hennecke & Helbing 2000):
//! ```text
//! a = a_max·[1 − (v/v₀)^δ − (s*/s)²],   s* = s₀ + max(0, v·T + v·Δv / (2√(a_max·b)))
//! ```
//! with `v` the speed, `v₀` the driver's desired speed, `s` the bumper-to-bumper gap to the
//! leader (floored at [`GAP_FLOOR`]), `Δv = v − v_leader` the approach rate; without a leader
//! the `(s*/s)²` term is dropped. The `max(0, ·)` follows Treiber & Kesting, *Traffic Flow
//! Dynamics* (2013) (it keeps a faster leader from pushing the follower). Constants
//! ([`IdmConfig`]): `a_max` 1.5 m/s², `b` 2 m/s², `s₀` 2 m, `T` 1.5 s, `δ` 4 (the paper's
//! highway values are 0.73, 1.67, 2, 1.6, 4; ours are a little livelier), and every car's
//! deceleration is limited to `max_decel` 9 m/s² (tyres); speeds never go below 0.
//!
//! **Leader** of car i: the nearest vehicle ahead (other car or ego, `x_j > x_i`) whose centre
//! is laterally within `car_width` of car i's centre or of its target lane's centre (so a
//! lane-changing driver already follows the car in the lane it goes to).
//!
//! **Modes** ([`DriverMode`]), drawn from `mode_probs` when a car is placed and redrawn at the
//! start of each env step with probability `switch_prob`:
//! * `cruise` — IDM; the car also finishes any lane change it had started.
//! * `brake` — decelerates at `brake_decel` (or harder if IDM says so) for `brake_duration` s,
//!   then cruises again.
//! * `cut-in` — changes to an adjacent lane at `lateral_speed_max`: the ego's lane if it is
//!   adjacent, else the adjacent lane on the ego's side (random when the ego is in the same
//!   lane); it ignores the usual safe gap to the ego and only refuses (keeping its mode) when
//!   the bumper gap to the ego in the target lane would be below `cut_in_gap`, or to another
//!   car below [`SPAWN_GAP`]. On reaching the lane centre it cruises.

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::EnvError;

use super::state::{overlaps, Car, DriverMode, Ego, Traffic, EGO_DIM};
use super::{positive, HighwayConfig, SPAWN_GAP};

/// Smallest gap (m) the IDM interaction term divides by (overlapping cars brake hard).
pub const GAP_FLOOR: f32 = 0.1;
/// Depth of the strip at the window's edge where cars are put back (m).
pub const RESPAWN_DEPTH: f32 = 20.0;
/// Draws per car when placing traffic before giving up.
pub const PLACE_TRIES: usize = 200;

/// Constants of the Intelligent Driver Model (module docs; each default in parentheses).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdmConfig {
    /// Maximum acceleration a_max (m/s²; default 1.5).
    pub accel: f32,
    /// Comfortable deceleration b (m/s²; default 2).
    pub comfort_decel: f32,
    /// Minimum gap s₀ (m; default 2).
    pub min_gap: f32,
    /// Time headway T (s; default 1.5).
    pub time_headway: f32,
    /// Acceleration exponent δ (default 4).
    pub delta: f32,
    /// Physical deceleration limit of every car (m/s²; default 9).
    pub max_decel: f32,
}

impl Default for IdmConfig {
    fn default() -> Self {
        IdmConfig {
            accel: 1.5,
            comfort_decel: 2.0,
            min_gap: 2.0,
            time_headway: 1.5,
            delta: 4.0,
            max_decel: 9.0,
        }
    }
}

impl IdmConfig {
    /// All constants must be finite and > 0.
    pub fn validate(&self) -> Result<(), EnvError> {
        for (field, v) in [
            ("env.idm.accel", self.accel),
            ("env.idm.comfort_decel", self.comfort_decel),
            ("env.idm.min_gap", self.min_gap),
            ("env.idm.time_headway", self.time_headway),
            ("env.idm.delta", self.delta),
            ("env.idm.max_decel", self.max_decel),
        ] {
            positive(field, v)?;
        }
        Ok(())
    }
}

/// IDM acceleration (module docs) at speed `v` with desired speed `v0`; `leader` = (gap s in
/// m, leader speed in m/s). Limited below by `−max_decel`.
pub fn idm_acceleration(idm: &IdmConfig, v: f32, v0: f32, leader: Option<(f32, f32)>) -> f32 {
    let free = 1.0 - (v / v0).powf(idm.delta);
    let interaction = leader.map_or(0.0, |(s, v_lead)| {
        let dynamic = v * idm.time_headway
            + v * (v - v_lead) / (2.0 * (idm.accel * idm.comfort_decel).sqrt());
        let s_star = idm.min_gap + dynamic.max(0.0);
        (s_star / s.max(GAP_FLOOR)).powi(2)
    });
    (idm.accel * (free - interaction)).max(-idm.max_decel)
}

/// Gap and speed of car `i`'s leader (module docs), if any.
fn leader(cfg: &HighwayConfig, t: &Traffic, i: usize) -> Option<(f32, f32)> {
    let me = t.cars[i]?;
    let lane_y = cfg.lane_centre(me.target_lane);
    let in_path = |y: f32| (y - me.y).abs() < cfg.car_width || (y - lane_y).abs() < cfg.car_width;
    let others = t
        .cars
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .filter_map(|(_, c)| c.map(|c| (c.x, c.y, c.v)));
    others
        .chain([(t.ego.x, t.ego.y, t.ego.v)])
        .filter(|&(x, y, _)| x > me.x && in_path(y))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(x, _, v)| (x - me.x - cfg.car_length, v))
}

/// Longitudinal accelerations of every slot (0 for empty ones), from one snapshot.
pub fn accelerations(cfg: &HighwayConfig, t: &Traffic) -> Vec<f32> {
    (0..t.cars.len())
        .map(|i| match t.cars[i] {
            None => 0.0,
            Some(c) => {
                let a = idm_acceleration(&cfg.idm, c.v, c.desired_speed, leader(cfg, t, i));
                match c.mode {
                    DriverMode::Brake => a.min(-cfg.brake_decel),
                    DriverMode::Cruise | DriverMode::CutIn => a,
                }
            }
        })
        .collect()
}

/// Moves car `c` by one sub-step `h` with acceleration `a`: `v' = max(v + a·h, 0)`, `x' = x +
/// ½(v + v')·h`, y towards its target lane's centre at `lateral_speed_max` (landing exactly on
/// it); the brake timer runs down, and brake / cut-in end as the module docs say.
pub fn move_car(cfg: &HighwayConfig, c: &mut Car, a: f32, h: f32) {
    let v = (c.v + a * h).max(0.0);
    c.x += 0.5 * (c.v + v) * h;
    c.v = v;
    c.y = approach(
        c.y,
        cfg.lane_centre(c.target_lane),
        cfg.lateral_speed_max * h,
    );
    match c.mode {
        DriverMode::Brake => {
            c.timer = (c.timer - h).max(0.0);
            if c.timer == 0.0 {
                c.mode = DriverMode::Cruise;
            }
        }
        DriverMode::CutIn if c.y == cfg.lane_centre(c.target_lane) => c.mode = DriverMode::Cruise,
        DriverMode::Cruise | DriverMode::CutIn => {}
    }
}

/// Relative slack of [`approach`]: a target within `step·(1 + SNAP_SLACK)` counts as within
/// reach, so that f32 rounding of earlier sub-steps does not leave a sliver for one more step.
pub const SNAP_SLACK: f32 = 1e-3;

/// `from` moved towards `to` by at most `step`, landing exactly on `to` when within reach.
pub fn approach(from: f32, to: f32, step: f32) -> f32 {
    if (to - from).abs() <= step * (1.0 + SNAP_SLACK) {
        to
    } else {
        from + step.copysign(to - from)
    }
}

/// Seed of a step's driver draws: FNV-1a (64 bit) over the little-endian bytes of the other
/// cars' part of `state` (`state[7..]`).
pub fn step_seed(state: &[f32]) -> u64 {
    crate::sampling::fnv1a_f32(&state[EGO_DIM.min(state.len())..])
}

/// A mode drawn from the weights `mode_probs`.
pub fn draw_mode(cfg: &HighwayConfig, rng: &mut StdRng) -> DriverMode {
    let total: f32 = cfg.mode_probs.iter().sum();
    let mut u = rng.gen::<f32>() * total;
    for (m, w) in DriverMode::ALL.into_iter().zip(cfg.mode_probs) {
        if u < w {
            return m;
        }
        u -= w;
    }
    DriverMode::Cruise
}

/// At the start of a step, each present car (in slot order) draws `U[0, 1)`; below
/// `switch_prob` it draws a new mode and enters it ([`enter_mode`]).
pub fn switch_modes(cfg: &HighwayConfig, t: &mut Traffic, rng: &mut StdRng) {
    for i in 0..t.cars.len() {
        if t.cars[i].is_some() && rng.gen::<f32>() < cfg.switch_prob {
            let mode = draw_mode(cfg, rng);
            enter_mode(cfg, t, i, mode, rng);
        }
    }
}

/// Puts car `i` into `mode`: brake sets the timer; cut-in picks its target lane (module docs)
/// and is refused — the car keeps its mode — when the gaps there are too small or there is no
/// adjacent lane.
pub fn enter_mode(
    cfg: &HighwayConfig,
    t: &mut Traffic,
    i: usize,
    mode: DriverMode,
    rng: &mut StdRng,
) {
    let Some(mut c) = t.cars[i] else { return };
    match mode {
        DriverMode::Cruise => c.timer = 0.0,
        DriverMode::Brake => c.timer = cfg.brake_duration,
        DriverMode::CutIn => match cut_in_lane(cfg, t, i, rng) {
            Some(lane) => {
                c.target_lane = lane;
                c.timer = 0.0;
            }
            None => return,
        },
    }
    c.mode = mode;
    t.cars[i] = Some(c);
}

/// The lane a cut-in of car `i` goes to (adjacent to its target lane), if its gaps allow one
/// (module docs).
fn cut_in_lane(cfg: &HighwayConfig, t: &Traffic, i: usize, rng: &mut StdRng) -> Option<usize> {
    let c = t.cars[i]?;
    let own = c.target_lane;
    let ego_lane = cfg.lane_of(t.ego.y);
    let (left, right) = (own.checked_sub(1), (own + 1 < cfg.lanes).then_some(own + 1));
    let coin = rng.gen::<bool>();
    let lane = match (left, right) {
        (None, None) => None,
        (Some(l), None) => Some(l),
        (None, Some(r)) => Some(r),
        (Some(l), Some(_)) if ego_lane < own || (ego_lane == own && coin) => Some(l),
        (Some(_), Some(r)) => Some(r),
    }?;
    let centre = cfg.lane_centre(lane);
    let in_lane = |y: f32| (y - centre).abs() < cfg.car_width;
    let ego_ok = !in_lane(t.ego.y) || (t.ego.x - c.x).abs() - cfg.car_length >= cfg.cut_in_gap;
    let others_ok = t.cars.iter().enumerate().all(|(j, o)| match o {
        Some(o) if j != i => {
            !(in_lane(o.y) || o.target_lane == lane)
                || (o.x - c.x).abs() - cfg.car_length >= SPAWN_GAP
        }
        _ => true,
    });
    (ego_ok && others_ok).then_some(lane)
}

/// Whether a car at `(x, lane centre)` keeps [`SPAWN_GAP`] to every present car in or bound
/// for that lane (except slot `skip`) and does not overlap the ego keeping `ego_gap` (m,
/// bumper to bumper) when laterally overlapping it.
fn free_spot(
    cfg: &HighwayConfig,
    t: &Traffic,
    skip: usize,
    lane: usize,
    x: f32,
    ego_gap: f32,
) -> bool {
    let y = cfg.lane_centre(lane);
    let e: &Ego = &t.ego;
    let ego_ok = !overlaps(cfg, (e.x, e.y), (x, y))
        && ((e.y - y).abs() >= cfg.car_width || (e.x - x).abs() - cfg.car_length >= ego_gap);
    ego_ok
        && t.cars.iter().enumerate().all(|(j, o)| match o {
            Some(o) if j != skip => {
                let shares = (o.y - y).abs() < cfg.car_width || o.target_lane == lane;
                !shares || (o.x - x).abs() - cfg.car_length >= SPAWN_GAP
            }
            _ => true,
        })
}

/// Places car `i` at a free spot (see `free_spot`) with `x ∈ [lo, hi)` in a uniform lane, with
/// desired speed `v₀ ~ U[driver_speed_min, driver_speed_max]`, speed v₀, in `mode` (entered
/// with [`enter_mode`]). Returns false, leaving the slot unchanged, when [`PLACE_TRIES`]
/// draws find no free spot.
pub fn place_car(
    cfg: &HighwayConfig,
    t: &mut Traffic,
    i: usize,
    (lo, hi): (f32, f32),
    ego_gap: f32,
    mode: DriverMode,
    rng: &mut StdRng,
) -> bool {
    for _ in 0..PLACE_TRIES {
        let lane = rng.gen_range(0..cfg.lanes);
        let x = rng.gen_range(lo..hi);
        if free_spot(cfg, t, i, lane, x, ego_gap) {
            let v0 = rng.gen_range(cfg.driver_speed_min..=cfg.driver_speed_max);
            t.cars[i] = Some(Car {
                x,
                y: cfg.lane_centre(lane),
                v: v0,
                target_lane: lane,
                mode: DriverMode::Cruise,
                timer: 0.0,
                desired_speed: v0,
            });
            enter_mode(cfg, t, i, mode, rng);
            return true;
        }
    }
    false
}

/// Puts back every present car that left the window (module docs of [`super`]): one behind
/// it into the [`RESPAWN_DEPTH`] strip at the front, one ahead of it into the strip at the
/// back, cruising. If no free spot is found the car is placed at the strip's centre in its
/// own lane (never seen with validated configs).
pub fn respawn(cfg: &HighwayConfig, t: &mut Traffic, rng: &mut StdRng) {
    let (back, front) = (t.ego.x - cfg.window_behind, t.ego.x + cfg.window_ahead);
    for i in 0..t.cars.len() {
        let Some(c) = t.cars[i] else { continue };
        let strip = if c.x < back {
            (front - RESPAWN_DEPTH, front)
        } else if c.x > front {
            (back, back + RESPAWN_DEPTH)
        } else {
            continue;
        };
        if !place_car(cfg, t, i, strip, 0.0, DriverMode::Cruise, rng) {
            let mut c = c;
            c.x = 0.5 * (strip.0 + strip.1);
            t.cars[i] = Some(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: v = 20, v₀ = 25, s = 30, v_leader = 15 (Δv = 5), defaults:
    /// s* = 2 + 20·1.5 + 20·5/(2√3) = 32 + 28.867 513 = 60.867 513;
    /// (s*/s)² = 2.028 917² = 4.116 505; (v/v₀)⁴ = 0.8⁴ = 0.4096;
    /// a = 1.5·(1 − 0.4096 − 4.116 505) = −5.289 157 m/s².
    #[test]
    fn idm_matches_a_hand_computed_value() {
        let idm = IdmConfig::default();
        let a = idm_acceleration(&idm, 20.0, 25.0, Some((30.0, 15.0)));
        assert!((a - (-5.289_157)).abs() < 1e-4, "{a}");
        // Free road: 1.5·(1 − 0.4096) = 0.8856.
        let a = idm_acceleration(&idm, 20.0, 25.0, None);
        assert!((a - 0.8856).abs() < 1e-5, "{a}");
        // A faster leader far ahead: the dynamic term is clipped at 0, s* = s₀.
        let a = idm_acceleration(&idm, 10.0, 25.0, Some((100.0, 40.0)));
        let want = 1.5 * (1.0 - 0.4f32.powi(4) - (2.0f32 / 100.0).powi(2));
        assert!((a - want).abs() < 1e-5, "{a} vs {want}");
        // Overlap: the deceleration limit.
        assert_eq!(idm_acceleration(&idm, 20.0, 25.0, Some((-1.0, 0.0))), -9.0);
    }

    #[test]
    fn approach_lands_exactly_on_the_target() {
        assert_eq!(approach(2.0, 6.0, 1.0), 3.0);
        assert_eq!(approach(5.5, 6.0, 1.0), 6.0);
        assert_eq!(approach(6.0, 2.0, 1.5), 4.5);
    }

    #[test]
    fn mode_draws_follow_the_weights() {
        let cfg = HighwayConfig {
            mode_probs: [0.0, 1.0, 3.0],
            ..HighwayConfig::default()
        };
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let n = 4000;
        let cut = (0..n)
            .filter(|_| draw_mode(&cfg, &mut rng) == DriverMode::CutIn)
            .count();
        assert!((cut as f32 / n as f32 - 0.75).abs() < 0.03, "{cut}");
    }
}
