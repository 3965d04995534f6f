//! A minimal SVG scatter chart: named groups of points drawn as markers, an optional
//! highlighted curve through some of them (e.g. a Pareto front), linear or logarithmic x axis.
//!
//! On a log axis a value `x > 0` is placed at `log₁₀ x`; non-positive values cannot be placed
//! and are left out (the caller decides how to show them, e.g. by clamping to a floor first).

use std::fmt::Write as _;

use crate::svg::{escape, Series};

/// One scatter chart.
pub struct Scatter {
    /// Title shown above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis (points with `x ≤ 0` are left out).
    pub log_x: bool,
    /// Groups of points, one marker colour per group, named in the legend.
    pub groups: Vec<Series>,
    /// A curve drawn over the markers (dashed, black), with its legend label; points in
    /// drawing order.
    pub curve: Option<Series>,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 640.0;
const H: f64 = 380.0;
const ML: f64 = 62.0;
const MR: f64 = 170.0;
const MT: f64 = 30.0;
const MB: f64 = 40.0;

impl Scatter {
    /// Every point that can be placed (finite, and `x > 0` on a log axis), in axis units.
    fn placed<'a>(&'a self, s: &'a Series) -> impl Iterator<Item = (f64, f64)> + 'a {
        s.points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_x || *x > 0.0))
            .map(|&(x, y)| (if self.log_x { x.log10() } else { x }, y))
    }

    /// The SVG document.
    pub fn render(&self) -> String {
        let all: Vec<(f64, f64)> = self
            .groups
            .iter()
            .chain(self.curve.as_ref())
            .flat_map(|s| self.placed(s))
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in &all {
            (x0, x1, y0, y1) = (x0.min(*x), x1.max(*x), y0.min(*y), y1.max(*y));
        }
        if all.is_empty() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        // A margin of 5 % of the range on each side, so markers are not cut by the frame; the
        // y ticks label the data's own range.
        let pad = |a: f64, b: f64| {
            let m = ((b - a) * 0.05).max(1e-3);
            (a - m, b + m)
        };
        let y_ticks = (y0, y1);
        ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
        let (pw, ph) = (W - ML - MR, H - MT - MB);
        let sx = |x: f64| ML + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| MT + (1.0 - (y - y0) / (y1 - y0)) * ph;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="{ML}" y="18" font-size="13" font-weight="bold">{}</text><rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##,
            escape(&self.title)
        );
        self.axes(&mut svg, (x0, x1, y0, y1), y_ticks, (pw, ph));
        for (j, g) in self.groups.iter().enumerate() {
            let c = COLORS[j % COLORS.len()];
            for (x, y) in self.placed(g) {
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{c}" fill-opacity="0.75"/>"#,
                    sx(x),
                    sy(y)
                );
            }
            legend(&mut svg, j, c, &g.name, false);
        }
        if let Some(curve) = &self.curve {
            let pts: Vec<String> = self
                .placed(curve)
                .map(|(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = write!(
                svg,
                r##"<polyline fill="none" stroke="#000" stroke-width="1.2" stroke-dasharray="4 3" points="{}"/>"##,
                pts.join(" ")
            );
            for (x, y) in self.placed(curve) {
                let _ = write!(
                    svg,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="6" fill="none" stroke="#000"/>"##,
                    sx(x),
                    sy(y)
                );
            }
            legend(&mut svg, self.groups.len(), "#000", &curve.name, true);
        }
        svg.push_str("</svg>\n");
        svg
    }

    /// Grid lines, tick labels (decades on a log axis) and axis labels.
    fn axes(
        &self,
        svg: &mut String,
        (x0, x1, y0, y1): (f64, f64, f64, f64),
        (t0, t1): (f64, f64),
        (pw, ph): (f64, f64),
    ) {
        for k in 0..=4 {
            let yv = t0 + k as f64 / 4.0 * (t1 - t0);
            let py = MT + (1.0 - (yv - y0) / (y1 - y0)) * ph;
            let _ = write!(
                svg,
                r##"<line x1="{ML}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.2}</text>"##,
                ML + pw,
                ML - 4.0,
                py + 4.0,
                yv
            );
        }
        let ticks: Vec<f64> = if self.log_x {
            (x0.ceil() as i32..=x1.floor() as i32)
                .map(f64::from)
                .collect()
        } else {
            (0..=4).map(|k| x0 + k as f64 / 4.0 * (x1 - x0)).collect()
        };
        for t in ticks {
            let px = ML + (t - x0) / (x1 - x0) * pw;
            let label = if self.log_x {
                decade(t as i32)
            } else {
                fmt_value(t)
            };
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{MT}" x2="{px:.1}" y2="{}" stroke="#eee"/><text x="{px:.1}" y="{}" text-anchor="middle">{label}</text>"##,
                MT + ph,
                MT + ph + 14.0
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
            ML + pw / 2.0,
            H - 8.0,
            escape(&self.x_label),
            MT + ph / 2.0,
            MT + ph / 2.0,
            escape(&self.y_label)
        );
    }
}

/// Legend entry `j` at the right of the chart: a marker (or a dashed segment) and the name.
fn legend(svg: &mut String, j: usize, color: &str, name: &str, dashed: bool) {
    let (x, y) = (W - MR + 12.0, MT + 10.0 + 16.0 * j as f64);
    let mark = if dashed {
        format!(
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-dasharray="4 3"/>"#,
            x + 14.0
        )
    } else {
        format!(
            r#"<circle cx="{}" cy="{y}" r="3.5" fill="{color}"/>"#,
            x + 7.0
        )
    };
    let _ = write!(
        svg,
        r#"{mark}<text x="{}" y="{}" fill="{color}">{}</text>"#,
        x + 20.0,
        y + 4.0,
        escape(name)
    );
}

/// `10^e` written out: `0.01`, `1`, `100`, `10k`.
fn decade(e: i32) -> String {
    if e >= 3 {
        format!("{}k", 10u64.pow((e - 3) as u32))
    } else {
        format!("{:.*}", (-e).max(0) as usize, 10f64.powi(e))
    }
}

/// Short tick labels on a linear axis: `1.5k`, `12`, `0.25`.
fn fmt_value(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format!("{:.1}k", x / 1000.0)
    } else if x.abs() >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(log_x: bool) -> Scatter {
        Scatter {
            title: "success <vs> cost".into(),
            x_label: "ms".into(),
            y_label: "success".into(),
            log_x,
            groups: vec![
                Series {
                    name: "a".into(),
                    points: vec![(0.1, 0.5), (10.0, 0.9), (0.0, 0.2)],
                },
                Series {
                    name: "b".into(),
                    points: vec![(1.0, 1.0)],
                },
            ],
            curve: Some(Series {
                name: "front".into(),
                points: vec![(0.1, 0.5), (1.0, 1.0)],
            }),
        }
    }

    #[test]
    fn a_log_axis_leaves_out_non_positive_x_and_marks_every_other_point() {
        let svg = chart(true).render();
        // Markers: 2 of group a (x = 0 left out) + 1 of b + 2 rings of the front + 2 legend dots.
        assert_eq!(svg.matches("<circle").count(), 2 + 1 + 2 + 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
        // Decade ticks 0.1, 1 and 10 are labelled.
        for t in [">0.1<", ">1<", ">10<"] {
            assert!(svg.contains(t), "missing tick {t}");
        }
        assert!(svg.contains("success &lt;vs&gt; cost"));
    }

    #[test]
    fn a_linear_axis_places_every_finite_point() {
        let svg = chart(false).render();
        assert_eq!(svg.matches("<circle").count(), 3 + 1 + 2 + 2);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
