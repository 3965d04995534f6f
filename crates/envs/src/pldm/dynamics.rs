//! PLDM's two move rules on its layout, over two-rooms' geometry (the obstacles of
//! [`super::PldmConfig::geometry`], [`crate::geometry::Rect::entry_face`]).
//!
//! Both clip the action to `‖a‖ ≤ max_step` ([`clip_to_ball`]) and look for the first wall
//! the segment `p → p + a` meets: the earliest entry into any closed obstacle rectangle
//! ([`first_crossing`]; touching counts).
//!
//! **Data** ([`data_move`]): with a crossing the agent stays at `p`
//! (`pldm_envs/wall/data/wall.py` `generate_transitions`: a step whose segment touches a
//! border line, enters the wall band across a face outside the door, or crosses a door jamb
//! keeps the previous location).
//!
//! **Evaluation** ([`eval_move`]; `pldm_envs/wall/data/wall_utils.py` `check_wall_intersect`):
//! with a crossing at the point `c` on a wall face with normal axis `k` (x for the border's and
//! the wall's sides, y for the border's top and bottom lines and the door's two jambs
//! `y = 6`, `y = 14`):
//! 1. `n ~ N(0, σ²)` per axis (σ = `bounce_std`, PLDM 0.5), and `r = c + n` with the normal
//!    component pushed back to the agent's side: `r_k = c_k + sign(p_k − c_k)·|n_k|`.
//! 2. At a door jamb PLDM returns `r` as it is. Otherwise `r` is clamped to the agent's room
//!    (`x ∈ [4, 31]` when `p_x < 32`, else `[33, 60]`; `y ∈ [4, 60]`; for another
//!    [`super::Layout`] the wall's faces `wall_x ∓ 1` replace 31 and 33), and a coordinate at
//!    or beyond a limit is set 0.3 px inside it.
//!
//! Differences from PLDM's code, all on sets of measure zero: PLDM tests the jambs first and
//! then the nearer of one vertical and one horizontal line, which gives the earliest crossing
//! except for a move starting exactly on a jamb's line; PLDM returns NaN for an exactly
//! vertical move into a horizontal line (its slope is infinite); should `r` not be free (a
//! jamb bounce of more than 16σ), the agent stops [`crate::geometry::STOP_BACKOFF`] before the
//! wall instead ([`move_point`]).
//!
//! The noise comes from `StdRng::seed_from_u64(`[`bounce_seed`]`(p, a))` — two standard
//! normals ([`standard_normal`]) — so a step is a function of position and action.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::env::clip_to_ball;
use crate::geometry::{move_point, Face};
use crate::sampling::standard_normal;
use crate::two_rooms::TwoRoomsConfig;

use super::BOUNCE_MARGIN;

/// Index of the first central-wall rectangle in [`TwoRoomsConfig::obstacles`] (the four
/// border strips come first).
const CENTRAL_WALL: usize = 4;

/// Where a move first meets a wall.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// Fraction of the move done at the crossing, in `[0, 1]`.
    pub t: f32,
    /// The crossing point `p + t·a` (on the wall's face).
    pub point: [f32; 2],
    /// The face's orientation: its normal is x for [`Face::Vertical`], y otherwise.
    pub face: Face,
    /// Whether the face is a door jamb (`y = 6` or `y = 14` on the central wall).
    pub jamb: bool,
}

/// The first wall met by `p → p + a` (`a` already clipped), or `None` for a free move.
pub fn first_crossing(geometry: &TwoRoomsConfig, p: [f32; 2], a: [f32; 2]) -> Option<Crossing> {
    geometry
        .obstacles()
        .iter()
        .enumerate()
        .filter_map(|(k, r)| r.entry_face(p, a).map(|(t, face)| (t, face, k)))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map(|(t, face, k)| Crossing {
            t,
            point: [p[0] + t * a[0], p[1] + t * a[1]],
            face,
            jamb: k >= CENTRAL_WALL && face == Face::Horizontal,
        })
}

fn clipped(geometry: &TwoRoomsConfig, a: [f32; 2]) -> [f32; 2] {
    let mut a = a;
    clip_to_ball(&mut a, geometry.max_step);
    a
}

/// The data rule (module docs) from the free position `p` with the finite action `a`.
pub fn data_move(geometry: &TwoRoomsConfig, p: [f32; 2], a: [f32; 2]) -> [f32; 2] {
    let a = clipped(geometry, a);
    let q = [p[0] + a[0], p[1] + a[1]];
    if first_crossing(geometry, p, a).is_none() && geometry.is_free(q) {
        q
    } else {
        p
    }
}

/// The evaluation rule (module docs) from the free position `p` with the finite action `a`;
/// `bounce_std` is σ of the bounce noise.
pub fn eval_move(geometry: &TwoRoomsConfig, p: [f32; 2], a: [f32; 2], bounce_std: f32) -> [f32; 2] {
    let a = clipped(geometry, a);
    let q = [p[0] + a[0], p[1] + a[1]];
    let Some(c) = first_crossing(geometry, p, a) else {
        return if geometry.is_free(q) { q } else { p };
    };
    let mut rng = StdRng::seed_from_u64(bounce_seed(p, a));
    let n = [
        bounce_std * standard_normal(&mut rng),
        bounce_std * standard_normal(&mut rng),
    ];
    let k = match c.face {
        Face::Vertical => 0,
        Face::Horizontal => 1,
    };
    let mut r = [c.point[0] + n[0], c.point[1] + n[1]];
    let back = if p[k] < c.point[k] { -1.0 } else { 1.0 };
    r[k] = c.point[k] + back * n[k].abs();
    if !c.jamb {
        clamp_to_room(geometry, p, &mut r);
    }
    if geometry.is_free(r) {
        r
    } else {
        move_point(p, a, geometry.max_step, &geometry.obstacles(), |x| {
            geometry.is_free(x)
        })
    }
}

/// Clamps `r` to the room of `p` and sets a coordinate at or beyond a limit
/// [`BOUNCE_MARGIN`] inside it (module docs, step 2).
fn clamp_to_room(geometry: &TwoRoomsConfig, p: [f32; 2], r: &mut [f32; 2]) {
    let (s, b, half, w) = (
        geometry.size,
        geometry.border,
        geometry.wall_thickness / 2.0,
        geometry.wall_center(),
    );
    let x = if p[0] < w {
        (b, w - half)
    } else {
        (w + half, s - b)
    };
    for (v, (lo, hi)) in r.iter_mut().zip([x, (b, s - b)]) {
        *v = v.clamp(lo, hi);
        if *v <= lo {
            *v = lo + BOUNCE_MARGIN;
        }
        if *v >= hi {
            *v = hi - BOUNCE_MARGIN;
        }
    }
}

/// FNV-1a hash of the bits of `(p_x, p_y, a_x, a_y)`: the seed of a step's bounce noise.
pub fn bounce_seed(p: [f32; 2], a: [f32; 2]) -> u64 {
    crate::sampling::fnv1a_f32(&[p[0], p[1], a[0], a[1]])
}
