//! How well the agent reads features from *imagined* states, per planned step — the error a
//! guardrail on a predicted future must allow for.
//!
//! The reader's own error (`feature_p99`, [`crate::FeatureReader`]) is measured on encoded
//! states; a planner reads predicted ones, whose error grows with the horizon. On held-out real
//! trajectories, from encoded starts `s_t`, the world model rolls the logged actions forward
//! on the latent paths of [`LatentPaths`] (one path for a deterministic model), and for planned
//! step `j = 1..h` and feature `i`
//! ```text
//! e_{t,j,i} = min_p | R(ŝ^{(p)}_{t,j})_i − f_i(x_{t + j·r}) |
//! ```
//! with `R` the reader, `f` the environment's readout of the true state and `r` the action
//! repeat (each planned action is the logged action at the start of its block of `r` steps).
//! The minimum over paths reflects how a guardrail uses them: it rejects a plan when *any*
//! path is unsafe, so it is enough that *some* path reads the real future within the margin.
//! `p99[j][i]` is the 99th percentile of `e_{·,j,i}` over the starts
//! ([`crate::probe::quantile_of_sorted`]); a feature guardrail widens its bound at planned step
//! `j` by `max(feature_p99_i, p99[j][i])` ([`crate::terms::FeatureGuardrail`]).
//!
//! # Guardrail thresholds calibrated on what they must catch
//! A margin of the 99th percentile of `|error|` over *all* states is dominated by rare large
//! errors far from the bound (and, for a 0/1 feature such as highway's `crashed`, jumps to 1
//! as soon as more than 1 % of futures hold an unpredicted event), so it can reject almost
//! every plan. What the guardrails must do together is reject the plans whose real future is
//! unsafe. For the run's feature guardrails `g` ([`GuardSpec`]: feature `i_g`, bound `b_g`,
//! unsafe below it — an `above` bound is mirrored, `x ↦ −x`), every held-out start whose true
//! state is safe (no environment violation, every feature on its side) gives the logged plan's
//! statistics
//! ```text
//! σ_g = min_{j=1..h} min_p R(ŝ^{(p)}_{t,j})_{i_g}      (the lowest reading guardrail g sees)
//! ```
//! and is *violating* when within the horizon the true state violates the environment's
//! constraint ([`HeldOut::violations`]) or some feature crosses its bound, else *safe*. The
//! set rejects a plan when some `σ_g ≤ τ_g`. With `n` violating plans the thresholds must
//! reject `k = ⌈(n+1)·ρ⌉` of them (the conformal count for recall `ρ` = [`GUARD_RECALL`]; no
//! thresholds when `k > n`). They are chosen by coordinate descent from every guardrail's own
//! bound (`τ_g = b_g`, the least strict): each guardrail in turn takes the least strict
//! threshold that, with the others fixed, still rejects `k` violating plans; every guardrail
//! goes first in one try, and the try rejecting the fewest safe plans is kept. So a
//! guardrail that does not tell safe from unsafe futures (highway's `crashed` from the
//! second step) stays at its bound, and one that does carries the recall. [`GuardCalibration`]
//! records the recall and false-alarm rate (safe plans rejected) of the thresholds and of the
//! encoded-state margin rule (`σ_g < b_g + p99_g` for some `g`) on the same plans.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::latent_paths::LatentPaths;
use crate::probe::quantile_of_sorted;
use crate::readout_head::FeatureReader;
use crate::terms::FeatureBound;
use crate::world_model::WorldModel;

/// Fraction of the held-out plans leading to a violation that a calibrated guardrail rejects
/// (module docs).
pub const GUARD_RECALL: f64 = 0.99;

/// The fewest violating plans that calibrate a threshold: `⌈(n+1)·ρ⌉ ≤ n`.
pub fn min_violating_plans() -> usize {
    (1..)
        .find(|&n| ((n + 1) as f64 * GUARD_RECALL).ceil() as usize <= n)
        .unwrap_or(usize::MAX)
}

