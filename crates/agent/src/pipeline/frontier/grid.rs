//! The settings a planning frontier measures: planner family × candidates × iterations ×
//! schedule, each turned into `--set` overrides of the run's configuration.
//!
//! Compute per planning call is, for the sampling planners, `candidates × iterations` rollouts
//! of `horizon × action_repeat` predictor steps (plus, for `cem+gradient`, `refine` gradient
//! steps through one rollout), and one call is made every `replan_every` environment steps; so
//! the predictor steps per environment step are
//! `candidates · iterations · horizon · action_repeat / replan_every`. The frontier measures the
//! wall time instead of counting, because the overheads (cost, sampling, threads) are not
//! proportional to it.

use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// Who plans, and how (a series of the frontier plot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    /// MPPI ([`crate::planner::Mppi`]).
    #[serde(rename = "mppi")]
    Mppi,
    /// CEM with `max(1, candidates / 8)` elites ([`crate::planner::Cem`]).
    #[serde(rename = "cem")]
    Cem,
    /// Adam through the world model: `candidates` restarts, `iterations` steps.
    #[serde(rename = "gradient")]
    Gradient,
    /// CEM (`candidates × iterations`) then `refine` gradient steps on its mean.
    #[serde(rename = "cem+gradient")]
    CemGradient,
    /// The amortised policy alone (no planning; candidates and iterations are 0).
    #[serde(rename = "policy")]
    Policy,
    /// MPPI warm-started by the amortised policy (`agent.actor = "policy+planner"`).
    #[serde(rename = "policy+mppi")]
    PolicyMppi,
}

impl Family {
    /// Every family, in plotting order.
    pub const ALL: [Family; 6] = [
        Family::Mppi,
        Family::Cem,
        Family::Gradient,
        Family::CemGradient,
        Family::Policy,
        Family::PolicyMppi,
    ];

    /// The name in `frontier.json`, the plot's legend and `--planners`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Mppi => "mppi",
            Family::Cem => "cem",
            Family::Gradient => "gradient",
            Family::CemGradient => "cem+gradient",
            Family::Policy => "policy",
            Family::PolicyMppi => "policy+mppi",
        }
    }

    /// The family named `name`; an error names the field `planners` otherwise.
    pub fn parse(name: &str) -> Result<Family, AgentError> {
        Family::ALL
            .into_iter()
            .find(|f| f.name() == name.trim())
            .ok_or_else(|| {
                AgentError::config(
                    "planners",
                    name,
                    "mppi, cem, gradient, cem+gradient, policy or policy+mppi",
                )
            })
    }

    /// Whether the family needs the run's amortised policy (`policy.json`).
    pub fn needs_policy(self) -> bool {
        matches!(self, Family::Policy | Family::PolicyMppi)
    }
}

/// The temporal settings of a point; `None` keeps the run's own `[agent]` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schedule {
    /// `agent.horizon`: planned actions per call.
    pub horizon: Option<usize>,
    /// `agent.action_repeat`: environment steps per planned action.
    pub action_repeat: Option<usize>,
    /// `agent.replan_every`: environment steps between planning calls.
    pub replan_every: Option<usize>,
}

/// One setting of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridPoint {
    /// Planner family.
    pub family: Family,
    /// Candidates per iteration (MPPI/CEM samples, gradient restarts; 0 for the policy).
    pub candidates: usize,
    /// Iterations per planning call (0 for the policy).
    pub iterations: usize,
    /// Gradient steps after CEM (`cem+gradient` only; 0 otherwise).
    pub refine: usize,
    /// Horizon, action repeat and replanning period.
    pub schedule: Schedule,
}

/// The most candidates and iterations a grid value may ask for.
pub const MAX_CANDIDATES: usize = 4096;
/// See [`MAX_CANDIDATES`].
pub const MAX_ITERATIONS: usize = 100;

impl GridPoint {
    /// A point of `family` with the run's own schedule (`refine` 2 for `cem+gradient`; the
    /// policy ignores `candidates` and `iterations`).
    pub fn new(family: Family, candidates: usize, iterations: usize) -> Self {
        let (candidates, iterations) = match family {
            Family::Policy => (0, 0),
            _ => (candidates, iterations),
        };
        GridPoint {
            family,
            candidates,
            iterations,
            refine: usize::from(family == Family::CemGradient) * 2,
            schedule: Schedule::default(),
        }
    }

    /// The same point with another schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The same point with `refine` gradient steps (`cem+gradient`).
    pub fn with_refine(mut self, refine: usize) -> Self {
        self.refine = refine;
        self
    }

