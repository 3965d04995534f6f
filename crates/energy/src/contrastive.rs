//! Contrastive losses: push the energy of the correct answer down and the energy of
//! incorrect answers (negatives) up. Every loss returns its value and its exact gradient with
//! respect to the energies (or embeddings) it reads, in `f64`.
//!
//! Notation (LeCun, Chopra, Hadsell, Ranzato, Huang 2006, "A Tutorial on Energy-Based
//! Learning", Table 1): `e⁺ = E(W, Yⁱ, Xⁱ)` is the energy of the correct answer and
//! `ē = E(W, Ȳⁱ, Xⁱ)` the energy of the most offending incorrect answer
//! ([`most_offending`]).
//!
//! | loss | value | function |
//! |---|---|---|
//! | energy | `e⁺` | [`energy_loss`] |
//! | perceptron | `e⁺ − min_y E(y)` | [`perceptron`] |
//! | hinge | `max(0, m + e⁺ − ē)` | [`hinge`] |
//! | log | `log(1 + exp(e⁺ − ē))` | [`log_loss`] |
//! | LVQ2 | `min(M, max(0, (e⁺ − ē)/ē))` | [`lvq2`] |
//! | MCE | `σ(e⁺ − ē)` | [`mce`] |
//! | square-square | `(e⁺)² + max(0, m − ē)²` | [`square_square`] |
//! | square-exponential | `(e⁺)² + γ·exp(−ē)` | [`square_exponential`] |
//! | NLL/MMI | `e⁺ + (1/β)·log Σ_y exp(−β E(y))` | [`nll_mmi`] |
//! | Hadsell et al. 2006 (DrLIM) | `(1−Y)·½D² + Y·½·max(0, m − D)²` | [`hadsell_pair`], [`hadsell_embeddings`] |
//! | InfoNCE (Oord et al. 2018) | `mean_i [−s_{i,p_i}/τ + log Σ_j exp(s_ij/τ)]` | [`info_nce`], [`info_nce_cosine`] |
//! | NT-Xent (SimCLR) | mean over the 2N anchors of the InfoNCE of cosine similarities, self excluded | [`nt_xent`] |
//! | NCE (Gutmann & Hyvärinen 2010) | `−[mean_x log σ(G(x)) + ν·mean_y log(1 − σ(G(y)))]` | [`nce`] |
//!
//! At a kink (hinge at `m + e⁺ = ē`, a zero distance in the Hadsell loss, ties in a minimum)
//! the gradient returned is a subgradient: the one-sided derivative documented per function.

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;

/// A loss of `(e⁺, ē)` and its partial derivatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairLoss {
    /// The loss.
    pub value: f64,
    /// `∂L/∂e⁺`.
    pub d_pos: f64,
    /// `∂L/∂ē`.
    pub d_neg: f64,
}

/// A loss of a vector of energies (or scores) and its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct LossGrad {
    /// The loss.
    pub value: f64,
    /// `∂L/∂input`, same layout as the input.
    pub grad: Vec<f64>,
}

fn finite(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid(name, v, "a finite number"))
    }
}

fn finite_slice(what: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(EnergyError::NonFinite {
            what,
            row: 0,
            col: i,
            value: v[i],
        }),
    }
}

fn target_in(energies: &[f64], target: usize) -> Result<()> {
    if energies.len() < 2 {
        return Err(EnergyError::Shape {
            what: "energies",
            found: format!("[{}]", energies.len()),
            expected: "at least 2 answers (the correct one and a negative)".into(),
        });
    }
    if target >= energies.len() {
        return Err(invalid(
            "target",
            target,
            format!("an index < {} (the number of answers)", energies.len()),
        ));
    }
    finite_slice("energies", energies)
}

