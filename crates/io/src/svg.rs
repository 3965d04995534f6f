//! Minimal SVG line charts (no plotting dependency): one panel per series group, linear or log
//! y axis, tick labels, legend.

use std::fmt::Write as _;

/// One named curve `(x, y)`.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// One chart panel.
pub struct Panel {
    /// Title shown above the panel.
    pub title: String,
    /// Curves drawn in the panel.
    pub series: Vec<Series>,
    /// Logarithmic y axis (non-positive values are skipped).
    pub log_y: bool,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 520.0;
const H: f64 = 300.0;
const ML: f64 = 62.0;
const MR: f64 = 150.0;
const MT: f64 = 30.0;
const MB: f64 = 36.0;

/// Renders panels in a grid of `cols` columns and returns the SVG document.
pub fn render(panels: &[Panel], cols: usize, x_label: &str) -> String {
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#,
        W * cols as f64,
        H * rows as f64
    );
    for (i, p) in panels.iter().enumerate() {
        let (ox, oy) = ((i % cols) as f64 * W, (i / cols) as f64 * H);
        panel(&mut svg, p, ox, oy, x_label);
    }
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, p: &Panel, ox: f64, oy: f64, x_label: &str) {
    let tf = |y: f64| if p.log_y { y.log10() } else { y };
    let pts = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!p.log_y || *y > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(tf(*y));
        y1 = y1.max(tf(*y));
    }
    if x0 > x1 {
        return;
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let (pw, ph) = (W - ML - MR, H - MT - MB);
    let sx = |x: f64| ox + ML + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| oy + MT + (1.0 - (tf(y) - y0) / (y1 - y0)) * ph;
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="13" font-weight="bold">{}</text><rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##,
        ox + ML,
        oy + 18.0,
        escape(&p.title),
        ox + ML,
        oy + MT
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let yv = y0 + f * (y1 - y0);
        let label = if p.log_y {
            format!("{:.2e}", 10f64.powf(yv))
        } else {
            format!("{yv:.3}")
        };
        let py = oy + MT + (1.0 - f) * ph;
        let _ = write!(
            svg,
            r##"<line x1="{}" y1="{py}" x2="{}" y2="{py}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{label}</text>"##,
            ox + ML,
            ox + ML + pw,
            ox + ML - 4.0,
            py + 4.0
        );
        let xv = x0 + f * (x1 - x0);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            ox + ML + f * pw,
            oy + MT + ph + 14.0,
            fmt_x(xv)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        ox + ML + pw / 2.0,
        oy + H - 6.0,
        escape(x_label)
    );
    for (j, s) in p.series.iter().enumerate() {
        let c = COLORS[j % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!p.log_y || *y > 0.0))
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{c}">{}</text>"#,
            path.join(" "),
            ox + ML + pw + 8.0,
            oy + MT + 12.0 + 14.0 * j as f64,
            escape(&s.name)
        );
    }
}

fn fmt_x(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format!("{:.1}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

/// `s` with `&`, `<` and `>` escaped for SVG text (shared with [`crate::scatter`]).
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_one_polyline_per_series_and_escapes_titles() {
        let panels = vec![Panel {
            title: "loss <total>".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    points: vec![(0.0, 1.0), (1.0, 0.5)],
                },
                Series {
                    name: "b".into(),
                    points: vec![(0.0, 2.0), (1.0, 0.1)],
                },
            ],
            log_y: true,
        }];
        let svg = render(&panels, 1, "step");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("loss &lt;total&gt;"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
