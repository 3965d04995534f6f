//! `cartpole`: Gymnasium's `CartPole-v1` dynamics with a continuous force.
//!
//! State `(x, ẋ, θ, θ̇)` (θ = 0 upright, radians), observation = the state, action a force
//! `u`, clipped to `[−force_mag, force_mag]`. Gymnasium's discrete action 1 is
//! `u = force_mag` and action 0 is `u = −force_mag`; any force in between is allowed, since
//! our planners want continuous actions. One step, exactly as Gymnasium (f64, Euler):
//!
//! ```text
//! temp  = (u + m_p·l·θ̇²·sin θ) / (m_c + m_p)
//! θ̈     = (g sin θ − cos θ·temp) / (l·(4/3 − m_p cos²θ / (m_c + m_p)))
//! ẍ     = temp − m_p·l·θ̈·cos θ / (m_c + m_p)
//! x' = x + τ ẋ,   ẋ' = ẋ + τ ẍ,   θ' = θ + τ θ̇,   θ̇' = θ̇ + τ θ̈
//! ```
//! with `g = 9.8`, `m_c = 1`, `m_p = 0.1`, `l = 0.5` (half the pole), `τ = 0.02`,
//! `force_mag = 10`. There is no termination: the episode loop decides when an episode ends,
//! and the equations hold at any angle.
//!
//! Tasks (`task`):
//! * `balance` (keep the pole up): the pole starts tilted, `|θ| ~ U[0.1, 0.2]` with a random
//!   sign, the rest `~ U[−0.05, 0.05]`; the goal is upright at rest at the centre,
//!   `(0, 0, 0, 0)`.
//! * `position` (reach a cart position): starts as Gymnasium's reset (`U[−0.05, 0.05]⁴`); the
//!   goal is upright at rest at `x_g`, `|x_g| ~ U[0.5, 1.5]` with a random sign.
//!
//! Success when `‖(x − x_g, ẋ − ẋ_g, wrap(θ − θ_g), θ̇ − θ̇_g)‖ ≤ success_radius` at some step.
//! Reward-free data: Gymnasium-like resets, forces uniform in `[−force_mag, force_mag]`.

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

/// Which test tasks the cart-pole poses (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CartpoleTask {
    /// Catch a tilted pole and hold it upright at the centre.
    Balance,
    /// Move the cart to a position with the pole upright.
    Position,
}

/// Physical constants (Gymnasium's) and the task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CartpoleConfig {
    /// Gravity.
    pub gravity: f64,
    /// Mass of the cart.
    pub masscart: f64,
    /// Mass of the pole.
    pub masspole: f64,
    /// Half the pole's length.
    pub length: f64,
    /// Bound on the force |u|.
    pub force_mag: f64,
    /// Time step τ (s).
    pub tau: f64,
    /// The test tasks.
    pub task: CartpoleTask,
    /// Success radius on the error to the goal.
    pub success_radius: f32,
}

impl Default for CartpoleConfig {
    fn default() -> Self {
        CartpoleConfig {
            gravity: 9.8,
            masscart: 1.0,
            masspole: 0.1,
            length: 0.5,
            force_mag: 10.0,
            tau: 0.02,
            task: CartpoleTask::Balance,
            success_radius: 0.1,
        }
    }
}

/// Maps an angle to `[−π, π)`.
fn wrap(theta: f64) -> f64 {
    (theta + PI).rem_euclid(2.0 * PI) - PI
}

/// The running cart-pole; the state is kept in f64 as Gymnasium does.
#[derive(Debug, Clone)]
pub struct Cartpole {
    cfg: CartpoleConfig,
    s: [f64; 4],
}

impl Cartpole {
    /// A validated cart-pole at rest, upright, at the centre.
    pub fn new(cfg: CartpoleConfig) -> Result<Self, EnvError> {
        EnvSpec::validate(&cfg)?;
        Ok(Cartpole { cfg, s: [0.0; 4] })
    }

    /// One Euler step (module docs) from `s = (x, ẋ, θ, θ̇)` with force `u`, in Gymnasium's
    /// order of operations (`total_mass` and `polemass_length` computed as Gymnasium does).
    pub fn dynamics(cfg: &CartpoleConfig, s: [f64; 4], u: f64) -> [f64; 4] {
        let [x, x_dot, theta, theta_dot] = s;
        let force = u.clamp(-cfg.force_mag, cfg.force_mag);
        let total_mass = cfg.masspole + cfg.masscart;
        let polemass_length = cfg.masspole * cfg.length;
        let (sintheta, costheta) = (theta.sin(), theta.cos());
        let temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
        let thetaacc = (cfg.gravity * sintheta - costheta * temp)
            / (cfg.length * (4.0 / 3.0 - cfg.masspole * (costheta * costheta) / total_mass));
        let xacc = temp - polemass_length * thetaacc * costheta / total_mass;
        [
            x + cfg.tau * x_dot,
            x_dot + cfg.tau * xacc,
            theta + cfg.tau * theta_dot,
            theta_dot + cfg.tau * thetaacc,
        ]
    }

