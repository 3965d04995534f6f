//! Supervised regression with a small MLP: the one trainer shared by the amortised policy
//! ([`crate::policy`]) and the critic ([`crate::critic`]).
//!
//! Model: per-column standardised input `x̃ = (x − μ_x) / σ_x`, an MLP `f_θ` with ReLU hidden
//! layers and a linear output ([`DenseMlp`]), output `ŷ = μ_y + σ_y ⊙ f_θ(x̃)`. The statistics
//! `μ, σ` are those of the first training set (`σ` floored at [`MIN_STD`]) and kept
//! afterwards, so that refits on grown data sets continue from the same scale.
//!
//! Loss on standardised targets `ỹ = (y − μ_y) / σ_y`, over a minibatch of `B` rows and `m`
//! outputs: `L(θ) = (1 / (B·m)) Σ_b Σ_j (f_θ(x̃_b)_j − ỹ_bj)²`, so `∂L/∂f = 2 (f − ỹ) / (B·m)`.
//!
//! Optimiser: Adam (Kingma & Ba 2015, as PyTorch's `Adam` without weight decay):
//! `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ − lr · m̂ / (√v̂ + ε)` with
//! `m̂ = m / (1−β₁ᵗ)`, `v̂ = v / (1−β₂ᵗ)`, `t` counted over the network's whole life.
//! Minibatches: each epoch is a seeded permutation of the rows cut into batches of
//! `batch_size` (the last one smaller). Initialisation: PyTorch's `nn.Linear` default,
//! `W, b ~ U(−1/√fan_in, 1/√fan_in)`. Everything is `f32` and deterministic given the seed.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::kernel::gemm::Threads;
use crate::kernel::{Activations, BackwardScratch, DenseLayer, DenseMlp, LayerGrad};

/// Smallest standard deviation used to standardise a column (constant columns keep scale 1).
pub const MIN_STD: f32 = 1e-6;

/// Adam's `β₁`, `β₂`, `ε` (PyTorch's defaults).
const ADAM_BETAS: (f32, f32) = (0.9, 0.999);
const ADAM_EPS: f32 = 1e-8;

/// Settings of one regression fit; defaults in parentheses. Checked by
/// [`RegressionConfig::validate`] with the section's name in every error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionConfig {
    /// Hidden widths of the MLP (`[128, 128]`).
    pub hidden: Vec<usize>,
    /// Adam step size (`1e-3`).
    pub learning_rate: f32,
    /// Rows per minibatch (`256`).
    pub batch_size: usize,
    /// Passes over the data per fit (`60`).
    pub epochs: usize,
    /// Seed of the initial weights and of the minibatch order (`0`).
    pub seed: u64,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        RegressionConfig {
            hidden: vec![128, 128],
            learning_rate: 1e-3,
            batch_size: 256,
            epochs: 60,
            seed: 0,
        }
    }
}

/// An invalid value of `section.key`, named in full.
pub(crate) fn bad_key(key: String, value: impl std::fmt::Display, expected: &str) -> AgentError {
    AgentError::config_source(
        "invalid config",
        format!("`{key}` = {value}; expected {expected}"),
    )
}

impl RegressionConfig {
    /// Checks every field; errors name `section.key` (e.g. `policy.fit.epochs`).
    pub fn validate(&self, section: &str) -> Result<(), AgentError> {
        if self.hidden.contains(&0) {
            let v = format!("{:?}", self.hidden);
            return Err(bad_key(format!("{section}.hidden"), v, "positive widths"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            let (k, v) = (format!("{section}.learning_rate"), self.learning_rate);
            return Err(bad_key(k, v, "a finite value > 0"));
        }
        for (key, v) in [("batch_size", self.batch_size), ("epochs", self.epochs)] {
            if v == 0 {
                return Err(bad_key(format!("{section}.{key}"), v, "an integer >= 1"));
            }
        }
        Ok(())
    }
}

/// A regression data set: `rows` input rows `x [rows, in]` with targets `y [rows, out]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Samples {
    /// Inputs, row-major `[rows, in]`.
    pub x: Vec<f32>,
    /// Targets, row-major `[rows, out]`.
    pub y: Vec<f32>,
    /// Input width.
    pub in_dim: usize,
    /// Target width.
    pub out_dim: usize,
}

impl Samples {
    /// An empty set of `in_dim → out_dim` samples.
    pub fn new(in_dim: usize, out_dim: usize) -> Self {
        Samples {
            in_dim,
            out_dim,
            ..Samples::default()
        }
    }

