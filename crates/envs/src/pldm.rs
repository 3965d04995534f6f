//! `pldm`: PLDM's exact two-rooms task (Sobal et al. 2025, code `vladisai/PLDM`, read in its
//! copy `zarifikram/PLDM`; REFERENCE.md §14, issue 18) — the fixed layout, its images, the
//! evaluation and data move rules, the reward-free data generator and the 100-episode test
//! protocol. Written from the facts below; every fact names the PLDM file it was read from
//! (paths relative to that repository).
//!
//! # Coordinates and layout
//! Positions are PLDM's, in px: `(x, y)` with pixel `(row i, column j)` of the 65 × 65 image
//! centred at the point `(x = j, y = i)` (`pldm_envs/wall/wall.py`, `_render_dot`:
//! `torch.linspace(0, img_size − 1, img_size)` for x and y, `meshgrid(indexing = "xy")`;
//! `img_size: 65` in `pldm_envs/wall/configs/good_quality_data.yaml`). The arena is
//! `[0, 64]²`, with, as walls:
//! * border lines at `x = 4`, `x = 60`, `y = 4`, `y = 60` (`border_wall_loc: 5`; lines at
//!   `border_wall_loc − 1` and `img_size − border_wall_loc`: `wall.py` `_render_walls`,
//!   `pldm_envs/wall/data/wall_utils.py` `check_wall_intersect`);
//! * the central wall `x ∈ [31, 33]` (`fix_wall_location: 32`, `wall_width: 3`, half width
//!   `wall_width // 2 = 1`) with the door `y ∈ [6, 14]` (`fix_door_location: 10`,
//!   `door_space: 4`; same config file).
//!
//! This is two-rooms' geometry ([`TwoRoomsConfig`], [`crate::geometry`]) with `size = 64`,
//! `border = 4`, `wall_thickness = 2`, `door_y = 10`, `door_height = 8`: free space is the open
//! square `(4, 60)²` minus the closed wall rectangles `[31, 33] × [0, 6]` and
//! `[31, 33] × [14, 64]` ([`Layout::PLDM`]; the move rules, images and data generator below
//! take any [`Layout`], which `random-wall` uses). (PLDM counts the door's end rows `y = 6` and `y = 14` as open; here
//! they belong to the wall, a difference of measure zero.) The left room is `x < 32`.
//!
//! # Observations ([`observe`])
//! `obs = "image"` (default): `[2, 65, 65]`, values PLDM's uint8 levels divided by 255.
//! Channel 0: the agent, `⌊255·exp(−‖c − p‖²/(2·1.3²))⌋ / 255` at pixel centre `c`
//! (`dot_std = 1.3`, the `.to(torch.uint8)` truncation of `wall.py` `_render_dot`); channel 1:
//! the walls, 1 on the border lines (rows and columns 4 and 60, across the whole image) and on
//! columns 31–33 outside the door rows 6–14 (up to the image edge), 0 elsewhere (`wall.py`
//! `_render_walls`). `obs = "state"`: the position `(x, y)` (for fast tests; PLDM has none).
//! `pool = k > 1` averages both channels over `k × k` blocks (`[2, ⌊65/k⌋, ⌊65/k⌋]`), which
//! is what a model pooling the full frames by `k` sees, at `1/k²` of the memory.
//!
//! # Actions and move rules ([`dynamics`])
//! Actions are displacements `(dx, dy)`, `p' = p + a` (`wall.py` `_generate_transition`),
//! clipped to `‖a‖ ≤ max_step` = 2.45 px, the bound PLDM's planner enforces
//! (`pldm/configs/wall/icml/*.yaml`: `eval_cfg.wall_planning.level1.max_step: 2.45`, applied by
//! `normalize_actions` in `pldm/planning/mpc.py`). Planners should use this bound (it is the
//! [`ActionSpace`]). PLDM's evaluation env declares a box of ±1.8 per axis (`max_step_norm =
//! action_upper_bd = 1.8` in `pldm_envs/wall/evaluation/create_envs.py`) but its `step` never
//! clips to it, so the executed actions are the planner's (norm ≤ 2.45).
//! * Evaluation ([`dynamics::eval_move`]): a move that would cross a wall stops at the
//!   crossing point and is bounced back by noise N(0, 0.5²) per axis whose component along the
//!   wall's normal points back to the agent's side; except at the door's jambs, the result is
//!   clamped to the agent's room and set 0.3 px inside where it reached a wall
//!   (`wall_utils.py` `check_wall_intersect`).
//! * Data ([`dynamics::data_move`]): a move that would cross or touch a wall leaves the agent
//!   where it was (`pldm_envs/wall/data/wall.py` `generate_transitions`).
//!
//! The bounce noise is drawn from `StdRng` seeded with a hash of the position and the action
//! ([`dynamics::bounce_seed`]), so an episode is a function of its start and actions: same
//! seed, same numbers.
//!
//! # Data ([`walk`]) and test protocol ([`tasks`])
//! See those modules. Success rules: [`crate::TWO_ROOMS_RULES`] — distance ≤ 4.5 px (EB-JEPA,
//! DINO-WM, `success_rate`) and mean squared coordinate error < 1 px² (PLDM: `wall.py` `step`,
//! `done = (p − target)².mean() < 1`; `success_rate_mse1`), each met at some step.