    /// The state at full precision.
    pub fn state_f64(&self) -> [f64; 4] {
        self.s
    }

    /// Gymnasium's reset: every coordinate `~ U[−0.05, 0.05]`.
    fn gym_start(rng: &mut StdRng) -> [f64; 4] {
        std::array::from_fn(|_| rng.gen_range(-0.05..0.05))
    }
}

impl Env for Cartpole {
    fn obs_shape(&self) -> Vec<usize> {
        vec![4]
    }

    fn action_space(&self) -> ActionSpace {
        self.cfg.action_space()
    }

    fn state_dim(&self) -> usize {
        4
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.s = Self::gym_start(&mut StdRng::seed_from_u64(seed));
        Env::observe(self)
    }

    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        check_dim("cartpole state (x, ẋ, θ, θ̇)", state, 4)?;
        if !state.iter().all(|v| v.is_finite()) {
            return Err(EnvError::InvalidPosition(format!(
                "cartpole state {state:?} is not finite"
            )));
        }
        self.s = std::array::from_fn(|i| f64::from(state[i]));
        Ok(Env::observe(self))
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        check_dim("cartpole action (force)", action, 1)?;
        if !action[0].is_finite() {
            return Err(EnvError::InvalidAction(format!(
                "force {} is not finite",
                action[0]
            )));
        }
        self.s = Self::dynamics(&self.cfg, self.s, action[0].into());
        Ok(Step {
            obs: Env::observe(self),
            state: Env::state(self),
        })
    }

    fn observe(&self) -> Vec<f32> {
        Env::state(self)
    }

    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        check_dim("cartpole state (x, ẋ, θ, θ̇)", state, 4)?;
        Ok(state.to_vec())
    }

    fn state(&self) -> Vec<f32> {
        self.s.iter().map(|&v| v as f32).collect()
    }

    /// `(x − x_g, ẋ − ẋ_g, wrap(θ − θ_g), θ̇ − θ̇_g)`.
    fn goal_error(&self, state: &[f32], goal: &[f32]) -> Vec<f32> {
        let mut e: Vec<f32> = state.iter().zip(goal).map(|(s, g)| s - g).collect();
        if e.len() > 2 {
            e[2] = wrap(f64::from(state[2]) - f64::from(goal[2])) as f32;
        }
        e
    }

    fn success_rules(&self) -> Vec<NamedRule> {
        self.cfg.rules()
    }
}

impl CartpoleConfig {
    /// Forces `|u| ≤ force_mag`.
    pub fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 1,
            max_norm: self.force_mag as f32,
        }
    }

    fn rules(&self) -> Vec<NamedRule> {
        vec![NamedRule {
            name: "success_rate",
            rule: SuccessRule::Radius(self.success_radius),
        }]
    }
}

/// Uniform random forces from Gymnasium-like resets.
struct RandomForce {
    force_mag: f64,
}

impl BehaviourPolicy for RandomForce {
    fn start(&mut self, rng: &mut StdRng) -> Result<Vec<f32>, EnvError> {
        Ok(Cartpole::gym_start(rng).iter().map(|&v| v as f32).collect())
    }

    fn act(&mut self, _t: usize, _state: &[f32], rng: &mut StdRng) -> Vec<f32> {
        vec![rng.gen_range(-self.force_mag..=self.force_mag) as f32]
    }
}

/// The picture's horizontal axis spans `|x| ≤ X_SPAN`.
const X_SPAN: f64 = 2.4;

