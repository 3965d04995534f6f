//! Collapse diagnostics of a batch of representations.
//!
//! * mean per-dimension standard deviation (≈0 means complete collapse);
//! * effective rank (RankMe, Garrido et al. 2023): `exp(H(p))` with `p_k = σ_k / Σσ`, the
//!   normalised singular values of the centred batch; it ranges from 1 (dimensional collapse to a
//!   line) to D.

use serde::{Deserialize, Serialize};

/// Collapse diagnostics of one batch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Collapse {
    /// Mean over dimensions of the per-dimension standard deviation (N−1).
    pub mean_std: f32,
    /// Effective rank of the centred batch.
    pub effective_rank: f32,
}

/// Computes the diagnostics for `x [n, d]` (flat, row-major).
pub fn collapse(x: &[f32], n: usize, d: usize) -> Collapse {
    let cov = covariance_matrix(x, n, d);
    let mean_std = (0..d).map(|j| cov[j * d + j].max(0.0).sqrt()).sum::<f64>() / d.max(1) as f64;
    let eig = symmetric_eigenvalues(cov, d);
    let sv: Vec<f64> = eig.iter().map(|e| e.max(0.0).sqrt()).collect();
    let total: f64 = sv.iter().sum();
    let effective_rank = if total <= 0.0 {
        0.0
    } else {
        let h: f64 = sv
            .iter()
            .map(|s| s / total)
            .filter(|p| *p > 0.0)
            .map(|p| -p * p.ln())
            .sum();
        h.exp()
    };
    Collapse {
        mean_std: mean_std as f32,
        effective_rank: effective_rank as f32,
    }
}

/// Unbiased covariance matrix `[d, d]` of the rows of `x`.
fn covariance_matrix(x: &[f32], n: usize, d: usize) -> Vec<f64> {
    let mut mean = vec![0f64; d];
    for row in x.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += *v as f64 / n as f64;
        }
    }
    let mut c = vec![0f64; d * d];
    for row in x.chunks_exact(d) {
        for i in 0..d {
            let xi = row[i] as f64 - mean[i];
            for j in i..d {
                c[i * d + j] += xi * (row[j] as f64 - mean[j]);
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = c[i * d + j] / denom;
            c[i * d + j] = v;
            c[j * d + i] = v;
        }
    }
    c
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (fine for d ≤ a few hundred).
pub fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let mut e = symmetric_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2);
        e.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert!((e[0] - 1.0).abs() < 1e-9 && (e[1] - 3.0).abs() < 1e-9);
    }

    #[test]
    fn collapsed_batch_has_rank_one_and_isotropic_batch_full_rank() {
        // Points on a line in 3-D: rank 1.
        let line: Vec<f32> = (0..50)
            .flat_map(|i| [i as f32, 2.0 * i as f32, -(i as f32)])
            .collect();
        let c = collapse(&line, 50, 3);
        assert!((c.effective_rank - 1.0).abs() < 1e-3, "{c:?}");
        // Corners of a cube (±1 in each coordinate): equal singular values -> rank 3.
        let cube: Vec<f32> = (0..8)
            .flat_map(|i| (0..3).map(move |b| if (i >> b) & 1 == 1 { 1.0 } else { -1.0 }))
            .collect();
        let c = collapse(&cube, 8, 3);
        assert!((c.effective_rank - 3.0).abs() < 1e-3, "{c:?}");
        // Every coordinate ±1 with mean 0: std = sqrt(8/7).
        assert!((c.mean_std - (8.0f32 / 7.0).sqrt()).abs() < 1e-5);
        // Constant batch: complete collapse.
        let c = collapse(&[1.0; 30], 10, 3);
        assert!(c.mean_std < 1e-6, "{c:?}");
    }
}
