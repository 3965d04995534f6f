//! Bernoulli restricted Boltzmann machine (REFERENCE §8), with scikit-learn's layout and
//! update (`BernoulliRBM`).
//!
//! Energy `E(v, h) = −bᵀv − cᵀh − hᵀWv` over binary `v ∈ {0,1}^V`, `h ∈ {0,1}^H`, with
//! `W [H, V]`. Summing out `h` gives the free energy
//! `F(v) = −bᵀv − Σ_j softplus(c_j + W_j·v)`; the conditionals factorise:
//! `p(h_j = 1 | v) = σ(c_j + W_j·v)`, `p(v_i = 1 | h) = σ(b_i + W_{:,i}·h)`.
//!
//! Learning follows the log-likelihood gradient `⟨h vᵀ⟩_data − ⟨h vᵀ⟩_model`, the model term
//! estimated by Gibbs sampling: **CD-k** (Hinton 2002) starts the chain at the data, **PCD**
//! (Tieleman 2008; scikit-learn's choice) keeps persistent hidden chains between updates. One
//! update with learning rate `η` on a batch of `n` rows:
//! `W += (η/n)(h₊ᵀv₊ − h₋ᵀv₋)`, `c += (η/n) Σ(h₊ − h₋)`, `b += (η/n) Σ(v₊ − v₋)`, where `h₊`
//! and `h₋` are the hidden *probabilities* of the data and of the negative visibles `v₋`.
//! Samples are `1[u < p]` for uniforms `u` drawn row-major, visibles first, then hiddens —
//! the order of scikit-learn's `_fit`, so one step is reproducible exactly from the same
//! uniforms.

use crate::contrastive::{sigmoid, softplus};
use crate::error::{EnergyError, Result};
use crate::matrix::Matrix;

/// A Bernoulli–Bernoulli RBM.
#[derive(Debug, Clone, PartialEq)]
pub struct Rbm {
    /// `W [H, V]` (scikit-learn's `components_`).
    pub weights: Matrix,
    /// `c [H]` (`intercept_hidden_`).
    pub hidden_bias: Vec<f64>,
    /// `b [V]` (`intercept_visible_`).
    pub visible_bias: Vec<f64>,
}

fn shape_err(what: &'static str, found: String, expected: String) -> EnergyError {
    EnergyError::Shape {
        what,
        found,
        expected,
    }
}

impl Rbm {
    /// Checks `W [H, V]`, `c [H]`, `b [V]` and that all are finite.
    pub fn new(weights: Matrix, hidden_bias: Vec<f64>, visible_bias: Vec<f64>) -> Result<Self> {
        let (h, v) = (weights.rows(), weights.cols());
        if h == 0 || v == 0 || hidden_bias.len() != h || visible_bias.len() != v {
            return Err(shape_err(
                "RBM biases",
                format!(
                    "W {}, c [{}], b [{}]",
                    weights.shape_str(),
                    hidden_bias.len(),
                    visible_bias.len()
                ),
                "W [H >= 1, V >= 1], c [H], b [V]".into(),
            ));
        }
        weights.check_finite("weights")?;
        let all = Matrix::new(
            1,
            h + v,
            [hidden_bias.clone(), visible_bias.clone()].concat(),
        )?;
        all.check_finite("biases")?;
        Ok(Self {
            weights,
            hidden_bias,
            visible_bias,
        })
    }

    fn check_visible(&self, v: &Matrix, what: &'static str) -> Result<()> {
        if v.cols() != self.weights.cols() || v.rows() == 0 {
            return Err(shape_err(
                what,
                v.shape_str(),
                format!("[n >= 1, V = {}]", self.weights.cols()),
            ));
        }
        v.check_finite(what)
    }

