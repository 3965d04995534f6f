//! Self-supervised joint-embedding losses in `f64`, each with its exact analytic gradient:
//! reference implementations to check trained models and other implementations against
//! (REFERENCE.md §1–§5). Each follows the official code where it differs from its paper, and
//! says so.
//!
//! | loss | inputs (gradient for) | params (defaults) | value | file |
//! |---|---|---|---|---|
//! | VICReg | `x`, `y` `[N, D]` (both) | `sim_coeff` 25, `std_coeff` 25, `cov_coeff` 1 | `sim·inv + std·var + cov·cov` | [`vicreg`] |
//! | Barlow Twins | `z1`, `z2` `[N, D]` (both) | `lambd` 0.0051 | `on_diag + λ·off_diag` | [`barlow_twins`] |
//! | BYOL | `p1`, `p2`, `t1`, `t2` `[N, D]` (`p1`, `p2`) | — | `mean_b [(2 − 2cos(p1, t2)) + (2 − 2cos(p2, t1))]` | [`byol`] |
//! | SimSiam | `p1`, `p2`, `z1`, `z2` `[N, D]` (`p1`, `p2`) | — | `−½ mean cos(p1, z2) − ½ mean cos(p2, z1)` | [`simsiam`] |
//! | NT-Xent (SimCLR) | `z1`, `z2` `[N, D]` (both) | `temperature` 0.5 | mean over the 2N anchors | [`nt_xent`] |
//! | InfoNCE | `q`, `k` `[N, D]` (both) | `temperature` 0.07 | `CE(q̂ k̂ᵀ/τ, diagonal)` | [`infonce`] |
//! | I-JEPA | `pred`, `target` `[M, D]` (`pred`) | — | `mean smooth_l1(pred − layer_norm(target))` | [`ijepa`] |
//! | SwAV Sinkhorn | `scores` `[B, K]` (none) | `epsilon` 0.05, `iters` 3 | the assignments `Q [B, K]` | [`sinkhorn`] |
//!
//! Inputs behind a stop-gradient (BYOL's targets, SimSiam's projections, I-JEPA's target)
//! receive no gradient, and none is listed. Every loss returns an [`SslLoss`]: the loss, its
//! named terms (unweighted) and one gradient per input that receives one. Bad shapes,
//! NaN/infinite inputs, out-of-range parameters and results that would overflow are typed
//! errors naming the input or parameter, never NaN outputs. [`registry`] looks
//! the losses up by name and evaluates them on named arrays with string parameters (what
//! `ami ssl loss` calls).

pub mod barlow_twins;
pub mod byol;
pub mod ijepa;
pub mod infonce;
pub mod nt_xent;
pub mod registry;
pub mod simsiam;
pub mod sinkhorn;
pub mod vicreg;

pub use barlow_twins::{barlow_twins, BarlowTwinsParams};
pub use byol::byol;
pub use ijepa::ijepa;
pub use infonce::{infonce, InfoNceParams};
pub use nt_xent::{nt_xent, NtXentParams};
pub use registry::{evaluate, SslArray, SslLossKind, SslOutput};
pub use simsiam::simsiam;
pub use sinkhorn::{sinkhorn, SinkhornParams};
pub use vicreg::{vicreg, VicregParams};

use crate::error::{EnergyError, Result};
use crate::matrix::{dot, Matrix};

