//! `random-wall`: EB-JEPA's "random wall" two-rooms task (`facebookresearch/eb_jepa`, read in
//! its copy `vukrosic/eb_jepa`; REFERENCE.md §14, issue 18) — PLDM's task ([`crate::pldm`])
//! with the central wall and its door moved to a random [`Layout`] for every trajectory and
//! every test episode. Every fact names the EB-JEPA file it was read from (paths relative to
//! that repository; PLDM's own files are cited in [`crate::pldm`]).
//!
//! # Layouts
//! A layout is the wall's centre column `wall_x` and the door's centre row `door_y`, integers
//! drawn uniformly from `wall_x ∈ {20, …, 44}` and `door_y ∈ {10, …, 54}`
//! ([`draw_layout`]): `generate_wall_layouts` (`eb_jepa/datasets/two_rooms/utils.py`) lists
//! `range(wall_padding, img_size − wall_padding)` × `range(door_padding, img_size −
//! door_padding)` with `wall_padding: 20`, `door_padding: 10`, `img_size: 65` and
//! `fix_wall: false` (`examples/ac_video_jepa/cfgs/eval.yaml`), and `DotWall._generate_wall`
//! (`eb_jepa/datasets/two_rooms/env.py`) picks one of them uniformly. (The list holds every
//! pair twice, under a `v_` and an `h_` code that the environment treats alike, so the pairs
//! stay uniform.) The wall is 3 px wide and the door 8 px high as in PLDM (`wall_width: 3`,
//! `door_space: 4`), so the wall spans `x ∈ [wall_x − 1, wall_x + 1]` and the door
//! `y ∈ (door_y − 4, door_y + 4)`; the border lines, image size and blob are PLDM's
//! (`border_wall_loc: 5`, `dot_std: 1.3`, same file).
//!
//! # State, observations, move rules, success
//! The true state is `(x, y, wall_x, door_y)`: [`Env::reset_to`] restores the whole task and
//! goals carry their episode's layout. [`Env::goal_error`] is `(x − g_x, y − g_y)`, so the
//! success rules ([`TWO_ROOMS_RULES`]: distance ≤ 4.5 px, EB-JEPA's `eval_state` threshold,
//! reported as `success_rate`; PLDM's mean squared error < 1 as `success_rate_mse1`) see the
//! position only.
//! * `obs = "image"` (default): `[2, 65, 65]`, PLDM's agent channel and the wall channel of the
//!   state's layout ([`crate::pldm::observe::wall_image`]; `_render_walls` and
//!   `_render_dot_and_wall` in `env.py`); `pool = k > 1` averages both channels over `k × k`
//!   blocks as in `pldm` ([`crate::pldm::observe::block_average`]: `[2, ⌊65/k⌋, ⌊65/k⌋]`).
//! * `obs = "state"`: the state `(x, y, wall_x, door_y)` itself (for fast tests; EB-JEPA has
//!   none): the position alone would not show the wall.
//!
//! Moves follow PLDM's rules on the layout's geometry ([`crate::pldm::dynamics`]): in
//! evaluation a move that would cross a wall stops at the crossing and bounces back
//! (`DotWall._calculate_next_position` calls PLDM's `check_wall_intersect` with the layout's
//! `wall_x` and `hole_y`); in data a blocked move leaves the agent where it was.
//!
//! # Data ([`walk`]) and test protocol ([`tasks`])
//! See those modules: PLDM's generator on a layout drawn per trajectory, 35 % through the door;
//! EB-JEPA's start and goal in opposite rooms of a layout drawn per episode.

pub mod tasks;
pub mod walk;

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{check_dim, ActionSpace, BehaviourPolicy, Env, EnvSpec, NamedRule, Step, Task};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::pldm::{observe, Layout, MoveRule, PldmConfig, IMAGE_RES};
use crate::two_rooms::{ObsKind, TwoRoomsConfig};
use crate::two_rooms_env::TWO_ROOMS_RULES;

/// Smallest wall centre (`wall_padding: 20`).
pub const WALL_X_MIN: u32 = 20;
/// Largest wall centre (`img_size − wall_padding − 1` = 44).
pub const WALL_X_MAX: u32 = 44;
/// Smallest door centre (`door_padding: 10`).
pub const DOOR_Y_MIN: u32 = 10;
/// Largest door centre (`img_size − door_padding − 1` = 54).
pub const DOOR_Y_MAX: u32 = 54;
/// Length of the true state `(x, y, wall_x, door_y)`.
pub const STATE_DIM: usize = 4;