    /// `W_j·v + c_j` for every row of `v [n, V]`, `[n, H]`.
    fn hidden_input(&self, v: &Matrix) -> Matrix {
        let (n, h) = (v.rows(), self.weights.rows());
        let mut out = Matrix::zeros(n, h);
        for (r, row) in v.row_iter().enumerate() {
            for j in 0..h {
                let w = self.weights.row(j);
                out.row_mut(r)[j] =
                    self.hidden_bias[j] + w.iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        out
    }

    /// `F(v) = −bᵀv − Σ_j softplus(c_j + W_j·v)` per row of `v [n, V]`.
    pub fn free_energy(&self, v: &Matrix) -> Result<Vec<f64>> {
        self.check_visible(v, "v")?;
        let pre = self.hidden_input(v);
        Ok(v.row_iter()
            .zip(pre.row_iter())
            .map(|(row, x)| {
                let vb: f64 = row.iter().zip(&self.visible_bias).map(|(a, b)| a * b).sum();
                -vb - x.iter().map(|&t| softplus(t)).sum::<f64>()
            })
            .collect())
    }

    /// `p(h = 1 | v)` for `v [n, V]`, `[n, H]`.
    pub fn hidden_probs(&self, v: &Matrix) -> Result<Matrix> {
        self.check_visible(v, "v")?;
        let mut p = self.hidden_input(v);
        p.as_mut_slice().iter_mut().for_each(|x| *x = sigmoid(*x));
        Ok(p)
    }

    /// `p(v = 1 | h)` for `h [n, H]`, `[n, V]`.
    pub fn visible_probs(&self, h: &Matrix) -> Result<Matrix> {
        let (hd, vd) = (self.weights.rows(), self.weights.cols());
        if h.cols() != hd || h.rows() == 0 {
            return Err(shape_err("h", h.shape_str(), format!("[n >= 1, H = {hd}]")));
        }
        h.check_finite("h")?;
        let mut p = Matrix::zeros(h.rows(), vd);
        for (r, hr) in h.row_iter().enumerate() {
            let out = p.row_mut(r);
            out.copy_from_slice(&self.visible_bias);
            for (j, &hj) in hr.iter().enumerate() {
                if hj != 0.0 {
                    out.iter_mut()
                        .zip(self.weights.row(j))
                        .for_each(|(o, w)| *o += hj * w);
                }
            }
            out.iter_mut().for_each(|x| *x = sigmoid(*x));
        }
        Ok(p)
    }

    /// One PCD update on the batch `v_pos [n, V]` (scikit-learn's `_fit`): `chains [m, H]`
    /// are the persistent hidden samples (replaced by new samples), `uniform` supplies the
    /// `m·V` then `m·H` uniforms of the two sampling steps.
    pub fn pcd_step(
        &mut self,
        v_pos: &Matrix,
        chains: &mut Matrix,
        lr: f64,
        uniform: &mut dyn FnMut() -> f64,
    ) -> Result<()> {
        self.check_visible(v_pos, "v_pos")?;
        let h_pos = self.hidden_probs(v_pos)?;
        let v_neg = sample(&self.visible_probs(chains)?, uniform);
        let h_neg = self.hidden_probs(&v_neg)?;
        self.update(v_pos, &h_pos, &v_neg, &h_neg, lr)?;
        *chains = sample(&h_neg, uniform);
        Ok(())
    }

    /// One CD-k update on `v_pos [n, V]`: the chain starts at the data, `h ~ p(h|v₊)`, then
    /// `k ≥ 1` times `v ~ p(v|h)`, `h ~ p(h|v)` (the last hidden step keeps probabilities).
    /// Uniforms are drawn per sampling step, row-major.
    pub fn cd_step(
        &mut self,
        v_pos: &Matrix,
        k: usize,
        lr: f64,
        uniform: &mut dyn FnMut() -> f64,
    ) -> Result<()> {
        if k == 0 {
            return Err(crate::error::invalid("k", 0, "at least 1 Gibbs step"));
        }
        self.check_visible(v_pos, "v_pos")?;
        let h_pos = self.hidden_probs(v_pos)?;
        let mut h = sample(&h_pos, uniform);
        let mut v_neg = v_pos.clone();
        let mut h_neg = h_pos.clone();
        for step in 0..k {
            v_neg = sample(&self.visible_probs(&h)?, uniform);
            h_neg = self.hidden_probs(&v_neg)?;
            if step + 1 < k {
                h = sample(&h_neg, uniform);
            }
        }
        self.update(v_pos, &h_pos, &v_neg, &h_neg, lr)
    }

    fn update(
        &mut self,
        v_pos: &Matrix,
        h_pos: &Matrix,
        v_neg: &Matrix,
        h_neg: &Matrix,
        lr: f64,
    ) -> Result<()> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(crate::error::invalid(
                "learning_rate",
                lr,
                "a finite number > 0",
            ));
        }
        let scale = lr / v_pos.rows() as f64;
        let (hd, vd) = (self.weights.rows(), self.weights.cols());
        let mut dw = vec![0.0; hd * vd];
        for (sign, v, h) in [(1.0, v_pos, h_pos), (-1.0, v_neg, h_neg)] {
            for (vr, hr) in v.row_iter().zip(h.row_iter()) {
                for (j, &hj) in hr.iter().enumerate() {
                    dw[j * vd..(j + 1) * vd]
                        .iter_mut()
                        .zip(vr)
                        .for_each(|(d, x)| *d += sign * hj * x);
                }
            }
            for hr in h.row_iter() {
                self.hidden_bias
                    .iter_mut()
                    .zip(hr)
                    .for_each(|(c, x)| *c += sign * scale * x);
            }
            for vr in v.row_iter() {
                self.visible_bias
                    .iter_mut()
                    .zip(vr)
                    .for_each(|(b, x)| *b += sign * scale * x);
            }
        }
        self.weights
            .as_mut_slice()
            .iter_mut()
            .zip(&dw)
            .for_each(|(w, d)| *w += scale * d);
        Ok(())
    }
}