pub mod dynamics;
pub mod observe;
pub mod tasks;
pub mod walk;

use std::path::Path;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{
    check_dim, ActionSpace, BehaviourPolicy, Env, EnvSpec, NamedRule, Region, Step, Task,
};
use crate::episodes::EpisodeTrace;
use crate::error::EnvError;
use crate::two_rooms::{ObsKind, TwoRoomsConfig};
use crate::two_rooms_env::TWO_ROOMS_RULES;

/// Image side (pixels): PLDM's `img_size: 65`.
pub const IMAGE_RES: usize = 65;
/// Side of the arena `[0, SIZE]²` spanned by the pixel centres (px).
pub const SIZE: f32 = 64.0;
/// Border lines at `BORDER` and `SIZE − BORDER` (`border_wall_loc − 1` = 4).
pub const BORDER: f32 = 4.0;
/// Centre of the central wall (`fix_wall_location: 32`).
pub const WALL_X: f32 = 32.0;
/// Half width of the central wall (`wall_width // 2` = 1): `x ∈ [31, 33]`.
pub const WALL_HALF: f32 = 1.0;
/// Centre of the door (`fix_door_location: 10`).
pub const DOOR_Y: f32 = 10.0;
/// Half height of the door (`door_space: 4`): `y ∈ [6, 14]`.
pub const DOOR_HALF: f32 = 4.0;
/// Standard deviation of the agent's blob (`dot_std`, px).
pub const DOT_STD: f32 = 1.3;
/// PLDM's planner bound on the action norm (px per step).
pub const MAX_STEP: f32 = 2.45;
/// Standard deviation of the evaluation bounce noise (`torch.randn(2) * 0.5`).
pub const BOUNCE_STD: f32 = 0.5;
/// Distance from a wall a clamped bounce is set to (`left_wall + 0.3` etc.).
pub const BOUNCE_MARGIN: f32 = 0.3;

/// Where a PLDM-style layout puts its central wall and door: the wall's centre column
/// `wall_x` and the door's centre row `door_y` (px), with PLDM's wall half width
/// [`WALL_HALF`] and door half height [`DOOR_HALF`] (`wall_width: 3`, `door_space: 4`).
/// PLDM's fixed layout is [`Layout::PLDM`]; `random-wall` draws one per trajectory and per
/// test episode ([`crate::random_wall`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Centre of the central wall (px): the wall is `x ∈ [wall_x − 1, wall_x + 1]`.
    pub wall_x: f32,
    /// Centre of the door (px): the door is `y ∈ (door_y − 4, door_y + 4)`.
    pub door_y: f32,
}

impl Layout {
    /// PLDM's fixed layout (`fix_wall_location: 32`, `fix_door_location: 10`).
    pub const PLDM: Layout = Layout {
        wall_x: WALL_X,
        door_y: DOOR_Y,
    };

    /// The layout as two-rooms geometry (module docs: arena `[0, 64]²`, border lines at 4 and
    /// 60, this wall and door), with the action bound `max_step` and observation kind `obs`
    /// (its image settings are unused: [`observe`] draws PLDM's images).
    pub fn geometry(&self, max_step: f32, obs: ObsKind) -> TwoRoomsConfig {
        TwoRoomsConfig {
            size: SIZE,
            border: BORDER,
            wall_thickness: 2.0 * WALL_HALF,
            door_y: self.door_y,
            door_height: 2.0 * DOOR_HALF,
            max_step,
            obs,
            image_res: IMAGE_RES,
            blob_sigma: DOT_STD,
            hazards: Vec::new(),
            distractors: Default::default(),
            wall_x: Some(self.wall_x),
        }
    }
}

