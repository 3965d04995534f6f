//! The two-rooms navigation task (PLDM): a point agent in a square arena with a border and a
//! vertical central wall with one door.
//!
//! # Geometry
//! Coordinates are continuous, in px, `x` to the right and `y` upward; the arena is
//! `[0, size]²`. Obstacles are six closed axis-aligned rectangles: four border strips of
//! thickness `border`, and the central wall `x ∈ [size/2 − t/2, size/2 + t/2]`
//! (`t = wall_thickness`) split into two segments by the door
//! `y ∈ (door_y − h/2, door_y + h/2)` (`h = door_height`). A point is free when it lies in the
//! open arena and in no obstacle. The left room is `x < size/2`, the right room `x ≥ size/2`.
//!
//! With the defaults (size 64, border 2, wall_thickness 2, door_y 32, door_height 12,
//! max_step 2): free space is inside the open square `(2, 62)²`, the wall is `x ∈ [31, 33]`,
//! the door is `y ∈ (26, 38)`.
//!
//! # Move rule
//! 1. A non-finite action is an error. The action `a ∈ R²` is clipped to `‖a‖ ≤ max_step` by
//!    scaling (`a ← a·max_step/‖a‖`, direction kept).
//! 2. The agent moves along the segment `p → p + t·a`, `t ∈ [0, 1]`. Let `t*` be the earliest
//!    time at which the segment enters any obstacle (slab method, minimum over all
//!    rectangles). Without an entry (and with `p + a` free) the agent lands on `p + a`.
//! 3. Otherwise it stops at the entry point moved back by [`STOP_BACKOFF`] = 1e-3 px along the
//!    segment: `p + max(t* − 1e-3/‖a‖, 0)·a`. There is no sliding along walls. Should
//!    rounding ever leave that point in an obstacle, the agent stays at `p`. Positions are
//!    therefore always free. Steps 1–3 are [`crate::geometry::move_point`], shared with
//!    [`crate::maze`].

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::distractors::{frame_key, Distractors};
use crate::error::EnvError;
use crate::geometry::move_point;
pub use crate::geometry::{Rect, STOP_BACKOFF};
pub use crate::observation::observe_at;
use crate::observation::PixelGrid;

/// What the agent observes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ObsKind {
    /// The position `(x, y)` in px.
    State,
    /// A 2-channel image `[2, res, res]`: the agent as a Gaussian blob, and the walls.
    Image,
}

impl ObsKind {
    /// The configured name (`state`, `image`).
    pub fn name(self) -> &'static str {
        match self {
            ObsKind::State => "state",
            ObsKind::Image => "image",
        }
    }
}

/// Geometry and observation settings of [`TwoRooms`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TwoRoomsConfig {
    /// Side of the square arena (px).
    pub size: f32,
    /// Thickness of the border wall (px).
    pub border: f32,
    /// Thickness of the central wall (px).
    pub wall_thickness: f32,
    /// Centre of the door along y (px).
    pub door_y: f32,
    /// Height of the door opening (px).
    pub door_height: f32,
    /// Maximum action norm (px per step).
    pub max_step: f32,
    /// Observation kind.
    pub obs: ObsKind,
    /// Image side (pixels) for image observations.
    pub image_res: usize,
    /// Standard deviation of the agent's blob in image observations (px of the arena).
    pub blob_sigma: f32,
    /// Forbidden regions (px): the agent can enter them (they are not walls), and every step
    /// that ends inside one is a safety violation ([`crate::Env::violation`]). Drawn in a third
    /// image channel when present. Test starts and goals keep [`HAZARD_TASK_MARGIN`] from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<Rect>,
    /// Unpredictable leaves drawn over image observations ([`crate::distractors`]; default
    /// none).
    #[serde(default)]
    pub distractors: Distractors,
    /// Centre of the central wall along x (px); `None` (the default) is `size/2`. Not a
    /// configuration key: two-rooms' own data and tasks assume the centred wall. Set by the
    /// PLDM-style environments whose layouts move it ([`crate::pldm::Layout`],
    /// [`crate::random_wall`]); [`Self::obstacles`], [`Self::room_of`] and
    /// [`Self::sample_free`] follow it.
    #[serde(skip)]
    pub wall_x: Option<f32>,
}

impl Default for TwoRoomsConfig {
    fn default() -> Self {
        TwoRoomsConfig {
            size: 64.0,
            border: 2.0,
            wall_thickness: 2.0,
            door_y: 32.0,
            door_height: 12.0,
            max_step: 2.0,
            obs: ObsKind::State,
            image_res: 32,
            blob_sigma: 1.5,
            hazards: Vec::new(),
            distractors: Distractors::default(),
            wall_x: None,
        }
    }
}

/// Minimum distance (px) of test starts and goals from every hazard.
pub const HAZARD_TASK_MARGIN: f32 = 6.0;

/// Rejection-sampling budget of [`TwoRoomsConfig::sample_free`].
pub const MAX_SAMPLE_DRAWS: usize = 100_000;

/// Which room a position is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Room {
    /// `x < size/2` (`x <` [`TwoRoomsConfig::wall_center`]).
    Left,
    /// `x ≥ size/2` (`x ≥` [`TwoRoomsConfig::wall_center`]).
    Right,
}

