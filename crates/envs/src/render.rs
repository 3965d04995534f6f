//! PNG pictures of test episodes: walls, hazards (light orange), start (green), goal (red,
//! with the 4.5 px success ring), executed path (blue); a green frame for a success, red for a failure.
//!
//! Panels are `size·SCALE` px square (192 for the default arena) plus [`PAD`] px of margin on
//! each side; panel `k` is at column `k % cols`, row `k / cols`. Image row 0 is the top of the
//! arena (`y = size`); arena point `(x, y)` maps to panel pixel `(x·SCALE, (size − y)·SCALE)`.
//! The frame colour is the trace's `success` flag (the headline rule of the episode loop).

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
        let (ox, oy) = ((k % cols) * cell + PAD, (k / cols) * cell + PAD);
        let to_px = |s: &[f32], t: usize| {
            let (dx, dy) = offset(s, t);
            (ox as f32 + dx, oy as f32 + dy)
        };
        let frame = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        frame_cell(&mut cv, k, cols, cell, 2, frame);
        for (t, w) in tr.path.windows(2).enumerate() {
            if joined(&w[0], &w[1], t) {
                cv.line_dda(to_px(&w[0], t), to_px(&w[1], t + 1), PATH);
            }
        }
        let (gx, gy) = to_px(&tr.goal, tr.path.len());
        cv.disc(gx, gy, 4.0, FAILURE_FRAME);
        let (sx, sy) = to_px(&tr.start, 0);
        cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
    }
    Ok(cv.save(path)?)
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
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let panel = (cfg.size as usize) * SCALE;
    let (pad, frame) = (PAD, 2usize);
    let cell = panel + 2 * pad;
    check_trace_states(traces, 2, "(x, y)", path)?;
    let mut cv = cell_grid(cols, rows, cell);
    let obstacles = cfg.obstacles();
    for (k, tr) in traces.iter().enumerate() {
        let (ox, oy) = ((k % cols) * cell + pad, (k / cols) * cell + pad);
        let to_px = |p: &[f32]| {
            (
                ox as f32 + p[0] * SCALE as f32,
                oy as f32 + (cfg.size - p[1]) * SCALE as f32,
            )
        };
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
        let fc = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        frame_cell(&mut cv, k, cols, cell, frame, fc);
        for w in tr.path.windows(2) {
            cv.line_dda(to_px(&w[0]), to_px(&w[1]), PATH);
        }
        let (gx, gy) = to_px(&tr.goal);
        cv.ring(gx, gy, 4.5 * SCALE as f32, FAILURE_FRAME);
        cv.disc(gx, gy, 4.0, FAILURE_FRAME);
        let (sx, sy) = to_px(&tr.start);
        cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
    }
    Ok(cv.save(path)?)
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
