//! Reward-free trajectory generation as in PLDM: a correlated random walk.
//!
//! Each trajectory starts uniformly in free space with a uniform direction θ₀ ∈ [−π, π).
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

use crate::error::EnvError;
use crate::sampling::{truncated_normal, von_mises};
use crate::two_rooms::{observe_at, TwoRoomsConfig, MAX_SAMPLE_DRAWS};

/// Steered trajectories start within this distance (px) of the door.
pub const DOOR_START_RANGE: f32 = 12.0;
/// The steering target lies this far (px) beyond the far face of the wall, at `door_y`.
pub const DOOR_TARGET_DEPTH: f32 = 6.0;

/// Settings of the generator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Number of trajectories.
    pub trajectories: usize,
    /// Actions per trajectory T.
    pub traj_len: usize,
    /// Seed.
    pub seed: u64,
    /// Von Mises concentration κ of the direction changes.
    pub kappa: f32,
    /// Mean step length (px).
    pub step_mean: f32,
    /// Standard deviation of the step length (px).
    pub step_std: f32,
    /// Fraction of trajectories steered through the door.
    pub door_fraction: f32,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            trajectories: 3000,
            traj_len: 32,
            seed: 0,
            kappa: 5.0,
            step_mean: 1.5,
            step_std: 0.75,
            door_fraction: 0.3,
        }
    }
}

impl DataConfig {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), EnvError> {
        if self.trajectories == 0 {
            return Err(EnvError::config("data.trajectories", 0, ">= 1"));
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
        if !(0.0..=1.0).contains(&self.door_fraction) {
            return Err(EnvError::config(
                "data.door_fraction",
                self.door_fraction,
                "in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// Trajectories as flat row-major buffers.
///
/// # Shapes
/// `observations [n_traj, T+1, *obs_shape]`, `actions [n_traj, T, 2]`, `positions [n_traj, T+1, 2]`
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Observations.
    pub observations: Vec<f32>,
    /// Actions.
    pub actions: Vec<f32>,
    /// True positions (evaluation only).
    pub positions: Vec<f32>,
    /// Number of trajectories.
    pub n_traj: usize,
    /// Actions per trajectory T.
    pub traj_len: usize,
    /// Shape of one observation.
    pub obs_shape: Vec<usize>,
    /// Environment the data came from.
    pub env_config: TwoRoomsConfig,
    /// Generator settings.
    pub data_config: DataConfig,
}

/// Generates the dataset; `progress` is called with the number of trajectories done.
///
/// All draws come from one `StdRng::seed_from_u64(data.seed)`, so the dataset is a pure
/// function of the two configs.
pub fn generate(
    env: &TwoRoomsConfig,
    cfg: &DataConfig,
    progress: &mut dyn FnMut(usize),
) -> Result<Dataset, EnvError> {
    env.validate()?;
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (n, t_len) = (cfg.trajectories, cfg.traj_len);
    let mut ds = Dataset {
        observations: Vec::with_capacity(n * (t_len + 1) * env.obs_dim()),
        actions: Vec::with_capacity(n * t_len * 2),
        positions: Vec::with_capacity(n * (t_len + 1) * 2),
        n_traj: n,
        traj_len: t_len,
        obs_shape: env.obs_shape(),
        env_config: env.clone(),
        data_config: cfg.clone(),
    };
    for i in 0..n {
        trajectory(env, cfg, &mut rng, &mut ds)?;
        progress(i + 1);
    }
    Ok(ds)
}

/// Appends one trajectory (T+1 positions and observations, T actions) to `ds`.
fn trajectory(
    env: &TwoRoomsConfig,
    cfg: &DataConfig,
    rng: &mut StdRng,
    ds: &mut Dataset,
) -> Result<(), EnvError> {
    let steered = rng.gen::<f32>() < cfg.door_fraction;
    let (mut p, target) = if steered {
        let (p, target) = door_start(env, rng)?;
        (p, Some(target))
    } else {
        (env.sample_free(rng, 0.0, None)?, None)
    };
    let mut theta: f32 = rng.gen_range(-PI..PI);
    ds.positions.extend_from_slice(&p);
    ds.observations.extend(observe_at(env, p));
    for t in 0..cfg.traj_len {
        let base = match target {
            Some(g) if t < cfg.traj_len / 2 => (g[1] - p[1]).atan2(g[0] - p[0]),
            _ => theta,
        };
        theta = wrap_angle(base + von_mises(rng, cfg.kappa));
        let len = truncated_normal(rng, cfg.step_mean, cfg.step_std, 0.0, env.max_step);
        let a = [len * theta.cos(), len * theta.sin()];
        p = env.transition(p, a)?;
        ds.actions.extend_from_slice(&a);
        ds.positions.extend_from_slice(&p);
        ds.observations.extend(observe_at(env, p));
    }
    Ok(())
}

/// Maps an angle to `[−π, π)`.
fn wrap_angle(theta: f32) -> f32 {
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
