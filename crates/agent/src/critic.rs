//! The critic: a trained estimate of the cost-to-go in representation space (DESIGN.md §1,
//! "Critic (trained)"), fitted from the short-term memory by TD(λ), and its cost term.
//!
//! `V(s, s_goal) ≈ E[Σ_{k≥0} γᵏ c_{t+k} | s_t = s]`, the discounted sum of the per-cycle costs
//! `c_t` the episode loop records ([`crate::memory`]: the cost module's intrinsic, guardrail
//! and task terms on the state reached by the cycle; never the critic's own term), under the
//! behaviour that produced the memory (the planner). One time step is one control cycle.
//!
//! **Targets** (Sutton & Barto 2018, §12.1, the recursive form of the λ-return), for an
//! episode of `T` transitions with `v_{t+1} = V(s_{t+1}, s_goal)` from the current critic:
//!
//! `G_{T−1} = c_{T−1} + γ·v_T`,  `G_t = c_t + γ·((1 − λ)·v_{t+1} + λ·G_{t+1})`.
//!
//! `λ = 0` is one-step TD, `λ = 1` the Monte-Carlo return `Σ_k γᵏ c_{t+k}` plus the bootstrap
//! `γ^{T−t} v_T` at the cut. An episode ends at the step limit or when the task is met; neither
//! stops the cost from accruing, so by default the end is a cut in time and `v_T` is the
//! critic's value of the final state (`critic.bootstrap_at_end = true`); with `false` the end
//! is terminal (`v_T = 0`, pure Monte-Carlo at `λ = 1`).
//!
//! **Fit**: `critic.sweeps` times, recompute every target with the current critic, then fit
//! `V` to them by regression ([`crate::regression`], MSE, Adam), continuing from the current
//! weights. Before its first fit the critic is `V ≡ 0`.
//!
//! **Cost term** ([`CriticTerm`]): a terminal cost on the last predicted state of each
//! candidate, `cost_i = V(s_{i,h}, s_goal)`, so a short horizon `h` plans toward states from
//! which the rest of the way is cheap (TD-MPC's terminal value, REFERENCE.md §14).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cost::{CostTerm, RolloutBatch};
use crate::error::AgentError;
use crate::memory::ShortTermMemory;
use crate::regression::{
    bad_key, PredictBuffers, RegressionConfig, Regressor, RegressorFile, Samples,
};

/// `[critic]`: how the critic is trained; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriticConfig {
    /// Discount `γ` per control cycle (`0.95`).
    pub gamma: f32,
    /// TD(λ) mixing `λ ∈ [0, 1]` (`0.8`; 1 = Monte-Carlo).
    pub lambda: f32,
    /// Bootstrap from `V(s_T)` at the end of an episode (`true`; module docs).
    pub bootstrap_at_end: bool,
    /// Target recomputations per fit (`3`), each followed by `fit.epochs` epochs.
    pub sweeps: usize,
    /// Planner episodes on training tasks that `ami train-critic` collects (`100`).
    pub episodes: usize,
    /// Episodes the short-term memory holds (`500`); the oldest are forgotten.
    pub memory: usize,
    /// With `agent.critic = "online"`: episodes run (in parallel) between two refits (`4`).
    pub online_every: usize,
    /// The regression (`hidden = [128, 128]`, `epochs = 60`, ...).
    pub fit: RegressionConfig,
}

impl Default for CriticConfig {
    fn default() -> Self {
        CriticConfig {
            gamma: 0.95,
            lambda: 0.8,
            bootstrap_at_end: true,
            sweeps: 3,
            episodes: 100,
            memory: 500,
            online_every: 4,
            fit: RegressionConfig::default(),
        }
    }
}

impl CriticConfig {
    /// Range checks; errors name the key (`critic.gamma`, `critic.fit.epochs`, ...).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (key, v) in [("gamma", self.gamma), ("lambda", self.lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad_key(format!("critic.{key}"), v, "a value in [0, 1]"));
            }
        }
        for (key, v) in [
            ("sweeps", self.sweeps),
            ("episodes", self.episodes),
            ("memory", self.memory),
            ("online_every", self.online_every),
        ] {
            if v == 0 {
                return Err(bad_key(format!("critic.{key}"), v, "an integer >= 1"));
            }
        }
        self.fit.validate("critic.fit")
    }
}

