//! `moving-shapes`: videos of one shape moving at constant velocity and bouncing off the
//! borders (`ami data moving-shapes`).
//!
//! Video `k` draws the class, half-size, rotation, hue and background as [`super::shapes`]
//! does (rotation and colour fixed over the video), a start `(x₀, y₀)` inside the box
//! `[m, size − m]²` with `m = s·√2` and a velocity of speed `|v| ~ U[speed_min, speed_max]`
//! px/frame in a uniform direction. Each frame moves `p ← p + v`; a coordinate that leaves
//! `[m, size − m]` is reflected back into it (`p ← 2·bound − p`) and its velocity component
//! changes sign (an elastic bounce). Factors per frame `[x, y, vx, vy]` (the velocity the
//! shape has when leaving the frame), in `factors [N, T, 4]`; labels are the class.

use ami_sampling::SplitMix64;
use serde::{Deserialize, Serialize};

use super::draw::{paint, Shape};
use super::shapes::{add_noise, stream, ShapesConfig};
use super::{check_count, ImageData, ImageSidecar};
use crate::error::EnvError;

/// Names of the per-frame factors, in file order.
pub const FACTORS: [&str; 4] = ["x", "y", "vx", "vy"];

/// Settings of the `moving-shapes` generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovingShapesConfig {
    /// Frames per video (default 8).
    pub frames: usize,
    /// Smallest speed in px/frame (default 1).
    pub speed_min: f64,
    /// Largest speed in px/frame (default 3).
    pub speed_max: f64,
    /// The look of each frame (size, scales, background, noise).
    pub shapes: ShapesConfig,
}

impl Default for MovingShapesConfig {
    fn default() -> Self {
        MovingShapesConfig {
            frames: 8,
            speed_min: 1.0,
            speed_max: 3.0,
            shapes: ShapesConfig::default(),
        }
    }
}

impl MovingShapesConfig {
    /// Checks every setting; the error names the field and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        self.shapes.validate()?;
        if !(2..=256).contains(&self.frames) {
            return Err(EnvError::config("frames", self.frames, "2 to 256"));
        }
        if self.speed_min.is_nan() || self.speed_min < 0.0 {
            return Err(EnvError::config(
                "speed_min",
                self.speed_min,
                "≥ 0 px/frame",
            ));
        }
        if !(self.speed_max >= self.speed_min && self.speed_max <= self.shapes.size as f64 / 4.0) {
            return Err(EnvError::config(
                "speed_max",
                self.speed_max,
                "≥ speed_min and ≤ size / 4 px/frame",
            ));
        }
        Ok(())
    }

    /// Generates `n` videos from `seed` (deterministic; see module docs).
    pub fn generate(&self, n: usize, seed: u64) -> Result<ImageData, EnvError> {
        self.validate()?;
        check_count(n)?;
        let (size, t) = (self.shapes.size, self.frames);
        let plane = 3 * size * size;
        let mut pixels = Vec::with_capacity(n * t * plane);
        let (mut labels, mut factors) = (vec![], vec![]);
        for k in 0..n {
            let mut rng = stream(seed ^ 0x4d4f_5645, k);
            let (mut p, _, grey) = self.shapes.draw(&mut rng);
            let (lo, hi) = (p.scale * 2f64.sqrt(), size as f64 - p.scale * 2f64.sqrt());
            let mut v = self.velocity(&mut rng);
            for _ in 0..t {
                let mut img = vec![grey; plane];
                paint(&mut img, &p, size);
                add_noise(&mut img, self.shapes.noise_std, &mut rng);
                pixels.extend(img);
                factors.extend([p.x, p.y, v[0], v[1]].map(|x| x as f32));
                let (x, vx) = bounce(p.x + v[0], v[0], lo, hi);
                let (y, vy) = bounce(p.y + v[1], v[1], lo, hi);
                (p.x, p.y, v) = (x, y, [vx, vy]);
            }
            labels.push(Shape::ALL.iter().position(|s| *s == p.shape).unwrap_or(0) as u32);
        }
        Ok(ImageData {
            array: "videos",
            shape: vec![n, t, 3, size, size],
            pixels,
            labels,
            factor_shape: vec![n, t, FACTORS.len()],
            factors,
            sidecar: ImageSidecar {
                kind: "moving-shapes".into(),
                seed,
                factors: FACTORS.map(String::from).to_vec(),
                classes: Shape::ALL.map(|s| s.name().to_string()).to_vec(),
                config: serde_json::to_value(self).unwrap_or_default(),
            },
        })
    }

    fn velocity(&self, rng: &mut SplitMix64) -> [f64; 2] {
        let speed = self.speed_min + (self.speed_max - self.speed_min) * rng.uniform();
        let (s, c) = (std::f64::consts::TAU * rng.uniform()).sin_cos();
        [speed * c, speed * s]
    }
}

/// Reflects a coordinate `p` that left `[lo, hi]` back into it and flips its velocity `v`.
pub fn bounce(p: f64, v: f64, lo: f64, hi: f64) -> (f64, f64) {
    if p < lo {
        (2.0 * lo - p, -v)
    } else if p > hi {
        (2.0 * hi - p, -v)
    } else {
        (p, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_reflects_and_flips() {
        assert_eq!(bounce(5.0, 1.0, 0.0, 10.0), (5.0, 1.0));
        assert_eq!(bounce(11.0, 2.0, 0.0, 10.0), (9.0, -2.0));
        assert_eq!(bounce(-1.5, -3.0, 0.0, 10.0), (1.5, 3.0));
    }

    #[test]
    fn videos_are_deterministic_and_follow_their_velocities() {
        let cfg = MovingShapesConfig::default();
        let d = cfg.generate(5, 2).unwrap();
        assert_eq!(d, cfg.generate(5, 2).unwrap());
        assert_eq!(d.shape, vec![5, 8, 3, 32, 32]);
        assert_eq!(d.factor_shape, vec![5, 8, 4]);
        assert!(d.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        for k in 0..5 {
            for f in 0..7 {
                let a = &d.factors[(k * 8 + f) * 4..(k * 8 + f + 1) * 4];
                let b = &d.factors[(k * 8 + f + 1) * 4..(k * 8 + f + 2) * 4];
                for c in 0..2 {
                    let (moved, v0, v1) = (b[c] - a[c], a[2 + c], b[2 + c]);
                    if v0 == v1 {
                        assert!((moved - v0).abs() < 1e-4, "free flight");
                    } else {
                        assert!((v0 + v1).abs() < 1e-6, "a bounce flips the sign");
                    }
                }
            }
        }
        let e = MovingShapesConfig { frames: 1, ..cfg }
            .generate(1, 0)
            .unwrap_err();
        assert!(e.to_string().contains("frames"), "{e}");
    }
}