    /// Range checks (errors name the grid field): candidates in `[1, MAX_CANDIDATES]`,
    /// iterations in `[1, MAX_ITERATIONS]` (both 0 for the policy), schedule values ≥ 1.
    pub fn validate(&self) -> Result<(), AgentError> {
        if self.family != Family::Policy {
            if !(1..=MAX_CANDIDATES).contains(&self.candidates) {
                return Err(AgentError::config(
                    "candidates",
                    self.candidates,
                    "an integer in [1, 4096]",
                ));
            }
            if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
                return Err(AgentError::config(
                    "iterations",
                    self.iterations,
                    "an integer in [1, 100]",
                ));
            }
        }
        let s = &self.schedule;
        for (field, v) in [
            ("horizon", s.horizon),
            ("action_repeat", s.action_repeat),
            ("replan_every", s.replan_every),
        ] {
            if v == Some(0) {
                return Err(AgentError::config(field, 0, "an integer >= 1"));
            }
        }
        Ok(())
    }

    /// The `--set` overrides that make a run's configuration plan as this point.
    pub fn overrides(&self) -> Vec<String> {
        let (n, k) = (self.candidates, self.iterations);
        let mut sets = match self.family {
            Family::Mppi | Family::PolicyMppi => vec![
                "planner.kind=\"mppi\"".to_string(),
                format!("planner.samples={n}"),
                format!("planner.iterations={k}"),
            ],
            Family::Cem => vec![
                "planner.kind=\"cem\"".to_string(),
                format!("planner.samples={n}"),
                format!("planner.iterations={k}"),
                format!("planner.elites={}", elites(n)),
            ],
            Family::Gradient => vec![
                "planner.kind=\"gradient\"".to_string(),
                format!("planner.samples={n}"),
                format!("planner.iterations={k}"),
            ],
            Family::CemGradient => vec![
                "planner.kind=\"cem+gradient\"".to_string(),
                format!("planner.cem.samples={n}"),
                format!("planner.cem.iterations={k}"),
                format!("planner.cem.elites={}", elites(n)),
                format!("planner.gradient.iterations={}", self.refine),
            ],
            Family::Policy => Vec::new(),
        };
        sets.push(
            match self.family {
                Family::Policy => "agent.actor=\"policy\"",
                Family::PolicyMppi => "agent.actor=\"policy+planner\"",
                _ => "agent.actor=\"planner\"",
            }
            .to_string(),
        );
        let s = &self.schedule;
        for (key, v) in [
            ("agent.horizon", s.horizon),
            ("agent.action_repeat", s.action_repeat),
            ("agent.replan_every", s.replan_every),
        ] {
            if let Some(v) = v {
                sets.push(format!("{key}={v}"));
            }
        }
        sets
    }
}

/// CEM elites for `n` candidates: the default ratio 32/256 = 1/8, at least 1.
pub fn elites(n: usize) -> usize {
    (n / 8).max(1)
}

/// The cross product `families × candidates × iterations × replan_every` (the policy once per
/// replanning period), each point validated. An empty `replan_every` keeps the run's.
pub fn cross(
    families: &[Family],
    candidates: &[usize],
    iterations: &[usize],
    replan_every: &[usize],
) -> Result<Vec<GridPoint>, AgentError> {
    let replans: Vec<Option<usize>> = if replan_every.is_empty() {
        vec![None]
    } else {
        replan_every.iter().copied().map(Some).collect()
    };
    let mut points = Vec::new();
    for &family in families {
        for &r in &replans {
            let schedule = Schedule {
                replan_every: r,
                ..Schedule::default()
            };
            if family == Family::Policy {
                points.push(GridPoint::new(family, 0, 0).with_schedule(schedule));
                continue;
            }
            for &n in candidates {
                for &k in iterations {
                    points.push(GridPoint::new(family, n, k).with_schedule(schedule));
                }
            }
        }
    }
    for p in &points {
        p.validate()?;
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_product_has_one_policy_point_per_period() {
        let fams = [Family::Mppi, Family::Policy, Family::Cem];
        let pts = cross(&fams, &[8, 16], &[1, 2, 3], &[4, 8]).unwrap();
        // mppi and cem: 2 candidates × 3 iterations × 2 periods each; the policy: 2 periods.
        assert_eq!(pts.len(), 12 + 2 + 12);
        let policy: Vec<_> = pts.iter().filter(|p| p.family == Family::Policy).collect();
        assert_eq!(policy.len(), 2);
        assert!(policy
            .iter()
            .all(|p| p.candidates == 0 && p.iterations == 0));
        assert_eq!(
            pts.iter()
                .filter(|p| p.schedule.replan_every == Some(8))
                .count(),
            13
        );
        assert!(cross(&fams, &[8], &[1], &[])
            .unwrap()
            .iter()
            .all(|p| p.schedule.replan_every.is_none()));
    }

    #[test]
    fn bad_grid_values_name_their_field() {
        for (cands, iters, replans, field) in [
            (vec![0], vec![1], vec![], "`candidates`"),
            (vec![5000], vec![1], vec![], "`candidates`"),
            (vec![8], vec![0], vec![], "`iterations`"),
            (vec![8], vec![101], vec![], "`iterations`"),
            (vec![8], vec![1], vec![0], "`replan_every`"),
        ] {
            let err = cross(&[Family::Mppi], &cands, &iters, &replans)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{err}");
        }
        let err = Family::parse("ppo").unwrap_err().to_string();
        assert!(err.contains("`planners`") && err.contains("ppo"), "{err}");
        assert_eq!(Family::parse(" cem+gradient").unwrap(), Family::CemGradient);
    }

    #[test]
    fn overrides_set_the_family_its_sizes_and_the_schedule() {
        let p = GridPoint::new(Family::CemGradient, 32, 2)
            .with_refine(3)
            .with_schedule(Schedule {
                horizon: Some(8),
                action_repeat: Some(8),
                replan_every: None,
            });
        assert_eq!(
            p.overrides(),
            [
                "planner.kind=\"cem+gradient\"",
                "planner.cem.samples=32",
                "planner.cem.iterations=2",
                "planner.cem.elites=4",
                "planner.gradient.iterations=3",
                "agent.actor=\"planner\"",
                "agent.horizon=8",
                "agent.action_repeat=8",
            ]
        );
        let guided = GridPoint::new(Family::PolicyMppi, 16, 1).overrides();
        assert!(guided.contains(&"agent.actor=\"policy+planner\"".to_string()));
        assert!(guided.contains(&"planner.samples=16".to_string()));
        assert_eq!(
            GridPoint::new(Family::Policy, 64, 6).overrides(),
            ["agent.actor=\"policy\""]
        );
        assert_eq!(elites(4), 1);
        assert_eq!(elites(256), 32);
    }
}