/// `σ(t) = 1 / (1 + exp(−t))`, evaluated without overflow.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(t))`, evaluated without overflow.
pub fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// `log Σ_i exp(v_i)` with the maximum factored out.
pub fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Index of the most offending incorrect answer: `argmin_{y ≠ target} E(y)` (the first one
/// on ties).
pub fn most_offending(energies: &[f64], target: usize) -> Result<usize> {
    target_in(energies, target)?;
    let mut best = None;
    for (i, &e) in energies.iter().enumerate() {
        if i != target && best.is_none_or(|(_, b)| e < b) {
            best = Some((i, e));
        }
    }
    best.map(|(i, _)| i)
        .ok_or_else(|| invalid("target", target, "an answer set with a negative"))
}

/// Energy loss `L = e⁺`: pushes the correct answer down only (it collapses unless the
/// architecture bounds the volume of low energy).
pub fn energy_loss(e_pos: f64) -> Result<PairLoss> {
    Ok(PairLoss {
        value: finite("e_pos", e_pos)?,
        d_pos: 1.0,
        d_neg: 0.0,
    })
}

/// Perceptron loss `L = e⁺ − min_y E(y)` over all answers (the correct one included), so
/// `L ≥ 0`. Gradient: `+1` on the target, `−1` on the minimiser (the first one on ties; both
/// cancel when the target is the minimiser).
///
/// # Errors
/// Fewer than 2 answers, `target` out of range or a non-finite energy.
pub fn perceptron(energies: &[f64], target: usize) -> Result<LossGrad> {
    target_in(energies, target)?;
    let (imin, emin) =
        energies
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |(bi, b), (i, e)| {
                    if e < b {
                        (i, e)
                    } else {
                        (bi, b)
                    }
                },
            );
    let mut grad = vec![0.0; energies.len()];
    grad[target] += 1.0;
    grad[imin] -= 1.0;
    Ok(LossGrad {
        value: energies[target] - emin,
        grad,
    })
}

/// Hinge loss `L = max(0, m + e⁺ − ē)`, margin `m ≥ 0`. At the kink the gradient is 0.
pub fn hinge(e_pos: f64, e_neg: f64, margin: f64) -> Result<PairLoss> {
    let (p, n) = (finite("e_pos", e_pos)?, finite("e_neg", e_neg)?);
    let m = nonneg("margin", margin)?;
    let t = m + p - n;
    Ok(if t > 0.0 {
        PairLoss {
            value: t,
            d_pos: 1.0,
            d_neg: -1.0,
        }
    } else {
        PairLoss {
            value: 0.0,
            d_pos: 0.0,
            d_neg: 0.0,
        }
    })
}

pub(crate) fn nonneg(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(name, v, "a finite number >= 0"))
    }
}

pub(crate) fn positive(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(name, v, "a finite number > 0"))
    }
}

/// Log loss `L = log(1 + exp(e⁺ − ē))` (a soft hinge with an infinite margin);
/// `∂L/∂e⁺ = σ(e⁺ − ē) = −∂L/∂ē`.
pub fn log_loss(e_pos: f64, e_neg: f64) -> Result<PairLoss> {
    let t = finite("e_pos", e_pos)? - finite("e_neg", e_neg)?;
    let s = sigmoid(t);
    Ok(PairLoss {
        value: softplus(t),
        d_pos: s,
        d_neg: -s,
    })
}

/// LVQ2 loss `L = min(M, max(0, (e⁺ − ē)/ē))`, saturating at `M > 0`; needs `ē > 0`.
/// In the linear region `∂L/∂e⁺ = 1/ē`, `∂L/∂ē = −e⁺/ē²`; elsewhere 0.
pub fn lvq2(e_pos: f64, e_neg: f64, saturation: f64) -> Result<PairLoss> {
    let p = finite("e_pos", e_pos)?;
    let n = positive("e_neg", e_neg)?;
    let cap = positive("saturation", saturation)?;
    let t = (p - n) / n;
    Ok(if t > 0.0 && t < cap {
        PairLoss {
            value: t,
            d_pos: 1.0 / n,
            d_neg: -p / (n * n),
        }
    } else {
        PairLoss {
            value: t.clamp(0.0, cap),
            d_pos: 0.0,
            d_neg: 0.0,
        }
    })
}