/// A loss, its named terms and its gradient with respect to every input that receives one.
#[derive(Debug, Clone, PartialEq)]
pub struct SslLoss {
    /// The loss.
    pub value: f64,
    /// The named terms, unweighted, in the order the loss documents.
    pub terms: Vec<(&'static str, f64)>,
    /// `∂loss/∂input` per input name, each with its input's shape.
    pub grads: Vec<(&'static str, Matrix)>,
}

impl SslLoss {
    /// The term called `name`.
    pub fn term(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// The gradient with respect to the input called `name`.
    pub fn grad(&self, name: &str) -> Option<&Matrix> {
        self.grads.iter().find(|(n, _)| *n == name).map(|(_, g)| g)
    }

    /// `self`, unless a value overflowed (finite inputs of magnitude near `f64::MAX`'s square
    /// root can): then an error naming the loss, never a NaN or infinite output.
    pub(crate) fn finite(self, loss: &'static str) -> Result<Self> {
        let values = std::iter::once(self.value).chain(self.terms.iter().map(|t| t.1));
        let grads = self.grads.iter().flat_map(|(_, g)| g.as_slice());
        if values.chain(grads.copied()).all(f64::is_finite) {
            Ok(self)
        } else {
            Err(EnergyError::Degenerate {
                what: loss,
                why: "a value overflowed f64; scale the inputs down",
            })
        }
    }
}

/// Checks a loss's inputs: the first is `[N, D]` with `D ≥ 1` and `N ≥ min_rows` (`why` says
/// why), every other has the first's shape, and every value is finite.
pub(crate) fn check_inputs(
    inputs: &[(&'static str, &Matrix)],
    min_rows: usize,
    why: &'static str,
) -> Result<()> {
    let (first, m) = inputs[0];
    if m.cols() == 0 {
        return Err(EnergyError::Shape {
            what: first,
            found: m.shape_str(),
            expected: "[N, D] with D >= 1".into(),
        });
    }
    if m.rows() < min_rows {
        return Err(EnergyError::TooFewSamples {
            what: first,
            n_samples: m.rows(),
            needed: min_rows,
            why,
        });
    }
    for &(what, other) in &inputs[1..] {
        if (other.rows(), other.cols()) != (m.rows(), m.cols()) {
            return Err(EnergyError::Shape {
                what,
                found: other.shape_str(),
                expected: format!("{} (the shape of `{first}`)", m.shape_str()),
            });
        }
    }
    inputs.iter().try_for_each(|(what, m)| m.check_finite(what))
}

/// Fails unless every row of `h` has an l2 norm of at least `min_norm`, the norm below which
/// the official code clamps its normaliser (`source` names it; there its value and gradient
/// differ from the exact `h/‖h‖` this module computes), and not so large that it overflows.
/// Returns the norms.
pub(crate) fn check_row_norms(
    h: &Matrix,
    what: &'static str,
    min_norm: f64,
    source: &'static str,
) -> Result<Vec<f64>> {
    let norms: Vec<f64> = h.row_iter().map(|r| dot(r, r).sqrt()).collect();
    match norms.iter().position(|&r| r < min_norm || r.is_infinite()) {
        None => Ok(norms),
        Some(i) => Err(EnergyError::InvalidInput {
            what,
            found: format!("row {i} has l2 norm {:e}", norms[i]),
            expected: format!(
                "rows of finite norm >= {min_norm:e} (below it {source} clamps the norm, \
                 and ami computes the exact cosine only)"
            ),
        }),
    }
}

/// Row-wise cosines `c_b = cos(p_b, t_b)` and their gradients `∂c_b/∂p_b =
/// (t̂_b − c_b·p̂_b)/‖p_b‖`, as the rows of a matrix shaped like `p`. Rows of norm below
/// `min_norm` are errors ([`check_row_norms`]).
pub(crate) fn row_cosines(
    (p, p_name): (&Matrix, &'static str),
    (t, t_name): (&Matrix, &'static str),
    min_norm: f64,
    source: &'static str,
) -> Result<(Vec<f64>, Matrix)> {
    let pn = check_row_norms(p, p_name, min_norm, source)?;
    let tn = check_row_norms(t, t_name, min_norm, source)?;
    let mut cos = Vec::with_capacity(p.rows());
    let mut grad = Matrix::zeros(p.rows(), p.cols());
    for b in 0..p.rows() {
        let (pr, tr) = (p.row(b), t.row(b));
        let c = dot(pr, tr) / (pn[b] * tn[b]);
        for ((g, &pv), &tv) in grad.row_mut(b).iter_mut().zip(pr).zip(tr) {
            *g = (tv / tn[b] - c * pv / pn[b]) / pn[b];
        }
        cos.push(c);
    }
    Ok((cos, grad))
}

/// `a·s + b·t` elementwise, for matrices of one shape.
pub(crate) fn axpby(s: f64, a: &Matrix, t: f64, b: &Matrix) -> Matrix {
    let v = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| s * x + t * y)
        .collect();
    Matrix::from_parts(a.rows(), a.cols(), v)
}

/// `s·a` elementwise.
pub(crate) fn scaled(s: f64, a: &Matrix) -> Matrix {
    let v = a.as_slice().iter().map(|x| s * x).collect();
    Matrix::from_parts(a.rows(), a.cols(), v)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Finite-difference checks and deterministic inputs for the loss tests.
    use crate::matrix::Matrix;

    /// A deterministic `[rows, cols]` matrix with entries in about ±1.3·scale.
    pub fn mat(rows: usize, cols: usize, seed: f64, scale: f64) -> Matrix {
        let v = (0..rows * cols)
            .map(|i| ((i as f64 + 1.0) * seed).sin() * 1.3 * scale + 0.1 * (i % 3) as f64)
            .collect();
        Matrix::new(rows, cols, v).unwrap()
    }

    /// Checks `grad` against central finite differences of `f` at `x`: every entry within
    /// 1e-6 relative (relative to the entry, or to 1 % of the largest entry for entries near
    /// zero).
    pub fn check_grad(f: &dyn Fn(&Matrix) -> f64, x: &Matrix, grad: &Matrix, what: &str) {
        assert_eq!((x.rows(), x.cols()), (grad.rows(), grad.cols()), "{what}");
        let gmax = grad.as_slice().iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(gmax > 0.0, "{what}: the gradient is zero everywhere");
        for (i, &g) in grad.as_slice().iter().enumerate() {
            let h = 1e-5 * x.as_slice()[i].abs().max(1.0);
            let (mut p, mut m) = (x.clone(), x.clone());
            p.as_mut_slice()[i] += h;
            m.as_mut_slice()[i] -= h;
            let fd = (f(&p) - f(&m)) / (2.0 * h);
            let rel = (fd - g).abs() / g.abs().max(1e-2 * gmax);
            assert!(
                rel <= 1e-6,
                "{what}[{i}]: analytic {g} vs finite difference {fd}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_gradient_and_norm_checks() {
        let p = Matrix::from_rows(&[vec![3.0, 4.0], vec![1.0, 0.0]]).unwrap();
        let t = Matrix::from_rows(&[vec![4.0, 3.0], vec![0.0, 2.0]]).unwrap();
        let (c, g) = row_cosines((&p, "p"), (&t, "t"), 1e-8, "test").unwrap();
        assert!((c[0] - 24.0 / 25.0).abs() < 1e-15 && c[1] == 0.0);
        // ∂cos/∂p for p = (1, 0), t = (0, 2): t̂ − 0 = (0, 1).
        assert_eq!(g.row(1), &[0.0, 1.0]);
        let f = |p: &Matrix| {
            let (c, _) = row_cosines((p, "p"), (&t, "t"), 1e-8, "test").unwrap();
            c[0] + 2.0 * c[1]
        };
        let mut w = g.clone();
        w.row_mut(1).iter_mut().for_each(|v| *v *= 2.0);
        testing::check_grad(&f, &p, &w, "cos");
        let zero = Matrix::from_rows(&[vec![3.0, 4.0], vec![0.0, 1e-9]]).unwrap();
        let e = row_cosines((&p, "p"), (&zero, "t"), 1e-8, "PyTorch").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`t` row 1 has l2 norm 1e-9"), "{msg}");
        assert!(
            check_row_norms(&zero, "t", 1e-9, "x").is_ok(),
            "the bound is inclusive"
        );
        let huge = Matrix::from_rows(&[vec![1e200, 1e200]]).unwrap();
        let e = check_row_norms(&huge, "h", 1e-8, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 0 has l2 norm inf"), "{e}");
    }

    #[test]
    fn overflow_is_an_error() {
        let x = Matrix::from_rows(&[vec![1e160, 0.0], vec![-1e160, 1.0]]).unwrap();
        let e = vicreg(&x, &x, &Default::default()).unwrap_err().to_string();
        assert_eq!(
            e,
            "`vicreg` is degenerate: a value overflowed f64; scale the inputs down"
        );
    }

    #[test]
    fn input_checks_name_the_input() {
        let a = Matrix::zeros(3, 2);
        let b = Matrix::zeros(3, 3);
        let e = check_inputs(&[("x", &a), ("y", &b)], 2, "why").unwrap_err();
        assert!(e
            .to_string()
            .contains("`y` has shape [3, 3]; expected [3, 2] (the shape of `x`)"));
        let e = check_inputs(&[("x", &a)], 4, "because").unwrap_err();
        assert!(matches!(
            e,
            EnergyError::TooFewSamples {
                what: "x",
                n_samples: 3,
                needed: 4,
                ..
            }
        ));
        let e = check_inputs(&[("x", &Matrix::zeros(3, 0))], 1, "-").unwrap_err();
        assert!(e.to_string().contains("D >= 1"));
        let mut c = Matrix::zeros(3, 2);
        c[(2, 1)] = f64::INFINITY;
        let e = check_inputs(&[("x", &a), ("y", &c)], 1, "-").unwrap_err();
        assert!(matches!(
            e,
            EnergyError::NonFinite {
                what: "y",
                row: 2,
                col: 1,
                ..
            }
        ));
    }
}