/// A feature guardrail to calibrate: the reader's feature and the guardrail's bound.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSpec {
    /// The reader's feature name.
    pub feature: String,
    /// Which side of which value is unsafe.
    pub bound: FeatureBound,
}

/// A guardrail's threshold calibrated on held-out plans (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardThreshold {
    /// The feature.
    pub feature: String,
    /// Unsafe below this value (exactly one of `below`/`above`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f32>,
    /// Unsafe above this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f32>,
    /// `τ`: a plan is rejected when a reading reaches it (`≤ τ` below, `≥ τ` above); none
    /// when too few violating plans were held out.
    pub threshold: Option<f32>,
}

impl GuardThreshold {
    /// Whether this calibrates the guardrail on `feature` with `bound`.
    pub fn is_for(&self, feature: &str, bound: FeatureBound) -> bool {
        self.feature == feature
            && match bound {
                FeatureBound::Below(b) => self.below == Some(b) && self.above.is_none(),
                FeatureBound::Above(b) => self.above == Some(b) && self.below.is_none(),
            }
    }
}

/// How the calibrated guardrail set and the margin rule score on the held-out plans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardCalibration {
    /// Held-out plans from a safe state whose real future violates within the horizon.
    pub violating_plans: usize,
    /// Held-out plans from a safe state whose real future stays safe.
    pub safe_plans: usize,
    /// Fraction of violating plans the thresholds reject (none without thresholds).
    pub recall: Option<f64>,
    /// Fraction of safe plans the thresholds reject.
    pub false_alarm: Option<f64>,
    /// The encoded-state margin rule's recall on the same plans.
    pub margin_recall: Option<f64>,
    /// The margin rule's false-alarm rate on the same plans.
    pub margin_false_alarm: Option<f64>,
}

/// Plans' statistics for [`calibrate`]: per plan, one `σ_g` per guardrail.
pub struct PlanStats<'a> {
    /// Violating plans, `[n, m]` row-major.
    pub violating: &'a [f32],
    /// Safe plans, `[n_safe, m]`.
    pub safe: &'a [f32],
}

