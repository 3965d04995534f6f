//! Observations of `highway`; both are functions of the true state only
//! ([`crate::Env::observe_state`] works for any state).
//!
//! # `obs = "state"`: ego-centric kinematics, `[6 + 5·observed_cars]`
//! Ego: `[y/road_width, v/ego_speed_max, v_y/lateral_speed_max, crashed, y*/road_width,
//! v*/ego_speed_max]` (`y*`, `v*` the controller's target lane centre and target speed; in
//! continuous mode the current lane's centre and v). Then `observed_cars` slots for the
//! present cars nearest to the ego (Euclidean distance of centres; ties by slot), nearest
//! first: `[1, Δx/window_ahead, Δy/road_width, Δv/ego_speed_max, v_y/lateral_speed_max]`
//! with `Δ = car − ego` and `v_y ∈ {−1, 0, 1}·lateral_speed_max` the car's lateral velocity
//! (its lane change, the visible sign of a cut-in); missing cars give all-zero slots (presence
//! 0). Driver modes and desired speeds are hidden.
//!
//! # `obs = "image"`: top-down picture, `[3, image_height, image_width]`, values in `[0, 1]`
//! Centred on the ego along the road, whole road across it: column j covers `x − x_ego ∈
//! [−view_behind + j·m_x, −view_behind + (j+1)·m_x]` with `m_x = (view_behind +
//! view_ahead)/image_width` m per px (2.5 by default: 30 m behind, 70 m ahead); row i covers
//! `y ∈ [i·m_y, (i+1)·m_y]` with `m_y = road_width/image_height` (1 m per px; row 0 is the
//! left road edge, lane 0). Pixels are area-antialiased, so sub-pixel positions are readable:
//! * channel 0 — road markings: solid edges and dashed lane lines ([`DASH_LENGTH`] m dashes
//!   every [`DASH_PERIOD`] m, fixed on the road, so they scroll with the ego's motion),
//!   [`MARK_WIDTH`] m wide; value = (fraction of the pixel's length covered) × (fraction of the
//!   mark's width inside the row), so a mark crossing a pixel gives 1;
//! * channel 1 — the ego's rectangle, value = fraction of the pixel's area it covers;
//! * channel 2 — the other cars, the same, summed and clipped to 1.

use super::state::Traffic;
use super::HighwayConfig;
use crate::two_rooms::ObsKind;

/// Ego values of the kinematics observation.
pub const EGO_FEATURES: usize = 6;
/// Values per car slot of the kinematics observation.
pub const CAR_FEATURES: usize = 5;
/// Channels of the image observation.
pub const CHANNELS: usize = 3;
/// Width of a painted road marking (m).
pub const MARK_WIDTH: f32 = 0.3;
/// Length of a lane-line dash (m).
pub const DASH_LENGTH: f32 = 3.0;
/// Distance between dash starts (m); dash k covers `x ∈ [k·12, k·12 + 3]`.
pub const DASH_PERIOD: f32 = 12.0;

/// The observation of `t` (module docs).
///
/// # Shapes
/// `[6 + 5·observed_cars]` for `state`, `[3, image_height, image_width]` flattened for `image`.
pub fn observe(cfg: &HighwayConfig, t: &Traffic) -> Vec<f32> {
    match cfg.obs {
        ObsKind::State => kinematics(cfg, t),
        ObsKind::Image => image(cfg, t),
    }
}

fn kinematics(cfg: &HighwayConfig, t: &Traffic) -> Vec<f32> {
    let (w, vmax, vlat) = (cfg.road_width(), cfg.ego_speed_max, cfg.lateral_speed_max);
    let e = &t.ego;
    let mut out = vec![
        e.y / w,
        e.v / vmax,
        e.vy / vlat,
        f32::from(u8::from(e.crashed)),
        cfg.lane_centre(e.target_lane) / w,
        e.target_speed / vmax,
    ];
    let mut near: Vec<_> = t.cars.iter().flatten().collect();
    let dist = |x: f32, y: f32| (x - e.x).hypot(y - e.y);
    near.sort_by(|a, b| dist(a.x, a.y).total_cmp(&dist(b.x, b.y)));
    for k in 0..cfg.observed_cars {
        match near.get(k) {
            Some(c) => {
                let side = cfg.lane_centre(c.target_lane) - c.y;
                let vy = if side == 0.0 { 0.0 } else { side.signum() };
                out.extend([
                    1.0,
                    (c.x - e.x) / cfg.window_ahead,
                    (c.y - e.y) / w,
                    (c.v - e.v) / vmax,
                    vy,
                ]);
            }
            None => out.extend([0.0; CAR_FEATURES]),
        }
    }
    out
}

/// Length of `[a0, a1] ∩ [b0, b1]` (0 when disjoint).
fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Length of the dashes `[k·P, k·P + L]` inside `[x0, x1]`.
fn dash_cover(x0: f32, x1: f32) -> f32 {
    let first = (x0 / DASH_PERIOD).floor() as i64 - 1;
    let last = (x1 / DASH_PERIOD).ceil() as i64;
    (first..=last)
        .map(|k| {
            let s = k as f32 * DASH_PERIOD;
            overlap(x0, x1, s, s + DASH_LENGTH)
        })
        .sum()
}

