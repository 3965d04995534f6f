//! `highway`: an ego car on a straight multi-lane road among other cars whose drivers are
//! stochastic — the planning-under-uncertainty test bed (issue 11), a simplified version of
//! Leurent's highway-env written from its description.
//!
//! # Road and cars
//! The road is straight and infinite in x (driving direction); `lanes` lanes of `lane_width`
//! m, y ∈ `[0, lanes·lane_width]` measured from the left edge to the right (as in highway-env,
//! lane 0 is the leftmost lane, LANE_LEFT lowers the lane index). Lane k's centre is
//! `(k + ½)·lane_width`. Every car is an axis-aligned `car_length × car_width` rectangle
//! (headings are not modelled); the ego collides when its rectangle's interior meets another's
//! ([`state::overlaps`]). Other cars never collide with each other (their overlaps are not
//! checked; IDM keeps them apart).
//!
//! `other_cars` slots hold the traffic, kept in the window `[x_ego − window_behind, x_ego +
//! window_ahead]`: a car that leaves it is put back at the other end in a random free lane
//! (drawn from the step's generator), so the number of cars around the ego never changes.
//!
//! # One step (`dt` s, `substeps` sub-steps of `h = dt/substeps`)
//! 1. Drivers switch modes ([`drivers`]); 2. for each sub-step, every car's acceleration is
//!    computed from the same snapshot, then all cars move (below), then the ego is checked for
//!    a collision; 3. cars that left the window are put back.
//!
//! **Ego kinematics** (continuous actions `a ∈ ℝ²`, clipped onto the unit ball): longitudinal
//! acceleration `u = a₀·ego_accel_max`, lateral velocity `v_y = a₁·lateral_speed_max`; per
//! sub-step `v' = clip(v + u·h, 0, ego_speed_max)`, `x' = x + ½(v + v')·h` (exact for constant
//! acceleration away from the bounds), `y' = clip(y + v_y·h, car_width/2, road_width −
//! car_width/2)` — the ego cannot leave the road: y is clamped so that its body stays on it.
//! The state's `vy` is the lateral velocity realised in the last sub-step.
//!
//! **Discrete meta-actions** (`actions = "discrete"`), as highway-env's `DiscreteMetaAction`:
//! [`MetaAction`] LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER, encoded as the fixed vectors
//! `(0,−1), (0,0), (0,1), (1,0), (−1,0)` ([`EnvSpec::action_set`]). `step` executes the
//! meta-action nearest (Euclidean; ties to the earlier one in that order) to the given vector,
//! so sampling planners work too. LANE_LEFT/RIGHT move the target lane by one (within the
//! road), FASTER/SLOWER the target speed by `speed_step` (within `[0, ego_speed_max]`). A
//! time-optimal controller then tracks the targets each sub-step: `u = clip((v* − v)/h,
//! ±ego_accel_max)` and `v_y = clip((y* − y)/h, ±lateral_speed_max)`, landing exactly on them.
//! From a lane centre a lane change therefore takes `⌈lane_width / (lateral_speed_max·dt)⌉`
//! steps (2 s = 4 steps by default), a speed change `⌈speed_step/(ego_accel_max·dt)⌉` steps
//! (2 steps).
//!
//! **After a collision** the ego is crashed: the flag is sticky, it stops (v = v_y = 0) and
//! ignores actions; [`Env::violation`] stays true.
//!
//! # Randomness
//! All drivers' draws of a step come from `StdRng` seeded with the FNV-1a hash of the bits of
//! the other cars' part of the state at the start of the step ([`drivers::step_seed`]). The
//! dynamics are therefore deterministic given the start (and the actions), `reset_to(state())`
//! reproduces the continuation exactly, and the drivers' dice do not depend on what the ego
//! does except through the traffic it causes. `reset(seed)` draws the start from
//! `StdRng::seed_from_u64(seed)`; the configuration has no seed of its own.
//!
//! # Observations
//! [`observe`]: `state` — an ego-centric kinematics vector (highway-env's "Kinematics");
//! `image` — a `[3, image_height, image_width]` top-down picture (road markings, ego, cars).
//!
//! # Tasks, data, pictures
//! [`tasks`]: test starts (no goal: the goal equals the start, highway episodes are scored by
//! collisions and progress, there are no success rules) and the reward-free behaviour policy;
//! [`render`]: episode pictures and image observations as PNG.

pub mod baseline;
pub mod drivers;
pub mod observe;
pub mod render;
pub mod sim;
pub mod state;
pub mod tasks;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{ActionSpace, BehaviourPolicy, Env, EnvSpec, Task};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::two_rooms::ObsKind;

