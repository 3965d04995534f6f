//! A trained run as a library object, for programs that drive the agent themselves (the Python
//! bindings, `crates/python`): encode observations with the run's encoder, roll its world
//! model out, and make one planning call from an observation to a goal observation with the
//! run's configured actor — the same modules and cost that `ami eval` builds for the `reach`
//! task. Also the other direction: a [`Dataset`] from plain arrays, to train a run on data
//! that did not come from `ami data` ([`dataset_from_arrays`]).
//!
//! All buffers are flat, row-major `f32` slices; each method documents its shapes.

use std::path::Path;

use ami_envs::Dataset;

use super::config::RunConfig;
use super::evaluate::{task_cost, world_model, AgentParts};
use super::learned::Learned;
use super::run_dir::RunDir;
use crate::cost::FixedCost;
use crate::cost_config::{CostContext, WorldReadout};
use crate::error::AgentError;
use crate::jepa_model::JepaWorldModel;
use crate::perception::Perception;
use crate::planner::Plan;
use crate::task::{Reach, TaskSpec};
use crate::world_model::WorldModel;

/// A run directory's trained world model, learned modules and configuration, loaded once.
pub struct TrainedRun {
    run: RunDir,
    cfg: RunConfig,
    model: JepaWorldModel,
    learned: Learned,
    readout: WorldReadout,
    fixed: std::sync::Arc<FixedCost>,
    obs_shape: Vec<usize>,
}

impl TrainedRun {
    /// Opens the run directory `root` (its `config.toml` and checkpoint) and loads what its
    /// actor needs (policy, critic, level 2, probe), as `ami eval` does. Nothing is written
    /// and the run is not locked.
    pub fn open(root: &Path) -> Result<Self, AgentError> {
        let run = RunDir::open(root)?;
        let cfg = run.read_config()?;
        cfg.validate()?;
        let model = world_model(&run, &cfg)?;
        let obs_shape = cfg.env.spec().obs_shape();
        let readout = AgentParts::readout_of(&run, &cfg)?;
        let learned = Learned::load(&run, &cfg)?;
        let fixed = cfg
            .cost
            .build_fixed(&Reach { safe: false }.guardrails(), &readout)?;
        Ok(TrainedRun {
            run,
            cfg,
            model,
            learned,
            readout,
            fixed,
            obs_shape,
        })
    }

    /// The run directory.
    pub fn root(&self) -> &Path {
        &self.run.root
    }

    /// The run's configuration (`config.toml`).
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    /// The run's linear state probe (`probe.json`: representation → true state), when fitted.
    pub fn probe(&self) -> Option<&crate::probe::StateProbe> {
        self.readout.probe.as_deref()
    }

    /// Shape of one observation (the environment's, e.g. `[2, 16, 16]` for two-rooms pixels).
    pub fn obs_shape(&self) -> &[usize] {
        &self.obs_shape
    }

    /// Length `A` of one action.
    pub fn action_dim(&self) -> usize {
        self.model.action_dim()
    }

    /// Dimension `D` of the representation.
    pub fn repr_dim(&self) -> usize {
        self.model.state_dim()
    }

    /// Planned actions per planning call (`agent.horizon`).
    pub fn horizon(&self) -> usize {
        self.cfg.agent.horizon
    }

    /// Bound on `‖a‖₂` of one action (the environment's action space).
    pub fn max_action_norm(&self) -> f32 {
        self.cfg.env.spec().action_space().max_norm
    }

