//! Sampling of training windows `(o_t … o_{t+k}, a_t … a_{t+k−1})` from stored trajectories.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::JepaError;

/// Trajectories held in memory as flat row-major buffers.
///
/// # Shapes
/// `observations [n_traj, T+1, obs_dim]`, `actions [n_traj, T, action_dim]`,
/// `readout [n_traj, T+1, readout_dim]` (empty when unused)
#[derive(Debug, Clone)]
pub struct Trajectories {
    /// Flat observations.
    pub observations: Vec<f32>,
    /// Flat actions.
    pub actions: Vec<f32>,
    /// Number of trajectories.
    pub n_traj: usize,
    /// Number of actions T per trajectory.
    pub traj_len: usize,
    /// Length of one (flattened) observation.
    pub obs_dim: usize,
    /// Action dimension.
    pub action_dim: usize,
    /// Flat per-step readout targets `f_t` logged with each observation (the env's safety
    /// features, for the auxiliary `objective.readout` term); empty when unused.
    pub readout: Vec<f32>,
    /// Number of readout features r per step (0 when unused).
    pub readout_dim: usize,
}

/// One batch of windows of `k` transitions.
///
/// # Shapes
/// `observations [B, k+1, obs_dim]`, `actions [B, k, action_dim]`, `readout [B, k+1, r]`
/// (empty when the trajectories have none)
#[derive(Debug, Clone)]
pub struct Window {
    /// Flat observations.
    pub observations: Vec<f32>,
    /// Flat actions.
    pub actions: Vec<f32>,
    /// Flat readout targets aligned with the observations.
    pub readout: Vec<f32>,
    /// Batch size B.
    pub batch: usize,
    /// Number of transitions k.
    pub steps: usize,
}

impl Trajectories {
    /// Checks the buffer lengths against the declared sizes.
    pub fn validate(&self) -> Result<(), JepaError> {
        let obs = self.n_traj * (self.traj_len + 1) * self.obs_dim;
        let act = self.n_traj * self.traj_len * self.action_dim;
        if self.observations.len() != obs {
            return Err(JepaError::Shape {
                what: "observations".into(),
                got: vec![self.observations.len()],
                expected: format!("{obs} values (n_traj·(T+1)·obs_dim)"),
            });
        }
        if self.actions.len() != act {
            return Err(JepaError::Shape {
                what: "actions".into(),
                got: vec![self.actions.len()],
                expected: format!("{act} values (n_traj·T·action_dim)"),
            });
        }
        let ro = self.n_traj * (self.traj_len + 1) * self.readout_dim;
        if self.readout.len() != ro {
            return Err(JepaError::Shape {
                what: "readout".into(),
                got: vec![self.readout.len()],
                expected: format!("{ro} values (n_traj·(T+1)·readout_dim)"),
            });
        }
        if self.n_traj == 0 || self.traj_len == 0 {
            return Err(JepaError::config(
                "data",
                "empty",
                "at least one transition",
            ));
        }
        Ok(())
    }

    /// Per-feature mean and standard deviation of all observations (for input normalisation).
    pub fn obs_moments(&self) -> (Vec<f32>, Vec<f32>) {
        moments(&self.observations, self.obs_dim)
    }

    /// Per-feature mean and standard deviation (floored at 1e-3) of the readout targets (for
    /// their standardisation `f̃ = (f − mean) / std`); empty when there are none.
    pub fn readout_moments(&self) -> (Vec<f32>, Vec<f32>) {
        if self.readout_dim == 0 {
            return (Vec::new(), Vec::new());
        }
        moments(&self.readout, self.readout_dim)
    }

    /// Draws `batch` windows of `steps` transitions. The RNG is derived from `(seed, step)`, so
    /// a resumed run draws exactly the batches the uninterrupted run would have drawn.
    pub fn sample(&self, batch: usize, steps: usize, seed: u64, step: u64) -> Window {
        let k = steps.min(self.traj_len);
        let mut rng = StdRng::seed_from_u64(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (od, ad, t) = (self.obs_dim, self.action_dim, self.traj_len);
        let rd = self.readout_dim;
        let mut observations = Vec::with_capacity(batch * (k + 1) * od);
        let mut actions = Vec::with_capacity(batch * k * ad);
        let mut readout = Vec::with_capacity(batch * (k + 1) * rd);
        for _ in 0..batch {
            let i = rng.gen_range(0..self.n_traj);
            let start = rng.gen_range(0..=t - k);
            let o0 = (i * (t + 1) + start) * od;
            observations.extend_from_slice(&self.observations[o0..o0 + (k + 1) * od]);
            let a0 = (i * t + start) * ad;
            actions.extend_from_slice(&self.actions[a0..a0 + k * ad]);
            if rd > 0 {
                let r0 = (i * (t + 1) + start) * rd;
                readout.extend_from_slice(&self.readout[r0..r0 + (k + 1) * rd]);
            }
        }
        Window {
            observations,
            actions,
            readout,
            batch,
            steps: k,
        }
    }
}

/// Per-feature mean and standard deviation (floored at 1e-3) of rows of width `d`.
fn moments(values: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (values.len() / d).max(1) as f64;
    let mut mean = vec![0f64; d];
    for row in values.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; d];
    for row in values.chunks_exact(d) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (*v as f64 - m).powi(2);
        }
    }
    let std = var
        .iter()
        .map(|s| ((s / n).sqrt().max(1e-3)) as f32)
        .collect();
    (mean.iter().map(|m| *m as f32).collect(), std)
}
