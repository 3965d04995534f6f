//! Linear probes on frozen representations.
//!
//! Features are standardised with the training rows' mean and standard deviation
//! ([`Standardiser`]), then:
//!
//! * [`Logistic`] — multinomial logistic regression `P(y = k | x) = softmax(W x̃ + b)_k`,
//!   fitted by minimising `(1/n) Σ_i −log P(y_i | x_i) + (λ/2)‖W‖²_F` (no penalty on `b`) with
//!   full-batch Nesterov-accelerated gradient descent at step `1/L`,
//!   `L = ½ λ_max(X̃₁ᵀX̃₁ / n) + λ` (`X̃₁` = features with a ones column; ½ bounds the softmax
//!   Hessian), `λ_max` by power iteration. Scored by [`accuracy`].
//! * [`Ridge`] — `y ≈ w·x̃ + b` per target, `(X̃ᵀX̃ + α n I) w = X̃ᵀ(y − ȳ)`, with `α` chosen by
//!   4-fold cross-validation from [`RIDGE_ALPHAS`]; scored by [`r2`]
//!   `R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)²` on held-out rows.

/// Per-column mean and standard deviation of training features.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardiser {
    /// Fits on `x [n, d]` (flat); constant columns get scale 1.
    pub fn fit(x: &[f32], d: usize) -> Standardiser {
        let n = (x.len() / d.max(1)).max(1) as f64;
        let mut mean = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v) / n;
            }
        }
        let mut var = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2) / n;
            }
        }
        let scale = var
            .iter()
            .map(|v| if *v > 1e-12 { v.sqrt() } else { 1.0 })
            .collect();
        Standardiser { mean, scale }
    }

    /// The standardised rows of `x [n, d]`.
    pub fn apply(&self, x: &[f32]) -> Vec<Vec<f64>> {
        let d = self.mean.len();
        x.chunks_exact(d)
            .map(|row| {
                row.iter()
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|(&v, (m, s))| (f64::from(v) - m) / s)
                    .collect()
            })
            .collect()
    }
}

/// A fitted multinomial logistic regression on standardised features.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// Weights `[C][d + 1]` (the last column is the bias).
    pub w: Vec<Vec<f64>>,
}

/// Settings of [`Logistic::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticConfig {
    /// Weight decay `λ`.
    pub weight_decay: f64,
    /// Gradient iterations.
    pub iterations: usize,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        LogisticConfig {
            weight_decay: 1e-4,
            iterations: 500,
        }
    }
}

impl Logistic {
    /// Fits on standardised rows `x` with labels `y < classes` (see module docs).
    pub fn fit(x: &[Vec<f64>], y: &[usize], classes: usize, cfg: LogisticConfig) -> Logistic {
        let d1 = x.first().map_or(0, Vec::len) + 1;
        let lam = cfg.weight_decay;
        let lip = 0.5 * top_eigenvalue(x, d1) + lam;
        let step = 1.0 / lip.max(1e-12);
        let zero = vec![vec![0.0; d1]; classes];
        let (mut w, mut prev) = (zero.clone(), zero);
        for it in 0..cfg.iterations {
            // Nesterov: gradient at the look-ahead point v = w + (k−1)/(k+2)·(w − w_prev).
            let beta = it as f64 / (it as f64 + 3.0);
            let v: Vec<Vec<f64>> = w
                .iter()
                .zip(&prev)
                .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a + beta * (a - b)).collect())
                .collect();
            let g = gradient(&v, x, y, lam);
            prev = std::mem::replace(
                &mut w,
                v.iter()
                    .zip(&g)
                    .map(|(v, g)| v.iter().zip(g).map(|(v, g)| v - step * g).collect())
                    .collect(),
            );
        }
        Logistic { w }
    }

    /// The most probable class of one standardised row.
    pub fn predict(&self, x: &[f64]) -> usize {
        let s = scores(&self.w, x);
        (0..s.len())
            .max_by(|&a, &b| s[a].total_cmp(&s[b]))
            .unwrap_or(0)
    }

    /// Mean cross-entropy `(1/n) Σ −log P(y_i | x_i)` (for tests and logs).
    pub fn cross_entropy(&self, x: &[Vec<f64>], y: &[usize]) -> f64 {
        x.iter()
            .zip(y)
            .map(|(r, &k)| {
                let p = softmax(scores(&self.w, r));
                -p[k].max(1e-300).ln()
            })
            .sum::<f64>()
            / x.len().max(1) as f64
    }
}

fn scores(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    w.iter()
        .map(|wk| wk[x.len()] + wk.iter().zip(x).map(|(a, b)| a * b).sum::<f64>())
        .collect()
}

fn softmax(mut s: Vec<f64>) -> Vec<f64> {
    let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0;
    for v in s.iter_mut() {
        *v = (*v - m).exp();
        z += *v;
    }
    s.iter_mut().for_each(|v| *v /= z);
    s
}

