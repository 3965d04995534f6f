//! The walls of one maze layout in px, the move rule among them, and its wall image.
//!
//! With room pitch `p` (`room_size`), wall thickness `w` and door width `d`, the arena is
//! `[0, cols·p + w] × [0, rows·p + w]`. Vertical wall line `i ∈ 0..=cols` is the strip
//! `x ∈ [i·p, i·p + w]`, horizontal line `j ∈ 0..=rows` the strip `y ∈ [j·p, j·p + w]`, so
//! room `(c, r)` has the interior `(c·p + w, (c+1)·p) × (r·p + w, (r+1)·p)` of side `p − w`
//! and centre `(c·p + (p+w)/2, r·p + (p+w)/2)`. Each wall line is cut into one closed
//! rectangle per room side (`[r·p, (r+1)·p + w]` along the line); a door replaces that
//! rectangle by the two pieces outside the open interval of width `d` centred on the room
//! side, exactly like the door of two-rooms. Border lines have no doors.
//!
//! A point is in room `(⌊x/p⌋, ⌊y/p⌋)` (clamped to the grid): a door's opening counts to the
//! room east or north of it. The move rule is [`crate::geometry::move_point`].

use rand::rngs::StdRng;
use rand::Rng;

use crate::data::{DOOR_START_RANGE, DOOR_TARGET_DEPTH};
use crate::error::EnvError;
use crate::geometry::{move_point, Rect};
use crate::two_rooms::MAX_SAMPLE_DRAWS;

use super::layout::{Door, Layout, RoomId};

/// Sub-samples per pixel side of the wall image (4 × 4 points per pixel).
pub const WALL_SUBSAMPLES: usize = 4;

/// Pitch, wall and door sizes (px) of a maze.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizes {
    /// Room pitch `p`.
    pub room: f32,
    /// Wall thickness `w`.
    pub wall: f32,
    /// Door width `d`.
    pub door: f32,
}

/// One layout in px: its door graph and its wall rectangles.
#[derive(Debug, Clone)]
pub struct Arena {
    sizes: Sizes,
    layout: Layout,
    obstacles: Vec<Rect>,
}

impl Arena {
    /// The walls of `layout` with `sizes` (module docs).
    pub fn new(sizes: Sizes, layout: Layout) -> Arena {
        let Sizes {
            room: p,
            wall: w,
            door: d,
        } = sizes;
        let (cols, rows) = (layout.cols(), layout.rows());
        let mut obstacles = Vec::new();
        // Pieces of a wall strip `[a0, a1]` across, spanning `[b0, b1]` along its line,
        // cut by a door centred at `mid` when `open`; `vertical` strips run along y.
        let mut add = |vertical: bool, (a0, a1): (f32, f32), (b0, b1): (f32, f32), mid, open| {
            let spans = if open {
                vec![(b0, mid - d / 2.0), (mid + d / 2.0, b1)]
            } else {
                vec![(b0, b1)]
            };
            for (s0, s1) in spans {
                obstacles.push(if vertical {
                    Rect {
                        x0: a0,
                        y0: s0,
                        x1: a1,
                        y1: s1,
                    }
                } else {
                    Rect {
                        x0: s0,
                        y0: a0,
                        x1: s1,
                        y1: a1,
                    }
                });
            }
        };
        let mid = |k: usize| k as f32 * p + (p + w) / 2.0;
        let side = |k: usize| (k as f32 * p, (k + 1) as f32 * p + w);
        for i in 0..=cols {
            let x = i as f32 * p;
            for r in 0..rows {
                let open = i > 0
                    && i < cols
                    && layout.is_open(Door {
                        room: (i - 1, r),
                        north: false,
                    });
                add(true, (x, x + w), side(r), mid(r), open);
            }
        }
        for j in 0..=rows {
            let y = j as f32 * p;
            for c in 0..cols {
                let open = j > 0
                    && j < rows
                    && layout.is_open(Door {
                        room: (c, j - 1),
                        north: true,
                    });
                add(false, (y, y + w), side(c), mid(c), open);
            }
        }
        Arena {
            sizes,
            layout,
            obstacles,
        }
    }

    /// The door graph.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The wall rectangles.
    pub fn obstacles(&self) -> &[Rect] {
        &self.obstacles
    }

    /// Width and height of the arena (px).
    pub fn extent(&self) -> [f32; 2] {
        let Sizes {
            room: p, wall: w, ..
        } = self.sizes;
        [
            self.layout.cols() as f32 * p + w,
            self.layout.rows() as f32 * p + w,
        ]
    }

    /// The open interior of `room`, as a rectangle.
    pub fn interior(&self, (c, r): RoomId) -> Rect {
        let Sizes {
            room: p, wall: w, ..
        } = self.sizes;
        Rect {
            x0: c as f32 * p + w,
            y0: r as f32 * p + w,
            x1: (c + 1) as f32 * p,
            y1: (r + 1) as f32 * p,
        }
    }