/// How [`RbmParams`] estimates the model term of the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbmLearning {
    /// Persistent contrastive divergence with `batch_size` persistent chains (scikit-learn).
    Pcd,
    /// CD-k: `k ≥ 1` Gibbs steps from the data.
    Cd {
        /// Gibbs steps.
        k: usize,
    },
}

/// Unchecked RBM hyper-parameters (build with [`Rbm::params`]); the defaults are
/// scikit-learn's `BernoulliRBM` ones.
#[derive(Debug, Clone, PartialEq)]
pub struct RbmParams {
    n_components: usize,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    learning: RbmLearning,
    seed: u64,
}

/// Checked RBM hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RbmValidParams(RbmParams);

impl Rbm {
    /// `n_components` hidden units; learning rate 0.1, batches of 10, 10 epochs, PCD, seed 0.
    pub fn params(n_components: usize) -> RbmParams {
        RbmParams {
            n_components,
            learning_rate: 0.1,
            batch_size: 10,
            n_iter: 10,
            learning: RbmLearning::Pcd,
            seed: 0,
        }
    }
}

impl RbmParams {
    /// Step size `η` (default 0.1).
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }

    /// Rows per update (default 10).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Epochs over the data (default 10).
    pub fn n_iter(mut self, n_iter: usize) -> Self {
        self.n_iter = n_iter;
        self
    }

    /// PCD (default) or CD-k.
    pub fn learning(mut self, learning: RbmLearning) -> Self {
        self.learning = learning;
        self
    }

    /// Seed of the initial weights (`N(0, 0.01²)`) and of the Gibbs sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the hyper-parameters.
    pub fn check(&self) -> Result<RbmValidParams> {
        use crate::error::invalid;
        if self.n_components == 0 {
            return Err(invalid("n_components", 0, "at least 1 hidden unit"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid(
                "learning_rate",
                self.learning_rate,
                "a finite number > 0",
            ));
        }
        if self.batch_size == 0 || self.n_iter == 0 {
            return Err(invalid(
                "batch_size/n_iter",
                format!("{}/{}", self.batch_size, self.n_iter),
                "both >= 1",
            ));
        }
        if self.learning == (RbmLearning::Cd { k: 0 }) {
            return Err(invalid("k", 0, "at least 1 Gibbs step"));
        }
        Ok(RbmValidParams(self.clone()))
    }
}

impl crate::Fit for RbmParams {
    type Model = Rbm;
    fn fit(&self, x: &Matrix) -> Result<Rbm> {
        self.check()?.fit(x)
    }
}

impl crate::Fit for RbmValidParams {
    type Model = Rbm;

