//! LISTA (Gregor & LeCun 2010): an amortised sparse-coding encoder — `T` ISTA iterations
//! unrolled into a network whose matrices are then learned to predict the optimal codes.
//!
//! `c = x W_e`, `z¹ = h_θ(c)`, `z^{t+1} = h_θ(c + z^t S)`, output `z^T`, with the soft
//! threshold `h_θ(u) = sign(u)·max(|u| − θ, 0)` per unit. Initialised from a dictionary
//! `D [K, p]` and `λ` as ISTA itself (`W_e = Dᵀ/L`, `S = I − DDᵀ/L`, `θ = λ/L`,
//! `L = ‖D‖₂²`), the untrained network equals `T` ISTA iterations from `z = 0` (tested).
//! Training minimises `(1/n) Σ_i ‖z^T(x_i) − z*_i‖²` towards given optimal codes `z*`
//! (e.g. FISTA's) with Adam; the gradient is back-propagated by hand through the `T` steps:
//! `∂/∂u = ∂/∂z ⊙ 1[|u| > θ]`, `∂/∂θ = −Σ ∂/∂z ⊙ sign(u) ⊙ 1[|u| > θ]`.

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::mlp::adam_step;
use crate::sparse::SparseCoder;

/// The unrolled encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Lista {
    /// `W_e [p, K]`.
    pub we: Matrix,
    /// `S [K, K]`.
    pub s: Matrix,
    /// `θ [K]`.
    pub theta: Vec<f64>,
    /// Number of unrolled iterations `T ≥ 1`.
    pub steps: usize,
}

fn soft(u: f64, t: f64) -> f64 {
    u.signum() * (u.abs() - t).max(0.0)
}

/// `a [n, k] · b [k, m]` into a new `[n, m]` buffer (row-major slices).
fn mul(a: &[f64], b: &[f64], (n, k, m): (usize, usize, usize)) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    for i in 0..n {
        for p in 0..k {
            let av = a[i * k + p];
            if av != 0.0 {
                out[i * m..(i + 1) * m]
                    .iter_mut()
                    .zip(&b[p * m..(p + 1) * m])
                    .for_each(|(o, b)| *o += av * b);
            }
        }
    }
    out
}

impl Lista {
    /// The ISTA initialisation from a checked sparse coder (its dictionary and λ).
    pub fn from_coder(coder: &SparseCoder, lambda: f64, steps: usize) -> Result<Self> {
        if steps == 0 {
            return Err(invalid("steps", 0, "at least 1 unrolled iteration"));
        }
        let d = coder.dictionary();
        let (k, p) = (d.rows(), d.cols());
        let l = coder.lipschitz();
        let mut we = Matrix::zeros(p, k);
        for a in 0..k {
            for i in 0..p {
                we.row_mut(i)[a] = d.row(a)[i] / l;
            }
        }
        let g = d.matmul_t(d)?;
        let mut s = Matrix::identity(k);
        s.as_mut_slice()
            .iter_mut()
            .zip(g.as_slice())
            .for_each(|(s, g)| *s -= g / l);
        Ok(Self {
            we,
            s,
            theta: vec![lambda / l; k],
            steps,
        })
    }

    fn check(&self, x: &Matrix) -> Result<()> {
        if x.cols() != self.we.rows() || x.rows() == 0 {
            return Err(EnergyError::Shape {
                what: "x",
                found: x.shape_str(),
                expected: format!("[n >= 1, p = {}]", self.we.rows()),
            });
        }
        x.check_finite("x")
    }

    /// `(c, [u¹ … u^T], [z¹ … z^T])` of a batch `x [n, p]`.
    fn forward_tape(&self, x: &Matrix) -> (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (n, p, k) = (x.rows(), self.we.rows(), self.we.cols());
        let c = mul(x.as_slice(), self.we.as_slice(), (n, p, k));
        let (mut us, mut zs) = (
            Vec::with_capacity(self.steps),
            Vec::with_capacity(self.steps),
        );
        for t in 0..self.steps {
            let mut u = c.clone();
            if t > 0 {
                let zs_prev: &Vec<f64> = &zs[t - 1];
                let zsm = mul(zs_prev, self.s.as_slice(), (n, k, k));
                u.iter_mut().zip(&zsm).for_each(|(u, v)| *u += v);
            }
            let z: Vec<f64> = u
                .iter()
                .enumerate()
                .map(|(j, &v)| soft(v, self.theta[j % k]))
                .collect();
            us.push(u);
            zs.push(z);
        }
        (c, us, zs)
    }

