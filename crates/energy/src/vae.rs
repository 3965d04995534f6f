//! Variational auto-encoder (Kingma & Welling 2014) with the β weighting of Higgins et al.
//! 2017, as a latent-variable EBM: the loss of `x` is a variational free energy, an upper
//! bound on `−log p(x)` (up to constants).
//!
//! Encoder `[μ, log σ²] = enc(x)`, latent `z = μ + σ ⊙ ε` (`ε ~ N(0, I)`, the
//! reparameterisation), decoder `x̂ = dec(z)`. Per sample
//! `F(x) = ‖x − x̂‖² + β·KL(N(μ, σ²) ‖ N(0, I))`, `KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1)`.
//! Gradients (by hand, checked by finite differences for a fixed `ε`):
//! `∂F/∂μ = ∂F/∂z + βμ`, `∂F/∂log σ² = ∂F/∂z ⊙ ε ⊙ σ/2 + β(σ² − 1)/2`.

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::mlp::{adam_step, normal, Mlp64};
use crate::rng::SplitMix64;

/// A VAE on `f64` MLPs.
#[derive(Debug, Clone, PartialEq)]
pub struct Vae {
    /// `x [p] → [μ, log σ²] [2k]`.
    pub encoder: Mlp64,
    /// `z [k] → x̂ [p]`.
    pub decoder: Mlp64,
    /// KL weight β ≥ 0.
    pub beta: f64,
}

/// The loss terms of a batch (means over samples).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VaeLoss {
    /// `mean ‖x − x̂‖² + β·mean KL`.
    pub total: f64,
    /// `mean ‖x − x̂‖²`.
    pub reconstruction: f64,
    /// `mean KL`.
    pub kl: f64,
}

