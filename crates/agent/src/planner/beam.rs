//! Beam search over a discrete action set (e.g. highway's meta-actions LANE_LEFT, IDLE,
//! LANE_RIGHT, FASTER, SLOWER, [`ami_envs::EnvSpec::action_set`]).
//!
//! With actions `M = {m_1, …, m_|M|}` and beam width `B`: start from the empty sequence; at
//! depth `t = 1..h` extend every kept sequence by every action, roll the `B·|M|` sequences of
//! length `t` out from `s0`, cost them (on every latent branch with the cost's risk when the
//! world model has several: [`super::evaluate_branches`]) and keep the `B` cheapest that no
//! guardrail rejects — the cheapest rejected ones only when fewer than `B` are safe, ranked
//! after every safe one. The plan is the cheapest kept sequence of length `h`; if a guardrail
//! rejects it, the stop plan is returned with `Plan::safe = false` ([`super::final_plan`]).
//!
//! With `B ≥ |M|^{h−1}` nothing is ever dropped and the search is exhaustive: the plan is the
//! optimum over all `|M|^h` sequences. Deterministic: no random stream, no warm start.

use serde::{Deserialize, Serialize};

use super::{check_plan_inputs, final_plan, Plan, Planner, SampleBuffers};
use crate::cost::Cost;
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// Settings of [`Beam`] (`[planner] kind = "beam"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeamConfig {
    /// Planning horizon `h` (default 8). Not a key: a run takes it from `[agent] horizon`.
    #[serde(skip)]
    pub horizon: usize,
    /// Sequences kept per depth `B` (default 16).
    pub beam_width: usize,
    /// The discrete actions, as vectors of the action space. Not a key: a run takes them
    /// from the environment ([`ami_envs::EnvSpec::action_set`]).
    #[serde(skip)]
    pub actions: Vec<Vec<f32>>,
}

impl Default for BeamConfig {
    fn default() -> Self {
        BeamConfig {
            horizon: 8,
            beam_width: 16,
            actions: Vec::new(),
        }
    }
}

impl BeamConfig {
    /// Checks the settings (errors name the key).
    pub fn validate(&self) -> Result<(), AgentError> {
        if self.beam_width == 0 {
            return Err(AgentError::config("planner.beam_width", 0, ">= 1"));
        }
        if self.horizon == 0 {
            return Err(AgentError::config("agent.horizon", 0, ">= 1"));
        }
        Ok(())
    }
}

/// Beam search planner (module docs).
#[derive(Debug, Clone)]
pub struct Beam {
    cfg: BeamConfig,
    buf: SampleBuffers,
}

impl Beam {
    /// A beam search over `cfg.actions` (at least one action, all of one length).
    pub fn new(cfg: BeamConfig) -> Result<Self, AgentError> {
        cfg.validate()?;
        let dim = cfg.actions.first().map(Vec::len).ok_or_else(|| {
            AgentError::config_source(
                "planner.kind",
                "`beam` searches a discrete action set, and this environment has none (highway: \
                 set env.actions = \"discrete\")",
            )
        })?;
        if dim == 0 || cfg.actions.iter().any(|a| a.len() != dim) {
            return Err(AgentError::config_source(
                "planner",
                "the discrete actions must all have the same positive length",
            ));
        }
        Ok(Beam {
            cfg,
            buf: SampleBuffers::default(),
        })
    }
}