impl TwoRoomsConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        let pos = |name: &'static str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(EnvError::config(name, v, "a finite value > 0"))
            }
        };
        pos("env.size", self.size)?;
        pos("env.border", self.border)?;
        pos("env.wall_thickness", self.wall_thickness)?;
        pos("env.door_height", self.door_height)?;
        pos("env.max_step", self.max_step)?;
        pos("env.blob_sigma", self.blob_sigma)?;
        if self.size <= 4.0 * self.border + self.wall_thickness {
            return Err(EnvError::config(
                "env.size",
                self.size,
                "larger than 4·border + wall_thickness",
            ));
        }
        let (lo, hi) = (
            self.door_y - self.door_height / 2.0,
            self.door_y + self.door_height / 2.0,
        );
        if !(lo > self.border && hi < self.size - self.border) {
            return Err(EnvError::config(
                "env.door_y",
                self.door_y,
                "a door fully inside the border",
            ));
        }
        let (w0, w1) = (
            self.wall_center() - self.wall_thickness / 2.0,
            self.wall_center() + self.wall_thickness / 2.0,
        );
        if !(w0.is_finite() && w0 > 2.0 * self.border && w1 < self.size - 2.0 * self.border) {
            return Err(EnvError::config(
                "env.wall_x",
                self.wall_center(),
                "a wall at least one border thickness away from the border on both sides",
            ));
        }
        for (k, h) in self.hazards.iter().enumerate() {
            let inside = |v: f32| v.is_finite() && v >= 0.0 && v <= self.size;
            if !(inside(h.x0) && inside(h.x1) && inside(h.y0) && inside(h.y1))
                || h.x0 >= h.x1
                || h.y0 >= h.y1
            {
                return Err(EnvError::config(
                    "env.hazards",
                    format!("#{k}: {h:?}"),
                    "rectangles with x0 < x1 and y0 < y1 inside the arena [0, size]",
                ));
            }
        }
        self.distractors.validate()?;
        if !self.distractors.is_off() && self.obs != ObsKind::Image {
            return Err(EnvError::config(
                "env.distractors.leaves",
                self.distractors.leaves,
                "0 unless env.obs = \"image\" (leaves are drawn over images)",
            ));
        }
        if self.image_res < 4 || self.image_res > 512 {
            return Err(EnvError::config(
                "env.image_res",
                self.image_res,
                "an integer in [4, 512]",
            ));
        }
        Ok(())
    }

    /// Centre of the central wall along x: `wall_x`, or `size/2` without one.
    pub fn wall_center(&self) -> f32 {
        self.wall_x.unwrap_or(self.size / 2.0)
    }

    /// The obstacle rectangles: four border strips and the wall above and below the door.
    pub fn obstacles(&self) -> [Rect; 6] {
        let (s, b) = (self.size, self.border);
        let (wx0, wx1) = (
            self.wall_center() - self.wall_thickness / 2.0,
            self.wall_center() + self.wall_thickness / 2.0,
        );
        let (d0, d1) = (
            self.door_y - self.door_height / 2.0,
            self.door_y + self.door_height / 2.0,
        );
        [
            Rect {
                x0: 0.0,
                y0: 0.0,
                x1: s,
                y1: b,
            },
            Rect {
                x0: 0.0,
                y0: s - b,
                x1: s,
                y1: s,
            },
            Rect {
                x0: 0.0,
                y0: 0.0,
                x1: b,
                y1: s,
            },
            Rect {
                x0: s - b,
                y0: 0.0,
                x1: s,
                y1: s,
            },
            Rect {
                x0: wx0,
                y0: 0.0,
                x1: wx1,
                y1: d0,
            },
            Rect {
                x0: wx0,
                y0: d1,
                x1: wx1,
                y1: s,
            },
        ]
    }

    /// True when `p` is inside the arena and in no obstacle.
    pub fn is_free(&self, p: [f32; 2]) -> bool {
        p.iter()
            .all(|v| v.is_finite() && *v > 0.0 && *v < self.size)
            && !self.obstacles().iter().any(|r| r.contains(p))
    }

    /// Distance from `p` to the nearest obstacle (0 inside one).
    pub fn clearance(&self, p: [f32; 2]) -> f32 {
        self.obstacles()
            .iter()
            .map(|r| r.distance(p))
            .fold(f32::INFINITY, f32::min)
    }

    /// Whether `p` lies in a hazard (closed rectangles).
    pub fn in_hazard(&self, p: [f32; 2]) -> bool {
        self.hazards.iter().any(|h| h.contains(p))
    }

    /// Distance from `p` to the nearest hazard (infinite without hazards, 0 inside one).
    pub fn hazard_clearance(&self, p: [f32; 2]) -> f32 {
        self.hazards
            .iter()
            .map(|r| r.distance(p))
            .fold(f32::INFINITY, f32::min)
    }

    /// The room of `p`.
    pub fn room_of(&self, p: [f32; 2]) -> Room {
        if p[0] < self.wall_center() {
            Room::Left
        } else {
            Room::Right
        }
    }

    /// Applies the move rule (module docs) from the free position `p` with action `a`.
    pub fn transition(&self, p: [f32; 2], a: [f32; 2]) -> Result<[f32; 2], EnvError> {
        if !a.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidAction(format!("{a:?} is not finite")));
        }
        if !self.is_free(p) {
            return Err(EnvError::InvalidPosition(format!(
                "{p:?} is not in free space"
            )));
        }
        Ok(move_point(p, a, self.max_step, &self.obstacles(), |q| {
            self.is_free(q)
        }))
    }

    /// A uniformly random free position at least `margin` px from every obstacle, in `room`
    /// if given (rejection sampling over the room's x-range × `[0, size]`). With `margin > 0`
    /// (test starts and goals) it also keeps [`HAZARD_TASK_MARGIN`] from every hazard.
    ///
    /// Fails after [`MAX_SAMPLE_DRAWS`] rejected draws (no such position exists in practice
    /// only when the margin is too large for the rooms).
    pub fn sample_free(
        &self,
        rng: &mut StdRng,
        margin: f32,
        room: Option<Room>,
    ) -> Result<[f32; 2], EnvError> {
        let (x0, x1) = match room {
            None => (0.0, self.size),
            Some(Room::Left) => (0.0, self.wall_center()),
            Some(Room::Right) => (self.wall_center(), self.size),
        };
        for _ in 0..MAX_SAMPLE_DRAWS {
            let p = [rng.gen_range(x0..x1), rng.gen_range(0.0..self.size)];
            if self.is_free(p)
                && self.clearance(p) >= margin
                && (margin <= 0.0 || self.hazard_clearance(p) >= HAZARD_TASK_MARGIN)
                && room.is_none_or(|r| self.room_of(p) == r)
            {
                return Ok(p);
            }
        }
        Err(EnvError::InvalidPosition(format!(
            "no free position at least {margin} px from every obstacle{} found in {MAX_SAMPLE_DRAWS} draws",
            room.map(|r| format!(" in the {r:?} room")).unwrap_or_default()
        )))
    }

    /// [`observe_at`] `pos` with the distractors of frame `key` drawn over the image.
    pub fn observe_with(&self, pos: [f32; 2], key: u64) -> Vec<f32> {
        let mut obs = observe_at(self, pos);
        if self.obs == ObsKind::Image {
            let r = self.image_res;
            self.distractors
                .apply(&mut obs, r, self.size, PixelGrid::CellCentred, key);
        }
        obs
    }

    /// Length of one observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_shape().iter().product()
    }

    /// Image channels: agent, walls, and hazards when there are any.
    pub fn image_channels(&self) -> usize {
        if self.hazards.is_empty() {
            2
        } else {
            3
        }
    }

    /// Shape of one observation (`[2]` or `[C, res, res]`, `C` = [`Self::image_channels`]).
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.obs {
            ObsKind::State => vec![2],
            ObsKind::Image => vec![self.image_channels(), self.image_res, self.image_res],
        }
    }
}

