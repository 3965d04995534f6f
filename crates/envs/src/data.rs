//! Reward-free trajectory generation: [`generate`] runs any environment's behaviour policy;
//! [`TwoRoomsWalk`] is PLDM's correlated random walk for two-rooms.
//!
//! In two-rooms each trajectory starts uniformly in free space with a uniform direction θ₀ ∈ [−π, π).
//! Each step `θ_t = θ_{t−1} + VonMises(0, κ)` (wrapped to [−π, π)), the step length is
//! `ℓ ~ N(step_mean, step_std²)` truncated to `[0, max_step]` by resampling, and the action is
//! `ℓ·(cos θ_t, sin θ_t)`, applied with the env's move rule. A blocked move does not change
//! the rule: the next direction is still the previous one plus von Mises noise.
//!
//! Each trajectory is independently steered through the door with probability
//! `door_fraction`: it starts within [`DOOR_START_RANGE`] = 12 px of the door on a random side
//! and, for its first `⌊T/2⌋` steps, draws each direction as `φ_t + VonMises(0, κ)`, where
//! `φ_t` is the direction from the current position to the target [`DOOR_TARGET_DEPTH`] = 6 px
//! beyond the wall on the other side, at the door's centre; afterwards it continues as a plain
//! correlated walk.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::f32::consts::PI;

use crate::env::{check_dim, BehaviourPolicy};
use crate::error::EnvError;
use crate::registry::EnvConfig;
use crate::sampling::{truncated_normal, von_mises};
use crate::two_rooms::{TwoRoomsConfig, MAX_SAMPLE_DRAWS};

/// Steered trajectories start within this distance (px) of the door.
pub const DOOR_START_RANGE: f32 = 12.0;
/// The steering target lies this far (px) beyond the far face of the wall, at `door_y`.
pub const DOOR_TARGET_DEPTH: f32 = 6.0;

/// Settings of the generator: size and seed for every environment; `kappa`, `step_mean`,
/// `step_std` and `door_fraction` are the settings of the two-rooms walk (other environments
/// document which of them their behaviour policy uses); `door_crossing_rate`,
/// `random_fraction`, `step_min` and `step_max` are settings of PLDM's generator (`pldm`,
/// [`crate::pldm::walk`]) only.
///
/// The size is `trajectories`, or with `transitions > 0` (and `trajectories = 0`)
/// `⌈transitions / traj_len⌉` trajectories ([`DataConfig::trajectory_count`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Number of trajectories (0 when the size is given by `transitions`).
    pub trajectories: usize,
    /// Number of transitions, rounded up to whole trajectories (default 0: the size is
    /// `trajectories`; exactly one of the two is non-zero).
    #[serde(default)]
    pub transitions: usize,
    /// Actions per trajectory T.
    pub traj_len: usize,
    /// Seed.
    pub seed: u64,
    /// Von Mises concentration κ of the direction changes (0: uniformly random directions).
    pub kappa: f32,
    /// Mean step length (px).
    pub step_mean: f32,
    /// Standard deviation of the step length (px).
    pub step_std: f32,
    /// Fraction of trajectories steered through the door.
    pub door_fraction: f32,
    /// `pldm`: fraction of trajectories that pass through the door (default 0.6, PLDM's
    /// `cross_wall_rate`); the others never do.
    #[serde(default = "default_door_crossing_rate")]
    pub door_crossing_rate: f32,
    /// `pldm`: fraction of trajectories whose directions are uniformly random (κ = 0) instead
    /// of a correlated walk (default 0; PLDM's mixtures with random trajectories).
    #[serde(default)]
    pub random_fraction: f32,
    /// `pldm`: lower bound of the truncated-normal step length (px; default 0.2).
    #[serde(default = "default_step_min")]
    pub step_min: f32,
    /// `pldm`: upper bound of the truncated-normal step length (px; default 1.8).
    #[serde(default = "default_step_max")]
    pub step_max: f32,
}

/// PLDM's `cross_wall_rate` (`pldm_envs/wall/configs/good_quality_data.yaml`).
fn default_door_crossing_rate() -> f32 {
    0.6
}

/// PLDM's `action_lower_bd` (`pldm_envs/wall/configs/good_quality_data.yaml`).
fn default_step_min() -> f32 {
    0.2
}

/// PLDM's `action_upper_bd` (`pldm_envs/wall/configs/good_quality_data.yaml`).
fn default_step_max() -> f32 {
    1.8
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            trajectories: 3000,
            transitions: 0,
            traj_len: 32,
            seed: 0,
            kappa: 5.0,
            step_mean: 1.5,
            step_std: 0.75,
            door_fraction: 0.3,
            door_crossing_rate: default_door_crossing_rate(),
            random_fraction: 0.0,
            step_min: default_step_min(),
            step_max: default_step_max(),
        }
    }
}

