//! `maze`: the point agent of two-rooms in a grid of rooms joined by doors — long horizons
//! where flat planning fails and a hierarchy is needed (issue 12).
//!
//! # Layouts
//! A layout is a door graph on the `rooms = [cols, rows]` grid ([`layout`]): a spanning tree
//! (randomised Kruskal, so every room is reachable) plus `extra_doors` loops. The family has
//! `layouts` members; layout `k` is generated from seed `k`, so it does not depend on the
//! other keys of the family. `layout` is the one the environment runs (resets, tasks), and
//! `heldout_layout` is reserved for testing generalisation: it never provides training data
//! and must differ from every layout that does. `doors` (explicit `[c0, r0, c1, r1]` pairs of
//! neighbouring rooms) replaces the generated doors of `layout`.
//!
//! # Geometry and dynamics
//! Rooms of pitch `room_size` px, walls `wall` px thick, doors `door` px wide centred on each
//! room side ([`arena`] has the coordinates). Actions are displacements `(dx, dy)` clipped to
//! `‖a‖ ≤ max_step`; the move rule is two-rooms' ([`crate::geometry::move_point`]: stop
//! 1e-3 px before the first wall the step would enter, no sliding).
//!
//! # State, observations, readout
//! The true state is `(x, y, layout)` (px, px, layout id as a number) so that reward-free
//! data can mix layouts. Observations: `state` — `(x, y)`; `image` — `[2, H, W]` (W =
//! `image_res`, pixel side `s` = arena width / W, H = round(arena height / s)), channel 0 the
//! agent as a Gaussian blob `exp(−d²/(2σ²))` (σ = `blob_sigma`, zero beyond 4σ), channel 1
//! the fraction of the pixel covered by walls ([`arena::Arena::wall_image`]); row 0 is the
//! bottom (`y ≈ 0`) as in two-rooms. The readout is `(x, y)`. Only images show the walls, so
//! data from several layouts needs `obs = "image"`.
//!
//! # Tasks and success
//! [`tasks`]: start and goal in rooms at least `task.min_rooms_apart` doors apart in the door
//! graph, each uniform in its room at least [`crate::EPISODE_MARGIN`] px from the walls;
//! `task.max_steps` is the episode budget the agent's maze preset uses. Success: distance to
//! the goal ≤ `success_radius` px (the error is `(x − g_x, y − g_y)`; goals lie in the same
//! layout). Reward-free data: [`tasks::MazeWalk`], two-rooms' correlated random walk with
//! door steering, over the layouts `data_layouts`.

pub mod arena;
pub mod env;
pub mod layout;
pub mod render;
pub mod tasks;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{ActionSpace, BehaviourPolicy, Env, EnvSpec, Region, RegionKind, Task};
use crate::episodes::{EpisodeTrace, EPISODE_MARGIN};
use crate::error::EnvError;
use crate::two_rooms::ObsKind;

pub use arena::{Arena, Sizes};
pub use env::Maze;
pub use layout::{Door, Layout, RoomId};

/// Largest number of layouts in a family.
pub const MAX_LAYOUTS: usize = 64;
/// The most rooms along one side of the grid: bounds the layout's memory and the time to
/// validate it (all-pairs room distances) before either is spent.
pub const MAX_ROOMS_SIDE: usize = 32;

/// Settings of the test tasks of `[env] kind = "maze"` (`[env.task]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MazeTaskConfig {
    /// Smallest door-graph distance (rooms) between a task's start and goal (default 3).
    pub min_rooms_apart: usize,
    /// Episode budget in steps for the agent's maze preset (default 200).
    pub max_steps: usize,
}

impl Default for MazeTaskConfig {
    fn default() -> Self {
        MazeTaskConfig {
            min_rooms_apart: 3,
            max_steps: 200,
        }
    }
}

/// Settings of `[env] kind = "maze"` (each default in parentheses; module docs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MazeConfig {
    /// Rooms `[columns, rows]` (default `[4, 4]`).
    pub rooms: [usize; 2],
    /// Room pitch (px; default 32): a room's interior is `room_size − wall` px square.
    pub room_size: f32,
    /// Wall thickness (px; default 2).
    pub wall: f32,
    /// Door width (px; default 12).
    pub door: f32,
    /// Maximum action norm (px per step; default 2).
    pub max_step: f32,
    /// Number of generated layouts, ids `0..layouts` (default 8).
    pub layouts: usize,
    /// The layout of resets and tasks (default 0).
    pub layout: usize,
    /// The layout held out from training data (default 7).
    pub heldout_layout: usize,
    /// Layouts of the reward-free data (default empty: `layout` alone).
    pub data_layouts: Vec<usize>,
    /// Doors added to each generated spanning tree (default 2).
    pub extra_doors: usize,
    /// Explicit doors `[c0, r0, c1, r1]` replacing the generated doors of `layout` (default
    /// none).
    pub doors: Vec<[usize; 4]>,
    /// `state` or `image` (default state).
    pub obs: ObsKind,
    /// Image width in pixels (default 64).
    pub image_res: usize,
    /// Standard deviation of the agent's blob in images (px of the arena; default 2).
    pub blob_sigma: f32,
    /// Success: distance to the goal at most this (px; default 4.5).
    pub success_radius: f32,
    /// Test tasks.
    pub task: MazeTaskConfig,
}