/// `[env] kind = "random-wall"`: the same keys and defaults as `pldm` ([`PldmConfig`]:
/// `obs`, `max_step` 2.45, `bounce_std` 0.5, `pool` 1); the layout is drawn, not configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct RandomWallConfig(pub PldmConfig);

impl RandomWallConfig {
    /// Shape of one observation: `[2, ⌊65/pool⌋, ⌊65/pool⌋]` or `[4]`.
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.0.obs {
            ObsKind::State => vec![STATE_DIM],
            ObsKind::Image => self.0.obs_shape(),
        }
    }

    /// The geometry of `layout` with this config's action bound and observation kind.
    pub fn geometry(&self, layout: Layout) -> TwoRoomsConfig {
        layout.geometry(self.0.max_step, self.0.obs)
    }
}

/// A layout drawn uniformly (module docs): `wall_x ~ U{20, …, 44}`, then
/// `door_y ~ U{10, …, 54}`.
pub fn draw_layout(rng: &mut StdRng) -> Layout {
    let wall_x = rng.gen_range(WALL_X_MIN..=WALL_X_MAX) as f32;
    let door_y = rng.gen_range(DOOR_Y_MIN..=DOOR_Y_MAX) as f32;
    Layout { wall_x, door_y }
}

/// Checks that `layout` is one of EB-JEPA's: integer `wall_x ∈ [20, 44]` and
/// `door_y ∈ [10, 54]` (the error names the coordinate, its value and the range).
pub fn check_layout(layout: Layout) -> Result<(), EnvError> {
    for (name, v, lo, hi) in [
        ("wall_x", layout.wall_x, WALL_X_MIN, WALL_X_MAX),
        ("door_y", layout.door_y, DOOR_Y_MIN, DOOR_Y_MAX),
    ] {
        if !(v.fract() == 0.0 && v >= lo as f32 && v <= hi as f32) {
            return Err(EnvError::InvalidPosition(format!(
                "random-wall state {name} = {v}: expected an integer in [{lo}, {hi}]"
            )));
        }
    }
    Ok(())
}

/// The position and layout of a state `(x, y, wall_x, door_y)` (checked: 4 values, a valid
/// layout; `what` names the state in errors).
pub fn parse_state(what: &str, state: &[f32]) -> Result<([f32; 2], Layout), EnvError> {
    check_dim(what, state, STATE_DIM)?;
    let layout = Layout {
        wall_x: state[2],
        door_y: state[3],
    };
    check_layout(layout)?;
    Ok(([state[0], state[1]], layout))
}

/// The running environment: configuration, move rule, the current layout (its geometry and
/// wall channel) and the agent's position.
#[derive(Debug, Clone)]
pub struct RandomWall {
    cfg: RandomWallConfig,
    rule: MoveRule,
    layout: Layout,
    geometry: TwoRoomsConfig,
    walls: Vec<f32>,
    pos: [f32; 2],
}

impl RandomWall {
    /// A validated environment in PLDM's layout (wall 32, door 10, one of EB-JEPA's) with the
    /// agent at `(16, 32)`, until a reset draws or sets another.
    pub fn new(cfg: RandomWallConfig, rule: MoveRule) -> Result<Self, EnvError> {
        cfg.0.validate()?;
        let mut env = RandomWall {
            geometry: cfg.geometry(Layout::PLDM),
            walls: Vec::new(),
            layout: Layout::PLDM,
            pos: [16.0, 32.0],
            cfg,
            rule,
        };
        env.set_layout(Layout::PLDM)?;
        Ok(env)
    }

    fn set_layout(&mut self, layout: Layout) -> Result<(), EnvError> {
        check_layout(layout)?;
        let geometry = self.cfg.geometry(layout);
        geometry.validate()?;
        self.walls = match self.cfg.0.obs {
            ObsKind::State => Vec::new(),
            ObsKind::Image => observe::wall_image(layout),
        };
        (self.geometry, self.layout) = (geometry, layout);
        Ok(())
    }

    /// The current layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The geometry of the current layout.
    pub fn geometry(&self) -> &TwoRoomsConfig {
        &self.geometry
    }

    fn observation(&self, pos: [f32; 2], layout: Layout) -> Vec<f32> {
        match self.cfg.0.obs {
            ObsKind::State => vec![pos[0], pos[1], layout.wall_x, layout.door_y],
            ObsKind::Image => {
                let full = if layout == self.layout {
                    observe::image_with_walls(pos, &self.walls)
                } else {
                    observe::image_with_walls(pos, &observe::wall_image(layout))
                };
                observe::block_average(&full, [2, IMAGE_RES, IMAGE_RES], self.cfg.0.pool)
            }
        }
    }
}

