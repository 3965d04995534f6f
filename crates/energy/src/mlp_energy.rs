//! A neural energy `E_θ(x) = MLP_θ(x)` (one scalar output) trained **contrastively** by
//! noise-contrastive estimation (Gutmann & Hyvärinen 2010, [`crate::contrastive::nce`]):
//! the model `log p_m(x) = −E_θ(x) − c` (with a learned log-partition `c`) is fitted by
//! logistic regression of data against samples of a known noise density `p_n`,
//!
//! `J(θ, c) = −[mean_x log σ(G(x)) + ν·mean_y log(1 − σ(G(y)))]`,
//! `G(u) = −E_θ(u) − c − log p_n(u) − log ν`,
//!
//! with `ν = 1` (each Adam step draws as many noise samples as data points). The energy is
//! pushed down on the data and up **only where noise samples land**: with a fixed noise set of
//! `K` samples, regions that no noise sample visits keep whatever energy the network
//! extrapolates — the reason contrastive methods need more negatives as the dimension grows.
//!
//! The same energy can instead be trained **without negatives** by denoising score matching
//! (Vincent 2011): with `x̃ = x + σε`, minimise
//! `J_DSM(θ) = mean ½‖∇ₓE_θ(x̃) − (x̃ − x)/σ²‖²`, so the model score `−∇ₓE` matches the
//! score of the noise-smoothed data density. Its gradient needs `∂(∇ₓE)/∂θ`, a second-order
//! pass through the network ([`Mlp64`]'s `input_grad_backward`, checked by finite differences).

use crate::contrastive::{nce, NceLoss};
use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::mlp::{adam_step, check_minibatch_adam, normal, Mlp64};
use crate::rng::SplitMix64;
use crate::SampleEnergy;

/// The contrastive loss over a minibatch of `n` data rows and `n` noise rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SetLoss {
    /// Noise-contrastive estimation with `ν = 1` (see the module docs); learns `c`.
    Nce,
    /// Square-square (`contrastive::square_square` averaged over each side):
    /// `mean_i E(x_i)² + mean_j max(0, m − E(y_j))²` (margin `m ≥ 0`); once a
    /// negative's energy is above the margin it no longer pulls. `c` is not used.
    SquareSquare {
        /// The margin `m`.
        margin: f64,
    },
}

/// Training settings of [`MlpEnergy::fit_contrastive`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NceTraining {
    /// Adam steps.
    pub steps: usize,
    /// Data rows and noise rows per step (each drawn with replacement).
    pub batch: usize,
    /// Adam step size.
    pub lr: f64,
    /// Seed of the minibatch draws.
    pub seed: u64,
}

/// Training settings of [`MlpEnergy::fit_dsm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DsmTraining {
    /// Noise scale `σ > 0` of the corruption `x̃ = x + σε`.
    pub sigma: f64,
    /// Adam steps.
    pub steps: usize,
    /// Rows per step (drawn with replacement, each with fresh noise).
    pub batch: usize,
    /// Adam step size.
    pub lr: f64,
    /// Seed of the draws and the noise.
    pub seed: u64,
}

/// A fixed set of noise samples with their log-densities under `p_n`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSet {
    /// Samples `[K, p]`.
    pub samples: Matrix,
    /// `log p_n` of each sample, `[K]`.
    pub log_density: Vec<f64>,
}

impl NoiseSet {
    /// `k` samples of the uniform density on the box `[lo, hi]^p`, from `seed`.
    pub fn uniform_box(k: usize, p: usize, (lo, hi): (f64, f64), seed: u64) -> Result<Self> {
        if k == 0 || p == 0 {
            return Err(invalid("k/p", format!("{k}/{p}"), "both >= 1"));
        }
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(invalid(
                "box",
                format!("[{lo}, {hi}]"),
                "finite bounds with lo < hi",
            ));
        }
        let mut rng = SplitMix64::new(seed);
        let data: Vec<f64> = (0..k * p).map(|_| lo + (hi - lo) * rng.uniform()).collect();
        Ok(Self {
            samples: Matrix::new(k, p, data)?,
            log_density: vec![uniform_box_log_density(p, (lo, hi)); k],
        })
    }
}

/// `log p_n(x) = −p·log(hi − lo)` of the uniform density on `[lo, hi]^p` (inside the box).
pub fn uniform_box_log_density(p: usize, (lo, hi): (f64, f64)) -> f64 {
    -(p as f64) * (hi - lo).ln()
}

