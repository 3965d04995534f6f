//! `shapes`: one shape per image with known factors (`ami data shapes`).
//!
//! Sample `k` draws, from its own SplitMix64 stream seeded by `(seed, k)`: the class uniformly
//! from [`Shape::ALL`]; the half-size `s ~ U[scale_min, scale_max]` px; the centre
//! `x, y ~ U[s·√2, size − s·√2]` px (the whole shape in the frame at any rotation); the
//! rotation `θ ~ U[0, 2π)`; the hue `h ~ U[0, 1)` (saturation 0.8, value 0.9); the background
//! grey level `g ~ U[0, background_max]`. The image is the shape painted over the grey
//! background ([`super::draw`]), plus, when `noise_std > 0`, i.i.d. Gaussian pixel noise,
//! clamped to [0, 1]. Factors `[x, y, scale, rotation, hue]` (`rotation` is meaningless for
//! the circle and defined modulo the shape's symmetry for the others).

use ami_sampling::{box_muller, SplitMix64};
use serde::{Deserialize, Serialize};

use super::draw::{hsv_to_rgb, paint, Placement, Shape};
use super::{check_count, ImageData, ImageSidecar};
use crate::error::EnvError;

/// Names of the factors, in file order.
pub const FACTORS: [&str; 5] = ["x", "y", "scale", "rotation", "hue"];

/// Settings of the `shapes` generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapesConfig {
    /// Image side in pixels (default 32).
    pub size: usize,
    /// Smallest half-size in pixels (default 3).
    pub scale_min: f64,
    /// Largest half-size in pixels (default 7).
    pub scale_max: f64,
    /// Largest background grey level (default 0.3; 0 = black).
    pub background_max: f64,
    /// Standard deviation of the pixel noise (default 0.03; 0 = clean).
    pub noise_std: f64,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        ShapesConfig {
            size: 32,
            scale_min: 3.0,
            scale_max: 7.0,
            background_max: 0.3,
            noise_std: 0.03,
        }
    }
}

impl ShapesConfig {
    /// Checks every setting; the error names the field and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        if !(8..=256).contains(&self.size) {
            return Err(EnvError::config("size", self.size, "8 to 256 pixels"));
        }
        if self.scale_min.is_nan() || self.scale_min < 1.0 {
            return Err(EnvError::config("scale_min", self.scale_min, "≥ 1 pixel"));
        }
        if !(self.scale_max >= self.scale_min
            && self.scale_max * 2f64.sqrt() * 2.0 < self.size as f64)
        {
            return Err(EnvError::config(
                "scale_max",
                self.scale_max,
                "≥ scale_min and 2·√2·scale_max < size (the shape fits in the frame)",
            ));
        }
        if !(0.0..=1.0).contains(&self.background_max) {
            return Err(EnvError::config(
                "background_max",
                self.background_max,
                "in [0, 1]",
            ));
        }
        if !(0.0..=1.0).contains(&self.noise_std) {
            return Err(EnvError::config("noise_std", self.noise_std, "in [0, 1]"));
        }
        Ok(())
    }

    /// Draws the shape, its placement and background of one sample (see module docs).
    /// Returns the placement, its hue and the background grey level.
    pub(crate) fn draw(&self, rng: &mut SplitMix64) -> (Placement, f64, f32) {
        let shape = Shape::ALL[rng.below(Shape::ALL.len())];
        let scale = self.scale_min + (self.scale_max - self.scale_min) * rng.uniform();
        let margin = scale * 2f64.sqrt();
        let span = self.size as f64 - 2.0 * margin;
        let x = margin + span * rng.uniform();
        let y = margin + span * rng.uniform();
        let rotation = std::f64::consts::TAU * rng.uniform();
        let hue = rng.uniform();
        let grey = (self.background_max * rng.uniform()) as f32;
        let p = Placement {
            shape,
            x,
            y,
            scale,
            rotation,
            colour: hsv_to_rgb(hue, 0.8, 0.9),
        };
        (p, hue, grey)
    }

    /// Generates `n` images from `seed` (deterministic; see module docs).
    pub fn generate(&self, n: usize, seed: u64) -> Result<ImageData, EnvError> {
        self.validate()?;
        check_count(n)?;
        let size = self.size;
        let plane = 3 * size * size;
        let mut pixels = Vec::with_capacity(n * plane);
        let (mut labels, mut factors) = (vec![], vec![]);
        for k in 0..n {
            let mut rng = stream(seed, k);
            let (p, hue, grey) = self.draw(&mut rng);
            let mut img = vec![grey; plane];
            paint(&mut img, &p, size);
            add_noise(&mut img, self.noise_std, &mut rng);
            pixels.extend(img);
            labels.push(Shape::ALL.iter().position(|s| *s == p.shape).unwrap_or(0) as u32);
            factors.extend([p.x, p.y, p.scale, p.rotation, hue].map(|v| v as f32));
        }
        Ok(ImageData {
            array: "images",
            shape: vec![n, 3, size, size],
            pixels,
            labels,
            factor_shape: vec![n, FACTORS.len()],
            factors,
            sidecar: ImageSidecar {
                kind: "shapes".into(),
                seed,
                factors: FACTORS.map(String::from).to_vec(),
                classes: Shape::ALL.map(|s| s.name().to_string()).to_vec(),
                config: serde_json::to_value(self).unwrap_or_default(),
            },
        })
    }
}