impl Env for RandomWall {
    fn obs_shape(&self) -> Vec<usize> {
        self.cfg.obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        EnvSpec::action_space(&self.cfg)
    }

    fn state_dim(&self) -> usize {
        STATE_DIM
    }

    /// A layout ([`draw_layout`]) and then a uniformly random free position in it, both from
    /// `StdRng::seed_from_u64(seed)` (`(12, 32)`, free in every layout, should sampling ever
    /// fail).
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let layout = draw_layout(&mut rng);
        self.set_layout(layout)
            .expect("draw_layout draws valid layouts");
        self.pos = self
            .geometry
            .sample_free(&mut rng, 0.0, None)
            .unwrap_or([12.0, 32.0]);
        self.observe()
    }

    /// Sets the layout and the position of `state = (x, y, wall_x, door_y)`; the position must
    /// be free in that layout.
    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let (p, layout) = parse_state("random-wall start state", state)?;
        if !self.cfg.geometry(layout).is_free(p) {
            return Err(EnvError::InvalidPosition(format!(
                "{p:?} is not in free space of the layout {layout:?}"
            )));
        }
        self.set_layout(layout)?;
        self.pos = p;
        Ok(self.observe())
    }

    /// Applies the instance's move rule in the current layout; `action` must have exactly 2
    /// finite values.
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        self.pos = self
            .rule
            .apply(&self.geometry, self.pos, action, self.cfg.0.bounce_std)?;
        Ok(Step {
            obs: self.observe(),
            state: self.state(),
        })
    }

    fn observe(&self) -> Vec<f32> {
        self.observation(self.pos, self.layout)
    }

    /// The observation of `state = (x, y, wall_x, door_y)`, drawn in that state's layout.
    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let (p, layout) = parse_state("random-wall state", state)?;
        Ok(self.observation(p, layout))
    }

    fn state(&self) -> Vec<f32> {
        vec![
            self.pos[0],
            self.pos[1],
            self.layout.wall_x,
            self.layout.door_y,
        ]
    }

    /// `(x − g_x, y − g_y)`: goals lie in the episode's layout.
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        state.iter().zip(goal).take(2).map(|(s, g)| s - g).collect()
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        TWO_ROOMS_RULES.to_vec()
    }
}

impl EnvSpec for RandomWallConfig {
    fn kind(&self) -> &'static str {
        "random-wall"
    }

    fn validate(&self) -> Result<(), EnvError> {
        self.0.validate()
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(RandomWall::new(
            self.clone(),
            MoveRule::Evaluation,
        )?))
    }

    /// The data rule: a blocked move leaves the agent where it was.
    fn build_for_data(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(RandomWall::new(self.clone(), MoveRule::Data)?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        RandomWallConfig::obs_shape(self)
    }

    /// Displacements of norm at most `max_step` (2.45 px: PLDM's and EB-JEPA's planner bound,
    /// `max_step_norm: float = 2.45` of `DotWall`).
    fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 2,
            max_norm: self.0.max_step,
        }
    }

    fn state_dim(&self) -> usize {
        STATE_DIM
    }

    fn observation_name(&self) -> &'static str {
        self.0.obs.name()
    }

    /// PLDM's generator on a layout drawn per trajectory ([`walk::RandomWallWalk`]).
    fn behaviour(&self, data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(walk::RandomWallWalk::new(
            self.clone(),
            data.clone(),
        )))
    }

    /// EB-JEPA's test protocol ([`tasks::test_tasks`]).
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        Ok(tasks::test_tasks(n, seed))
    }

    /// The whole state `(x, y, wall_x, door_y)`: the probe reads where the agent is and the
    /// layout it sees, and `objective.readout > 0` can supervise the representation with both
    /// (without it, the self-supervised terms keep no trace of the door: a linear read of
    /// `door_y` from 20 000- and 100 000-transition runs errs by 12.9 px, its spread).
    fn readout(&self, state: &[f32]) -> Vec<f32> {
        state.to_vec()
    }

    fn readout_names(&self) -> Vec<String> {
        vec!["x".into(), "y".into(), "wall_x".into(), "door_y".into()]
    }

    /// Pictures as two-rooms draws them (y upward), each episode in its own layout.
    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        crate::render::check_trace_states(traces, STATE_DIM, "(x, y, wall_x, door_y)", path)?;
        crate::render::render_episodes_png_with(traces, cols, path, &|tr| {
            let (_, layout) = parse_state("random-wall episode start", &tr.start)?;
            Ok(self.geometry(layout))
        })
    }
}
