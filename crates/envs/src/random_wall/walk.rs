//! The reward-free data generator of `random-wall`: PLDM's generator ([`PldmWalk`]; its
//! module docs give the walk, the steered door crossings and the crossing test) on a layout
//! drawn per trajectory ([`super::draw_layout`]), as EB-JEPA's `WallDataset` does with
//! `fix_wall: false` (`eb_jepa/datasets/two_rooms/wall_dataset.py`: `sample_walls` picks one
//! layout uniformly per sample, and the door point of a steered trajectory is sampled about
//! its own `wall_locs` and `door_locs`).
//!
//! The share of trajectories through the door is `data.door_crossing_rate`; EB-JEPA's is
//! `cross_wall_rate: 0.35` (`eb_jepa/datasets/two_rooms/data_config.yaml` and
//! `examples/ac_video_jepa/cfgs/eval.yaml`), which the `random-wall` preset sets. EB-JEPA
//! steers a sample with probability 0.35 (`np.random.rand() < cross_wall_rate` in
//! `generate_state_and_actions`) and keeps it whether or not it crosses; here, as in `pldm`,
//! the rate is the exact fraction that crosses (steered draws that miss, and plain draws that
//! cross, are redrawn). The door
//! point and the crossing test (`min x < wall_x − 1`, `max x > wall_x + 1`) follow the
//! trajectory's layout. EB-JEPA's trajectories have 91 states (`n_steps: 91`) and it trains
//! on 17-state windows of them (`sample_length: 17`); here `data.traj_len` = 90 gives the 91
//! states and the training window is the model's own setting.
//!
//! Each trajectory takes, from the generator's stream, the layout (wall x, then door y) and
//! then PLDM's draws ([`PldmWalk::draw`]).

use rand::rngs::StdRng;

use crate::data::DataConfig;
use crate::env::BehaviourPolicy;
use crate::error::EnvError;
use crate::pldm::walk::PldmWalk;
use crate::pldm::Layout;

use super::{draw_layout, RandomWallConfig};

/// One trajectory: its layout, start and `T` actions.
pub type Trajectory = (Layout, [f32; 2], Vec<[f32; 2]>);

/// PLDM's generator on a random layout per trajectory (module docs).
pub struct RandomWallWalk {
    env: RandomWallConfig,
    cfg: DataConfig,
    actions: Vec<[f32; 2]>,
}

impl RandomWallWalk {
    /// The generator with `cfg`'s settings and `env`'s action bound.
    pub fn new(env: RandomWallConfig, cfg: DataConfig) -> Self {
        RandomWallWalk {
            env,
            cfg,
            actions: Vec::new(),
        }
    }

    /// PLDM's generator on `layout`.
    pub fn walk_in(&self, layout: Layout) -> PldmWalk {
        PldmWalk::new(self.env.geometry(layout), self.cfg.clone())
    }

    /// Draws one trajectory: a layout, then PLDM's trajectory in it.
    pub fn draw(&self, rng: &mut StdRng) -> Result<Trajectory, EnvError> {
        let layout = draw_layout(rng);
        let (start, actions) = self.walk_in(layout).draw(rng)?;
        Ok((layout, start, actions))
    }
}

impl BehaviourPolicy for RandomWallWalk {
    /// Draws the whole trajectory ([`RandomWallWalk::draw`]) and returns its start state
    /// `(x, y, wall_x, door_y)`.
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let (layout, start, actions) = self.draw(rng)?;
        self.actions = actions;
        Ok(vec![start[0], start[1], layout.wall_x, layout.door_y])
    }

    /// The `t`-th action of the drawn trajectory.
    fn act(&mut self, t: usize, _state: &[f32], _rng: &mut StdRng) -> Vec<f32> {
        self.actions.get(t).map_or(vec![0.0, 0.0], |a| a.to_vec())
    }
}
