//! Random views of an image, the source of invariance in joint-embedding SSL.
//!
//! [`AugmentKind::Strong`] (SimCLR/VICReg-style, for 32 × 32 colour images), in order:
//! 1. **random resized, rotated crop**: area fraction `a ~ U[crop_min, 1]`, aspect ratio `r`
//!    log-uniform in `[3/4, 4/3]`, crop `w = √(a r)·W`, `h = √(a/r)·H` (clamped to the image)
//!    at a uniform offset, turned by `φ ~ U[−rotate·π, rotate·π]` about its centre, resampled
//!    bilinearly back to `H × W` (edge-clamped outside the image);
//! 2. **horizontal flip** with probability ½ (when `flip`);
//! 3. **colour jitter** with probability `jitter_prob`: brightness `x ← b·x`, contrast
//!    `x ← ḡ + c·(x − ḡ)` (ḡ = mean luminance), saturation `x ← g + s·(x − g)` (g = the pixel's
//!    luminance `0.299 R + 0.587 G + 0.114 B`), with `b, c, s ~ U[1 − jitter, 1 + jitter]`
//!    (saturation only for 3 channels), then a hue rotation by `ψ ~ U[−hue·π, hue·π]` (the
//!    chroma plane of YIQ turned by `ψ`, 3 channels);
//! 4. **greyscale** `x ← g` with probability `grey_prob` (3 channels);
//! 5. **noise** `x ← x + N(0, noise_std²)`; finally clamped to [0, 1].
//!
//! [`AugmentKind::Mild`] (for tiny images such as 8 × 8 digits, where a crop or flip changes
//! the class): an integer shift by `dx, dy ∈ [−max_shift, max_shift]` with zero fill, then the
//! noise, clamped. [`AugmentKind::Auto`] picks Mild for images of side ≤ 16, Strong otherwise.

use ami_sampling::{box_muller, SplitMix64};
use serde::{Deserialize, Serialize};

use crate::error::SslError;

/// Which family of views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentKind {
    /// Mild for images of side ≤ 16, Strong otherwise.
    Auto,
    /// Crop, flip, colour jitter, grey, noise.
    Strong,
    /// Small shifts and noise.
    Mild,
}

/// Settings of the views (module docs give the math).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// The family (default auto).
    pub kind: AugmentKind,
    /// Smallest crop area fraction (default 0.5: the shapes cover a small part of the image).
    pub crop_min: f64,
    /// Largest crop rotation as a fraction of π (default 1: any angle, as suits the
    /// procedural shapes, whose class does not depend on orientation; 0 for natural images).
    pub rotate: f64,
    /// Largest hue rotation as a fraction of π (default 0.5).
    pub hue: f64,
    /// Random horizontal flips (default true).
    pub flip: bool,
    /// Probability of colour jitter (default 0.8).
    pub jitter_prob: f64,
    /// Strength of brightness, contrast and saturation jitter (default 0.4).
    pub jitter: f64,
    /// Probability of greyscale (default 0.2).
    pub grey_prob: f64,
    /// Pixel noise standard deviation (default 0.02).
    pub noise_std: f64,
    /// Largest shift of the mild views in pixels (default 1).
    pub max_shift: usize,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            kind: AugmentKind::Auto,
            crop_min: 0.5,
            rotate: 1.0,
            hue: 0.5,
            flip: true,
            jitter_prob: 0.8,
            jitter: 0.4,
            grey_prob: 0.2,
            noise_std: 0.02,
            max_shift: 1,
        }
    }
}

impl AugmentConfig {
    /// Checks the ranges; the error names the key (`augment.…`).
    pub fn validate(&self) -> Result<(), SslError> {
        let unit = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(SslError::config(format!("augment.{k}"), v, "in [0, 1]"))
            }
        };
        if !(self.crop_min > 0.0 && self.crop_min <= 1.0) {
            return Err(SslError::config(
                "augment.crop_min",
                self.crop_min,
                "in (0, 1]",
            ));
        }
        unit("jitter_prob", self.jitter_prob)?;
        unit("rotate", self.rotate)?;
        unit("hue", self.hue)?;
        unit("jitter", self.jitter)?;
        unit("grey_prob", self.grey_prob)?;
        unit("noise_std", self.noise_std)?;
        if self.max_shift > 4 {
            return Err(SslError::config(
                "augment.max_shift",
                self.max_shift,
                "0 to 4 pixels",
            ));
        }
        Ok(())
    }

    /// The family used for images of shape `[C, H, W]`.
    pub fn resolve(&self, [_, h, w]: [usize; 3]) -> AugmentKind {
        match self.kind {
            AugmentKind::Auto if h.max(w) <= 16 => AugmentKind::Mild,
            AugmentKind::Auto => AugmentKind::Strong,
            k => k,
        }
    }
}

