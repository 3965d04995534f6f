//! Planning under uncertainty: how the cost of one candidate plan aggregates over the futures
//! a latent-variable world model imagines for it (DESIGN.md §1: "plan for the worst case
//! (safety) or the average case (progress) over z").
//!
//! A latent-variable world model predicts `K` branches `ŝ^{(k)} = rollout(s0, U, z = k)` for
//! one action sequence `U`, with prior probabilities `p_k` (`Σ p_k = 1`). With branch costs
//! `c_k = C(ŝ^{(k)}, U)`, the candidate's cost is
//! * `worst`: `max_k c_k` — the zero-temperature free energy over z turned into a game
//!   against nature (every enumerated branch counts, whatever its probability);
//! * `average`: `Σ_k p_k c_k` — the expected cost;
//! * `cvar:α` (`0 < α ≤ 1`): the conditional value at risk, the expected cost over the worst
//!   α of the probability mass (Rockafellar & Uryasev 2000):
//!   `CVaR_α = (1/α) Σ_k w_k c_k` with branches sorted by decreasing cost and
//!   `w_k = clip(α − P_{<k}, 0, p_k)` where `P_{<k}` is the mass of the costlier branches.
//!   `CVaR_1` is the average; as `α → 0` it tends to the cost of the costliest branch with
//!   non-zero probability.
//!
//! Guardrails are not aggregated this way: a candidate is unsafe when any branch violates
//! one (see [`crate::planner`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AgentError;

/// The risk attitude of the planner over the latent branches (`[agent] risk`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Risk {
    /// `max_k c_k`.
    #[default]
    Worst,
    /// `Σ_k p_k c_k`.
    Average,
    /// Expected cost over the worst `α` of the probability mass, `0 < α ≤ 1`.
    Cvar(f32),
}