impl Planner for Beam {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let a = check_plan_inputs(s0, cost, model)?;
        let m = self.cfg.actions.len();
        if self.cfg.actions[0].len() != a {
            return Err(AgentError::shape(
                "beam actions",
                self.cfg.actions[0].len(),
                format!("[A={a}] (the world model's action dimension)"),
            ));
        }
        let (h, width) = (self.cfg.horizon, self.cfg.beam_width);
        let mut beams: Vec<Vec<usize>> = vec![Vec::new()];
        for depth in 1..=h {
            let seqs: Vec<Vec<usize>> = beams
                .iter()
                .flat_map(|b| {
                    (0..m).map(move |k| {
                        let mut s = b.clone();
                        s.push(k);
                        s
                    })
                })
                .collect();
            let n = seqs.len();
            self.buf.ensure(n, depth, a);
            for (row, seq) in self.buf.candidates.chunks_exact_mut(depth * a).zip(&seqs) {
                for (slot, &k) in row.chunks_exact_mut(a).zip(seq) {
                    slot.copy_from_slice(&self.cfg.actions[k]);
                }
            }
            self.buf
                .evaluate(s0, cost, model, depth, || format!("beam depth {depth}:"))?;
            let mut order: Vec<usize> = (0..n).collect();
            let (costs, rejected) = (&self.buf.costs, &self.buf.rejected);
            order.sort_by(|&i, &j| {
                rejected[i]
                    .cmp(&rejected[j])
                    .then(costs[i].total_cmp(&costs[j]))
            });
            order.truncate(width);
            beams = order.into_iter().map(|i| seqs[i].clone()).collect();
        }
        let best: Vec<f32> = beams[0]
            .iter()
            .flat_map(|&k| self.cfg.actions[k].iter().copied())
            .collect();
        final_plan(s0, &best, cost, model, h, h, None)
    }

    /// No warm start to shift.
    fn shift(&mut self, _k: usize) {}

    /// Nothing to forget: the search is deterministic.
    fn reset(&mut self) {}

    fn horizon(&self) -> usize {
        self.cfg.horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{CostKind, CostTerm, FixedCost, RolloutBatch};
    use crate::world_model::LinearWorldModel;

    /// `Σ_t (s_t − target_t)²` on a 1-D state, with an arbitrary target sequence so that the
    /// optimum is not greedy.
    struct Track(Vec<f32>);
    impl CostTerm for Track {
        fn name(&self) -> &str {
            "track"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| {
                    (0..b.h())
                        .map(|t| (b.state(i, t)[0] - self.0[t]).powi(2))
                        .sum()
                })
                .collect()
        }
    }

    /// Unsafe steps: `s > 1.5`.
    struct Wall;
    impl CostTerm for Wall {
        fn name(&self) -> &str {
            "wall"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| (0..b.h()).filter(|&t| b.state(i, t)[0] > 1.5).count() as f32)
                .collect()
        }
    }

    fn actions() -> Vec<Vec<f32>> {
        vec![vec![-1.0], vec![0.0], vec![1.0]]
    }

    fn beam(width: usize, h: usize) -> Beam {
        Beam::new(BeamConfig {
            horizon: h,
            beam_width: width,
            actions: actions(),
        })
        .unwrap()
    }

    /// The optimum over all `3^h` sequences, by enumeration.
    fn brute_force(cost: &Cost, model: &LinearWorldModel, h: usize) -> (Vec<f32>, f32) {
        let acts = actions();
        let mut best = (Vec::new(), f32::INFINITY);
        for code in 0..3usize.pow(h as u32) {
            let seq: Vec<f32> = (0..h)
                .map(|t| acts[(code / 3usize.pow(t as u32)) % 3][0])
                .collect();
            let states = model.rollout(&[0.0], &seq, 1, h).unwrap();
            let b = RolloutBatch::new(&states, &seq, (1, h), (1, 1)).unwrap();
            let c = cost.evaluate(&b).unwrap()[0];
            let safe = !cost.violations(&b.with_start(&[0.0]).unwrap()).unwrap()[0];
            if safe && c < best.1 {
                best = (seq, c);
            }
        }
        best
    }

    #[test]
    fn exhaustive_width_finds_the_optimum_of_the_tree() {
        let model = LinearWorldModel::point_mass(1).unwrap();
        // Greedy (width 1) stays at 0 for the first target 0.4 (cost 0.16 vs 0.36) and then
        // reaches the later targets 2 one step late: 1.16 against the optimum 0.36.
        let target = vec![0.4, 2.0, 2.0, 2.0];
        let cost = || {
            Cost::new()
                .with_term(CostKind::Task, 1.0, Track(target.clone()))
                .unwrap()
        };
        let (want, want_cost) = brute_force(&cost(), &model, 4);
        let plan = beam(27, 4).plan(&[0.0], &cost(), &model).unwrap();
        assert_eq!(plan.actions, want);
        assert!((plan.cost - want_cost).abs() < 1e-5);
        let greedy = beam(1, 4).plan(&[0.0], &cost(), &model).unwrap();
        assert!(
            greedy.cost > want_cost + 0.5,
            "{} vs {want_cost}",
            greedy.cost
        );
    }

    #[test]
    fn guardrails_prune_and_an_unsafe_tree_gives_the_stop_plan() {
        let model = LinearWorldModel::point_mass(1).unwrap();
        let fixed = FixedCost::builder().guardrail(Wall).unwrap().build();
        // Target 3 behind a wall at 1.5: the best safe sequences stop at 1.
        let cost = Cost::with_fixed(fixed.clone())
            .with_term(CostKind::Task, 1.0, Track(vec![3.0; 3]))
            .unwrap();
        let (want, _) = brute_force(&cost, &model, 3);
        let plan = beam(9, 3).plan(&[0.0], &cost, &model).unwrap();
        assert!(plan.safe);
        assert_eq!(plan.actions, want);
        assert!(plan.predicted_states.iter().all(|&s| s <= 1.5));
        // Starting 1.5 past the wall, every first step stays past it: the stop plan, flagged.
        let plan = beam(9, 3).plan(&[3.0], &cost, &model).unwrap();
        assert!(!plan.safe);
        assert_eq!(plan.actions, vec![0.0; 3]);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let err = Beam::new(BeamConfig::default()).unwrap_err().to_string();
        assert!(err.contains("discrete"), "{err}");
        let err = Beam::new(BeamConfig {
            beam_width: 0,
            actions: actions(),
            ..BeamConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("planner.beam_width"), "{err}");
        let model = LinearWorldModel::point_mass(2).unwrap();
        let cost = Cost::new();
        assert!(beam(3, 2).plan(&[0.0, 0.0], &cost, &model).is_err());
    }
}