/// The stream of sample `k`: independent of `n`, so the first samples of a larger set are
/// the samples of a smaller one.
pub(crate) fn stream(seed: u64, k: usize) -> SplitMix64 {
    let mut s = SplitMix64::new(seed ^ 0x5348_4150_4553_0000);
    let base = s.next_u64();
    SplitMix64::new(base.wrapping_add((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Adds `N(0, std²)` to every pixel and clamps to [0, 1].
pub(crate) fn add_noise(img: &mut [f32], std: f64, rng: &mut SplitMix64) {
    if std <= 0.0 {
        return;
    }
    for px in img.iter_mut() {
        let (z, _) = box_muller(1.0 - rng.uniform(), rng.uniform());
        *px = (*px + (std * z) as f32).clamp(0.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_seed_and_prefix_stable() {
        let cfg = ShapesConfig::default();
        let a = cfg.generate(6, 3).unwrap();
        assert_eq!(a, cfg.generate(6, 3).unwrap());
        assert_ne!(a.pixels, cfg.generate(6, 4).unwrap().pixels);
        let b = cfg.generate(3, 3).unwrap();
        assert_eq!(b.pixels[..], a.pixels[..b.pixels.len()]);
        assert!(a.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(a.shape, vec![6, 3, 32, 32]);
        assert_eq!(a.factor_shape, vec![6, 5]);
    }

    /// On a black, noise-free background the coverage-weighted pixel centroid is the drawn
    /// centre (every shape is symmetric about its centre), the hue factor matches the colour
    /// and the covered area grows with the scale as the shape's area does.
    #[test]
    fn factors_match_the_pixels() {
        let cfg = ShapesConfig {
            background_max: 0.0,
            noise_std: 0.0,
            ..ShapesConfig::default()
        };
        let d = cfg.generate(40, 11).unwrap();
        let s = cfg.size;
        let mut classes = [0usize; 4];
        for k in 0..40 {
            let img = &d.pixels[k * 3 * s * s..(k + 1) * 3 * s * s];
            let f = &d.factors[k * 5..(k + 1) * 5];
            // Brightness = max over channels = 0.9 · coverage.
            let (mut m, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
            for i in 0..s {
                for j in 0..s {
                    let a = (0..3)
                        .map(|c| img[c * s * s + i * s + j])
                        .fold(0.0f32, f32::max) as f64
                        / 0.9;
                    m += a;
                    mx += a * (j as f64 + 0.5);
                    my += a * (i as f64 + 0.5);
                }
            }
            assert!(
                (mx / m - f[0] as f64).abs() < 0.3,
                "x {} vs {}",
                mx / m,
                f[0]
            );
            assert!(
                (my / m - f[1] as f64).abs() < 0.3,
                "y {} vs {}",
                my / m,
                f[1]
            );
            let scale = f[2] as f64;
            let area = match d.labels[k] {
                0 => 4.0 * scale * scale,
                1 => std::f64::consts::PI * scale * scale,
                2 => 3.0 * 3f64.sqrt() / 4.0 * scale * scale,
                _ => 20.0 / 9.0 * scale * scale,
            };
            assert!((m - area).abs() < 0.05 * area + 1.0, "area {m} vs {area}");
            let expected = hsv_to_rgb(f[4] as f64, 0.8, 0.9);
            let centre = (f[1] as usize) * s + f[0] as usize;
            for c in 0..3 {
                assert!((img[c * s * s + centre] - expected[c]).abs() < 1e-4);
            }
            classes[d.labels[k] as usize] += 1;
        }
        assert!(classes.iter().all(|&c| c > 0), "{classes:?}");
    }

    #[test]
    fn bad_settings_name_the_field() {
        let e = ShapesConfig {
            scale_max: 20.0,
            ..ShapesConfig::default()
        }
        .generate(2, 0)
        .unwrap_err()
        .to_string();
        assert!(e.contains("scale_max") && e.contains("20"), "{e}");
        let e = ShapesConfig::default()
            .generate(0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`n`"), "{e}");
    }
}