    /// The room a point is in (module docs).
    pub fn room_of(&self, pt: [f32; 2]) -> RoomId {
        let p = self.sizes.room;
        let cell = |v: f32, n: usize| ((v / p).floor().max(0.0) as usize).min(n - 1);
        (
            cell(pt[0], self.layout.cols()),
            cell(pt[1], self.layout.rows()),
        )
    }

    /// The centre of a door's opening (the middle of the wall strip).
    pub fn door_centre(&self, door: Door) -> [f32; 2] {
        let Sizes {
            room: p, wall: w, ..
        } = self.sizes;
        let (c, r) = door.room;
        if door.north {
            [c as f32 * p + (p + w) / 2.0, (r + 1) as f32 * p + w / 2.0]
        } else {
            [(c + 1) as f32 * p + w / 2.0, r as f32 * p + (p + w) / 2.0]
        }
    }

    /// The centres of the doors on the shortest room path from the room of `from` to the room
    /// of `to` ([`Layout::room_path`]): the sub-goals of a hierarchical plan. Empty when both
    /// are in the same room; `None` when the rooms are not connected.
    pub fn door_waypoints(&self, from: [f32; 2], to: [f32; 2]) -> Option<Vec<[f32; 2]>> {
        let path = self
            .layout
            .room_path(self.room_of(from), self.room_of(to))?;
        Some(
            path.windows(2)
                .filter_map(|w| Door::between(w[0], w[1]))
                .map(|d| self.door_centre(d))
                .collect(),
        )
    }

    /// Whether `pt` is inside the open arena and in no wall.
    pub fn is_free(&self, pt: [f32; 2]) -> bool {
        let e = self.extent();
        pt[0].is_finite()
            && pt[1].is_finite()
            && pt[0] > 0.0
            && pt[1] > 0.0
            && pt[0] < e[0]
            && pt[1] < e[1]
            && !self.obstacles.iter().any(|r| r.contains(pt))
    }

