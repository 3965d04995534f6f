//! Unpredictable distractors over image observations: "leaves" that fall anywhere, anew in
//! every frame.
//!
//! Frame `k` of an environment carries `L` leaves (`env.distractors.leaves`), each a Gaussian
//! blob `a·exp(−‖c − m‖²/(2ρ²))` with centre `m ~ U([0, size]²)`, radius `ρ ~ U[ρ₀, ρ₁]`
//! (`env.distractors.sigma`) and amplitude `a ~ U[½, 1]·intensity`, added to **every** channel
//! of the image and clipped at 1: `o ← min(1, o + Σ_leaves a·exp(…))`. The leaves of a frame
//! are drawn from `StdRng::seed_from_u64(key)`, with a key that the environment advances at
//! every reset and step, so they are independent of the agent, of the action and of the previous
//! frame: nothing a world model sees can predict them. A model that must reconstruct its input
//! has to spend capacity on them; a joint-embedding predictor is free to ignore them (LeCun
//! 2022, §4.5) — which is what `ami experiment distractors` measures.
//!
//! With `leaves = 0` (the default) observations are exactly those without this module.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::EnvError;
use crate::observation::PixelGrid;

/// Settings of the leaves (module docs).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Distractors {
    /// Leaves per frame (0: no distractors).
    #[serde(default)]
    pub leaves: usize,
    /// Largest amplitude of a leaf, in `(0, 1]`.
    #[serde(default = "default_intensity")]
    pub intensity: f32,
    /// Range `[ρ₀, ρ₁]` of the leaves' radius (px of the arena).
    #[serde(default = "default_sigma")]
    pub sigma: [f32; 2],
}

fn default_intensity() -> f32 {
    0.6
}

fn default_sigma() -> [f32; 2] {
    [3.0, 8.0]
}

impl Default for Distractors {
    fn default() -> Self {
        Distractors {
            leaves: 0,
            intensity: default_intensity(),
            sigma: default_sigma(),
        }
    }
}

/// Key of the goal images' leaves, mixed with the goal state's hash.
const GOAL_SALT: u64 = 0x6c65_6176_6573_0001;

impl Distractors {
    /// Whether there are no leaves (the config omits the section then).
    pub fn is_off(&self) -> bool {
        self.leaves == 0
    }

    /// Checks every field; errors name the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        if self.leaves > 64 {
            return Err(EnvError::config(
                "env.distractors.leaves",
                self.leaves,
                "an integer in [0, 64]",
            ));
        }
        if !(self.intensity > 0.0 && self.intensity <= 1.0) {
            return Err(EnvError::config(
                "env.distractors.intensity",
                self.intensity,
                "a value in (0, 1]",
            ));
        }
        let [lo, hi] = self.sigma;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return Err(EnvError::config(
                "env.distractors.sigma",
                format!("[{lo}, {hi}]"),
                "[ρ₀, ρ₁] with 0 < ρ₀ ≤ ρ₁, finite",
            ));
        }
        Ok(())
    }

    /// Adds the leaves of frame `key` to the image `out` (`C·res·res` values, channel-major,
    /// pixel centres on `grid` over the arena `[0, size]²`).
    ///
    /// # Shapes
    /// `out [C · res · res]`
    pub fn apply(&self, out: &mut [f32], res: usize, size: f32, grid: PixelGrid, key: u64) {
        if self.is_off() || res == 0 {
            return;
        }
        let mut rng = StdRng::seed_from_u64(key);
        let leaves: Vec<([f32; 2], f32, f32)> = (0..self.leaves)
            .map(|_| {
                let m = [rng.gen::<f32>() * size, rng.gen::<f32>() * size];
                let rho = self.sigma[0] + rng.gen::<f32>() * (self.sigma[1] - self.sigma[0]);
                let a = (0.5 + 0.5 * rng.gen::<f32>()) * self.intensity;
                (m, 1.0 / (2.0 * rho * rho), a)
            })
            .collect();
        let plane = res * res;
        for i in 0..res {
            for j in 0..res {
                let c = grid.centre(i, j, res, size);
                let add: f32 = leaves
                    .iter()
                    .map(|(m, inv, a)| {
                        let d2 = (c[0] - m[0]).powi(2) + (c[1] - m[1]).powi(2);
                        a * (-d2 * inv).exp()
                    })
                    .sum();
                for v in out.iter_mut().skip(i * res + j).step_by(plane) {
                    *v = (*v + add).min(1.0);
                }
            }
        }
    }

    /// The key of a goal image's leaves: a hash of the goal state, so the same goal always
    /// gets the same (random-looking) leaves.
    pub fn goal_key(state: &[f32]) -> u64 {
        crate::sampling::fnv1a_f32(state) ^ GOAL_SALT
    }
}

/// The key of frame `tick` of an environment (SplitMix64 of the counter): consecutive frames
/// get unrelated leaves.
pub fn frame_key(tick: u64) -> u64 {
    let mut z = tick.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Distractors {
        Distractors {
            leaves: n,
            ..Default::default()
        }
    }

    #[test]
    fn off_changes_nothing() {
        let mut img = vec![0.25f32; 2 * 16 * 16];
        leaves(0).apply(&mut img, 16, 64.0, PixelGrid::CellCentred, 7);
        assert!(img.iter().all(|&v| v == 0.25));
    }

    #[test]
    fn leaves_add_the_same_pattern_to_every_channel_and_clip_at_one() {
        let mut img = vec![0f32; 2 * 16 * 16];
        img[16 * 16..].fill(0.9);
        leaves(4).apply(&mut img, 16, 64.0, PixelGrid::CellCentred, 3);
        let (c0, c1) = img.split_at(256);
        assert!(c0.iter().any(|&v| v > 0.1), "no leaf drawn");
        assert!(c0.iter().all(|&v| (0.0..=0.6 * 4.0).contains(&v)));
        for (a, b) in c0.iter().zip(c1) {
            assert!((b - (0.9 + a).min(1.0)).abs() < 1e-6, "{a} {b}");
        }
        assert!(c1.contains(&1.0));
    }

    #[test]
    fn a_single_leaf_peaks_where_its_centre_is() {
        // One leaf with a tiny radius lights essentially one pixel, at most `intensity`.
        let d = Distractors {
            leaves: 1,
            intensity: 0.8,
            sigma: [0.5, 0.5],
        };
        let mut img = vec![0f32; 32 * 32];
        d.apply(&mut img, 32, 64.0, PixelGrid::CellCentred, 11);
        let max = img.iter().cloned().fold(0.0, f32::max);
        assert!(max > 0.0 && max <= 0.8);
        assert_eq!(img.iter().filter(|&&v| v > 0.5 * max).count(), 1);
    }

    #[test]
    fn frames_differ_and_repeat_per_key() {
        let draw = |key| {
            let mut img = vec![0f32; 16 * 16];
            leaves(3).apply(&mut img, 16, 64.0, PixelGrid::CellCentred, key);
            img
        };
        assert_eq!(draw(frame_key(5)), draw(frame_key(5)));
        assert_ne!(draw(frame_key(5)), draw(frame_key(6)));
        assert_ne!(frame_key(0), frame_key(1));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = Distractors {
            leaves: 2,
            intensity: 1.5,
            ..Default::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("env.distractors.intensity"), "{e}");
        let bad = Distractors {
            leaves: 2,
            sigma: [4.0, 1.0],
            ..Default::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("env.distractors.sigma"), "{e}");
        assert!(leaves(65).validate().is_err());
        assert!(leaves(3).validate().is_ok());
    }
}
