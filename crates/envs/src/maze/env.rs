//! [`Maze`]: a running maze behind the [`Env`] seam (true state `(x, y, layout)`).

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::env::{check_dim, ActionSpace, Env, EnvSpec, NamedRule, Step};
use crate::episodes::SuccessRule;
use crate::error::EnvError;
use crate::two_rooms::ObsKind;

use super::{Arena, MazeConfig};

/// Blob pixels farther than this many σ from the agent are 0.
pub const BLOB_CUTOFF_SIGMAS: f32 = 4.0;

/// The environment: the configuration, every layout's walls, and the agent.
#[derive(Debug, Clone)]
pub struct Maze {
    cfg: MazeConfig,
    /// Walls of every layout id.
    arenas: Vec<Arena>,
    /// Wall image of every layout id (image observations only).
    wall_images: Vec<Vec<f32>>,
    pos: [f32; 2],
    layout: usize,
}

impl Maze {
    /// A validated maze with the agent at the centre of room `(0, 0)` of `layout`.
    pub fn new(cfg: MazeConfig) -> Result<Maze, EnvError> {
        cfg.validate()?;
        let arenas = (0..cfg.layouts)
            .map(|k| cfg.arena(k))
            .collect::<Result<Vec<_>, _>>()?;
        let wall_images = match cfg.obs {
            ObsKind::State => Vec::new(),
            ObsKind::Image => {
                let (h, w, px) = cfg.image_grid();
                arenas.iter().map(|a| a.wall_image(h, w, px)).collect()
            }
        };
        let c = arenas[cfg.layout].interior((0, 0));
        Ok(Maze {
            pos: [(c.x0 + c.x1) / 2.0, (c.y0 + c.y1) / 2.0],
            layout: cfg.layout,
            cfg,
            arenas,
            wall_images,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MazeConfig {
        &self.cfg
    }

    /// The walls of the current layout.
    pub fn arena(&self) -> &Arena {
        &self.arenas[self.layout]
    }

    /// Splits a true state into a free position and a layout id.
    fn parse(&self, what: &str, state: &[f32]) -> Result<([f32; 2], usize), EnvError> {
        check_dim(what, state, 3)?;
        let k = state[2];
        if !(k >= 0.0 && k.fract() == 0.0 && (k as usize) < self.cfg.layouts) {
            return Err(EnvError::InvalidPosition(format!(
                "{what}: layout {k} is not an id in 0..{}",
                self.cfg.layouts
            )));
        }
        let (p, k) = ([state[0], state[1]], k as usize);
        if !self.arenas[k].is_free(p) {
            return Err(EnvError::InvalidPosition(format!(
                "{what}: {p:?} is not in free space of layout {k}"
            )));
        }
        Ok((p, k))
    }

    /// The observation of the agent at `p` in layout `k` (module docs of [`super`]).
    ///
    /// # Shapes
    /// `[2]` (state) or `[2, H, W]` flattened (image).
    pub fn observe_at(&self, p: [f32; 2], k: usize) -> Vec<f32> {
        match self.cfg.obs {
            ObsKind::State => p.to_vec(),
            ObsKind::Image => {
                let (h, w, px) = self.cfg.image_grid();
                let mut out = vec![0f32; 2 * h * w];
                let sigma = self.cfg.blob_sigma;
                let reach = BLOB_CUTOFF_SIGMAS * sigma;
                let range = |v: f32, n: usize| {
                    let lo = ((v - reach) / px).floor().max(0.0) as usize;
                    let hi = (((v + reach) / px).ceil().max(0.0) as usize).min(n);
                    lo..hi
                };
                let inv = 1.0 / (2.0 * sigma * sigma);
                for i in range(p[1], h) {
                    for j in range(p[0], w) {
                        let c = [(j as f32 + 0.5) * px, (i as f32 + 0.5) * px];
                        let d2 = (c[0] - p[0]).powi(2) + (c[1] - p[1]).powi(2);
                        if d2 <= reach * reach {
                            out[i * w + j] = (-d2 * inv).exp();
                        }
                    }
                }
                out[h * w..].copy_from_slice(&self.wall_images[k]);
                out
            }
        }
    }
}

impl Env for Maze {
    fn obs_shape(&self) -> Vec<usize> {
        self.cfg.obs_shape()
    }

    fn action_space(&self) -> ActionSpace {
        EnvSpec::action_space(&self.cfg)
    }

    fn state_dim(&self) -> usize {
        3
    }

    /// A uniform free position of `layout` drawn from `StdRng::seed_from_u64(seed)` (the
    /// current position is kept should sampling ever fail, which it cannot for a valid
    /// config).
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        self.layout = self.cfg.layout;
        if let Ok(p) = self.arenas[self.layout].sample_free(&mut rng) {
            self.pos = p;
        }
        self.observe()
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let (p, k) = self.parse("maze start state", state)?;
        (self.pos, self.layout) = (p, k);
        Ok(self.observe())
    }

    /// Applies the move rule; `action` must have exactly 2 values `(dx, dy)`.
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        let a: [f32; 2] = action.try_into().map_err(|_| {
            EnvError::InvalidAction(format!("expected 2 values (dx, dy), got {}", action.len()))
        })?;
        self.pos = self.arena().transition(self.pos, a, self.cfg.max_step)?;
        Ok(Step {
            obs: self.observe(),
            state: self.state(),
        })
    }

    fn observe(&self) -> Vec<f32> {
        self.observe_at(self.pos, self.layout)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        let (p, k) = self.parse("maze state", state)?;
        Ok(self.observe_at(p, k))
    }

    fn state(&self) -> Vec<f32> {
        vec![self.pos[0], self.pos[1], self.layout as f32]
    }

    /// `(x − g_x, y − g_y)`: goals lie in the agent's layout.
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        state.iter().zip(goal).take(2).map(|(s, g)| s - g).collect()
    }

    /// Distance to the goal ≤ `success_radius`, reported as `success_rate`.
    fn success_rules(&self) -> Vec<NamedRule> {
        vec![NamedRule {
            name: "success_rate",
            rule: SuccessRule::Radius(self.cfg.success_radius),
        }]
    }
}