/// Calibrates the guardrails `specs` jointly on the plans' statistics (module docs), with the
/// reader's encoded-state margins `margins` (one per guardrail) for the comparison. NaN
/// readings reach any threshold.
pub fn calibrate(
    specs: &[GuardSpec],
    margins: &[f32],
    plans: PlanStats<'_>,
) -> (Vec<GuardThreshold>, GuardCalibration) {
    let m = specs.len().max(1);
    // Mirror to "unsafe below": x = sign·σ, bound sign·b.
    let mirrored: Vec<(f32, f32)> = specs
        .iter()
        .map(|g| match g.bound {
            FeatureBound::Below(b) => (1.0, b),
            FeatureBound::Above(b) => (-1.0, -b),
        })
        .collect();
    let mirror = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .enumerate()
            .map(|(r, &x)| {
                if x.is_nan() {
                    f32::NEG_INFINITY
                } else {
                    mirrored[r % m].0 * x
                }
            })
            .collect()
    };
    let bounds: Vec<f32> = mirrored.iter().map(|&(_, b)| b).collect();
    let (viol, safe) = (mirror(plans.violating), mirror(plans.safe));
    let (n, n_safe) = (viol.len() / m, safe.len() / m);
    let flagged =
        |v: &[f32], p: usize, tau: &[f32]| tau.iter().enumerate().any(|(g, &t)| v[p * m + g] <= t);
    let count =
        |v: &[f32], rows: usize, tau: &[f32]| (0..rows).filter(|&p| flagged(v, p, tau)).count();
    let share = |v: &[f32], rows: usize, tau: &[f32]| {
        (rows > 0).then(|| count(v, rows, tau) as f64 / rows as f64)
    };
    let k = ((n + 1) as f64 * GUARD_RECALL).ceil() as usize;
    let mut best: Option<(Vec<f32>, usize)> = None;
    if !specs.is_empty() && k <= n {
        for first in 0..m {
            let mut tau = bounds.clone();
            for sweep in 0..2 * m {
                let g = (first + sweep) % m;
                tau[g] = f32::NEG_INFINITY;
                let mut rest: Vec<f32> = (0..n)
                    .filter(|&p| !flagged(&viol, p, &tau))
                    .map(|p| viol[p * m + g])
                    .collect();
                let need = k.saturating_sub(n - rest.len());
                rest.sort_by(f32::total_cmp);
                tau[g] = match need {
                    0 => bounds[g],
                    need => rest[need - 1].max(bounds[g]),
                };
            }
            let alarms = count(&safe, n_safe, &tau);
            if best.as_ref().is_none_or(|(_, a)| alarms < *a) {
                best = Some((tau, alarms));
            }
        }
    }
    let tau = best.map(|(t, _)| t);
    // The margin rule rejects strictly inside `b + m`: its edge one step below.
    let edges: Vec<f32> = bounds
        .iter()
        .zip(margins)
        .map(|(b, e)| (b + e).next_down())
        .collect();
    let thresholds = specs
        .iter()
        .zip(&mirrored)
        .enumerate()
        .map(|(g, (spec, &(sign, _)))| GuardThreshold {
            feature: spec.feature.clone(),
            below: match spec.bound {
                FeatureBound::Below(b) => Some(b),
                FeatureBound::Above(_) => None,
            },
            above: match spec.bound {
                FeatureBound::Above(b) => Some(b),
                FeatureBound::Below(_) => None,
            },
            threshold: tau.as_ref().map(|t| sign * t[g]),
        })
        .collect();
    let scores = GuardCalibration {
        violating_plans: n,
        safe_plans: n_safe,
        recall: tau.as_ref().and_then(|t| share(&viol, n, t)),
        false_alarm: tau.as_ref().and_then(|t| share(&safe, n_safe, t)),
        margin_recall: share(&viol, n, &edges),
        margin_false_alarm: share(&safe, n_safe, &edges),
    };
    (thresholds, scores)
}

/// File of a run's imagined-state reading errors.
pub const IMAGINED_ERROR_FILE: &str = "imagined_error.json";

/// Held-out reading error of imagined states per planned step (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImaginedError {
    /// Feature names (the reader's).
    pub names: Vec<String>,
    /// `p99[j][i]`: planned step `j + 1`, feature `i`.
    pub p99: Vec<Vec<f32>>,
    /// `median[j][i]`: the median of the same errors (empty in files written before it was
    /// recorded).
    #[serde(default)]
    pub median: Vec<Vec<f32>>,
    /// Latent paths the error was measured on (`[agent] latent_paths`).
    pub latent_paths: String,
    /// Starts measured.
    pub starts: usize,
    /// The run's feature guardrails calibrated on the same plans (module docs; empty in files
    /// written before they were).
    #[serde(default)]
    pub guards: Vec<GuardThreshold>,
    /// How they score on those plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_calibration: Option<GuardCalibration>,
}

/// Held-out real trajectories for [`ImaginedError::measure`].
pub struct HeldOut<'a> {
    /// Encoded observations `[n_traj, T+1, D]`.
    pub reprs: &'a [f32],
    /// Readout features of the true states `[n_traj, T+1, K]`.
    pub features: &'a [f32],
    /// Logged actions `[n_traj, T, A]`.
    pub actions: &'a [f32],
    /// Whether each true state violates the environment's constraint `[n_traj, T+1]` (empty:
    /// no constraint; [`ami_envs::Env::violation`]).
    pub violations: &'a [bool],
    /// Trajectories `n_traj` and actions per trajectory `T`.
    pub shape: (usize, usize),
}

