//! The running `highway` environment: ego kinematics, the meta-action controller and the step
//! loop (the rules are in the [`super`] module docs).

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::env::{check_dim, clip_to_ball, ActionSpace, Env, NamedRule, Step};
use crate::error::EnvError;

use super::drivers::{accelerations, approach, move_car, respawn, step_seed, switch_modes};
use super::state::{Ego, Traffic};
use super::{observe, tasks, ActionMode, HighwayConfig};

/// highway-env's discrete meta-actions, in the order of [`MetaAction::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    /// Target lane − 1 (towards y = 0); vector `(0, −1)`.
    LaneLeft,
    /// Keep the targets; vector `(0, 0)`.
    Idle,
    /// Target lane + 1; vector `(0, 1)`.
    LaneRight,
    /// Target speed + `speed_step`; vector `(1, 0)`.
    Faster,
    /// Target speed − `speed_step`; vector `(−1, 0)`.
    Slower,
}

impl MetaAction {
    /// Every meta-action, in the order of the action set.
    pub const ALL: [MetaAction; 5] = [
        MetaAction::LaneLeft,
        MetaAction::Idle,
        MetaAction::LaneRight,
        MetaAction::Faster,
        MetaAction::Slower,
    ];

    /// The fixed 2-D vector that encodes the meta-action.
    pub fn vector(self) -> [f32; 2] {
        match self {
            MetaAction::LaneLeft => [0.0, -1.0],
            MetaAction::Idle => [0.0, 0.0],
            MetaAction::LaneRight => [0.0, 1.0],
            MetaAction::Faster => [1.0, 0.0],
            MetaAction::Slower => [-1.0, 0.0],
        }
    }

    /// The meta-action whose vector is nearest to `a` (Euclidean; ties go to the earlier one
    /// in [`MetaAction::ALL`]).
    pub fn nearest(a: [f32; 2]) -> MetaAction {
        let d2 = |m: MetaAction| {
            let v = m.vector();
            (a[0] - v[0]).powi(2) + (a[1] - v[1]).powi(2)
        };
        Self::ALL
            .into_iter()
            .fold((MetaAction::Idle, f32::INFINITY), |(best, bd), m| {
                let d = d2(m);
                if d < bd {
                    (m, d)
                } else {
                    (best, bd)
                }
            })
            .0
    }

    /// Moves the controller's targets: lanes within the road, speeds within `[0,
    /// ego_speed_max]`.
    pub fn apply(self, cfg: &HighwayConfig, ego: &mut Ego) {
        match self {
            MetaAction::LaneLeft => ego.target_lane = ego.target_lane.saturating_sub(1),
            MetaAction::LaneRight => ego.target_lane = (ego.target_lane + 1).min(cfg.lanes - 1),
            MetaAction::Faster => {
                ego.target_speed = (ego.target_speed + cfg.speed_step).min(cfg.ego_speed_max)
            }
            MetaAction::Slower => ego.target_speed = (ego.target_speed - cfg.speed_step).max(0.0),
            MetaAction::Idle => {}
        }
    }
}

/// What drives the ego during a step's sub-steps.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// Continuous: acceleration (m/s²) and lateral velocity (m/s).
    Direct { accel: f32, vy: f32 },
    /// Discrete: the time-optimal controller tracking the targets.
    Track,
}

/// One sub-step `h` of the ego (module docs of [`super`]); nothing moves once crashed.
fn move_ego(cfg: &HighwayConfig, e: &mut Ego, control: Control, h: f32) {
    if e.crashed {
        return;
    }
    let half = cfg.car_width / 2.0;
    let (v, y) = match control {
        Control::Direct { accel, vy } => (
            (e.v + accel * h).clamp(0.0, cfg.ego_speed_max),
            (e.y + vy * h).clamp(half, cfg.road_width() - half),
        ),
        Control::Track => (
            approach(e.v, e.target_speed, cfg.ego_accel_max * h),
            approach(
                e.y,
                cfg.lane_centre(e.target_lane),
                cfg.lateral_speed_max * h,
            ),
        ),
    };
    e.x += 0.5 * (e.v + v) * h;
    e.vy = (y - e.y) / h;
    e.v = v;
    e.y = y;
    if let Control::Direct { .. } = control {
        e.target_lane = cfg.lane_of(y);
        e.target_speed = v;
    }
}

