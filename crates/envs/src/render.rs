//! PNG pictures of test episodes: walls, hazards (light orange), start (green), goal (red,
//! with the 4.5 px success ring), executed path (blue); a green frame for a success, red for a failure.
//!
//! Panels are `size·SCALE` px square (192 for the default arena) plus [`PAD`] px of margin on
//! each side; panel `k` is at column `k % cols`, row `k / cols`. Image row 0 is the top of the
//! arena (`y = size`); arena point `(x, y)` maps to panel pixel `(x·SCALE, (size − y)·SCALE)`.
//! The frame colour is the trace's `success` flag (the headline rule of the episode loop).
//!
//! Video frames ([`render_video_frame`]) are one such panel per state of an episode, with the
//! agent and the plan it imagined at that state drawn over it.

use std::path::Path;

use ami_io::raster::{Canvas, Rgb, WHITE};
pub use ami_io::write_png;

use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::two_rooms::TwoRoomsConfig;

/// Pixels per arena px in the episode panels.
pub const SCALE: usize = 3;
/// Colour of obstacles (dark grey).
pub const OBSTACLE: [u8; 3] = [70, 70, 70];
/// Colour of hazards (light orange).
pub const HAZARD: [u8; 3] = [250, 200, 150];
/// Colour of free space.
pub const FREE: [u8; 3] = WHITE;
/// White margin around each panel, inside its frame (px).
pub const PAD: usize = 6;

/// Frame colour of a solved episode.
pub(crate) const SUCCESS_FRAME: [u8; 3] = [30, 160, 60];
/// Frame colour of a failed episode.
pub(crate) const FAILURE_FRAME: [u8; 3] = [200, 40, 40];
/// Colour of an executed path.
pub(crate) const PATH: [u8; 3] = [30, 90, 220];

/// A white canvas of `cols × rows` square cells of side `cell` (white is [`FREE`]).
pub(crate) fn cell_grid(cols: usize, rows: usize, cell: usize) -> Canvas {
    Canvas::new(cols * cell, rows * cell)
}

/// A `frame`-px border of colour `c` inside grid cell `k` (of `cols` columns, side `cell`).
pub(crate) fn frame_cell(
    cv: &mut Canvas,
    k: usize,
    cols: usize,
    cell: usize,
    frame: usize,
    c: Rgb,
) {
    let (left, top) = ((k % cols) * cell, (k / cols) * cell);
    let (left, top, cell) = (left as i64, top as i64, cell as i64);
    cv.border(left, top, cell, cell, frame as i64, c);
}

/// Side of one state-plot panel of [`render_state_panels`] (px).
pub(crate) const PANEL: usize = 192;

/// Draws each trace in its own [`PANEL`]-px panel of a grid of `cols` columns and writes a
/// PNG atomically: `offset(s, t)` is the pixel position inside the panel of state `s` at
/// index `t` of its trace (the start is index 0, the goal index `path.len()`); the path is
/// blue between consecutive states `a, b` (indices `t, t + 1`) where `joined(a, b, t)` (false
/// across the ±π seam of a wrapped angle); the goal is red, the start green, the frame green
/// for a success and red for a failure.
pub(crate) fn render_state_panels(
    traces: &[EpisodeTrace],
    cols: usize,
    path: &Path,
    offset: impl Fn(&[f32], usize) -> (f32, f32),
    joined: impl Fn(&[f32], &[f32], usize) -> bool,
) -> Result<(), EnvError> {
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let cell = PANEL + 2 * PAD;
    let mut cv = cell_grid(cols, rows, cell);
    for (k, tr) in traces.iter().enumerate() {
        let origin = ((k % cols) * cell + PAD, (k / cols) * cell + PAD);
        let frame = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        frame_cell(&mut cv, k, cols, cell, 2, frame);
        draw_state_trace(&mut cv, origin, tr, tr.path.len(), &offset, &joined);
    }
    Ok(cv.save(path)?)
}