/// One random view of `img [C, H, W]` (same shape).
pub fn view(img: &[f32], shape: [usize; 3], cfg: &AugmentConfig, rng: &mut SplitMix64) -> Vec<f32> {
    let mut out = match cfg.resolve(shape) {
        AugmentKind::Mild => shift(img, shape, cfg.max_shift, rng),
        _ => {
            let mut x = resized_crop(img, shape, cfg.crop_min, cfg.rotate, rng);
            if cfg.flip && rng.uniform() < 0.5 {
                flip(&mut x, shape);
            }
            if rng.uniform() < cfg.jitter_prob {
                jitter(&mut x, shape, cfg.jitter, rng);
                if shape[0] == 3 && cfg.hue > 0.0 {
                    let psi = std::f64::consts::PI * cfg.hue * (2.0 * rng.uniform() - 1.0);
                    rotate_hue(&mut x, shape, psi);
                }
            }
            if shape[0] == 3 && rng.uniform() < cfg.grey_prob {
                grey(&mut x, shape);
            }
            x
        }
    };
    for v in out.iter_mut() {
        if cfg.noise_std > 0.0 {
            let (z, _) = box_muller(1.0 - rng.uniform(), rng.uniform());
            *v += (cfg.noise_std * z) as f32;
        }
        *v = v.clamp(0.0, 1.0);
    }
    out
}

/// Two independent views of each image `idx[b]`, concatenated: `([B·C·H·W], [B·C·H·W])`.
pub fn two_views(
    pixels: impl Fn(usize) -> Vec<f32>,
    idx: &[usize],
    shape: [usize; 3],
    cfg: &AugmentConfig,
    rng: &mut SplitMix64,
) -> (Vec<f32>, Vec<f32>) {
    let (mut a, mut b) = (vec![], vec![]);
    for &i in idx {
        let img = pixels(i);
        a.extend(view(&img, shape, cfg, rng));
        b.extend(view(&img, shape, cfg, rng));
    }
    (a, b)
}

/// Random resized, rotated crop (step 1 of the module docs).
fn resized_crop(
    img: &[f32],
    [c, h, w]: [usize; 3],
    crop_min: f64,
    rotate: f64,
    rng: &mut SplitMix64,
) -> Vec<f32> {
    let area = crop_min + (1.0 - crop_min) * rng.uniform();
    let log_r = (0.75f64).ln() + ((4.0f64 / 3.0).ln() - (0.75f64).ln()) * rng.uniform();
    let r = log_r.exp();
    let cw = ((area * r).sqrt() * w as f64).clamp(1.0, w as f64);
    let ch = ((area / r).sqrt() * h as f64).clamp(1.0, h as f64);
    let x0 = (w as f64 - cw) * rng.uniform();
    let y0 = (h as f64 - ch) * rng.uniform();
    let (sin, cos) = (std::f64::consts::PI * rotate * (2.0 * rng.uniform() - 1.0)).sin_cos();
    let (cy, cx) = (y0 + ch / 2.0, x0 + cw / 2.0);
    let mut out = vec![0f32; c * h * w];
    for i in 0..h {
        // Output pixel centres map to offsets from the crop centre, turned by φ, then to
        // source coordinates (pixel centres at k + 0.5).
        let dy = ((i as f64 + 0.5) / h as f64 - 0.5) * ch;
        for j in 0..w {
            let dx = ((j as f64 + 0.5) / w as f64 - 0.5) * cw;
            let sy = cy + sin * dx + cos * dy - 0.5;
            let sx = cx + cos * dx - sin * dy - 0.5;
            for k in 0..c {
                out[(k * h + i) * w + j] = bilinear(&img[k * h * w..(k + 1) * h * w], h, w, sy, sx);
            }
        }
    }
    out
}

/// Bilinear sample of a `[h, w]` plane at `(y, x)` (edge-clamped).
fn bilinear(p: &[f32], h: usize, w: usize, y: f64, x: f64) -> f32 {
    let y = y.clamp(0.0, (h - 1) as f64);
    let x = x.clamp(0.0, (w - 1) as f64);
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
    let (fy, fx) = ((y - y0 as f64) as f32, (x - x0 as f64) as f32);
    let top = p[y0 * w + x0] * (1.0 - fx) + p[y0 * w + x1] * fx;
    let bot = p[y1 * w + x0] * (1.0 - fx) + p[y1 * w + x1] * fx;
    top * (1.0 - fy) + bot * fy
}

fn flip(x: &mut [f32], [_, _, w]: [usize; 3]) {
    for row in x.chunks_exact_mut(w) {
        row.reverse();
    }
}

/// Luminance of pixel `p` of a 3-channel image (the channel itself for one channel).
fn luminance(x: &[f32], [c, h, w]: [usize; 3], p: usize) -> f32 {
    if c == 3 {
        0.299 * x[p] + 0.587 * x[h * w + p] + 0.114 * x[2 * h * w + p]
    } else {
        x[p]
    }
}