/// λ-returns of one episode (module docs), the critic's regression targets.
///
/// `costs[t] = c_t`; `next_values[t] = v_{t+1} = V(s_{t+1})`, the last entry being the
/// bootstrap value `v_T` at the end (pass 0 for a terminal end).
///
/// # Shapes
/// `costs [T]`, `next_values [T]` → `G [T]`.
pub fn lambda_returns(costs: &[f32], next_values: &[f32], gamma: f32, lambda: f32) -> Vec<f32> {
    let mut out = vec![0.0; costs.len()];
    let mut next: Option<f32> = None;
    for t in (0..costs.len()).rev() {
        let v = next_values[t];
        let tail = match next {
            None => v,
            Some(g) => (1.0 - lambda) * v + lambda * g,
        };
        out[t] = costs[t] + gamma * tail;
        next = Some(out[t]);
    }
    out
}

/// What one fit did: the mean regression loss of the last epoch of every sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticFit {
    /// Transitions fitted.
    pub samples: usize,
    /// Episodes they came from.
    pub episodes: usize,
    /// Last-epoch loss (standardised MSE) after each sweep.
    pub sweep_losses: Vec<f32>,
    /// Mean TD(λ) target of the last sweep (in cost units).
    pub mean_target: f32,
}

/// `V(s, s_goal)`: an MLP on `[s, s_goal]` (`V ≡ 0` before the first fit).
#[derive(Debug, Clone, Default)]
pub struct Critic {
    net: Option<Regressor>,
}

/// `critic.json`: the network and how it was trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriticFile {
    /// Representation dimension `D` (the network reads `[s, s_goal]`, `2D` values).
    pub state_dim: usize,
    /// The settings it was trained with.
    pub config: CriticConfig,
    /// The last fit.
    pub fit: CriticFit,
    /// The network.
    pub net: RegressorFile,
}

impl Critic {
    /// The critic before any fit: `V ≡ 0`.
    pub fn untrained() -> Self {
        Critic::default()
    }

    /// Whether it has been fitted.
    pub fn is_trained(&self) -> bool {
        self.net.is_some()
    }

    /// Representation dimension `D` it reads (`None` before the first fit).
    pub fn state_dim(&self) -> Option<usize> {
        self.net.as_ref().map(|n| n.in_dim() / 2)
    }

    /// `V(s_r, goal)` for `rows` states (0 before the first fit).
    ///
    /// # Shapes
    /// `states [rows, D]`, `goal [D]` → `[rows]`.
    pub fn values(
        &self,
        states: &[f32],
        goal: &[f32],
        rows: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let Some(net) = &self.net else {
            return Ok(vec![0.0; rows]);
        };
        let d = goal.len();
        crate::error::check_len("critic states", states, rows * d, || {
            format!("[rows={rows}, D={d}]")
        })?;
        let mut x = Vec::with_capacity(rows * 2 * d);
        for s in states.chunks_exact(d.max(1)) {
            x.extend_from_slice(s);
            x.extend_from_slice(goal);
        }
        let mut out = vec![0.0; rows];
        net.predict_into(&x, rows, &mut PredictBuffers::default(), &mut out)?;
        Ok(out)
    }

    /// TD(λ) fit on every episode of `memory` (module docs); `on_epoch(sweep, epoch, loss)`
    /// reports progress.
    pub fn fit(
        &mut self,
        memory: &ShortTermMemory,
        cfg: &CriticConfig,
        on_epoch: &mut dyn FnMut(usize, usize, f32),
    ) -> Result<CriticFit, AgentError> {
        let mut sweep_losses = Vec::with_capacity(cfg.sweeps);
        let mut mean_target = 0.0;
        let mut samples = Samples::default();
        for sweep in 0..cfg.sweeps {
            samples = self.targets(memory, cfg)?;
            if samples.rows() == 0 {
                return Err(AgentError::shape(
                    "critic training transitions",
                    0,
                    "at least one transition in the short-term memory",
                ));
            }
            mean_target = samples.y.iter().sum::<f32>() / samples.rows() as f32;
            let net = match self.net.take() {
                Some(n) => n,
                None => Regressor::new(&cfg.fit, &samples)?,
            };
            let net = self.net.insert(net);
            let log = net.train(&cfg.fit, &samples, &mut |e, l| on_epoch(sweep, e, l))?;
            sweep_losses.push(log.last().copied().unwrap_or(f32::NAN));
        }
        Ok(CriticFit {
            samples: samples.rows(),
            episodes: memory.len(),
            sweep_losses,
            mean_target,
        })
    }