/// The running environment: the configuration and the true state.
#[derive(Debug, Clone)]
pub struct Highway {
    cfg: HighwayConfig,
    traffic: Traffic,
}

impl Highway {
    /// A validated environment, reset with seed 0.
    pub fn new(cfg: HighwayConfig) -> Result<Self, EnvError> {
        cfg.validate()?;
        let traffic = tasks::task_start(&cfg, &mut StdRng::seed_from_u64(0))?;
        Ok(Highway { cfg, traffic })
    }

    /// The configuration.
    pub fn config(&self) -> &HighwayConfig {
        &self.cfg
    }

    /// The true state, typed.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// One env step with the ego under `control` (module docs of [`super`]).
    fn advance(&mut self, control: Control) {
        let cfg = &self.cfg;
        let t = &mut self.traffic;
        let mut rng = StdRng::seed_from_u64(step_seed(&t.to_state()));
        switch_modes(cfg, t, &mut rng);
        let h = cfg.dt / cfg.substeps as f32;
        for _ in 0..cfg.substeps {
            let acc = accelerations(cfg, t);
            for (c, a) in t.cars.iter_mut().zip(acc) {
                if let Some(c) = c {
                    move_car(cfg, c, a, h);
                }
            }
            move_ego(cfg, &mut t.ego, control, h);
            if !t.ego.crashed && t.ego_overlaps(cfg) {
                t.ego.crashed = true;
                t.ego.v = 0.0;
                t.ego.vy = 0.0;
            }
        }
        respawn(cfg, t, &mut rng);
    }
}

impl Env for Highway {
    fn obs_shape(&self) -> Vec<usize> {
        self.cfg.obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        self.cfg.action_space()
    }

    fn state_dim(&self) -> usize {
        self.cfg.state_dim()
    }

