//! The two-rooms navigation task (PLDM): a point agent in a square arena with a border and a
//! vertical central wall with one door.
//!
//! # Geometry (defaults)
//! The arena is `[0, size]²` (size 64 px). Obstacles are axis-aligned rectangles: the border
//! (`border` = 2 px on every side) and the central wall `x ∈ [size/2 − t/2, size/2 + t/2]`
//! (t = `wall_thickness` = 2 px) except the door `y ∈ [door_y − door_height/2,
//! door_y + door_height/2]` (door_y = 32, door_height = 12).
//!
//! # Move rule
//! The action `a ∈ R²` is clipped to `‖a‖ ≤ max_step` (scaled, direction kept; non-finite
//! actions are an error). The agent moves along the segment `p → p + a`; if the segment enters
//! an obstacle, the agent stops at the earliest entry point, moved back by 1e-3 px along the
//! segment (no sliding along walls). Positions therefore always stay in free space.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::EnvError;

/// What the agent observes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ObsKind {
    /// The position `(x, y)` in px.
    State,
    /// A 2-channel image `[2, res, res]`: the agent as a Gaussian blob, and the walls.
    Image,
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
        }
    }
}

/// An axis-aligned rectangle `[x0, x1] × [y0, y1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f32,
    /// Bottom.
    pub y0: f32,
    /// Right.
    pub x1: f32,
    /// Top.
    pub y1: f32,
}

impl Rect {
    fn contains(&self, p: [f32; 2]) -> bool {
        p[0] >= self.x0 && p[0] <= self.x1 && p[1] >= self.y0 && p[1] <= self.y1
    }

    /// Earliest `t ∈ [0, 1]` at which `p + t·d` is inside the rectangle (slab method).
    fn entry(&self, p: [f32; 2], d: [f32; 2]) -> Option<f32> {
        let (mut t0, mut t1) = (0f32, 1f32);
        for (pi, di, lo, hi) in [
            (p[0], d[0], self.x0, self.x1),
            (p[1], d[1], self.y0, self.y1),
        ] {
            if di.abs() < 1e-12 {
                if pi < lo || pi > hi {
                    return None;
                }
            } else {
                let (a, b) = ((lo - pi) / di, (hi - pi) / di);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                t0 = t0.max(a);
                t1 = t1.min(b);
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some(t0)
    }
}

/// Which room a position is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Room {
    /// `x < size/2`.
    Left,
    /// `x ≥ size/2`.
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
        if self.image_res < 4 || self.image_res > 512 {
            return Err(EnvError::config(
                "env.image_res",
                self.image_res,
                "an integer in [4, 512]",
            ));
        }
        Ok(())
    }

    /// The obstacle rectangles: four border strips and the wall above and below the door.
    pub fn obstacles(&self) -> Vec<Rect> {
        let (s, b) = (self.size, self.border);
        let (wx0, wx1) = (
            s / 2.0 - self.wall_thickness / 2.0,
            s / 2.0 + self.wall_thickness / 2.0,
        );
        let (d0, d1) = (
            self.door_y - self.door_height / 2.0,
            self.door_y + self.door_height / 2.0,
        );
        vec![
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
            .map(|r| {
                let dx = (r.x0 - p[0]).max(0.0).max(p[0] - r.x1);
                let dy = (r.y0 - p[1]).max(0.0).max(p[1] - r.y1);
                (dx * dx + dy * dy).sqrt()
            })
            .fold(f32::INFINITY, f32::min)
    }

    /// The room of `p`.
    pub fn room_of(&self, p: [f32; 2]) -> Room {
        if p[0] < self.size / 2.0 {
            Room::Left
        } else {
            Room::Right
        }
    }

    /// Applies the move rule (module docs) from `p` with action `a`.
    pub fn transition(&self, p: [f32; 2], a: [f32; 2]) -> Result<[f32; 2], EnvError> {
        if !a.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidAction(format!("{a:?} is not finite")));
        }
        let norm = (a[0] * a[0] + a[1] * a[1]).sqrt();
        let a = if norm > self.max_step {
            [a[0] * self.max_step / norm, a[1] * self.max_step / norm]
        } else {
            a
        };
        let t = self
            .obstacles()
            .iter()
            .filter_map(|r| r.entry(p, a))
            .fold(1.0f32, f32::min);
        if t >= 1.0 && self.is_free([p[0] + a[0], p[1] + a[1]]) {
            return Ok([p[0] + a[0], p[1] + a[1]]);
        }
        let len = (a[0] * a[0] + a[1] * a[1]).sqrt().max(1e-12);
        let back = (t - 1e-3 / len).max(0.0);
        let q = [p[0] + back * a[0], p[1] + back * a[1]];
        Ok(if self.is_free(q) { q } else { p })
    }

    /// A uniformly random free position at least `margin` px from every obstacle.
    pub fn sample_free(&self, rng: &mut StdRng, margin: f32) -> [f32; 2] {
        loop {
            let p = [rng.gen_range(0.0..self.size), rng.gen_range(0.0..self.size)];
            if self.is_free(p) && self.clearance(p) >= margin {
                return p;
            }
        }
    }

    /// Length of one observation.
    pub fn obs_dim(&self) -> usize {
        match self.obs {
            ObsKind::State => 2,
            ObsKind::Image => 2 * self.image_res * self.image_res,
        }
    }

    /// Shape of one observation (`[2]` or `[2, res, res]`).
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.obs {
            ObsKind::State => vec![2],
            ObsKind::Image => vec![2, self.image_res, self.image_res],
        }
    }
}

