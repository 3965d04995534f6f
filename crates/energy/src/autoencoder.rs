//! Auto-encoders as energy-based models: the energy of `x` is its reconstruction error
//! `E(x) = ‖x − g(f(x))‖²`, low on the data manifold when the architecture (a bottleneck) or
//! the training (denoising) keeps the volume of low energy small.
//!
//! * [`Mlp64`] (module [`crate::mlp`], re-exported here) — the `f64` network.
//! * [`Autoencoder`] — `x̂ = MLP(x)`; the **bottleneck** auto-encoder trains on
//!   `mean ‖MLP(x) − x‖²` with a narrow middle layer; the **denoising** auto-encoder (Vincent
//!   et al. 2008) trains on `mean ‖MLP(x + σε) − x‖²`, `ε ~ N(0, I)`, so `MLP(x) − x` points
//!   back towards the data (for small σ it approximates `σ²∇ log p(x)`).

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::mlp::{adam_step, check_minibatch_adam};
pub use crate::mlp::{normal, Mlp64};
use crate::rng::SplitMix64;

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
        check_minibatch_adam(t.batch, t.steps, t.lr)?;
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
