//! SwAV against an f64 transcription of the loss (no f64 SwAV loss exists in `ami_energy`;
//! its codes come from `ami_energy::ssl::sinkhorn`), whose analytic gradients are themselves
//! checked against central finite differences with the codes held fixed (they carry no
//! gradient).

use super::super::testing::*;
use super::*;
use ami_energy::ssl::{sinkhorn as sinkhorn_f64, SinkhornParams};
use ami_energy::Matrix;
use burn::tensor::Device;

/// `(x / ‖x‖ row-wise, ‖x‖)`.
fn normalize(x: &Matrix) -> (Matrix, Vec<f64>) {
    let norms: Vec<f64> = x
        .row_iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let v = x
        .row_iter()
        .zip(&norms)
        .flat_map(|(r, n)| r.iter().map(move |v| v / n))
        .collect();
    (Matrix::new(x.rows(), x.cols(), v).unwrap(), norms)
}

/// The f64 loss: value, terms `[q1_p2, q2_p1]`, gradients for `z0`, `z1`, `c`. With `codes`
/// given, they replace the Sinkhorn codes (for finite differences at fixed codes).
struct Reference {
    value: f64,
    terms: [f64; 2],
    grads: [Matrix; 3],
    codes: [Matrix; 2],
}

fn reference(
    z: [&Matrix; 2],
    c: &Matrix,
    cfg: &SwavConfig,
    codes: Option<&[Matrix; 2]>,
) -> Reference {
    let (b, k) = (z[0].rows(), c.rows());
    let tau = cfg.temperature;
    let normed = z.map(normalize);
    let scores: Vec<Matrix> = normed.iter().map(|(h, _)| h.matmul_t(c).unwrap()).collect();
    let p = SinkhornParams {
        epsilon: cfg.epsilon,
        iters: cfg.sinkhorn_iterations,
    };
    let q = match codes {
        Some(q) => q.clone(),
        None => [
            sinkhorn_f64(&scores[0], &p).unwrap(),
            sinkhorn_f64(&scores[1], &p).unwrap(),
        ],
    };
    // Direction (u, v): the code of view u predicted from view v's scores.
    let mut terms = [0.0; 2];
    let mut g_scores = [Matrix::zeros(b, k), Matrix::zeros(b, k)];
    for (dir, (u, v)) in [(0, 1), (1, 0)].into_iter().enumerate() {
        for r in 0..b {
            let s = scores[v].row(r);
            let max = s.iter().copied().fold(f64::MIN, f64::max);
            let lse = s.iter().map(|x| ((x - max) / tau).exp()).sum::<f64>().ln() + max / tau;
            let qsum: f64 = q[u].row(r).iter().sum();
            for j in 0..k {
                let log_p = s[j] / tau - lse;
                terms[dir] -= q[u][(r, j)] * log_p / b as f64;
                // ∂(½·term)/∂s_v = (p·Σq − q)/(2Bτ).
                g_scores[v][(r, j)] += (log_p.exp() * qsum - q[u][(r, j)]) / (2.0 * b as f64 * tau);
            }
        }
    }
    let mut g_c = Matrix::zeros(k, c.cols());
    let mut g_z = Vec::new();
    for v in 0..2 {
        let (h, norms) = &normed[v];
        let gh = g_scores[v].matmul(c).unwrap();
        let gc = g_scores[v].transpose().matmul(h).unwrap();
        g_c.as_mut_slice()
            .iter_mut()
            .zip(gc.as_slice())
            .for_each(|(a, b)| *a += b);
        // Through the normalisation: (g − ẑ(ẑ·g))/‖z‖.
        let mut gz = gh.clone();
        for r in 0..b {
            let dot: f64 = h.row(r).iter().zip(gh.row(r)).map(|(a, b)| a * b).sum();
            for (j, g) in gz.row_mut(r).iter_mut().enumerate() {
                *g = (gh[(r, j)] - h[(r, j)] * dot) / norms[r];
            }
        }
        g_z.push(gz);
    }
    let [g0, g1]: [Matrix; 2] = g_z.try_into().unwrap();
    Reference {
        value: 0.5 * (terms[0] + terms[1]),
        terms,
        grads: [g0, g1, g_c],
        codes: q,
    }
}

/// Rows of `c` l2-normalised (what the loop does before the forward).
fn unit_rows(c: Matrix) -> Matrix {
    normalize(&c).0
}

#[test]
fn the_f64_reference_gradients_match_finite_differences() {
    let cfg = SwavConfig {
        prototypes: 5,
        ..Default::default()
    };
    let (z0, z1) = (random(4, 3, 1, 0.2), random(4, 3, 2, -0.1));
    let c = unit_rows(random(5, 3, 3, 0.0));
    let r = reference([&z0, &z1], &c, &cfg, None);
    let inputs = [z0.clone(), z1.clone(), c.clone()];
    for (which, g) in r.grads.iter().enumerate() {
        for i in 0..g.as_slice().len() {
            let f = |h: f64| {
                let mut x = inputs.clone();
                x[which].as_mut_slice()[i] += h;
                reference([&x[0], &x[1]], &x[2], &cfg, Some(&r.codes)).value
            };
            let fd = (f(1e-6) - f(-1e-6)) / 2e-6;
            let gmax = g.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let gi = g.as_slice()[i];
            assert!(
                (fd - gi).abs() <= 1e-6 * gi.abs().max(1e-2 * gmax),
                "{which}[{i}]: {gi} vs {fd}"
            );
        }
    }
}