/// `E_θ(x) = MLP_θ(x)` with a learned log-partition `c` (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpEnergy {
    /// The network, `[p] → [1]`.
    pub net: Mlp64,
    /// The learned log-partition `c` of `p_m(x) = exp(−E(x) − c)`.
    pub log_partition: f64,
}

impl MlpEnergy {
    /// Wraps `net`, which must have one output.
    pub fn new(net: Mlp64) -> Result<Self> {
        if net.output_dim() != 1 {
            return Err(invalid(
                "net",
                format!("{} outputs", net.output_dim()),
                "exactly 1 output (the energy)",
            ));
        }
        Ok(Self {
            net,
            log_partition: 0.0,
        })
    }

    fn check(&self, x: &Matrix, what: &'static str) -> Result<()> {
        if x.cols() != self.net.input_dim() || x.rows() == 0 {
            return Err(EnergyError::Shape {
                what,
                found: x.shape_str(),
                expected: format!("[n >= 1, {}]", self.net.input_dim()),
            });
        }
        x.check_finite(what)
    }

    /// The loss on the given data rows and noise rows (with their `log p_n`, used by NCE) and
    /// its gradient: the network's parameters (flat, as [`Mlp64`] orders them), then `c`.
    pub fn loss_and_grad(
        &self,
        loss: SetLoss,
        (data, log_pn_data): (&Matrix, &[f64]),
        (noise, log_pn_noise): (&Matrix, &[f64]),
    ) -> Result<(f64, Vec<f64>)> {
        self.check(data, "data")?;
        self.check(noise, "noise")?;
        let fwd = |x: &Matrix| -> Vec<Vec<Vec<f64>>> {
            x.row_iter().map(|r| self.net.forward_all(r)).collect()
        };
        let (od, on) = (fwd(data), fwd(noise));
        let energy = |outs: &[Vec<Vec<f64>>]| -> Vec<f64> {
            outs.iter().map(|o| o[o.len() - 1][0]).collect()
        };
        let (ed, en) = (energy(&od), energy(&on));
        let loss = match loss {
            SetLoss::Nce => nce(
                (&ed, log_pn_data),
                (&en, log_pn_noise),
                self.log_partition,
                1.0,
            )?,
            SetLoss::SquareSquare { margin } => {
                if !(margin.is_finite() && margin >= 0.0) {
                    return Err(invalid("margin", margin, "a finite number >= 0"));
                }
                // mean_i e_i² + mean_j max(0, m − e_j)², as `contrastive::square_square`
                // per pair, averaged over each side separately.
                let (n, k) = (ed.len() as f64, en.len() as f64);
                let hinge: Vec<f64> = en.iter().map(|e| (margin - e).max(0.0)).collect();
                NceLoss {
                    value: ed.iter().map(|e| e * e).sum::<f64>() / n
                        + hinge.iter().map(|h| h * h).sum::<f64>() / k,
                    d_data: ed.iter().map(|e| 2.0 * e / n).collect(),
                    d_noise: hinge.iter().map(|h| -2.0 * h / k).collect(),
                    d_log_partition: 0.0,
                }
            }
        };
        let np = self.net.num_params();
        let mut grad = vec![0.0; np + 1];
        for ((x, outs), d) in data.row_iter().zip(&od).zip(&loss.d_data) {
            self.net.backward(x, outs, &[*d], &mut grad[..np]);
        }
        for ((x, outs), d) in noise.row_iter().zip(&on).zip(&loss.d_noise) {
            self.net.backward(x, outs, &[*d], &mut grad[..np]);
        }
        grad[np] = loss.d_log_partition;
        Ok((loss.value, grad))
    }