    /// The regression set `[s_t, s_goal] → G_t` of every stored transition, with the
    /// bootstrap values of the current critic.
    fn targets(&self, memory: &ShortTermMemory, cfg: &CriticConfig) -> Result<Samples, AgentError> {
        let mut samples = Samples::new(0, 1);
        for ep in memory.episodes().filter(|e| !e.transitions.is_empty()) {
            let d = ep.goal.len();
            samples.in_dim = 2 * d;
            let next: Vec<f32> = ep.transitions[1..]
                .iter()
                .flat_map(|t| t.state.iter().copied())
                .chain(ep.final_state.iter().copied())
                .collect();
            let t_len = ep.transitions.len();
            let mut v = self.values(&next, &ep.goal, t_len)?;
            if !cfg.bootstrap_at_end {
                v[t_len - 1] = 0.0;
            }
            let costs: Vec<f32> = ep.transitions.iter().map(|t| t.cost).collect();
            let g = lambda_returns(&costs, &v, cfg.gamma, cfg.lambda);
            for (tr, target) in ep.transitions.iter().zip(g) {
                let x: Vec<f32> = tr.state.iter().chain(&ep.goal).copied().collect();
                samples.push(&x, &[target])?;
            }
        }
        Ok(samples)
    }

    /// Writes `critic.json` content: the network, the settings and the last fit.
    pub fn to_file(&self, cfg: &CriticConfig, fit: CriticFit) -> Result<CriticFile, AgentError> {
        let net = self.net.as_ref().ok_or_else(|| {
            AgentError::config_source("critic", "an untrained critic has nothing to save")
        })?;
        Ok(CriticFile {
            state_dim: net.in_dim() / 2,
            config: cfg.clone(),
            fit,
            net: net.to_file(),
        })
    }

    /// Reads `critic.json` (`path` is named in every error).
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        let bad = |msg: String| AgentError::config_source(path.display().to_string(), msg);
        let file: CriticFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let net = Regressor::from_file(file.net).map_err(|e| bad(e.to_string()))?;
        if net.in_dim() != 2 * file.state_dim || net.out_dim() != 1 {
            return Err(bad(format!(
                "network [{}] → [{}] does not read [s, s_goal] of D = {} into one value",
                net.in_dim(),
                net.out_dim(),
                file.state_dim
            )));
        }
        Ok(Critic { net: Some(net) })
    }
}

/// The critic as a terminal cost (module docs): `cost_i = V(s_{i,h}, s_goal)`.
#[derive(Debug, Clone)]
pub struct CriticTerm {
    critic: Arc<Critic>,
    goal: Vec<f32>,
}

impl CriticTerm {
    /// The term for one task with goal `s_goal [D]`.
    pub fn new(critic: Arc<Critic>, goal: Vec<f32>) -> Self {
        CriticTerm { critic, goal }
    }
}

impl CostTerm for CriticTerm {
    fn name(&self) -> &str {
        "critic"
    }

    fn check_dims(&self, state_dim: usize, _action_dim: usize) -> Result<(), AgentError> {
        match self.critic.state_dim() {
            Some(d) if d != state_dim || self.goal.len() != state_dim => Err(AgentError::shape(
                "critic input",
                d,
                format!("[D={state_dim}] (the world model's state dimension)"),
            )),
            _ => Ok(()),
        }
    }