pub use drivers::{idm_acceleration, IdmConfig};
pub use sim::{Highway, MetaAction};
pub use state::{crashed, ego_speed, progress, DriverMode, Traffic};

/// How `step` reads the action vector.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActionMode {
    /// `(acceleration / ego_accel_max, lateral velocity / lateral_speed_max)` in the unit ball.
    Continuous,
    /// The nearest of the five meta-actions ([`MetaAction`]).
    Discrete,
}

/// Settings of `[env] kind = "highway"` (each default in parentheses).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HighwayConfig {
    /// Number of lanes (default 3).
    pub lanes: usize,
    /// Lane width (m; default 4).
    pub lane_width: f32,
    /// Length of every car (m; default 5).
    pub car_length: f32,
    /// Width of every car (m; default 2).
    pub car_width: f32,
    /// Duration of one env step (s; default 0.5).
    pub dt: f32,
    /// Integration sub-steps per env step (collisions are checked after each; default 5).
    pub substeps: usize,
    /// Number of other-car slots (all filled in resets and tasks; default 8).
    pub other_cars: usize,
    /// Traffic window behind the ego (m; default 60).
    pub window_behind: f32,
    /// Traffic window ahead of the ego (m; default 120).
    pub window_ahead: f32,
    /// Ego speed bound: v ∈ [0, ego_speed_max] (m/s; default 30).
    pub ego_speed_max: f32,
    /// Ego acceleration bound a_max, for `a₀ = ±1` (m/s²; default 5).
    pub ego_accel_max: f32,
    /// Lateral speed of the ego at `a₁ = ±1` and of lane-changing drivers (m/s; default 2).
    pub lateral_speed_max: f32,
    /// Target-speed change of FASTER / SLOWER (m/s; default 5).
    pub speed_step: f32,
    /// Lowest desired speed v₀ of other drivers (m/s; default 18).
    pub driver_speed_min: f32,
    /// Highest desired speed v₀ of other drivers (m/s; default 26).
    pub driver_speed_max: f32,
    /// Car-following model of other drivers.
    pub idm: IdmConfig,
    /// Deceleration of a driver in the brake mode (m/s²; default 6).
    pub brake_decel: f32,
    /// How long a driver brakes (s; default 2).
    pub brake_duration: f32,
    /// Smallest bumper-to-bumper gap to the ego a cut-in accepts (m; default 2); gaps to other cars
    /// must be at least [`SPAWN_GAP`].
    pub cut_in_gap: f32,
    /// Probability per env step that a driver redraws its mode from `mode_probs` (default 0.05).
    pub switch_prob: f32,
    /// Relative weights of cruise, brake, cut-in when a mode is drawn (default 0.6, 0.2, 0.2).
    pub mode_probs: [f32; 3],
    /// Car slots of the `state` observation, nearest first (default 6).
    pub observed_cars: usize,
    /// `state` (kinematics vector) or `image` (default state).
    pub obs: ObsKind,
    /// `continuous` or `discrete` (default continuous).
    pub actions: ActionMode,
    /// Image columns, along x (px; default 40).
    pub image_width: usize,
    /// Image rows, across the road (px; default 12).
    pub image_height: usize,
    /// Road shown behind the ego's centre in images (m; default 30).
    pub view_behind: f32,
    /// Road shown ahead of the ego's centre in images (m; default 70).
    pub view_ahead: f32,
}

impl Default for HighwayConfig {
    fn default() -> Self {
        HighwayConfig {
            lanes: 3,
            lane_width: 4.0,
            car_length: 5.0,
            car_width: 2.0,
            dt: 0.5,
            substeps: 5,
            other_cars: 8,
            window_behind: 60.0,
            window_ahead: 120.0,
            ego_speed_max: 30.0,
            ego_accel_max: 5.0,
            lateral_speed_max: 2.0,
            speed_step: 5.0,
            driver_speed_min: 18.0,
            driver_speed_max: 26.0,
            idm: IdmConfig::default(),
            brake_decel: 6.0,
            brake_duration: 2.0,
            cut_in_gap: 2.0,
            switch_prob: 0.05,
            mode_probs: [0.6, 0.2, 0.2],
            observed_cars: 6,
            obs: ObsKind::State,
            actions: ActionMode::Continuous,
            image_width: 40,
            image_height: 12,
            view_behind: 30.0,
            view_ahead: 70.0,
        }
    }
}

/// Names of the readout features ([`HighwayConfig::readout`]).
pub const READOUT_NAMES: [&str; 5] = ["y", "v", "crashed", "clearance", "safety_gap"];

/// Clearances larger than this read as this (m): nothing near.
pub const CLEARANCE_CAP: f32 = 20.0;

/// Safety gaps larger than this read as this (m): the ego's path is free.
pub const SAFETY_GAP_CAP: f32 = 40.0;