/// Minimum-classification-error loss `L = σ(e⁺ − ē)`; `∂L/∂e⁺ = σ(1 − σ) = −∂L/∂ē`.
pub fn mce(e_pos: f64, e_neg: f64) -> Result<PairLoss> {
    let s = sigmoid(finite("e_pos", e_pos)? - finite("e_neg", e_neg)?);
    let d = s * (1.0 - s);
    Ok(PairLoss {
        value: s,
        d_pos: d,
        d_neg: -d,
    })
}

/// Square-square loss `L = (e⁺)² + max(0, m − ē)²`, margin `m ≥ 0`;
/// `∂L/∂e⁺ = 2e⁺`, `∂L/∂ē = −2·max(0, m − ē)`.
pub fn square_square(e_pos: f64, e_neg: f64, margin: f64) -> Result<PairLoss> {
    let (p, n) = (finite("e_pos", e_pos)?, finite("e_neg", e_neg)?);
    let h = (nonneg("margin", margin)? - n).max(0.0);
    Ok(PairLoss {
        value: p * p + h * h,
        d_pos: 2.0 * p,
        d_neg: -2.0 * h,
    })
}

/// Square-exponential loss `L = (e⁺)² + γ·exp(−ē)`, `γ > 0`;
/// `∂L/∂e⁺ = 2e⁺`, `∂L/∂ē = −γ·exp(−ē)`.
pub fn square_exponential(e_pos: f64, e_neg: f64, gamma: f64) -> Result<PairLoss> {
    let (p, n) = (finite("e_pos", e_pos)?, finite("e_neg", e_neg)?);
    let g = positive("gamma", gamma)?;
    let x = g * (-n).exp();
    Ok(PairLoss {
        value: p * p + x,
        d_pos: 2.0 * p,
        d_neg: -x,
    })
}

/// Negative log-likelihood / maximum mutual information loss over an enumerated answer set,
/// inverse temperature `β > 0`: `L = e⁺ + (1/β)·log Σ_y exp(−β E(y))`
/// (the sum includes the correct answer, so `L = −(1/β) log p(target)` with the Gibbs
/// distribution `p(y) ∝ exp(−β E(y))`). Gradient: `∂L/∂E(y) = 1[y = target] − p(y)`.
///
/// Over a sampled set drawn uniformly from the answer space this is the Monte-Carlo estimate
/// of the integral in the tutorial's NLL up to the additive constant `(1/β)·log(|Y|/K)`.
pub fn nll_mmi(energies: &[f64], target: usize, beta: f64) -> Result<LossGrad> {
    target_in(energies, target)?;
    let beta = positive("beta", beta)?;
    let neg: Vec<f64> = energies.iter().map(|e| -beta * e).collect();
    let lse = logsumexp(&neg);
    let mut grad: Vec<f64> = neg.iter().map(|v| -(v - lse).exp()).collect();
    grad[target] += 1.0;
    Ok(LossGrad {
        value: energies[target] + lse / beta,
        grad,
    })
}

/// Hadsell, Chopra and LeCun 2006 (DrLIM, eq. 4) on a distance `D ≥ 0`: similar pairs
/// (`dissimilar = false`) `L = ½D²`, dissimilar pairs `L = ½·max(0, m − D)²`. Returns
/// `(L, ∂L/∂D)`.
pub fn hadsell_pair(distance: f64, dissimilar: bool, margin: f64) -> Result<(f64, f64)> {
    let d = nonneg("distance", distance)?;
    let m = nonneg("margin", margin)?;
    Ok(if dissimilar {
        let h = (m - d).max(0.0);
        (0.5 * h * h, -h)
    } else {
        (0.5 * d * d, d)
    })
}

