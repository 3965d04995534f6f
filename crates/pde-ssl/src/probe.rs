//! Reading the coefficient out of a representation.
//!
//! * [`features`] — the frozen encoder on each trajectory's probe views (the mean over
//!   [`ViewConfig::probe_crops`] time crops);
//! * [`Ridge`] — linear regression `y ≈ w·x̃ + b` on standardised features `x̃`, with the ridge
//!   penalty `α‖w‖²` chosen by 4-fold cross-validation on the labelled set from
//!   [`RIDGE_ALPHAS`], solved in f64 by Cholesky;
//! * [`KernelRidge`] — a small non-linear head: Gaussian-kernel ridge on the same standardised
//!   features, penalty and bandwidth by cross-validation;
//! * [`supervised`] — the baseline: the same encoder architecture plus a linear head, trained
//!   from scratch on the labelled set by MSE with random time crops;
//! * [`relative_mse`] — `mean((ŷ − y)²) / Var(y)` on the test set (1 = predicting the mean).

use ami_pde::dataset::Rng;
use ami_pde::Trajectory;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use crate::encoder::{EncoderConfig, PdeEncoder};
use crate::error::SslError;
use crate::pretrain::{batch_tensor, cosine_lr, scalar, seeded};
use crate::views::{probe_view_at, random_view, Augmentation, ViewConfig};

/// Penalties tried by cross-validation.
pub const RIDGE_ALPHAS: [f64; 7] = [1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0];

/// Representations `[N][D]` of `data` under `encoder`: the mean of the representations of
/// the [`ViewConfig::probe_starts`] crops of each trajectory, in batches of 64.
pub fn features(
    encoder: &PdeEncoder,
    data: &[Trajectory],
    view: &ViewConfig,
    device: &Device,
) -> Result<Vec<Vec<f64>>, SslError> {
    averaged_over_crops(data, view, |batch, b, shape| {
        encoder.forward(batch_tensor(batch, b, shape, device))
    })
}

/// For each trajectory of `data`, the mean over its probe crops of `f`'s rows (`f` maps a
/// `[b · T_c · X_c]` batch of views to `[b, D]`).
fn averaged_over_crops(
    data: &[Trajectory],
    view: &ViewConfig,
    f: impl Fn(Vec<f32>, usize, [usize; 2]) -> Tensor<2>,
) -> Result<Vec<Vec<f64>>, SslError> {
    let mut out = vec![];
    for chunk in data.chunks(64) {
        let shape = view.shape(chunk[0].frames, chunk[0].grid)?;
        let starts = view.probe_starts(chunk[0].frames);
        let mut sum: Vec<Vec<f64>> = vec![];
        for &start in &starts {
            let mut v = vec![];
            for t in chunk {
                v.extend(probe_view_at(t, view, start)?);
            }
            let z = f(v, chunk.len(), shape);
            let [b, d] = z.dims();
            let flat = z.into_data().try_to_vec::<f32>().unwrap_or_default();
            sum.resize(b, vec![0.0; d]);
            for (i, row) in sum.iter_mut().enumerate() {
                for (s, &x) in row.iter_mut().zip(&flat[i * d..(i + 1) * d]) {
                    *s += f64::from(x) / starts.len() as f64;
                }
            }
        }
        out.extend(sum);
    }
    Ok(out)
}

/// `mean((ŷ − y)²) / Var(y)`.
pub fn relative_mse(pred: &[f64], y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let mse = pred
        .iter()
        .zip(y)
        .map(|(p, v)| (p - v).powi(2))
        .sum::<f64>()
        / n;
    mse / var
}

/// A fitted ridge regression.
#[derive(Debug, Clone)]
pub struct Ridge {
    mean: Vec<f64>,
    scale: Vec<f64>,
    w: Vec<f64>,
    b: f64,
    /// The penalty chosen.
    pub alpha: f64,
}