    /// Appends one sample (`x [in]`, `y [out]`).
    pub fn push(&mut self, x: &[f32], y: &[f32]) -> Result<(), AgentError> {
        let (i, o) = (self.in_dim, self.out_dim);
        crate::error::check_len("sample input", x, i, || format!("[{i}]"))?;
        crate::error::check_len("sample target", y, o, || format!("[{o}]"))?;
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
        Ok(())
    }

    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.x.len().checked_div(self.in_dim).unwrap_or(0)
    }
}

/// Per-column `(mean, std)` of `v [rows, cols]`, std floored at [`MIN_STD`] (then 1).
fn column_stats(v: &[f32], cols: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = (v.len() / cols.max(1)).max(1) as f64;
    let mut mean = vec![0f64; cols];
    let mut sq = vec![0f64; cols];
    for row in v.chunks_exact(cols) {
        for (j, &x) in row.iter().enumerate() {
            mean[j] += f64::from(x);
            sq[j] += f64::from(x) * f64::from(x);
        }
    }
    let mean: Vec<f64> = mean.iter().map(|m| m / rows).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let sd = (s / rows - m * m).max(0.0).sqrt() as f32;
            if sd < MIN_STD {
                1.0
            } else {
                sd
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

/// Adam's moments of every weight and bias, and the step count `t`.
#[derive(Debug, Clone)]
struct Adam {
    m: Vec<LayerGrad>,
    v: Vec<LayerGrad>,
    t: i32,
}

impl Adam {
    fn new(mlp: &DenseMlp) -> Self {
        Adam {
            m: mlp.zero_grads(),
            v: mlp.zero_grads(),
            t: 0,
        }
    }

    /// One Adam step (module docs) of `layers` along `grads`.
    fn step(&mut self, layers: &mut [DenseLayer], grads: &[LayerGrad], lr: f32) {
        self.t += 1;
        let (b1, b2) = ADAM_BETAS;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        let update = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + ADAM_EPS);
            }
        };
        for (((layer, g), m), v) in layers
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            update(&mut layer.weight, &g.weight, &mut m.weight, &mut v.weight);
            update(&mut layer.bias, &g.bias, &mut m.bias, &mut v.bias);
        }
    }
}

/// Reusable buffers of [`Regressor::predict_into`].
#[derive(Debug, Clone, Default)]
pub struct PredictBuffers {
    input: Vec<f32>,
    acts: Activations,
}

/// A trained (or freshly initialised) MLP regressor with its standardisation (module docs).
#[derive(Debug, Clone)]
pub struct Regressor {
    mlp: DenseMlp,
    x_mean: Vec<f32>,
    x_std: Vec<f32>,
    y_mean: Vec<f32>,
    y_std: Vec<f32>,
    adam: Option<Adam>,
}

/// The stored form of a [`Regressor`] (JSON; `f32` values round-trip exactly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressorFile {
    /// Layers, input first: `weight [fan_in, fan_out]` row-major and `bias [fan_out]`.
    pub layers: Vec<LayerFile>,
    /// `μ_x [in]`.
    pub x_mean: Vec<f32>,
    /// `σ_x [in]`.
    pub x_std: Vec<f32>,
    /// `μ_y [out]`.
    pub y_mean: Vec<f32>,
    /// `σ_y [out]`.
    pub y_std: Vec<f32>,
}

/// One stored affine layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerFile {
    /// Input width.
    pub fan_in: usize,
    /// Output width.
    pub fan_out: usize,
    /// `W [fan_in, fan_out]`, row-major.
    pub weight: Vec<f32>,
    /// `b [fan_out]`.
    pub bias: Vec<f32>,
}

