//! The true state of `highway`: its flat layout, the typed view [`Traffic`] the simulation works
//! on, the collision rule and the helpers the agent scores episodes with.
//!
//! # Layout (`state_dim = EGO_DIM + CAR_DIM · other_cars`)
//! Ego, indices `0..7`:
//!
//! | index | value | unit |
//! |---|---|---|
//! | [`EGO_X`] = 0 | x, longitudinal position of the car's centre | m |
//! | [`EGO_Y`] = 1 | y, lateral position of the centre (0 = left road edge, grows to the right) | m |
//! | [`EGO_V`] = 2 | v, longitudinal speed | m/s |
//! | [`EGO_VY`] = 3 | lateral velocity of the last sub-step | m/s |
//! | [`EGO_CRASHED`] = 4 | 1 after a collision (sticky), else 0 | — |
//! | [`EGO_TARGET_LANE`] = 5 | lane the meta-action controller steers to (discrete mode; continuous: the nearest lane) | lane index |
//! | [`EGO_TARGET_SPEED`] = 6 | speed the controller tracks (discrete mode; continuous: v) | m/s |
//!
//! Other car `k` at offset `EGO_DIM + CAR_DIM·k`, fields [`CAR_PRESENT`] = 0 (1 for a car on
//! the road, 0 for an empty slot, all of whose fields are 0), [`CAR_X`] = 1, [`CAR_Y`] = 2,
//! [`CAR_V`] = 3 (as for the ego), [`CAR_TARGET_LANE`] = 4 (the lane it drives to),
//! [`CAR_MODE`] = 5 ([`DriverMode`] code: 0 cruise, 1 brake, 2 cut-in; hidden from the
//! observations), [`CAR_TIMER`] = 6 (seconds of braking left), [`CAR_DESIRED_SPEED`] = 7 (the
//! driver's IDM desired speed v₀, m/s; hidden).

use crate::error::EnvError;

use super::HighwayConfig;

/// Ego x (m).
pub const EGO_X: usize = 0;
/// Ego y (m).
pub const EGO_Y: usize = 1;
/// Ego speed (m/s).
pub const EGO_V: usize = 2;
/// Ego lateral velocity (m/s).
pub const EGO_VY: usize = 3;
/// Ego crashed flag (0/1).
pub const EGO_CRASHED: usize = 4;
/// Ego controller's target lane.
pub const EGO_TARGET_LANE: usize = 5;
/// Ego controller's target speed (m/s).
pub const EGO_TARGET_SPEED: usize = 6;
/// Values of the ego.
pub const EGO_DIM: usize = 7;
/// Presence flag of a car slot (0/1).
pub const CAR_PRESENT: usize = 0;
/// Car x (m).
pub const CAR_X: usize = 1;
/// Car y (m).
pub const CAR_Y: usize = 2;
/// Car speed (m/s).
pub const CAR_V: usize = 3;
/// Car target lane.
pub const CAR_TARGET_LANE: usize = 4;
/// Car behaviour mode code.
pub const CAR_MODE: usize = 5;
/// Seconds of braking left.
pub const CAR_TIMER: usize = 6;
/// IDM desired speed v₀ (m/s).
pub const CAR_DESIRED_SPEED: usize = 7;
/// Values per other car.
pub const CAR_DIM: usize = 8;

/// The hidden behaviour of another driver (module docs of [`super::drivers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverMode {
    /// IDM car following at the desired speed.
    Cruise,
    /// Hard braking until the timer runs out, then cruise.
    Brake,
    /// A lane change to the target lane, then cruise.
    CutIn,
}

impl DriverMode {
    /// Every mode, in code order.
    pub const ALL: [DriverMode; 3] = [DriverMode::Cruise, DriverMode::Brake, DriverMode::CutIn];

    /// The code stored in the state.
    pub fn code(self) -> f32 {
        match self {
            DriverMode::Cruise => 0.0,
            DriverMode::Brake => 1.0,
            DriverMode::CutIn => 2.0,
        }
    }

    fn from_code(c: f32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == c)
    }
}

/// The ego car.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ego {
    /// Longitudinal position (m).
    pub x: f32,
    /// Lateral position (m).
    pub y: f32,
    /// Speed (m/s).
    pub v: f32,
    /// Lateral velocity of the last sub-step (m/s).
    pub vy: f32,
    /// Sticky collision flag.
    pub crashed: bool,
    /// Target lane of the meta-action controller.
    pub target_lane: usize,
    /// Target speed of the meta-action controller (m/s).
    pub target_speed: f32,
}