/// `∇ = (1/n) Σ_i (p_i − e_{y_i}) x̃₁ᵢᵀ + λ W` (no decay on the bias column).
fn gradient(w: &[Vec<f64>], x: &[Vec<f64>], y: &[usize], lam: f64) -> Vec<Vec<f64>> {
    let d = x.first().map_or(0, Vec::len);
    let n = x.len().max(1) as f64;
    let mut g = vec![vec![0.0; d + 1]; w.len()];
    for (r, &k) in x.iter().zip(y) {
        let mut p = softmax(scores(w, r));
        p[k] -= 1.0;
        for (gc, pc) in g.iter_mut().zip(&p) {
            let a = pc / n;
            for (gj, xj) in gc.iter_mut().zip(r) {
                *gj += a * xj;
            }
            gc[d] += a;
        }
    }
    for (gc, wc) in g.iter_mut().zip(w) {
        for j in 0..d {
            gc[j] += lam * wc[j];
        }
    }
    g
}

/// Largest eigenvalue of `X₁ᵀX₁ / n` (ones column appended) by 50 power iterations.
fn top_eigenvalue(x: &[Vec<f64>], d1: usize) -> f64 {
    let n = x.len().max(1) as f64;
    let mut v = vec![1.0 / (d1 as f64).sqrt(); d1];
    let mut lambda = 0.0;
    for _ in 0..50 {
        let mut u = vec![0.0; d1];
        for r in x {
            let s = r.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() + v[d1 - 1];
            for (uj, xj) in u.iter_mut().zip(r) {
                *uj += s * xj / n;
            }
            u[d1 - 1] += s / n;
        }
        lambda = u.iter().map(|a| a * a).sum::<f64>().sqrt();
        if lambda <= 0.0 {
            return 0.0;
        }
        v = u.iter().map(|a| a / lambda).collect();
    }
    lambda
}

/// Fraction of rows whose predicted class is the label.
pub fn accuracy(model: &Logistic, x: &[Vec<f64>], y: &[usize]) -> f64 {
    let hits = x
        .iter()
        .zip(y)
        .filter(|(r, &k)| model.predict(r) == k)
        .count();
    hits as f64 / y.len().max(1) as f64
}

/// Penalties tried by the ridge cross-validation.
pub const RIDGE_ALPHAS: [f64; 6] = [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0];

/// A fitted ridge regression (one target) on standardised features.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    /// Weights.
    pub w: Vec<f64>,
    /// Intercept `ȳ − w·x̄`.
    pub b: f64,
    /// The penalty used.
    pub alpha: f64,
}

/// Sums over a set of rows: count, `Σx`, `Σxxᵀ` and, per target, `Σy`, `Σxy`.
#[derive(Debug, Clone)]
struct Moments {
    n: f64,
    sx: Vec<f64>,
    g: Vec<f64>,
    sy: Vec<f64>,
    sxy: Vec<Vec<f64>>,
}

impl Moments {
    fn new(d: usize, targets: usize) -> Moments {
        Moments {
            n: 0.0,
            sx: vec![0.0; d],
            g: vec![0.0; d * d],
            sy: vec![0.0; targets],
            sxy: vec![vec![0.0; d]; targets],
        }
    }

    fn add_row(&mut self, r: &[f64], ys: &[f64]) {
        let d = r.len();
        self.n += 1.0;
        for i in 0..d {
            self.sx[i] += r[i];
            for j in 0..=i {
                self.g[i * d + j] += r[i] * r[j];
            }
        }
        for (t, &y) in ys.iter().enumerate() {
            self.sy[t] += y;
            for (sxy, ri) in self.sxy[t].iter_mut().zip(r) {
                *sxy += ri * y;
            }
        }
    }

    /// `self + s·o`, field by field.
    fn axpy(&self, o: &Moments, s: f64) -> Moments {
        let f = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a + s * b).collect::<Vec<_>>();
        Moments {
            n: self.n + s * o.n,
            sx: f(&self.sx, &o.sx),
            g: f(&self.g, &o.g),
            sy: f(&self.sy, &o.sy),
            sxy: self.sxy.iter().zip(&o.sxy).map(|(a, b)| f(a, b)).collect(),
        }
    }

    /// The ridge fit of target `t` with penalty `alpha` on the centred moments.
    fn solve(&self, t: usize, alpha: f64) -> Ridge {
        let d = self.sx.len();
        let n = self.n.max(1.0);
        let mx: Vec<f64> = self.sx.iter().map(|v| v / n).collect();
        let my = self.sy[t] / n;
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = self.g[i * d + j] - n * mx[i] * mx[j];
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
            a[i * d + i] += alpha * n + 1e-9;
        }
        let rhs: Vec<f64> = (0..d).map(|i| self.sxy[t][i] - n * mx[i] * my).collect();
        let w = cholesky_solve(a, rhs, d);
        let b = my - w.iter().zip(&mx).map(|(a, b)| a * b).sum::<f64>();
        Ridge { w, b, alpha }
    }
}