impl Regressor {
    /// A fresh network `in → hidden… → out` for the shapes of `data`, standardised by
    /// `data`'s column statistics, initialised from `cfg.seed`.
    pub fn new(cfg: &RegressionConfig, data: &Samples) -> Result<Self, AgentError> {
        if data.in_dim == 0 || data.out_dim == 0 || data.rows() == 0 {
            return Err(AgentError::shape(
                "regression samples",
                data.rows(),
                format!("at least one row of [{}] → [{}]", data.in_dim, data.out_dim),
            ));
        }
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let widths: Vec<usize> = std::iter::once(data.in_dim)
            .chain(cfg.hidden.iter().copied())
            .chain(std::iter::once(data.out_dim))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f32).sqrt();
                let mut u = |n: usize| -> Vec<f32> {
                    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
                };
                DenseLayer::new(u(w[0] * w[1]), u(w[1]), w[0], w[1])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (x_mean, x_std) = column_stats(&data.x, data.in_dim);
        let (y_mean, y_std) = column_stats(&data.y, data.out_dim);
        Ok(Regressor {
            mlp: DenseMlp::from_layers(layers)?,
            x_mean,
            x_std,
            y_mean,
            y_std,
            adam: None,
        })
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.mlp.input_dim()
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.mlp.output_dim()
    }

    /// Trains for `cfg.epochs` epochs on `data` (continuing from the current weights and
    /// Adam state); `on_epoch(epoch, mean loss)` is called after each. Returns the mean
    /// minibatch loss of every epoch. The minibatch order is seeded by `cfg.seed` and the
    /// number of Adam steps taken so far, so a fit is reproducible.
    pub fn train(
        &mut self,
        cfg: &RegressionConfig,
        data: &Samples,
        on_epoch: &mut dyn FnMut(usize, f32),
    ) -> Result<Vec<f32>, AgentError> {
        self.check_data(data)?;
        let rows = data.rows();
        let (x, y) = (self.standardise_x(&data.x), self.standardise_y(&data.y));
        let adam = self.adam.get_or_insert_with(|| Adam::new(&self.mlp));
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ (adam.t as u64).rotate_left(32));
        let mut order: Vec<usize> = (0..rows).collect();
        let (i_dim, o_dim) = (data.in_dim, data.out_dim);
        let mut grads = self.mlp.zero_grads();
        let (mut acts, mut scratch) = (Activations::default(), BackwardScratch::default());
        let (mut bx, mut by, mut out) = (Vec::new(), Vec::new(), Vec::new());
        let mut log = Vec::with_capacity(cfg.epochs);
        for epoch in 0..cfg.epochs {
            order.shuffle(&mut rng);
            let mut total = 0f64;
            for batch in order.chunks(cfg.batch_size) {
                let b = batch.len();
                bx.clear();
                by.clear();
                for &r in batch {
                    bx.extend_from_slice(&x[r * i_dim..(r + 1) * i_dim]);
                    by.extend_from_slice(&y[r * o_dim..(r + 1) * o_dim]);
                }
                out.resize(b * o_dim, 0.0);
                self.mlp.forward(&bx, b, &mut acts, &mut out)?;
                let scale = 2.0 / (b * o_dim) as f32;
                let mut loss = 0f64;
                for (o, t) in out.iter_mut().zip(&by) {
                    let e = *o - t;
                    loss += f64::from(e * e);
                    *o = scale * e;
                }
                total += loss / (b * o_dim) as f64 * b as f64;
                self.mlp
                    .backward_params(&bx, &acts, &out, b, &mut scratch, &mut grads, None)?;
                adam.step(self.mlp.layers_mut(), &grads, cfg.learning_rate);
            }
            let mean = (total / rows as f64) as f32;
            if !mean.is_finite() {
                return Err(AgentError::NonFinite {
                    what: format!("regression loss at epoch {epoch}"),
                });
            }
            log.push(mean);
            on_epoch(epoch, mean);
        }
        // Back onto the fastest kernel for inference (training dropped the packed weights).
        self.mlp = DenseMlp::from_layers(self.mlp.layers().to_vec())?;
        Ok(log)
    }

    /// Mean standardised squared error `(1/(rows·m)) Σ (f(x̃) − ỹ)²` of the model on `data`
    /// (the training loss, over all rows).
    pub fn loss(&self, data: &Samples) -> Result<f32, AgentError> {
        self.check_data(data)?;
        let pred = self.predict(&data.x, data.rows())?;
        let y = self.standardise_y(&data.y);
        let p = self.standardise_y(&pred);
        let sum: f64 = p
            .iter()
            .zip(&y)
            .map(|(a, b)| f64::from((a - b) * (a - b)))
            .sum();
        Ok((sum / p.len().max(1) as f64) as f32)
    }

    /// `ŷ` for `rows` input rows.
    ///
    /// # Shapes
    /// `x [rows, in]` → `[rows, out]`.
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, AgentError> {
        let mut out = vec![0.0; rows * self.out_dim()];
        self.predict_into(x, rows, &mut PredictBuffers::default(), &mut out)?;
        Ok(out)
    }

    /// [`Regressor::predict`] into `out [rows, out]` with reusable buffers, on the calling
    /// thread only (callers parallelise over blocks of rows).
    pub fn predict_into(
        &self,
        x: &[f32],
        rows: usize,
        buf: &mut PredictBuffers,
        out: &mut [f32],
    ) -> Result<(), AgentError> {
        let d = self.in_dim();
        crate::error::check_len("regressor input", x, rows * d, || {
            format!("[rows={rows}, {d}]")
        })?;
        buf.input.clear();
        buf.input.extend(
            x.iter()
                .enumerate()
                .map(|(k, v)| (v - self.x_mean[k % d]) / self.x_std[k % d]),
        );
        let acts = &mut buf.acts;
        self.mlp
            .forward_with(&buf.input, rows, acts, out, Some(Threads::One))?;
        let m = self.out_dim();
        for (k, v) in out.iter_mut().enumerate() {
            *v = self.y_mean[k % m] + self.y_std[k % m] * *v;
        }
        Ok(())
    }

    fn check_data(&self, data: &Samples) -> Result<(), AgentError> {
        let (i, o) = (self.in_dim(), self.out_dim());
        if data.in_dim != i || data.out_dim != o || data.y.len() != data.rows() * o {
            return Err(AgentError::shape(
                "regression samples",
                data.in_dim,
                format!("[rows, {i}] → [rows, {o}] (the network's widths)"),
            ));
        }
        Ok(())
    }

    fn standardise_x(&self, x: &[f32]) -> Vec<f32> {
        standardise(x, &self.x_mean, &self.x_std)
    }

    fn standardise_y(&self, y: &[f32]) -> Vec<f32> {
        standardise(y, &self.y_mean, &self.y_std)
    }

    /// The stored form (weights and statistics; Adam's state is not kept).
    pub fn to_file(&self) -> RegressorFile {
        RegressorFile {
            layers: self
                .mlp
                .layers()
                .iter()
                .map(|l| LayerFile {
                    fan_in: l.fan_in,
                    fan_out: l.fan_out,
                    weight: l.weight.clone(),
                    bias: l.bias.clone(),
                })
                .collect(),
            x_mean: self.x_mean.clone(),
            x_std: self.x_std.clone(),
            y_mean: self.y_mean.clone(),
            y_std: self.y_std.clone(),
        }
    }

    /// Rebuilds a regressor from its stored form, checking every shape.
    pub fn from_file(f: RegressorFile) -> Result<Self, AgentError> {
        let layers = f
            .layers
            .into_iter()
            .map(|l| DenseLayer::new(l.weight, l.bias, l.fan_in, l.fan_out))
            .collect::<Result<Vec<_>, _>>()?;
        let mlp = DenseMlp::from_layers(layers)?;
        let (i, o) = (mlp.input_dim(), mlp.output_dim());
        for (what, v, n) in [
            ("x_mean", &f.x_mean, i),
            ("x_std", &f.x_std, i),
            ("y_mean", &f.y_mean, o),
            ("y_std", &f.y_std, o),
        ] {
            crate::error::check_len(what, v, n, || format!("[{n}]"))?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(AgentError::NonFinite { what: what.into() });
            }
        }
        Ok(Regressor {
            mlp,
            x_mean: f.x_mean,
            x_std: f.x_std,
            y_mean: f.y_mean,
            y_std: f.y_std,
            adam: None,
        })
    }
}