/// [`hadsell_pair`] on two embeddings, `D = ‖g₁ − g₂‖₂`. Returns `L` and `∂L/∂g₁`
/// (`∂L/∂g₂ = −∂L/∂g₁`). For a dissimilar pair at `D = 0` the direction is undefined and the
/// gradient returned is 0.
pub fn hadsell_embeddings(
    g1: &[f64],
    g2: &[f64],
    dissimilar: bool,
    margin: f64,
) -> Result<LossGrad> {
    if g1.len() != g2.len() || g1.is_empty() {
        return Err(EnergyError::Shape {
            what: "g2",
            found: format!("[{}]", g2.len()),
            expected: format!("[{}] (the length of g1, at least 1)", g1.len()),
        });
    }
    finite_slice("g1", g1)?;
    finite_slice("g2", g2)?;
    let diff: Vec<f64> = g1.iter().zip(g2).map(|(a, b)| a - b).collect();
    let d = diff.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (value, dd) = hadsell_pair(d, dissimilar, margin)?;
    let grad = if dissimilar {
        if d > 0.0 {
            diff.iter().map(|v| dd * v / d).collect()
        } else {
            vec![0.0; diff.len()]
        }
    } else {
        // ∂(½D²)/∂g₁ = g₁ − g₂ (smooth at D = 0).
        diff
    };
    Ok(LossGrad { value, grad })
}

/// InfoNCE on a similarity matrix `s [N, M]` (higher = more similar) with the positive of
/// row `i` at column `positives[i]`, temperature `τ > 0`:
/// `L = (1/N) Σ_i [−s_{i,p_i}/τ + log Σ_j exp(s_ij/τ)]`, i.e. the mean cross-entropy of
/// `softmax(s_i/τ)` against the positive. `∂L/∂s_ij = (softmax_j(s_i/τ) − 1[j = p_i]) / (N·τ)`.
pub fn info_nce(scores: &Matrix, positives: &[usize], temperature: f64) -> Result<LossGrad> {
    let (n, m) = (scores.rows(), scores.cols());
    if n == 0 || m < 2 || positives.len() != n {
        return Err(EnergyError::Shape {
            what: "scores / positives",
            found: format!("{} and [{}]", scores.shape_str(), positives.len()),
            expected: "[N, M] with N >= 1, M >= 2, and N positive indices".into(),
        });
    }
    let tau = positive("temperature", temperature)?;
    scores.check_finite("scores")?;
    let mut grad = vec![0.0; n * m];
    let mut total = 0.0;
    for (i, &p) in positives.iter().enumerate() {
        if p >= m {
            return Err(invalid("positives", p, format!("column indices < {m}")));
        }
        let z: Vec<f64> = scores.row(i).iter().map(|s| s / tau).collect();
        let lse = logsumexp(&z);
        total += lse - z[p];
        for (j, g) in grad[i * m..(i + 1) * m].iter_mut().enumerate() {
            let onehot = if j == p { 1.0 } else { 0.0 };
            *g = ((z[j] - lse).exp() - onehot) / (n as f64 * tau);
        }
    }
    Ok(LossGrad {
        value: total / n as f64,
        grad,
    })
}

/// Row-wise l2 normalisation `u_i = h_i / ‖h_i‖` and the norms.
fn normalise(h: &Matrix, what: &'static str) -> Result<(Vec<f64>, Vec<f64>)> {
    h.check_finite(what)?;
    let d = h.cols();
    let mut u = vec![0.0; h.rows() * d];
    let mut norms = Vec::with_capacity(h.rows());
    for (i, row) in h.row_iter().enumerate() {
        let r = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if r == 0.0 {
            return Err(invalid(
                what,
                format!("row {i} = 0"),
                "non-zero rows (cosine similarity)",
            ));
        }
        u[i * d..(i + 1) * d]
            .iter_mut()
            .zip(row)
            .for_each(|(u, v)| *u = v / r);
        norms.push(r);
    }
    Ok((u, norms))
}

/// Back through `u = h/‖h‖`: `∂L/∂h = (g − (g·u) u) / ‖h‖` per row.
fn normalise_backward(gu: &[f64], u: &[f64], norms: &[f64], d: usize) -> Vec<f64> {
    let mut gh = vec![0.0; gu.len()];
    for (i, r) in norms.iter().enumerate() {
        let (g, uu) = (&gu[i * d..(i + 1) * d], &u[i * d..(i + 1) * d]);
        let dot: f64 = g.iter().zip(uu).map(|(a, b)| a * b).sum();
        for ((o, g), u) in gh[i * d..(i + 1) * d].iter_mut().zip(g).zip(uu) {
            *o = (g - dot * u) / r;
        }
    }
    gh
}