impl Ridge {
    /// Fits with penalty `alpha`.
    pub fn fit(x: &[Vec<f64>], y: &[f64], alpha: f64) -> Ridge {
        let mut m = Moments::new(x.first().map_or(0, Vec::len), 1);
        for (r, &yi) in x.iter().zip(y) {
            m.add_row(r, &[yi]);
        }
        m.solve(0, alpha)
    }

    /// One ridge per target `ys[t]` (each `[n]`), each with its own `α` chosen by 4-fold
    /// cross-validation (fold of row `i` = `i mod 4`) from [`RIDGE_ALPHAS`]. The moments are
    /// summed once per fold, so the cost is one pass over the rows plus `d³` per fit.
    pub fn fit_cv(x: &[Vec<f64>], ys: &[Vec<f64>]) -> Vec<Ridge> {
        let d = x.first().map_or(0, Vec::len);
        let folds = 4.min(x.len()).max(1);
        let mut parts = vec![Moments::new(d, ys.len()); folds];
        let mut row_y = vec![0.0; ys.len()];
        for (i, r) in x.iter().enumerate() {
            for (t, y) in ys.iter().enumerate() {
                row_y[t] = y[i];
            }
            parts[i % folds].add_row(r, &row_y);
        }
        let mut all = Moments::new(d, ys.len());
        for p in &parts {
            all = all.axpy(p, 1.0);
        }
        (0..ys.len())
            .map(|t| {
                let mut best = (f64::INFINITY, RIDGE_ALPHAS[0]);
                for &alpha in &RIDGE_ALPHAS {
                    let mut err = 0.0;
                    for (f, part) in parts.iter().enumerate() {
                        let m = if folds == 1 {
                            all.clone()
                        } else {
                            all.axpy(part, -1.0)
                        };
                        let fit = m.solve(t, alpha);
                        err += (0..x.len())
                            .filter(|i| i % folds == f)
                            .map(|i| (fit.predict(&x[i]) - ys[t][i]).powi(2))
                            .sum::<f64>();
                    }
                    if err < best.0 {
                        best = (err, alpha);
                    }
                }
                all.solve(t, best.1)
            })
            .collect()
    }

    /// `ŷ` for one standardised row.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.b + self.w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
    }
}

/// `R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)²` (0 when `y` is constant).
pub fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let sse: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    if sst <= 0.0 {
        0.0
    } else {
        1.0 - sse / sst
    }
}

/// Solves `A w = b` for symmetric positive definite `A [d, d]` by Cholesky.
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, d: usize) -> Vec<f64> {
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
    for i in 0..d {
        for k in 0..i {
            b[i] -= a[i * d + k] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            b[i] -= a[k * d + i] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_sampling::SplitMix64;

    #[test]
    fn logistic_separates_separable_classes() {
        // Three well-separated Gaussian blobs in 5-D.
        let mut rng = SplitMix64::new(7);
        let centres = [[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]];
        let (mut x, mut y) = (vec![], vec![]);
        for i in 0..150 {
            let k = i % 3;
            let mut row = vec![0f32; 5];
            for (j, v) in row.iter_mut().enumerate() {
                let c = if j < 2 { centres[k][j] } else { 0.0 };
                *v = (c + 0.5 * (rng.uniform() - 0.5)) as f32;
            }
            x.extend(row);
            y.push(k);
        }
        let s = Standardiser::fit(&x, 5);
        let xs = s.apply(&x);
        let m = Logistic::fit(&xs, &y, 3, LogisticConfig::default());
        assert_eq!(accuracy(&m, &xs, &y), 1.0);
        assert!(m.cross_entropy(&xs, &y) < 0.1);
    }

    #[test]
    fn ridge_recovers_a_linear_target() {
        let mut rng = SplitMix64::new(3);
        let x: Vec<f32> = (0..200 * 4).map(|_| rng.uniform() as f32).collect();
        let y: Vec<f64> = x
            .chunks(4)
            .map(|r| 2.0 * f64::from(r[0]) - f64::from(r[2]) + 0.5)
            .collect();
        let s = Standardiser::fit(&x, 4);
        let xs = s.apply(&x);
        let m = &Ridge::fit_cv(&xs, std::slice::from_ref(&y))[0];
        let pred: Vec<f64> = xs.iter().map(|r| m.predict(r)).collect();
        assert!(r2(&pred, &y) > 0.999, "{}", r2(&pred, &y));
        assert_eq!(r2(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
    }
}