impl Vae {
    /// Checks that the encoder outputs `2k` values and the decoder maps `k` back to the input
    /// width.
    pub fn new(encoder: Mlp64, decoder: Mlp64, beta: f64) -> Result<Self> {
        let k = decoder.input_dim();
        if encoder.output_dim() != 2 * k || decoder.output_dim() != encoder.input_dim() {
            return Err(invalid(
                "encoder/decoder",
                format!(
                    "{} → {} and {} → {}",
                    encoder.input_dim(),
                    encoder.output_dim(),
                    k,
                    decoder.output_dim()
                ),
                "encoder p → 2k (μ and log σ²) and decoder k → p",
            ));
        }
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(invalid("beta", beta, "a finite number >= 0"));
        }
        Ok(Self {
            encoder,
            decoder,
            beta,
        })
    }

    fn latent(&self) -> usize {
        self.decoder.input_dim()
    }

    /// The loss on `x [n, p]` with the given noise `eps [n, k]`, and the gradients of the
    /// encoder and decoder parameters (flat, as [`Mlp64`] orders them).
    pub fn loss_and_grad(&self, x: &Matrix, eps: &Matrix) -> Result<(VaeLoss, Vec<f64>, Vec<f64>)> {
        let (n, k) = (x.rows(), self.latent());
        if x.cols() != self.encoder.input_dim() || n == 0 || eps.rows() != n || eps.cols() != k {
            return Err(EnergyError::Shape {
                what: "x / eps",
                found: format!("{} / {}", x.shape_str(), eps.shape_str()),
                expected: format!("[n >= 1, {}] / [n, {k}]", self.encoder.input_dim()),
            });
        }
        x.check_finite("x")?;
        let nf = n as f64;
        let mut ge = vec![0.0; self.encoder.num_params()];
        let mut gd = vec![0.0; self.decoder.num_params()];
        let (mut rec, mut kl) = (0.0, 0.0);
        for (xr, er) in x.row_iter().zip(eps.row_iter()) {
            let enc = self.encoder.forward_all(xr);
            let out = &enc[enc.len() - 1];
            let (mu, logvar) = out.split_at(k);
            let sd: Vec<f64> = logvar.iter().map(|l| (0.5 * l).exp()).collect();
            let z: Vec<f64> = mu
                .iter()
                .zip(&sd)
                .zip(er)
                .map(|((m, s), e)| m + s * e)
                .collect();
            let dec = self.decoder.forward_all(&z);
            let xh = &dec[dec.len() - 1];
            rec += xr.iter().zip(xh).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / nf;
            kl += 0.5
                * mu.iter()
                    .zip(logvar)
                    .map(|(m, l)| m * m + l.exp() - l - 1.0)
                    .sum::<f64>()
                / nf;
            // Decoder backward; it also gives ∂F/∂z (the decoder's input gradient).
            let g_xh: Vec<f64> = xh.iter().zip(xr).map(|(a, b)| 2.0 * (a - b) / nf).collect();
            let gz = self.decoder_input_grad(&z, &dec, &g_xh, &mut gd);
            let mut g_out = vec![0.0; 2 * k];
            for j in 0..k {
                g_out[j] = gz[j] + self.beta * mu[j] / nf;
                g_out[k + j] =
                    gz[j] * er[j] * sd[j] * 0.5 + self.beta * 0.5 * (logvar[j].exp() - 1.0) / nf;
            }
            self.encoder.backward(xr, &enc, &g_out, &mut ge);
        }
        let loss = VaeLoss {
            total: rec + self.beta * kl,
            reconstruction: rec,
            kl,
        };
        Ok((loss, ge, gd))
    }

    /// Decoder parameter gradients into `gd`, and `∂/∂z` from an input-gradient pass.
    fn decoder_input_grad(
        &self,
        z: &[f64],
        dec: &[Vec<f64>],
        g_xh: &[f64],
        gd: &mut [f64],
    ) -> Vec<f64> {
        self.decoder.backward(z, dec, g_xh, gd);
        self.decoder.input_grad(dec, g_xh)
    }

    /// Trains with Adam on minibatches of `x [n, p]`; returns the total loss of every step.
    pub fn fit(
        &mut self,
        x: &Matrix,
        steps: usize,
        batch: usize,
        lr: f64,
        seed: u64,
    ) -> Result<Vec<f64>> {
        if steps == 0 || batch == 0 || !(lr.is_finite() && lr > 0.0) {
            return Err(invalid(
                "steps/batch/lr",
                format!("{steps}/{batch}/{lr}"),
                "steps, batch >= 1 and lr > 0",
            ));
        }
        let mut rng = SplitMix64::new(seed);
        let (p, k) = (x.cols(), self.latent());
        let (ne, nd) = (self.encoder.num_params(), self.decoder.num_params());
        let (mut m, mut v) = (vec![0.0; ne + nd], vec![0.0; ne + nd]);
        let mut losses = Vec::with_capacity(steps);
        for t in 1..=steps {
            let rows: Vec<f64> = (0..batch)
                .flat_map(|_| x.row(rng.below(x.rows())).to_vec())
                .collect();
            let xb = Matrix::new(batch, p, rows)?;
            let eps = Matrix::new(batch, k, (0..batch * k).map(|_| normal(&mut rng)).collect())?;
            let (loss, ge, gd) = self.loss_and_grad(&xb, &eps)?;
            if !loss.total.is_finite() {
                return Err(EnergyError::NonFinite {
                    what: "VAE loss",
                    row: t,
                    col: 0,
                    value: loss.total,
                });
            }
            losses.push(loss.total);
            let params = self.encoder.params_mut().chain(self.decoder.params_mut());
            adam_step(params, ge.iter().chain(&gd), (&mut m, &mut v), t, lr);
        }
        Ok(losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vae(beta: f64) -> Vae {
        Vae::new(
            Mlp64::new(&[3, 8, 4], 1).unwrap(),
            Mlp64::new(&[2, 8, 3], 2).unwrap(),
            beta,
        )
        .unwrap()
    }

    #[test]
    fn gradients_match_finite_differences_for_fixed_noise() {
        let v = vae(0.7);
        let x = Matrix::new(2, 3, vec![0.3, -0.2, 0.5, -0.6, 0.1, 0.9]).unwrap();
        let eps = Matrix::new(2, 2, vec![0.4, -1.1, 0.8, 0.2]).unwrap();
        let (_, ge, gd) = v.loss_and_grad(&x, &eps).unwrap();
        let f = |v: &Vae| v.loss_and_grad(&x, &eps).unwrap().0.total;
        let h = 1e-6;
        for k in (0..ge.len()).step_by(5) {
            let (mut a, mut b) = (v.clone(), v.clone());
            *a.encoder.params_mut().nth(k).unwrap() += h;
            *b.encoder.params_mut().nth(k).unwrap() -= h;
            let fd = (f(&a) - f(&b)) / (2.0 * h);
            assert!(
                (fd - ge[k]).abs() < 1e-6 * fd.abs().max(1.0),
                "enc[{k}] {fd} vs {}",
                ge[k]
            );
        }
        for k in (0..gd.len()).step_by(5) {
            let (mut a, mut b) = (v.clone(), v.clone());
            *a.decoder.params_mut().nth(k).unwrap() += h;
            *b.decoder.params_mut().nth(k).unwrap() -= h;
            let fd = (f(&a) - f(&b)) / (2.0 * h);
            assert!(
                (fd - gd[k]).abs() < 1e-6 * fd.abs().max(1.0),
                "dec[{k}] {fd} vs {}",
                gd[k]
            );
        }
    }

    #[test]
    fn training_lowers_the_free_energy_and_beta_trades_kl() {
        // Data near a 1-D curve in 3-D.
        let mut rng = SplitMix64::new(7);
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|_| {
                let t = 2.0 * rng.uniform() - 1.0;
                vec![t, t * t - 0.3, 0.5 * t + 0.05 * normal(&mut rng)]
            })
            .collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let mut low = vae(0.1);
        let losses = low.fit(&x, 2000, 32, 3e-3, 3).unwrap();
        let first: f64 = losses[..50].iter().sum::<f64>() / 50.0;
        let last: f64 = losses[losses.len() - 50..].iter().sum::<f64>() / 50.0;
        assert!(last < 0.5 * first, "VAE loss {first} → {last}");
        let mut high = vae(4.0);
        high.fit(&x, 2000, 32, 3e-3, 3).unwrap();
        let eps = Matrix::zeros(300, 2);
        let (l_low, _, _) = low.loss_and_grad(&x, &eps).unwrap();
        let (l_high, _, _) = high.loss_and_grad(&x, &eps).unwrap();
        assert!(
            l_high.kl < l_low.kl,
            "larger β must shrink the KL: {l_low:?} vs {l_high:?}"
        );
        assert!(l_high.reconstruction > l_low.reconstruction);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Vae::new(
            Mlp64::new(&[3, 3], 0).unwrap(),
            Mlp64::new(&[2, 3], 0).unwrap(),
            1.0
        )
        .is_err());
        assert!(Vae::new(
            Mlp64::new(&[3, 4], 0).unwrap(),
            Mlp64::new(&[2, 3], 0).unwrap(),
            -1.0
        )
        .is_err());
        let v = vae(1.0);
        assert!(v
            .loss_and_grad(&Matrix::zeros(2, 3), &Matrix::zeros(1, 2))
            .is_err());
    }
}