/// InfoNCE of cosine similarities between `h_x [N, d]` and `h_y [N, d]` with the positives
/// on the diagonal (`s_ij = cos(h_x,i, h_y,j)`, Oord et al. 2018 with `β = 1/τ`). Returns
/// `L` and the gradients `(∂L/∂h_x, ∂L/∂h_y)`, row-major like the inputs.
pub fn info_nce_cosine(
    hx: &Matrix,
    hy: &Matrix,
    temperature: f64,
) -> Result<(f64, Matrix, Matrix)> {
    let (n, d) = (hx.rows(), hx.cols());
    if hy.rows() != n || hy.cols() != d || n < 2 || d == 0 {
        return Err(EnergyError::Shape {
            what: "h_y",
            found: hy.shape_str(),
            expected: format!("{} like h_x, with at least 2 rows", hx.shape_str()),
        });
    }
    let (ux, nx) = normalise(hx, "h_x")?;
    let (uy, ny) = normalise(hy, "h_y")?;
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = dot(&ux[i * d..(i + 1) * d], &uy[j * d..(j + 1) * d]);
        }
    }
    let diag: Vec<usize> = (0..n).collect();
    let loss = info_nce(&Matrix::new(n, n, s)?, &diag, temperature)?;
    // s = Ux Uyᵀ: ∂/∂Ux = G Uy, ∂/∂Uy = Gᵀ Ux.
    let g = &loss.grad;
    let mut gux = vec![0.0; n * d];
    let mut guy = vec![0.0; n * d];
    for i in 0..n {
        for j in 0..n {
            let gij = g[i * n + j];
            for c in 0..d {
                gux[i * d + c] += gij * uy[j * d + c];
                guy[j * d + c] += gij * ux[i * d + c];
            }
        }
    }
    let gx = Matrix::new(n, d, normalise_backward(&gux, &ux, &nx, d))?;
    let gy = Matrix::new(n, d, normalise_backward(&guy, &uy, &ny, d))?;
    Ok((loss.value, gx, gy))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// NT-Xent (SimCLR, Chen et al. 2020) on `z [2N, d]`, where rows `i` and `i + N` are the two
/// views of sample `i`: rows are l2-normalised, `s_ij = u_iᵀu_j / τ`, and for each of the 2N
/// anchors `L_i = −s_{i,p(i)} + log Σ_{k ≠ i} exp(s_ik)`; the loss is the mean over the 2N
/// anchors (the paper's value; SimCLR's code returns twice this). Returns `L` and `∂L/∂z`.
pub fn nt_xent(z: &Matrix, temperature: f64) -> Result<LossGrad> {
    let (rows, d) = (z.rows(), z.cols());
    if rows < 2 || rows % 2 != 0 || d == 0 {
        return Err(EnergyError::Shape {
            what: "z",
            found: z.shape_str(),
            expected: "[2N, d] with N >= 1 and d >= 1 (rows i and i+N are two views)".into(),
        });
    }
    let tau = positive("temperature", temperature)?;
    let (u, norms) = normalise(z, "z")?;
    let half = rows / 2;
    let mut gu = vec![0.0; rows * d];
    let mut total = 0.0;
    for i in 0..rows {
        let p = (i + half) % rows;
        let ui = &u[i * d..(i + 1) * d];
        let logits: Vec<f64> = (0..rows)
            .map(|k| {
                if k == i {
                    f64::NEG_INFINITY
                } else {
                    dot(ui, &u[k * d..(k + 1) * d]) / tau
                }
            })
            .collect();
        let lse = logsumexp(&logits);
        total += lse - logits[p];
        // ∂L_i/∂s_ik = softmax_k − 1[k = p] (k ≠ i), s_ik = u_iᵀu_k/τ.
        for k in (0..rows).filter(|&k| k != i) {
            let w =
                ((logits[k] - lse).exp() - if k == p { 1.0 } else { 0.0 }) / (tau * rows as f64);
            for c in 0..d {
                gu[i * d + c] += w * u[k * d + c];
                gu[k * d + c] += w * u[i * d + c];
            }
        }
    }
    Ok(LossGrad {
        value: total / rows as f64,
        grad: normalise_backward(&gu, &u, &norms, d),
    })
}