    /// scikit-learn's `BernoulliRBM.fit` schedule: weights `N(0, 0.01²)`, zero biases,
    /// `n_iter` epochs over `⌈n / batch_size⌉` consecutive, unshuffled batches (the last one
    /// shorter), one update per batch, persistent chains starting at zero. Data must lie in
    /// `[0, 1]` (probabilities or binary values). Reproducible for a seed; not bit-equal to
    /// scikit-learn, whose random numbers differ.
    fn fit(&self, x: &Matrix) -> Result<Rbm> {
        let p = &self.0;
        let (n, v) = (x.rows(), x.cols());
        if n == 0 || v == 0 {
            return Err(shape_err("x", x.shape_str(), "[n >= 1, V >= 1]".into()));
        }
        x.check_finite("x")?;
        if let Some((i, bad)) = x
            .as_slice()
            .iter()
            .enumerate()
            .find(|(_, a)| !(0.0..=1.0).contains(*a))
        {
            return Err(crate::error::invalid(
                "x",
                format!("{bad} at row {}, column {}", i / v, i % v),
                "values in [0, 1] (a Bernoulli RBM's visible units)",
            ));
        }
        let mut rng = crate::rng::SplitMix64::new(p.seed);
        let w: Vec<f64> = (0..p.n_components * v)
            .map(|_| 0.01 * crate::mlp::normal(&mut rng))
            .collect();
        let mut rbm = Rbm::new(
            Matrix::new(p.n_components, v, w)?,
            vec![0.0; p.n_components],
            vec![0.0; v],
        )?;
        let mut chains = Matrix::zeros(p.batch_size, p.n_components);
        let mut uniform = || rng.uniform();
        for _ in 0..p.n_iter {
            for start in (0..n).step_by(p.batch_size) {
                let end = (start + p.batch_size).min(n);
                let batch = Matrix::new(end - start, v, x.as_slice()[start * v..end * v].to_vec())?;
                match p.learning {
                    RbmLearning::Pcd => {
                        rbm.pcd_step(&batch, &mut chains, p.learning_rate, &mut uniform)?
                    }
                    RbmLearning::Cd { k } => {
                        rbm.cd_step(&batch, k, p.learning_rate, &mut uniform)?
                    }
                }
            }
        }
        Ok(rbm)
    }
}

impl crate::SampleEnergy for Rbm {
    /// The free energy `F(v)` of each row.
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.free_energy(x)
    }
}