    /// Fits with Adam: every step draws `batch` rows of `data` (whose noise log-densities are
    /// `log_pn_data`) and `batch` rows of `noise`, with replacement, and descends `loss`.
    /// Returns the loss of every step. A non-finite loss is an error.
    pub fn fit_contrastive(
        &mut self,
        loss: SetLoss,
        (data, log_pn_data): (&Matrix, &[f64]),
        noise: &NoiseSet,
        t: NceTraining,
    ) -> Result<Vec<f64>> {
        self.check(data, "data")?;
        self.check(&noise.samples, "noise")?;
        if log_pn_data.len() != data.rows() || noise.log_density.len() != noise.samples.rows() {
            return Err(EnergyError::Shape {
                what: "noise log-densities",
                found: format!(
                    "[{}] for {} data rows, [{}] for {} noise rows",
                    log_pn_data.len(),
                    data.rows(),
                    noise.log_density.len(),
                    noise.samples.rows()
                ),
                expected: "one log-density per row".into(),
            });
        }
        check_minibatch_adam(t.batch, t.steps, t.lr)?;
        let mut rng = SplitMix64::new(t.seed);
        let p = data.cols();
        let draw = |x: &Matrix, lp: &[f64], rng: &mut SplitMix64| -> Result<(Matrix, Vec<f64>)> {
            let idx: Vec<usize> = (0..t.batch).map(|_| rng.below(x.rows())).collect();
            let rows: Vec<f64> = idx.iter().flat_map(|&i| x.row(i).to_vec()).collect();
            Ok((
                Matrix::new(t.batch, p, rows)?,
                idx.iter().map(|&i| lp[i]).collect(),
            ))
        };
        self.descend((t.steps, t.lr), "contrastive loss", |e| {
            let (xd, ld) = draw(data, log_pn_data, &mut rng)?;
            let (xn, ln) = draw(&noise.samples, &noise.log_density, &mut rng)?;
            e.loss_and_grad(loss, (&xd, &ld), (&xn, &ln))
        })
    }

    /// `steps` Adam steps on the parameters and `c`, each on the loss and gradient that
    /// `step` returns; returns the losses. A non-finite loss is an error naming `what`.
    fn descend(
        &mut self,
        (steps, lr): (usize, f64),
        what: &'static str,
        mut step: impl FnMut(&Self) -> Result<(f64, Vec<f64>)>,
    ) -> Result<Vec<f64>> {
        let np = self.net.num_params() + 1;
        let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
        let mut losses = Vec::with_capacity(steps);
        for k in 1..=steps {
            let (value, g) = step(self)?;
            if !value.is_finite() {
                return Err(EnergyError::NonFinite {
                    what,
                    row: k,
                    col: 0,
                    value,
                });
            }
            losses.push(value);
            let params = self
                .net
                .params_mut()
                .chain(std::iter::once(&mut self.log_partition));
            adam_step(params, g.iter(), (&mut m, &mut v), k, lr);
        }
        Ok(losses)
    }
}

impl MlpEnergy {
    /// `∇ₓE(x)` for every row of `x [n, p]`, `[n, p]` (the model's score is its negative).
    pub fn grad_x(&self, x: &Matrix) -> Result<Matrix> {
        self.check(x, "x")?;
        let rows: Vec<f64> = x
            .row_iter()
            .flat_map(|r| self.net.input_grad(&self.net.forward_all(r), &[1.0]))
            .collect();
        Matrix::new(x.rows(), x.cols(), rows)
    }

    /// `J_DSM = mean_rows ½‖∇ₓE(x̃) − (x̃ − x)/σ²‖²` on clean rows `x` and their corrupted
    /// copies `x̃` (same shape), and `∂J/∂θ` (flat, then a zero for `c`, which DSM does not
    /// determine).
    pub fn dsm_loss_and_grad(
        &self,
        x: &Matrix,
        noisy: &Matrix,
        sigma: f64,
    ) -> Result<(f64, Vec<f64>)> {
        self.check(x, "x")?;
        self.check(noisy, "noisy")?;
        if noisy.rows() != x.rows() {
            return Err(EnergyError::Shape {
                what: "noisy",
                found: noisy.shape_str(),
                expected: x.shape_str(),
            });
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(invalid("sigma", sigma, "a finite number > 0"));
        }
        let n = x.rows() as f64;
        let np = self.net.num_params();
        let mut grad = vec![0.0; np + 1];
        let mut loss = 0.0;
        for (xr, tr) in x.row_iter().zip(noisy.row_iter()) {
            let outs = self.net.forward_all(tr);
            let tape = self.net.input_grad_tape(&outs);
            let s = tape.input_grad();
            let r: Vec<f64> = s
                .iter()
                .zip(tr.iter().zip(xr))
                .map(|(s, (t, x))| (s - (t - x) / (sigma * sigma)) / n)
                .collect();
            loss += 0.5 * n * r.iter().map(|v| v * v).sum::<f64>();
            self.net
                .input_grad_backward(tr, &outs, &tape, &r, &mut grad[..np]);
        }
        Ok((loss, grad))
    }