/// Frame `t` of a video of `trace` on one state-plot panel (the mapping of
/// [`render_state_panels`]): the path through state `t`, goal and start, the plan imagined
/// there (`imagined`: states along the plan, the current one first, index `t + k` for the
/// `k`-th) as an [`IMAGINED`] dotted path, the agent at `path[t]`; the frame grey while the
/// episode runs, green or red on its last state.
pub(crate) fn state_video_frame(
    trace: &EpisodeTrace,
    t: usize,
    imagined: &[Vec<f32>],
    offset: impl Fn(&[f32], usize) -> (f32, f32),
    joined: impl Fn(&[f32], &[f32], usize) -> bool,
) -> Canvas {
    let t = t.min(trace.path.len().saturating_sub(1));
    let cell = PANEL + 2 * PAD;
    let mut cv = cell_grid(1, 1, cell);
    frame_cell(&mut cv, 0, 1, cell, 2, frame_colour(trace, t));
    draw_state_trace(&mut cv, (PAD, PAD), trace, t + 1, &offset, &joined);
    let to_px = |s: &[f32], i: usize| {
        let (dx, dy) = offset(s, i);
        (PAD as f32 + dx, PAD as f32 + dy)
    };
    let points: Vec<(f32, f32)> = imagined
        .iter()
        .enumerate()
        .map(|(k, s)| to_px(s, t + k))
        .collect();
    draw_imagined(&mut cv, &points, 1.0);
    if let Some(s) = trace.path.get(t) {
        let (x, y) = to_px(s, t);
        cv.disc(x, y, 4.0, AGENT);
    }
    cv
}

/// One state-plot trace at `origin`: the path through its first `shown` states (blue where
/// `joined`), the goal (red) and the start (green).
fn draw_state_trace(
    cv: &mut Canvas,
    (ox, oy): (usize, usize),
    tr: &EpisodeTrace,
    shown: usize,
    offset: &impl Fn(&[f32], usize) -> (f32, f32),
    joined: &impl Fn(&[f32], &[f32], usize) -> bool,
) {
    let to_px = |s: &[f32], t: usize| {
        let (dx, dy) = offset(s, t);
        (ox as f32 + dx, oy as f32 + dy)
    };
    let path = &tr.path[..shown.min(tr.path.len())];
    for (t, w) in path.windows(2).enumerate() {
        if joined(&w[0], &w[1], t) {
            cv.line_dda(to_px(&w[0], t), to_px(&w[1], t + 1), PATH);
        }
    }
    let (gx, gy) = to_px(&tr.goal, tr.path.len());
    cv.disc(gx, gy, 4.0, FAILURE_FRAME);
    let (sx, sy) = to_px(&tr.start, 0);
    cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
}

/// The border of a video frame at state `t` of `trace`: grey while it runs, green or red on
/// its last state.
fn frame_colour(trace: &EpisodeTrace, t: usize) -> Rgb {
    match (t + 1 == trace.path.len(), trace.success) {
        (false, _) => RUNNING_FRAME,
        (true, true) => SUCCESS_FRAME,
        (true, false) => FAILURE_FRAME,
    }
}

/// An imagined path through the pixel `points`: a 3×3 [`IMAGINED`] dot at each, single
/// pixels every `spacing` px between consecutive ones.
fn draw_imagined(cv: &mut Canvas, points: &[(f32, f32)], spacing: f32) {
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let n = (len / spacing).floor() as usize;
        for k in 1..n {
            let f = k as f32 / n as f32;
            cv.set(
                (a.0 + f * (b.0 - a.0)) as i64,
                (a.1 + f * (b.1 - a.1)) as i64,
                IMAGINED,
            );
        }
    }
    for &(x, y) in points {
        cv.dot(x as i64, y as i64, 1, IMAGINED);
    }
}

/// Draws up to all `traces` in a grid of `cols` columns and writes a PNG atomically.
/// Image row 0 is the top of the arena (y = size).
pub fn render_episodes_png(
    cfg: &TwoRoomsConfig,
    traces: &[EpisodeTrace],
    cols: usize,
    path: &Path,
) -> Result<(), EnvError> {
    cfg.validate()?;
    check_trace_states(traces, 2, "(x, y)", path)?;
    render_episodes_png_with(traces, cols, path, &|_| Ok(cfg.clone()))
}

/// [`render_episodes_png`] with each episode drawn in its own geometry `geometry(trace)`
/// (`random-wall`: the layout of the episode's start state). States are read as `(x, y, …)`;
/// the caller checks their length. The panels take the size of the first geometry (all of
/// one arena size).
pub fn render_episodes_png_with(
    traces: &[EpisodeTrace],
    cols: usize,
    path: &Path,
    geometry: &dyn Fn(&EpisodeTrace) -> Result<TwoRoomsConfig, EnvError>,
) -> Result<(), EnvError> {
    let geometries = traces
        .iter()
        .map(|tr| {
            let g = geometry(tr)?;
            g.validate()?;
            Ok(g)
        })
        .collect::<Result<Vec<_>, EnvError>>()?;
    let size = geometries.first().map_or(64.0, |g| g.size);
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let (pad, frame) = (PAD, 2usize);
    let cell = (size as usize) * SCALE + 2 * pad;
    let mut cv = cell_grid(cols, rows, cell);
    for (k, (tr, cfg)) in traces.iter().zip(&geometries).enumerate() {
        let (ox, oy) = ((k % cols) * cell + pad, (k / cols) * cell + pad);
        let fc = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        frame_cell(&mut cv, k, cols, cell, frame, fc);
        draw_episode(&mut cv, cfg, (ox, oy), tr, tr.path.len());
    }
    Ok(cv.save(path)?)
}