/// `[env] kind = "pldm"` (each default in parentheses; the layout is PLDM's and fixed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PldmConfig {
    /// `image` (`[2, 65, 65]`, default) or `state` (`(x, y)`).
    pub obs: ObsKind,
    /// Bound on the action norm (px per step; default 2.45, PLDM's planner bound).
    pub max_step: f32,
    /// Standard deviation of the evaluation bounce noise (px; default 0.5; 0 stops at the
    /// wall without noise).
    pub bounce_std: f32,
    /// Images averaged over `pool × pool` blocks ([`observe::block_average`]): `[2, ⌊65/pool⌋,
    /// ⌊65/pool⌋]` (default 1: PLDM's 65 × 65). What a model with `model.pool = pool` sees of
    /// the full frames, stored 16× smaller at `pool = 4`, so data sets of PLDM's sizes fit in
    /// memory.
    pub pool: usize,
}

impl Default for PldmConfig {
    fn default() -> Self {
        PldmConfig {
            obs: ObsKind::Image,
            max_step: MAX_STEP,
            bounce_std: BOUNCE_STD,
            pool: 1,
        }
    }
}

impl PldmConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), EnvError> {
        if !(self.max_step.is_finite() && self.max_step > 0.0) {
            return Err(EnvError::config(
                "env.max_step",
                self.max_step,
                "a finite value > 0",
            ));
        }
        if !(self.bounce_std.is_finite() && self.bounce_std >= 0.0) {
            return Err(EnvError::config(
                "env.bounce_std",
                self.bounce_std,
                "a finite value >= 0",
            ));
        }
        if self.pool == 0 || self.pool > IMAGE_RES {
            return Err(EnvError::config(
                "env.pool",
                self.pool,
                "an integer in 1..=65 (block side of the image averaging)",
            ));
        }
        Ok(())
    }

    /// PLDM's layout as two-rooms geometry (module docs), with this config's action bound and
    /// observation kind (its image settings are unused: [`observe`] draws PLDM's images).
    pub fn geometry(&self) -> TwoRoomsConfig {
        Layout::PLDM.geometry(self.max_step, self.obs)
    }

    /// Shape of one observation: `[2, ⌊65/pool⌋, ⌊65/pool⌋]` or `[2]`.
    pub fn obs_shape(&self) -> Vec<usize> {
        match self.obs {
            ObsKind::State => vec![2],
            ObsKind::Image => {
                let side = IMAGE_RES / self.pool.max(1);
                vec![2, side, side]
            }
        }
    }
}

/// Which move rule a [`Pldm`] instance applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveRule {
    /// Stop at the crossing and bounce ([`dynamics::eval_move`]).
    Evaluation,
    /// Stay where it was ([`dynamics::data_move`]).
    Data,
}

impl MoveRule {
    /// The position after `action` from `pos` in `geometry` under this rule (bounce noise of
    /// standard deviation `bounce_std` for [`MoveRule::Evaluation`]); `action` must have
    /// exactly 2 finite values.
    pub fn apply(
        self,
        geometry: &TwoRoomsConfig,
        pos: [f32; 2],
        action: &[f32],
        bounce_std: f32,
    ) -> Result<[f32; 2], EnvError> {
        let a: [f32; 2] = action.try_into().map_err(|_| {
            EnvError::InvalidAction(format!("expected 2 values (dx, dy), got {}", action.len()))
        })?;
        if !a.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidAction(format!("{a:?} is not finite")));
        }
        Ok(match self {
            MoveRule::Evaluation => dynamics::eval_move(geometry, pos, a, bounce_std),
            MoveRule::Data => dynamics::data_move(geometry, pos, a),
        })
    }
}

/// The running environment: configuration, geometry, move rule and the agent's position.
#[derive(Debug, Clone)]
pub struct Pldm {
    cfg: PldmConfig,
    geometry: TwoRoomsConfig,
    rule: MoveRule,
    walls: Vec<f32>,
    pos: [f32; 2],
}

