//! `ami-envs`: environments, reward-free datasets and their files, and pictures.
//!
//! # The two-rooms task (PLDM)
//! A point agent moves in a 64×64 px arena with a 2 px border and a vertical central wall
//! (`x ∈ [31, 33]`) pierced by one door (`y ∈ (26, 38)`). Observations are the position
//! `[x, y]` or a 2-channel image (agent blob, walls). Actions are displacements `(dx, dy)`.
//!
//! **Move rule** ([`two_rooms`]): the action is clipped to norm ≤ `max_step` (2 px) by
//! scaling; the agent moves along the segment `p → p + a`; if the segment enters an obstacle
//! it stops at the earliest entry point moved back by 1e-3 px along the segment (no sliding).
//! Non-finite actions are errors; positions are always in free space.
//!
//! **Success rules** ([`episodes`]): `Radius(4.5)` — Euclidean distance to the goal ≤ 4.5 px
//! (DINO-WM, EB-JEPA); `Mse(1.0)` — mean over the two coordinates of the squared error < 1 px²
//! (PLDM). Test episodes start in one room with the goal in the other.
//!
//! # Environments behind one seam
//! [`Env`] (a running instance) and [`EnvSpec`] (what its configuration knows: observation
//! shape, action space, behaviour policy for reward-free data, test tasks, success rules,
//! pictures); [`EnvConfig`] registers every environment under a `kind`: `two-rooms` and
//! `pendulum` (Gymnasium's `Pendulum-v1`, [`pendulum`]), `two-rooms-hazards` (forbidden
//! regions, [`two_rooms_hazards`]), `highway` (an ego car among stochastic drivers,
//! continuous or discrete meta-actions, [`highway`]), `maze` (the point agent in a grid of
//! rooms joined by doors, several layouts with one held out, [`maze`]) and `pldm` (PLDM's
//! exact two-rooms task: its 65 × 65 images, move rules, data generator and test protocol,
//! [`pldm`]), `cartpole` (Gymnasium's `CartPole-v1` with a continuous force, [`cartpole`]),
//! and `gym` / `dmc` (any Gymnasium or DeepMind Control environment on a Python env server
//! in a subprocess: [`gym`], [`dmc`], [`bridge`]).
//!
//! # Modules
//! * [`two_rooms`] — geometry and move rule; [`observation`] — state and image observations;
//!   [`two_rooms_env`] — two-rooms behind the seam; [`mod@env`] — the traits;
//!   [`registry`] — [`EnvConfig`].
//! * [`highway`] — road, ego kinematics and meta-actions ([`highway::sim`]), IDM drivers with
//!   hidden modes ([`highway::drivers`]), the state layout and collision rule
//!   ([`highway::state`]), observations ([`highway::observe`]), task starts and the behaviour
//!   policy ([`highway::tasks`]), pictures ([`highway::render`]).
//! * [`maze`] — door graphs and their generation ([`maze::layout`]), walls and move rule in px
//!   ([`maze::arena`]), the running env ([`maze::env`]), tasks and the behaviour policy
//!   ([`maze::tasks`]), pictures ([`maze::render`]).
//! * [`pldm`] — PLDM's layout on two-rooms' geometry, its images ([`pldm::observe`]), the
//!   evaluation and data move rules ([`pldm::dynamics`]), the test protocol ([`pldm::tasks`])
//!   and the data generator ([`pldm::walk`]).
//! * [`episodes`] — fixed test episodes, success rules, episode traces.
//! * [`data`] — the correlated random-walk generator of reward-free trajectories
//!   ([`sampling`] has its von Mises and truncated-normal draws).
//! * [`dataset_file`] — datasets as numpy `.npz` files with a JSON sidecar, written atomically,
//!   validated on load. The file formats themselves live in `ami-io` (re-exported here as
//!   [`npy`], [`npz`], [`atomic`] and at the crate root, so `ami_envs::read_npz` etc. work).
//! * [`render`] — PNG pictures of episodes and observations.
//! * [`images`] — procedural image and video sets with known factors (`shapes`,
//!   `moving-shapes`) for self-supervised learning on offline data.

pub mod bridge;
pub mod cartpole;
pub mod data;
pub mod dataset_file;
pub mod dataset_memory;
pub mod distractors;
pub mod dmc;
pub mod env;
pub mod episodes;
pub mod error;
pub mod geometry;
pub mod gym;
pub mod highway;
pub mod images;
pub mod maze;
pub mod observation;
pub mod pendulum;
pub mod pldm;
pub mod random_wall;
pub mod registry;
pub mod render;
pub mod sampling;
pub mod two_rooms;
pub mod two_rooms_env;
pub mod two_rooms_hazards;

pub use ami_io::{atomic, npy, npz};
pub use ami_io::{
    read_npy, read_npy_f64, read_npz, write_npy, write_npy_f64, write_npz, write_png, IoError,
    NpyArray, NpyArrayF64,
};
pub use cartpole::{Cartpole, CartpoleConfig};
pub use data::{generate, DataConfig, Dataset, TwoRoomsWalk};
pub use distractors::Distractors;
pub use dmc::DmcConfig;
pub use env::{
    clip_to_ball, ActionSpace, Baseline, BehaviourPolicy, Env, EnvSpec, NamedRule, Region,
    RegionKind, Step, Task,
};
pub use episodes::{
    is_success, test_episodes, EpisodeTrace, SuccessRule, TestEpisode, EPISODE_MARGIN,
};
pub use error::EnvError;
pub use gym::GymConfig;
pub use highway::{ActionMode, Highway, HighwayConfig, MetaAction};
pub use images::{ImageData, ImageSidecar, MovingShapesConfig, ShapesConfig, IMAGE_KINDS};
pub use maze::{Maze, MazeConfig};
pub use observation::PixelGrid;
pub use pendulum::{Pendulum, PendulumConfig};
pub use pldm::{Pldm, PldmConfig};
pub use random_wall::{RandomWall, RandomWallConfig};
pub use registry::EnvConfig;
pub use render::{render_episodes_png, render_observation_png};
pub use sampling::{fnv1a_f32, von_mises};
pub use two_rooms::{observe_at, ObsKind, Rect, Room, TwoRooms, TwoRoomsConfig};
pub use two_rooms_env::TWO_ROOMS_RULES;
pub use two_rooms_hazards::{TwoRoomsHazardsConfig, DEFAULT_HAZARDS};