impl ImaginedError {
    /// Measures the error over planned steps `1..=h` from every `stride`-th start of `data`
    /// whose future of `h·repeat` steps is logged, and calibrates `guards` on the same plans
    /// (module docs).
    pub fn measure(
        model: &dyn WorldModel,
        reader: &dyn FeatureReader,
        data: &HeldOut<'_>,
        (h, repeat, stride): (usize, usize, usize),
        paths: LatentPaths,
        guards: &[GuardSpec],
    ) -> Result<Self, AgentError> {
        let (d, a) = (model.state_dim(), model.action_dim());
        let k = reader.names().len();
        let (n_traj, t_len) = data.shape;
        let per = t_len + 1;
        crate::error::check_len(
            "held-out representations",
            data.reprs,
            n_traj * per * d,
            || format!("[n_traj={n_traj}, T+1={per}, D={d}]"),
        )?;
        crate::error::check_len("held-out features", data.features, n_traj * per * k, || {
            format!("[n_traj={n_traj}, T+1={per}, K={k}]")
        })?;
        crate::error::check_len("held-out actions", data.actions, n_traj * t_len * a, || {
            format!("[n_traj={n_traj}, T={t_len}, A={a}]")
        })?;
        if h == 0 || repeat == 0 || stride == 0 {
            return Err(AgentError::config(
                "imagined error (horizon, repeat, stride)",
                format!("({h}, {repeat}, {stride})"),
                "all >= 1",
            ));
        }
        let span = h * repeat;
        let guard_features = guards
            .iter()
            .map(|g| reader.feature(&g.feature))
            .collect::<Result<Vec<_>, _>>()?;
        // Per plan, one statistic per guard: violating and safe plans.
        let (mut violating, mut safe) = (Vec::new(), Vec::new());
        if !data.violations.is_empty() {
            crate::error::check_len("held-out violations", data.violations, n_traj * per, || {
                format!("[n_traj={n_traj}, T+1={per}]")
            })?;
        }
        let mut errors: Vec<Vec<Vec<f32>>> = vec![vec![Vec::new(); k]; h];
        let mut starts = 0;
        for traj in 0..n_traj {
            let mut t = 0;
            while t + span <= t_len {
                let s0 = &data.reprs[(traj * per + t) * d..(traj * per + t + 1) * d];
                let plan: Vec<f32> = (0..h)
                    .flat_map(|j| {
                        let at = (traj * t_len + t + j * repeat) * a;
                        data.actions[at..at + a].iter().copied()
                    })
                    .collect();
                let set = paths.paths(s0, h, model)?;
                let m = set.count;
                let expanded: Vec<f32> = (0..m).flat_map(|_| plan.iter().copied()).collect();
                let states = model.rollout_latent(s0, &expanded, &set.latents, m, h)?;
                let read = reader.read(&states, m * h)?;
                for (j, per_step) in errors.iter_mut().enumerate() {
                    let truth = &data.features[(traj * per + t + (j + 1) * repeat) * k..][..k];
                    for (i, e) in per_step.iter_mut().enumerate() {
                        let best = (0..m)
                            .map(|p| (read[(p * h + j) * k + i] - truth[i]).abs())
                            .fold(f32::INFINITY, f32::min);
                        e.push(if best.is_nan() { f32::INFINITY } else { best });
                    }
                }
                if !guards.is_empty() {
                    let at = |j: usize| traj * per + t + j * repeat;
                    let violated = |j: usize| {
                        data.violations.get(at(j)).copied().unwrap_or(false)
                            || guards
                                .iter()
                                .zip(&guard_features)
                                .any(|(g, &i)| g.bound.crossed_by(data.features[at(j) * k + i]))
                    };
                    if !violated(0) {
                        let into = if (1..=h).any(violated) {
                            &mut violating
                        } else {
                            &mut safe
                        };
                        for (g, &i) in guards.iter().zip(&guard_features) {
                            let readings = (0..m * h).map(|r| read[r * k + i]);
                            into.push(match g.bound {
                                FeatureBound::Below(_) => readings.fold(f32::INFINITY, nan_min),
                                FeatureBound::Above(_) => readings.fold(f32::NEG_INFINITY, nan_max),
                            });
                        }
                    }
                }
                starts += 1;
                t += stride;
            }
        }
        if starts == 0 {
            return Err(AgentError::config(
                "agent.horizon",
                format!("{h} (× action_repeat {repeat} = {span} steps; trajectories of {t_len})"),
                "a plan that fits in the held-out trajectories",
            ));
        }
        let (mut p99, mut median) = (Vec::with_capacity(h), Vec::with_capacity(h));
        for per_step in errors {
            let (mut hi, mut mid) = (Vec::with_capacity(k), Vec::with_capacity(k));
            for mut e in per_step {
                e.sort_by(f32::total_cmp);
                hi.push(quantile_of_sorted(&e, 0.99));
                mid.push(quantile_of_sorted(&e, 0.5));
            }
            p99.push(hi);
            median.push(mid);
        }
        let margins: Vec<f32> = guard_features
            .iter()
            .map(|&i| reader.feature_p99().get(i).copied().unwrap_or(0.0))
            .collect();
        let (guards, guard_calibration) = if guards.is_empty() {
            (Vec::new(), None)
        } else {
            let plans = PlanStats {
                violating: &violating,
                safe: &safe,
            };
            let (t, c) = calibrate(guards, &margins, plans);
            (t, Some(c))
        };
        Ok(ImaginedError {
            names: reader.names().to_vec(),
            p99,
            median,
            latent_paths: paths.to_string(),
            starts,
            guards,
            guard_calibration,
        })
    }