/// The observation of an agent at `pos` (state: `[x, y]`; image: channel-major `[2, res, res]`,
/// channel 0 = `exp(−d²/(2σ²))` at pixel centres, channel 1 = 1 inside obstacles; row i is y).
pub fn observe_at(cfg: &TwoRoomsConfig, pos: [f32; 2]) -> Vec<f32> {
    match cfg.obs {
        ObsKind::State => pos.to_vec(),
        ObsKind::Image => {
            let r = cfg.image_res;
            let px = cfg.size / r as f32;
            let mut out = vec![0f32; 2 * r * r];
            let obstacles = cfg.obstacles();
            let inv = 1.0 / (2.0 * cfg.blob_sigma * cfg.blob_sigma);
            for i in 0..r {
                for j in 0..r {
                    let c = [(j as f32 + 0.5) * px, (i as f32 + 0.5) * px];
                    let d2 = (c[0] - pos[0]).powi(2) + (c[1] - pos[1]).powi(2);
                    out[i * r + j] = (-d2 * inv).exp();
                    if obstacles.iter().any(|o| o.contains(c)) {
                        out[r * r + i * r + j] = 1.0;
                    }
                }
            }
            out
        }
    }
}

/// The environment: a configuration and the agent's position.
#[derive(Debug, Clone)]
pub struct TwoRooms {
    cfg: TwoRoomsConfig,
    pos: [f32; 2],
}

impl TwoRooms {
    /// A validated environment with the agent at the centre of the left room.
    pub fn new(cfg: TwoRoomsConfig) -> Result<Self, EnvError> {
        cfg.validate()?;
        let pos = [cfg.size / 4.0, cfg.size / 2.0];
        Ok(TwoRooms { cfg, pos })
    }

    /// The configuration.
    pub fn config(&self) -> &TwoRoomsConfig {
        &self.cfg
    }

    /// Places the agent at `pos` (must be free).
    pub fn reset_to(&mut self, pos: [f32; 2]) -> Result<(), EnvError> {
        if !self.cfg.is_free(pos) {
            return Err(EnvError::InvalidPosition(format!(
                "{pos:?} is not in free space"
            )));
        }
        self.pos = pos;
        Ok(())
    }

    /// Uniformly random free start from `seed`; returns the observation.
    pub fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        self.pos = self.cfg.sample_free(&mut rng, 0.0);
        self.observe()
    }

    /// The agent's position (for evaluation only; planners never read it).
    pub fn position(&self) -> [f32; 2] {
        self.pos
    }

    /// Applies an action; returns the new position.
    pub fn step(&mut self, action: [f32; 2]) -> Result<[f32; 2], EnvError> {
        self.pos = self.cfg.transition(self.pos, action)?;
        Ok(self.pos)
    }

    /// The current observation.
    pub fn observe(&self) -> Vec<f32> {
        observe_at(&self.cfg, self.pos)
    }
}