    /// NaN costs when the shapes do not fit (see `check_dims`).
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        if b.h() == 0 || b.d() != self.goal.len() {
            return vec![f32::NAN; b.n()];
        }
        let last: Vec<f32> = (0..b.n())
            .flat_map(|i| b.state(i, b.h() - 1).iter().copied())
            .collect();
        self.critic
            .values(&last, &self.goal, b.n())
            .unwrap_or_else(|_| vec![f32::NAN; b.n()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Episode, Transition};

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn lambda_returns_match_hand_values() {
        // c = (1, 2, 3), V(s_1..s_3) = (10, 20, 30), γ = 0.9, λ = 0.5.
        let (c, v) = ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]);
        // Bootstrapped end: G_2 = 3 + 0.9·30 = 30; G_1 = 2 + 0.9·(0.5·20 + 0.5·30) = 24.5;
        // G_0 = 1 + 0.9·(0.5·10 + 0.5·24.5) = 16.525. Forward view for G_0: n-step returns
        // 10, 19, 27.1 weighted 0.5, 0.25, 0.25 = 16.525.
        close(&lambda_returns(&c, &v, 0.9, 0.5), &[16.525, 24.5, 30.0]);
        // Terminal end (v_3 = 0): G_2 = 3; G_1 = 2 + 0.9·(10 + 1.5) = 12.35;
        // G_0 = 1 + 0.9·(5 + 6.175) = 11.0575.
        close(
            &lambda_returns(&c, &[10.0, 20.0, 0.0], 0.9, 0.5),
            &[11.0575, 12.35, 3.0],
        );
        // λ = 1: Monte-Carlo, 1 + 0.9·2 + 0.81·3 = 5.23 (terminal end).
        close(
            &lambda_returns(&c, &[10.0, 20.0, 0.0], 0.9, 1.0),
            &[5.23, 4.7, 3.0],
        );
        // λ = 0: one-step TD, c_t + γ·v_{t+1}.
        close(&lambda_returns(&c, &v, 0.9, 0.0), &[10.0, 20.0, 30.0]);
        assert!(lambda_returns(&[], &[], 0.9, 0.5).is_empty());
    }

    /// A 1-D chain toward goal 0: states 4, 3, 2, 1 → 0, each step costs the distance reached.
    fn chain_memory() -> ShortTermMemory {
        let mut m = ShortTermMemory::new(10).unwrap();
        for start in 2..=6 {
            let states: Vec<f32> = (0..=start).rev().map(|k| k as f32).collect();
            let transitions = states
                .windows(2)
                .map(|w| Transition {
                    state: vec![w[0]],
                    action: vec![-1.0],
                    cost: w[1],
                })
                .collect();
            m.push(Episode {
                goal: vec![0.0],
                transitions,
                final_state: vec![0.0],
            });
        }
        m
    }

    #[test]
    fn monte_carlo_fit_learns_the_cost_to_go_and_the_term_reads_the_last_state() {
        let cfg = CriticConfig {
            gamma: 1.0,
            lambda: 1.0,
            bootstrap_at_end: false,
            sweeps: 1,
            fit: RegressionConfig {
                hidden: vec![32, 32],
                epochs: 800,
                batch_size: 8,
                learning_rate: 3e-3,
                ..RegressionConfig::default()
            },
            ..CriticConfig::default()
        };
        let mut critic = Critic::untrained();
        assert_eq!(critic.values(&[3.0], &[0.0], 1).unwrap(), vec![0.0]);
        let fit = critic
            .fit(&chain_memory(), &cfg, &mut |_, _, _| {})
            .unwrap();
        assert_eq!(fit.samples, 2 + 3 + 4 + 5 + 6);
        // Cost-to-go from state k: (k−1) + … + 0 = k(k−1)/2 → 0, 1, 3, 6, 10, 15 for k = 1..6.
        let v = critic.values(&[1.0, 3.0, 6.0], &[0.0], 3).unwrap();
        close_within(&v, &[0.0, 3.0, 15.0], 0.5);
        // As a terminal cost: candidate rows (h = 2) ending in 3 and in 6.
        let term = CriticTerm::new(Arc::new(critic), vec![0.0]);
        let states = [5.0, 3.0, 5.0, 6.0];
        let batch = RolloutBatch::new(&states, &[0.0; 4], (2, 2), (1, 1)).unwrap();
        close_within(&term.cost(&batch), &[3.0, 15.0], 0.5);
        assert!(term.check_dims(1, 1).is_ok() && term.check_dims(2, 1).is_err());
    }

    fn close_within(a: &[f32], b: &[f32], tol: f32) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn bad_settings_name_the_key() {
        let bad = CriticConfig {
            lambda: 1.5,
            ..CriticConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("critic.lambda"));
        let bad = CriticConfig {
            online_every: 0,
            ..CriticConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("critic.online_every"), "{err}");
        let err = Critic::load(Path::new("/nonexistent/critic.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("critic.json"), "{err}");
    }
}