/// Factor on lateral and rearward distances in the safety gap.
pub const SAFETY_STRETCH: f32 = 5.0;

impl HighwayConfig {
    /// What the agent's probe learns to read from a representation: `[y, v, crashed,
    /// clearance]`. `y` (m) and `v` (m/s) are the ego's; `crashed` is the flag (0/1);
    /// `clearance = min_k max(|Δx_k| − car_length, |Δy_k| − car_width)` over the present
    /// cars `k` (m, capped at [`CLEARANCE_CAP`]): how far the ego's rectangle is from
    /// touching another's along the axis that separates them. The ego collides with a car
    /// exactly when the clearance is negative ([`state::overlaps`]), and the clearance is a
    /// continuous function of the positions (a car alongside in the next lane reads
    /// `lane_width − car_width`, 2 m by default), so a guardrail can read "about to collide"
    /// as a small decoded clearance.
    ///
    /// `safety_gap = min_k max(g_x, STRETCH·(|Δy_k| − car_width))` with `g_x = Δx_k −
    /// car_length` for a car ahead (`Δx_k ≥ 0`) and `STRETCH·(|Δx_k| − car_length)` for one
    /// behind, capped at [`SAFETY_GAP_CAP`] (m; [`SAFETY_STRETCH`] = 5): the clearance with
    /// the lateral and rearward distances stretched. It is negative exactly at a collision
    /// (like the clearance) and continuous wherever it is not negative, but a car alongside
    /// in the next lane reads 5 × 2 = 10 m instead of 2 m and a follower queued 2 m behind
    /// reads 10 m, while the gap to the car ahead reads as it is — so a guardrail on it with
    /// a margin of a few metres of reading error still lets the ego pass cars and queue.
    pub fn readout(&self, s: &[f32]) -> Vec<f32> {
        use state::{CAR_DIM, CAR_PRESENT, CAR_X, CAR_Y, EGO_DIM, EGO_V, EGO_X, EGO_Y};
        let (x, y) = (s[EGO_X], s[EGO_Y]);
        let (mut clearance, mut safety_gap) = (CLEARANCE_CAP, SAFETY_GAP_CAP);
        for c in s[EGO_DIM..]
            .chunks_exact(CAR_DIM)
            .filter(|c| c[CAR_PRESENT] != 0.0)
        {
            let (dx, lateral) = (c[CAR_X] - x, (c[CAR_Y] - y).abs() - self.car_width);
            clearance = clearance.min((dx.abs() - self.car_length).max(lateral));
            let gx = if dx >= 0.0 {
                dx - self.car_length
            } else {
                SAFETY_STRETCH * (-dx - self.car_length)
            };
            safety_gap = safety_gap.min(gx.max(SAFETY_STRETCH * lateral));
        }
        vec![y, s[EGO_V], f32::from(crashed(s)), clearance, safety_gap]
    }
}

/// Room each car needs when cars are placed in the window: bumper-to-bumper gap (m) between
/// placed cars in one lane.
pub const SPAWN_GAP: f32 = 10.0;

fn positive(field: &'static str, v: f32) -> Result<(), EnvError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(EnvError::config(field, v, "a finite value > 0"))
    }
}