    /// The codes `z^T [n, K]` of `x [n, p]`.
    pub fn encode(&self, x: &Matrix) -> Result<Matrix> {
        self.check(x)?;
        let (_, _, mut zs) = self.forward_tape(x);
        Matrix::new(x.rows(), self.we.cols(), zs.pop().unwrap_or_default())
    }

    /// `(1/n) Σ_i ‖z^T(x_i) − z*_i‖²` and its gradients `(∂W_e, ∂S, ∂θ)`.
    pub fn loss_and_grad(
        &self,
        x: &Matrix,
        target: &Matrix,
    ) -> Result<(f64, Matrix, Matrix, Vec<f64>)> {
        self.check(x)?;
        let (n, p, k) = (x.rows(), self.we.rows(), self.we.cols());
        if target.rows() != n || target.cols() != k {
            return Err(EnergyError::Shape {
                what: "target codes",
                found: target.shape_str(),
                expected: format!("[{n}, {k}]"),
            });
        }
        let (_, us, zs) = self.forward_tape(x);
        let zt = &zs[self.steps - 1];
        let nf = n as f64;
        let loss = zt
            .iter()
            .zip(target.as_slice())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / nf;
        let mut g: Vec<f64> = zt
            .iter()
            .zip(target.as_slice())
            .map(|(a, b)| 2.0 * (a - b) / nf)
            .collect();
        let mut gc = vec![0.0; n * k];
        let mut gs = vec![0.0; k * k];
        let mut gtheta = vec![0.0; k];
        for t in (0..self.steps).rev() {
            let u = &us[t];
            let mut gu = vec![0.0; n * k];
            for (j, ((gu, &gz), &uv)) in gu.iter_mut().zip(&g).zip(u).enumerate() {
                let th = self.theta[j % k];
                if uv.abs() > th {
                    *gu = gz;
                    gtheta[j % k] -= gz * uv.signum();
                }
            }
            gc.iter_mut().zip(&gu).for_each(|(a, b)| *a += b);
            if t > 0 {
                let zp = &zs[t - 1];
                // ∂S += z^{t−1}ᵀ g_u; g_{z^{t−1}} = g_u Sᵀ.
                for i in 0..n {
                    for a in 0..k {
                        let zv = zp[i * k + a];
                        if zv != 0.0 {
                            gs[a * k..(a + 1) * k]
                                .iter_mut()
                                .zip(&gu[i * k..(i + 1) * k])
                                .for_each(|(s, g)| *s += zv * g);
                        }
                    }
                }
                let mut gz = vec![0.0; n * k];
                for i in 0..n {
                    for a in 0..k {
                        let srow = &self.s.as_slice()[a * k..(a + 1) * k];
                        gz[i * k + a] = srow
                            .iter()
                            .zip(&gu[i * k..(i + 1) * k])
                            .map(|(s, g)| s * g)
                            .sum();
                    }
                }
                g = gz;
            }
        }
        // ∂W_e = xᵀ g_c.
        let mut gwe = vec![0.0; p * k];
        for (i, xr) in x.row_iter().enumerate() {
            for (q, &xv) in xr.iter().enumerate() {
                gwe[q * k..(q + 1) * k]
                    .iter_mut()
                    .zip(&gc[i * k..(i + 1) * k])
                    .for_each(|(w, g)| *w += xv * g);
            }
        }
        Ok((
            loss,
            Matrix::new(p, k, gwe)?,
            Matrix::new(k, k, gs)?,
            gtheta,
        ))
    }

