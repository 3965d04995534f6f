//! The conv encoder for pixel observations: config checks, shapes over any batch rank, the
//! safetensors layout, checkpoint round-trip, a finite-difference gradient check, and a small
//! training run on rendered frames that learns without collapse.

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::checkpoint::{load_model, read_safetensors, save_trainer};
use ami_jepa::{EncoderKind, JepaConfig, ObjectiveConfig, TrainConfig, Trainer, Trajectories};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const RES: usize = 8;
const OBS: usize = 2 * RES * RES;

/// Frame of a point at `p ∈ [0, RES)²`: channel 0 a Gaussian blob (σ = 1 px), channel 1 a
/// fixed border "wall".
fn frame(p: [f32; 2]) -> Vec<f32> {
    let mut f = vec![0f32; OBS];
    for y in 0..RES {
        for x in 0..RES {
            let d2 = (x as f32 - p[0]).powi(2) + (y as f32 - p[1]).powi(2);
            f[y * RES + x] = (-d2 / 2.0).exp();
            let border = x == 0 || y == 0 || x == RES - 1 || y == RES - 1;
            f[RES * RES + y * RES + x] = if border { 1.0 } else { 0.0 };
        }
    }
    f
}

/// Random walks of the point, observed as frames.
fn pixel_walks(n_traj: usize, t: usize, seed: u64) -> Trajectories {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut observations, mut actions) = (Vec::new(), Vec::new());
    let hi = (RES - 1) as f32;
    for _ in 0..n_traj {
        let mut p = [rng.gen_range(1.0..hi - 1.0), rng.gen_range(1.0..hi - 1.0)];
        observations.extend(frame(p));
        for _ in 0..t {
            let a = [rng.gen_range(-1.0..1.0f32), rng.gen_range(-1.0..1.0f32)];
            p = [
                (p[0] + a[0]).clamp(1.0, hi - 1.0),
                (p[1] + a[1]).clamp(1.0, hi - 1.0),
            ];
            actions.extend_from_slice(&a);
            observations.extend(frame(p));
        }
    }
    Trajectories {
        observations: observations.into(),
        actions,
        n_traj,
        traj_len: t,
        obs_dim: OBS,
        action_dim: 2,
        readout: Vec::new(),
        readout_dim: 0,
    }
}

fn conv_config() -> JepaConfig {
    JepaConfig {
        obs_dim: OBS,
        obs_shape: vec![2, RES, RES],
        encoder: EncoderKind::Auto,
        conv_channels: vec![4, 8],
        repr_dim: 8,
        encoder_hidden: vec![32],
        predictor_hidden: vec![64],
        idm_hidden: vec![32],
        ..JepaConfig::default()
    }
}

fn train_config(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 32,
        rollout_steps: 4,
        warmup_steps: 10,
        log_every: 10,
        ..TrainConfig::default()
    }
}

