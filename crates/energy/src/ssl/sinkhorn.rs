//! SwAV's Sinkhorn-Knopp assignments (Caron et al., NeurIPS 2020), following the official
//! `distributed_sinkhorn` (facebookresearch/swav `main_swav.py`) on one process
//! (REFERENCE §5). With `scores [B, K]` (B samples, K prototypes):
//!
//! ```text
//! Q = exp(scores/ε)ᵀ                              [K, B]
//! Q /= Σ Q
//! repeat iters:  Q /= rowsum(Q); Q /= K           each prototype gets 1/K
//!                Q /= colsum(Q); Q /= B           each sample gets 1/B
//! Q *= B;  return Qᵀ                              [B, K], each sample's row sums to 1
//! ```
//!
//! No loss and no gradient: the official function runs under `torch.no_grad()` and its
//! output is a target (the registry reports `loss` as `None`).
//!
//! **Max subtraction.** The official code exponentiates `scores/ε` as it is (its scores are
//! cosines in [−1, 1], so at most `exp(20)` with ε = 0.05). This subtracts the largest score
//! first: `exp((s − max)/ε)` is `exp(s/ε)` times one constant, which the first `Q /= ΣQ`
//! divides out exactly, so the result is the official one (the fixtures compare it with a
//! transcription that does not subtract, to 1e-10) — and it stays finite where the official
//! code overflows to NaN (scores above ≈ 709·ε). A prototype or sample whose every
//! `exp((s − max)/ε)` underflows to 0 (scores ≈ 745·ε below the largest) is an error, where
//! the official code returns NaN.

use crate::contrastive::positive;
use crate::error::{EnergyError, Result};
use crate::matrix::Matrix;

/// SwAV's Sinkhorn settings (official defaults `--epsilon 0.05`, `--sinkhorn_iterations 3`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornParams {
    /// ε > 0, the entropic regularisation (the scores are divided by it).
    pub epsilon: f64,
    /// Number of row-then-column normalisation rounds.
    pub iters: usize,
}

impl Default for SinkhornParams {
    fn default() -> Self {
        Self {
            epsilon: 0.05,
            iters: 3,
        }
    }
}

fn underflow(kind: &str, index: usize) -> EnergyError {
    EnergyError::InvalidInput {
        what: "scores",
        found: format!("{kind} {index} has every exp((score - max score)/epsilon) equal to 0"),
        expected: "scores within about 700·epsilon of the largest score (or a larger epsilon)"
            .into(),
    }
}