    /// Trains on `x [n, p]` towards `target [n, K]` with full-batch Adam; returns the loss of
    /// every step. Thresholds are kept ≥ 0.
    pub fn fit(
        &mut self,
        x: &Matrix,
        target: &Matrix,
        iterations: usize,
        lr: f64,
    ) -> Result<Vec<f64>> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(invalid("lr", lr, "a finite number > 0"));
        }
        let np = self.we.as_slice().len() + self.s.as_slice().len() + self.theta.len();
        let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
        let mut losses = Vec::with_capacity(iterations);
        for it in 1..=iterations {
            let (loss, gwe, gs, gth) = self.loss_and_grad(x, target)?;
            losses.push(loss);
            let grads: Vec<f64> = gwe
                .as_slice()
                .iter()
                .chain(gs.as_slice())
                .chain(&gth)
                .copied()
                .collect();
            let params = self
                .we
                .as_mut_slice()
                .iter_mut()
                .chain(self.s.as_mut_slice().iter_mut())
                .chain(self.theta.iter_mut());
            adam_step(params, grads.iter(), (&mut m, &mut v), it, lr);
            self.theta.iter_mut().for_each(|t| *t = t.max(0.0));
        }
        Ok(losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::sparse::SparseAlgorithm;

    fn problem(seed: u64) -> (Matrix, Matrix) {
        let mut rng = SplitMix64::new(seed);
        let d: Vec<f64> = (0..6 * 4).map(|_| rng.uniform() - 0.5).collect();
        let x: Vec<f64> = (0..30 * 4).map(|_| 2.0 * rng.uniform() - 1.0).collect();
        (
            Matrix::new(6, 4, d).unwrap(),
            Matrix::new(30, 4, x).unwrap(),
        )
    }

    #[test]
    fn untrained_lista_equals_ista_iterations() {
        let (d, x) = problem(1);
        for steps in [1, 3, 7] {
            let ista = SparseCoder::params(d.clone(), 0.1)
                .algorithm(SparseAlgorithm::Ista)
                .max_iter(steps)
                .tol(0.0)
                .check()
                .unwrap();
            let want = ista.encode(&x).unwrap().codes;
            let lista = Lista::from_coder(&ista, 0.1, steps).unwrap();
            let got = lista.encode(&x).unwrap();
            for (a, b) in got.as_slice().iter().zip(want.as_slice()) {
                assert!((a - b).abs() < 1e-12, "T = {steps}: {a} vs ISTA {b}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_and_training_beats_ista() {
        let (d, x) = problem(2);
        let fista = SparseCoder::params(d.clone(), 0.1).check().unwrap();
        let target = fista.encode(&x).unwrap().codes;
        let lista = Lista::from_coder(&fista, 0.1, 3).unwrap();
        let (l0, gwe, gs, gth) = lista.loss_and_grad(&x, &target).unwrap();
        let h = 1e-6;
        let f = |l: &Lista| l.loss_and_grad(&x, &target).unwrap().0;
        for (idx, want) in [(0usize, gwe.as_slice()[0]), (5, gwe.as_slice()[5])] {
            let (mut a, mut b) = (lista.clone(), lista.clone());
            a.we.as_mut_slice()[idx] += h;
            b.we.as_mut_slice()[idx] -= h;
            let fd = (f(&a) - f(&b)) / (2.0 * h);
            assert!(
                (fd - want).abs() < 1e-6 * fd.abs().max(1.0),
                "W_e[{idx}]: {fd} vs {want}"
            );
        }
        for idx in [1usize, 7] {
            let (mut a, mut b) = (lista.clone(), lista.clone());
            a.s.as_mut_slice()[idx] += h;
            b.s.as_mut_slice()[idx] -= h;
            let fd = (f(&a) - f(&b)) / (2.0 * h);
            assert!(
                (fd - gs.as_slice()[idx]).abs() < 1e-6 * fd.abs().max(1.0),
                "S[{idx}]"
            );
        }
        let (mut a, mut b) = (lista.clone(), lista.clone());
        a.theta[2] += h;
        b.theta[2] -= h;
        let fd = (f(&a) - f(&b)) / (2.0 * h);
        assert!(
            (fd - gth[2]).abs() < 1e-6 * fd.abs().max(1.0),
            "θ: {fd} vs {}",
            gth[2]
        );
        // Training: 3 learned iterations get much closer to the optimal codes than 3 of ISTA.
        let mut trained = lista.clone();
        let losses = trained.fit(&x, &target, 500, 0.01).unwrap();
        let l1 = *losses.last().unwrap();
        assert!(l1 < 0.3 * l0, "LISTA loss {l0} → {l1}");
    }
}
