//! The reference a highway agent is compared with: **stay in the lane at a safe speed**
//! ([`StayInLane`]), a hand-written controller that reads the true state.
//!
//! * Longitudinal: the drivers' own car-following model (IDM, [`super::IdmConfig`]) with
//!   desired speed `speed`, following the leader in the ego's lane — the nearest present car
//!   ahead (`x_k > x_ego`) whose centre is laterally within `car_width` of the ego's (a car
//!   halfway through a cut-in counts) — at the bumper gap `x_k − x_ego − car_length`:
//!   `a₀ = clip(a_IDM / ego_accel_max, −1, 1)`.
//! * Lateral: steer to the centre `y_c` of the lane the ego is in at each step:
//!   `a₁ = clip((y_c − y) / (lateral_speed_max · dt), −1, 1)`.
//!
//! In discrete mode the environment executes the meta-action nearest to this vector (FASTER
//! for `a₀ > ½`, SLOWER for `a₀ < −½`, IDLE otherwise, from a lane centre).
//!
//! It never changes lanes and never overtakes, so it cannot cause a lane-change collision;
//! what it cannot avoid is a driver who cuts in closer than IDM's braking can absorb, or one
//! that brakes harder (`brake_decel`) than the ego can (`ego_accel_max`).

use crate::env::Baseline;

use super::drivers::idm_acceleration;
use super::state::{CAR_DIM, CAR_PRESENT, CAR_V, CAR_X, CAR_Y, EGO_DIM, EGO_V, EGO_X, EGO_Y};
use super::HighwayConfig;

/// Stay in the lane at `speed` behind the leader (module docs).
#[derive(Debug, Clone)]
pub struct StayInLane {
    cfg: HighwayConfig,
    speed: f32,
}

impl StayInLane {
    /// The controller for `cfg`, cruising at `speed` m/s when the lane ahead is free
    /// (clamped to `[0.1, ego_speed_max]`).
    pub fn new(cfg: HighwayConfig, speed: f32) -> Self {
        let speed = speed.clamp(0.1, cfg.ego_speed_max);
        StayInLane { cfg, speed }
    }

    /// Bumper gap (m) and speed (m/s) of the leader in the ego's lane, if any.
    pub fn leader(&self, state: &[f32]) -> Option<(f32, f32)> {
        let (x, y) = (state[EGO_X], state[EGO_Y]);
        state[EGO_DIM..]
            .chunks_exact(CAR_DIM)
            .filter(|c| c[CAR_PRESENT] != 0.0 && c[CAR_X] > x)
            .filter(|c| (c[CAR_Y] - y).abs() < self.cfg.car_width)
            .min_by(|a, b| a[CAR_X].total_cmp(&b[CAR_X]))
            .map(|c| (c[CAR_X] - x - self.cfg.car_length, c[CAR_V]))
    }
}

impl Baseline for StayInLane {
    fn name(&self) -> String {
        format!("stay in lane, IDM at {} m/s", self.speed)
    }

    fn act(&self, state: &[f32]) -> Vec<f32> {
        let cfg = &self.cfg;
        let accel = idm_acceleration(&cfg.idm, state[EGO_V], self.speed, self.leader(state));
        let y = state[EGO_Y];
        let centre = cfg.lane_centre(cfg.lane_of(y));
        vec![
            (accel / cfg.ego_accel_max).clamp(-1.0, 1.0),
            ((centre - y) / (cfg.lateral_speed_max * cfg.dt)).clamp(-1.0, 1.0),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::highway::state::{Car, DriverMode, Ego, Traffic};
    use crate::highway::Highway;

    fn traffic(cars: Vec<Option<Car>>) -> Traffic {
        Traffic {
            ego: Ego {
                x: 0.0,
                y: 6.0,
                v: 20.0,
                vy: 0.0,
                crashed: false,
                target_lane: 1,
                target_speed: 20.0,
            },
            cars,
        }
    }

    fn car(x: f32, y: f32, v: f32) -> Option<Car> {
        Some(Car {
            x,
            y,
            v,
            target_lane: 1,
            mode: DriverMode::Cruise,
            timer: 0.0,
            desired_speed: v,
        })
    }

    #[test]
    fn leader_is_the_nearest_car_ahead_in_the_lane() {
        let cfg = HighwayConfig::default();
        let b = StayInLane::new(cfg.clone(), 25.0);
        let mut cars = vec![None; cfg.other_cars];
        cars[0] = car(40.0, 6.0, 18.0); // ahead, same lane: gap 35
        cars[1] = car(20.0, 2.0, 10.0); // ahead, next lane: ignored
        cars[2] = car(-10.0, 6.0, 30.0); // behind: ignored
        cars[3] = car(30.0, 7.5, 22.0); // ahead, 1.5 m off the ego's centre (cutting in): gap 25
        let s = traffic(cars).to_state();
        assert_eq!(b.leader(&s), Some((25.0, 22.0)));
        let free = traffic(vec![None; cfg.other_cars]).to_state();
        assert_eq!(b.leader(&free), None);
        // Boundaries: exactly car_width to the side, or level with the ego, is not ahead in
        // the lane.
        let mut edge = vec![None; cfg.other_cars];
        edge[0] = car(20.0, 6.0 + cfg.car_width, 18.0);
        edge[1] = car(0.0, 6.0, 18.0);
        assert_eq!(b.leader(&traffic(edge).to_state()), None);
    }

    #[test]
    fn free_lane_accelerates_close_leader_brakes_and_steers_to_the_centre() {
        let cfg = HighwayConfig::default();
        let b = StayInLane::new(cfg.clone(), 25.0);
        assert_eq!(b.name(), "stay in lane, IDM at 25 m/s");
        let mut t = traffic(vec![None; cfg.other_cars]);
        t.ego.y = 5.0; // 1 m left of lane 1's centre
        let a = b.act(&t.to_state());
        // IDM free road at 20 of 25 m/s: 1.5·(1 − 0.8⁴) = 0.8856 m/s², / 5.
        assert!(
            (a[0] - 1.5 * (1.0 - 0.8f32.powi(4)) / 5.0).abs() < 1e-5,
            "{a:?}"
        );
        // (6 − 5) / (2 · 0.5) = 1.
        assert!((a[1] - 1.0).abs() < 1e-6, "{a:?}");
        t.cars[0] = car(12.0, 6.0, 10.0); // 7 m ahead, 10 m/s slower
        let a = b.act(&t.to_state());
        assert_eq!(a[0], -1.0, "{a:?}");
    }

    #[test]
    fn following_a_slow_leader_does_not_collide() {
        // Drivers never switch modes here: the leader cruises.
        let cfg = HighwayConfig {
            switch_prob: 0.0,
            ..HighwayConfig::default()
        };
        let b = StayInLane::new(cfg.clone(), 30.0);
        let mut cars = vec![None; cfg.other_cars];
        cars[0] = car(60.0, 6.0, 15.0);
        let mut env = Highway::new(cfg.clone()).unwrap();
        env.reset_to(&traffic(cars).to_state()).unwrap();
        for _ in 0..60 {
            let s = env.state();
            env.step(&b.act(&s)).unwrap();
            let s = env.state();
            assert!(!env.violation(&s), "collided at {s:?}");
        }
        let s = env.state();
        let (gap, v_lead) = b.leader(&s).expect("still behind the leader");
        // Settled behind it at about its speed, at least IDM's minimum gap away.
        assert!(
            gap > cfg.idm.min_gap && (s[EGO_V] - v_lead).abs() < 1.0,
            "{gap} {s:?}"
        );
    }
}
