//! PNG pictures of maze episodes: one panel per trace with the walls of the trace's layout
//! (dark grey), the sub-goals of the shortest room path from the start's room to the goal's
//! room — the door centres, [`super::Arena::door_waypoints`] — as purple dots joined by a
//! purple line from the start to the goal, the sub-goals a hierarchical agent set itself
//! ([`EpisodeTrace::subgoals`], orange dots), the executed path (blue), the start (green) and
//! the goal (red, with its success ring); a green frame for a success, red for a failure.
//!
//! Panels are `extent·`[`SCALE`] px plus [`PAD`] px of margin on each side; panel `k` is at
//! column `k % cols`, row `k / cols`. Image row 0 is the top of the arena; arena point
//! `(x, y)` maps to panel pixel `(x·SCALE, (height − y)·SCALE)`.

use std::path::Path;

use ami_io::raster::{Canvas, Rgb};

use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::render::{
    check_trace_states, frame_cell, FAILURE_FRAME, OBSTACLE, PAD, PATH, SUCCESS_FRAME,
};

use super::MazeConfig;

/// Pixels per arena px.
pub const SCALE: usize = 2;
/// Colour of the sub-goal path.
const SUBGOAL: Rgb = [150, 60, 200];
/// Colour of the agent's own sub-goals.
const AGENT_SUBGOAL: Rgb = [240, 140, 20];

/// Draws the episode panels (module docs) and writes the PNG atomically.
pub fn render_episodes(
    cfg: &MazeConfig,
    traces: &[EpisodeTrace],
    cols: usize,
    path: &Path,
) -> Result<(), EnvError> {
    cfg.validate()?;
    check_trace_states(traces, 3, "(x, y, layout)", path)?;
    let cols = cols.clamp(1, traces.len().max(1));
    let rows = traces.len().div_ceil(cols).max(1);
    let [cw, ch] = cfg.arena(cfg.layout)?.extent();
    let (pw, ph) = ((cw as usize) * SCALE, (ch as usize) * SCALE);
    let cell = pw.max(ph) + 2 * PAD;
    let mut cv = Canvas::new(cols * cell, rows * cell);
    for (k, tr) in traces.iter().enumerate() {
        let layout = tr.start[2];
        if !(layout >= 0.0 && layout.fract() == 0.0 && (layout as usize) < cfg.layouts) {
            return Err(EnvError::bad(
                path,
                format!(
                    "episode {k} starts in layout {layout}, not an id in 0..{}",
                    cfg.layouts
                ),
            ));
        }
        let arena = cfg.arena(layout as usize)?;
        let (ox, oy) = ((k % cols) * cell + PAD, (k / cols) * cell + PAD);
        let to_px = |p: &[f32]| {
            (
                ox as f32 + p[0] * SCALE as f32,
                oy as f32 + (ch - p[1]) * SCALE as f32,
            )
        };
        for py in 0..ph {
            for px in 0..pw {
                let p = [
                    (px as f32 + 0.5) / SCALE as f32,
                    ch - (py as f32 + 0.5) / SCALE as f32,
                ];
                if arena.obstacles().iter().any(|r| r.contains(p)) {
                    cv.set((ox + px) as i64, (oy + py) as i64, OBSTACLE);
                }
            }
        }
        let (s, g) = ([tr.start[0], tr.start[1]], [tr.goal[0], tr.goal[1]]);
        if let Some(ways) = arena.door_waypoints(s, g) {
            let mut pts = vec![to_px(&s)];
            pts.extend(ways.iter().map(|w| to_px(w)));
            pts.push(to_px(&g));
            for w in pts.windows(2) {
                cv.line_dda(w[0], w[1], SUBGOAL);
            }
            for &(x, y) in &pts[1..pts.len() - 1] {
                cv.disc(x, y, 3.0, SUBGOAL);
            }
        }
        for w in tr.path.windows(2) {
            cv.line_dda(to_px(&w[0]), to_px(&w[1]), PATH);
        }
        for sg in tr.subgoals.iter().filter(|sg| sg.len() >= 2) {
            let (x, y) = to_px(sg);
            cv.disc(x, y, 1.5, AGENT_SUBGOAL);
        }
        let fc = if tr.success {
            SUCCESS_FRAME
        } else {
            FAILURE_FRAME
        };
        frame_cell(&mut cv, k, cols, cell, 2, fc);
        let (gx, gy) = to_px(&g);
        cv.ring(gx, gy, cfg.success_radius * SCALE as f32, FAILURE_FRAME);
        cv.disc(gx, gy, 3.0, FAILURE_FRAME);
        let (sx, sy) = to_px(&s);
        cv.disc(sx, sy, 3.0, SUCCESS_FRAME);
    }
    Ok(cv.save(path)?)
}