    /// The calibration of the guardrail on `feature` with `bound`, if measured.
    pub fn guard(&self, feature: &str, bound: FeatureBound) -> Option<&GuardThreshold> {
        self.guards.iter().find(|g| g.is_for(feature, bound))
    }

    /// `p99` of feature `feature` at every planned step.
    pub fn of_feature(&self, feature: usize) -> Vec<f32> {
        self.p99
            .iter()
            .map(|row| row.get(feature).copied().unwrap_or(f32::INFINITY))
            .collect()
    }

    /// Writes the errors as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source("imagined error", e.to_string()))?;
        Ok(ami_io::write_atomic(path, text.as_bytes())?)
    }

    /// Reads errors written by [`ImaginedError::save`]; a bad file is an error naming it.
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        let e: ImaginedError = serde_json::from_str(&text).map_err(|err| {
            AgentError::config_source("imagined error", format!("{}: {err}", path.display()))
        })?;
        if e.p99.iter().any(|row| row.len() != e.names.len()) {
            return Err(AgentError::config_source(
                "imagined error",
                format!("{}: every step needs one error per feature", path.display()),
            ));
        }
        Ok(e)
    }
}

/// `min` that keeps a NaN (a NaN reading reaches any threshold of a `below` guardrail).
fn nan_min(acc: f32, x: f32) -> f32 {
    if x.is_nan() {
        f32::NEG_INFINITY
    } else {
        acc.min(x)
    }
}

