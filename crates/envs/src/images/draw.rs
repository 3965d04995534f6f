//! The shapes and their anti-aliased rasterisation, shared by [`super::shapes`] and
//! [`super::moving_shapes`].
//!
//! A shape is a set in its own frame (unit size), placed by a similarity: centre `(x, y)` in
//! pixels, scale `s` (the half-size in pixels) and rotation `θ`. A pixel `(i, j)` (row, column)
//! covers the square `[j, j+1) × [i, i+1)`; its **coverage** `a ∈ [0, 1]` is the fraction of
//! `SUPERSAMPLE²` regularly spaced sub-pixel points inside the shape (box-filter
//! anti-aliasing). The pixel value is `(1 − a)·background + a·colour`.

use serde::{Deserialize, Serialize};

/// Sub-pixel samples per axis.
pub const SUPERSAMPLE: usize = 4;

/// The shape classes, in label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Label 0: the square `max(|u|, |v|) ≤ 1`.
    Square,
    /// Label 1: the disc `u² + v² ≤ 1`.
    Circle,
    /// Label 2: the equilateral triangle inscribed in the unit circle, apex at `v = −1`.
    Triangle,
    /// Label 3: the plus sign `(|u| ≤ 1, |v| ≤ 1/3) ∪ (|u| ≤ 1/3, |v| ≤ 1)`.
    Cross,
}

impl Shape {
    /// Every class, in label order.
    pub const ALL: [Shape; 4] = [Shape::Square, Shape::Circle, Shape::Triangle, Shape::Cross];

    /// The class name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Square => "square",
            Shape::Circle => "circle",
            Shape::Triangle => "triangle",
            Shape::Cross => "cross",
        }
    }

    /// Whether the point `(u, v)` of the shape's own frame is inside.
    pub fn contains(self, u: f64, v: f64) -> bool {
        match self {
            Shape::Square => u.abs() <= 1.0 && v.abs() <= 1.0,
            Shape::Circle => u * u + v * v <= 1.0,
            Shape::Triangle => {
                // Vertices at angles −90°, 30°, 150° on the unit circle; inside = on the inner
                // side of the three edges, whose inner normals point to the centre, at
                // distance 1/2 from it.
                let s3 = 3f64.sqrt() / 2.0;
                v <= 0.5 && (s3 * u - 0.5 * v) <= 0.5 && (-s3 * u - 0.5 * v) <= 0.5
            }
            Shape::Cross => {
                let t = 1.0 / 3.0;
                (u.abs() <= 1.0 && v.abs() <= t) || (u.abs() <= t && v.abs() <= 1.0)
            }
        }
    }
}

/// Where and how one shape is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The class.
    pub shape: Shape,
    /// Centre column in pixels (0 = left edge of the image).
    pub x: f64,
    /// Centre row in pixels (0 = top edge).
    pub y: f64,
    /// Half-size in pixels.
    pub scale: f64,
    /// Rotation in radians (counter-clockwise on screen).
    pub rotation: f64,
    /// Fill colour, RGB in [0, 1].
    pub colour: [f32; 3],
}

/// Coverage `[size × size]` (row-major) of `p` (see module docs).
pub fn coverage(p: &Placement, size: usize) -> Vec<f32> {
    let (sin, cos) = p.rotation.sin_cos();
    let n = SUPERSAMPLE as f64;
    let reach = p.scale * 2f64.sqrt() + 1.0;
    let mut out = vec![0f32; size * size];
    let lo = |c: f64| ((c - reach).floor().max(0.0)) as usize;
    let hi = |c: f64| ((c + reach).ceil().max(0.0) as usize).min(size);
    for i in lo(p.y)..hi(p.y) {
        for j in lo(p.x)..hi(p.x) {
            let mut inside = 0usize;
            for a in 0..SUPERSAMPLE {
                for b in 0..SUPERSAMPLE {
                    let py = i as f64 + (a as f64 + 0.5) / n - p.y;
                    let px = j as f64 + (b as f64 + 0.5) / n - p.x;
                    // Rotate the offset by −θ into the shape's frame, then unscale. Screen y
                    // points down, so a counter-clockwise rotation on screen is −θ in (x, y).
                    let u = (cos * px - sin * py) / p.scale;
                    let v = (sin * px + cos * py) / p.scale;
                    inside += usize::from(p.shape.contains(u, v));
                }
            }
            out[i * size + j] = inside as f32 / (n * n) as f32;
        }
    }
    out
}

/// Paints `p` over a `[3, size, size]` image (channel-major) in place.
pub fn paint(image: &mut [f32], p: &Placement, size: usize) {
    let cov = coverage(p, size);
    for (c, &col) in p.colour.iter().enumerate() {
        let plane = &mut image[c * size * size..(c + 1) * size * size];
        for (px, &a) in plane.iter_mut().zip(&cov) {
            *px = (1.0 - a) * *px + a * col;
        }
    }
}

/// RGB of the hue `h ∈ [0, 1)` at saturation `s` and value `v` (the HSV cone).
pub fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [f32; 3] {
    let h6 = (h.rem_euclid(1.0)) * 6.0;
    let k = |n: f64| {
        let k = (n + h6) % 6.0;
        v - v * s * k.min(4.0 - k).clamp(0.0, 1.0)
    };
    [k(5.0) as f32, k(3.0) as f32, k(1.0) as f32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv_to_rgb(0.0, 1.0, 1.0), [1.0, 0.0, 0.0]);
        assert_eq!(hsv_to_rgb(1.0 / 3.0, 1.0, 1.0), [0.0, 1.0, 0.0]);
        assert_eq!(hsv_to_rgb(2.0 / 3.0, 1.0, 1.0), [0.0, 0.0, 1.0]);
    }

    #[test]
    fn square_coverage_has_the_right_area_and_soft_edges() {
        let p = Placement {
            shape: Shape::Square,
            x: 16.25,
            y: 15.5,
            scale: 5.0,
            rotation: 0.0,
            colour: [1.0; 3],
        };
        let cov = coverage(&p, 32);
        let area: f32 = cov.iter().sum();
        assert!((area - 100.0).abs() < 1.0, "{area}");
        assert!(cov.iter().any(|&a| a > 0.0 && a < 1.0));
        // The circle's area is π s².
        let c = coverage(
            &Placement {
                shape: Shape::Circle,
                ..p
            },
            32,
        );
        let area: f32 = c.iter().sum();
        assert!((area - 25.0 * std::f32::consts::PI).abs() < 2.0, "{area}");
    }
}