impl Ridge {
    /// Fits on `(x, y)`, choosing α by 4-fold cross-validation.
    pub fn fit_cv(x: &[Vec<f64>], y: &[f64]) -> Ridge {
        let mut best = (f64::INFINITY, RIDGE_ALPHAS[0]);
        for &alpha in &RIDGE_ALPHAS {
            let err = cv_error(x, y, |xt, yt| Ridge::fit(xt, yt, alpha), Ridge::predict);
            if err < best.0 {
                best = (err, alpha);
            }
        }
        Ridge::fit(x, y, best.1)
    }

    /// Fits with penalty `alpha` on standardised features.
    pub fn fit(x: &[Vec<f64>], y: &[f64], alpha: f64) -> Ridge {
        let (n, d) = (x.len(), x[0].len());
        let (mean, scale) = standardisation(x);
        let xs: Vec<Vec<f64>> = x.iter().map(|r| standardise(r, &mean, &scale)).collect();
        let ym = y.iter().sum::<f64>() / n as f64;
        // (X̃ᵀX̃ + α n I) w = X̃ᵀ(y − ȳ)
        let mut a = vec![0.0; d * d];
        let mut rhs = vec![0.0; d];
        for (r, &yi) in xs.iter().zip(y) {
            for i in 0..d {
                rhs[i] += r[i] * (yi - ym);
                for j in 0..=i {
                    a[i * d + j] += r[i] * r[j];
                }
            }
        }
        for i in 0..d {
            a[i * d + i] += alpha * n as f64;
            for j in 0..i {
                a[j * d + i] = a[i * d + j];
            }
        }
        let w = cholesky_solve(&mut a, &rhs, d);
        Ridge {
            mean,
            scale,
            w,
            b: ym,
            alpha,
        }
    }

    /// `ŷ` for one feature vector.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.b
            + x.iter()
                .enumerate()
                .map(|(j, v)| self.w[j] * (v - self.mean[j]) / self.scale[j])
                .sum::<f64>()
    }
}

/// The cross-validation error of a head: the sum over 4 folds (fold `f` holds the samples
/// `i` with `i mod 4 = f`; fewer folds when there are fewer than 4 samples) of the squared
/// errors on the fold of the model `fit` returns for the other folds.
fn cv_error<M>(
    x: &[Vec<f64>],
    y: &[f64],
    fit: impl Fn(&[Vec<f64>], &[f64]) -> M,
    predict: impl Fn(&M, &[f64]) -> f64,
) -> f64 {
    let n = x.len();
    let folds = 4.min(n);
    let mut err = 0.0;
    for f in 0..folds {
        let (mut xt, mut yt) = (vec![], vec![]);
        for i in (0..n).filter(|i| i % folds != f) {
            xt.push(x[i].clone());
            yt.push(y[i]);
        }
        let m = fit(&xt, &yt);
        err += (0..n)
            .filter(|i| i % folds == f)
            .map(|i| (predict(&m, &x[i]) - y[i]).powi(2))
            .sum::<f64>();
    }
    err
}

/// Penalties tried by the kernel head's cross-validation.
pub const KERNEL_ALPHAS: [f64; 4] = [1e-4, 1e-3, 1e-2, 1e-1];
/// Bandwidths tried (`γ` in units of `1/D`, see [`KernelRidge`]).
pub const KERNEL_GAMMAS: [f64; 4] = [0.1, 0.3, 1.0, 3.0];

/// A small non-linear head: kernel ridge regression with the Gaussian kernel
/// `k(x, x') = exp(−γ ‖x̃ − x̃'‖² / D)` on features standardised as in [`Ridge`];
/// `ŷ(x) = ȳ + Σ_i c_i k(x_i, x)` with `(K + α n I) c = y − ȳ`, the pair `(α, γ)` chosen by
/// 4-fold cross-validation from [`KERNEL_ALPHAS`] × [`KERNEL_GAMMAS`].
#[derive(Debug, Clone)]
pub struct KernelRidge {
    mean: Vec<f64>,
    scale: Vec<f64>,
    points: Vec<Vec<f64>>,
    c: Vec<f64>,
    b: f64,
    /// The penalty chosen.
    pub alpha: f64,
    /// The bandwidth chosen.
    pub gamma: f64,
}

