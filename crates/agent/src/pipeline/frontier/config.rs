//! What a planning frontier measures ([`FrontierConfig`]): the standard grid, the smoke-test
//! grid, a grid from lists, and their checks.

use std::path::Path;

use super::grid::{cross, Family, GridPoint, Schedule};
use crate::error::AgentError;
use crate::pipeline::config::Split;
use crate::pipeline::learned::POLICY_FILE;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierConfig {
    /// The settings, in measuring order.
    pub points: Vec<GridPoint>,
    /// Episodes per setting (`None`: the run's `eval.episodes`).
    pub episodes: Option<usize>,
    /// The tasks: `test` (reported), or `val` to choose settings without looking at the test
    /// tasks.
    pub split: Split,
    /// Overrides applied to the run's configuration before each setting's own.
    pub sets: Vec<String>,
}

impl FrontierConfig {
    /// The measured grid on `two-rooms` (README "Planning compute"): the run's MPPI 256 × 6
    /// as reference, then every family down to a handful of candidates and one iteration, at
    /// the run's schedule (horizon 16 × action repeat 4, replan every 4 steps), replanning
    /// every 8 steps (`r8`), and with half the horizon at twice the repeat (`h8×8`, the same
    /// 64-step look-ahead); with `policy`, the amortised policy alone and as MPPI's warm start.
    pub fn standard(policy: bool) -> Self {
        use Family::*;
        let r8 = Schedule {
            replan_every: Some(8),
            ..Schedule::default()
        };
        let h8x8 = Schedule {
            horizon: Some(8),
            action_repeat: Some(8),
            replan_every: Some(8),
        };
        let r1 = Schedule {
            replan_every: Some(1),
            ..Schedule::default()
        };
        let run = Schedule::default();
        let mut grid: Vec<(Family, usize, usize, Schedule)> = vec![(Mppi, 256, 6, run)];
        for (f, sizes) in [
            (
                Mppi,
                &[(64, 3), (32, 2), (16, 2), (16, 1), (8, 1), (4, 1), (2, 1)][..],
            ),
            (
                Cem,
                &[(64, 3), (32, 2), (16, 2), (8, 1), (4, 1), (2, 1)][..],
            ),
            (
                Gradient,
                &[(8, 10), (4, 5), (2, 3), (2, 2), (1, 5), (1, 2)][..],
            ),
            (CemGradient, &[(32, 2), (16, 1), (4, 2), (2, 2)][..]),
        ] {
            grid.extend(sizes.iter().map(|&(n, k)| (f, n, k, run)));
        }
        for (f, n, k, s) in [
            (Mppi, 32, 2, r8),
            (Mppi, 8, 1, r8),
            (Mppi, 4, 1, r8),
            (Cem, 8, 1, r8),
            (Cem, 4, 1, r8),
            (Mppi, 32, 2, h8x8),
            (Mppi, 8, 1, h8x8),
        ] {
            grid.push((f, n, k, s));
        }
        if policy {
            grid.extend([(Policy, 0, 0, r1), (Policy, 0, 0, run), (Policy, 0, 0, r8)]);
            for (n, k) in [(16, 2), (8, 1), (4, 1), (2, 1)] {
                grid.push((PolicyMppi, n, k, run));
            }
            grid.extend([(PolicyMppi, 4, 1, r8), (PolicyMppi, 2, 1, r8)]);
        }
        FrontierConfig {
            points: grid
                .into_iter()
                .map(|(f, n, k, s)| GridPoint::new(f, n, k).with_schedule(s))
                .collect(),
            episodes: None,
            split: Split::Test,
            sets: Vec::new(),
        }
    }

    /// A seconds-long smoke test: one tiny setting per family (the policy's only with one),
    /// at most 4 episodes each. Checks the plumbing, measures nothing.
    pub fn quick(policy: bool) -> Self {
        let points = Family::ALL
            .into_iter()
            .filter(|f| policy || !f.needs_policy())
            .map(|f| GridPoint::new(f, 4, 1).with_refine(1))
            .map(|p| match p.family {
                Family::CemGradient => p,
                _ => p.with_refine(0),
            })
            .collect();
        FrontierConfig {
            points,
            episodes: Some(4),
            split: Split::Test,
            sets: Vec::new(),
        }
    }

