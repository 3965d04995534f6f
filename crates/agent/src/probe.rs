//! State probe: reads the environment's true state (two-rooms: the position) back from a
//! learned representation, so that guardrails and region tasks can be stated in the world's
//! units while the planner only ever sees representations.
//!
//! The probe is affine, `x̂ = W s + b` (`W [k, D]`, `b [k]`), fitted by ridge regression on
//! pairs `(s = Enc(o_t), x_t)` of the reward-free dataset (the true states are logged next to
//! the observations; no reward or safety label is used):
//! `[W b] = argmin Σ_n ‖W s_n + b − x_n‖² + λ ‖W‖²`, solved in f64 from the normal equations
//! `(SᵀS + λ I′) θ = Sᵀ X` with `S = [s, 1]` and `I′` the identity without the bias entry.
//! Its error is measured on trajectories held out of the fit and stored with it, so that
//! guardrail margins can be set from a measured number.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{check_len, AgentError};

/// How well a probe reads the state (on held-out trajectories unless named `train`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeError {
    /// Pairs the probe was fitted on.
    pub n_train: usize,
    /// Held-out pairs the error is measured on.
    pub n_heldout: usize,
    /// Root mean squared Euclidean error `√(mean ‖x̂ − x‖²)` on the fit pairs.
    pub rmse_train: f32,
    /// Root mean squared Euclidean error on the held-out pairs.
    pub rmse: f32,
    /// 99th percentile of the Euclidean error on the held-out pairs.
    pub p99: f32,
    /// Largest Euclidean error on the held-out pairs.
    pub max: f32,
}

/// An affine map from representations `[D]` to true states `[k]` (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateProbe {
    /// Representation dimension `D`.
    pub repr_dim: usize,
    /// State dimension `k`.
    pub state_dim: usize,
    /// `W`, row-major `[k, D]`.
    pub weights: Vec<f32>,
    /// `b [k]`.
    pub bias: Vec<f32>,
    /// Ridge strength `λ` it was fitted with.
    pub ridge: f64,
    /// Measured error (absent for a probe built by hand).
    pub error: Option<ProbeError>,
    /// Names of the `k` decoded features (the environment's readout names; empty for a probe
    /// built by hand).
    #[serde(default)]
    pub names: Vec<String>,
    /// Per feature, the 99th percentile of `|x̂_j − x_j|` on the held-out pairs (empty until
    /// measured).
    #[serde(default)]
    pub feature_p99: Vec<f32>,
}

/// File name of the probe in a run directory.
pub const PROBE_FILE: &str = "probe.json";

impl StateProbe {
    /// Ridge fit on `n` pairs: `reprs [n, D]`, `states [n, k]` (module docs).
    pub fn fit(
        reprs: &[f32],
        states: &[f32],
        (repr_dim, state_dim): (usize, usize),
        ridge: f64,
    ) -> Result<Self, AgentError> {
        if repr_dim == 0 || state_dim == 0 {
            return Err(AgentError::config(
                "probe dims",
                format!("D={repr_dim}, k={state_dim}"),
                "D >= 1 and k >= 1",
            ));
        }
        if !(ridge.is_finite() && ridge >= 0.0) {
            return Err(AgentError::config(
                "probe.ridge",
                ridge,
                "a finite value >= 0",
            ));
        }
        let n = reprs.len() / repr_dim;
        check_len("probe representations", reprs, n * repr_dim, || {
            format!("[n, D={repr_dim}]")
        })?;
        check_len("probe states", states, n * state_dim, || {
            format!("[n={n}, k={state_dim}]")
        })?;
        let p = repr_dim + 1;
        if n < p {
            return Err(AgentError::config(
                "probe pairs",
                n,
                "at least D + 1 pairs of (representation, state)",
            ));
        }
        // Normal equations in f64: G = SᵀS + λI′ [p, p], R = SᵀX [p, k].
        let mut g = vec![0f64; p * p];
        let mut r = vec![0f64; p * state_dim];
        let mut row = vec![0f64; p];
        for i in 0..n {
            for (d, v) in row.iter_mut().zip(&reprs[i * repr_dim..(i + 1) * repr_dim]) {
                *d = f64::from(*v);
            }
            row[repr_dim] = 1.0;
            for a in 0..p {
                let ra = row[a];
                for b in a..p {
                    g[a * p + b] += ra * row[b];
                }
                for c in 0..state_dim {
                    r[a * state_dim + c] += ra * f64::from(states[i * state_dim + c]);
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                g[a * p + b] = g[b * p + a];
            }
        }
        for d in 0..repr_dim {
            g[d * p + d] += ridge;
        }
        let theta = solve_spd(&mut g, &mut r, p, state_dim)?;
        let mut weights = vec![0f32; state_dim * repr_dim];
        let mut bias = vec![0f32; state_dim];
        for c in 0..state_dim {
            for d in 0..repr_dim {
                weights[c * repr_dim + d] = theta[d * state_dim + c] as f32;
            }
            bias[c] = theta[repr_dim * state_dim + c] as f32;
        }
        Ok(StateProbe {
            repr_dim,
            state_dim,
            weights,
            bias,
            ridge,
            error: None,
            names: Vec::new(),
            feature_p99: Vec::new(),
        })
    }

    /// `x̂ = W s + b` for one representation `s [D]` into `out [k]`.
    pub fn decode_into(&self, s: &[f32], out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate().take(self.state_dim) {
            let w = &self.weights[c * self.repr_dim..(c + 1) * self.repr_dim];
            *o = self.bias[c] + w.iter().zip(s).map(|(w, x)| w * x).sum::<f32>();
        }
    }

    /// `x̂ = W s + b` for one representation `s [D]`.
    pub fn decode(&self, s: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.state_dim];
        self.decode_into(s, &mut out);
        out
    }