/// Another car and its driver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Car {
    /// Longitudinal position (m).
    pub x: f32,
    /// Lateral position (m).
    pub y: f32,
    /// Speed (m/s).
    pub v: f32,
    /// The lane it drives to.
    pub target_lane: usize,
    /// Hidden behaviour mode.
    pub mode: DriverMode,
    /// Seconds of braking left.
    pub timer: f32,
    /// IDM desired speed v₀ (m/s).
    pub desired_speed: f32,
}

/// The whole true state: the ego and the car slots (`None` = empty slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// The ego.
    pub ego: Ego,
    /// One entry per slot (`other_cars` of them).
    pub cars: Vec<Option<Car>>,
}

impl Traffic {
    /// The flat state (module docs).
    pub fn to_state(&self) -> Vec<f32> {
        let e = &self.ego;
        let mut s = vec![
            e.x,
            e.y,
            e.v,
            e.vy,
            f32::from(u8::from(e.crashed)),
            e.target_lane as f32,
            e.target_speed,
        ];
        for c in &self.cars {
            match c {
                Some(c) => s.extend([
                    1.0,
                    c.x,
                    c.y,
                    c.v,
                    c.target_lane as f32,
                    c.mode.code(),
                    c.timer,
                    c.desired_speed,
                ]),
                None => s.extend([0.0; CAR_DIM]),
            }
        }
        s
    }

    /// Reads a flat state; every value must be finite, flags 0 or 1, lanes whole numbers in
    /// `[0, lanes)`, modes valid codes (the error names the index).
    pub fn from_state(cfg: &HighwayConfig, s: &[f32]) -> Result<Self, EnvError> {
        let want = cfg.state_dim();
        if s.len() != want {
            return Err(EnvError::InvalidPosition(format!(
                "highway state: expected {want} values (7 + 8·{}), got {}",
                cfg.other_cars,
                s.len()
            )));
        }
        if let Some(i) = s.iter().position(|v| !v.is_finite()) {
            return Err(bad_value(i, s[i], "a finite value"));
        }
        let flag = |i: usize| match s[i] {
            0.0 => Ok(false),
            1.0 => Ok(true),
            v => Err(bad_value(i, v, "0 or 1")),
        };
        let lane = |i: usize| {
            let v = s[i];
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < cfg.lanes {
                Ok(v as usize)
            } else {
                Err(bad_value(i, v, "a lane index in [0, lanes)"))
            }
        };
        let ego = Ego {
            x: s[EGO_X],
            y: s[EGO_Y],
            v: s[EGO_V],
            vy: s[EGO_VY],
            crashed: flag(EGO_CRASHED)?,
            target_lane: lane(EGO_TARGET_LANE)?,
            target_speed: s[EGO_TARGET_SPEED],
        };
        let mut cars = Vec::with_capacity(cfg.other_cars);
        for k in 0..cfg.other_cars {
            let o = EGO_DIM + CAR_DIM * k;
            if !flag(o + CAR_PRESENT)? {
                if let Some(i) = (o..o + CAR_DIM).find(|&i| s[i] != 0.0) {
                    return Err(bad_value(i, s[i], "0 in an empty car slot"));
                }
                cars.push(None);
                continue;
            }
            let mode = DriverMode::from_code(s[o + CAR_MODE]).ok_or_else(|| {
                bad_value(
                    o + CAR_MODE,
                    s[o + CAR_MODE],
                    "0 (cruise), 1 (brake) or 2 (cut-in)",
                )
            })?;
            cars.push(Some(Car {
                x: s[o + CAR_X],
                y: s[o + CAR_Y],
                v: s[o + CAR_V],
                target_lane: lane(o + CAR_TARGET_LANE)?,
                mode,
                timer: s[o + CAR_TIMER],
                desired_speed: s[o + CAR_DESIRED_SPEED],
            }));
        }
        Ok(Traffic { ego, cars })
    }

    /// Whether the ego's rectangle overlaps another car's (rule in [`overlaps`]).
    pub fn ego_overlaps(&self, cfg: &HighwayConfig) -> bool {
        self.cars
            .iter()
            .flatten()
            .any(|c| overlaps(cfg, (self.ego.x, self.ego.y), (c.x, c.y)))
    }
}

fn bad_value(i: usize, v: f32, expected: &str) -> EnvError {
    EnvError::InvalidPosition(format!("highway state[{i}] = {v}; expected {expected}"))
}

/// The collision rule: two cars centred at `a` and `b` (axis-aligned `car_length × car_width`
/// rectangles; headings are not modelled) collide when their interiors intersect:
/// `|x_a − x_b| < car_length` and `|y_a − y_b| < car_width`. Rectangles that only touch do not.
pub fn overlaps(cfg: &HighwayConfig, a: (f32, f32), b: (f32, f32)) -> bool {
    (a.0 - b.0).abs() < cfg.car_length && (a.1 - b.1).abs() < cfg.car_width
}

