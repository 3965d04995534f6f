//! Hopfield networks: associative memories whose stored patterns are minima of an energy.
//!
//! * **Classic** (Hopfield 1982) on `±1` states `s ∈ {−1, 1}^N`: Hebbian weights
//!   `W = (1/N) Σ_μ ξ^μ ξ^μᵀ` with a zero diagonal, energy `E(s) = −½ sᵀWs`, asynchronous
//!   updates `s_i ← sign(Σ_j W_ij s_j)` (ties keep `s_i`) that never increase `E`. About
//!   `0.138·N` random patterns can be stored before retrieval breaks down (Amit, Gutfreund
//!   and Sompolinsky 1985).
//! * **Modern / continuous** (Ramsauer et al. 2020, "Hopfield Networks is All You Need"):
//!   patterns `X = [x_1 … x_M]`, energy `E(ξ) = −(1/β) log Σ_μ exp(β x_μᵀξ) + ½ξᵀξ + const`,
//!   retrieval update `ξ ← X softmax(β Xᵀξ)` (one step is attention), exponential capacity.

use crate::contrastive::logsumexp;
use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::rng::SplitMix64;

/// A classic binary Hopfield network with Hebbian weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Hopfield {
    n: usize,
    /// `W [N, N]`, symmetric, zero diagonal.
    weights: Vec<f64>,
}

fn check_pattern(what: &'static str, p: &[f64], n: usize) -> Result<()> {
    if p.len() != n {
        return Err(EnergyError::Shape {
            what,
            found: format!("[{}]", p.len()),
            expected: format!("[{n}]"),
        });
    }
    match p.iter().position(|v| *v != 1.0 && *v != -1.0) {
        None => Ok(()),
        Some(i) => Err(invalid(
            what,
            format!("{} at index {i}", p[i]),
            "entries of ±1",
        )),
    }
}

impl Hopfield {
    /// Stores the rows of `patterns [P, N]` (entries ±1) with the Hebbian rule.
    pub fn store(patterns: &Matrix) -> Result<Self> {
        let (p, n) = (patterns.rows(), patterns.cols());
        if p == 0 || n < 2 {
            return Err(EnergyError::Shape {
                what: "patterns",
                found: patterns.shape_str(),
                expected: "[P >= 1, N >= 2]".into(),
            });
        }
        for row in patterns.row_iter() {
            check_pattern("patterns", row, n)?;
        }
        let mut weights = vec![0.0; n * n];
        for xi in patterns.row_iter() {
            for i in 0..n {
                for j in 0..n {
                    weights[i * n + j] += xi[i] * xi[j];
                }
            }
        }
        for i in 0..n {
            weights[i * n + i] = 0.0;
        }
        weights.iter_mut().for_each(|w| *w /= n as f64);
        Ok(Self { n, weights })
    }

    /// Number of neurons `N`.
    pub fn size(&self) -> usize {
        self.n
    }

    /// `E(s) = −½ sᵀWs`.
    pub fn energy(&self, s: &[f64]) -> Result<f64> {
        check_pattern("state", s, self.n)?;
        let n = self.n;
        let mut e = 0.0;
        for i in 0..n {
            let h: f64 = (0..n).map(|j| self.weights[i * n + j] * s[j]).sum();
            e += s[i] * h;
        }
        Ok(-0.5 * e)
    }

    /// Asynchronous retrieval from `state`: sweeps over the neurons in a random order (seeded)
    /// applying `s_i ← sign(h_i)` until a sweep changes nothing or `max_sweeps` is reached.
    /// Returns the final state and the number of sweeps.
    pub fn retrieve(
        &self,
        state: &[f64],
        max_sweeps: usize,
        seed: u64,
    ) -> Result<(Vec<f64>, usize)> {
        check_pattern("state", state, self.n)?;
        let n = self.n;
        let mut s = state.to_vec();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = SplitMix64::new(seed);
        for sweep in 1..=max_sweeps {
            shuffle(&mut order, &mut rng);
            let mut changed = false;
            for &i in &order {
                let h: f64 = (0..n).map(|j| self.weights[i * n + j] * s[j]).sum();
                let new = if h > 0.0 {
                    1.0
                } else if h < 0.0 {
                    -1.0
                } else {
                    s[i]
                };
                if new != s[i] {
                    s[i] = new;
                    changed = true;
                }
            }
            if !changed {
                return Ok((s, sweep));
            }
        }
        Ok((s, max_sweeps))
    }
}