    /// Fits by denoising score matching with Adam (no negatives). Returns the loss of every
    /// step; a non-finite loss is an error.
    pub fn fit_dsm(&mut self, data: &Matrix, t: DsmTraining) -> Result<Vec<f64>> {
        self.check(data, "data")?;
        check_minibatch_adam(t.batch, t.steps, t.lr)?;
        if !(t.sigma.is_finite() && t.sigma > 0.0) {
            return Err(invalid("sigma", t.sigma, "a finite number > 0"));
        }
        let mut rng = SplitMix64::new(t.seed);
        let p = data.cols();
        self.descend((t.steps, t.lr), "denoising score-matching loss", |e| {
            let clean: Vec<f64> = (0..t.batch)
                .flat_map(|_| data.row(rng.below(data.rows())).to_vec())
                .collect();
            let noisy: Vec<f64> = clean
                .iter()
                .map(|c| c + t.sigma * normal(&mut rng))
                .collect();
            e.dsm_loss_and_grad(
                &Matrix::new(t.batch, p, clean)?,
                &Matrix::new(t.batch, p, noisy)?,
                t.sigma,
            )
        })
    }
}

impl SampleEnergy for MlpEnergy {
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.check(x, "x")?;
        Ok(x.row_iter().map(|r| self.net.forward(r)[0]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let mut e = MlpEnergy::new(Mlp64::new(&[3, 4, 1], 2).unwrap()).unwrap();
        e.log_partition = 0.3;
        let xd = Matrix::new(2, 3, vec![0.2, -0.4, 0.9, 1.1, 0.0, -0.3]).unwrap();
        let xn = Matrix::new(3, 3, vec![0.5, 0.5, -0.5, -1.0, 0.7, 0.1, 0.0, 0.3, 0.8]).unwrap();
        let (ld, ln) = (vec![-1.0, -1.2], vec![-0.9, -1.1, -1.3]);
        for loss in [SetLoss::Nce, SetLoss::SquareSquare { margin: 1.0 }] {
            let (_, g) = e.loss_and_grad(loss, (&xd, &ld), (&xn, &ln)).unwrap();
            let n = g.len();
            for i in 0..n {
                let at = |delta: f64| {
                    let mut f = e.clone();
                    let mut params: Vec<&mut f64> = f
                        .net
                        .params_mut()
                        .chain(std::iter::once(&mut f.log_partition))
                        .collect();
                    *params[i] += delta;
                    f.loss_and_grad(loss, (&xd, &ld), (&xn, &ln)).unwrap().0
                };
                let h = 1e-6;
                let want = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (want - g[i]).abs() <= 1e-7 * want.abs().max(1.0),
                    "{loss:?} ∂J/∂θ[{i}]: analytic {} vs finite difference {want}",
                    g[i]
                );
            }
        }
    }

    /// A 1-D blob against uniform noise on [−3, 3]: the energy learns to be low at the blob
    /// and `exp(−E − c)` approaches the data density (NCE is consistent).
    #[test]
    fn learns_a_blob_density() {
        let mut rng = SplitMix64::new(5);
        let data: Vec<f64> = (0..2000).map(|_| 0.5 + 0.3 * normal(&mut rng)).collect();
        let x = Matrix::new(2000, 1, data).unwrap();
        let bx = (-3.0, 3.0);
        let lp = vec![uniform_box_log_density(1, bx); 2000];
        let noise = NoiseSet::uniform_box(4000, 1, bx, 6).unwrap();
        let mut e = MlpEnergy::new(Mlp64::new(&[1, 16, 1], 7).unwrap()).unwrap();
        let t = NceTraining {
            steps: 1500,
            batch: 64,
            lr: 0.01,
            seed: 8,
        };
        let losses = e
            .fit_contrastive(SetLoss::Nce, (&x, &lp), &noise, t)
            .unwrap();
        let head: f64 = losses[..100].iter().sum::<f64>() / 100.0;
        let tail: f64 = losses[losses.len() - 100..].iter().sum::<f64>() / 100.0;
        assert!(tail < 0.8 * head, "NCE objective {head} → {tail}");
        let probe = Matrix::new(3, 1, vec![0.5, -1.5, 2.5]).unwrap();
        let en = e.energy(&probe).unwrap();
        assert!(
            en[0] < en[1] - 2.0 && en[0] < en[2] - 2.0,
            "energies {en:?}"
        );
        // Density at the mode: N(0.5; 0.5, 0.3²) = 1/(0.3·√(2π)) ≈ 1.33.
        let density = (-en[0] - e.log_partition).exp();
        assert!((density - 1.33).abs() < 0.35, "p_m(mode) = {density}");
    }

