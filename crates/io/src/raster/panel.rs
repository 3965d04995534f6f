//! Plot panels on a [`Canvas`]: a rectangle with a data → pixel map, heat maps through a
//! perceptual colour map, points, polylines, and a labelled frame.

use super::{Canvas, Rgb, BLACK, GREY};

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
        c.border(l, t, r - l + 1, b - t + 1, 1, BLACK);
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
}
