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

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::latent_paths::LatentPaths;
use crate::probe::quantile_of_sorted;
use crate::readout_head::FeatureReader;
use crate::world_model::WorldModel;

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
}

/// Held-out real trajectories for [`ImaginedError::measure`].
pub struct HeldOut<'a> {
    /// Encoded observations `[n_traj, T+1, D]`.
    pub reprs: &'a [f32],
    /// Readout features of the true states `[n_traj, T+1, K]`.
    pub features: &'a [f32],
    /// Logged actions `[n_traj, T, A]`.
    pub actions: &'a [f32],
    /// Trajectories `n_traj` and actions per trajectory `T`.
    pub shape: (usize, usize),
}

impl ImaginedError {
    /// Measures the error over planned steps `1..=h` from every `stride`-th start of `data`
    /// whose future of `h·repeat` steps is logged (module docs).
    pub fn measure(
        model: &dyn WorldModel,
        reader: &dyn FeatureReader,
        data: &HeldOut<'_>,
        (h, repeat, stride): (usize, usize, usize),
        paths: LatentPaths,
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
        Ok(ImaginedError {
            names: reader.names().to_vec(),
            p99,
            median,
            latent_paths: paths.to_string(),
            starts,
        })
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
            shape: (1, t_len),
        };
        let e =
            ImaginedError::measure(&model, &Identity, &data, (3, 1, 1), LatentPaths::Held).unwrap();
        assert_eq!(e.starts, 4);
        for (j, (row, mid)) in e.p99.iter().zip(&e.median).enumerate() {
            assert!((row[0] - 0.5 * (j + 1) as f32).abs() < 1e-5, "{j}: {row:?}");
            assert!((mid[0] - 0.5 * (j + 1) as f32).abs() < 1e-5, "{j}: {mid:?}");
        }
        // With an action repeat of 2, step j is 2j real steps ahead but the model moves once.
        let e2 =
            ImaginedError::measure(&model, &Identity, &data, (2, 2, 1), LatentPaths::Held).unwrap();
        assert_eq!(e2.starts, 3);
        assert_eq!(e2.of_feature(0).len(), 2);
        // No start fits a plan longer than the trajectories.
        let err = ImaginedError::measure(&model, &Identity, &data, (7, 1, 1), LatentPaths::Held)
            .unwrap_err()
            .to_string();
        assert!(err.contains("agent.horizon"), "{err}");
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
