//! Dictionary learning: the sparse-coding energy `E(x, z) = ½‖x − zD‖² + λ‖z‖₁` with the
//! dictionary `D [K, p]` (atoms as rows) learned from data by alternating minimisation of
//! `J(D, Z) = (1/n) Σ_i E(x_i, z_i)` subject to `‖d_k‖ ≤ 1`:
//!
//! 1. **codes**: `Z = argmin_Z J` for fixed `D` (FISTA, [`crate::sparse`]);
//! 2. **dictionary**: one pass of block coordinate descent over the atoms for fixed `Z`
//!    (Mairal et al. 2009, scikit-learn's `_update_dict`): with the residual
//!    `R = X − ZD + z_k d_k`, `d_k ← R ᵀz_k / ‖z_k‖²` projected on the unit ball; an atom that
//!    no sample uses is re-drawn from the data.
//!
//! Both steps minimise `J` exactly over their block, so `J` never increases (tested).

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::rng::SplitMix64;
use crate::sparse::{SparseCoder, SparseCodes};

/// Settings of [`learn_dictionary`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DictionarySettings {
    /// Number of atoms `K`.
    pub atoms: usize,
    /// Sparsity penalty `λ > 0`.
    pub lambda: f64,
    /// Alternations (codes + dictionary pass).
    pub iterations: usize,
    /// Seed of the initial atoms (random data rows, normalised).
    pub seed: u64,
}

/// A learned dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct Dictionary {
    /// `D [K, p]`, unit-norm (or shorter) atoms as rows.
    pub atoms: Matrix,
    /// Codes of the training data `[n, K]` after the last code step.
    pub codes: Matrix,
    /// `J` after each alternation.
    pub objective: Vec<f64>,
    /// The sparsity penalty `λ` it was learned with (used by [`Dictionary::transform`]).
    pub lambda: f64,
}

/// How the atoms of [`DictionaryParams`] start.
#[derive(Debug, Clone, PartialEq)]
pub enum DictionaryInit {
    /// Distinct random data rows, normalised (the default).
    Samples,
    /// Given atoms `[K, p]`, used as they are.
    Given(Matrix),
}

/// Unchecked dictionary-learning hyper-parameters (build with [`Dictionary::params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DictionaryParams {
    settings: DictionarySettings,
    init: DictionaryInit,
}

/// Checked dictionary-learning hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DictionaryValidParams(DictionaryParams);

impl Dictionary {
    /// `atoms` atoms with penalty `λ`; 30 alternations, seed 0, atoms from the data.
    pub fn params(atoms: usize, lambda: f64) -> DictionaryParams {
        DictionaryParams {
            settings: DictionarySettings {
                atoms,
                lambda,
                iterations: 30,
                seed: 0,
            },
            init: DictionaryInit::Samples,
        }
    }

    /// The sparse codes of `x [n, p]` on the learned atoms, `argmin_z ½‖x − zD‖² + λ‖z‖₁`
    /// (FISTA), with their energies.
    pub fn transform(&self, x: &Matrix) -> Result<SparseCodes> {
        code_step_coder(self.atoms.clone(), self.lambda)?.encode(x)
    }
}

impl crate::SampleEnergy for Dictionary {
    /// The free energy at zero temperature, `min_z ½‖x − zD‖² + λ‖z‖₁`, per row.
    fn energy(&self, x: &Matrix) -> Result<Vec<f64>> {
        Ok(self.transform(x)?.energy)
    }
}

impl DictionaryParams {
    /// Alternations of code and atom steps (default 30).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.settings.iterations = iterations;
        self
    }

    /// Seed of the initial atoms and of re-drawn unused atoms (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// How the atoms start (default: random data rows).
    pub fn init(mut self, init: DictionaryInit) -> Self {
        self.init = init;
        self
    }

    /// Validates what can be checked without data.
    pub fn check(&self) -> Result<DictionaryValidParams> {
        let s = self.settings;
        if s.atoms == 0 {
            return Err(invalid("atoms", 0, "at least 1"));
        }
        if !(s.lambda.is_finite() && s.lambda > 0.0) {
            return Err(invalid("lambda", s.lambda, "a finite number > 0"));
        }
        if s.iterations == 0 {
            return Err(invalid("iterations", 0, "at least 1"));
        }
        Ok(DictionaryValidParams(self.clone()))
    }
}

impl crate::Fit for DictionaryParams {
    type Model = Dictionary;
    fn fit(&self, x: &Matrix) -> Result<Dictionary> {
        self.check()?.fit(x)
    }
}

impl crate::Fit for DictionaryValidParams {
    type Model = Dictionary;
    fn fit(&self, x: &Matrix) -> Result<Dictionary> {
        let p = &self.0;
        match &p.init {
            DictionaryInit::Samples => learn_dictionary(x, p.settings),
            DictionaryInit::Given(d) => learn_dictionary_from(x, d.clone(), p.settings),
        }
    }
}