impl DataConfig {
    /// Number of trajectories generated: `trajectories`, or `⌈transitions / traj_len⌉` when
    /// the size is given in transitions.
    pub fn trajectory_count(&self) -> usize {
        if self.transitions > 0 {
            self.transitions.div_ceil(self.traj_len.max(1))
        } else {
            self.trajectories
        }
    }

    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), EnvError> {
        match (self.trajectories, self.transitions) {
            (0, 0) => {
                return Err(EnvError::config(
                    "data.trajectories",
                    0,
                    ">= 1 (or size the data by data.transitions)",
                ))
            }
            (t, n) if t > 0 && n > 0 => {
                return Err(EnvError::config(
                    "data.transitions",
                    n,
                    "0 while data.trajectories is set (size the data by one of them: \
                     set the other to 0)",
                ))
            }
            _ => {}
        }
        if self.traj_len == 0 {
            return Err(EnvError::config("data.traj_len", 0, ">= 1"));
        }
        if !(self.kappa.is_finite() && self.kappa >= 0.0) {
            return Err(EnvError::config(
                "data.kappa",
                self.kappa,
                "a finite value >= 0",
            ));
        }
        if !(self.step_mean.is_finite() && self.step_mean > 0.0) {
            return Err(EnvError::config("data.step_mean", self.step_mean, "> 0"));
        }
        if !(self.step_std.is_finite() && self.step_std >= 0.0) {
            return Err(EnvError::config("data.step_std", self.step_std, ">= 0"));
        }
        for (field, v) in [
            ("data.door_fraction", self.door_fraction),
            ("data.door_crossing_rate", self.door_crossing_rate),
            ("data.random_fraction", self.random_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(EnvError::config(field, v, "in [0, 1]"));
            }
        }
        if !(self.step_min.is_finite() && self.step_min >= 0.0) {
            return Err(EnvError::config("data.step_min", self.step_min, ">= 0"));
        }
        if !(self.step_max.is_finite() && self.step_max > self.step_min) {
            return Err(EnvError::config(
                "data.step_max",
                self.step_max,
                "a finite value > data.step_min",
            ));
        }
        Ok(())
    }
}

/// Trajectories as flat row-major buffers.
///
/// # Shapes
/// `observations [n_traj, T+1, *obs_shape]`, `actions [n_traj, T, A]`,
/// `states [n_traj, T+1, S]` (true states: positions in two-rooms; evaluation only)
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Observations, shared (training holds them without a copy).
    pub observations: std::sync::Arc<Vec<f32>>,
    /// Actions.
    pub actions: Vec<f32>,
    /// True states (evaluation only).
    pub states: Vec<f32>,
    /// Number of trajectories.
    pub n_traj: usize,
    /// Actions per trajectory T.
    pub traj_len: usize,
    /// Shape of one observation.
    pub obs_shape: Vec<usize>,
    /// Length A of one action.
    pub action_dim: usize,
    /// Length S of one true state.
    pub state_dim: usize,
    /// Environment the data came from.
    pub env_config: EnvConfig,
    /// Generator settings.
    pub data_config: DataConfig,
}

/// Refuses to generate `n` trajectories of `t_len` steps whose arrays (held in memory, then
/// encoded into the `.npz` once more: twice their float32 size) exceed the available memory
/// ([`crate::dataset_memory`]), before anything is allocated.
fn check_generation_fits(n: usize, t_len: usize, dims: [usize; 3]) -> Result<(), EnvError> {
    let (n, t) = (n as u64, t_len as u64);
    let counts = crate::dataset_memory::array_elements(n, t, dims.map(|d| d as u64));
    let need = crate::dataset_memory::bytes_needed(0, &counts);
    match crate::dataset_memory::available_memory() {
        Some(avail) if need > avail => Err(EnvError::config(
            "data.trajectories",
            format!(
                "{n} of {t} steps, which need about {} in memory while {} is available",
                crate::dataset_memory::human(need),
                crate::dataset_memory::human(avail)
            ),
            "a dataset that fits in memory: fewer trajectories or transitions",
        )),
        _ => Ok(()),
    }
}