/// Fisher–Yates shuffle.
fn shuffle(v: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// Modern continuous Hopfield retrieval: `ξ ← X softmax(β Xᵀξ)` repeated `steps` times, with
/// the stored patterns as the rows of `patterns [M, d]`. Returns the retrieved state and its
/// energy `E(ξ) = −(1/β) log Σ_μ exp(β x_μᵀξ) + ½ξᵀξ`.
pub fn modern_retrieve(
    patterns: &Matrix,
    query: &[f64],
    beta: f64,
    steps: usize,
) -> Result<(Vec<f64>, f64)> {
    let (m, d) = (patterns.rows(), patterns.cols());
    if m == 0 || d == 0 || query.len() != d {
        return Err(EnergyError::Shape {
            what: "query",
            found: format!(
                "[{}] against patterns {}",
                query.len(),
                patterns.shape_str()
            ),
            expected: "patterns [M >= 1, d >= 1] and a query [d]".into(),
        });
    }
    if !(beta.is_finite() && beta > 0.0) {
        return Err(invalid("beta", beta, "a finite number > 0"));
    }
    patterns.check_finite("patterns")?;
    if query.iter().any(|v| !v.is_finite()) {
        return Err(invalid("query", format!("{query:?}"), "finite values"));
    }
    let mut xi = query.to_vec();
    for _ in 0..steps {
        let logits: Vec<f64> = patterns
            .row_iter()
            .map(|x| beta * x.iter().zip(&xi).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let lse = logsumexp(&logits);
        let mut next = vec![0.0; d];
        for (x, l) in patterns.row_iter().zip(&logits) {
            let p = (l - lse).exp();
            next.iter_mut().zip(x).for_each(|(n, x)| *n += p * x);
        }
        xi = next;
    }
    let logits: Vec<f64> = patterns
        .row_iter()
        .map(|x| beta * x.iter().zip(&xi).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    let energy = -logsumexp(&logits) / beta + 0.5 * xi.iter().map(|v| v * v).sum::<f64>();
    Ok((xi, energy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_patterns(p: usize, n: usize, seed: u64) -> Matrix {
        let mut rng = SplitMix64::new(seed);
        let v = (0..p * n)
            .map(|_| if rng.uniform() < 0.5 { -1.0 } else { 1.0 })
            .collect();
        Matrix::new(p, n, v).unwrap()
    }

    #[test]
    fn hebbian_weights_by_hand() {
        let pats = Matrix::from_rows(&[vec![1.0, -1.0, 1.0]]).unwrap();
        let h = Hopfield::store(&pats).unwrap();
        // W = ξξᵀ/3 with zero diagonal.
        assert_eq!(h.weights[1], -1.0 / 3.0);
        assert_eq!(h.weights[2], 1.0 / 3.0);
        assert_eq!(h.weights[4], 0.0);
        // E(ξ) = −½ Σ_{i≠j} ξ_iξ_j/3 = −½·6/3 = −1.
        assert!((h.energy(&[1.0, -1.0, 1.0]).unwrap() + 1.0).abs() < 1e-15);
    }

    #[test]
    fn few_patterns_are_retrieved_and_energy_never_rises() {
        let (n, p) = (100, 5);
        let pats = random_patterns(p, n, 1);
        let h = Hopfield::store(&pats).unwrap();
        let mut rng = SplitMix64::new(2);
        for mu in 0..p {
            let mut s = pats.row(mu).to_vec();
            for v in s.iter_mut() {
                if rng.uniform() < 0.1 {
                    *v = -*v;
                }
            }
            let e0 = h.energy(&s).unwrap();
            let (out, _) = h.retrieve(&s, 50, 3).unwrap();
            assert_eq!(out, pats.row(mu), "pattern {mu} not retrieved");
            assert!(h.energy(&out).unwrap() <= e0);
        }
    }

    #[test]
    fn modern_hopfield_retrieves_from_a_noisy_query() {
        let pats = Matrix::from_rows(&[
            vec![1.0, 0.0, 0.0, 1.0],
            vec![0.0, 1.0, 1.0, 0.0],
            vec![1.0, 1.0, 0.0, 0.0],
        ])
        .unwrap();
        let (xi, e) = modern_retrieve(&pats, &[0.9, 0.1, 0.0, 0.8], 8.0, 3).unwrap();
        for (a, b) in xi.iter().zip(pats.row(0)) {
            assert!((a - b).abs() < 1e-2, "{xi:?}");
        }
        let (_, e_query) = modern_retrieve(&pats, &[0.9, 0.1, 0.0, 0.8], 8.0, 0).unwrap();
        assert!(e <= e_query);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let pats = Matrix::from_rows(&[vec![1.0, 0.5]]).unwrap();
        assert!(Hopfield::store(&pats)
            .unwrap_err()
            .to_string()
            .contains("±1"));
        let h = Hopfield::store(&Matrix::from_rows(&[vec![1.0, -1.0]]).unwrap()).unwrap();
        assert!(h.retrieve(&[1.0], 5, 0).is_err());
        assert!(
            modern_retrieve(&Matrix::from_rows(&[vec![1.0]]).unwrap(), &[1.0], 0.0, 1).is_err()
        );
    }
}