/// The environment: a configuration and the agent's position.
#[derive(Debug, Clone)]
pub struct TwoRooms {
    cfg: TwoRoomsConfig,
    pos: [f32; 2],
    /// Frames observed so far (placements and steps): the key of the current frame's
    /// distractors ([`crate::distractors::frame_key`]).
    tick: u64,
}

impl TwoRooms {
    /// A validated environment with the agent at the centre of the left room.
    pub fn new(cfg: TwoRoomsConfig) -> Result<Self, EnvError> {
        cfg.validate()?;
        let pos = [cfg.size / 4.0, cfg.size / 2.0];
        Ok(TwoRooms { cfg, pos, tick: 0 })
    }

    /// The configuration.
    pub fn config(&self) -> &TwoRoomsConfig {
        &self.cfg
    }

    /// Places the agent at `pos` (must be free).
    pub fn place_at(&mut self, pos: [f32; 2]) -> Result<(), EnvError> {
        if !self.cfg.is_free(pos) {
            return Err(EnvError::InvalidPosition(format!(
                "{pos:?} is not in free space"
            )));
        }
        self.pos = pos;
        self.tick += 1;
        Ok(())
    }

    /// The agent's position (for evaluation only; planners never read it).
    pub fn position(&self) -> [f32; 2] {
        self.pos
    }

    /// Applies an action; returns the new position.
    pub fn step(&mut self, action: [f32; 2]) -> Result<[f32; 2], EnvError> {
        self.pos = self.cfg.transition(self.pos, action)?;
        self.tick += 1;
        Ok(self.pos)
    }

    /// The current observation, with this frame's distractors.
    pub fn observe(&self) -> Vec<f32> {
        self.cfg.observe_with(self.pos, frame_key(self.tick))
    }

    /// Whether `p` is in free space (see [`TwoRoomsConfig::is_free`]).
    pub fn is_free(&self, p: [f32; 2]) -> bool {
        self.cfg.is_free(p)
    }

    /// The room of `p` (see [`TwoRoomsConfig::room_of`]).
    pub fn room_of(&self, p: [f32; 2]) -> Room {
        self.cfg.room_of(p)
    }
}