    /// Applies the move rule from the free `p` with action `a` clipped to `max_step`.
    pub fn transition(
        &self,
        p: [f32; 2],
        a: [f32; 2],
        max_step: f32,
    ) -> Result<[f32; 2], EnvError> {
        if !a.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidAction(format!("{a:?} is not finite")));
        }
        if !self.is_free(p) {
            return Err(EnvError::InvalidPosition(format!(
                "{p:?} is not in free space"
            )));
        }
        Ok(move_point(p, a, max_step, &self.obstacles, |q| {
            self.is_free(q)
        }))
    }

    /// A uniform point of `room`'s interior at least `margin` px from its walls (`margin` must
    /// be below half the interior side).
    pub fn sample_in_room(&self, rng: &mut StdRng, room: RoomId, margin: f32) -> [f32; 2] {
        let r = self.interior(room);
        [
            rng.gen_range(r.x0 + margin..r.x1 - margin),
            rng.gen_range(r.y0 + margin..r.y1 - margin),
        ]
    }

    /// A uniform free point of the arena (rejection sampling).
    pub fn sample_free(&self, rng: &mut StdRng) -> Result<[f32; 2], EnvError> {
        let e = self.extent();
        for _ in 0..MAX_SAMPLE_DRAWS {
            let p = [rng.gen_range(0.0..e[0]), rng.gen_range(0.0..e[1])];
            if self.is_free(p) {
                return Ok(p);
            }
        }
        Err(EnvError::InvalidPosition(format!(
            "no free position found in {MAX_SAMPLE_DRAWS} draws"
        )))
    }

    /// A free start near `door` on a random side and the point beyond it, as in two-rooms'
    /// door steering: across the wall the start is `w/2 + U[1, 12)` px from the door centre,
    /// along it `U(−12, 12)` px ([`DOOR_START_RANGE`]); the target lies
    /// [`DOOR_TARGET_DEPTH`] px beyond the far face of the wall, on the door's centre line.
    pub fn door_start(
        &self,
        rng: &mut StdRng,
        door: Door,
    ) -> Result<([f32; 2], [f32; 2]), EnvError> {
        let c = self.door_centre(door);
        let half = self.sizes.wall / 2.0;
        let (across, along) = if door.north { (1, 0) } else { (0, 1) };
        let side: f32 = if rng.gen::<bool>() { -1.0 } else { 1.0 };
        for _ in 0..MAX_SAMPLE_DRAWS {
            let mut p = c;
            p[across] += side * rng.gen_range(half + 1.0..half + DOOR_START_RANGE);
            p[along] += rng.gen_range(-DOOR_START_RANGE..DOOR_START_RANGE);
            if self.is_free(p) {
                let mut target = c;
                target[across] -= side * (half + DOOR_TARGET_DEPTH);
                return Ok((p, target));
            }
        }
        Err(EnvError::InvalidPosition(format!(
            "no free start within {DOOR_START_RANGE} px of the door at {c:?} found in {MAX_SAMPLE_DRAWS} draws"
        )))
    }

    /// The wall image `[rows_px, cols_px]` (row 0 at the bottom, pixel side `px`): the
    /// fraction of each pixel's [`WALL_SUBSAMPLES`]² sub-sample points (centres of a regular
    /// sub-grid) that lie in a wall.
    pub fn wall_image(&self, rows_px: usize, cols_px: usize, px: f32) -> Vec<f32> {
        let k = WALL_SUBSAMPLES;
        let sub = px / k as f32;
        let mut out = vec![0f32; rows_px * cols_px];
        for i in 0..rows_px {
            for j in 0..cols_px {
                let mut hits = 0;
                for a in 0..k {
                    for b in 0..k {
                        let q = [
                            j as f32 * px + (b as f32 + 0.5) * sub,
                            i as f32 * px + (a as f32 + 0.5) * sub,
                        ];
                        hits += usize::from(self.obstacles.iter().any(|r| r.contains(q)));
                    }
                }
                out[i * cols_px + j] = hits as f32 / (k * k) as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: Sizes = Sizes {
        room: 32.0,
        wall: 2.0,
        door: 12.0,
    };

    /// 2 × 1 rooms joined by a door: arena [0, 66] × [0, 34], middle wall x ∈ [32, 34], door
    /// y ∈ (11, 23) (centred on the room side, (p + w)/2 = 17).
    fn two_rooms() -> Arena {
        let mut l = Layout::closed(2, 1);
        l.open(Door::between((0, 0), (1, 0)).unwrap());
        Arena::new(SIZES, l)
    }

    #[test]
    fn walls_block_and_doors_pass_by_hand() {
        let a = two_rooms();
        assert_eq!(a.extent(), [66.0, 34.0]);
        // Vertical: left border, 2 pieces around the door, right border; horizontal: 2 + 2.
        assert_eq!(a.obstacles().len(), 8);
        assert!(a.is_free([33.0, 17.0]) && a.is_free([33.0, 22.9]));
        assert!(!a.is_free([33.0, 23.0]) && !a.is_free([33.0, 11.0]) && !a.is_free([1.0, 17.0]));
        // Through the door: (31, 17) → (33, 17) → (35, 17).
        let p = a.transition([31.0, 17.0], [2.0, 0.0], 2.0).unwrap();
        assert_eq!(p, [33.0, 17.0]);
        assert_eq!(a.transition(p, [2.0, 0.0], 2.0).unwrap(), [35.0, 17.0]);
        // Into the wall above the door: stops 1e-3 px short of x = 32.
        let q = a.transition([31.0, 28.0], [2.0, 0.0], 2.0).unwrap();
        assert!((q[0] - (32.0 - 1e-3)).abs() < 1e-4 && q[1] == 28.0, "{q:?}");
        // The action is clipped to max_step.
        assert_eq!(
            a.transition([10.0, 17.0], [30.0, 0.0], 2.0).unwrap(),
            [12.0, 17.0]
        );
        assert!(a.transition([33.0, 28.0], [1.0, 0.0], 2.0).is_err());
        assert!(a.transition([10.0, 17.0], [f32::NAN, 0.0], 2.0).is_err());
        assert_eq!(a.room_of([33.0, 17.0]), (1, 0));
        assert_eq!(a.room_of([31.9, 17.0]), (0, 0));
        assert_eq!(
            a.door_centre(Door::between((0, 0), (1, 0)).unwrap()),
            [33.0, 17.0]
        );
        assert_eq!(
            a.door_waypoints([5.0, 5.0], [60.0, 30.0]),
            Some(vec![[33.0, 17.0]])
        );
        assert_eq!(a.door_waypoints([5.0, 5.0], [6.0, 30.0]), Some(vec![]));
    }

    #[test]
    fn a_closed_wall_blocks_everywhere_and_interiors_are_free() {
        let a = Arena::new(SIZES, Layout::closed(2, 2));
        for y in [3.0, 17.0, 30.0, 40.0, 60.0] {
            let q = a.transition([30.5, y], [2.0, 0.0], 2.0).unwrap();
            assert!(q[0] < 32.0, "crossed a closed wall at y = {y}: {q:?}");
        }
        let i = a.interior((1, 1));
        assert_eq!((i.x0, i.y0, i.x1, i.y1), (34.0, 34.0, 64.0, 64.0));
        assert!(a.is_free([34.01, 34.01]) && !a.is_free([34.0, 40.0]));
    }

    #[test]
    fn wall_image_counts_sub_samples() {
        let a = Arena::new(SIZES, Layout::closed(1, 1));
        // 34 × 34 arena, 17 × 17 pixels of 2 px: every border pixel is wall.
        let img = a.wall_image(17, 17, 2.0);
        assert_eq!(img[0], 1.0);
        assert_eq!(img[8 * 17 + 8], 0.0);
        assert_eq!(img.iter().filter(|&&v| v == 1.0).count(), 4 * 16);
    }
}