fn jitter(x: &mut [f32], shape: [usize; 3], s: f64, rng: &mut SplitMix64) {
    let [c, h, w] = shape;
    let mut factor = || (1.0 - s + 2.0 * s * rng.uniform()) as f32;
    let (b, con, sat) = (factor(), factor(), factor());
    x.iter_mut().for_each(|v| *v = (*v * b).clamp(0.0, 1.0));
    let hw = h * w;
    let mean = (0..hw).map(|p| luminance(x, shape, p)).sum::<f32>() / hw as f32;
    x.iter_mut()
        .for_each(|v| *v = (mean + con * (*v - mean)).clamp(0.0, 1.0));
    if c == 3 {
        for p in 0..hw {
            let g = luminance(x, shape, p);
            for k in 0..3 {
                let v = &mut x[k * hw + p];
                *v = (g + sat * (*v - g)).clamp(0.0, 1.0);
            }
        }
    }
}

/// Turns the chroma of every pixel by `psi`: RGB → YIQ, `(I, Q)` rotated, back to RGB.
fn rotate_hue(x: &mut [f32], [_, h, w]: [usize; 3], psi: f64) {
    let (s, c) = (psi.sin() as f32, psi.cos() as f32);
    let hw = h * w;
    for p in 0..hw {
        let (r, g, b) = (x[p], x[hw + p], x[2 * hw + p]);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let i = 0.596 * r - 0.274 * g - 0.322 * b;
        let q = 0.211 * r - 0.523 * g + 0.312 * b;
        let (i, q) = (c * i - s * q, s * i + c * q);
        x[p] = (y + 0.956 * i + 0.621 * q).clamp(0.0, 1.0);
        x[hw + p] = (y - 0.272 * i - 0.647 * q).clamp(0.0, 1.0);
        x[2 * hw + p] = (y - 1.106 * i + 1.703 * q).clamp(0.0, 1.0);
    }
}

fn grey(x: &mut [f32], shape: [usize; 3]) {
    let hw = shape[1] * shape[2];
    for p in 0..hw {
        let g = luminance(x, shape, p);
        for k in 0..3 {
            x[k * hw + p] = g;
        }
    }
}

/// Integer shift with zero fill (the mild views).
fn shift(img: &[f32], [c, h, w]: [usize; 3], max: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let span = 2 * max + 1;
    let dy = rng.below(span) as isize - max as isize;
    let dx = rng.below(span) as isize - max as isize;
    let mut out = vec![0f32; c * h * w];
    for k in 0..c {
        for i in 0..h as isize {
            for j in 0..w as isize {
                let (si, sj) = (i - dy, j - dx);
                if (0..h as isize).contains(&si) && (0..w as isize).contains(&sj) {
                    out[(k * h + i as usize) * w + j as usize] =
                        img[(k * h + si as usize) * w + sj as usize];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: [usize; 3]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        (0..n).map(|i| i as f32 / n as f32).collect()
    }

    #[test]
    fn views_keep_shape_and_range_and_differ() {
        let mut rng = SplitMix64::new(1);
        let cfg = AugmentConfig::default();
        for shape in [[3, 32, 32], [1, 8, 8], [1, 32, 32]] {
            let img = ramp(shape);
            let a = view(&img, shape, &cfg, &mut rng);
            let b = view(&img, shape, &cfg, &mut rng);
            assert_eq!(a.len(), img.len());
            assert!(a.iter().chain(&b).all(|v| (0.0..=1.0).contains(v)));
            assert_ne!(a, b);
        }
    }

    #[test]
    fn full_crop_without_jitter_or_noise_is_the_identity_or_its_mirror() {
        let cfg = AugmentConfig {
            kind: AugmentKind::Strong,
            crop_min: 1.0,
            rotate: 0.0,
            jitter_prob: 0.0,
            grey_prob: 0.0,
            noise_std: 0.0,
            ..AugmentConfig::default()
        };
        let shape = [3, 8, 8];
        let img = ramp(shape);
        let mut mirror = img.clone();
        flip(&mut mirror, shape);
        let mut rng = SplitMix64::new(3);
        for _ in 0..10 {
            // Area 1 forces r = 1 after clamping only when r = 1; allow the tiny aspect change.
            let v = view(&img, shape, &cfg, &mut rng);
            let d = |o: &[f32]| {
                v.iter()
                    .zip(o)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max)
            };
            assert!(d(&img).min(d(&mirror)) < 0.1, "{} {}", d(&img), d(&mirror));
        }
    }

    #[test]
    fn mild_shift_moves_by_at_most_max_shift() {
        let mut img = vec![0f32; 64];
        img[3 * 8 + 4] = 1.0;
        let cfg = AugmentConfig {
            noise_std: 0.0,
            ..AugmentConfig::default()
        };
        let mut rng = SplitMix64::new(5);
        for _ in 0..20 {
            let v = view(&img, [1, 8, 8], &cfg, &mut rng);
            let p = v.iter().position(|&x| x == 1.0).unwrap();
            let (i, j) = (p / 8, p % 8);
            assert!(i.abs_diff(3) <= 1 && j.abs_diff(4) <= 1);
        }
    }
}
