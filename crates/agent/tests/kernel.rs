//! The dense CPU kernel against burn's generic path: the JEPA world model's rollout (residual
//! predictor, action scale, action repeat 2), deterministic and with a discrete latent (every
//! branch against `Jepa::predict_latent`). (The gradient plan's tests are in `ami-bench`.)

use ami_agent::{JepaWorldModel, Perception, WorldModel};
use ami_jepa::burn::tensor::{Device, Distribution, Tensor, TensorData};
use ami_jepa::{Jepa, JepaConfig, LatentConfig};

/// `|a − b| ≤ tol · max|b|` elementwise.
fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "[{i}] {x} vs {y} (scale {scale})"
        );
    }
}

fn small_jepa(dev: &Device) -> Jepa {
    dev.seed(31);
    let cfg = JepaConfig {
        obs_dim: 4,
        action_dim: 2,
        repr_dim: 9,
        encoder_hidden: vec![16],
        predictor_hidden: vec![21, 13],
        idm_hidden: vec![8],
        action_scale: 0.25,
        ..JepaConfig::default()
    };
    cfg.init(dev).unwrap()
}

fn latent_jepa(dev: &Device, k: usize, hidden: Vec<usize>, d: usize) -> Jepa {
    dev.seed(32 + k as u64);
    let cfg = JepaConfig {
        obs_dim: 4,
        action_dim: 2,
        repr_dim: d,
        encoder_hidden: vec![16],
        predictor_hidden: hidden,
        idm_hidden: vec![8],
        action_scale: 0.25,
        latent: LatentConfig::discrete(k),
        ..JepaConfig::default()
    };
    cfg.init(dev).unwrap()
}

/// Candidate `i`'s rollout by hand with burn: `s ← Pred(s, a_t, e_{z_t})`, each action held
/// `repeat` steps.
fn burn_latent_rollout(
    jepa: &Jepa,
    s0: &[f32],
    actions: &[f32],
    latents: &[u32],
    repeat: usize,
) -> Vec<f32> {
    let dev = Device::flex();
    let (d, k) = (s0.len(), jepa.latent_count());
    let row = |v: Vec<f32>, w: usize| Tensor::<2>::from_data(TensorData::new(v, [1, w]), &dev);
    let mut s = row(s0.to_vec(), d);
    let mut out = Vec::new();
    for (t, &z) in latents.iter().enumerate() {
        let mut e = vec![0.0; k];
        e[z as usize] = 1.0;
        for _ in 0..repeat {
            let a = row(actions[t * 2..t * 2 + 2].to_vec(), 2);
            s = jepa.predict_latent(s, a, row(e.clone(), k));
        }
        out.extend(s.clone().into_data().try_to_vec::<f32>().unwrap());
    }
    out
}

