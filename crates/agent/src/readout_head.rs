//! The readout head: a small MLP that reads the environment's readout features
//! ([`ami_envs::EnvSpec::readout`]) from a representation, for features an affine probe
//! ([`crate::probe`]) cannot read (highway's `gap_ahead` is a minimum over cars, capped: the
//! affine probe's held-out p99 error on it is ~40 m on a `check` run).
//!
//! `f̂(s) = MLP(s)` ([`Regressor`]: standardised input and output, ReLU hidden layers), fitted
//! by least squares on the run's reward-free data (representation of each logged observation
//! → readout of its logged true state) on the first 90 % of trajectories; its error is
//! measured per feature on the last 10 % (`feature_p99`: 99th percentile of `|f̂_j − f_j|`),
//! which is the margin guardrails add ([`crate::terms::FeatureGuardrail`]). Written to
//! [`HEAD_FILE`] when fitted; the pipeline fits it only when the affine probe reads some
//! feature poorly ([`needs_head`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::probe::{column_abs_quantile, StateProbe};
use crate::regression::{PredictBuffers, RegressionConfig, Regressor, RegressorFile, Samples};

/// File name of the head in a run directory.
pub const HEAD_FILE: &str = "readout_head.json";

/// A feature is read poorly by the affine probe when its held-out p99 error exceeds this
/// fraction of the feature's standard deviation.
pub const POOR_READING: f32 = 0.5;

/// Reads named features from representations (the affine probe or the MLP head).
pub trait FeatureReader: Send + Sync + std::fmt::Debug {
    /// Names of the features, in output order.
    fn names(&self) -> &[String];
    /// Held-out 99th percentile of each feature's absolute error (empty when unmeasured).
    fn feature_p99(&self) -> &[f32];
    /// Representation dimension `D`.
    fn repr_dim(&self) -> usize;
    /// Reads every feature of `rows` representations: `reprs [rows, D]` → `[rows, k]`.
    fn read(&self, reprs: &[f32], rows: usize) -> Result<Vec<f32>, AgentError>;

    /// The index of the feature called `name`, or an error listing the names.
    fn feature(&self, name: &str) -> Result<usize, AgentError> {
        let names = self.names();
        names.iter().position(|n| n == name).ok_or_else(|| {
            AgentError::config_source(
                "readout",
                format!(
                    "the run's readout has no feature `{name}`; it reads: {}",
                    if names.is_empty() {
                        "unnamed features".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        })
    }
}

impl FeatureReader for StateProbe {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn feature_p99(&self) -> &[f32] {
        &self.feature_p99
    }

    fn repr_dim(&self) -> usize {
        self.repr_dim
    }

    fn read(&self, reprs: &[f32], rows: usize) -> Result<Vec<f32>, AgentError> {
        let (d, k) = (self.repr_dim, self.state_dim);
        crate::error::check_len("probe input", reprs, rows * d, || {
            format!("[rows={rows}, D={d}]")
        })?;
        let mut out = vec![0.0; rows * k];
        for (s, o) in reprs
            .chunks_exact(d.max(1))
            .zip(out.chunks_exact_mut(k.max(1)))
        {
            self.decode_into(s, o);
        }
        Ok(out)
    }
}

/// The MLP readout head (module docs).
#[derive(Debug, Clone)]
pub struct ReadoutHead {
    /// Feature names.
    pub names: Vec<String>,
    /// Held-out 99th percentile of `|f̂_j − f_j|` per feature.
    pub feature_p99: Vec<f32>,
    /// Held-out RMSE per feature.
    pub feature_rmse: Vec<f32>,
    net: Regressor,
}

/// The stored form of a [`ReadoutHead`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutHeadFile {
    /// Feature names.
    pub names: Vec<String>,
    /// Held-out p99 absolute error per feature.
    pub feature_p99: Vec<f32>,
    /// Held-out RMSE per feature.
    pub feature_rmse: Vec<f32>,
    /// The network.
    pub net: RegressorFile,
}

/// Whether some feature of `probe` is read poorly: held-out p99 error above
/// [`POOR_READING`] × the feature's standard deviation `feature_std`.
pub fn needs_head(probe: &StateProbe, feature_std: &[f32]) -> bool {
    probe
        .feature_p99
        .iter()
        .zip(feature_std)
        .any(|(p99, sd)| *p99 > POOR_READING * sd.max(1e-6))
}

/// Per-column standard deviation of `x [n, k]`.
pub fn column_std(x: &[f32], k: usize) -> Vec<f32> {
    let n = (x.len() / k.max(1)).max(1) as f64;
    (0..k)
        .map(|j| {
            let col = x.iter().skip(j).step_by(k);
            let mean = col.clone().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = col.map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            var.sqrt() as f32
        })
        .collect()
}

impl ReadoutHead {
    /// Fits the head on `train = (reprs [n, D], features [n, k])` and measures it on
    /// `heldout` (same layout).
    pub fn fit(
        names: Vec<String>,
        (train_r, train_f): (&[f32], &[f32]),
        (test_r, test_f): (&[f32], &[f32]),
        (d, k): (usize, usize),
        cfg: &RegressionConfig,
    ) -> Result<Self, AgentError> {
        cfg.validate("probe.head")?;
        if names.len() != k {
            return Err(AgentError::shape(
                "readout names",
                names.len(),
                format!("[k={k}]"),
            ));
        }
        let data = Samples {
            x: train_r.to_vec(),
            y: train_f.to_vec(),
            in_dim: d,
            out_dim: k,
        };
        let mut net = Regressor::new(cfg, &data)?;
        net.train(cfg, &data, &mut |_, _| {})?;
        let mut head = ReadoutHead {
            names,
            feature_p99: Vec::new(),
            feature_rmse: Vec::new(),
            net,
        };
        let rows = test_r.len() / d.max(1);
        let pred = head.read(test_r, rows)?;
        head.feature_p99 = column_abs_quantile(&pred, test_f, k, 0.99);
        head.feature_rmse = (0..k)
            .map(|j| {
                let sq: f64 = (0..rows)
                    .map(|i| f64::from((pred[i * k + j] - test_f[i * k + j]).powi(2)))
                    .sum();
                (sq / rows.max(1) as f64).sqrt() as f32
            })
            .collect();
        Ok(head)
    }

    /// Writes the head as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let file = ReadoutHeadFile {
            names: self.names.clone(),
            feature_p99: self.feature_p99.clone(),
            feature_rmse: self.feature_rmse.clone(),
            net: self.net.to_file(),
        };
        let text = serde_json::to_string(&file)
            .map_err(|e| AgentError::config_source(path.display().to_string(), e.to_string()))?;
        Ok(ami_io::write_atomic(path, text.as_bytes())?)
    }