/// `max` that keeps a NaN (it reaches any threshold of an `above` guardrail).
fn nan_max(acc: f32, x: f32) -> f32 {
    if x.is_nan() {
        f32::INFINITY
    } else {
        acc.max(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world_model::LinearWorldModel;

    /// Reads the state itself, named `x`.
    #[derive(Debug)]
    struct Identity;

    impl FeatureReader for Identity {
        fn names(&self) -> &[String] {
            static N: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            N.get_or_init(|| vec!["x".to_string()])
        }
        fn feature_p99(&self) -> &[f32] {
            &[0.0]
        }
        fn repr_dim(&self) -> usize {
            1
        }
        fn read(&self, reprs: &[f32], _rows: usize) -> Result<Vec<f32>, AgentError> {
            Ok(reprs.to_vec())
        }
    }

    #[test]
    fn error_grows_by_the_model_bias_per_step() {
        // Model s' = s + a; the truth is s' = s + a + 0.5: the error after j steps is 0.5·j.
        let model = LinearWorldModel::new(vec![1.0], vec![1.0], 1, 1).unwrap();
        let t_len = 6;
        let actions: Vec<f32> = (0..t_len).map(|t| 0.1 * t as f32).collect();
        let mut x = vec![0.0f32];
        for a in &actions {
            x.push(x.last().unwrap() + a + 0.5);
        }
        let data = HeldOut {
            reprs: &x,
            features: &x,
            actions: &actions,
            violations: &[],
            shape: (1, t_len),
        };
        let e = ImaginedError::measure(&model, &Identity, &data, (3, 1, 1), LatentPaths::Held, &[])
            .unwrap();
        assert_eq!(e.starts, 4);
        for (j, (row, mid)) in e.p99.iter().zip(&e.median).enumerate() {
            assert!((row[0] - 0.5 * (j + 1) as f32).abs() < 1e-5, "{j}: {row:?}");
            assert!((mid[0] - 0.5 * (j + 1) as f32).abs() < 1e-5, "{j}: {mid:?}");
        }
        // With an action repeat of 2, step j is 2j real steps ahead but the model moves once.
        let e2 =
            ImaginedError::measure(&model, &Identity, &data, (2, 2, 1), LatentPaths::Held, &[])
                .unwrap();
        assert_eq!(e2.starts, 3);
        assert_eq!(e2.of_feature(0).len(), 2);
        // No start fits a plan longer than the trajectories.
        let err =
            ImaginedError::measure(&model, &Identity, &data, (7, 1, 1), LatentPaths::Held, &[])
                .unwrap_err()
                .to_string();
        assert!(err.contains("agent.horizon"), "{err}");
    }

    fn gap() -> GuardSpec {
        GuardSpec {
            feature: "gap".into(),
            bound: FeatureBound::Below(0.0),
        }
    }

    fn crashed() -> GuardSpec {
        GuardSpec {
            feature: "crashed".into(),
            bound: FeatureBound::Above(0.5),
        }
    }

    #[test]
    fn one_threshold_is_the_conformal_order_statistic_of_the_violating_plans() {
        // 199 violating plans read 0.01, 0.02, ..., 1.99 (shuffled): k = ⌈200·0.99⌉ = 198, so
        // τ = 1.98 and 198 of 199 are rejected; of the safe plans 1.0, 1.99, 2.5, 3.0 only 1.0 is.
        let mut viol: Vec<f32> = (1..=199).map(|i| i as f32 * 0.01).collect();
        viol.reverse();
        viol.swap(3, 150);
        let safe = [3.0, 1.0, 2.5, 1.99];
        let plans = PlanStats {
            violating: &viol,
            safe: &safe,
        };
        let (t, c) = calibrate(&[gap()], &[1.5], plans);
        assert!((t[0].threshold.unwrap() - 1.98).abs() < 1e-6, "{t:?}");
        assert_eq!((c.violating_plans, c.safe_plans), (199, 4));
        assert!((c.recall.unwrap() - 198.0 / 199.0).abs() < 1e-12);
        assert_eq!(c.false_alarm, Some(0.25));
        // The margin rule reads < 0 + 1.5: 149 violating plans, 1 safe plan.
        assert!((c.margin_recall.unwrap() - 149.0 / 199.0).abs() < 1e-12);
        assert_eq!(c.margin_false_alarm, Some(0.25));
        assert!(t[0].is_for("gap", FeatureBound::Below(0.0)));
        assert!(!t[0].is_for("gap", FeatureBound::Below(1.0)));
        assert!(!t[0].is_for("gap", FeatureBound::Above(0.0)));
        assert!(!t[0].is_for("v", FeatureBound::Below(0.0)));
        // Never looser than the bound: plans all read deep below it → τ = b.
        let deep: Vec<f32> = (0..200).map(|i| -10.0 - i as f32).collect();
        let plans = PlanStats {
            violating: &deep,
            safe: &[],
        };
        let (t, c) = calibrate(&[gap()], &[0.0], plans);
        assert_eq!((t[0].threshold, c.false_alarm), (Some(0.0), None));
    }

    #[test]
    fn an_above_bound_mirrors_and_nan_readings_reach_it() {
        // Crashed above 0.5: violating plans read 0.99, 0.98, ..., 0.01 and one NaN (100):
        // k = ⌈101·0.99⌉ = 100, the 100th highest is 0.01 → τ = 0.01.
        let mut viol: Vec<f32> = (1..=99).map(|i| i as f32 * 0.01).collect();
        viol.push(f32::NAN);
        let plans = PlanStats {
            violating: &viol,
            safe: &[0.0, 0.02],
        };
        let (t, c) = calibrate(&[crashed()], &[0.1], plans);
        assert!((t[0].threshold.unwrap() - 0.01).abs() < 1e-6, "{t:?}");
        assert_eq!((c.recall, c.false_alarm), (Some(1.0), Some(0.5)));
        // Margin rule: above 0.5 − 0.1 → readings 0.41..0.99 and the NaN: 60 of 100.
        assert!((c.margin_recall.unwrap() - 0.6).abs() < 1e-6, "{c:?}");
        assert!(t[0].above == Some(0.5) && t[0].below.is_none());
        assert!(t[0].is_for("crashed", FeatureBound::Above(0.5)));
        assert!(!t[0].is_for("crashed", FeatureBound::Above(0.4)));
        assert!(!t[0].is_for("crashed", FeatureBound::Below(0.5)));
        // Too few violating plans: no thresholds, and the count says how many were seen.
        let plans = PlanStats {
            violating: &viol[..98],
            safe: &[],
        };
        let (t, c) = calibrate(&[crashed()], &[0.1], plans);
        assert_eq!(
            (t[0].threshold, c.recall, c.violating_plans),
            (None, None, 98)
        );
        assert_eq!(min_violating_plans(), 99);
    }

    #[test]
    fn the_guardrail_that_separates_carries_the_recall_and_the_other_stays_at_its_bound() {
        // 100 violating plans: `gap` reads i/100 − 0.5 for plan i (low = dangerous), `crashed`
        // reads 0.1 everywhere (it does not separate). 20 safe plans: gap 1 + i, crashed 0.1.
        // k = 100: `gap` must reject all, τ = 0.49 (above its bound 0); `crashed` keeps its bound
        // 0.5 (no safe plan reaches it), so nothing safe is rejected. Starting from `crashed`
        // would reject every plan at τ = 0.1: the try with fewer false alarms is kept.
        let mut viol = Vec::new();
        for i in 0..100 {
            viol.extend([i as f32 / 100.0 - 0.5, 0.1]);
        }
        let safe: Vec<f32> = (0..20).flat_map(|i| [1.0 + i as f32, 0.1]).collect();
        let plans = PlanStats {
            violating: &viol,
            safe: &safe,
        };
        let (t, c) = calibrate(&[gap(), crashed()], &[0.5, 0.45], plans);
        assert!((t[0].threshold.unwrap() - 0.49).abs() < 1e-6, "{t:?}");
        assert_eq!(t[1].threshold, Some(0.5));
        assert_eq!((c.recall, c.false_alarm), (Some(1.0), Some(0.0)));
        // The margin rule: gap < 0.5 (50 plans) or crashed > 0.05 (every plan).
        assert_eq!(
            (c.margin_recall, c.margin_false_alarm),
            (Some(1.0), Some(1.0))
        );
        // The order of the guardrails does not change the result.
        let swap = |v: &[f32]| v.chunks(2).flat_map(|p| [p[1], p[0]]).collect::<Vec<f32>>();
        let (viol2, safe2) = (swap(&viol), swap(&safe));
        let plans = PlanStats {
            violating: &viol2,
            safe: &safe2,
        };
        let (t2, c2) = calibrate(&[crashed(), gap()], &[0.45, 0.5], plans);
        assert_eq!(
            (t2[0].threshold, t2[1].threshold),
            (t[1].threshold, t[0].threshold)
        );
        assert_eq!(c2, c);
    }

    #[test]
    fn measured_plans_are_split_by_their_real_future_from_safe_starts() {
        // Model s' = s + a read as the feature `x`; the truth falls by 1 each step from 3
        // (3, 2, 1, 0, −1, −2, −3) and the logged actions are 0. Guard `x` below 0.5 with
        // horizon 2, five starts: from 3 the future (2, 1) is safe; from 2 (1, 0) and from 1
        // (0, −1) it violates; the starts at 0 and −1 are unsafe themselves and skipped.
        let model = LinearWorldModel::new(vec![1.0], vec![1.0], 1, 1).unwrap();
        let x: Vec<f32> = (0..7).map(|t| 3.0 - t as f32).collect();
        let data = HeldOut {
            reprs: &x,
            features: &x,
            actions: &[0.0; 6],
            violations: &[],
            shape: (1, 6),
        };
        let guard = GuardSpec {
            feature: "x".into(),
            bound: FeatureBound::Below(0.5),
        };
        let e = ImaginedError::measure(
            &model,
            &Identity,
            &data,
            (2, 1, 1),
            LatentPaths::Held,
            std::slice::from_ref(&guard),
        )
        .unwrap();
        assert_eq!(e.starts, 5);
        let c = e.guard_calibration.as_ref().unwrap();
        assert_eq!((c.violating_plans, c.safe_plans), (2, 1));
        assert_eq!(
            e.guard("x", FeatureBound::Below(0.5)).unwrap().threshold,
            None
        );
        // The environment's violation flags make a plan violating on their own: flag the
        // state after the start at 3 and that plan is violating too (and the start at 2 is
        // unsafe itself, so skipped).
        let mut flags = [false; 7];
        flags[1] = true;
        let flagged = HeldOut {
            violations: &flags,
            ..data
        };
        let e = ImaginedError::measure(
            &model,
            &Identity,
            &flagged,
            (2, 1, 1),
            LatentPaths::Held,
            std::slice::from_ref(&guard),
        )
        .unwrap();
        let c = e.guard_calibration.as_ref().unwrap();
        assert_eq!((c.violating_plans, c.safe_plans), (2, 0));
        let short = HeldOut {
            violations: &flags[..3],
            ..data
        };
        let err = ImaginedError::measure(
            &model,
            &Identity,
            &short,
            (2, 1, 1),
            LatentPaths::Held,
            std::slice::from_ref(&guard),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("violations"), "{err}");
        // A guard on a feature the reader does not have is an error naming it.
        let bad = GuardSpec {
            feature: "gap".into(),
            bound: FeatureBound::Below(0.0),
        };
        let err = ImaginedError::measure(
            &model,
            &Identity,
            &data,
            (2, 1, 1),
            LatentPaths::Held,
            &[bad],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("gap"), "{err}");
    }

    #[test]
    fn save_load_round_trip_and_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IMAGINED_ERROR_FILE);
        let e = ImaginedError {
            names: vec!["a".into(), "b".into()],
            p99: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
            median: vec![vec![0.5, 1.0], vec![1.5, 2.0]],
            latent_paths: "held".into(),
            starts: 5,
            guards: vec![GuardThreshold {
                feature: "a".into(),
                below: Some(0.0),
                above: None,
                threshold: Some(0.5),
            }],
            guard_calibration: Some(GuardCalibration {
                violating_plans: 100,
                safe_plans: 3,
                recall: Some(1.0),
                false_alarm: Some(1.0 / 3.0),
                margin_recall: None,
                margin_false_alarm: Some(0.0),
            }),
        };
        e.save(&path).unwrap();
        assert_eq!(ImaginedError::load(&path).unwrap(), e);
        std::fs::write(
            &path,
            r#"{"names":["a"],"p99":[[1,2]],"latent_paths":"held","starts":1}"#,
        )
        .unwrap();
        let err = ImaginedError::load(&path).unwrap_err().to_string();
        assert!(err.contains("imagined_error.json"), "{err}");
    }
}
