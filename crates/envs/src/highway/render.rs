//! Pictures of `highway`: test episodes and image observations, as PNG written atomically.
//!
//! **Episodes**: one panel per trace, [`PANEL_WIDTH`] px wide, the road [`PX_PER_M_Y`] px per
//! metre high (lane 0 at the top, as in highway-env), above a line of text (progress in m).
//! Horizontally the panel shows `x ∈ [x_start − `[`BEHIND`]`, x_max + `[`AHEAD`]`]` (x_max
//! the farthest ego position) compressed to the panel width. Drawn: grey road with solid edges
//! and dashed lane lines, the ego's path (blue) from its start (green dot) to its final
//! rectangle (blue, red when crashed), and the other cars at the final step (dark grey). The
//! frame is red when any state of the episode is a collision
//! ([`super::HighwayConfig::collided`]), else green — highway has no success rule.
//!
//! **Image observations**: each pixel drawn [`OBS_SCALE`]² px; dark road brightened to white by
//! channel 0 (markings), blue by channel 1 (ego), red by channel 2 (cars); row 0 at the top.

use std::path::Path;

use ami_io::raster::{Canvas, Rgb};

use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::render::{check_trace_states, write_png, FAILURE_FRAME, PAD, PATH, SUCCESS_FRAME};

use super::state::{Traffic, EGO_X};
use super::{observe, HighwayConfig};

/// Panel width (px).
pub const PANEL_WIDTH: usize = 360;
/// Vertical scale of the road (px per m).
pub const PX_PER_M_Y: f32 = 6.0;
/// Road shown behind the start (m).
pub const BEHIND: f32 = 20.0;
/// Road shown ahead of the farthest ego position (m).
pub const AHEAD: f32 = 60.0;
/// Height of the text line under the road (px).
const TEXT_HEIGHT: usize = 12;
/// Length of a dash of the pictures' lane lines (px).
const DASH_PX: usize = 4;
/// Pixels per observation pixel.
pub const OBS_SCALE: usize = 8;

const ROAD: Rgb = [215, 215, 215];
const MARKING: Rgb = [90, 90, 90];
const CAR: Rgb = [60, 60, 60];

fn fill_rect(cv: &mut Canvas, (x0, y0): (f32, f32), (x1, y1): (f32, f32), c: Rgb) {
    for y in y0.round() as i64..(y1.round() as i64).max(y0.round() as i64 + 1) {
        for x in x0.round() as i64..(x1.round() as i64).max(x0.round() as i64 + 1) {
            cv.set(x, y, c);
        }
    }
}

/// Draws the episode panels (module docs).
pub fn render_episodes(
    cfg: &HighwayConfig,
    traces: &[EpisodeTrace],
    cols: usize,
    path: &Path,
) -> Result<(), EnvError> {
    cfg.validate()?;
    check_trace_states(traces, cfg.state_dim(), "(highway state)", path)?;
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let road_h = (cfg.road_width() * PX_PER_M_Y).ceil() as usize;
    let cell_w = PANEL_WIDTH + 2 * PAD;
    let cell_h = road_h + TEXT_HEIGHT + 2 * PAD;
    let mut cv = Canvas::new(cols * cell_w, rows * cell_h);
    for (k, tr) in traces.iter().enumerate() {
        let (ox, oy) = ((k % cols) * cell_w + PAD, (k / cols) * cell_h + PAD);
        let last = tr.path.last().unwrap_or(&tr.start);
        let x_max = tr
            .path
            .iter()
            .map(|s| s[EGO_X])
            .fold(tr.start[EGO_X], f32::max);
        let x_lo = tr.start[EGO_X] - BEHIND;
        let sx = PANEL_WIDTH as f32 / (x_max + AHEAD - x_lo);
        let to_px = |x: f32, y: f32| (ox as f32 + (x - x_lo) * sx, oy as f32 + y * PX_PER_M_Y);
        draw_road(cfg, &mut cv, (ox, oy));
        let pts: Vec<_> = tr.path.iter().map(|s| to_px(s[0], s[1])).collect();
        for w in pts.windows(2) {
            cv.line_dda(w[0], w[1], PATH);
        }
        let t = Traffic::from_state(cfg, last)?;
        let car = |cv: &mut Canvas, x: f32, y: f32, c: Rgb| {
            let (hl, hw) = (cfg.car_length / 2.0, cfg.car_width / 2.0);
            let (a, b) = (to_px(x - hl, y - hw), to_px(x + hl, y + hw));
            if a.0 >= ox as f32 && b.0 <= (ox + PANEL_WIDTH) as f32 {
                fill_rect(cv, a, b, c);
            }
        };
        for c in t.cars.iter().flatten() {
            car(&mut cv, c.x, c.y, CAR);
        }
        let ego_colour = if t.ego.crashed { FAILURE_FRAME } else { PATH };
        car(&mut cv, t.ego.x, t.ego.y, ego_colour);
        let (sx0, sy0) = to_px(tr.start[0], tr.start[1]);
        cv.disc(sx0, sy0, 3.0, SUCCESS_FRAME);
        let collided = tr.path.iter().chain([&tr.start]).any(|s| cfg.collided(s));
        let label = format!(
            "{:.0} M{}",
            last[EGO_X] - tr.start[EGO_X],
            if collided { "  CRASH" } else { "" }
        );
        cv.text(ox as i64, (oy + road_h + 3) as i64, &label, MARKING, 1);
        let fc = if collided {
            FAILURE_FRAME
        } else {
            SUCCESS_FRAME
        };
        let (left, top) = ((k % cols) * cell_w, (k / cols) * cell_h);
        cv.border(left as i64, top as i64, cell_w as i64, cell_h as i64, 2, fc);
    }
    Ok(cv.save(path)?)
}