fn objective(x: &Matrix, z: &Matrix, d: &Matrix, lambda: f64) -> Result<f64> {
    let rec = z.matmul(d)?;
    let sq: f64 = x
        .as_slice()
        .iter()
        .zip(rec.as_slice())
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let l1: f64 = z.as_slice().iter().map(|v| v.abs()).sum();
    Ok((0.5 * sq + lambda * l1) / x.rows() as f64)
}

/// Validates the data and settings.
fn check(x: &Matrix, s: DictionarySettings) -> Result<()> {
    let (n, p) = (x.rows(), x.cols());
    if n == 0 || p == 0 {
        return Err(EnergyError::Shape {
            what: "x",
            found: x.shape_str(),
            expected: "[n >= 1, p >= 1]".into(),
        });
    }
    x.check_finite("x")?;
    if s.atoms == 0 || s.atoms > n {
        return Err(invalid(
            "atoms",
            s.atoms,
            format!("1..={n} (the number of samples)"),
        ));
    }
    if !(s.lambda.is_finite() && s.lambda > 0.0) {
        return Err(invalid("lambda", s.lambda, "a finite number > 0"));
    }
    Ok(())
}

/// Learns `settings.atoms` atoms from `x [n, p]`.
pub fn learn_dictionary(x: &Matrix, s: DictionarySettings) -> Result<Dictionary> {
    check(x, s)?;
    let n = x.rows();
    let mut rng = SplitMix64::new(s.seed);
    let unit_row = |v: &[f64]| -> Vec<f64> {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter().map(|a| a / norm).collect()
        } else {
            let mut e = vec![0.0; v.len()];
            e[0] = 1.0;
            e
        }
    };
    // Initial atoms: distinct random samples, normalised.
    let mut picked: Vec<usize> = (0..n).collect();
    for i in 0..s.atoms {
        let j = i + rng.below(n - i);
        picked.swap(i, j);
    }
    let rows: Vec<Vec<f64>> = picked[..s.atoms]
        .iter()
        .map(|&i| unit_row(x.row(i)))
        .collect();
    alternate(x, Matrix::from_rows(&rows)?, s, rng)
}

/// Learns a dictionary from `x [n, p]` starting from the given atoms `init [K, p]` (used as
/// they are; `settings.atoms` must equal `K`). `settings.seed` only re-draws unused atoms. With
/// the same start this is scikit-learn's `dict_learning(method="lars")` (tested).
pub fn learn_dictionary_from(
    x: &Matrix,
    init: Matrix,
    s: DictionarySettings,
) -> Result<Dictionary> {
    check(x, s)?;
    if init.rows() != s.atoms || init.cols() != x.cols() {
        return Err(EnergyError::Shape {
            what: "initial atoms",
            found: init.shape_str(),
            expected: format!("[{}, {}]", s.atoms, x.cols()),
        });
    }
    init.check_finite("initial atoms")?;
    alternate(x, init, s, SplitMix64::new(s.seed))
}

/// The sparse coder of the code step (FISTA to 1e-9, at most 2000 iterations), also used by
/// [`Dictionary::transform`].
fn code_step_coder(atoms: Matrix, lambda: f64) -> Result<SparseCoder> {
    SparseCoder::params(atoms, lambda)
        .max_iter(2000)
        .tol(1e-9)
        .check()
}

/// The alternation of code and atom steps from the atoms `d`.
fn alternate(
    x: &Matrix,
    mut d: Matrix,
    s: DictionarySettings,
    mut rng: SplitMix64,
) -> Result<Dictionary> {
    let n = x.rows();
    let mut objective_trace = Vec::with_capacity(s.iterations);
    let mut z = Matrix::zeros(n, s.atoms);
    for _ in 0..s.iterations {
        z = code_step_coder(d.clone(), s.lambda)?.encode(x)?.codes;
        update_atoms(x, &z, &mut d, &mut rng)?;
        objective_trace.push(objective(x, &z, &d, s.lambda)?);
    }
    Ok(Dictionary {
        atoms: d,
        codes: z,
        objective: objective_trace,
        lambda: s.lambda,
    })
}

