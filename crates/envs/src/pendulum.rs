//! `pendulum`: Gymnasium's `Pendulum-v1` dynamics, reached by planning to the upright state.
//!
//! State `(θ, θ̇)` (θ = 0 upright, radians), observation `[cos θ, sin θ, θ̇]`, action a torque
//! `u ∈ [−max_torque, max_torque]`. One step, exactly as Gymnasium (computed in f64):
//!
//! ```text
//! u     = clip(u, −max_torque, max_torque)
//! θ̇'    = clip(θ̇ + (3g/(2l)·sin θ + 3/(m l²)·u)·dt, −max_speed, max_speed)
//! θ'    = θ + θ̇'·dt
//! ```
//! with `g = 10`, `m = l = 1`, `dt = 0.05`, `max_speed = 8`, `max_torque = 2`.
//!
//! * Resets and task starts: `θ ~ U[−π, π)`, `θ̇ ~ U[−1, 1)` (Gymnasium's reset range).
//! * Test tasks: from such a start to the upright state at rest, `(0, 0)`; success when
//!   `‖(wrap(θ − θ_g), θ̇ − θ̇_g)‖ ≤ 0.5` at some step (wrap to `[−π, π)`).
//! * Reward-free data: torques uniform in `[−max_torque, max_torque]` at every step
//!   (Gymnasium's `action_space.sample()`); the two-rooms walk settings of `[data]` do not apply.
//! * Observations are state vectors only (one image cannot show θ̇).

use std::f64::consts::PI;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::env::{check_dim, ActionSpace, BehaviourPolicy, Env, EnvSpec, NamedRule, Step, Task};
use crate::episodes::{EpisodeTrace, SuccessRule};
use crate::error::EnvError;
use crate::render::{check_trace_states, render_state_panels, PANEL};

/// Physical constants of the pendulum (Gymnasium's defaults; f64 as Gymnasium computes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PendulumConfig {
    /// Bound on the torque |u|.
    pub max_torque: f64,
    /// Bound on the angular velocity |θ̇| (rad/s).
    pub max_speed: f64,
    /// Time step (s).
    pub dt: f64,
    /// Gravity.
    pub g: f64,
    /// Mass.
    pub m: f64,
    /// Length.
    pub l: f64,
}

impl Default for PendulumConfig {
    fn default() -> Self {
        PendulumConfig {
            max_torque: 2.0,
            max_speed: 8.0,
            dt: 0.05,
            g: 10.0,
            m: 1.0,
            l: 1.0,
        }
    }
}

/// The success rule of the swing-up tasks (module docs).
pub const PENDULUM_RULES: [NamedRule; 1] = [NamedRule {
    name: "success_rate",
    rule: SuccessRule::Radius(0.5),
}];

/// Maps an angle to `[−π, π)`.
fn wrap(theta: f64) -> f64 {
    (theta + PI).rem_euclid(2.0 * PI) - PI
}

/// The running pendulum; the state is kept in f64 as Gymnasium does.
#[derive(Debug, Clone)]
pub struct Pendulum {
    cfg: PendulumConfig,
    theta: f64,
    theta_dot: f64,
}

impl Pendulum {
    /// A validated pendulum hanging down at rest.
    pub fn new(cfg: PendulumConfig) -> Result<Self, EnvError> {
        EnvSpec::validate(&cfg)?;
        Ok(Pendulum {
            cfg,
            theta: PI,
            theta_dot: 0.0,
        })
    }

    /// One step of the dynamics (module docs) from `(θ, θ̇)` with torque `u`.
    pub fn dynamics(cfg: &PendulumConfig, (th, thdot): (f64, f64), u: f64) -> (f64, f64) {
        let (g, m, l, dt) = (cfg.g, cfg.m, cfg.l, cfg.dt);
        let (max_torque, max_speed) = (cfg.max_torque, cfg.max_speed);
        let u = u.clamp(-max_torque, max_torque);
        let new_thdot = (thdot + (3.0 * g / (2.0 * l) * th.sin() + 3.0 / (m * l * l) * u) * dt)
            .clamp(-max_speed, max_speed);
        (th + new_thdot * dt, new_thdot)
    }

    fn obs_of(theta: f64, theta_dot: f64) -> Vec<f32> {
        vec![theta.cos() as f32, theta.sin() as f32, theta_dot as f32]
    }

    fn sample_start(rng: &mut StdRng) -> (f64, f64) {
        (rng.gen_range(-PI..PI), rng.gen_range(-1.0..1.0))
    }
}

impl Env for Pendulum {
    fn obs_shape(&self) -> Vec<usize> {
        vec![3]
    }

    fn action_space(&self) -> ActionSpace {
        self.cfg.action_space()
    }

    fn state_dim(&self) -> usize {
        2
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        (self.theta, self.theta_dot) = Self::sample_start(&mut StdRng::seed_from_u64(seed));
        Env::observe(self)
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        check_dim("pendulum state (θ, θ̇)", state, 2)?;
        if !state.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidPosition(format!(
                "pendulum state {state:?} is not finite"
            )));
        }
        (self.theta, self.theta_dot) = (f64::from(state[0]), f64::from(state[1]));
        Ok(Env::observe(self))
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        check_dim("pendulum action (torque)", action, 1)?;
        if !action[0].is_finite() {
            return Err(EnvError::InvalidAction(format!(
                "torque {} is not finite",
                action[0]
            )));
        }
        let next = Self::dynamics(&self.cfg, (self.theta, self.theta_dot), action[0].into());
        (self.theta, self.theta_dot) = next;
        Ok(Step {
            obs: Env::observe(self),
            state: Env::state(self),
        })
    }

    fn observe(&self) -> Vec<f32> {
        Self::obs_of(self.theta, self.theta_dot)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        check_dim("pendulum state (θ, θ̇)", state, 2)?;
        Ok(Self::obs_of(state[0].into(), state[1].into()))
    }

    fn state(&self) -> Vec<f32> {
        vec![self.theta as f32, self.theta_dot as f32]
    }

    /// `(wrap(θ − θ_g), θ̇ − θ̇_g)`.
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        vec![
            wrap(f64::from(state[0]) - f64::from(goal[0])) as f32,
            state[1] - goal[1],
        ]
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        PENDULUM_RULES.to_vec()
    }
}