/// The pixel of arena point `p = (x, y)` in the panel whose top-left pixel is `(ox, oy)`.
fn arena_px(cfg: &TwoRoomsConfig, (ox, oy): (usize, usize), p: &[f32]) -> (f32, f32) {
    (
        ox as f32 + p[0] * SCALE as f32,
        oy as f32 + (cfg.size - p[1]) * SCALE as f32,
    )
}

/// One episode panel at `origin`: walls, hazards, the executed path through its first
/// `shown` states, the goal with its success ring, and the start.
fn draw_episode(
    cv: &mut Canvas,
    cfg: &TwoRoomsConfig,
    origin: (usize, usize),
    tr: &EpisodeTrace,
    shown: usize,
) {
    let panel = (cfg.size as usize) * SCALE;
    let obstacles = cfg.obstacles();
    let (ox, oy) = origin;
    for py in 0..panel {
        for px in 0..panel {
            let p = [
                (px as f32 + 0.5) / SCALE as f32,
                cfg.size - (py as f32 + 0.5) / SCALE as f32,
            ];
            if obstacles.iter().any(|r| r.contains(p)) {
                cv.set((ox + px) as i64, (oy + py) as i64, OBSTACLE);
            } else if cfg.in_hazard(p) {
                cv.set((ox + px) as i64, (oy + py) as i64, HAZARD);
            }
        }
    }
    let to_px = |p: &[f32]| arena_px(cfg, origin, p);
    for w in tr.path[..shown.min(tr.path.len())].windows(2) {
        cv.line_dda(to_px(&w[0]), to_px(&w[1]), PATH);
    }
    let (gx, gy) = to_px(&tr.goal);
    cv.ring(gx, gy, 4.5 * SCALE as f32, FAILURE_FRAME);
    cv.disc(gx, gy, 4.0, FAILURE_FRAME);
    let (sx, sy) = to_px(&tr.start);
    cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
}

/// Colour of the agent in video frames (dark blue).
pub const AGENT: [u8; 3] = [10, 20, 120];
/// Colour of the imagined plan in video frames (purple).
pub const IMAGINED: [u8; 3] = [160, 40, 200];
/// Frame colour of a video frame before the episode's last (grey).
pub(crate) const RUNNING_FRAME: [u8; 3] = [150, 150, 150];
/// Arena px between two dots of an imagined path's dotted segments.
const DOT_SPACING: f32 = 1.0;

/// Frame `t` of an episode video: the panel of [`render_episodes_png`] (one cell, same
/// layout and colours) with the path executed up to state `t`, the imagined plan as a dotted
/// [`IMAGINED`] path (a 3×3 dot at each of its points, single pixels every [`DOT_SPACING`]
/// arena px between them), and the agent at state `path[t]` as an [`AGENT`] disc of radius
/// 4 px drawn last. The frame is grey until the last state, then green for a success, red for
/// a failure. `imagined` holds `(x, y)` points (others are skipped).
pub fn render_video_frame(
    cfg: &TwoRoomsConfig,
    trace: &EpisodeTrace,
    t: usize,
    imagined: &[Vec<f32>],
) -> Result<Canvas, EnvError> {
    cfg.validate()?;
    let cell = (cfg.size as usize) * SCALE + 2 * PAD;
    check_trace_states(
        std::slice::from_ref(trace),
        2,
        "(x, y)",
        Path::new("video frame"),
    )?;
    let t = t.min(trace.path.len().saturating_sub(1));
    let mut cv = cell_grid(1, 1, cell);
    frame_cell(&mut cv, 0, 1, cell, 2, frame_colour(trace, t));
    let origin = (PAD, PAD);
    draw_episode(&mut cv, cfg, origin, trace, t + 1);
    let to_px = |p: &[f32]| arena_px(cfg, origin, p);
    let points: Vec<(f32, f32)> = imagined
        .iter()
        .filter(|p| p.len() == 2)
        .map(|p| to_px(p))
        .collect();
    draw_imagined(&mut cv, &points, DOT_SPACING * SCALE as f32);
    if let Some(s) = trace.path.get(t) {
        let (x, y) = to_px(s);
        cv.disc(x, y, 4.0, AGENT);
    }
    Ok(cv)
}