/// `1[u < p]` elementwise, drawing one uniform per entry in row-major order.
fn sample(p: &Matrix, uniform: &mut dyn FnMut() -> f64) -> Matrix {
    let mut s = p.clone();
    s.as_mut_slice()
        .iter_mut()
        .for_each(|x| *x = if uniform() < *x { 1.0 } else { 0.0 });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Rbm {
        let w = Matrix::new(2, 3, vec![0.5, -1.0, 0.25, 0.0, 2.0, -0.5]).unwrap();
        Rbm::new(w, vec![0.1, -0.2], vec![0.3, 0.0, -0.4]).unwrap()
    }

    #[test]
    fn free_energy_sums_out_the_hiddens() {
        // F(v) = −log Σ_h exp(−E(v, h)), enumerated over the 4 hidden states.
        let rbm = tiny();
        let v = [1.0, 0.0, 1.0];
        let mut z = 0.0;
        for h in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] {
            let mut e = 0.0;
            e -= rbm
                .visible_bias
                .iter()
                .zip(&v)
                .map(|(b, x)| b * x)
                .sum::<f64>();
            e -= rbm
                .hidden_bias
                .iter()
                .zip(&h)
                .map(|(c, x)| c * x)
                .sum::<f64>();
            for (j, hj) in h.iter().enumerate() {
                e -= hj
                    * rbm
                        .weights
                        .row(j)
                        .iter()
                        .zip(&v)
                        .map(|(w, x)| w * x)
                        .sum::<f64>();
            }
            z += (-e).exp();
        }
        let f = rbm
            .free_energy(&Matrix::new(1, 3, v.to_vec()).unwrap())
            .unwrap()[0];
        assert!((f + z.ln()).abs() < 1e-12, "{f} vs {}", -z.ln());
    }

    #[test]
    fn cd1_with_certain_samples_by_hand() {
        // Uniforms of 0 sample every unit with p > 0 as 1.
        let mut rbm = tiny();
        let v = Matrix::new(1, 3, vec![1.0, 0.0, 1.0]).unwrap();
        let h_pos = rbm.hidden_probs(&v).unwrap();
        let before = rbm.clone();
        rbm.cd_step(&v, 1, 0.5, &mut || 0.0).unwrap();
        let ones = Matrix::new(1, 3, vec![1.0; 3]).unwrap();
        let h_neg = before.hidden_probs(&ones).unwrap();
        for j in 0..2 {
            for i in 0..3 {
                let want = before.weights.row(j)[i]
                    + 0.5 * (h_pos.row(0)[j] * v.row(0)[i] - h_neg.row(0)[j]);
                assert!((rbm.weights.row(j)[i] - want).abs() < 1e-14);
            }
        }
        assert!(rbm.cd_step(&v, 0, 0.5, &mut || 0.0).is_err());
        assert!(rbm.free_energy(&Matrix::zeros(1, 2)).is_err());
    }

    #[test]
    fn cd1_and_pcd_lower_the_free_energy_of_the_data() {
        use crate::rng::SplitMix64;
        let mut rng = SplitMix64::new(5);
        // Two 8-bit prototypes with 5 % flipped bits.
        let protos = [
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        ];
        let data: Vec<f64> = (0..40)
            .flat_map(|i| protos[i % 2].map(|b| if rng.uniform() < 0.05 { 1.0 - b } else { b }))
            .collect();
        let x = Matrix::new(40, 8, data).unwrap();
        let others: Vec<f64> = (0..40 * 8)
            .map(|_| if rng.uniform() < 0.5 { 1.0 } else { 0.0 })
            .collect();
        let noise = Matrix::new(40, 8, others).unwrap();
        let w: Vec<f64> = (0..3 * 8).map(|_| 0.01 * (rng.uniform() - 0.5)).collect();
        let start = Rbm::new(Matrix::new(3, 8, w).unwrap(), vec![0.0; 3], vec![0.0; 8]).unwrap();
        let mean = |r: &Rbm, m: &Matrix| r.free_energy(m).unwrap().iter().sum::<f64>() / 40.0;
        let gap0 = mean(&start, &noise) - mean(&start, &x);
        let mut cd = start.clone();
        let mut pcd = start.clone();
        let mut chains = Matrix::zeros(40, 3);
        let mut u = || rng.uniform();
        for _ in 0..300 {
            cd.cd_step(&x, 1, 0.1, &mut u).unwrap();
            pcd.pcd_step(&x, &mut chains, 0.1, &mut u).unwrap();
        }
        for (name, r) in [("CD-1", &cd), ("PCD", &pcd)] {
            let gap = mean(r, &noise) - mean(r, &x);
            assert!(
                gap > gap0 + 1.0,
                "{name}: F(noise) − F(data) {gap0} → {gap}"
            );
        }
    }

    /// Two binary prototypes with 5 % flipped bits: after fitting, the free energy of held-out
    /// data is far below that of uniform random vectors, for PCD and for CD-1.
    #[test]
    fn fit_learns_binary_prototypes() {
        use crate::{Fit, SampleEnergy};
        let mut rng = crate::rng::SplitMix64::new(3);
        let protos = [
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0],
        ];
        let mut draw = |n: usize| {
            let v: Vec<f64> = (0..n)
                .flat_map(|i| protos[i % 2])
                .map(|b| if rng.uniform() < 0.05 { 1.0 - b } else { b })
                .collect();
            Matrix::new(n, 12, v).unwrap()
        };
        let (train, test) = (draw(400), draw(100));
        let mut coin = crate::rng::SplitMix64::new(4);
        let noise: Vec<f64> = (0..100 * 12)
            .map(|_| if coin.uniform() < 0.5 { 1.0 } else { 0.0 })
            .collect();
        let noise = Matrix::new(100, 12, noise).unwrap();
        for learning in [RbmLearning::Pcd, RbmLearning::Cd { k: 1 }] {
            let rbm = Rbm::params(8)
                .learning_rate(0.05)
                .n_iter(20)
                .learning(learning)
                .seed(1)
                .fit(&train)
                .unwrap();
            let mean = |m: &Matrix| rbm.energy(m).unwrap().iter().sum::<f64>() / m.rows() as f64;
            let (fd, fnoise) = (mean(&test), mean(&noise));
            assert!(
                fd < fnoise - 5.0,
                "{learning:?}: F(data) {fd} vs F(noise) {fnoise}"
            );
        }
    }

    #[test]
    fn fit_rejects_bad_parameters_and_data() {
        use crate::Fit;
        let x = Matrix::new(2, 2, vec![0.0, 1.0, 1.0, 0.5]).unwrap();
        assert!(Rbm::params(0).fit(&x).is_err());
        assert!(Rbm::params(2).learning_rate(0.0).fit(&x).is_err());
        assert!(Rbm::params(2).batch_size(0).fit(&x).is_err());
        assert!(Rbm::params(2)
            .learning(RbmLearning::Cd { k: 0 })
            .fit(&x)
            .is_err());
        let bad = Matrix::new(2, 2, vec![0.0, 1.0, 2.0, 0.5]).unwrap();
        let err = Rbm::params(2).fit(&bad).unwrap_err().to_string();
        assert!(err.contains("row 1, column 0"), "{err}");
        assert!(Rbm::params(2).fit(&x).is_ok());
    }
}
