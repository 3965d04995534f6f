//! Raster pictures without a plotting dependency: one RGB8 [`Canvas`] with the drawing
//! primitives every picture of `ami` needs (pixels, discs, rings, lines, rectangle borders,
//! text in a built-in 5×7 bitmap font), saved through the one PNG writer
//! ([`crate::png::write_png`]); and plot [`Panel`]s on it (data → pixel map, heat maps through
//! a perceptual [`colormap`], points, polylines, labelled frames).
//!
//! Pixel coordinates are `(x, y)` with `(0, 0)` the top-left pixel and `y` growing downwards;
//! anything drawn outside the image is clipped, never an error.

mod font;
mod panel;

use std::path::Path;

use crate::error::IoError;
pub use panel::{colormap, Panel};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Black.
pub const BLACK: Rgb = [0, 0, 0];
/// White.
pub const WHITE: Rgb = [255, 255, 255];
/// Red.
pub const RED: Rgb = [220, 40, 40];
/// Orange.
pub const ORANGE: Rgb = [255, 150, 30];
/// Blue.
pub const BLUE: Rgb = [40, 90, 220];
/// Grey.
pub const GREY: Rgb = [120, 120, 120];

/// An RGB8 image (row-major from the top-left, 3 bytes per pixel), white to start with.
pub struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    /// A white `w × h` image.
    pub fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.h
    }

    /// The RGB8 bytes, row-major from the top-left.
    pub fn pixels(&self) -> &[u8] {
        &self.px
    }

    /// Sets one pixel (ignored outside the image).
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A filled disc: every pixel `(⌊cx⌋ + dx, ⌊cy⌋ + dy)` with integer offsets
    /// `|dx|, |dy| ≤ ⌈r⌉` and `dx² + dy² ≤ r²` (in f32), where `⌊·⌋` truncates toward zero.
    pub fn disc(&mut self, cx: f32, cy: f32, r: f32, c: Rgb) {
        let ri = r.ceil() as i64;
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                if ((dx * dx + dy * dy) as f32) <= r * r {
                    self.set(cx as i64 + dx, cy as i64 + dy, c);
                }
            }
        }
    }

    /// A round dot of integer radius `r ≥ 0` on pixel `(x, y)`: the offsets with
    /// `dx² + dy² ≤ r² + r`. For integers that is `dx² + dy² ≤ (r + ½)²`, so this is the
    /// [`disc`](Self::disc) of radius `r + ½` centred on the pixel (exact in f32 for the
    /// coordinates and radii of a picture). Nothing is drawn for `r < 0`.
    pub fn dot(&mut self, x: i64, y: i64, r: i64, c: Rgb) {
        if r >= 0 {
            self.disc(x as f32, y as f32, r as f32 + 0.5, c);
        }
    }

    /// A circle of radius `r` around `(cx, cy)`: 720 points at angles `a = k·π/360`, each
    /// pixel `(⌊cx + r cos a⌋, ⌊cy + r sin a⌋)` (f32, truncated toward zero).
    pub fn ring(&mut self, cx: f32, cy: f32, r: f32, c: Rgb) {
        for k in 0..720 {
            let a = k as f32 * std::f32::consts::PI / 360.0;
            self.set((cx + r * a.cos()) as i64, (cy + r * a.sin()) as i64, c);
        }
    }

    /// A straight line between two pixels, both included (Bresenham's algorithm: integer
    /// steps, the error term decides each step along x, y or both).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        for _ in 0..=(dx - dy).max(0) * 2 + 2 {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A straight line between real points (a digital differential analyser): with
    /// `n = max(⌈max(|Δx|, |Δy|)⌉, 1)`, the pixels `⌊a + (k/n)(b − a)⌋` for `k = 0..=n`
    /// (f32, truncated toward zero).
    pub fn line_dda(&mut self, a: (f32, f32), b: (f32, f32), c: Rgb) {
        let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f32 / n as f32;
            self.set(
                (a.0 + t * (b.0 - a.0)) as i64,
                (a.1 + t * (b.1 - a.1)) as i64,
                c,
            );
        }
    }

    /// A border `thickness` px wide inside the `w × h` rectangle whose top-left pixel is
    /// `(left, top)`: ring `f = 0..thickness` is the outline of the rectangle shrunk by `f`
    /// on every side.
    pub fn border(&mut self, left: i64, top: i64, w: i64, h: i64, thickness: i64, c: Rgb) {
        for f in 0..thickness {
            let (x0, y0, x1, y1) = (left + f, top + f, left + w - 1 - f, top + h - 1 - f);
            for x in x0..=x1 {
                self.set(x, y0, c);
                self.set(x, y1, c);
            }
            for y in y0..=y1 {
                self.set(x0, y, c);
                self.set(x1, y, c);
            }
        }
    }

    /// Text with its top-left corner at `(x, y)`, each font pixel drawn `scale × scale`; a
    /// character takes 6·scale px (5 for the glyph, 1 of spacing).
    /// Lower case is drawn as upper case; characters without a glyph as a blank.
    pub fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb, scale: i64) {
        for (k, ch) in s.chars().enumerate() {
            let rows = font::glyph(ch.to_ascii_uppercase());
            let x0 = x + k as i64 * 6 * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.set(x0 + col * scale + dx, y + r as i64 * scale + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Width in pixels of `s` drawn at `scale`.
    pub fn text_width(s: &str, scale: i64) -> i64 {
        s.chars().count() as i64 * 6 * scale
    }

    /// Writes the image as PNG, atomically.
    pub fn save(&self, path: &Path) -> Result<(), IoError> {
        crate::png::write_png(path, self.w, self.h, &self.px)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_stays_inside_the_image() {
        let mut c = Canvas::new(20, 10);
        c.line((-5, -5), (30, 30), RED);
        c.text(15, 5, "AB12", BLACK, 2);
        c.dot(0, 0, 3, BLUE);
        c.line_dda((-3.0, 4.0), (40.0, 4.5), GREY);
        c.ring(10.0, 5.0, 20.0, ORANGE);
        c.border(-2, -2, 30, 30, 3, BLACK);
        assert_eq!(c.px.len(), 20 * 10 * 3);
        assert!(c.px.chunks(3).any(|p| p == RED));
    }

    /// `dot` is the disc of radius r + ½: the same pixels as the integer rule
    /// `dx² + dy² ≤ r² + r` it replaced.
    #[test]
    fn dot_is_the_integer_disc() {
        for r in -1..8 {
            let mut a = Canvas::new(21, 21);
            a.dot(10, 10, r, RED);
            let mut b = Canvas::new(21, 21);
            for dy in -r..=r {
                for dx in -r..=r {
                    if dx * dx + dy * dy <= r * r + r {
                        b.set(10 + dx, 10 + dy, RED);
                    }
                }
            }
            assert_eq!(a.px, b.px, "r = {r}");
        }
    }

    /// A border of thickness 1 is the four Bresenham lines of the rectangle's outline, and
    /// a thicker one is nested outlines.
    #[test]
    fn border_is_nested_outlines() {
        let mut a = Canvas::new(12, 9);
        a.border(1, 2, 8, 6, 2, BLUE);
        let mut b = Canvas::new(12, 9);
        for f in 0..2 {
            let (l, t, r, bt) = (1 + f, 2 + f, 8 - f, 7 - f);
            b.line((l, t), (r, t), BLUE);
            b.line((l, bt), (r, bt), BLUE);
            b.line((l, t), (l, bt), BLUE);
            b.line((r, t), (r, bt), BLUE);
        }
        assert_eq!(a.px, b.px);
        let blue = a.px.chunks(3).filter(|p| *p == BLUE).count();
        assert_eq!(blue, (8 * 6 - 4 * 2) as usize);
    }
}
