//! Sampling of training windows `(o_t … o_{t+k}, a_t … a_{t+k−1})` from stored trajectories.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::JepaError;

/// Trajectories held in memory as flat row-major buffers.
///
/// # Shapes
/// `observations [n_traj, T+1, obs_dim]`, `actions [n_traj, T, action_dim]`,
/// `readout [n_traj, T+1, readout_dim]` (empty when unused)
///
/// The observations are shared, not copied: training holds the frames of the dataset it was
/// given (a million 65 × 65 frames are gigabytes), and the buffer may go on past the first
/// `n_traj` trajectories (the ones held out for measuring, which are never sampled).
#[derive(Debug, Clone)]
pub struct Trajectories {
    /// Flat observations: at least `n_traj` trajectories; any after them are not used.
    pub observations: Arc<Vec<f32>>,
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
        let per_traj = (self.traj_len + 1) * self.obs_dim;
        let whole = per_traj > 0 && self.observations.len().is_multiple_of(per_traj);
        if self.observations.len() < obs || !whole {
            return Err(JepaError::Shape {
                what: "observations".into(),
                got: vec![self.observations.len()],
                expected: format!(
                    "{obs} values (n_traj·(T+1)·obs_dim), or whole trajectories more (unused)"
                ),
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

    /// The observations of the `n_traj` trajectories (the buffer's first part).
    pub fn used_observations(&self) -> &[f32] {
        let n = self.n_traj * (self.traj_len + 1) * self.obs_dim;
        &self.observations[..n.min(self.observations.len())]
    }

    /// Per-feature mean and standard deviation of the observations of the `n_traj`
    /// trajectories (for input normalisation).
    pub fn obs_moments(&self) -> (Vec<f32>, Vec<f32>) {
        moments(self.used_observations(), self.obs_dim)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` trajectories of `t` steps, observations `[.., 2]` numbered by trajectory: trajectory
    /// `i`'s observations are all `i`.
    fn numbered(n: usize, t: usize) -> Trajectories {
        let obs: Vec<f32> = (0..n * (t + 1) * 2)
            .map(|j| (j / ((t + 1) * 2)) as f32)
            .collect();
        Trajectories {
            observations: obs.into(),
            actions: vec![0.5; n * t],
            n_traj: n,
            traj_len: t,
            obs_dim: 2,
            action_dim: 1,
            readout: Vec::new(),
            readout_dim: 0,
        }
    }

    #[test]
    fn trajectories_after_the_first_n_traj_are_accepted_and_never_used() {
        let mut d = numbered(5, 4);
        d.validate().unwrap();
        // The last two are held out: same buffer, fewer trajectories.
        d.n_traj = 3;
        d.actions.truncate(3 * 4);
        d.validate().unwrap();
        assert_eq!(d.used_observations().len(), 3 * 5 * 2);
        let w = d.sample(200, 2, 7, 0);
        assert!(
            w.observations.iter().all(|&o| o < 3.0),
            "a held-out frame sampled"
        );
        // Every used trajectory is drawn.
        for i in 0..3 {
            assert!(
                w.observations.contains(&(i as f32)),
                "trajectory {i} never drawn"
            );
        }
        // Moments of the used trajectories only: mean 1 (of 0, 1, 2), not 2 (of 0 … 4).
        let (mean, std) = d.obs_moments();
        assert_eq!(mean, vec![1.0, 1.0]);
        assert!((std[0] - (2.0f32 / 3.0).sqrt()).abs() < 1e-5, "{std:?}");
    }

    #[test]
    fn observations_short_of_n_traj_or_of_a_whole_trajectory_are_refused() {
        let mut d = numbered(3, 4);
        d.n_traj = 4;
        d.actions = vec![0.5; 4 * 4];
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("observations"), "{err}");
        let mut d = numbered(3, 4);
        let mut longer = d.observations.to_vec();
        longer.push(9.0);
        d.observations = longer.into();
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("observations"), "{err}");
    }
}