fn standardise(v: &[f32], mean: &[f32], std: &[f32]) -> Vec<f32> {
    let m = mean.len().max(1);
    v.iter()
        .enumerate()
        .map(|(k, x)| (x - mean[k % m]) / std[k % m])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y = (sin(2x₀) + x₁², x₀·x₁)` on `[−1.5, 1.5]²`, a smooth nonlinear target.
    fn target(x: &[f32]) -> [f32; 2] {
        [(2.0 * x[0]).sin() + x[1] * x[1], x[0] * x[1]]
    }

    fn samples(n: usize, seed: u64) -> Samples {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = Samples::new(2, 2);
        for _ in 0..n {
            let x = [rng.gen_range(-1.5..1.5), rng.gen_range(-1.5..1.5)];
            s.push(&x, &target(&x)).unwrap();
        }
        s
    }

    #[test]
    fn fits_a_known_function_and_generalises() {
        let cfg = RegressionConfig {
            hidden: vec![64, 64],
            epochs: 150,
            batch_size: 64,
            learning_rate: 3e-3,
            ..RegressionConfig::default()
        };
        let (train, test) = (samples(2000, 1), samples(500, 2));
        let mut r = Regressor::new(&cfg, &train).unwrap();
        let before = r.loss(&test).unwrap();
        let log = r.train(&cfg, &train, &mut |_, _| {}).unwrap();
        let after = r.loss(&test).unwrap();
        // Standardised MSE: 1 ≈ predicting the mean; below 0.01 is a close fit.
        assert!(before > 0.3, "untrained loss {before}");
        assert!(
            after < 0.01,
            "held-out loss {after} (first epoch {})",
            log[0]
        );
        assert!(log.last().unwrap() < &log[0], "{log:?}");
        let p = r.predict(&[0.5, -1.0], 1).unwrap();
        let t = target(&[0.5, -1.0]);
        assert!(
            (p[0] - t[0]).abs() < 0.1 && (p[1] - t[1]).abs() < 0.1,
            "{p:?} vs {t:?}"
        );
    }

    #[test]
    fn fits_are_reproducible_and_files_round_trip() {
        let cfg = RegressionConfig {
            hidden: vec![8],
            epochs: 3,
            batch_size: 7,
            ..RegressionConfig::default()
        };
        let data = samples(50, 3);
        let fit = || {
            let mut r = Regressor::new(&cfg, &data).unwrap();
            r.train(&cfg, &data, &mut |_, _| {}).unwrap();
            r
        };
        let (a, b) = (fit(), fit());
        assert_eq!(a.to_file(), b.to_file());
        let text = serde_json::to_string(&a.to_file()).unwrap();
        let back = Regressor::from_file(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.to_file(), a.to_file());
        let x = [0.3, 0.7, -0.2, 0.1];
        assert_eq!(back.predict(&x, 2).unwrap(), a.predict(&x, 2).unwrap());
    }

    #[test]
    fn bad_settings_and_shapes_name_the_key() {
        let bad = RegressionConfig {
            epochs: 0,
            ..RegressionConfig::default()
        };
        let err = bad.validate("critic.fit").unwrap_err().to_string();
        assert!(err.contains("critic.fit.epochs"), "{err}");
        let bad = RegressionConfig {
            learning_rate: -1.0,
            ..RegressionConfig::default()
        };
        let err = bad.validate("policy.fit").unwrap_err().to_string();
        assert!(err.contains("policy.fit.learning_rate"), "{err}");
        let mut s = Samples::new(2, 1);
        assert!(s.push(&[1.0], &[1.0]).is_err());
        assert!(Regressor::new(&RegressionConfig::default(), &s).is_err());
    }
}