impl EnvSpec for CartpoleConfig {
    fn kind(&self) -> &'static str {
        "cartpole"
    }

    fn validate(&self) -> Result<(), EnvError> {
        for (name, v) in [
            ("env.gravity", self.gravity),
            ("env.masscart", self.masscart),
            ("env.masspole", self.masspole),
            ("env.length", self.length),
            ("env.force_mag", self.force_mag),
            ("env.tau", self.tau),
            ("env.success_radius", f64::from(self.success_radius)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(EnvError::config(name, v, "a finite value > 0"));
            }
        }
        Ok(())
    }

    fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Cartpole::new(self.clone())?))
    }

    fn obs_shape(&self) -> Vec<usize> {
        vec![4]
    }

    fn action_space(&self) -> ActionSpace {
        CartpoleConfig::action_space(self)
    }

    fn state_dim(&self) -> usize {
        4
    }

    /// Cart position and velocity, pole angle and angular velocity.
    fn readout_names(&self) -> Vec<String> {
        ["x", "x_dot", "theta", "theta_dot"]
            .map(String::from)
            .to_vec()
    }

    fn observation_name(&self) -> &'static str {
        "state"
    }

    fn behaviour(&self, _data: &DataConfig) -> Result<Box<dyn BehaviourPolicy>, EnvError> {
        Ok(Box::new(RandomForce {
            force_mag: self.force_mag,
        }))
    }

    fn tasks(&self, n: usize, seed: u64) -> Result<Vec<Task>, EnvError> {
        EnvSpec::validate(self)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let f32s = |s: [f64; 4]| s.iter().map(|&v| v as f32).collect::<Vec<_>>();
        Ok((0..n)
            .map(|_| {
                let mut start = Cartpole::gym_start(&mut rng);
                let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
                let goal = match self.task {
                    CartpoleTask::Balance => {
                        start[2] = sign * rng.gen_range(0.1..0.2);
                        [0.0; 4]
                    }
                    CartpoleTask::Position => [sign * rng.gen_range(0.5..1.5), 0.0, 0.0, 0.0],
                };
                Task {
                    start: f32s(start),
                    goal: f32s(goal),
                }
            })
            .collect())
    }

    /// Panels of x (right, `|x| ≤ 2.4`) against wrap(θ) (up, `[−π, π)`): path blue (not drawn
    /// across the ±π seam), start green, goal red.
    fn render_episodes(
        &self,
        traces: &[EpisodeTrace],
        cols: usize,
        path: &Path,
    ) -> Result<(), EnvError> {
        check_trace_states(traces, 4, "(x, ẋ, θ, θ̇)", path)?;
        render_state_panels(
            traces,
            cols,
            path,
            |s, _| {
                let x = (f64::from(s[0]).clamp(-X_SPAN, X_SPAN) + X_SPAN) / (2.0 * X_SPAN);
                let y = (PI - wrap(s[2].into())) / (2.0 * PI);
                let p = PANEL as f64;
                ((x * p) as f32, (y * p) as f32)
            },
            |a, b, _| (wrap(a[2].into()) - wrap(b[2].into())).abs() < PI,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step from rest, upright, with u = 10, by hand: temp = 10/1.1,
    /// θ̈ = −temp / (0.5·(4/3 − 0.1/1.1)), ẍ = temp − 0.05·θ̈/1.1; Euler moves only the
    /// velocities.
    #[test]
    fn one_step_matches_the_gymnasium_formula() {
        let cfg = CartpoleConfig::default();
        let s = Cartpole::dynamics(&cfg, [0.0; 4], 10.0);
        let temp = 10.0 / 1.1;
        let thetaacc = -temp / (0.5 * (4.0 / 3.0 - 0.1 / 1.1));
        let xacc = temp - 0.05 * thetaacc / 1.1;
        assert_eq!(s[0], 0.0);
        assert_eq!(s[2], 0.0);
        assert!((s[1] - 0.02 * xacc).abs() < 1e-12, "{s:?}");
        assert!((s[3] - 0.02 * thetaacc).abs() < 1e-12, "{s:?}");
        // The force is clipped.
        assert_eq!(Cartpole::dynamics(&cfg, [0.0; 4], 50.0), s);
    }

    #[test]
    fn tasks_errors_and_rules() {
        let cfg = CartpoleConfig::default();
        for t in cfg.tasks(20, 3).unwrap() {
            assert!((0.1..0.2).contains(&t.start[2].abs()), "{t:?}");
            assert_eq!(t.goal, vec![0.0; 4]);
        }
        let pos = CartpoleConfig {
            task: CartpoleTask::Position,
            ..cfg.clone()
        };
        for t in pos.tasks(20, 3).unwrap() {
            assert!((0.5..1.5).contains(&t.goal[0].abs()), "{t:?}");
            assert!(t.start.iter().all(|v| v.abs() <= 0.05));
        }
        let mut env = Cartpole::new(cfg.clone()).unwrap();
        assert!(env.step(&[f32::NAN]).is_err());
        assert!(env.step(&[1.0, 2.0]).is_err());
        assert!(env.reset_to(&[0.0; 3]).is_err());
        let e = env.goal_error(
            &[0.0, 0.0, 2.0 * std::f32::consts::PI - 0.05, 0.0],
            &[0.0; 4],
        );
        assert!(
            (e[2] + 0.05).abs() < 1e-5 && cfg.rules()[0].rule.is_met(&e),
            "{e:?}"
        );
        let bad = CartpoleConfig { tau: -1.0, ..cfg };
        let err = EnvSpec::validate(&bad).unwrap_err().to_string();
        assert!(err.contains("env.tau"), "{err}");
    }
}