    /// Adds `Wᵀ x̄` (the gradient with respect to `s` of `x̄ · x̂(s)`) into `s_bar [D]`.
    pub fn backward_into(&self, x_bar: &[f32], s_bar: &mut [f32]) {
        for (c, xb) in x_bar.iter().enumerate().take(self.state_dim) {
            let w = &self.weights[c * self.repr_dim..(c + 1) * self.repr_dim];
            s_bar.iter_mut().zip(w).for_each(|(sb, w)| *sb += xb * w);
        }
    }

    /// Euclidean errors `‖x̂_i − x_i‖` of `n` pairs (`reprs [n, D]`, `states [n, k]`).
    pub fn errors(&self, reprs: &[f32], states: &[f32]) -> Vec<f32> {
        reprs
            .chunks_exact(self.repr_dim)
            .zip(states.chunks_exact(self.state_dim))
            .map(|(s, x)| {
                let xh = self.decode(s);
                xh.iter()
                    .zip(x)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
                    .sqrt()
            })
            .collect()
    }

    /// Measures the probe on fit pairs and held-out pairs and stores the result.
    pub fn measure(
        &mut self,
        (train_reprs, train_states): (&[f32], &[f32]),
        (test_reprs, test_states): (&[f32], &[f32]),
    ) -> ProbeError {
        let rmse = |e: &[f32]| {
            (e.iter().map(|x| f64::from(x * x)).sum::<f64>() / e.len().max(1) as f64).sqrt() as f32
        };
        self.feature_p99 = self.feature_quantile(test_reprs, test_states, 0.99);
        let train = self.errors(train_reprs, train_states);
        let mut test = self.errors(test_reprs, test_states);
        test.sort_by(f32::total_cmp);
        let p99 = quantile_of_sorted(&test, 0.99);
        let err = ProbeError {
            n_train: train.len(),
            n_heldout: test.len(),
            rmse_train: rmse(&train),
            rmse: rmse(&test),
            p99,
            max: test.last().copied().unwrap_or(f32::NAN),
        };
        self.error = Some(err);
        err
    }

    /// Per feature `j`, the `q`-quantile of `|x̂_j − x_j|` over the pairs `reprs [n, D]`,
    /// `states [n, k]` (NaN without pairs).
    pub fn feature_quantile(&self, reprs: &[f32], states: &[f32], q: f64) -> Vec<f32> {
        let (d, k) = (self.repr_dim, self.state_dim);
        let n = (reprs.len() / d.max(1)).min(states.len() / k.max(1));
        let mut decoded = vec![0.0; n * k];
        for (s, o) in reprs
            .chunks_exact(d.max(1))
            .zip(decoded.chunks_exact_mut(k.max(1)))
        {
            self.decode_into(s, o);
        }
        column_abs_quantile(&decoded, &states[..n * k], k, q)
    }

    /// Writes the probe as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::config_source(path.display().to_string(), e.to_string()))?;
        Ok(ami_io::write_atomic(path, text.as_bytes())?)
    }

    /// Reads and checks a probe file.
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        let p: StateProbe = serde_json::from_str(&text)
            .map_err(|e| AgentError::config_source(path.display().to_string(), e.to_string()))?;
        let what = path.display().to_string();
        check_len(
            &format!("{what} weights"),
            &p.weights,
            p.repr_dim * p.state_dim,
            || format!("[k={}, D={}]", p.state_dim, p.repr_dim),
        )?;
        check_len(&format!("{what} bias"), &p.bias, p.state_dim, || {
            format!("[k={}]", p.state_dim)
        })?;
        if p.weights.iter().chain(&p.bias).any(|v| !v.is_finite()) {
            return Err(AgentError::NonFinite { what });
        }
        Ok(p)
    }
}