/// Grey road, solid edges, dashed lane lines ([`DASH_PX`] px on, as many off).
fn draw_road(cfg: &HighwayConfig, cv: &mut Canvas, (ox, oy): (usize, usize)) {
    let road_h = cfg.road_width() * PX_PER_M_Y;
    let (ox, oy) = (ox as f32, oy as f32);
    fill_rect(cv, (ox, oy), (ox + PANEL_WIDTH as f32, oy + road_h), ROAD);
    for yb in [0.0, road_h - 1.0] {
        fill_rect(
            cv,
            (ox, oy + yb),
            (ox + PANEL_WIDTH as f32, oy + yb + 1.0),
            MARKING,
        );
    }
    for k in 1..cfg.lanes {
        let yb = oy + k as f32 * cfg.lane_width * PX_PER_M_Y;
        for px in 0..PANEL_WIDTH {
            if px % (2 * DASH_PX) < DASH_PX {
                cv.set((ox as usize + px) as i64, yb as i64, MARKING);
            }
        }
    }
}

/// Renders an image observation `[3, image_height, image_width]` (module docs).
pub fn render_observation_png(
    cfg: &HighwayConfig,
    obs: &[f32],
    path: &Path,
) -> Result<(), EnvError> {
    let (h, w) = (cfg.image_height, cfg.image_width);
    if obs.len() != observe::CHANNELS * h * w {
        return Err(EnvError::bad(
            path,
            format!("observation has {} values, expected 3·{h}·{w}", obs.len()),
        ));
    }
    let (sw, sh) = (w * OBS_SCALE, h * OBS_SCALE);
    let mut rgb = vec![0u8; 3 * sw * sh];
    for py in 0..sh {
        for px in 0..sw {
            let (i, j) = (py / OBS_SCALE, px / OBS_SCALE);
            let v = |c: usize| obs[c * h * w + i * w + j].clamp(0.0, 1.0);
            let (mark, ego, cars) = (v(0), v(1), v(2));
            let base = 70.0 + 185.0 * mark;
            let r = base * (1.0 - ego) * (1.0 - cars) + 40.0 * ego + 220.0 * cars;
            let g = base * (1.0 - ego) * (1.0 - cars) + 90.0 * ego + 40.0 * cars;
            let b = base * (1.0 - ego) * (1.0 - cars) + 220.0 * ego + 40.0 * cars;
            let k = 3 * (py * sw + px);
            rgb[k] = r.min(255.0) as u8;
            rgb[k + 1] = g.min(255.0) as u8;
            rgb[k + 2] = b.min(255.0) as u8;
        }
    }
    Ok(write_png(path, sw, sh, &rgb)?)
}