    /// The encoder on a batch of observations.
    ///
    /// # Shapes
    /// `obs [n, obs_dim]` → `[n, D]`.
    pub fn encode(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError> {
        self.model.encode_batch(obs)
    }

    /// Open-loop rollouts of the world model from `n` start representations, one action
    /// sequence each, the start included: row `t` of rollout `i` is `s_{i,t}` with
    /// `s_{i,0} = s0_i`, `s_{i,t+1} = f(s_{i,t}, a_{i,t})` (each action held for
    /// `agent.action_repeat` predictor steps, as when planning).
    ///
    /// # Shapes
    /// `s0 [n, D]`, `actions [n, h, A]` → `[n, h + 1, D]`.
    pub fn rollout(&self, s0: &[f32], actions: &[f32], h: usize) -> Result<Vec<f32>, AgentError> {
        let (d, a) = (self.repr_dim(), self.action_dim());
        if s0.is_empty() || !s0.len().is_multiple_of(d) {
            return Err(AgentError::shape(
                "start representations",
                s0.len(),
                format!("[n, D={d}]"),
            ));
        }
        let n = s0.len() / d;
        if actions.len() != n * h * a {
            return Err(AgentError::shape(
                "actions",
                actions.len(),
                format!("[n={n}, h={h}, A={a}]"),
            ));
        }
        let mut out = Vec::with_capacity(n * (h + 1) * d);
        for (s, acts) in s0.chunks_exact(d).zip(actions.chunks_exact((h * a).max(1))) {
            out.extend_from_slice(s);
            if h > 0 {
                out.extend(self.model.rollout(s, acts, 1, h)?);
            }
        }
        Ok(out)
    }

    /// One planning call of the run's actor (`[agent]`, `[planner]`, with the policy, critic
    /// or level 2 it uses) from the observation `obs` towards the goal observation `goal`,
    /// with the cost of the `reach` task (the run's `[cost]`: its task terms measured against
    /// the encoded goal, its intrinsic and guardrail terms). The planner starts fresh (no
    /// warm start) from its seed plus `seed_offset` (`ami eval` uses `train.seed`): this is
    /// the first planning call of an `ami eval` episode from that observation to that goal.
    /// The agent executes the first `agent.replan_every` environment steps of the plan (each
    /// planned action held for `agent.action_repeat` steps), then plans again.
    ///
    /// # Shapes
    /// `obs [obs_dim]`, `goal [obs_dim]` → [`Plan`] with `actions [h, A]`.
    pub fn plan(&self, obs: &[f32], goal: &[f32], seed_offset: u64) -> Result<Plan, AgentError> {
        let s = self.model.encode(obs)?;
        let goal = self.model.encode(goal)?;
        let task = Reach { safe: false };
        let cost = task_cost(&self.cfg, &self.learned, &task).build_task(
            self.fixed.clone(),
            CostContext {
                goal: &goal,
                probe: self.readout.probe.as_ref(),
            },
        )?;
        let mut planner = self.learned.actor(&self.cfg, seed_offset)?;
        planner.reset();
        planner.plan(&s, &cost, &self.model)
    }
}

/// Trajectories as plain arrays, e.g. from another simulator or from numpy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryArrays {
    /// `[n_traj, traj_len + 1, *obs_shape]`.
    pub observations: Vec<f32>,
    /// `[n_traj, traj_len, A]`.
    pub actions: Vec<f32>,
    /// True states `[n_traj, traj_len + 1, S]` (for the state probe and evaluation only).
    pub states: Vec<f32>,
    /// Number of trajectories.
    pub n_traj: usize,
    /// Actions per trajectory.
    pub traj_len: usize,
}

/// The dataset `ami data` would have written for `arrays` in the environment of `cfg`: the
/// arrays must have the shapes of `cfg.env` (observation shape, `A`, `S`) and finite values;
/// errors name the array and the expected shape. `data_config` records `n_traj` and
/// `traj_len` (training reads only the arrays and `[env]`).
pub fn dataset_from_arrays(
    cfg: &RunConfig,
    arrays: TrajectoryArrays,
) -> Result<Dataset, AgentError> {
    let spec = cfg.env.spec();
    let (n, t) = (arrays.n_traj, arrays.traj_len);
    let obs_shape = spec.obs_shape();
    let (a_dim, s_dim) = (spec.action_space().dim, spec.state_dim());
    if n == 0 || t == 0 {
        return Err(AgentError::shape(
            "trajectories",
            n * t,
            "at least one trajectory of at least one action",
        ));
    }
    let obs_dim: usize = obs_shape.iter().product();
    for (name, data, per_step, steps, shape) in [
        (
            "observations",
            &arrays.observations,
            obs_dim,
            t + 1,
            format!("{obs_shape:?}"),
        ),
        ("actions", &arrays.actions, a_dim, t, format!("[A={a_dim}]")),
        (
            "states",
            &arrays.states,
            s_dim,
            t + 1,
            format!("[S={s_dim}]"),
        ),
    ] {
        if data.len() != n * steps * per_step {
            return Err(AgentError::shape(
                name,
                data.len(),
                format!(
                    "[n_traj={n}, {steps}, ...{shape}] for env {}",
                    cfg.env.kind()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(AgentError::NonFinite {
                what: format!("{name} at flat index {i}"),
            });
        }
    }
    let mut data_config = cfg.data.clone();
    data_config.trajectories = n;
    data_config.transitions = 0;
    data_config.traj_len = t;
    Ok(Dataset {
        observations: arrays.observations.into(),
        actions: arrays.actions,
        states: arrays.states,
        n_traj: n,
        traj_len: t,
        obs_shape,
        action_dim: a_dim,
        state_dim: s_dim,
        env_config: cfg.env.clone(),
        data_config,
    })
}