    /// Reads and checks a head file.
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        let f: ReadoutHeadFile = serde_json::from_str(&text)
            .map_err(|e| AgentError::config_source(path.display().to_string(), e.to_string()))?;
        let net = Regressor::from_file(f.net)?;
        let k = net.out_dim();
        for (what, n) in [
            ("names", f.names.len()),
            ("feature_p99", f.feature_p99.len()),
            ("feature_rmse", f.feature_rmse.len()),
        ] {
            if n != k {
                return Err(AgentError::shape(
                    format!("{}: {what}", path.display()),
                    n,
                    format!("[k={k}] (the network's outputs)"),
                ));
            }
        }
        Ok(ReadoutHead {
            names: f.names,
            feature_p99: f.feature_p99,
            feature_rmse: f.feature_rmse,
            net,
        })
    }
}

impl FeatureReader for ReadoutHead {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn feature_p99(&self) -> &[f32] {
        &self.feature_p99
    }

    fn repr_dim(&self) -> usize {
        self.net.in_dim()
    }

    fn read(&self, reprs: &[f32], rows: usize) -> Result<Vec<f32>, AgentError> {
        let mut out = vec![0.0; rows * self.net.out_dim()];
        self.net
            .predict_into(reprs, rows, &mut PredictBuffers::default(), &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_nonlinear_feature_the_affine_probe_cannot() {
        // f = min(|s0|, |s1|) from 2-D s on a grid: not affine in s.
        let grid: Vec<f32> = (0..40).map(|i| i as f32 / 10.0 - 2.0).collect();
        let reprs: Vec<f32> = grid
            .iter()
            .flat_map(|&a| grid.iter().flat_map(move |&b| [a, b]))
            .collect();
        let feats: Vec<f32> = reprs
            .chunks(2)
            .map(|s| s[0].abs().min(s[1].abs()))
            .collect();
        let cut = reprs.len() / 2 * 9 / 10;
        let (tr, te) = reprs.split_at(cut * 2);
        let (tf, tef) = feats.split_at(cut);
        let mut probe = StateProbe::fit(tr, tf, (2, 1), 1e-6).unwrap();
        probe.measure((tr, tf), (te, tef));
        let sd = column_std(&feats, 1);
        assert!(needs_head(&probe, &sd), "{:?} vs {sd:?}", probe.feature_p99);
        let cfg = RegressionConfig {
            hidden: vec![32, 32],
            epochs: 200,
            batch_size: 64,
            learning_rate: 3e-3,
            seed: 1,
        };
        let head = ReadoutHead::fit(vec!["f".into()], (tr, tf), (te, tef), (2, 1), &cfg).unwrap();
        assert!(
            head.feature_p99[0] < 0.5 * probe.feature_p99[0],
            "head {:?} vs probe {:?}",
            head.feature_p99,
            probe.feature_p99
        );
        // Round trip through the file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        head.save(&path).unwrap();
        let back = ReadoutHead::load(&path).unwrap();
        assert_eq!(
            back.read(&te[..6], 3).unwrap(),
            head.read(&te[..6], 3).unwrap()
        );
        assert_eq!(back.feature("f").unwrap(), 0);
        assert!(back.feature("g").unwrap_err().to_string().contains("`g`"));
        std::fs::write(&path, "{}").unwrap();
        assert!(ReadoutHead::load(&path).is_err());
    }
}
