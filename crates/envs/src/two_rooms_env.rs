//! Two-rooms behind the environment seam: [`Env`] for [`TwoRooms`] (true state = position
//! `(x, y)` in px) and [`EnvSpec`] for [`TwoRoomsConfig`].

use std::path::Path;

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::data::{DataConfig, TwoRoomsWalk};
use crate::distractors::Distractors;
use crate::env::{
    check_dim, ActionSpace, BehaviourPolicy, Env, EnvSpec, NamedRule, Region, RegionKind, Step,
    Task,
};
use crate::episodes::{test_episodes, EpisodeTrace, SuccessRule};
use crate::error::EnvError;
use crate::render::render_episodes_png;
use crate::two_rooms::{TwoRooms, TwoRoomsConfig};

/// The rules of the literature: within 4.5 px (DINO-WM, EB-JEPA) and mean squared coordinate
/// error below 1 px² (PLDM).
pub const TWO_ROOMS_RULES: [NamedRule; 2] = [
    NamedRule {
        name: "success_rate",
        rule: SuccessRule::Radius(4.5),
    },
    NamedRule {
        name: "success_rate_mse1",
        rule: SuccessRule::Mse(1.0),
    },
];

fn position(what: &str, state: &[f32]) -> Result<[f32; 2], EnvError> {
    check_dim(what, state, 2)?;
    Ok([state[0], state[1]])
}

impl Env for TwoRooms {
    fn obs_shape(&self) -> Vec<usize> {
        self.config().obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        self.config().action_space()
    }

    fn state_dim(&self) -> usize {
        2
    }

    /// Places the agent uniformly at random in free space (`StdRng::seed_from_u64(seed)`).
    /// Should sampling ever fail (it cannot for a validated config), the agent is placed at
    /// the centre of the left room.
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let cfg = self.config();
        let p = cfg
            .sample_free(&mut rng, 0.0, None)
            .unwrap_or([cfg.size / 4.0, cfg.size / 2.0]);
        // `p` is free by construction.
        let _ = self.place_at(p);
        TwoRooms::observe(self)
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        self.place_at(position("two-rooms start state", state)?)?;
        Ok(TwoRooms::observe(self))
    }

    /// Applies the move rule; `action` must have exactly 2 values `(dx, dy)`.
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        let a: [f32; 2] = action.try_into().map_err(|_| {
            EnvError::InvalidAction(format!("expected 2 values (dx, dy), got {}", action.len()))
        })?;
        let p = TwoRooms::step(self, a)?;
        Ok(Step {
            obs: TwoRooms::observe(self),
            state: p.to_vec(),
        })
    }

    fn observe(&self) -> Vec<f32> {
        TwoRooms::observe(self)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let p = position("two-rooms state", state)?;
        Ok(self.config().observe_with(p, Distractors::goal_key(state)))
    }

    fn state(&self) -> Vec<f32> {
        self.position().to_vec()
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        TWO_ROOMS_RULES.to_vec()
    }

    fn violation(&self, state: &[f32]) -> bool {
        state.len() == 2 && self.config().in_hazard([state[0], state[1]])
    }
}

impl TwoRoomsConfig {
    /// The rooms (`left-room`, `right-room`: their free space) and the hazards (`hazard-k`).
    pub fn regions(&self) -> Vec<Region> {
        let (s, b, half) = (self.size, self.border, self.wall_thickness / 2.0);
        let area = |name: &str, x0: f32, x1: f32| Region {
            name: name.into(),
            kind: RegionKind::Area,
            lo: vec![x0, b],
            hi: vec![x1, s - b],
        };
        let mut out = vec![
            area("left-room", b, s / 2.0 - half),
            area("right-room", s / 2.0 + half, s - b),
        ];
        out.extend(self.hazards.iter().enumerate().map(|(k, h)| Region {
            name: format!("hazard-{k}"),
            kind: RegionKind::Hazard,
            lo: vec![h.x0, h.y0],
            hi: vec![h.x1, h.y1],
        }));
        out
    }

    /// `n` free goal positions at least `EPISODE_MARGIN` from walls (and
    /// `HAZARD_TASK_MARGIN` from hazards), drawn from `StdRng::seed_from_u64(seed)`.
    pub fn goal_states(&self, n: usize, seed: u64) -> Result<Vec<Vec<f32>>, EnvError> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                Ok(self
                    .sample_free(&mut rng, crate::episodes::EPISODE_MARGIN, None)?
                    .to_vec())
            })
            .collect()
    }
}

impl TwoRoomsConfig {
    /// Displacements of norm at most `max_step` px.
    pub fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 2,
            max_norm: self.max_step,
        }
    }
}

impl EnvSpec for TwoRoomsConfig {
    fn kind(&self) -> &'static str {
        "two-rooms"
    }

    fn validate(&self) -> Result<(), EnvError> {
        TwoRoomsConfig::validate(self)
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(TwoRooms::new(self.clone())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        TwoRoomsConfig::obs_shape(self)
    }

    fn action_space(&self) -> ActionSpace {
        TwoRoomsConfig::action_space(self)
    }

    fn state_dim(&self) -> usize {
        2
    }

    fn observation_name(&self) -> &'static str {
        self.obs.name()
    }

    fn behaviour(&self, data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(TwoRoomsWalk::new(self.clone(), data.clone())))
    }

    /// Start in one room, goal in the other ([`test_episodes`]).
    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        Ok(test_episodes(self, n, seed)?
            .iter()
            .map(|e| e.task())
            .collect())
    }

    fn regions(&self) -> Vec<Region> {
        TwoRoomsConfig::regions(self)
    }

    /// The position `(x, y)` in px.
    fn readout_names(&self) -> Vec<String> {
        vec!["x".into(), "y".into()]
    }

    fn goal_states(&self, n: usize, seed: u64) -> Result<Vec<Vec<f32>>, EnvError> {
        TwoRoomsConfig::goal_states(self, n, seed)
    }

    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        render_episodes_png(self, traces, cols, path)
    }

    fn video_frame(
        &self,
        trace: &EpisodeTrace,
        t: usize,
        imagined: &[Vec<f32>],
    ) -> Result<Option<ami_io::raster::Canvas>, EnvError> {
        crate::render::render_video_frame(self, trace, t, imagined).map(Some)
    }
}