/// Ego progress from `start` to `state`: `x − x_start` (m).
pub fn progress(start: &[f32], state: &[f32]) -> f32 {
    state[EGO_X] - start[EGO_X]
}

/// Ego speed in `state` (m/s).
pub fn ego_speed(state: &[f32]) -> f32 {
    state[EGO_V]
}

/// The sticky crashed flag of `state` (set by the simulation at the first collision).
pub fn crashed(state: &[f32]) -> bool {
    state[EGO_CRASHED] != 0.0
}

impl HighwayConfig {
    /// Length of the true state: `7 + 8·other_cars`.
    pub fn state_dim(&self) -> usize {
        EGO_DIM + CAR_DIM * self.other_cars
    }

    /// Whether `state` is a collision: the crashed flag is set, or the ego's rectangle overlaps
    /// a present car's ([`overlaps`]). Off-road cannot happen (y is clamped to the road).
    /// States of the wrong length are not collisions.
    pub fn collided(&self, state: &[f32]) -> bool {
        if state.len() != self.state_dim() {
            return false;
        }
        let ego = (state[EGO_X], state[EGO_Y]);
        crashed(state)
            || state[EGO_DIM..]
                .chunks_exact(CAR_DIM)
                .any(|c| c[CAR_PRESENT] != 0.0 && overlaps(self, ego, (c[CAR_X], c[CAR_Y])))
    }

    /// Lateral centre of lane `k` (m): `(k + ½)·lane_width`.
    pub fn lane_centre(&self, k: usize) -> f32 {
        (k as f32 + 0.5) * self.lane_width
    }

    /// The lane whose centre is nearest to `y`.
    pub fn lane_of(&self, y: f32) -> usize {
        ((y / self.lane_width).floor().max(0.0) as usize).min(self.lanes - 1)
    }

    /// Road width `lanes · lane_width` (m).
    pub fn road_width(&self) -> f32 {
        self.lanes as f32 * self.lane_width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ego at (0, 6) (lane 1), one car: the rectangles are 5 m × 2 m.
    fn collides_with(car: (f32, f32)) -> bool {
        let cfg = HighwayConfig {
            other_cars: 1,
            ..HighwayConfig::default()
        };
        let mut s = vec![0.0, 6.0, 20.0, 0.0, 0.0, 1.0, 20.0];
        s.extend([1.0, car.0, car.1, 20.0, 1.0, 0.0, 0.0, 20.0]);
        cfg.collided(&s)
    }

    #[test]
    fn collision_is_overlap_not_touching_nor_the_next_lane() {
        assert!(collides_with((4.9, 6.0)), "overlap from behind the car");
        assert!(collides_with((-4.9, 6.5)), "overlap behind the ego");
        assert!(!collides_with((5.0, 6.0)), "bumpers just touching");
        assert!(!collides_with((0.0, 10.0)), "side by side, next lane");
        assert!(collides_with((0.0, 7.9)), "drifting into the lane");
        assert!(!collides_with((0.0, 8.0)), "sides just touching");
        assert!(!collides_with((2.0, 2.0)), "two lanes away");
    }

    #[test]
    fn flat_state_round_trips_and_rejects_bad_values() {
        let cfg = HighwayConfig {
            other_cars: 2,
            ..HighwayConfig::default()
        };
        let mut s = vec![3.0, 6.0, 20.0, -2.0, 1.0, 2.0, 25.0];
        s.extend([1.0, 40.0, 2.0, 18.0, 0.0, 1.0, 1.5, 22.0]);
        s.extend([0.0; CAR_DIM]);
        let t = Traffic::from_state(&cfg, &s).unwrap();
        assert!(t.ego.crashed && t.cars[1].is_none());
        assert_eq!(t.cars[0].unwrap().mode, DriverMode::Brake);
        assert_eq!(t.to_state(), s);
        assert!(crashed(&s) && cfg.collided(&s));
        assert_eq!((ego_speed(&s), progress(&[1.0], &s)), (20.0, 2.0));
        for (i, v, what) in [
            (EGO_CRASHED, 0.5, "0 or 1"),
            (EGO_TARGET_LANE, 3.0, "lane index"),
            (EGO_DIM + CAR_MODE, 7.0, "cut-in"),
            (EGO_DIM + CAR_DIM + CAR_X, 1.0, "empty car slot"),
            (EGO_X, f32::NAN, "finite"),
        ] {
            let mut bad = s.clone();
            bad[i] = v;
            let err = Traffic::from_state(&cfg, &bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("state[{i}]")) && err.contains(what),
                "{err}"
            );
        }
        assert!(Traffic::from_state(&cfg, &s[..10]).is_err());
    }
}
