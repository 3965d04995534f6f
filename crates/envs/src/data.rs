//! Reward-free trajectory generation as in PLDM: a correlated random walk.
//!
//! Each trajectory starts uniformly in free space with a uniform direction θ₀. Each step
//! `θ_t = θ_{t−1} + VonMises(0, κ)` and the step length is `N(step_mean, step_std²)` truncated
//! to `[0, max_step]` (by resampling); the action is `len·(cos θ, sin θ)`. A `door_fraction`
//! of the trajectories is steered through the door: they start within 12 px of the door on a
//! random side and, for their first half, draw each direction around the direction to a point
//! 6 px beyond the door on the other side (same von Mises noise).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::EnvError;
use crate::two_rooms::observe_at;
use crate::two_rooms::TwoRoomsConfig;

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

/// Draws from the von Mises distribution VM(0, κ) (Best & Fisher 1979).
pub fn von_mises(rng: &mut StdRng, kappa: f32) -> f32 {
    use std::f64::consts::PI;
    let k = kappa as f64;
    if k < 1e-6 {
        return rng.gen_range(-PI..PI) as f32;
    }
    let tau = 1.0 + (1.0 + 4.0 * k * k).sqrt();
    let rho = (tau - (2.0 * tau).sqrt()) / (2.0 * k);
    let r = (1.0 + rho * rho) / (2.0 * rho);
    loop {
        let u1: f64 = rng.gen();
        let z = (PI * u1).cos();
        let f = (1.0 + r * z) / (r + z);
        let c = k * (r - f);
        let u2: f64 = rng.gen();
        if c * (2.0 - c) - u2 > 0.0 || (c / u2).ln() + 1.0 - c >= 0.0 {
            let u3: f64 = rng.gen();
            let sign = if u3 > 0.5 { 1.0 } else { -1.0 };
            return (sign * f.clamp(-1.0, 1.0).acos()) as f32;
        }
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn step_length(rng: &mut StdRng, cfg: &DataConfig, max: f32) -> f32 {
    for _ in 0..1000 {
        let l = cfg.step_mean + cfg.step_std * normal(rng);
        if (0.0..=max).contains(&l) {
            return l;
        }
    }
    cfg.step_mean.clamp(0.0, max)
}

/// Generates the dataset; `progress` is called with the number of trajectories done.
pub fn generate(
    env: &TwoRoomsConfig,
    cfg: &DataConfig,
    progress: &mut dyn FnMut(usize),
) -> Result<Dataset, EnvError> {
    env.validate()?;
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let t_len = cfg.traj_len;
    let obs_dim = env.obs_dim();
    let mut ds = Dataset {
        observations: Vec::with_capacity(cfg.trajectories * (t_len + 1) * obs_dim),
        actions: Vec::with_capacity(cfg.trajectories * t_len * 2),
        positions: Vec::with_capacity(cfg.trajectories * (t_len + 1) * 2),
        n_traj: cfg.trajectories,
        traj_len: t_len,
        obs_shape: env.obs_shape(),
        env_config: env.clone(),
        data_config: cfg.clone(),
    };
    for i in 0..cfg.trajectories {
        let steered = rng.gen::<f32>() < cfg.door_fraction;
        let (mut p, target) = if steered {
            door_start(env, &mut rng)
        } else {
            (env.sample_free(&mut rng, 0.5), None)
        };
        let mut theta: f32 = match target {
            Some(t) => (t[1] - p[1]).atan2(t[0] - p[0]),
            None => rng.gen_range(-std::f32::consts::PI..std::f32::consts::PI),
        };
        ds.positions.extend_from_slice(&p);
        ds.observations.extend(observe_at(env, p));
        for t in 0..t_len {
            let base = match target {
                Some(g) if t < t_len / 2 => (g[1] - p[1]).atan2(g[0] - p[0]),
                _ => theta,
            };
            theta = base + von_mises(&mut rng, cfg.kappa);
            let len = step_length(&mut rng, cfg, env.max_step);
            let a = [len * theta.cos(), len * theta.sin()];
            p = env.transition(p, a)?;
            ds.actions.extend_from_slice(&a);
            ds.positions.extend_from_slice(&p);
            ds.observations.extend(observe_at(env, p));
        }
        progress(i + 1);
    }
    Ok(ds)
}

/// A start within 12 px of the door on a random side, and the target beyond the door.
fn door_start(env: &TwoRoomsConfig, rng: &mut StdRng) -> ([f32; 2], Option<[f32; 2]>) {
    let cx = env.size / 2.0;
    let side: f32 = if rng.gen::<bool>() { -1.0 } else { 1.0 };
    let half = env.wall_thickness / 2.0;
    loop {
        let p = [
            cx + side * rng.gen_range(half + 1.0..half + 12.0),
            env.door_y + rng.gen_range(-12.0..12.0),
        ];
        if env.is_free(p) {
            let target = [cx - side * (half + 6.0), env.door_y];
            return (p, Some(target));
        }
    }
}