impl Default for MazeConfig {
    fn default() -> Self {
        MazeConfig {
            rooms: [4, 4],
            room_size: 32.0,
            wall: 2.0,
            door: 12.0,
            max_step: 2.0,
            layouts: 8,
            layout: 0,
            heldout_layout: 7,
            data_layouts: Vec::new(),
            extra_doors: 2,
            doors: Vec::new(),
            obs: ObsKind::State,
            image_res: 64,
            blob_sigma: 2.0,
            success_radius: 4.5,
            task: MazeTaskConfig::default(),
        }
    }
}

impl MazeConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        self.validate_sizes()?;
        let id = |field: &'static str, v: usize| {
            if v < self.layouts {
                Ok(())
            } else {
                Err(EnvError::config(field, v, "a layout id < env.layouts"))
            }
        };
        id("env.layout", self.layout)?;
        id("env.heldout_layout", self.heldout_layout)?;
        for &k in &self.data_layouts {
            id("env.data_layouts", k)?;
        }
        let data = self.training_layouts();
        if data.contains(&self.heldout_layout) {
            return Err(EnvError::config(
                "env.data_layouts",
                format!("{data:?}"),
                "training layouts only: the held-out layout (env.heldout_layout) gives no data \
                 (list training layouts in env.data_layouts when env.layout is the held-out one)",
            ));
        }
        if data.len() > 1 && self.obs == ObsKind::State {
            return Err(EnvError::config(
                "env.data_layouts",
                format!("{data:?}"),
                "one layout with obs = \"state\" ((x, y) does not show the walls); use obs = \"image\" for several",
            ));
        }
        let heldout = self.layout_of(self.heldout_layout)?;
        for &k in &data {
            if self.layout_of(k)? == heldout {
                return Err(EnvError::config(
                    "env.heldout_layout",
                    self.heldout_layout,
                    "a layout whose doors differ from every training layout's",
                ));
            }
        }
        let k = self.task.min_rooms_apart;
        let diameter = self
            .layout_of(self.layout)?
            .diameter()
            .min(heldout.diameter());
        if k < 1 || k > diameter {
            return Err(EnvError::config(
                "env.task.min_rooms_apart",
                k,
                "at least 1 and at most the largest room distance of env.layout and env.heldout_layout",
            ));
        }
        if self.task.max_steps == 0 {
            return Err(EnvError::config("env.task.max_steps", 0, ">= 1"));
        }
        Ok(())
    }

    /// The size, count and observation fields.
    fn validate_sizes(&self) -> Result<(), EnvError> {
        if self
            .rooms
            .iter()
            .any(|&n| !(1..=MAX_ROOMS_SIDE).contains(&n))
        {
            return Err(EnvError::config(
                "env.rooms",
                format!("{:?}", self.rooms),
                "[columns, rows], both in [1, 32] (validation measures every layout's room \
                 distances, quadratic in the room count)",
            ));
        }
        if self.rooms[0] * self.rooms[1] < 2 {
            return Err(EnvError::config(
                "env.rooms",
                format!("{:?}", self.rooms),
                "at least two rooms",
            ));
        }
        for (field, v) in [
            ("env.room_size", self.room_size),
            ("env.wall", self.wall),
            ("env.door", self.door),
            ("env.max_step", self.max_step),
            ("env.blob_sigma", self.blob_sigma),
            ("env.success_radius", self.success_radius),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(EnvError::config(field, v, "a finite value > 0"));
            }
        }
        let inner = self.room_size - self.wall;
        if inner <= 2.0 * EPISODE_MARGIN {
            return Err(EnvError::config(
                "env.room_size",
                self.room_size,
                "more than env.wall + 8 px (room interiors hold task starts 4 px from the walls)",
            ));
        }
        if self.door >= inner {
            return Err(EnvError::config(
                "env.door",
                self.door,
                "less than the room interior env.room_size − env.wall",
            ));
        }
        if !(2..=MAX_LAYOUTS).contains(&self.layouts) {
            return Err(EnvError::config(
                "env.layouts",
                self.layouts,
                "an integer in [2, 64] (one layout is held out)",
            ));
        }
        if !(4..=512).contains(&self.image_res) {
            return Err(EnvError::config(
                "env.image_res",
                self.image_res,
                "an integer in [4, 512]",
            ));
        }
        Ok(())
    }

    /// The layouts of the reward-free data: `data_layouts`, or `[layout]` when it is empty.
    pub fn training_layouts(&self) -> Vec<usize> {
        if self.data_layouts.is_empty() {
            vec![self.layout]
        } else {
            self.data_layouts.clone()
        }
    }

    /// The pitch, wall and door sizes.
    pub fn sizes(&self) -> Sizes {
        Sizes {
            room: self.room_size,
            wall: self.wall,
            door: self.door,
        }
    }

    /// The door graph of layout `id`: generated from seed `id`, or `doors` for `layout` when
    /// given (checked: neighbouring rooms of the grid, every room reachable).
    pub fn layout_of(&self, id: usize) -> Result<Layout, EnvError> {
        let [cols, rows] = self.rooms;
        if id >= self.layouts {
            return Err(EnvError::config(
                "env.layout",
                id,
                "a layout id < env.layouts",
            ));
        }
        if id != self.layout || self.doors.is_empty() {
            return Ok(Layout::generate(cols, rows, self.extra_doors, id as u64));
        }
        let mut l = Layout::closed(cols, rows);
        for d in &self.doors {
            let (a, b) = ((d[0], d[1]), (d[2], d[3]));
            let door = Door::between(a, b)
                .filter(|_| a.0.max(b.0) < cols && a.1.max(b.1) < rows)
                .ok_or_else(|| {
                    EnvError::config(
                        "env.doors",
                        format!("{d:?}"),
                        "[c0, r0, c1, r1] joining two neighbouring rooms of the grid",
                    )
                })?;
            l.open(door);
        }
        if let Some(room) = l.unreachable_room() {
            return Err(EnvError::config(
                "env.doors",
                format!("room {room:?} unreachable from (0, 0)"),
                "doors that connect every room",
            ));
        }
        Ok(l)
    }

    /// The walls of layout `id` in px.
    pub fn arena(&self, id: usize) -> Result<Arena, EnvError> {
        Ok(Arena::new(self.sizes(), self.layout_of(id)?))
    }

    /// Image `[rows, columns]` in pixels and the pixel side (px of the arena).
    pub fn image_grid(&self) -> (usize, usize, f32) {
        let [cols, rows] = self.rooms;
        let w = cols as f32 * self.room_size + self.wall;
        let h = rows as f32 * self.room_size + self.wall;
        let px = w / self.image_res as f32;
        (((h / px).round() as usize).max(1), self.image_res, px)
    }

    /// `[2]` or `[2, H, W]`.
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.obs {
            ObsKind::State => vec![2],
            ObsKind::Image => {
                let (h, w, _) = self.image_grid();
                vec![2, h, w]
            }
        }
    }
}