impl HighwayConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        for (field, v) in [
            ("env.lane_width", self.lane_width),
            ("env.car_length", self.car_length),
            ("env.car_width", self.car_width),
            ("env.dt", self.dt),
            ("env.window_behind", self.window_behind),
            ("env.window_ahead", self.window_ahead),
            ("env.ego_speed_max", self.ego_speed_max),
            ("env.ego_accel_max", self.ego_accel_max),
            ("env.lateral_speed_max", self.lateral_speed_max),
            ("env.speed_step", self.speed_step),
            ("env.driver_speed_min", self.driver_speed_min),
            ("env.driver_speed_max", self.driver_speed_max),
            ("env.brake_decel", self.brake_decel),
            ("env.brake_duration", self.brake_duration),
            ("env.cut_in_gap", self.cut_in_gap),
            ("env.view_behind", self.view_behind),
            ("env.view_ahead", self.view_ahead),
        ] {
            positive(field, v)?;
        }
        self.idm.validate()?;
        for (field, v) in [
            ("env.lanes", self.lanes),
            ("env.substeps", self.substeps),
            ("env.image_width", self.image_width),
            ("env.image_height", self.image_height),
        ] {
            if v == 0 {
                return Err(EnvError::config(field, v, ">= 1"));
            }
        }
        if self.car_width >= self.lane_width {
            return Err(EnvError::config(
                "env.car_width",
                self.car_width,
                "less than env.lane_width",
            ));
        }
        if self.driver_speed_max < self.driver_speed_min {
            return Err(EnvError::config(
                "env.driver_speed_max",
                self.driver_speed_max,
                ">= env.driver_speed_min",
            ));
        }
        if !(0.0..=1.0).contains(&self.switch_prob) {
            return Err(EnvError::config(
                "env.switch_prob",
                self.switch_prob,
                "a probability in [0, 1]",
            ));
        }
        let p = self.mode_probs;
        if !(p.iter().all(|w| w.is_finite() && *w >= 0.0) && p.iter().sum::<f32>() > 0.0) {
            return Err(EnvError::config(
                "env.mode_probs",
                format!("{p:?}"),
                "three finite weights >= 0 (cruise, brake, cut-in) with a positive sum",
            ));
        }
        let room = self.lanes as f32 * (self.window_behind + self.window_ahead) / 2.0;
        if self.other_cars as f32 * (self.car_length + SPAWN_GAP) > room {
            return Err(EnvError::config(
                "env.other_cars",
                self.other_cars,
                "at most lanes·(window_behind + window_ahead)/2 / (car_length + 10 m) cars",
            ));
        }
        let h = self.dt / self.substeps as f32;
        // Every car drives forward, so two cars close in at most at the larger top speed.
        if self.ego_speed_max.max(self.driver_speed_max) * h > self.car_length {
            return Err(EnvError::config(
                "env.substeps",
                self.substeps,
                "enough sub-steps that no car closes in on another by more than car_length \
                 per sub-step (max(ego_speed_max, driver_speed_max)·dt/substeps <= car_length)",
            ));
        }
        Ok(())
    }

    /// Observation shape: `[6 + 5·observed_cars]` or `[3, image_height, image_width]`.
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.obs {
            ObsKind::State => {
                vec![observe::EGO_FEATURES + observe::CAR_FEATURES * self.observed_cars]
            }
            ObsKind::Image => vec![observe::CHANNELS, self.image_height, self.image_width],
        }
    }

    /// Two values in the unit ball, in both action modes.
    pub fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 2,
            max_norm: 1.0,
        }
    }
}

impl EnvSpec for HighwayConfig {
    fn kind(&self) -> &'static str {
        "highway"
    }

    fn validate(&self) -> Result<(), EnvError> {
        HighwayConfig::validate(self)
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Highway::new(self.clone())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        HighwayConfig::obs_shape(self)
    }

    fn action_space(&self) -> ActionSpace {
        HighwayConfig::action_space(self)
    }

    fn state_dim(&self) -> usize {
        HighwayConfig::state_dim(self)
    }

    fn observation_name(&self) -> &'static str {
        self.obs.name()
    }

    /// [`tasks::HighwayBehaviour`]; `data`'s two-rooms walk settings do not apply.
    fn behaviour(&self, _data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        HighwayConfig::validate(self)?;
        Ok(Box::new(tasks::HighwayBehaviour::new(self.clone())))
    }

    /// [`tasks::task_starts`]; the goal of each task equals its start (no goal: highway
    /// episodes are scored by collisions and progress).
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        Ok(tasks::task_starts(self, n, seed)?
            .into_iter()
            .map(|s| Task {
                goal: s.clone(),
                start: s,
            })
            .collect())
    }

    /// [`HighwayConfig::readout`].
    fn readout(&self, state: &[f32]) -> Vec<f32> {
        HighwayConfig::readout(self, state)
    }

    fn readout_names(&self) -> Vec<String> {
        READOUT_NAMES.iter().map(|s| s.to_string()).collect()
    }

    /// Metres driven: [`progress`].
    fn progress(&self, start: &[f32], state: &[f32]) -> Option<f32> {
        Some(progress(start, state))
    }

    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        render::render_episodes(self, traces, cols, path)
    }

    /// Stay in the lane with IDM at `ego_speed_max` ([`baseline::StayInLane`]).
    fn baseline(&self) -> Option<Box<dyn crate::env::Baseline>> {
        Some(Box::new(baseline::StayInLane::new(
            self.clone(),
            self.ego_speed_max,
        )))
    }

    /// Full braking in the current lane: `(−1, 0)` (SLOWER in discrete mode).
    fn fallback_action(&self) -> Vec<f32> {
        vec![-1.0, 0.0]
    }

    /// Discrete mode: the five meta-actions in [`MetaAction::ALL`] order; continuous: `None`.
    fn action_set(&self) -> Option<Vec<Vec<f32>>> {
        match self.actions {
            ActionMode::Continuous => None,
            ActionMode::Discrete => Some(
                MetaAction::ALL
                    .iter()
                    .map(|m| m.vector().to_vec())
                    .collect(),
            ),
        }
    }
}