impl KernelRidge {
    /// Fits on `(x, y)`, choosing `(α, γ)` by 4-fold cross-validation.
    pub fn fit_cv(x: &[Vec<f64>], y: &[f64]) -> KernelRidge {
        let mut best = (f64::INFINITY, KERNEL_ALPHAS[0], KERNEL_GAMMAS[0]);
        for &alpha in &KERNEL_ALPHAS {
            for &gamma in &KERNEL_GAMMAS {
                let err = cv_error(
                    x,
                    y,
                    |xt, yt| KernelRidge::fit(xt, yt, alpha, gamma),
                    KernelRidge::predict,
                );
                if err < best.0 {
                    best = (err, alpha, gamma);
                }
            }
        }
        KernelRidge::fit(x, y, best.1, best.2)
    }

    /// Fits with penalty `alpha` and bandwidth `gamma`.
    pub fn fit(x: &[Vec<f64>], y: &[f64], alpha: f64, gamma: f64) -> KernelRidge {
        let n = x.len();
        let (mean, scale) = standardisation(x);
        let points: Vec<Vec<f64>> = x.iter().map(|r| standardise(r, &mean, &scale)).collect();
        let ym = y.iter().sum::<f64>() / n as f64;
        let d = points[0].len().max(1) as f64;
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = (-gamma * sq_dist(&points[i], &points[j]) / d).exp();
                k[i * n + j] = v;
                k[j * n + i] = v;
            }
            k[i * n + i] += alpha * n as f64;
        }
        let r: Vec<f64> = y.iter().map(|v| v - ym).collect();
        let c = cholesky_solve(&mut k, &r, n);
        KernelRidge {
            mean,
            scale,
            points,
            c,
            b: ym,
            alpha,
            gamma,
        }
    }

    /// `ŷ` for one feature vector.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let z = standardise(x, &self.mean, &self.scale);
        let d = z.len().max(1) as f64;
        self.b
            + self
                .points
                .iter()
                .zip(&self.c)
                .map(|(p, c)| c * (-self.gamma * sq_dist(p, &z) / d).exp())
                .sum::<f64>()
    }
}

/// Per-feature mean and standard deviation (1 where the feature is constant).
fn standardisation(x: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (x.len() as f64, x[0].len());
    let mean: Vec<f64> = (0..d)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let scale = (0..d)
        .map(|j| {
            let v = x.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            if v > 1e-12 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (mean, scale)
}

fn standardise(r: &[f64], mean: &[f64], scale: &[f64]) -> Vec<f64> {
    r.iter()
        .zip(mean.iter().zip(scale))
        .map(|(v, (m, s))| (v - m) / s)
        .collect()
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Solves `A w = r` for symmetric positive definite `A` (`d × d`, row-major, overwritten).
fn cholesky_solve(a: &mut [f64], r: &[f64], d: usize) -> Vec<f64> {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        let l = s.max(1e-300).sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / l;
        }
    }
    let mut z = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| a[i * d + k] * z[k]).sum();
        z[i] = (r[i] - s) / a[i * d + i];
    }
    let mut w = vec![0.0; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| a[k * d + i] * w[k]).sum();
        w[i] = (z[i] - s) / a[i * d + i];
    }
    w
}

/// Settings of the supervised baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisedConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Batch size (capped at the labelled set's size).
    pub batch_size: usize,
    /// AdamW learning rate at the first step.
    pub lr: f64,
    /// Learning rate at the last step as a fraction of `lr` (cosine in between).
    pub final_lr_ratio: f64,
    /// Seed.
    pub seed: u64,
    /// Encoder sizes (the expander is not used).
    pub encoder: EncoderConfig,
    /// Views (random crops with noise, no symmetries).
    pub view: ViewConfig,
}

/// Encoder + linear head.
#[derive(Module, Debug)]
pub struct Regressor {
    /// The encoder.
    pub encoder: PdeEncoder,
    /// `repr_dim → 1`.
    pub head: Linear,
}