impl PendulumConfig {
    /// Torques `|u| ≤ max_torque`.
    pub fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 1,
            max_norm: self.max_torque as f32,
        }
    }
}

/// Uniform random torques (Gymnasium's `action_space.sample()`), starts as in `reset`.
struct RandomTorque {
    max_torque: f64,
}

impl BehaviourPolicy for RandomTorque {
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        let (th, thdot) = Pendulum::sample_start(rng);
        Ok(vec![th as f32, thdot as f32])
    }

    fn act(&mut self, _t: usize, _state: &[f32], rng: &mut StdRng) -> Vec<f32> {
        vec![rng.gen_range(-self.max_torque..=self.max_torque) as f32]
    }
}

impl EnvSpec for PendulumConfig {
    fn kind(&self) -> &'static str {
        "pendulum"
    }

    fn validate(&self) -> Result<(), EnvError> {
        for (name, v) in [
            ("env.max_torque", self.max_torque),
            ("env.max_speed", self.max_speed),
            ("env.dt", self.dt),
            ("env.g", self.g),
            ("env.m", self.m),
            ("env.l", self.l),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(EnvError::config(name, v, "a finite value > 0"));
            }
        }
        Ok(())
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Pendulum::new(self.clone())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        vec![3]
    }

    fn action_space(&self) -> ActionSpace {
        PendulumConfig::action_space(self)
    }

    fn state_dim(&self) -> usize {
        2
    }

    /// The angle θ (rad) and angular velocity θ̇ (rad/s).
    fn readout_names(&self) -> Vec<String> {
        vec!["theta".into(), "theta_dot".into()]
    }

    fn observation_name(&self) -> &'static str {
        "state"
    }

    fn behaviour(&self, _data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(RandomTorque {
            max_torque: self.max_torque,
        }))
    }

    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        EnvSpec::validate(self)?;
        let mut rng = StdRng::seed_from_u64(seed);
        Ok((0..n)
            .map(|_| {
                let (th, thdot) = Pendulum::sample_start(&mut rng);
                Task {
                    start: vec![th as f32, thdot as f32],
                    goal: vec![0.0, 0.0],
                }
            })
            .collect())
    }

    /// Phase-plane panels: x = wrap(θ) over `[−π, π)`, y = θ̇ over `[−max_speed, max_speed]`
    /// (up); path blue (not drawn across the ±π seam), start green, goal red.
    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        EnvSpec::validate(self)?;
        check_trace_states(traces, 2, "(θ, θ̇)", path)?;
        let speed = self.max_speed;
        render_state_panels(
            traces,
            cols,
            path,
            |s, _| {
                let x = (wrap(s[0].into()) + PI) / (2.0 * PI) * PANEL as f64;
                let y = (speed - f64::from(s[1])) / (2.0 * speed) * PANEL as f64;
                (x as f32, y as f32)
            },
            |a, b, _| (wrap(a[0].into()) - wrap(b[0].into())).abs() < PI,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from Gymnasium's formula written out by hand: from θ = 0.5, θ̇ = 0.2 with u = 1,
    /// θ̇' = 0.2 + (15·sin 0.5 + 3)·0.05 = 0.709 569 3…, θ' = 0.5 + 0.05·θ̇'.
    #[test]
    fn one_step_matches_the_gymnasium_formula() {
        let cfg = PendulumConfig::default();
        let (th, thdot) = Pendulum::dynamics(&cfg, (0.5, 0.2), 1.0);
        let want_thdot = 0.2 + (15.0 * 0.5f64.sin() + 3.0) * 0.05;
        assert!((thdot - want_thdot).abs() < 1e-12 && (want_thdot - 0.709_569).abs() < 1e-5);
        assert!((th - (0.5 + 0.05 * want_thdot)).abs() < 1e-12);
        // Torque and speed are clipped.
        let (_, d) = Pendulum::dynamics(&cfg, (0.0, 0.0), 10.0);
        assert!((d - 3.0 * 2.0 * 0.05).abs() < 1e-12, "{d}");
        let (_, d) = Pendulum::dynamics(&cfg, (1.5, 7.9), 2.0);
        assert_eq!(d, 8.0);
    }

    #[test]
    fn observations_errors_and_rules() {
        let mut env = Pendulum::new(PendulumConfig::default()).unwrap();
        let obs = env.reset_to(&[0.0, 1.5]).unwrap();
        assert_eq!(obs, vec![1.0, 0.0, 1.5]);
        assert!(env.step(&[0.0, 1.0]).is_err());
        assert!(env.step(&[f32::NAN]).is_err());
        assert!(env.reset_to(&[0.0]).is_err());
        // Angles are compared modulo 2π.
        let e = env.goal_error(&[2.0 * std::f32::consts::PI - 0.1, 0.0], &[0.0, 0.0]);
        assert!((e[0] + 0.1).abs() < 1e-5, "{e:?}");
        assert!(PENDULUM_RULES[0].rule.is_met(&e));
        let bad = PendulumConfig {
            dt: 0.0,
            ..PendulumConfig::default()
        };
        let err = EnvSpec::validate(&bad).unwrap_err().to_string();
        assert!(err.contains("env.dt"), "{err}");
    }
}