/// Sinkhorn-Knopp assignments `Q [B, K]` of `scores [B, K]`: every row sums to 1 after the
/// last column step (and with `iters = 0`, `Q = B·softmax(scores/ε)` over all entries).
///
/// # Errors
/// `B = 0` or `K = 0`, a non-finite score, ε not a finite number > 0, or an underflow (see the
/// module documentation).
pub fn sinkhorn(scores: &Matrix, p: &SinkhornParams) -> Result<Matrix> {
    let (b, k) = (scores.rows(), scores.cols());
    if b == 0 || k == 0 {
        return Err(EnergyError::Shape {
            what: "scores",
            found: scores.shape_str(),
            expected: "[B, K] with B >= 1 samples and K >= 1 prototypes".into(),
        });
    }
    scores.check_finite("scores")?;
    let eps = positive("epsilon", p.epsilon)?;
    let max = scores.as_slice().iter().copied().fold(f64::MIN, f64::max);
    // q[(b, k)] holds Q_kb: the official Q's rows are this matrix's columns.
    let v = scores.as_slice().iter().map(|s| ((s - max) / eps).exp());
    let mut q = Matrix::new(b, k, v.collect())?;
    let total: f64 = q.as_slice().iter().sum();
    q.as_mut_slice().iter_mut().for_each(|v| *v /= total);
    for _ in 0..p.iters {
        for proto in 0..k {
            let sum: f64 = (0..b).map(|s| q[(s, proto)]).sum();
            if sum <= 0.0 {
                return Err(underflow("prototype (column)", proto));
            }
            // The official op order; the `/ K` is undone by the column step that follows
            // (kept so that the intermediate Q is the official one).
            for s in 0..b {
                q[(s, proto)] /= sum;
                q[(s, proto)] /= k as f64;
            }
        }
        for s in 0..b {
            let row = q.row_mut(s);
            let sum: f64 = row.iter().sum();
            if sum <= 0.0 {
                return Err(underflow("sample (row)", s));
            }
            row.iter_mut().for_each(|v| {
                *v /= sum;
                *v /= b as f64;
            });
        }
    }
    q.as_mut_slice().iter_mut().for_each(|v| *v *= b as f64);
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::mat;

    fn sums(q: &Matrix) -> (Vec<f64>, Vec<f64>) {
        let rows = q.row_iter().map(|r| r.iter().sum()).collect();
        let cols = (0..q.cols())
            .map(|j| (0..q.rows()).map(|i| q[(i, j)]).sum())
            .collect();
        (rows, cols)
    }

    #[test]
    fn hand_computed_values() {
        // Equal scores: uniform assignments 1/K.
        let q = sinkhorn(&Matrix::zeros(3, 4), &Default::default()).unwrap();
        assert!(q.as_slice().iter().all(|v| (v - 0.25).abs() < 1e-16));
        // One sample: after a row step every prototype holds its whole mass 1/K on it.
        let s = Matrix::from_rows(&[vec![0.3, -0.9, 0.1]]).unwrap();
        let q = sinkhorn(&s, &Default::default()).unwrap();
        assert!(q.row(0).iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-15));
        // No iterations: B·softmax of all the scores/ε; here B = 1, ε = 1.
        let p = SinkhornParams {
            epsilon: 1.0,
            iters: 0,
        };
        let q = sinkhorn(&s, &p).unwrap();
        let z: f64 = s.row(0).iter().map(|v| v.exp()).sum();
        for (qv, sv) in q.row(0).iter().zip(s.row(0)) {
            assert!((qv - sv.exp() / z).abs() < 1e-16);
        }
    }

    #[test]
    fn marginals_and_shift_invariance() {
        let s = mat(6, 4, 0.77, 0.8);
        let p = SinkhornParams::default();
        let q = sinkhorn(&s, &p).unwrap();
        let (rows, cols) = sums(&q);
        // The last step normalises the samples exactly; the prototypes only approach B/K.
        assert!(rows.iter().all(|r| (r - 1.0).abs() < 1e-14), "{rows:?}");
        assert!((cols.iter().sum::<f64>() - 6.0).abs() < 1e-13, "{cols:?}");
        // More iterations balance the prototypes (B/K = 1.5 each).
        let q = sinkhorn(&s, &SinkhornParams { iters: 500, ..p }).unwrap();
        let cols = sums(&q).1;
        assert!(cols.iter().all(|c| (c - 1.5).abs() < 1e-9), "{cols:?}");
        // A constant added to every score changes nothing, even one the official code
        // would overflow on (exp(1000/0.05)).
        let q = sinkhorn(&s, &p).unwrap();
        let shifted = Matrix::new(6, 4, s.as_slice().iter().map(|v| v + 1000.0).collect()).unwrap();
        let qs = sinkhorn(&shifted, &p).unwrap();
        for (a, b) in q.as_slice().iter().zip(qs.as_slice()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // A per-sample shift is not neutral after finitely many iterations (only in the limit).
        let p1 = SinkhornParams {
            epsilon: 1.0,
            iters: 1,
        };
        let mut rows_shifted = s.clone();
        rows_shifted.row_mut(0).iter_mut().for_each(|v| *v += 0.5);
        let (q, qr) = (
            sinkhorn(&s, &p1).unwrap(),
            sinkhorn(&rows_shifted, &p1).unwrap(),
        );
        assert!(
            (qr[(1, 0)] - q[(1, 0)]).abs() > 1e-4,
            "{} vs {}",
            qr[(1, 0)],
            q[(1, 0)]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = SinkhornParams::default();
        let e = sinkhorn(&Matrix::zeros(0, 3), &p).unwrap_err();
        assert!(e.to_string().contains("`scores` has shape [0, 3]"), "{e}");
        let e = sinkhorn(&Matrix::zeros(2, 3), &SinkhornParams { epsilon: 0.0, ..p });
        assert!(e.unwrap_err().to_string().contains("epsilon"));
        // Prototype 1 scores 100 below the rest: exp(−100/0.05) underflows.
        let s = Matrix::from_rows(&[vec![0.0, -100.0], vec![0.0, -100.0]]).unwrap();
        let e = sinkhorn(&s, &p).unwrap_err().to_string();
        assert!(e.contains("prototype (column) 1"), "{e}");
        let s = Matrix::from_rows(&[vec![0.0, 0.0], vec![-100.0, -100.0]]).unwrap();
        let e = sinkhorn(&s, &p).unwrap_err().to_string();
        assert!(e.contains("sample (row) 1"), "{e}");
    }
}