/// One block-coordinate pass over the atoms (module docs).
fn update_atoms(x: &Matrix, z: &Matrix, d: &mut Matrix, rng: &mut SplitMix64) -> Result<()> {
    let (n, p, k) = (x.rows(), x.cols(), d.rows());
    let rec = z.matmul(d)?;
    let mut r: Vec<f64> = x
        .as_slice()
        .iter()
        .zip(rec.as_slice())
        .map(|(a, b)| a - b)
        .collect();
    for a in 0..k {
        let zk: Vec<f64> = (0..n).map(|i| z.row(i)[a]).collect();
        let old = d.row(a).to_vec();
        // R += z_k d_kᵀ
        for (i, &zi) in zk.iter().enumerate() {
            if zi != 0.0 {
                r[i * p..(i + 1) * p]
                    .iter_mut()
                    .zip(&old)
                    .for_each(|(r, d)| *r += zi * d);
            }
        }
        let zz: f64 = zk.iter().map(|v| v * v).sum();
        let new: Vec<f64> = if zz > 0.0 {
            let mut v = vec![0.0; p];
            for (i, &zi) in zk.iter().enumerate() {
                if zi != 0.0 {
                    v.iter_mut()
                        .zip(&r[i * p..(i + 1) * p])
                        .for_each(|(v, r)| *v += zi * r);
                }
            }
            v.iter_mut().for_each(|v| *v /= zz);
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 1.0 {
                v.iter_mut().for_each(|a| *a /= norm);
            }
            v
        } else {
            // Unused atom: a random sample, normalised (its code is 0, so J is unchanged).
            let row = x.row(rng.below(n));
            let norm = row.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
            row.iter().map(|a| a / norm).collect()
        };
        // R −= z_k d_kᵀ with the new atom.
        for (i, &zi) in zk.iter().enumerate() {
            if zi != 0.0 {
                r[i * p..(i + 1) * p]
                    .iter_mut()
                    .zip(&new)
                    .for_each(|(r, d)| *r -= zi * d);
            }
        }
        d.row_mut(a).copy_from_slice(&new);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_planted_dictionary_and_never_increases_the_objective() {
        let (k, p, n) = (5, 8, 300);
        let mut rng = SplitMix64::new(9);
        let truth: Vec<Vec<f64>> = (0..k)
            .map(|_| {
                let v: Vec<f64> = (0..p).map(|_| rng.uniform() - 0.5).collect();
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                v.iter().map(|a| a / norm).collect()
            })
            .collect();
        // Each sample uses 1–2 atoms with coefficients in ±[0.5, 1.5].
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let mut x = vec![0.0; p];
                for _ in 0..1 + rng.below(2) {
                    let a = rng.below(k);
                    let c = (0.5 + rng.uniform()) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                    x.iter_mut().zip(&truth[a]).for_each(|(x, d)| *x += c * d);
                }
                x
            })
            .collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let s = DictionarySettings {
            atoms: k,
            lambda: 0.05,
            iterations: 30,
            seed: 1,
        };
        let dict = learn_dictionary(&x, s).unwrap();
        for w in dict.objective.windows(2) {
            assert!(w[1] <= w[0] + 1e-9, "objective rose: {:?}", dict.objective);
        }
        for (a, t) in truth.iter().enumerate() {
            let best = dict
                .atoms
                .row_iter()
                .map(|d| {
                    let dn = d.iter().map(|v| v * v).sum::<f64>().sqrt();
                    (d.iter().zip(t).map(|(x, y)| x * y).sum::<f64>() / dn).abs()
                })
                .fold(0.0, f64::max);
            assert!(
                best > 0.95,
                "true atom {a} recovered only to |cos| = {best}"
            );
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        let x = Matrix::new(3, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let s = DictionarySettings {
            atoms: 4,
            lambda: 0.1,
            iterations: 1,
            seed: 0,
        };
        assert!(learn_dictionary(&x, s)
            .unwrap_err()
            .to_string()
            .contains("atoms"));
        let s = DictionarySettings {
            atoms: 2,
            lambda: 0.0,
            iterations: 1,
            seed: 0,
        };
        assert!(learn_dictionary(&x, s)
            .unwrap_err()
            .to_string()
            .contains("lambda"));
    }

    /// The builder gives the same dictionary as the function; `transform` codes data on the
    /// learned atoms and the energy is the minimum over codes.
    #[test]
    fn params_fit_and_transform() {
        use crate::{Fit, SampleEnergy};
        let mut rng = SplitMix64::new(9);
        let x: Vec<f64> = (0..40 * 4).map(|_| rng.uniform() - 0.5).collect();
        let x = Matrix::new(40, 4, x).unwrap();
        let s = DictionarySettings {
            atoms: 3,
            lambda: 0.05,
            iterations: 5,
            seed: 2,
        };
        let by_fn = learn_dictionary(&x, s).unwrap();
        let by_params = Dictionary::params(3, 0.05)
            .iterations(5)
            .seed(2)
            .fit(&x)
            .unwrap();
        assert_eq!(by_fn, by_params);
        let codes = by_params.transform(&x).unwrap();
        assert_eq!((codes.codes.rows(), codes.codes.cols()), (40, 3));
        let e = by_params.energy(&x).unwrap();
        // The energy is the minimum over z, so never above the energy of the zero code.
        for (row, ei) in x.row_iter().zip(&e) {
            let zero = 0.5 * row.iter().map(|v| v * v).sum::<f64>();
            assert!(*ei <= zero + 1e-12, "{ei} > {zero}");
        }
        assert!(Dictionary::params(0, 0.1).fit(&x).is_err());
        assert!(Dictionary::params(2, -1.0).fit(&x).is_err());
        assert!(Dictionary::params(2, 0.1).iterations(0).fit(&x).is_err());
        let wrong = DictionaryInit::Given(Matrix::zeros(2, 3));
        assert!(Dictionary::params(2, 0.1).init(wrong).fit(&x).is_err());
    }
}