/// The dense kernel's latent rollout equals `Pred(s, a, z)` of the burn model for every branch
/// (constant branches and mixed sequences), and the generic path's; `rollout` of a latent model
/// follows branch 0; out-of-range latents are errors; the prior is a distribution.
#[test]
fn fast_latent_rollout_equals_burn_predict_latent_for_every_branch() {
    let dev = Device::flex();
    for k in [2, 3, 5] {
        let jepa = latent_jepa(&dev, k, vec![21, 13], 9);
        let fast = JepaWorldModel::new(jepa.clone(), dev.clone(), 4, 9, 2, 2).unwrap();
        let generic = JepaWorldModel::generic(jepa.clone(), dev.clone(), 4, 9, 2, 2).unwrap();
        assert_eq!((fast.latent_count(), generic.latent_count()), (k, k));
        let s0 = fast.encode(&[0.3, -0.2, 0.9, 0.1]).unwrap();
        let (n, h, d) = (k + 3, 4, 9);
        let actions = normal(n * h * 2, &dev);
        // Candidates 0..k: constant branch j; the others: mixed branches.
        let latents: Vec<u32> = (0..n * h)
            .map(|p| {
                let (i, t) = (p / h, p % h);
                (if i < k { i } else { i * 7 + t * 3 } % k) as u32
            })
            .collect();
        let got = fast.rollout_latent(&s0, &actions, &latents, n, h).unwrap();
        let reference = generic
            .rollout_latent(&s0, &actions, &latents, n, h)
            .unwrap();
        assert_close(&got, &reference, 1e-4);
        for i in 0..n {
            let acts = &actions[i * h * 2..(i + 1) * h * 2];
            let want = burn_latent_rollout(&jepa, &s0, acts, &latents[i * h..(i + 1) * h], 2);
            assert_close(&got[i * h * d..(i + 1) * h * d], &want, 1e-4);
        }
        // Branches differ (the test is not comparing one function with itself).
        assert!(got[..h * d]
            .iter()
            .zip(&got[h * d..2 * h * d])
            .any(|(x, y)| (x - y).abs() > 1e-3));
        let zeros = vec![0u32; n * h];
        let branch0 = fast.rollout_latent(&s0, &actions, &zeros, n, h).unwrap();
        assert_close(&fast.rollout(&s0, &actions, n, h).unwrap(), &branch0, 1e-6);
        assert_close(
            &generic.rollout(&s0, &actions, n, h).unwrap(),
            &branch0,
            1e-4,
        );
        let mut bad = zeros.clone();
        bad[n * h - 1] = k as u32;
        for m in [&fast, &generic] {
            let err = m.rollout_latent(&s0, &actions, &bad, n, h).unwrap_err();
            assert!(err.to_string().contains("latent"), "{err}");
        }
        let states: Vec<f32> = s0.iter().cycle().take(n * d).copied().collect();
        let prior = fast.latent_prior(&states, &actions[..n * 2], n).unwrap();
        assert_eq!(prior.len(), n * k);
        for row in prior.chunks(k) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        }
    }
}

/// Large enough to split the candidates across cores: the split latent rollout equals one
/// candidate at a time.
#[test]
fn split_latent_rollout_matches_one_candidate_at_a_time() {
    let dev = Device::flex();
    let (k, d, n, h) = (3, 32, 256, 3);
    let jepa = latent_jepa(&dev, k, vec![128, 128], d);
    let fast = JepaWorldModel::new(jepa, dev.clone(), 4, d, 2, 1).unwrap();
    let s0 = fast.encode(&[0.1, 0.4, -0.3, 0.8]).unwrap();
    let actions = normal(n * h * 2, &dev);
    let latents: Vec<u32> = (0..n * h).map(|p| ((p * 5 + p / 7) % k) as u32).collect();
    let all = fast.rollout_latent(&s0, &actions, &latents, n, h).unwrap();
    for i in [0, 1, 31, 32, 100, 200, 255] {
        let one = fast
            .rollout_latent(
                &s0,
                &actions[i * h * 2..(i + 1) * h * 2],
                &latents[i * h..(i + 1) * h],
                1,
                h,
            )
            .unwrap();
        assert_close(&all[i * h * d..(i + 1) * h * d], &one, 1e-5);
    }
}

fn normal(n: usize, dev: &Device) -> Vec<f32> {
    Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), dev)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn fast_jepa_rollout_equals_burn_rollout_with_action_repeat() {
    let dev = Device::flex();
    let jepa = small_jepa(&dev);
    let fast = JepaWorldModel::new(jepa.clone(), dev.clone(), 4, 9, 2, 2).unwrap();
    let generic = JepaWorldModel::generic(jepa, dev.clone(), 4, 9, 2, 2).unwrap();
    assert!(fast.is_fast() && !generic.is_fast());
    let s0 = fast.encode(&[0.3, -0.2, 0.9, 0.1]).unwrap();
    let (n, h) = (7, 5);
    let actions = normal(n * h * 2, &dev);
    let want = generic.rollout(&s0, &actions, n, h).unwrap();
    let got = fast.rollout(&s0, &actions, n, h).unwrap();
    assert_close(&got, &want, 1e-4);
    // The states move (the comparison is not trivially between constants).
    assert!(want
        .iter()
        .zip(s0.iter().cycle())
        .any(|(x, y)| (x - y).abs() > 1e-2));
}