#[test]
fn sinkhorn_matches_the_f64_reference() {
    let dev = Device::flex();
    for (b, k, seed, epsilon, iters) in [
        (6, 4, 1, 0.05, 3),
        (3, 10, 2, 0.05, 3),
        (8, 8, 3, 0.5, 0),
        (5, 2, 4, 0.1, 7),
    ] {
        // Cosine-like scores in [−1, 1].
        let s = random(b, k, seed, 0.0);
        let s = Matrix::new(b, k, s.as_slice().iter().map(|v| v / 1.5).collect()).unwrap();
        let want = sinkhorn_f64(&s, &SinkhornParams { epsilon, iters }).unwrap();
        let got = matrix(sinkhorn(tensor(&s, &dev), epsilon, iters));
        assert_matrix("sinkhorn", &got, &want);
    }
}

/// Subtracting the largest score cancels in the first normalisation, and keeps scores far
/// above `87·ε` finite in f32 (where the official code overflows to NaN).
#[test]
fn sinkhorn_is_invariant_to_a_common_shift() {
    let dev = Device::flex();
    let s = random(5, 4, 9, 0.0);
    let shifted = Matrix::new(5, 4, s.as_slice().iter().map(|v| v + 100.0).collect()).unwrap();
    let q = matrix(sinkhorn(tensor(&s, &dev), 0.05, 3));
    let qs = matrix(sinkhorn(tensor(&shifted, &dev), 0.05, 3));
    assert!(qs.as_slice().iter().all(|v| v.is_finite()));
    // f32 rounds the shifted scores (ulp of 100 ≈ 8e-6, /ε ≈ 2e-4 in the exponent).
    for (a, b) in q.as_slice().iter().zip(qs.as_slice()) {
        assert!((a - b).abs() <= 2e-3 * a.abs().max(1e-3), "{a} vs {b}");
    }
}

/// Value, terms and the gradients of both views and of the prototypes against the f64
/// reference, D ≠ B and K ≠ B.
#[test]
fn matches_the_f64_reference_with_gradients() {
    for (b, d, k, seed, temperature) in [(6, 4, 5, 1, 0.1), (3, 8, 16, 2, 0.1), (10, 3, 4, 3, 0.5)]
    {
        let cfg = SwavConfig {
            prototypes: k,
            temperature,
            ..Default::default()
        };
        let (a0, a1) = (random(b, d, seed, 0.3), random(b, d, seed + 20, -0.2));
        let cm = unit_rows(random(k, d, seed + 40, 0.0));
        let want = reference([&a0, &a1], &cm, &cfg, None);
        let (z0, z1, c) = (leaf(&a0), leaf(&a1), leaf(&cm));
        let loss = Swav(cfg.clone())
            .loss(SslInputs {
                z: vec![z0.clone(), z1.clone()],
                prototypes: Some(c.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_value("loss", scalar(&loss.total), want.value);
        assert_value("q1_p2", term(&loss, "q1_p2"), want.terms[0]);
        assert_value("q2_p1", term(&loss, "q2_p1"), want.terms[1]);
        assert_weighted_terms(&loss, &[("q1_p2", 0.5), ("q2_p1", 0.5)]);
        let g = grads(&loss, &[&z0, &z1, &c]);
        for (i, what) in ["z0", "z1", "prototypes"].into_iter().enumerate() {
            assert_matrix(what, g[i].as_ref().unwrap(), &want.grads[i]);
        }
    }
}

#[test]
fn needs_and_input_checks() {
    let obj = Swav::default();
    assert_eq!(
        obj.needs(),
        SslNeeds {
            prototypes: Some(64),
            ..SslNeeds::PLAIN
        }
    );
    let obj = Swav(SwavConfig {
        prototypes: 5,
        ..Default::default()
    });
    let dev = Device::flex();
    let z = |n, d| tensor(&random(n, d, 5, 0.0), &dev);
    let e = err(obj.loss(SslInputs::pair(z(4, 3), z(4, 3))));
    assert!(e.contains("swav inputs `prototypes`"), "{e}");
    let e = err(obj.loss(SslInputs {
        prototypes: Some(z(5, 3)),
        ..Default::default()
    }));
    assert!(e.contains("swav inputs `z`"), "{e}");
    let with = |c| SslInputs {
        prototypes: Some(c),
        ..SslInputs::pair(z(4, 3), z(4, 3))
    };
    let e = err(obj.loss(with(z(6, 3))));
    assert!(e.contains("`prototypes`") && e.contains("[5, 3]"), "{e}");
    let e = err(obj.loss(with(z(5, 2))));
    assert!(e.contains("`prototypes`") && e.contains("[5, 2]"), "{e}");
    assert!(obj.loss(with(z(5, 3))).is_ok());
    let e = err(obj.loss(SslInputs {
        prototypes: Some(z(5, 3)),
        ..SslInputs::pair(z(4, 3), z(3, 3))
    }));
    assert!(e.contains("`z[1]`"), "{e}");
    for (cfg, field) in [
        (
            SwavConfig {
                prototypes: 0,
                ..Default::default()
            },
            "swav.prototypes",
        ),
        (
            SwavConfig {
                temperature: 0.0,
                ..Default::default()
            },
            "swav.temperature",
        ),
        (
            SwavConfig {
                epsilon: -1.0,
                ..Default::default()
            },
            "swav.epsilon",
        ),
    ] {
        assert!(err(Swav(cfg).loss(SslInputs::default())).contains(field));
    }
}