impl Risk {
    /// The aggregated cost of branch costs `costs [K]` with probabilities `probs [K]`
    /// (non-negative, summing to 1 up to rounding; renormalised here).
    ///
    /// # Errors
    /// Mismatched lengths, no branch, or probabilities that are negative, non-finite or sum
    /// to zero.
    pub fn aggregate(self, costs: &[f32], probs: &[f32]) -> Result<f32, AgentError> {
        if costs.is_empty() || costs.len() != probs.len() {
            return Err(AgentError::shape(
                "risk branch probabilities",
                probs.len(),
                format!("[K={}] with K >= 1", costs.len()),
            ));
        }
        if probs.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
            return Err(AgentError::config(
                "latent prior",
                format!("{probs:?}"),
                "finite probabilities >= 0",
            ));
        }
        let total: f64 = probs.iter().map(|&p| f64::from(p)).sum();
        if total <= 0.0 {
            return Err(AgentError::config(
                "latent prior",
                format!("{probs:?}"),
                "probabilities with a positive sum",
            ));
        }
        Ok(match self {
            Risk::Worst => costs.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Risk::Average => {
                let s: f64 = costs
                    .iter()
                    .zip(probs)
                    .map(|(&c, &p)| f64::from(c) * f64::from(p))
                    .sum();
                (s / total) as f32
            }
            Risk::Cvar(alpha) => {
                let alpha = f64::from(alpha);
                let mut order: Vec<usize> = (0..costs.len()).collect();
                order.sort_by(|&i, &j| costs[j].total_cmp(&costs[i]));
                let (mut mass, mut sum) = (0.0f64, 0.0f64);
                for k in order {
                    let p = f64::from(probs[k]) / total;
                    let w = (alpha - mass).clamp(0.0, p);
                    sum += w * f64::from(costs[k]);
                    mass += p;
                    if mass >= alpha {
                        break;
                    }
                }
                (sum / alpha) as f32
            }
        })
    }

    /// Checks `α ∈ (0, 1]` for CVaR.
    pub fn validate(self) -> Result<(), AgentError> {
        match self {
            Risk::Cvar(a) if !(a > 0.0 && a <= 1.0) => Err(AgentError::config(
                "agent.risk",
                format!("cvar:{a}"),
                "cvar:α with 0 < α <= 1",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Risk::Worst => write!(f, "worst"),
            Risk::Average => write!(f, "average"),
            Risk::Cvar(a) => write!(f, "cvar:{a}"),
        }
    }
}

impl FromStr for Risk {
    type Err = AgentError;

    /// `worst`, `average` or `cvar:α` with `0 < α ≤ 1`.
    fn from_str(s: &str) -> Result<Self, AgentError> {
        let bad =
            || AgentError::config("agent.risk", s, "worst, average or cvar:α with 0 < α <= 1");
        let risk = match s {
            "worst" => Risk::Worst,
            "average" => Risk::Average,
            _ => {
                let a = s.strip_prefix("cvar:").ok_or_else(bad)?;
                Risk::Cvar(a.trim().parse::<f32>().map_err(|_| bad())?)
            }
        };
        risk.validate()?;
        Ok(risk)
    }
}

impl Serialize for Risk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Risk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_average_and_cvar_on_a_hand_computed_example() {
        // Branch costs 1, 4, 10 with probabilities 0.5, 0.3, 0.2.
        let (c, p) = ([1.0, 4.0, 10.0], [0.5, 0.3, 0.2]);
        assert_eq!(Risk::Worst.aggregate(&c, &p).unwrap(), 10.0);
        let avg = Risk::Average.aggregate(&c, &p).unwrap();
        assert!((avg - (0.5 + 1.2 + 2.0)).abs() < 1e-6, "{avg}");
        // α = 0.2: exactly the costliest branch.
        let v = Risk::Cvar(0.2).aggregate(&c, &p).unwrap();
        assert!((v - 10.0).abs() < 1e-5, "{v}");
        // α = 0.4: 0.2·10 + 0.2·4 over 0.4 = 7.
        let v = Risk::Cvar(0.4).aggregate(&c, &p).unwrap();
        assert!((v - 7.0).abs() < 1e-5, "{v}");
        // α = 1: the average.
        let v = Risk::Cvar(1.0).aggregate(&c, &p).unwrap();
        assert!((v - avg).abs() < 1e-5, "{v}");
        // Small α tends to the worst branch.
        let v = Risk::Cvar(1e-3).aggregate(&c, &p).unwrap();
        assert!((v - 10.0).abs() < 1e-4, "{v}");
        // Unnormalised probabilities are renormalised.
        let v = Risk::Average.aggregate(&c, &[5.0, 3.0, 2.0]).unwrap();
        assert!((v - avg).abs() < 1e-5, "{v}");
    }

    #[test]
    fn cvar_lies_between_average_and_worst_and_grows_as_alpha_shrinks() {
        let c = [3.0, -1.0, 7.0, 2.0, 0.5];
        let p = [0.1, 0.4, 0.05, 0.25, 0.2];
        let avg = Risk::Average.aggregate(&c, &p).unwrap();
        let worst = Risk::Worst.aggregate(&c, &p).unwrap();
        let mut last = avg - 1e-5;
        for a in [1.0, 0.8, 0.5, 0.3, 0.1, 0.05, 0.01] {
            let v = Risk::Cvar(a).aggregate(&c, &p).unwrap();
            assert!(v >= last - 1e-5 && v <= worst + 1e-5, "α={a}: {v}");
            last = v;
        }
    }

    #[test]
    fn parsing_and_bad_input_name_the_key() {
        for (s, r) in [
            ("worst", Risk::Worst),
            ("average", Risk::Average),
            ("cvar:0.1", Risk::Cvar(0.1)),
            ("cvar:1", Risk::Cvar(1.0)),
        ] {
            assert_eq!(s.parse::<Risk>().unwrap(), r);
            let back: Risk = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
        for bad in [
            "best",
            "cvar:0",
            "cvar:1.5",
            "cvar:-0.2",
            "cvar:x",
            "cvar:NaN",
        ] {
            let err = bad.parse::<Risk>().unwrap_err().to_string();
            assert!(err.contains("agent.risk"), "{bad}: {err}");
        }
        assert!(Risk::Worst.aggregate(&[1.0], &[]).is_err());
        assert!(Risk::Worst.aggregate(&[], &[]).is_err());
        assert!(Risk::Average.aggregate(&[1.0, 2.0], &[0.0, 0.0]).is_err());
        assert!(Risk::Average.aggregate(&[1.0, 2.0], &[-0.5, 1.5]).is_err());
    }
}