fn to_vec<const N: usize>(t: Tensor<N>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn auto_resolves_by_observation_shape_and_bad_configs_name_the_field() {
    assert_eq!(conv_config().resolved_encoder(), EncoderKind::Conv);
    let state = JepaConfig::default();
    assert_eq!(state.resolved_encoder(), EncoderKind::Mlp);
    let device = Device::flex();
    assert!(conv_config().init(&device).unwrap().conv.is_some());
    assert!(state.init(&device).unwrap().conv.is_none());

    let conv_on_state = JepaConfig {
        encoder: EncoderKind::Conv,
        ..JepaConfig::default()
    };
    let err = conv_on_state.init(&device).err().unwrap().to_string();
    assert!(err.contains("model.encoder"), "{err}");
    let bad_shape = JepaConfig {
        obs_shape: vec![2, RES, RES + 1],
        ..conv_config()
    };
    let err = bad_shape.init(&device).err().unwrap().to_string();
    assert!(err.contains("model.obs_shape"), "{err}");
    let no_channels = JepaConfig {
        conv_channels: vec![],
        ..conv_config()
    };
    let err = no_channels.init(&device).err().unwrap().to_string();
    assert!(err.contains("model.conv_channels"), "{err}");
}

/// `model.pool`: the conv layers see the image averaged over pool × pool blocks. Images with
/// the same block means (a permutation within blocks, the blocks' means themselves) encode
/// identically with pooling and differently without it, and the head's input is sized for the
/// pooled image (8 / 4 = 2 → 1 after one stride-2 layer).
#[test]
fn pooling_averages_blocks_before_the_conv_layers() {
    let device = Device::flex();
    let pooled = JepaConfig {
        pool: 4,
        conv_channels: vec![3],
        ..conv_config()
    };
    let model = pooled.init(&device).unwrap();
    assert_eq!(pooled.pooled_shape([2, RES, RES]), [2, 2, 2]);
    let head_in = model.encoder.layers[0].weight.val().dims()[0];
    assert_eq!(
        head_in, 3,
        "3 channels × 1 × 1 after pooling to 2 × 2 and one conv layer"
    );
    // Image b moves every pixel of a to another place within its 4 × 4 block.
    let a: Vec<f32> = (0..OBS).map(|k| ((k * 37) % 11) as f32 / 11.0).collect();
    let mut b = a.clone();
    for c in 0..2 {
        for i in 0..RES {
            for j in 0..RES {
                let (bi, bj) = (i / 4 * 4 + (i + 1) % 4, j / 4 * 4 + (j + 2) % 4);
                b[c * RES * RES + bi * RES + bj] = a[c * RES * RES + i * RES + j];
            }
        }
    }
    assert_ne!(a, b);
    let enc = |m: &ami_jepa::Jepa, x: &[f32]| {
        to_vec(m.encode(Tensor::<2>::from_data(
            TensorData::new(x.to_vec(), [1, OBS]),
            &device,
        )))
    };
    // Image m fills every block with its mean (equal under averaging, not under max pooling).
    let mut m = vec![0f32; OBS];
    for c in 0..2 {
        for bi in 0..2 {
            for bj in 0..2 {
                let cells: Vec<usize> = (0..16)
                    .map(|k| c * RES * RES + (bi * 4 + k / 4) * RES + bj * 4 + k % 4)
                    .collect();
                let mean = cells.iter().map(|&k| a[k]).sum::<f32>() / 16.0;
                cells.iter().for_each(|&k| m[k] = mean);
            }
        }
    }
    let ea = enc(&model, &a);
    for other in [enc(&model, &b), enc(&model, &m)] {
        for (x, y) in ea.iter().zip(&other) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
    let plain = conv_config().init(&device).unwrap();
    assert_ne!(
        enc(&plain, &a),
        enc(&plain, &b),
        "without pooling they differ"
    );
    let err = JepaConfig {
        pool: RES + 1,
        ..conv_config()
    }
    .init(&device)
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("model.pool"), "{err}");
}

#[test]
fn encoding_a_batch_of_sequences_equals_encoding_the_flat_batch() {
    let device = Device::flex();
    let model = conv_config().init(&device).unwrap();
    let data = pixel_walks(3, 4, 5);
    let obs = data.observations.to_vec();
    let seq = Tensor::<3>::from_data(TensorData::new(obs.clone(), [3, 5, OBS]), &device);
    let flat = Tensor::<2>::from_data(TensorData::new(obs, [15, OBS]), &device);
    let s_seq = model.encode(seq);
    assert_eq!(s_seq.dims(), [3, 5, 8]);
    let a = to_vec(s_seq);
    let b = to_vec(model.encode(flat));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

/// Gradient of `Σ Enc(o)²` with respect to the pixels, autodiff vs central differences.
#[test]
fn encoder_input_gradient_matches_finite_differences() {
    let device = Device::flex().autodiff();
    let model = conv_config().init(&device).unwrap();
    let obs = frame([3.3, 4.1]);
    let f = |v: &[f32]| {
        let x = Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, OBS]), &device);
        model.encode(x.require_grad())
    };
    let x = Tensor::<2>::from_data(TensorData::new(obs.clone(), [1, OBS]), &device).require_grad();
    let grads = model.encode(x.clone()).powi_scalar(2).sum().backward();
    let g = to_vec(x.grad(&grads).unwrap());
    let value = |v: &[f32]| to_vec(f(v).powi_scalar(2).sum())[0] as f64;
    let h = 1e-2f32;
    for i in (0..OBS).step_by(7) {
        let (mut p, mut m) = (obs.clone(), obs.clone());
        p[i] += h;
        m[i] -= h;
        let fd = (value(&p) - value(&m)) / (2.0 * h as f64);
        assert!(
            (fd - g[i] as f64).abs() < 2e-2 * (1.0 + fd.abs()),
            "pixel {i}: autodiff {} vs finite difference {fd}",
            g[i]
        );
    }
}

#[test]
fn conv_weights_are_saved_in_pytorch_conv2d_layout_and_round_trip() {
    let trainer = Trainer::new(
        conv_config(),
        ObjectiveConfig::default(),
        train_config(1),
        &Device::flex(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&trainer, dir.path()).unwrap();
    let t = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(t["encoder_conv.layers.0.weight"].0, vec![4, 2, 3, 3]);
    assert_eq!(t["encoder_conv.layers.1.weight"].0, vec![8, 4, 3, 3]);
    assert_eq!(t["encoder_conv.layers.1.bias"].0, vec![8]);
    // 8×8 → 4×4 → 2×2 with 8 channels: the MLP head reads 32 features.
    assert_eq!(t["encoder.layers.0.weight"].0, vec![32, 32]);
    let conv = trainer.model().conv.as_ref().unwrap();
    let w = to_vec(conv.layers[1].weight.val());
    assert_eq!(t["encoder_conv.layers.1.weight"].1, w);

    let (loaded, meta) = load_model(dir.path(), &Device::flex()).unwrap();
    assert_eq!(meta.model.obs_shape, vec![2, RES, RES]);
    let obs = frame([2.0, 5.0]);
    let enc = |m: &ami_jepa::Jepa| {
        let x = Tensor::<2>::from_data(TensorData::new(obs.clone(), [1, OBS]), &Device::flex());
        to_vec(m.encode(x))
    };
    let original = trainer.inference_model();
    assert_eq!(enc(&loaded), enc(&original));
}

#[test]
fn conv_jepa_learns_from_pixels_without_collapse() {
    let data = pixel_walks(150, 12, 1);
    let steps = 800;
    let mut trainer = Trainer::new(
        conv_config(),
        ObjectiveConfig::default(),
        train_config(steps),
        &Device::flex(),
    )
    .unwrap();
    let logs: Vec<_> = (0..steps)
        .map(|_| trainer.train_step(&data).unwrap())
        .collect();
    let mean = |l: &[ami_jepa::StepLog]| l.iter().map(|l| l.loss).sum::<f32>() / l.len() as f32;
    let (early, late) = (mean(&logs[..20]), mean(&logs[steps - 20..]));
    assert!(
        late < 0.5 * early,
        "loss did not fall enough: {early} -> {late}"
    );
    let c = logs[steps - 1]
        .collapse
        .expect("diagnostics on the last step");
    assert!(c.mean_std > 0.3, "representations collapsed: {c:?}");
    assert!(c.effective_rank > 1.5, "dimensional collapse: {c:?}");
}