fn image(cfg: &HighwayConfig, t: &Traffic) -> Vec<f32> {
    let (h, w) = (cfg.image_height, cfg.image_width);
    let mx = (cfg.view_behind + cfg.view_ahead) / w as f32;
    let my = cfg.road_width() / h as f32;
    let x_left = t.ego.x - cfg.view_behind;
    let (hl, hw) = (cfg.car_length / 2.0, cfg.car_width / 2.0);
    let half_mark = MARK_WIDTH / 2.0;
    let mut out = vec![0f32; CHANNELS * h * w];
    for j in 0..w {
        let (x0, x1) = (x_left + j as f32 * mx, x_left + (j + 1) as f32 * mx);
        let dashed = dash_cover(x0, x1) / mx;
        let cover = |cx: f32, y0: f32, y1: f32, cy: f32| {
            overlap(x0, x1, cx - hl, cx + hl) * overlap(y0, y1, cy - hw, cy + hw) / (mx * my)
        };
        for i in 0..h {
            let (y0, y1) = (i as f32 * my, (i + 1) as f32 * my);
            let mark = |yb: f32, len: f32| {
                len * overlap(y0, y1, yb - half_mark, yb + half_mark) / MARK_WIDTH
            };
            let road = cfg.road_width();
            let edges = mark(half_mark, 1.0) + mark(road - half_mark, 1.0);
            let lines: f32 = (1..cfg.lanes)
                .map(|k| mark(k as f32 * cfg.lane_width, dashed))
                .sum();
            let px = i * w + j;
            out[px] = (edges + lines).min(1.0);
            out[h * w + px] = cover(t.ego.x, y0, y1, t.ego.y).min(1.0);
            let cars: f32 = t
                .cars
                .iter()
                .flatten()
                .map(|c| cover(c.x, y0, y1, c.y))
                .sum();
            out[2 * h * w + px] = cars.min(1.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::highway::state::{Car, DriverMode, Ego};

    /// Ego at (0, 6) and one car at (`car_x`, 2), default image: 2.5 m × 1 m pixels, column j
    /// covering `x ∈ [−30 + 2.5j, −27.5 + 2.5j]`, row i covering `y ∈ [i, i + 1]`.
    fn picture(car_x: f32) -> Vec<f32> {
        let cfg = HighwayConfig {
            obs: ObsKind::Image,
            other_cars: 1,
            ..HighwayConfig::default()
        };
        let t = Traffic {
            ego: Ego {
                x: 0.0,
                y: 6.0,
                v: 20.0,
                vy: 0.0,
                crashed: false,
                target_lane: 1,
                target_speed: 20.0,
            },
            cars: vec![Some(Car {
                x: car_x,
                y: 2.0,
                v: 20.0,
                target_lane: 0,
                mode: DriverMode::Cruise,
                timer: 0.0,
                desired_speed: 20.0,
            })],
        };
        observe(&cfg, &t)
    }

    #[test]
    fn image_pixels_are_area_coverage() {
        let (h, w) = (12, 40);
        let at = |o: &[f32], c: usize, i: usize, j: usize| o[c * h * w + i * w + j];
        let o = picture(10.0);
        // The ego covers columns 11–12 (x ∈ [−2.5, 2.5]) and rows 5–6 (y ∈ [5, 7]) fully.
        for (i, j) in [(5, 11), (5, 12), (6, 11), (6, 12)] {
            assert!((at(&o, 1, i, j) - 1.0).abs() < 1e-6);
        }
        assert!((o[h * w..2 * h * w].iter().sum::<f32>() - 4.0).abs() < 1e-5);
        // The car (x ∈ [7.5, 12.5], y ∈ [1, 3]) covers columns 15–16, rows 1–2.
        assert!((at(&o, 2, 1, 15) - 1.0).abs() < 1e-6 && (at(&o, 2, 2, 16) - 1.0).abs() < 1e-6);
        // Moved by half a pixel: half coverage at both ends, so the position stays readable.
        let o = picture(11.25);
        let cols: Vec<f32> = (14..19).map(|j| at(&o, 2, 1, j)).collect();
        assert!(
            cols.iter()
                .zip([0.0, 0.5, 1.0, 0.5, 0.0])
                .all(|(a, b)| (a - b).abs() < 1e-5),
            "{cols:?}"
        );
        // Road edges are solid (rows 0 and 11); lane lines at y = 4, 8 split over two rows.
        assert!((0..w).all(|j| at(&o, 0, 0, j) > 0.999 && at(&o, 0, 11, j) > 0.999));
        let (r3, r4): (Vec<f32>, Vec<f32>) =
            (0..w).map(|j| (at(&o, 0, 3, j), at(&o, 0, 4, j))).unzip();
        assert!(
            r3.iter()
                .zip(&r4)
                .all(|(a, b)| (a - b).abs() < 1e-5 && *a <= 0.5 + 1e-5),
            "{r3:?} {r4:?}"
        );
        assert!((0..w).any(|j| at(&o, 0, 3, j) > 0.1) && (0..w).all(|j| at(&o, 0, 6, j) == 0.0));
    }

    #[test]
    fn dashes_cover_their_length() {
        assert!((dash_cover(0.0, 12.0) - 3.0).abs() < 1e-6);
        assert!((dash_cover(-1.0, 1.0) - 1.0).abs() < 1e-6);
        assert!((dash_cover(13.0, 24.0) - 2.0).abs() < 1e-6);
        assert!((dash_cover(3.5, 11.5)).abs() < 1e-6);
    }
}
