//! PNG pictures of test episodes: walls, start (green), goal (red, with the 4.5 px success
//! ring), executed path (blue); a green frame for a success, red for a failure.
//!
//! Panels are `size·SCALE` px square (192 for the default arena) plus [`PAD`] px of margin on
//! each side; panel `k` is at column `k % cols`, row `k / cols`. Image row 0 is the top of the
//! arena (`y = size`); arena point `(x, y)` maps to panel pixel `(x·SCALE, (size − y)·SCALE)`.
//! The frame colour is the trace's `success` flag (the headline rule of the episode loop).

use std::path::Path;

pub use ami_io::write_png;

use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::two_rooms::TwoRoomsConfig;

/// Pixels per arena px in the episode panels.
pub const SCALE: usize = 3;
/// Colour of obstacles (dark grey).
pub const OBSTACLE: [u8; 3] = [70, 70, 70];
/// Colour of free space.
pub const FREE: [u8; 3] = [255, 255, 255];
/// White margin around each panel, inside its frame (px).
pub const PAD: usize = 6;

/// An RGB8 raster with the drawing primitives of the episode pictures.
pub(crate) struct Canvas {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<u8>,
}

/// Frame colour of a solved episode.
pub(crate) const SUCCESS_FRAME: [u8; 3] = [30, 160, 60];
/// Frame colour of a failed episode.
pub(crate) const FAILURE_FRAME: [u8; 3] = [200, 40, 40];
/// Colour of an executed path.
pub(crate) const PATH: [u8; 3] = [30, 90, 220];

impl Canvas {
    /// A `cols × rows` grid of square cells of side `cell`, filled with [`FREE`].
    pub fn grid(cols: usize, rows: usize, cell: usize) -> Self {
        Canvas {
            w: cols * cell,
            h: rows * cell,
            rgb: FREE.repeat(cols * cell * rows * cell),
        }
    }

    /// A `frame`-px border of colour `c` around grid cell `k` (of `cols` columns, side `cell`).
    pub fn frame(&mut self, k: usize, cols: usize, cell: usize, frame: usize, c: [u8; 3]) {
        for f in 0..frame {
            for i in 0..cell - 2 * f {
                let (x0, y0) = ((k % cols) * cell + f, (k / cols) * cell + f);
                let e = cell - 1 - 2 * f;
                self.put((x0 + i) as i64, y0 as i64, c);
                self.put((x0 + i) as i64, (y0 + e) as i64, c);
                self.put(x0 as i64, (y0 + i) as i64, c);
                self.put((x0 + e) as i64, (y0 + i) as i64, c);
            }
        }
    }

    /// Writes the canvas as a PNG, atomically.
    pub fn save(&self, path: &Path) -> Result<(), EnvError> {
        Ok(write_png(path, self.w, self.h, &self.rgb)?)
    }

    pub fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = 3 * (y as usize * self.w + x as usize);
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    pub fn disc(&mut self, cx: f32, cy: f32, r: f32, c: [u8; 3]) {
        let ri = r.ceil() as i64;
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                if ((dx * dx + dy * dy) as f32) <= r * r {
                    self.put(cx as i64 + dx, cy as i64 + dy, c);
                }
            }
        }
    }

    pub fn ring(&mut self, cx: f32, cy: f32, r: f32, c: [u8; 3]) {
        for k in 0..720 {
            let a = k as f32 * std::f32::consts::PI / 360.0;
            self.put((cx + r * a.cos()) as i64, (cy + r * a.sin()) as i64, c);
        }
    }

    pub fn line(&mut self, a: (f32, f32), b: (f32, f32), c: [u8; 3]) {
        let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f32 / n as f32;
            self.put(
                (a.0 + t * (b.0 - a.0)) as i64,
                (a.1 + t * (b.1 - a.1)) as i64,
                c,
            );
        }
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
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let panel = (cfg.size as usize) * SCALE;
    let (pad, frame) = (PAD, 2usize);
    let cell = panel + 2 * pad;
    let positions = traces
        .iter()
        .flat_map(|t| t.path.iter().chain([&t.start, &t.goal]));
    if let Some(bad) = positions.clone().find(|p| p.len() != 2) {
        return Err(EnvError::bad(
            path,
            format!(
                "a two-rooms episode state has {} values, expected 2 (x, y)",
                bad.len()
            ),
        ));
    }
    let mut cv = Canvas::grid(cols, rows, cell);
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
                    cv.put((ox + px) as i64, (oy + py) as i64, OBSTACLE);
                }
            }
        }
        let fc = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        cv.frame(k, cols, cell, frame, fc);
        for w in tr.path.windows(2) {
            cv.line(to_px(&w[0]), to_px(&w[1]), PATH);
        }
        let (gx, gy) = to_px(&tr.goal);
        cv.ring(gx, gy, 4.5 * SCALE as f32, FAILURE_FRAME);
        cv.disc(gx, gy, 4.0, FAILURE_FRAME);
        let (sx, sy) = to_px(&tr.start);
        cv.disc(sx, sy, 4.0, SUCCESS_FRAME);
    }
    cv.save(path)
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