/// Noise-contrastive estimation (Gutmann & Hyvärinen 2010) of an unnormalised model
/// `log p_m(u) = −E(u) − c` (`c` a learned log-partition) against a noise density `p_n`, with
/// `ν` noise samples per data point: `G(u) = −E(u) − c − log p_n(u) − log ν` and
/// `J = −[mean_x log σ(G(x)) + ν·mean_y log(1 − σ(G(y)))]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NceLoss {
    /// `J`.
    pub value: f64,
    /// `∂J/∂E(x)` per data point.
    pub d_data: Vec<f64>,
    /// `∂J/∂E(y)` per noise sample.
    pub d_noise: Vec<f64>,
    /// `∂J/∂c`.
    pub d_log_partition: f64,
}

/// [`NceLoss`] from the energies and noise log-densities of the data points `x` and the noise
/// samples `y`, the log-partition `c` and the ratio `ν > 0`.
pub fn nce(
    (e_data, log_pn_data): (&[f64], &[f64]),
    (e_noise, log_pn_noise): (&[f64], &[f64]),
    log_partition: f64,
    nu: f64,
) -> Result<NceLoss> {
    if e_data.is_empty()
        || e_noise.is_empty()
        || e_data.len() != log_pn_data.len()
        || e_noise.len() != log_pn_noise.len()
    {
        return Err(EnergyError::Shape {
            what: "NCE energies / noise log-densities",
            found: format!(
                "[{}]/[{}] data, [{}]/[{}] noise",
                e_data.len(),
                log_pn_data.len(),
                e_noise.len(),
                log_pn_noise.len()
            ),
            expected: "non-empty, one log-density per energy".into(),
        });
    }
    for (what, v) in [
        ("e_data", e_data),
        ("log_pn_data", log_pn_data),
        ("e_noise", e_noise),
        ("log_pn_noise", log_pn_noise),
    ] {
        finite_slice(what, v)?;
    }
    let c = finite("log_partition", log_partition)?;
    let nu = positive("nu", nu)?;
    let g = |e: f64, lp: f64| -e - c - lp - nu.ln();
    let (n, m) = (e_data.len() as f64, e_noise.len() as f64);
    let mut value = 0.0;
    let mut d_c = 0.0;
    // −log σ(G) = softplus(−G); ∂/∂G = −σ(−G); ∂G/∂E = ∂G/∂c = −1.
    let d_data: Vec<f64> = e_data
        .iter()
        .zip(log_pn_data)
        .map(|(&e, &lp)| {
            let gx = g(e, lp);
            value += softplus(-gx) / n;
            let d = sigmoid(-gx) / n;
            d_c += d;
            d
        })
        .collect();
    // −ν log(1 − σ(G)) = ν softplus(G); ∂/∂G = ν σ(G).
    let d_noise: Vec<f64> = e_noise
        .iter()
        .zip(log_pn_noise)
        .map(|(&e, &lp)| {
            let gy = g(e, lp);
            value += nu * softplus(gy) / m;
            let d = -nu * sigmoid(gy) / m;
            d_c += d;
            d
        })
        .collect();
    Ok(NceLoss {
        value,
        d_data,
        d_noise,
        d_log_partition: d_c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central finite difference of `f` at `x` along coordinate `i`.
    fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
        let h = 1e-6 * x[i].abs().max(1.0);
        let (mut p, mut m) = (x.to_vec(), x.to_vec());
        p[i] += h;
        m[i] -= h;
        (f(&p) - f(&m)) / (2.0 * h)
    }

    fn check_grad(f: &dyn Fn(&[f64]) -> f64, x: &[f64], grad: &[f64]) {
        assert_eq!(x.len(), grad.len());
        for (i, g) in grad.iter().enumerate() {
            let want = fd(f, x, i);
            assert!(
                (want - g).abs() <= 1e-6 * want.abs().max(1.0),
                "∂/∂x[{i}]: analytic {g} vs finite difference {want}"
            );
        }
    }

    fn check_pair(f: impl Fn(f64, f64) -> Result<PairLoss>, p: f64, n: f64) {
        let l = f(p, n).unwrap();
        let v = |x: &[f64]| f(x[0], x[1]).unwrap().value;
        check_grad(&v, &[p, n], &[l.d_pos, l.d_neg]);
    }

    #[test]
    fn pair_losses_match_hand_values() {
        assert_eq!(hinge(1.0, 1.5, 1.0).unwrap().value, 0.5);
        assert_eq!(hinge(1.0, 2.5, 1.0).unwrap().value, 0.0);
        assert!((log_loss(2.0, 2.0).unwrap().value - 2f64.ln()).abs() < 1e-15);
        assert_eq!(square_square(3.0, 0.5, 2.0).unwrap().value, 9.0 + 2.25);
        let se = square_exponential(1.0, 0.0, 2.0).unwrap().value;
        assert!((se - 3.0).abs() < 1e-15);
        assert!((mce(0.0, 0.0).unwrap().value - 0.5).abs() < 1e-15);
        assert!((lvq2(3.0, 2.0, 10.0).unwrap().value - 0.5).abs() < 1e-15);
        assert_eq!(lvq2(30.0, 2.0, 10.0).unwrap().value, 10.0);
        assert_eq!(energy_loss(4.0).unwrap().value, 4.0);
        // Extreme arguments stay finite.
        assert!((log_loss(800.0, 0.0).unwrap().value - 800.0).abs() < 1e-9);
        assert!(log_loss(-800.0, 0.0).unwrap().value >= 0.0);
    }

    #[test]
    fn pair_loss_gradients_match_finite_differences() {
        for (p, n) in [(0.3, 1.7), (2.0, 0.4), (-0.5, 0.9), (1.1, 3.0)] {
            check_pair(|p, n| hinge(p, n, 1.0), p, n);
            check_pair(log_loss, p, n);
            check_pair(mce, p, n);
            check_pair(|p, n| square_square(p, n, 1.5), p, n);
            check_pair(|p, n| square_exponential(p, n, 0.7), p, n);
            check_pair(|p, n| lvq2(p, n, 5.0), p, n);
        }
    }

    #[test]
    fn nll_gradient_and_limits() {
        let e = [0.5, 1.2, -0.3, 2.0];
        let l = nll_mmi(&e, 1, 1.7).unwrap();
        check_grad(&|x: &[f64]| nll_mmi(x, 1, 1.7).unwrap().value, &e, &l.grad);
        assert!(
            l.grad.iter().sum::<f64>().abs() < 1e-12,
            "gradient sums to 0"
        );
        // β → ∞: NLL → e⁺ − min_y E = the perceptron loss.
        let hot = nll_mmi(&e, 1, 1e4).unwrap().value;
        let perc = perceptron(&e, 1).unwrap().value;
        assert!((hot - perc).abs() < 1e-3, "{hot} vs {perc}");
        // The perceptron gradient.
        assert_eq!(perceptron(&e, 1).unwrap().grad, vec![0.0, 1.0, -1.0, 0.0]);
        assert_eq!(perceptron(&e, 2).unwrap().grad, vec![0.0; 4]);
        assert_eq!(most_offending(&e, 2).unwrap(), 0);
    }

    #[test]
    fn hadsell_gradients() {
        let g1 = [0.3, -1.2, 0.8];
        let g2 = [0.1, 0.4, 0.2];
        for dissimilar in [false, true] {
            let l = hadsell_embeddings(&g1, &g2, dissimilar, 2.5).unwrap();
            let f = |x: &[f64]| hadsell_embeddings(x, &g2, dissimilar, 2.5).unwrap().value;
            check_grad(&f, &g1, &l.grad);
        }
        assert_eq!(hadsell_pair(3.0, true, 2.0).unwrap(), (0.0, -0.0));
        assert_eq!(hadsell_pair(1.0, true, 2.0).unwrap(), (0.5, -1.0));
        assert_eq!(hadsell_pair(2.0, false, 2.0).unwrap(), (2.0, 2.0));
    }

    fn mat(rows: usize, cols: usize, seed: f64) -> Matrix {
        let v = (0..rows * cols)
            .map(|i| ((i as f64 + 1.0) * seed).sin() * 1.3)
            .collect();
        Matrix::new(rows, cols, v).unwrap()
    }

    #[test]
    fn infonce_and_ntxent_gradients() {
        let s = mat(3, 4, 0.77);
        let pos = [1, 0, 3];
        let l = info_nce(&s, &pos, 0.5).unwrap();
        let f = |x: &[f64]| {
            info_nce(&Matrix::new(3, 4, x.to_vec()).unwrap(), &pos, 0.5)
                .unwrap()
                .value
        };
        check_grad(&f, s.as_slice(), &l.grad);

        let (hx, hy) = (mat(4, 3, 0.31), mat(4, 3, 0.53));
        let (_, gx, gy) = info_nce_cosine(&hx, &hy, 0.2).unwrap();
        let fx = |x: &[f64]| {
            info_nce_cosine(&Matrix::new(4, 3, x.to_vec()).unwrap(), &hy, 0.2)
                .unwrap()
                .0
        };
        check_grad(&fx, hx.as_slice(), gx.as_slice());
        let fy = |y: &[f64]| {
            info_nce_cosine(&hx, &Matrix::new(4, 3, y.to_vec()).unwrap(), 0.2)
                .unwrap()
                .0
        };
        check_grad(&fy, hy.as_slice(), gy.as_slice());

        let z = mat(6, 4, 0.91);
        let l = nt_xent(&z, 0.3).unwrap();
        let f = |x: &[f64]| {
            nt_xent(&Matrix::new(6, 4, x.to_vec()).unwrap(), 0.3)
                .unwrap()
                .value
        };
        check_grad(&f, z.as_slice(), &l.grad);
    }

    #[test]
    fn nce_gradients() {
        let (ed, ld) = ([0.4, -0.2, 1.1], [-1.0, -0.7, -2.0]);
        let (en, ln) = (
            [1.5, 0.3, 2.2, -0.4, 0.9, 1.0],
            [-0.5, -1.5, -0.9, -1.1, -0.8, -1.3],
        );
        let l = nce((&ed, &ld), (&en, &ln), 0.6, 2.0).unwrap();
        let f = |x: &[f64]| nce((x, &ld), (&en, &ln), 0.6, 2.0).unwrap().value;
        check_grad(&f, &ed, &l.d_data);
        let f = |x: &[f64]| nce((&ed, &ld), (x, &ln), 0.6, 2.0).unwrap().value;
        check_grad(&f, &en, &l.d_noise);
        let f = |x: &[f64]| nce((&ed, &ld), (&en, &ln), x[0], 2.0).unwrap().value;
        check_grad(&f, &[0.6], &[l.d_log_partition]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(hinge(f64::NAN, 0.0, 1.0).is_err());
        assert!(hinge(0.0, 0.0, -1.0)
            .unwrap_err()
            .to_string()
            .contains("margin"));
        assert!(nll_mmi(&[1.0], 0, 1.0).is_err());
        assert!(nll_mmi(&[1.0, 2.0], 2, 1.0)
            .unwrap_err()
            .to_string()
            .contains("target"));
        assert!(nll_mmi(&[1.0, 2.0], 0, 0.0)
            .unwrap_err()
            .to_string()
            .contains("beta"));
        assert!(lvq2(1.0, 0.0, 1.0)
            .unwrap_err()
            .to_string()
            .contains("e_neg"));
        assert!(info_nce(&mat(2, 3, 0.1), &[0, 5], 1.0).is_err());
        assert!(nt_xent(&mat(3, 2, 0.1), 1.0).is_err());
        assert!(info_nce_cosine(&Matrix::zeros(2, 3), &mat(2, 3, 0.2), 1.0).is_err());
        assert!(nce((&[0.0], &[]), (&[0.0], &[0.0]), 0.0, 1.0).is_err());
    }
}