    #[test]
    fn dsm_gradient_matches_finite_differences() {
        let e = MlpEnergy::new(Mlp64::new(&[2, 5, 3, 1], 3).unwrap()).unwrap();
        let x = Matrix::new(2, 2, vec![0.2, -0.4, 0.9, 1.1]).unwrap();
        let xt = Matrix::new(2, 2, vec![0.3, -0.5, 0.7, 1.3]).unwrap();
        let (_, g) = e.dsm_loss_and_grad(&x, &xt, 0.5).unwrap();
        for (i, gi) in g.iter().enumerate().take(e.net.num_params()) {
            let at = |delta: f64| {
                let mut f = e.clone();
                *f.net.params_mut().nth(i).unwrap() += delta;
                f.dsm_loss_and_grad(&x, &xt, 0.5).unwrap().0
            };
            let h = 1e-6;
            let want = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (want - gi).abs() <= 1e-7 * want.abs().max(1.0),
                "∂J_DSM/∂θ[{i}]: analytic {gi} vs finite difference {want}"
            );
        }
    }

    /// Two 2-D blobs, no negatives: after DSM the energy is lower at the blobs than between
    /// and around them, and the model score −∇E points from a displaced point back to its blob.
    #[test]
    fn dsm_learns_two_blobs_without_negatives() {
        let mut rng = SplitMix64::new(21);
        let data: Vec<f64> = (0..1000)
            .flat_map(|i| {
                let c = if i % 2 == 0 { -1.0 } else { 1.0 };
                [c + 0.2 * normal(&mut rng), 0.2 * normal(&mut rng)]
            })
            .collect();
        let x = Matrix::new(1000, 2, data).unwrap();
        let mut e = MlpEnergy::new(Mlp64::new(&[2, 32, 32, 1], 4).unwrap()).unwrap();
        let t = DsmTraining {
            sigma: 0.3,
            steps: 1500,
            batch: 64,
            lr: 0.005,
            seed: 5,
        };
        let probe = Matrix::new(4, 2, vec![-1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.5]).unwrap();
        let untrained = e.energy(&probe).unwrap();
        let losses = e.fit_dsm(&x, t).unwrap();
        let head: f64 = losses[..100].iter().sum::<f64>() / 100.0;
        let tail: f64 = losses[losses.len() - 100..].iter().sum::<f64>() / 100.0;
        assert!(tail < 0.8 * head, "DSM loss {head} → {tail}");
        let en = e.energy(&probe).unwrap();
        for (blob, off) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            assert!(
                en[blob] < en[off] - 1.0,
                "E(blob {blob}) = {} vs E(probe {off}) = {} (untrained {untrained:?})",
                en[blob],
                en[off]
            );
        }
        // −∇E at (1.4, 0) points back towards x = 1 (negative first component).
        let g = e
            .grad_x(&Matrix::new(1, 2, vec![1.4, 0.0]).unwrap())
            .unwrap();
        assert!(-g.row(0)[0] < -1.0, "score at (1.4, 0): {:?}", g.row(0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let net = Mlp64::new(&[2, 3, 2], 1).unwrap();
        assert!(MlpEnergy::new(net).is_err());
        let mut e = MlpEnergy::new(Mlp64::new(&[2, 3, 1], 1).unwrap()).unwrap();
        let noise = NoiseSet::uniform_box(4, 2, (-1.0, 1.0), 1).unwrap();
        let x = Matrix::new(2, 3, vec![0.0; 6]).unwrap();
        let t = NceTraining {
            steps: 2,
            batch: 2,
            lr: 0.01,
            seed: 1,
        };
        assert!(e
            .fit_contrastive(SetLoss::Nce, (&x, &[0.0, 0.0]), &noise, t)
            .is_err());
        let x = Matrix::new(2, 2, vec![0.0, f64::NAN, 0.0, 0.0]).unwrap();
        assert!(e
            .fit_contrastive(SetLoss::Nce, (&x, &[0.0, 0.0]), &noise, t)
            .is_err());
        let x = Matrix::new(2, 2, vec![0.0; 4]).unwrap();
        assert!(e
            .fit_contrastive(SetLoss::Nce, (&x, &[0.0]), &noise, t)
            .is_err());
        assert!(NoiseSet::uniform_box(4, 2, (1.0, 1.0), 1).is_err());
        let bad = NceTraining { lr: -1.0, ..t };
        assert!(e
            .fit_contrastive(SetLoss::Nce, (&x, &[0.0, 0.0]), &noise, bad)
            .is_err());
    }
}