/// Solves `G θ = R` for symmetric positive definite `G [p, p]` (Cholesky, in place) and
/// `R [p, k]`; returns `θ [p, k]`.
fn solve_spd(g: &mut [f64], r: &mut [f64], p: usize, k: usize) -> Result<Vec<f64>, AgentError> {
    // G = L Lᵀ, L stored in the lower triangle of g.
    for j in 0..p {
        let mut d = g[j * p + j];
        for m in 0..j {
            d -= g[j * p + m] * g[j * p + m];
        }
        if !(d.is_finite() && d > 1e-12) {
            return Err(AgentError::config(
                "probe.ridge",
                "singular normal equations",
                "representations that vary (or a ridge > 0)",
            ));
        }
        let l = d.sqrt();
        g[j * p + j] = l;
        for i in j + 1..p {
            let mut v = g[i * p + j];
            for m in 0..j {
                v -= g[i * p + m] * g[j * p + m];
            }
            g[i * p + j] = v / l;
        }
    }
    for c in 0..k {
        // L y = r, then Lᵀ θ = y.
        for i in 0..p {
            let mut v = r[i * k + c];
            for m in 0..i {
                v -= g[i * p + m] * r[m * k + c];
            }
            r[i * k + c] = v / g[i * p + i];
        }
        for i in (0..p).rev() {
            let mut v = r[i * k + c];
            for m in i + 1..p {
                v -= g[m * p + i] * r[m * k + c];
            }
            r[i * k + c] = v / g[i * p + i];
        }
    }
    Ok(r.to_vec())
}

/// The `q`-quantile of ascending `sorted` values: the `⌈q·n⌉`-th smallest (NaN when empty).
pub fn quantile_of_sorted(sorted: &[f32], q: f64) -> f32 {
    sorted
        .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(f32::NAN)
}

/// Per column `j` of `pred [n, k]` and `truth [n, k]`, the `q`-quantile
/// ([`quantile_of_sorted`]) of `|pred_j − truth_j|` (NaN without rows).
pub fn column_abs_quantile(pred: &[f32], truth: &[f32], k: usize, q: f64) -> Vec<f32> {
    (0..k)
        .map(|j| {
            let mut e: Vec<f32> = pred
                .iter()
                .skip(j)
                .step_by(k)
                .zip(truth.iter().skip(j).step_by(k))
                .map(|(p, t)| (p - t).abs())
                .collect();
            e.sort_by(f32::total_cmp);
            quantile_of_sorted(&e, q)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_affine_map_and_measures_zero_error() {
        // x = [2 s0 − s1 + 3, s2 + 0.5], from 40 pseudo-random s ∈ R³.
        let reprs: Vec<f32> = (0..120)
            .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
            .collect();
        let states: Vec<f32> = reprs
            .chunks(3)
            .flat_map(|s| [2.0 * s[0] - s[1] + 3.0, s[2] + 0.5])
            .collect();
        let mut p = StateProbe::fit(&reprs, &states, (3, 2), 0.0).unwrap();
        let want = [2.0, -1.0, 0.0, 0.0, 0.0, 1.0];
        for (w, e) in p.weights.iter().zip(want) {
            assert!((w - e).abs() < 1e-4, "{:?}", p.weights);
        }
        assert!((p.bias[0] - 3.0).abs() < 1e-4 && (p.bias[1] - 0.5).abs() < 1e-4);
        let e = p.measure((&reprs, &states), (&reprs[..30], &states[..20]));
        assert!(e.rmse < 1e-4 && e.max < 1e-4 && e.n_heldout == 10, "{e:?}");
        // The gradient of x̄·x̂ is Wᵀx̄.
        let mut sb = vec![0.0; 3];
        p.backward_into(&[1.0, 2.0], &mut sb);
        assert!((sb[0] - 2.0).abs() < 1e-4 && (sb[1] + 1.0).abs() < 1e-4);
        assert!((sb[2] - 2.0).abs() < 1e-4);
    }

    #[test]
    fn ridge_shrinks_and_bad_inputs_are_errors() {
        let reprs: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let states: Vec<f32> = reprs.iter().map(|s| 3.0 * s).collect();
        let free = StateProbe::fit(&reprs, &states, (1, 1), 0.0).unwrap();
        let shrunk = StateProbe::fit(&reprs, &states, (1, 1), 1e4).unwrap();
        assert!((free.weights[0] - 3.0).abs() < 1e-4);
        assert!(shrunk.weights[0] < 2.9, "{}", shrunk.weights[0]);
        let err = StateProbe::fit(&[1.0; 4], &[1.0; 4], (2, 2), 0.0).unwrap_err();
        assert!(err.to_string().contains("probe"), "{err}");
        let err = StateProbe::fit(&reprs, &states, (1, 1), -1.0).unwrap_err();
        assert!(err.to_string().contains("probe.ridge"), "{err}");
        let constant = vec![1.0f32; 20];
        let err = StateProbe::fit(&constant, &states, (1, 1), 0.0).unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
    }

    #[test]
    fn save_load_round_trip_and_bad_file() {
        let dir = std::env::temp_dir().join(format!("ami-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = StateProbe {
            repr_dim: 2,
            state_dim: 1,
            weights: vec![1.0, 2.0],
            bias: vec![0.5],
            ridge: 1e-3,
            error: None,
            names: Vec::new(),
            feature_p99: Vec::new(),
        };
        let path = dir.join(PROBE_FILE);
        p.save(&path).unwrap();
        assert_eq!(StateProbe::load(&path).unwrap(), p);
        std::fs::write(
            &path,
            r#"{"repr_dim":2,"state_dim":1,"weights":[1.0],"bias":[0.0],"ridge":0.0,"error":null}"#,
        )
        .unwrap();
        let err = StateProbe::load(&path).unwrap_err().to_string();
        assert!(err.contains("weights"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