    /// The grid for the run in `run_dir`: [`FrontierConfig::quick`] or
    /// [`FrontierConfig::standard`], with the policy's settings when the run has a
    /// `policy.json`.
    pub fn for_run(run_dir: &Path, quick: bool) -> Self {
        let policy = run_dir.join(POLICY_FILE).is_file();
        if quick {
            Self::quick(policy)
        } else {
            Self::standard(policy)
        }
    }

    /// A grid from lists ([`cross`]): `planners` by name (empty: every family the run can
    /// use, the policy's only when `policy`), `candidates` (empty: 16, 32, 64), `iterations`
    /// (empty: 1, 2), `replan_every` (empty: the run's). Errors name the list at fault.
    pub fn from_lists(
        planners: &[String],
        candidates: &[usize],
        iterations: &[usize],
        replan_every: &[usize],
        policy: bool,
    ) -> Result<Self, AgentError> {
        let families = if planners.is_empty() {
            Family::ALL
                .into_iter()
                .filter(|f| policy || !f.needs_policy())
                .collect()
        } else {
            planners
                .iter()
                .map(|n| Family::parse(n))
                .collect::<Result<Vec<_>, _>>()?
        };
        let or = |v: &[usize], d: &[usize]| if v.is_empty() { d.to_vec() } else { v.to_vec() };
        Ok(FrontierConfig {
            points: cross(
                &families,
                &or(candidates, &[16, 32, 64]),
                &or(iterations, &[1, 2]),
                replan_every,
            )?,
            episodes: None,
            split: Split::Test,
            sets: Vec::new(),
        })
    }

    /// Every point valid, at least one, and `episodes ≥ 1` when given (errors name the field).
    pub fn validate(&self) -> Result<(), AgentError> {
        if self.points.is_empty() {
            return Err(AgentError::config("grid", "empty", "at least one setting"));
        }
        if self.episodes == Some(0) {
            return Err(AgentError::config("episodes", 0, "an integer >= 1"));
        }
        self.points.iter().try_for_each(GridPoint::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_grid_is_valid_and_has_the_policy_only_when_asked() {
        for policy in [false, true] {
            let cfg = FrontierConfig::standard(policy);
            cfg.validate().unwrap();
            let with_policy = cfg.points.iter().any(|p| p.family.needs_policy());
            assert_eq!(with_policy, policy);
            let q = FrontierConfig::quick(policy);
            q.validate().unwrap();
            assert_eq!(q.points.len(), if policy { 6 } else { 4 });
        }
    }

    #[test]
    fn every_standard_setting_is_a_valid_run_configuration() {
        use crate::pipeline::{Preset, RunConfig};
        for p in FrontierConfig::standard(true).points {
            let c = RunConfig::preset(Preset::Default)
                .with_overrides(&p.overrides())
                .unwrap();
            c.validate().unwrap();
            assert_eq!(
                c.agent.actor.name(),
                match p.family {
                    Family::Policy => "policy",
                    Family::PolicyMppi => "policy+planner",
                    _ => "planner",
                }
            );
        }
    }

    #[test]
    fn lists_make_a_grid_and_unknown_planners_are_named() {
        let all = FrontierConfig::from_lists(&[], &[], &[], &[], false).unwrap();
        // 4 planning families × 3 candidates × 2 iterations.
        assert_eq!(all.points.len(), 24);
        let with_policy = FrontierConfig::from_lists(&[], &[8], &[1], &[], true).unwrap();
        assert_eq!(with_policy.points.len(), 6);
        let err = FrontierConfig::from_lists(&["mppi".into(), "ddpg".into()], &[], &[], &[], true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`planners`") && err.contains("ddpg"), "{err}");
    }

    #[test]
    fn bad_grids_name_their_field() {
        let mut cfg = FrontierConfig::quick(false);
        cfg.episodes = Some(0);
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`episodes`"));
        cfg.points.clear();
        cfg.episodes = None;
        assert!(cfg.validate().unwrap_err().to_string().contains("`grid`"));
    }
}