/// Checks that every state of `traces` (start, goal, path) has `dim` values; the error names
/// the picture's `path` and what a state should be (`what`, e.g. `(x, y)`).
pub(crate) fn check_trace_states(
    traces: &[EpisodeTrace],
    dim: usize,
    what: &str,
    path: &Path,
) -> Result<(), EnvError> {
    let states = traces
        .iter()
        .flat_map(|t| t.path.iter().chain([&t.start, &t.goal]));
    match states.clone().find(|s| s.len() != dim) {
        Some(bad) => Err(EnvError::bad(
            path,
            format!(
                "an episode state has {} values, expected {dim} {what}",
                bad.len()
            ),
        )),
        None => Ok(()),
    }
}

/// Renders an image observation `[2, res, res]` as a `res × res` PNG: white background, channel
/// 1 (obstacles) darkens to grey, channel 0 (agent) blends to red; image row 0 is `y = size`.
pub fn render_observation_png(
    cfg: &TwoRoomsConfig,
    obs: &[f32],
    path: &Path,
) -> Result<(), EnvError> {
    let r = cfg.image_res;
    if obs.len() != 2 * r * r {
        return Err(EnvError::bad(
            path,
            format!("observation has {} values, expected 2·{r}·{r}", obs.len()),
        ));
    }
    let mut rgb = vec![255u8; 3 * r * r];
    for i in 0..r {
        for j in 0..r {
            let (agent, wall) = (
                obs[i * r + j].clamp(0.0, 1.0),
                obs[r * r + i * r + j].clamp(0.0, 1.0),
            );
            let row = r - 1 - i; // image row 0 = top (y = size)
            let k = 3 * (row * r + j);
            let g = (255.0 * (1.0 - 0.7 * wall)) as u8;
            rgb[k] = g.max((255.0 * agent) as u8);
            rgb[k + 1] = (g as f32 * (1.0 - agent)) as u8;
            rgb[k + 2] = (g as f32 * (1.0 - agent)) as u8;
        }
    }
    Ok(write_png(path, r, r, &rgb)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(cv: &Canvas, x: usize, y: usize) -> [u8; 3] {
        let i = (y * cv.width() + x) * 3;
        cv.pixels()[i..i + 3].try_into().unwrap()
    }

    /// A trace along the diagonal of a 1-D-per-axis plot: state `(t, t)` at step `t`.
    fn diagonal(steps: usize, success: bool) -> EpisodeTrace {
        EpisodeTrace {
            start: vec![0.0, 0.0],
            goal: vec![steps as f32, steps as f32],
            path: (0..=steps).map(|t| vec![t as f32, t as f32]).collect(),
            success,
            subgoals: vec![],
        }
    }

    #[test]
    fn a_state_video_frame_draws_the_path_so_far_the_agent_and_the_imagined_plan() {
        let tr = diagonal(4, true);
        // 10 px per unit, y up.
        let offset = |s: &[f32], _t: usize| (10.0 * s[0], 100.0 - 10.0 * s[1]);
        let joined = |_: &[f32], _: &[f32], _t: usize| true;
        let imagined = vec![vec![2.0, 2.0], vec![2.0, 6.0]];
        let cv = state_video_frame(&tr, 2, &imagined, offset, joined);
        assert_eq!(
            (cv.width(), cv.height()),
            (PANEL + 2 * PAD, PANEL + 2 * PAD)
        );
        let at = |x: f32, y: f32| px(&cv, PAD + x as usize, PAD + y as usize);
        // The agent at state 2, (20, 80); the path from the start to it, not beyond.
        assert_eq!(at(20.0, 80.0), AGENT);
        assert_eq!(at(10.0, 90.0), PATH);
        assert_eq!(at(30.0, 70.0), WHITE);
        // The plan's dotted line goes up from the agent to (2, 6) → (20, 40), ending in a dot.
        assert_eq!(at(20.0, 60.0), IMAGINED);
        assert_eq!(at(20.0, 40.0), IMAGINED);
        // Goal red, start green; the frame is grey while the episode runs ...
        assert_eq!(at(40.0, 60.0), FAILURE_FRAME);
        assert_eq!(at(0.0, 100.0), SUCCESS_FRAME);
        assert_eq!(px(&cv, 0, 0), RUNNING_FRAME);
        // ... and green or red on the last state.
        let last = state_video_frame(&tr, 4, &[], offset, joined);
        assert_eq!(px(&last, 0, 0), SUCCESS_FRAME);
        let failed = state_video_frame(&diagonal(4, false), 9, &[], offset, joined);
        assert_eq!(px(&failed, 0, 0), FAILURE_FRAME);
        assert_eq!(
            px(&failed, PAD + 40, PAD + 60),
            AGENT,
            "t clamped to the last state"
        );
    }
}