/// Trains the baseline on `(train, y)` (targets standardised inside) and predicts `test`.
pub fn supervised(
    train: &[Trajectory],
    y: &[f64],
    test: &[Trajectory],
    cfg: &SupervisedConfig,
    device: &Device,
) -> Result<Vec<f64>, SslError> {
    let shape = cfg.view.shape(train[0].frames, train[0].grid)?;
    let n = train.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-12);
    let ad = device.clone().autodiff();
    let mut model = seeded(&ad, cfg.seed, |d| Regressor {
        encoder: PdeEncoder::new(&cfg.encoder, shape, d),
        head: LinearConfig::new(cfg.encoder.repr_dim, 1).init(d),
    });
    let mut optim = AdamWConfig::new().with_weight_decay(1e-5).init();
    let mut rng = Rng::stream(cfg.seed, 0x5350);
    let b = cfg.batch_size.min(n);
    for step in 0..cfg.steps {
        let (mut v, mut t) = (vec![], vec![]);
        for _ in 0..b {
            let i = ((rng.uniform() * n as f64) as usize).min(n - 1);
            v.extend(random_view(
                &train[i],
                &cfg.view,
                Augmentation::CropNoise,
                &mut rng,
            )?);
            t.push(((y[i] - mean) / std) as f32);
        }
        let pred = model
            .head
            .forward(model.encoder.forward(batch_tensor(v, b, shape, &ad)));
        let target = Tensor::<2>::from_data(TensorData::new(t, [b, 1]), &ad);
        let loss = (pred - target).powi_scalar(2).mean();
        if !scalar(&loss).is_finite() {
            return Err(SslError::NonFinite {
                what: "supervised loss".into(),
                step,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
    }
    let model = model.valid();
    let pred = averaged_over_crops(test, &cfg.view, |batch, b, shape| {
        model
            .head
            .forward(model.encoder.forward(batch_tensor(batch, b, shape, device)))
    })?;
    Ok(pred.into_iter().map(|p| p[0] * std + mean).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_a_linear_map() {
        let mut rng = Rng::stream(1, 2);
        let x: Vec<Vec<f64>> = (0..50)
            .map(|_| (0..5).map(|_| rng.range(-1.0, 1.0)).collect())
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 2.0 * r[0] - r[3] + 0.5).collect();
        let m = Ridge::fit_cv(&x, &y);
        let pred: Vec<f64> = x.iter().map(|r| m.predict(r)).collect();
        let e = relative_mse(&pred, &y);
        assert!(e < 1e-3, "relative MSE {e}, alpha {}", m.alpha);
    }

    #[test]
    fn kernel_head_fits_a_non_linear_map_that_the_linear_one_cannot() {
        let mut rng = Rng::stream(3, 4);
        let draw = |rng: &mut Rng, n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| (0..3).map(|_| rng.range(-1.0, 1.0)).collect())
                .collect()
        };
        let f = |r: &[f64]| (2.0 * r[0]).sin() + r[1] * r[1];
        let (x, xt) = (draw(&mut rng, 200), draw(&mut rng, 200));
        let (y, yt): (Vec<f64>, Vec<f64>) = (
            x.iter().map(|r| f(r)).collect(),
            xt.iter().map(|r| f(r)).collect(),
        );
        let k = KernelRidge::fit_cv(&x, &y);
        let l = Ridge::fit_cv(&x, &y);
        let ek = relative_mse(&xt.iter().map(|r| k.predict(r)).collect::<Vec<_>>(), &yt);
        let el = relative_mse(&xt.iter().map(|r| l.predict(r)).collect::<Vec<_>>(), &yt);
        assert!(ek < 0.01 && el > 0.1, "kernel {ek}, linear {el}");
    }

    #[test]
    fn kernel_head_interpolates_with_a_tiny_penalty() {
        // (K + α n I) c = y − ȳ with α → 0 reproduces the training targets.
        let x = vec![
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![2.0, 2.0],
            vec![-1.0, 3.0],
        ];
        let y = [1.0, -2.0, 0.5, 3.0];
        let m = KernelRidge::fit(&x, &y, 1e-10, 1.0);
        for (xi, yi) in x.iter().zip(&y) {
            assert!(
                (m.predict(xi) - yi).abs() < 1e-6,
                "{} vs {yi}",
                m.predict(xi)
            );
        }
    }
}