/// Generates the dataset with the environment's behaviour policy ([`crate::EnvSpec::behaviour`])
/// in its data-collection instance ([`crate::EnvSpec::build_for_data`]); `progress` is called
/// with the number of trajectories done.
///
/// Each trajectory: `s_0 = policy.start()`, then for `t < T`: `a_t = policy.act(t, s_t)`,
/// `s_{t+1} = env.step(a_t)`. All draws come from one `StdRng::seed_from_u64(data.seed)`, so the
/// dataset is a pure function of the two configs.
pub fn generate(
    env: &EnvConfig,
    cfg: &DataConfig,
    progress: &mut dyn FnMut(usize),
) -> Result<Dataset, EnvError> {
    let spec = env.spec();
    spec.validate()?;
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut policy = spec.behaviour(cfg)?;
    let mut instance = spec.build_for_data()?;
    let (n, t_len) = (cfg.trajectory_count(), cfg.traj_len);
    let (obs_dim, a_dim, s_dim) = (
        instance.obs_dim(),
        instance.action_space().dim,
        instance.state_dim(),
    );
    check_generation_fits(n, t_len, [obs_dim, a_dim, s_dim])?;
    let mut observations = Vec::with_capacity(n * (t_len + 1) * obs_dim);
    let mut ds = Dataset {
        observations: Default::default(),
        actions: Vec::with_capacity(n * t_len * a_dim),
        states: Vec::with_capacity(n * (t_len + 1) * s_dim),
        n_traj: n,
        traj_len: t_len,
        obs_shape: spec.obs_shape(),
        action_dim: a_dim,
        state_dim: s_dim,
        env_config: env.clone(),
        data_config: cfg.clone(),
    };
    for i in 0..n {
        let start = policy.start(&mut rng)?;
        observations.extend(instance.reset_to(&start)?);
        ds.states.extend_from_slice(&start);
        for t in 0..t_len {
            let a = policy.act(t, &instance.state(), &mut rng);
            check_dim("behaviour policy action", &a, a_dim)?;
            let step = instance.step(&a)?;
            ds.actions.extend_from_slice(&a);
            ds.states.extend(step.state);
            observations.extend(step.obs);
        }
        progress(i + 1);
    }
    ds.observations = observations.into();
    Ok(ds)
}

/// PLDM's correlated random walk in two-rooms (module docs), as a behaviour policy.
pub struct TwoRoomsWalk {
    env: TwoRoomsConfig,
    cfg: DataConfig,
    /// Current direction θ.
    theta: f32,
    /// Steering target beyond the door, for steered trajectories.
    target: Option<[f32; 2]>,
}

impl TwoRoomsWalk {
    /// The walk with `cfg`'s settings in `env`.
    pub fn new(env: TwoRoomsConfig, cfg: DataConfig) -> Self {
        TwoRoomsWalk {
            env,
            cfg,
            theta: 0.0,
            target: None,
        }
    }
}

impl BehaviourPolicy for TwoRoomsWalk {
    /// Steered with probability `door_fraction` (start near the door, target beyond it), else a
    /// uniform free start; then a uniform initial direction.
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let steered = rng.gen::<f32>() < self.cfg.door_fraction;
        let p = if steered {
            let (p, target) = door_start(&self.env, rng)?;
            self.target = Some(target);
            p
        } else {
            self.target = None;
            self.env.sample_free(rng, 0.0, None)?
        };
        self.theta = rng.gen_range(-PI..PI);
        Ok(p.to_vec())
    }

    fn act(&mut self, t: usize, p: &[f32], rng: &mut StdRng) -> Vec<f32> {
        let base = match self.target {
            Some(g) if t < self.cfg.traj_len / 2 => (g[1] - p[1]).atan2(g[0] - p[0]),
            _ => self.theta,
        };
        self.theta = wrap_angle(base + von_mises(rng, self.cfg.kappa));
        let len = truncated_normal(
            rng,
            self.cfg.step_mean,
            self.cfg.step_std,
            0.0,
            self.env.max_step,
        );
        vec![len * self.theta.cos(), len * self.theta.sin()]
    }
}

/// Maps an angle to `[−π, π)`.
pub(crate) fn wrap_angle(theta: f32) -> f32 {
    (theta + PI).rem_euclid(2.0 * PI) - PI
}

/// A start within [`DOOR_START_RANGE`] px of the door on a random side (x offset from the
/// wall face in `[1, 12)` px, y within ±12 px of the door centre), and the steering target
/// [`DOOR_TARGET_DEPTH`] px beyond the wall face on the other side, at the door's centre.
fn door_start(env: &TwoRoomsConfig, rng: &mut StdRng) -> Result<([f32; 2], [f32; 2]), EnvError> {
    let cx = env.size / 2.0;
    let side: f32 = if rng.gen::<bool>() { -1.0 } else { 1.0 };
    let half = env.wall_thickness / 2.0;
    for _ in 0..MAX_SAMPLE_DRAWS {
        let p = [
            cx + side * rng.gen_range(half + 1.0..half + DOOR_START_RANGE),
            env.door_y + rng.gen_range(-DOOR_START_RANGE..DOOR_START_RANGE),
        ];
        if env.is_free(p) {
            let target = [cx - side * (half + DOOR_TARGET_DEPTH), env.door_y];
            return Ok((p, target));
        }
    }
    Err(EnvError::InvalidPosition(format!(
        "no free start within {DOOR_START_RANGE} px of the door found in {MAX_SAMPLE_DRAWS} draws"
    )))
}
