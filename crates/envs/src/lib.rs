//! `ami-envs`: environments, reward-free datasets and their files, and pictures.
//!
//! * [`two_rooms`] — the PLDM two-rooms navigation task: geometry, move rule, observations.
//! * [`episodes`] — the 100 fixed test episodes and the two success rules of the literature
//!   (distance ≤ 4.5 px; mean squared coordinate error < 1 px²).
//! * [`data`] — the correlated random-walk generator of reward-free trajectories.
//! * [`npz`], [`dataset_file`] — numpy-compatible files, written atomically, validated on load.
//! * [`render`] — PNG pictures of episodes and observations.

pub mod atomic;
pub mod data;
pub mod dataset_file;
pub mod episodes;
pub mod error;
pub mod npz;
pub mod render;
pub mod two_rooms;

pub use data::{generate, von_mises, DataConfig, Dataset};
pub use episodes::{test_episodes, EpisodeTrace, SuccessRule, TestEpisode, EPISODE_MARGIN};
pub use error::EnvError;
pub use npz::{read_npy, read_npz, write_npy, write_npz, NpyArray};
pub use render::{render_episodes_png, render_observation_png, write_png};
pub use two_rooms::{observe_at, ObsKind, Rect, Room, TwoRooms, TwoRoomsConfig};