impl EnvSpec for MazeConfig {
    fn kind(&self) -> &'static str {
        "maze"
    }

    fn validate(&self) -> Result<(), EnvError> {
        MazeConfig::validate(self)
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Maze::new(self.clone())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        MazeConfig::obs_shape(self)
    }

    /// Displacements of norm at most `max_step` px.
    fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 2,
            max_norm: self.max_step,
        }
    }

    /// `(x, y, layout)`.
    fn state_dim(&self) -> usize {
        3
    }

    fn observation_name(&self) -> &'static str {
        self.obs.name()
    }

    /// [`tasks::MazeWalk`] over [`MazeConfig::training_layouts`].
    fn behaviour(&self, data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(tasks::MazeWalk::new(self, data.clone())?))
    }

    /// [`tasks::tasks_in`] `layout`.
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        tasks::tasks_in(self, self.layout, n, seed)
    }

    /// The interior of every room of `layout`, named `room-c-r`.
    fn regions(&self) -> Vec<Region> {
        let Ok(arena) = self.arena(self.layout) else {
            return Vec::new();
        };
        let l = arena.layout();
        (0..l.rooms())
            .map(|i| {
                let (c, r) = l.room(i);
                let b = arena.interior((c, r));
                Region {
                    name: format!("room-{c}-{r}"),
                    kind: RegionKind::Area,
                    lo: vec![b.x0, b.y0],
                    hi: vec![b.x1, b.y1],
                }
            })
            .collect()
    }

    /// The position `(x, y)` in px.
    fn readout(&self, state: &[f32]) -> Vec<f32> {
        state.iter().take(2).copied().collect()
    }

    fn readout_names(&self) -> Vec<String> {
        vec!["x".into(), "y".into()]
    }

    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        render::render_episodes(self, traces, cols, path)
    }
}