impl Pldm {
    /// A validated environment with the agent at the centre of the left room.
    pub fn new(cfg: PldmConfig, rule: MoveRule) -> Result<Self, EnvError> {
        cfg.validate()?;
        let geometry = cfg.geometry();
        geometry.validate()?;
        Ok(Pldm {
            walls: observe::wall_image(Layout::PLDM),
            pos: [16.0, 32.0],
            cfg,
            geometry,
            rule,
        })
    }

    /// The geometry (two-rooms form of PLDM's layout).
    pub fn geometry(&self) -> &TwoRoomsConfig {
        &self.geometry
    }

    /// The agent's position (for evaluation only).
    pub fn position(&self) -> [f32; 2] {
        self.pos
    }

    fn position_of(what: &str, state: &[f32]) -> Result<[f32; 2], EnvError> {
        check_dim(what, state, 2)?;
        Ok([state[0], state[1]])
    }

    fn observation(&self, pos: [f32; 2]) -> Vec<f32> {
        match self.cfg.obs {
            ObsKind::State => pos.to_vec(),
            ObsKind::Image => observe::block_average(
                &observe::image_with_walls(pos, &self.walls),
                [2, IMAGE_RES, IMAGE_RES],
                self.cfg.pool,
            ),
        }
    }
}

impl Env for Pldm {
    fn obs_shape(&self) -> Vec<usize> {
        self.cfg.obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        EnvSpec::action_space(&self.cfg)
    }

    fn state_dim(&self) -> usize {
        2
    }

    /// A uniformly random free position from `StdRng::seed_from_u64(seed)` (the centre of the
    /// left room should sampling ever fail).
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        self.pos = self
            .geometry
            .sample_free(&mut rng, 0.0, None)
            .unwrap_or([16.0, 32.0]);
        self.observe()
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let p = Self::position_of("pldm start state", state)?;
        if !self.geometry.is_free(p) {
            return Err(EnvError::InvalidPosition(format!(
                "{p:?} is not in free space"
            )));
        }
        self.pos = p;
        Ok(self.observe())
    }

    /// Applies the instance's move rule; `action` must have exactly 2 finite values.
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        self.pos = self
            .rule
            .apply(&self.geometry, self.pos, action, self.cfg.bounce_std)?;
        Ok(Step {
            obs: self.observe(),
            state: self.pos.to_vec(),
        })
    }

    fn observe(&self) -> Vec<f32> {
        self.observation(self.pos)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        Ok(self.observation(Self::position_of("pldm state", state)?))
    }

    fn state(&self) -> Vec<f32> {
        self.pos.to_vec()
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        TWO_ROOMS_RULES.to_vec()
    }
}

impl EnvSpec for PldmConfig {
    fn kind(&self) -> &'static str {
        "pldm"
    }

    fn validate(&self) -> Result<(), EnvError> {
        PldmConfig::validate(self)
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Pldm::new(self.clone(), MoveRule::Evaluation)?))
    }

    /// The data rule: a blocked move leaves the agent where it was.
    fn build_for_data(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Pldm::new(self.clone(), MoveRule::Data)?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        PldmConfig::obs_shape(self)
    }

    /// Displacements of norm at most `max_step` (2.45 px: PLDM's planner bound).
    fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 2,
            max_norm: self.max_step,
        }
    }

    fn state_dim(&self) -> usize {
        2
    }

    fn observation_name(&self) -> &'static str {
        self.obs.name()
    }

    /// PLDM's generator ([`walk::PldmWalk`]).
    fn behaviour(&self, data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(walk::PldmWalk::new(self.geometry(), data.clone())))
    }

    /// PLDM's test protocol ([`tasks::test_tasks`]).
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        Ok(tasks::test_tasks(n, seed))
    }

    /// `left-room` and `right-room` (their free space).
    fn regions(&self) -> Vec<Region> {
        self.geometry().regions()
    }

    /// The position `(x, y)` in px.
    fn readout_names(&self) -> Vec<String> {
        vec!["x".into(), "y".into()]
    }

    /// Pictures as two-rooms draws them (y upward, so the door is near the bottom).
    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        crate::render::render_episodes_png(&self.geometry(), traces, cols, path)
    }
}