/// Both product paths of [`DenseMlp`] — the packed AVX-512F kernel and the `gemm` fallback —
/// against a float64 reference MLP written out naively here, on every threading choice and on
/// shapes with edges (widths not multiples of the 16/32-lane panels, row counts around the
/// 12-row register block, products above the threading threshold). The fallback runs on every
/// machine; the packed path where the CPU has AVX-512F, where it is also compared with the
/// fallback on the same inputs.
mod kernel_paths {
    use ami_agent::kernel::gemm::Threads;
    use ami_agent::kernel::packed::PackedWeights;
    use ami_agent::kernel::{BackwardOptions, BackwardScratch, DenseLayer, DenseMlp, KernelPath};

    /// `(widths, rows)`: odd widths and 7 or 25 rows; then a product above
    /// `PARALLEL_MIN_MACS` so that the default threading splits it.
    const SHAPES: [(&[usize], usize); 3] = [
        (&[13, 37, 33, 5], 7),
        (&[13, 37, 33, 5], 25),
        (&[130, 512, 64], 40),
    ];

    const THREADS: [Option<Threads>; 4] = [
        None,
        Some(Threads::One),
        Some(Threads::Gemm),
        Some(Threads::Columns),
    ];

    /// Deterministic values in [−1, 1].
    fn wave(n: usize, phase: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.377 + phase).sin()).collect()
    }

    fn layers(dims: &[usize]) -> Vec<DenseLayer> {
        dims.windows(2)
            .enumerate()
            .map(|(l, w)| {
                let scale = 1.0 / (w[0] as f32).sqrt();
                let weight = wave(w[0] * w[1], l as f32)
                    .iter()
                    .map(|v| v * scale)
                    .collect();
                DenseLayer::new(weight, wave(w[1], 0.5 + l as f32), w[0], w[1]).unwrap()
            })
            .collect()
    }

    /// What every path must reproduce, in float64.
    struct Reference {
        out: Vec<f64>,
        g_in: Vec<f64>,
        /// `(∂L/∂W, ∂L/∂b)` per layer.
        grads: Vec<(Vec<f64>, Vec<f64>)>,
    }

    /// `z_l = h_{l-1} W_l + b_l`, `h_l = relu(z_l)` but the last; backward from `g_out`:
    /// `∂W_l = h_{l-1}ᵀ ḡ_l`, `∂b_l = Σ_rows ḡ_l`, `ḡ_{l-1} = ḡ_l W_lᵀ ⊙ 1[h_{l-1} > 0]`.
    fn reference(layers: &[DenseLayer], x: &[f32], g_out: &[f32], rows: usize) -> Reference {
        let mut h: Vec<Vec<f64>> = vec![x.iter().map(|v| *v as f64).collect()];
        for (l, layer) in layers.iter().enumerate() {
            let (k, n) = (layer.fan_in, layer.fan_out);
            let input = &h[l];
            let mut z = vec![0.0f64; rows * n];
            for r in 0..rows {
                for j in 0..n {
                    let dot: f64 = (0..k)
                        .map(|p| input[r * k + p] * layer.weight[p * n + j] as f64)
                        .sum();
                    let v = dot + layer.bias[j] as f64;
                    z[r * n + j] = if l + 1 < layers.len() { v.max(0.0) } else { v };
                }
            }
            h.push(z);
        }
        let out = h.pop().unwrap();
        let mut g: Vec<f64> = g_out.iter().map(|v| *v as f64).collect();
        let mut grads = vec![(Vec::new(), Vec::new()); layers.len()];
        for (l, layer) in layers.iter().enumerate().rev() {
            let (k, n) = (layer.fan_in, layer.fan_out);
            let input = &h[l];
            let mut dw = vec![0.0f64; k * n];
            let mut db = vec![0.0f64; n];
            let mut below = vec![0.0f64; rows * k];
            for r in 0..rows {
                for j in 0..n {
                    let gv = g[r * n + j];
                    db[j] += gv;
                    for p in 0..k {
                        dw[p * n + j] += input[r * k + p] * gv;
                        below[r * k + p] += gv * layer.weight[p * n + j] as f64;
                    }
                }
            }
            if l > 0 {
                for (b, hv) in below.iter_mut().zip(input) {
                    if *hv <= 0.0 {
                        *b = 0.0;
                    }
                }
            }
            grads[l] = (dw, db);
            g = below;
        }
        Reference {
            out,
            g_in: g,
            grads,
        }
    }

    /// `|got − want| ≤ 1e-5·max|want|` elementwise (float32 sums of at most 512 products).
    fn assert_close(what: &str, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * scale,
                "{what}[{i}]: {g} vs reference {w} (scale {scale})"
            );
        }
    }

    /// Everything one path computes for `x` and `g_out`, per threading choice.
    fn run(mlp: &DenseMlp, x: &[f32], g_out: &[f32], rows: usize) -> Vec<Vec<Vec<f32>>> {
        THREADS
            .iter()
            .map(|&threads| {
                let mut acts = mlp.activations(rows);
                let mut out = vec![f32::NAN; rows * mlp.output_dim()];
                mlp.forward_with(x, rows, &mut acts, &mut out, threads)
                    .unwrap();
                let mut scratch = BackwardScratch::default();
                let mut g_in = vec![f32::NAN; rows * mlp.input_dim()];
                mlp.backward_input_with(&acts, g_out, rows, &mut scratch, &mut g_in, threads)
                    .unwrap();
                let mut grads = mlp.zero_grads();
                let mut g_in2 = vec![f32::NAN; rows * mlp.input_dim()];
                let opts = BackwardOptions {
                    threads,
                    accumulate: false,
                };
                mlp.backward_params_with(
                    x,
                    &acts,
                    g_out,
                    rows,
                    &mut scratch,
                    &mut grads,
                    Some(&mut g_in2),
                    opts,
                )
                .unwrap();
                let mut all = vec![out, g_in, g_in2];
                for g in grads {
                    all.push(g.weight);
                    all.push(g.bias);
                }
                all
            })
            .collect()
    }

    /// Checks `path` against the reference on every shape; returns its outputs.
    fn check_path(path: KernelPath) -> Vec<Vec<Vec<Vec<f32>>>> {
        SHAPES
            .iter()
            .map(|&(dims, rows)| {
                let layers = layers(dims);
                let x = wave(rows * dims[0], 0.1);
                let g_out = wave(rows * dims[dims.len() - 1], 0.7);
                let want = reference(&layers, &x, &g_out, rows);
                let mlp = DenseMlp::from_layers_on(layers, path).unwrap();
                assert_eq!(mlp.kernel_path(), path);
                let got = run(&mlp, &x, &g_out, rows);
                for (threads, outs) in THREADS.iter().zip(&got) {
                    let what = |s: &str| format!("{path:?} {dims:?}×{rows} {threads:?} {s}");
                    assert_close(&what("forward"), &outs[0], &want.out);
                    assert_close(&what("backward_input"), &outs[1], &want.g_in);
                    assert_close(&what("backward_params g_in"), &outs[2], &want.g_in);
                    for (l, (dw, db)) in want.grads.iter().enumerate() {
                        assert_close(&what(&format!("∂W_{l}")), &outs[3 + 2 * l], dw);
                        assert_close(&what(&format!("∂b_{l}")), &outs[4 + 2 * l], db);
                    }
                }
                got
            })
            .collect()
    }

    #[test]
    fn fallback_path_matches_the_reference_on_every_machine() {
        check_path(KernelPath::Fallback);
    }

    #[test]
    fn packed_path_matches_the_reference_and_the_fallback_where_avx512f_is_present() {
        if !PackedWeights::usable() {
            eprintln!(
                "SKIPPED packed kernel path: this CPU has no AVX-512F (the fallback is tested)"
            );
            let err = DenseMlp::from_layers_on(layers(&[3, 2]), KernelPath::Packed).unwrap_err();
            assert!(err.to_string().contains("AVX-512F"), "{err}");
            assert_eq!(KernelPath::best(), KernelPath::Fallback);
            return;
        }
        assert_eq!(KernelPath::best(), KernelPath::Packed);
        let packed = check_path(KernelPath::Packed);
        let fallback = check_path(KernelPath::Fallback);
        for (shape, (p, f)) in SHAPES.iter().zip(packed.iter().zip(&fallback)) {
            for (threads, (p, f)) in THREADS.iter().zip(p.iter().zip(f)) {
                for (i, (p, f)) in p.iter().zip(f).enumerate() {
                    let f: Vec<f64> = f.iter().map(|v| *v as f64).collect();
                    assert_close(
                        &format!("packed vs fallback {shape:?} {threads:?} output {i}"),
                        p,
                        &f,
                    );
                }
            }
        }
    }
}
