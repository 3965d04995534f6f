//! Auto-encoders as energy-based models: the energy of `x` is its reconstruction error
//! `E(x) = ‖x − g(f(x))‖²`, low on the data manifold when the architecture (a bottleneck) or
//! the training (denoising) keeps the volume of low energy small.
//!
//! * [`Mlp64`] — a small `f64` multilayer perceptron (tanh between layers, linear output) with
//!   its exact backward pass, and Adam.
//! * [`Autoencoder`] — `x̂ = MLP(x)`; the **bottleneck** auto-encoder trains on
//!   `mean ‖MLP(x) − x‖²` with a narrow middle layer; the **denoising** auto-encoder (Vincent
//!   et al. 2008) trains on `mean ‖MLP(x + σε) − x‖²`, `ε ~ N(0, I)`, so `MLP(x) − x` points
//!   back towards the data (for small σ it approximates `σ²∇ log p(x)`).

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::rng::SplitMix64;

/// One affine layer `y = xW + b`, `W [in, out]`.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    w: Vec<f64>,
    b: Vec<f64>,
    fan_in: usize,
    fan_out: usize,
}

/// A multilayer perceptron in `f64`: `tanh` after every layer but the last.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp64 {
    layers: Vec<Layer>,
}

/// One Adam step (β = (0.9, 0.999), ε = 1e-8, `t` the 1-based step) on `params` with
/// gradients `grads` and moment buffers `m`, `v` (all the same length and order).
pub(crate) fn adam_step<'a>(
    params: impl Iterator<Item = &'a mut f64>,
    grads: impl Iterator<Item = &'a f64>,
    (m, v): (&mut [f64], &mut [f64]),
    t: usize,
    lr: f64,
) {
    let (c1, c2) = (1.0 - 0.9f64.powi(t as i32), 1.0 - 0.999f64.powi(t as i32));
    for (((w, g), m), v) in params.zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = 0.9 * *m + 0.1 * g;
        *v = 0.999 * *v + 0.001 * g * g;
        *w -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
    }
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = rng.uniform().max(1e-300);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * rng.uniform()).cos()
}

impl Mlp64 {
    /// Widths `dims[0] → … → dims[L]`, weights `U(±1/√fan_in)` from `seed` (PyTorch's
    /// `nn.Linear` rule), biases 0.
    pub fn new(dims: &[usize], seed: u64) -> Result<Self> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(invalid(
                "dims",
                format!("{dims:?}"),
                "at least 2 widths, all >= 1",
            ));
        }
        let mut rng = SplitMix64::new(seed);
        let layers = dims
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                Layer {
                    w: (0..w[0] * w[1])
                        .map(|_| bound * (2.0 * rng.uniform() - 1.0))
                        .collect(),
                    b: vec![0.0; w[1]],
                    fan_in: w[0],
                    fan_out: w[1],
                }
            })
            .collect();
        Ok(Self { layers })
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.layers[0].fan_in
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].fan_out
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Forward pass of one input; returns every layer's output (after tanh for hidden ones).
    pub(crate) fn forward_all(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let mut outs: Vec<Vec<f64>> = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let input: &[f64] = if l == 0 { x } else { &outs[l - 1] };
            let mut y = layer.b.clone();
            for (i, xi) in input.iter().enumerate() {
                let row = &layer.w[i * layer.fan_out..(i + 1) * layer.fan_out];
                y.iter_mut().zip(row).for_each(|(y, w)| *y += xi * w);
            }
            if l < last {
                y.iter_mut().for_each(|v| *v = v.tanh());
            }
            outs.push(y);
        }
        outs
    }

    /// `MLP(x)` for one input `x [in]`.
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        self.forward_all(x).pop().unwrap_or_default()
    }

    /// Adds `∂L/∂θ` of one sample into `grad` (flat, layer by layer: `W` then `b`), given
    /// `g_out = ∂L/∂MLP(x)`.
    pub(crate) fn backward(&self, x: &[f64], outs: &[Vec<f64>], g_out: &[f64], grad: &mut [f64]) {
        let mut g = g_out.to_vec();
        let mut offsets = Vec::with_capacity(self.layers.len());
        let mut off = 0;
        for l in &self.layers {
            offsets.push(off);
            off += l.w.len() + l.b.len();
        }
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let input: &[f64] = if l == 0 { x } else { &outs[l - 1] };
            let o = offsets[l];
            let (gw, gb) = grad[o..o + layer.w.len() + layer.b.len()].split_at_mut(layer.w.len());
            for (i, xi) in input.iter().enumerate() {
                gw[i * layer.fan_out..(i + 1) * layer.fan_out]
                    .iter_mut()
                    .zip(&g)
                    .for_each(|(gw, g)| *gw += xi * g);
            }
            gb.iter_mut().zip(&g).for_each(|(gb, g)| *gb += g);
            if l > 0 {
                // Through W, then tanh' = 1 − y² of the previous layer's output.
                let prev = &outs[l - 1];
                g = (0..layer.fan_in)
                    .map(|i| {
                        let row = &layer.w[i * layer.fan_out..(i + 1) * layer.fan_out];
                        let s: f64 = row.iter().zip(&g).map(|(w, g)| w * g).sum();
                        s * (1.0 - prev[i] * prev[i])
                    })
                    .collect();
            }
        }
    }

    /// `∂L/∂x` of one sample given `g_out = ∂L/∂MLP(x)` and the forward outputs.
    pub(crate) fn input_grad(&self, outs: &[Vec<f64>], g_out: &[f64]) -> Vec<f64> {
        let mut g = g_out.to_vec();
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let through: Vec<f64> = (0..layer.fan_in)
                .map(|i| {
                    let row = &layer.w[i * layer.fan_out..(i + 1) * layer.fan_out];
                    row.iter().zip(&g).map(|(w, g)| w * g).sum()
                })
                .collect();
            g = if l > 0 {
                let prev = &outs[l - 1];
                through
                    .iter()
                    .zip(prev)
                    .map(|(s, y)| s * (1.0 - y * y))
                    .collect()
            } else {
                through
            };
        }
        g
    }

    pub(crate) fn params_mut(&mut self) -> impl Iterator<Item = &mut f64> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.w.iter_mut().chain(l.b.iter_mut()))
    }
}