    /// A task start ([`tasks::task_start`]) drawn from `StdRng::seed_from_u64(seed)`; should
    /// placing the traffic fail (it cannot for a validated config) the road is left empty.
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.traffic = tasks::task_start(&self.cfg, &mut StdRng::seed_from_u64(seed))
            .unwrap_or_else(|_| tasks::empty_road(&self.cfg));
        Env::observe(self)
    }

    /// Any state read by [`Traffic::from_state`] whose ego speed is in `[0, ego_speed_max]`
    /// and whose ego lies on the road (`y ∈ [car_width/2, road_width − car_width/2]`).
    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let t = Traffic::from_state(&self.cfg, state)?;
        let half = self.cfg.car_width / 2.0;
        let (y, v) = (t.ego.y, t.ego.v);
        if !(half..=self.cfg.road_width() - half).contains(&y)
            || !(0.0..=self.cfg.ego_speed_max).contains(&v)
        {
            return Err(EnvError::InvalidPosition(format!(
                "highway ego at y = {y} m with speed {v} m/s; expected y in [{half}, {}] and \
                 speed in [0, {}]",
                self.cfg.road_width() - half,
                self.cfg.ego_speed_max
            )));
        }
        self.traffic = t;
        Ok(Env::observe(self))
    }

    /// `action`: 2 finite values, clipped onto the unit ball; continuous mode reads them as
    /// (acceleration, lateral velocity) fractions, discrete mode executes the nearest
    /// meta-action. A crashed ego ignores them.
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        check_dim("highway action", action, 2)?;
        if !action.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidAction(format!(
                "highway action {action:?} is not finite"
            )));
        }
        let mut a = [action[0], action[1]];
        clip_to_ball(&mut a, 1.0);
        let control = match self.cfg.actions {
            ActionMode::Continuous => Control::Direct {
                accel: a[0] * self.cfg.ego_accel_max,
                vy: a[1] * self.cfg.lateral_speed_max,
            },
            ActionMode::Discrete => {
                if !self.traffic.ego.crashed {
                    MetaAction::nearest(a).apply(&self.cfg, &mut self.traffic.ego);
                }
                Control::Track
            }
        };
        self.advance(control);
        Ok(Step {
            obs: Env::observe(self),
            state: Env::state(self),
        })
    }

    fn observe(&self) -> Vec<f32> {
        observe::observe(&self.cfg, &self.traffic)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        Ok(observe::observe(
            &self.cfg,
            &Traffic::from_state(&self.cfg, state)?,
        ))
    }

    fn state(&self) -> Vec<f32> {
        self.traffic.to_state()
    }

    /// None: highway episodes are scored by collisions and progress.
    fn success_rules(&self) -> Vec<NamedRule> {
        Vec::new()
    }

    /// A collision ([`HighwayConfig::collided`]).
    fn violation(&self, state: &[f32]) -> bool {
        self.cfg.collided(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::highway::state::{Car, DriverMode, EGO_CRASHED, EGO_V, EGO_VY, EGO_X, EGO_Y};

    /// An environment whose state is the ego at `(0, y)` with speed `v` and the given cars
    /// (all cruising, no mode switches).
    fn road(actions: ActionMode, y: f32, v: f32, cars: &[(f32, f32, f32)]) -> Highway {
        let cfg = HighwayConfig {
            other_cars: cars.len(),
            switch_prob: 0.0,
            actions,
            ..HighwayConfig::default()
        };
        let lane = cfg.lane_of(y);
        let traffic = Traffic {
            ego: Ego {
                x: 0.0,
                y,
                v,
                vy: 0.0,
                crashed: false,
                target_lane: lane,
                target_speed: v,
            },
            cars: cars
                .iter()
                .map(|&(x, y, v)| {
                    Some(Car {
                        x,
                        y,
                        v,
                        target_lane: cfg.lane_of(y),
                        mode: DriverMode::Cruise,
                        timer: 0.0,
                        desired_speed: v.max(1.0),
                    })
                })
                .collect(),
        };
        let mut env = Highway::new(cfg).unwrap();
        env.reset_to(&traffic.to_state()).unwrap();
        env
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    /// Constant acceleration u = 0.5·5 = 2.5 m/s² from v = 10: after k steps (t = k/2 s)
    /// v = 10 + 2.5t and x = 10t + 1.25t² (the trapezoid rule is exact here).
    #[test]
    fn free_road_kinematics_match_hand_computed_positions() {
        let mut env = road(ActionMode::Continuous, 6.0, 10.0, &[]);
        for k in 1..=4 {
            let s = env.step(&[0.5, 0.0]).unwrap().state;
            let t = 0.5 * k as f32;
            assert!(close(s[EGO_V], 10.0 + 2.5 * t), "{k}: {s:?}");
            assert!(close(s[EGO_X], 10.0 * t + 1.25 * t * t), "{k}: {s:?}");
            assert_eq!((s[EGO_Y], s[EGO_VY]), (6.0, 0.0));
        }
        // Speed limit: from 28 m/s at a_max the sub-step speeds are 28.5, 29, 29.5, 30, 30, so
        // x = 0.1·(28.25 + 28.75 + 29.25 + 29.75 + 30) = 14.6 m.
        let mut env = road(ActionMode::Continuous, 6.0, 28.0, &[]);
        let s = env.step(&[1.0, 0.0]).unwrap().state;
        assert!(close(s[EGO_V], 30.0) && close(s[EGO_X], 14.6), "{s:?}");
        // Lateral: 2 m/s for 0.5 s; then the road's edge clamps y at 12 − 1 = 11 m.
        let mut env = road(ActionMode::Continuous, 9.5, 0.0, &[]);
        let s = env.step(&[0.0, 1.0]).unwrap().state;
        assert!(close(s[EGO_Y], 10.5) && close(s[EGO_VY], 2.0), "{s:?}");
        let s = env.step(&[0.0, 1.0]).unwrap().state;
        assert!(close(s[EGO_Y], 11.0) && s[EGO_VY] == 0.0, "{s:?}");
        // Actions are clipped onto the unit ball: (3, 4) acts as (0.6, 0.8).
        let mut env = road(ActionMode::Continuous, 6.0, 10.0, &[]);
        let s = env.step(&[3.0, 4.0]).unwrap().state;
        assert!(close(s[EGO_V], 11.5) && close(s[EGO_Y], 6.8), "{s:?}");
        assert!(env.step(&[f32::NAN, 0.0]).is_err() && env.step(&[0.0]).is_err());
    }

    /// From the centre of lane 1 (y = 6) a lane change moves 2 m/s · 0.5 s = 1 m per step and
    /// lands on lane 0's centre (y = 2) after exactly 4 steps; FASTER reaches +5 m/s in 2.
    #[test]
    fn meta_actions_reach_their_targets_in_the_documented_steps() {
        let mut env = road(ActionMode::Discrete, 6.0, 20.0, &[]);
        // (0.1, −0.8) is nearest to LANE_LEFT = (0, −1).
        let ys: Vec<f32> = (0..5)
            .map(|k| {
                let a = if k == 0 { [0.1, -0.8] } else { [0.0, 0.0] };
                env.step(&a).unwrap().state[EGO_Y]
            })
            .collect();
        for (y, want) in ys.iter().zip([5.0, 4.0, 3.0]) {
            assert!(close(*y, want), "{ys:?}");
        }
        assert_eq!(
            ys[3..],
            [2.0, 2.0],
            "exactly on the lane centre after 4 steps"
        );
        assert_eq!(env.traffic().ego.target_lane, 0);
        // LANE_LEFT in the leftmost lane keeps lane 0.
        env.step(&[0.0, -1.0]).unwrap();
        assert_eq!(env.traffic().ego.target_lane, 0);
        let v: Vec<f32> = (0..3)
            .map(|k| {
                let a = if k == 0 { [0.9, 0.2] } else { [0.05, 0.0] };
                env.step(&a).unwrap().state[EGO_V]
            })
            .collect();
        assert_eq!(v, vec![22.5, 25.0, 25.0]);
        // Ties go to the earlier meta-action; the zero vector is IDLE.
        assert_eq!(MetaAction::nearest([0.6, 0.6]), MetaAction::LaneRight);
        assert_eq!(MetaAction::nearest([0.5, 0.5]), MetaAction::Idle);
        assert_eq!(MetaAction::nearest([0.0, 0.0]), MetaAction::Idle);
        assert_eq!(MetaAction::nearest([-0.7, 0.1]), MetaAction::Slower);
        for m in MetaAction::ALL {
            assert_eq!(MetaAction::nearest(m.vector()), m);
        }
    }

    /// A stopped car 7 m ahead (bumper gap 2 m, desired speed 1 m/s): the ego at 20 m/s hits
    /// it within the first step, stops there and stays crashed while the car drives off.
    #[test]
    fn crash_is_sticky_and_the_ego_stops() {
        let mut env = road(ActionMode::Continuous, 6.0, 20.0, &[(7.0, 6.0, 0.0)]);
        let s = env.step(&[0.0, 0.0]).unwrap().state;
        assert_eq!((s[EGO_CRASHED], s[EGO_V]), (1.0, 0.0), "{s:?}");
        // At 0.1 s the bumpers are 5.0075 m apart (the car crept forward); at 0.2 s they overlap.
        assert!(
            s[EGO_X] > 3.9 && s[EGO_X] < 4.1,
            "hit in the second sub-step: {s:?}"
        );
        assert!(env.violation(&s));
        let x = s[EGO_X];
        for _ in 0..20 {
            let s = env.step(&[1.0, 0.0]).unwrap().state;
            assert_eq!((s[EGO_CRASHED], s[EGO_V], s[EGO_X]), (1.0, 0.0, x));
            assert!(env.violation(&s));
        }
        assert!(
            !env.traffic().ego_overlaps(env.config()),
            "the car has left"
        );
    }

    /// The ego is a leader too: a car behind it in its lane follows it instead of hitting it.
    #[test]
    fn drivers_follow_the_ego() {
        let mut env = road(ActionMode::Continuous, 6.0, 10.0, &[(-30.0, 6.0, 25.0)]);
        for _ in 0..40 {
            let s = env.step(&[0.0, 0.0]).unwrap().state;
            assert_eq!(s[EGO_CRASHED], 0.0, "{s:?}");
        }
        let car = env.traffic().cars[0].unwrap();
        assert!(
            car.x < env.traffic().ego.x - 5.0 && (car.v - 10.0).abs() < 1.0,
            "{car:?}"
        );
    }
}
