//! Raster figures (PNG) without a plotting dependency: panels with a data → pixel map,
//! heat maps with a perceptual colour map, points, polylines, a frame, and text in a built-in
//! 5×7 bitmap font.

use std::path::Path;

use anyhow::{Context, Result};

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

/// An RGB image, white to start with.
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

    /// Sets one pixel (ignored outside the image).
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A filled square of half-width `r` centred on `(x, y)`.
    pub fn dot(&mut self, x: i64, y: i64, r: i64, c: Rgb) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r + r {
                    self.set(x + dx, y + dy, c);
                }
            }
        }
    }

    /// A straight line (Bresenham).
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

    /// Text with its top-left corner at `(x, y)`, each font pixel drawn `scale × scale`.
    /// Lower case is drawn as upper case; characters without a glyph as a blank.
    pub fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb, scale: i64) {
        for (k, ch) in s.chars().enumerate() {
            let rows = glyph(ch.to_ascii_uppercase());
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

    /// Writes the image as PNG (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        ami_io::write_png(path, self.w, self.h, &self.px)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// A rectangle of a [`Canvas`] with data coordinates `x ∈ xr`, `y ∈ yr` (y up).
#[derive(Debug, Clone, Copy)]
pub struct Panel {
    /// Left edge in pixels.
    pub left: i64,
    /// Top edge in pixels.
    pub top: i64,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
    /// Data range on x.
    pub xr: (f64, f64),
    /// Data range on y.
    pub yr: (f64, f64),
}

impl Panel {
    /// Pixel of the data point `(x, y)`.
    pub fn px(&self, x: f64, y: f64) -> (i64, i64) {
        let fx = (x - self.xr.0) / (self.xr.1 - self.xr.0);
        let fy = (y - self.yr.0) / (self.yr.1 - self.yr.0);
        (
            self.left + (fx * (self.width - 1) as f64).round() as i64,
            self.top + ((1.0 - fy) * (self.height - 1) as f64).round() as i64,
        )
    }

    /// Data point at the centre of pixel `(i, j)` of the panel.
    fn data(&self, i: i64, j: i64) -> (f64, f64) {
        let fx = (i as f64 + 0.5) / self.width as f64;
        let fy = 1.0 - (j as f64 + 0.5) / self.height as f64;
        (
            self.xr.0 + fx * (self.xr.1 - self.xr.0),
            self.yr.0 + fy * (self.yr.1 - self.yr.0),
        )
    }

    /// Fills the panel with `f(x, y)` through the colour map, scaled between the values' own
    /// minimum and maximum (of `log10(f − min + 1e-3·range)` when `log`). Returns
    /// `(min, max)` of `f` over the pixels.
    pub fn heatmap(&self, c: &mut Canvas, f: impl Fn(f64, f64) -> f64, log: bool) -> (f64, f64) {
        let mut v = Vec::with_capacity((self.width * self.height) as usize);
        for j in 0..self.height {
            for i in 0..self.width {
                let (x, y) = self.data(i, j);
                v.push(f(x, y));
            }
        }
        let lo = v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::INFINITY, f64::min);
        let hi = v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let range = (hi - lo).max(1e-300);
        let map = |x: f64| -> f64 {
            if log {
                let eps = 1e-3 * range;
                ((x - lo + eps).log10() - eps.log10()) / ((range + eps).log10() - eps.log10())
            } else {
                (x - lo) / range
            }
        };
        for j in 0..self.height {
            for i in 0..self.width {
                let x = v[(j * self.width + i) as usize];
                let col = if x.is_finite() {
                    colormap(map(x))
                } else {
                    GREY
                };
                c.set(self.left + i, self.top + j, col);
            }
        }
        (lo, hi)
    }

    /// One dot per point.
    pub fn points(&self, c: &mut Canvas, pts: &[(f64, f64)], r: i64, col: Rgb) {
        for &(x, y) in pts {
            let (px, py) = self.px(x, y);
            c.dot(px, py, r, col);
        }
    }

    /// A polyline through the points (clipped to the panel by the canvas only).
    pub fn polyline(&self, c: &mut Canvas, pts: &[(f64, f64)], col: Rgb) {
        for w in pts.windows(2) {
            let (a, b) = (self.px(w[0].0, w[0].1), self.px(w[1].0, w[1].1));
            let inside = |p: (i64, i64)| {
                p.0 >= self.left
                    && p.0 < self.left + self.width
                    && p.1 >= self.top
                    && p.1 < self.top + self.height
            };
            if inside(a) || inside(b) {
                c.line(a, b, col);
            }
        }
    }

    /// Frame, title above, and the axis ranges as labels at the corners.
    pub fn frame(&self, c: &mut Canvas, title: &str) {
        let (l, t, r, b) = (
            self.left - 1,
            self.top - 1,
            self.left + self.width,
            self.top + self.height,
        );
        c.line((l, t), (r, t), BLACK);
        c.line((l, b), (r, b), BLACK);
        c.line((l, t), (l, b), BLACK);
        c.line((r, t), (r, b), BLACK);
        c.text(self.left, self.top - 20, title, BLACK, 2);
        let fmt = |v: f64| {
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        };
        c.text(l, b + 5, &fmt(self.xr.0), BLACK, 1);
        let xs = fmt(self.xr.1);
        c.text(r - Canvas::text_width(&xs, 1), b + 5, &xs, BLACK, 1);
        let (y0, y1) = (fmt(self.yr.0), fmt(self.yr.1));
        c.text(l - Canvas::text_width(&y0, 1) - 3, b - 7, &y0, BLACK, 1);
        c.text(l - Canvas::text_width(&y1, 1) - 3, t, &y1, BLACK, 1);
    }
}

/// A perceptual colour map (viridis-like), `t ∈ [0, 1]`: dark blue → green → yellow.
pub fn colormap(t: f64) -> Rgb {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [68.0, 1.0, 84.0]),
        (0.25, [59.0, 82.0, 139.0]),
        (0.5, [33.0, 145.0, 140.0]),
        (0.75, [94.0, 201.0, 98.0]),
        (1.0, [253.0, 231.0, 37.0]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    for w in STOPS.windows(2) {
        let ((t0, c0), (t1, c1)) = (w[0], w[1]);
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            return [0, 1, 2].map(|k| (c0[k] + f * (c1[k] - c0[k])).round() as u8);
        }
    }
    [253, 231, 37]
}

/// The 5×7 glyph of `ch` (rows top to bottom, bit 4 = leftmost column).
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '^' => [0x04, 0x0A, 0x11, 0, 0, 0, 0],
        '*' => [0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0],
        '|' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_maps_corners_and_colormap_ends() {
        let p = Panel {
            left: 10,
            top: 20,
            width: 101,
            height: 51,
            xr: (-1.0, 1.0),
            yr: (0.0, 5.0),
        };
        assert_eq!(p.px(-1.0, 5.0), (10, 20));
        assert_eq!(p.px(1.0, 0.0), (110, 70));
        assert_eq!(colormap(0.0), [68, 1, 84]);
        assert_eq!(colormap(1.0), [253, 231, 37]);
        assert_eq!(colormap(f64::NAN), [68, 1, 84]);
    }

    #[test]
    fn drawing_stays_inside_the_image() {
        let mut c = Canvas::new(20, 10);
        c.line((-5, -5), (30, 30), RED);
        c.text(15, 5, "AB12", BLACK, 2);
        c.dot(0, 0, 3, BLUE);
        assert_eq!(c.px.len(), 20 * 10 * 3);
        assert!(c.px.chunks(3).any(|p| p == RED));
    }
}