/// Training settings of an [`Autoencoder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoencoderTraining {
    /// Input noise σ (0: a plain bottleneck auto-encoder).
    pub noise: f64,
    /// Adam steps, each on a minibatch.
    pub steps: usize,
    /// Rows per minibatch.
    pub batch: usize,
    /// Adam step size.
    pub lr: f64,
    /// Seed of the minibatches and the noise.
    pub seed: u64,
}

/// An auto-encoder `x̂ = MLP(x)` with energy `E(x) = ‖x − MLP(x)‖²`.
#[derive(Debug, Clone, PartialEq)]
pub struct Autoencoder {
    /// The network (input and output width = data dimension).
    pub net: Mlp64,
}

impl Autoencoder {
    /// Wraps `net`, which must map `[p]` to `[p]`.
    pub fn new(net: Mlp64) -> Result<Self> {
        if net.input_dim() != net.output_dim() {
            return Err(invalid(
                "net",
                format!("{} → {}", net.input_dim(), net.output_dim()),
                "equal input and output widths",
            ));
        }
        Ok(Self { net })
    }

    /// `MLP(x)` for every row of `x [n, p]`.
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        self.check(x)?;
        let rows: Vec<Vec<f64>> = x.row_iter().map(|r| self.net.forward(r)).collect();
        Matrix::from_rows(&rows)
    }

    /// `E(x) = ‖x − MLP(x)‖²` for every row of `x [n, p]`.
    pub fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.check(x)?;
        Ok(x.row_iter()
            .map(|r| {
                let y = self.net.forward(r);
                r.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum()
            })
            .collect())
    }

    fn check(&self, x: &Matrix) -> Result<()> {
        if x.cols() != self.net.input_dim() || x.rows() == 0 {
            return Err(EnergyError::Shape {
                what: "x",
                found: x.shape_str(),
                expected: format!("[n >= 1, {}]", self.net.input_dim()),
            });
        }
        x.check_finite("x")
    }

    /// The training loss `mean_rows ‖MLP(x̃) − x‖²` on `x [n, p]` with the given corrupted
    /// inputs `x̃` and its gradient (flat, as the parameters).
    pub fn loss_and_grad(&self, x: &Matrix, corrupted: &Matrix) -> Result<(f64, Vec<f64>)> {
        self.check(x)?;
        self.check(corrupted)?;
        let mut grad = vec![0.0; self.net.num_params()];
        let n = x.rows() as f64;
        let mut loss = 0.0;
        for (xr, cr) in x.row_iter().zip(corrupted.row_iter()) {
            let outs = self.net.forward_all(cr);
            let y = &outs[outs.len() - 1];
            let g: Vec<f64> = y.iter().zip(xr).map(|(y, t)| 2.0 * (y - t) / n).collect();
            loss += y.iter().zip(xr).map(|(y, t)| (y - t).powi(2)).sum::<f64>() / n;
            self.net.backward(cr, &outs, &g, &mut grad);
        }
        Ok((loss, grad))
    }

    /// Trains with Adam (β = (0.9, 0.999), ε = 1e-8) on minibatches of `x [n, p]`, each row
    /// corrupted with fresh Gaussian noise of std `noise`. Returns the loss of every step.
    pub fn fit(&mut self, x: &Matrix, t: AutoencoderTraining) -> Result<Vec<f64>> {
        self.check(x)?;
        if t.batch == 0 || t.steps == 0 {
            return Err(invalid(
                "batch/steps",
                format!("{}/{}", t.batch, t.steps),
                "both >= 1",
            ));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(invalid("lr", t.lr, "a finite number > 0"));
        }
        if !(t.noise.is_finite() && t.noise >= 0.0) {
            return Err(invalid("noise", t.noise, "a finite number >= 0"));
        }
        let mut rng = SplitMix64::new(t.seed);
        let p = x.cols();
        let np = self.net.num_params();
        let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
        let mut losses = Vec::with_capacity(t.steps);
        for k in 1..=t.steps {
            let idx: Vec<usize> = (0..t.batch).map(|_| rng.below(x.rows())).collect();
            let clean: Vec<f64> = idx.iter().flat_map(|&i| x.row(i).to_vec()).collect();
            let noisy: Vec<f64> = clean
                .iter()
                .map(|c| c + t.noise * normal(&mut rng))
                .collect();
            let (clean, noisy) = (
                Matrix::new(t.batch, p, clean)?,
                Matrix::new(t.batch, p, noisy)?,
            );
            let (loss, g) = self.loss_and_grad(&clean, &noisy)?;
            if !loss.is_finite() {
                return Err(EnergyError::NonFinite {
                    what: "auto-encoder loss",
                    row: k,
                    col: 0,
                    value: loss,
                });
            }
            losses.push(loss);
            adam_step(self.net.params_mut(), g.iter(), (&mut m, &mut v), k, t.lr);
        }
        Ok(losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let ae = Autoencoder::new(Mlp64::new(&[3, 5, 2, 3], 1).unwrap()).unwrap();
        let x = Matrix::new(2, 3, vec![0.3, -0.7, 1.1, 0.5, 0.2, -0.4]).unwrap();
        let xt = Matrix::new(2, 3, vec![0.25, -0.6, 1.0, 0.55, 0.1, -0.3]).unwrap();
        let (_, g) = ae.loss_and_grad(&x, &xt).unwrap();
        let np = ae.net.num_params();
        for k in (0..np).step_by(3) {
            let h = 1e-6;
            let mut plus = ae.clone();
            *plus.net.params_mut().nth(k).unwrap() += h;
            let mut minus = ae.clone();
            *minus.net.params_mut().nth(k).unwrap() -= h;
            let fd = (plus.loss_and_grad(&x, &xt).unwrap().0
                - minus.loss_and_grad(&x, &xt).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-7 * fd.abs().max(1.0),
                "θ[{k}]: {fd} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn denoising_autoencoder_pulls_noisy_points_back_to_a_circle() {
        let mut rng = SplitMix64::new(3);
        let pts: Vec<Vec<f64>> = (0..400)
            .map(|_| {
                let a = std::f64::consts::TAU * rng.uniform();
                vec![a.cos(), a.sin()]
            })
            .collect();
        let x = Matrix::from_rows(&pts).unwrap();
        let mut dae = Autoencoder::new(Mlp64::new(&[2, 32, 32, 2], 4).unwrap()).unwrap();
        let t = AutoencoderTraining {
            noise: 0.2,
            steps: 1500,
            batch: 32,
            lr: 3e-3,
            seed: 5,
        };
        let losses = dae.fit(&x, t).unwrap();
        let early: f64 = losses[..50].iter().sum::<f64>() / 50.0;
        let late: f64 = losses[losses.len() - 50..].iter().sum::<f64>() / 50.0;
        assert!(late < 0.5 * early, "loss {early} → {late}");
        // Noisy test points end closer to the unit circle after one pass.
        let test: Vec<Vec<f64>> = (0..100)
            .map(|i| {
                let a = i as f64 * 0.0628;
                let r = 1.0 + 0.2 * normal(&mut rng);
                vec![r * a.cos(), r * a.sin()]
            })
            .collect();
        let noisy = Matrix::from_rows(&test).unwrap();
        let out = dae.reconstruct(&noisy).unwrap();
        let dist = |m: &Matrix| -> f64 {
            m.row_iter()
                .map(|r| ((r[0] * r[0] + r[1] * r[1]).sqrt() - 1.0).abs())
                .sum::<f64>()
                / 100.0
        };
        assert!(
            dist(&out) < 0.6 * dist(&noisy),
            "{} → {}",
            dist(&noisy),
            dist(&out)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Mlp64::new(&[3], 0).is_err());
        assert!(Autoencoder::new(Mlp64::new(&[3, 2], 0).unwrap()).is_err());
        let ae = Autoencoder::new(Mlp64::new(&[2, 4, 2], 0).unwrap()).unwrap();
        assert!(ae.energy(&Matrix::zeros(1, 3)).is_err());
        let mut ae2 = ae.clone();
        let t = AutoencoderTraining {
            noise: -1.0,
            steps: 1,
            batch: 1,
            lr: 1e-3,
            seed: 0,
        };
        assert!(ae2
            .fit(&Matrix::zeros(2, 2), t)
            .unwrap_err()
            .to_string()
            .contains("noise"));
    }
}
