//! [`ActionMap`]: from the agent's actions to a Gymnasium `Box`.
//!
//! The env's `Box(low, high)` must be bounded; a `Discrete` or
//! other space is an error (continuous actions only for now). When the box is symmetric with
//! one bound `h` on every coordinate (`low = −h`, `high = h`: Pendulum's torque, most MuJoCo
//! envs, every DMC task), the agent's actions are the env's own units; otherwise an agent
//! action `a ∈ [−1, 1]^d` maps affinely onto the box, `low + (a + 1)/2 · (high − low)`. Either
//! way each coordinate is clipped to the box before it is sent, and the
//! [`crate::ActionSpace`] is the ball of radius `h·√d` (resp. `√d`) that contains the box
//! (for `d = 1` the interval itself). Actions are sent as f64 so that the env computes with
//! the same values as a native implementation (Pendulum's torque enters its f64 arithmetic
//! unrounded).

use rand::rngs::StdRng;
use rand::Rng;
use serde::Deserialize;

use crate::bridge::{bridge_error, BridgeFailure};
use crate::env::ActionSpace;
use crate::error::EnvError;

/// The env's action space as the server describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ActionInfo {
    /// `Box(low, high)`; `None` stands for an infinite bound.
    Box {
        /// Lower bounds (flattened).
        low: Vec<Option<f64>>,
        /// Upper bounds (flattened).
        high: Vec<Option<f64>>,
    },
    /// `Discrete(n)`.
    Discrete {
        /// Number of actions.
        n: u64,
    },
    /// Any other space.
    Other {
        /// Python's `repr` of it.
        repr: String,
    },
}

/// The map from agent actions to the env's box (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionMap {
    low: Vec<f64>,
    high: Vec<f64>,
    /// Actions are in the env's units (symmetric box with one bound).
    units: bool,
}

impl ActionMap {
    /// The map of `info`'s action space; discrete, other and unbounded spaces are errors.
    pub fn new(label: &str, info: &ActionInfo) -> Result<Self, EnvError> {
        let unsupported = |d: String| bridge_error(label, BridgeFailure::Unsupported, d);
        let (low, high) = match info {
            ActionInfo::Box { low, high } => (low, high),
            ActionInfo::Discrete { n } => {
                let native = if label.contains("CartPole") {
                    " (the native `cartpole` env is CartPole-v1 with a continuous force)"
                } else {
                    ""
                };
                return Err(unsupported(format!(
                    "its action space is Discrete({n}); the bridge drives continuous \
                     (Box) action spaces only{native}"
                )));
            }
            ActionInfo::Other { repr } => {
                return Err(unsupported(format!(
                    "its action space is {repr}; the bridge drives continuous (Box) action \
                     spaces only"
                )))
            }
        };
        let finite = |v: &[Option<f64>]| v.iter().copied().collect::<Option<Vec<f64>>>();
        let (Some(low), Some(high)) = (finite(low), finite(high)) else {
            return Err(unsupported(
                "its action Box has an infinite bound; planners need a bounded action space".into(),
            ));
        };
        if low.is_empty() || low.len() != high.len() || low.iter().zip(&high).any(|(l, h)| l >= h) {
            return Err(unsupported(format!(
                "action Box low {low:?} / high {high:?} is empty or inverted"
            )));
        }
        let units = low
            .iter()
            .zip(&high)
            .all(|(l, h)| *l == -*h && *h == high[0]);
        Ok(ActionMap { low, high, units })
    }

    /// The ball of agent actions that contains the box.
    pub fn space(&self) -> ActionSpace {
        let d = self.low.len();
        let h = if self.units { self.high[0] } else { 1.0 };
        ActionSpace {
            dim: d,
            max_norm: (h * (d as f64).sqrt()) as f32,
        }
    }

    /// The env's action for agent action `a` (clipped to the box).
    pub fn to_env(&self, a: &[f32]) -> Vec<f64> {
        a.iter()
            .zip(self.low.iter().zip(&self.high))
            .map(|(&a, (&l, &h))| {
                let a = f64::from(a);
                let v = if self.units {
                    a
                } else {
                    l + (a.clamp(-1.0, 1.0) + 1.0) / 2.0 * (h - l)
                };
                v.clamp(l, h)
            })
            .collect()
    }

    /// A uniformly random agent action whose image is uniform in the box.
    pub fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        self.low
            .iter()
            .zip(&self.high)
            .map(|(&l, &h)| {
                if self.units {
                    rng.gen_range(l..=h) as f32
                } else {
                    rng.gen_range(-1.0..=1.0f64) as f32
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn boxed(low: &[f64], high: &[f64]) -> ActionInfo {
        ActionInfo::Box {
            low: low.iter().map(|&v| Some(v)).collect(),
            high: high.iter().map(|&v| Some(v)).collect(),
        }
    }

    #[test]
    fn symmetric_boxes_keep_units_others_map_from_unit_cube() {
        let m = ActionMap::new("t", &boxed(&[-2.0], &[2.0])).unwrap();
        assert_eq!(
            m.space(),
            ActionSpace {
                dim: 1,
                max_norm: 2.0
            }
        );
        assert_eq!(m.to_env(&[1.5, 0.0][..1]), vec![1.5]);
        assert_eq!(m.to_env(&[3.0]), vec![2.0]);
        let m = ActionMap::new("t", &boxed(&[0.0, -1.0], &[4.0, 3.0])).unwrap();
        assert_eq!(m.space().dim, 2);
        assert!((m.space().max_norm - 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(m.to_env(&[-1.0, 1.0]), vec![0.0, 3.0]);
        assert_eq!(m.to_env(&[0.0, 0.0]), vec![2.0, 1.0]);
        assert_eq!(m.to_env(&[5.0, -5.0]), vec![4.0, -1.0]);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let a = m.to_env(&m.sample(&mut rng));
            assert!((0.0..=4.0).contains(&a[0]) && (-1.0..=3.0).contains(&a[1]));
        }
    }

    #[test]
    fn discrete_unbounded_and_inverted_spaces_are_errors() {
        let err = ActionMap::new("gym:CartPole-v1", &ActionInfo::Discrete { n: 2 })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gym:CartPole-v1") && err.contains("Discrete(2)"),
            "{err}"
        );
        let inf = ActionInfo::Box {
            low: vec![None],
            high: vec![Some(1.0)],
        };
        let err = ActionMap::new("t", &inf).unwrap_err().to_string();
        assert!(err.contains("infinite"), "{err}");
        let err = ActionMap::new("t", &boxed(&[1.0], &[1.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inverted"), "{err}");
    }
}
