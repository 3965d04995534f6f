//! The pre-training pieces on tiny data: views have the configured shape; a short VICReg
//! run lowers its loss and makes two symmetry views of one trajectory closer (relative to
//! views of different trajectories) than an untrained encoder does; a longer tiny run gives a
//! representation from which a ridge probe regresses `ln ν` better than from an untrained
//! encoder.

use ami_jepa::{Vicreg, VicregConfig};
use ami_pde::dataset::Rng;
use ami_pde::{Equation, PdeConfig, PdeDataset, Trajectory};
use ami_pde_ssl::encoder::Trunk;
use ami_pde_ssl::experiment::{probe, splits, ExperimentConfig};
use ami_pde_ssl::pretrain::{batch_tensor, pretrain, seeded, PretrainConfig};
use ami_pde_ssl::timestep::TimestepConfig;
use ami_pde_ssl::views::{probe_view, random_view};
use ami_pde_ssl::{Augmentation, EncoderConfig, PdeEncoder, ViewConfig};
use burn::tensor::Device;

fn tiny_data() -> Vec<Trajectory> {
    let cfg = PdeConfig {
        grid: 64,
        dt: 0.01,
        save_every: 8,
        frames: 12,
        coef_min: 0.05,
        coef_max: 0.3,
        ..PdeConfig::default_for(Equation::Burgers)
    };
    let ds = PdeDataset::generate(&cfg, 32, 0, 2, &|_| {}).unwrap();
    (0..32).map(|i| ds.trajectory(i)).collect()
}

fn tiny_config() -> PretrainConfig {
    PretrainConfig {
        steps: 80,
        batch_size: 32,
        lr: 2e-3,
        view: ViewConfig {
            crop_frames: 8,
            x_stride: 1,
            boost_max: 0.2,
            noise_std: 0.01,
            probe_crops: 1,
            scale: 3.0,
        },
        encoder: EncoderConfig {
            channels: vec![4, 8],
            hidden: 32,
            repr_dim: 16,
            expander: vec![32],
            trunk: Trunk::PeriodicPool,
        },
        ..PretrainConfig::default()
    }
}

#[test]
fn views_have_the_configured_shape_and_the_probe_view_is_the_first_crop() {
    let data = tiny_data();
    let cfg = tiny_config().view;
    let mut rng = Rng::stream(0, 0);
    for aug in [Augmentation::Lie, Augmentation::CropNoise] {
        let v = random_view(&data[0], &cfg, aug, &mut rng).unwrap();
        assert_eq!(v.len(), 8 * 64);
        assert!(v.iter().all(|x| x.is_finite()));
    }
    let p = probe_view(&data[0], &cfg).unwrap();
    assert_eq!(p[70], (data[0].u[70] * 3.0) as f32);
    let bad = ViewConfig {
        x_stride: 3,
        ..cfg.clone()
    };
    let msg = bad.shape(12, 64).unwrap_err().to_string();
    assert!(
        msg.contains("view.x_stride") && msg.contains("divisor"),
        "{msg}"
    );
}

/// Mean distance between the representations of two Lie views of the same trajectory,
/// divided by the mean distance between views of different trajectories.
fn invariance_ratio(enc: &PdeEncoder, data: &[Trajectory], cfg: &ViewConfig) -> f64 {
    let device = Device::flex();
    let mut rng = Rng::stream(7, 7);
    let (mut va, mut vb) = (vec![], vec![]);
    for t in data {
        va.extend(random_view(t, cfg, Augmentation::Lie, &mut rng).unwrap());
        vb.extend(random_view(t, cfg, Augmentation::Lie, &mut rng).unwrap());
    }
    let n = data.len();
    let shape = cfg.shape(data[0].frames, data[0].grid).unwrap();
    let rep = |v: Vec<f32>| {
        enc.forward(batch_tensor(v, n, shape, &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let (za, zb) = (rep(va), rep(vb));
    let d = za.len() / n;
    let dist = |i: usize, j: usize| -> f64 {
        (0..d)
            .map(|k| f64::from(za[i * d + k] - zb[j * d + k]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let same: f64 = (0..n).map(|i| dist(i, i)).sum::<f64>() / n as f64;
    let other: f64 = (0..n).map(|i| dist(i, (i + 1) % n)).sum::<f64>() / n as f64;
    same / other
}

#[test]
fn a_tiny_pretraining_run_lowers_its_loss_and_brings_views_of_one_trajectory_together() {
    let data = tiny_data();
    let cfg = tiny_config();
    let mut losses = vec![];
    let objective = Vicreg(VicregConfig::default());
    let device = Device::flex();
    let enc = pretrain(&data, &cfg, &objective, &device, &mut |_, l| losses.push(l)).unwrap();
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    let shape = cfg.view.shape(12, 64).unwrap();
    let untrained = seeded(&device, cfg.seed, |d| {
        PdeEncoder::new(&cfg.encoder, shape, d)
    });
    let (r_trained, r_untrained) = (
        invariance_ratio(&enc, &data, &cfg.view),
        invariance_ratio(&untrained, &data, &cfg.view),
    );
    println!(
        "VICReg loss {first:.3} → {last:.3}; same/other view distance: trained {r_trained:.3}, \
         untrained {r_untrained:.3}"
    );
    assert!(last < 0.9 * first, "{first} → {last}");
    assert!(r_trained < r_untrained, "{r_trained} vs {r_untrained}");
}

/// Burgers on a 64-point grid, 16 frames: 512 unlabelled, 64 labelled, 128 test.
fn tiny_experiment() -> ExperimentConfig {
    ExperimentConfig {
        data: PdeConfig {
            grid: 64,
            dt: 0.02,
            save_every: 4,
            frames: 16,
            coef_min: 0.03,
            coef_max: 0.3,
            ..PdeConfig::default_for(Equation::Burgers)
        },
        unlabelled: 512,
        labels: vec![64],
        test: 128,
        pretrain: PretrainConfig {
            steps: 2000,
            batch_size: 32,
            lr: 2e-3,
            view: ViewConfig {
                crop_frames: 12,
                x_stride: 1,
                boost_max: 0.2,
                noise_std: 0.01,
                probe_crops: 3,
                scale: 3.3,
            },
            encoder: EncoderConfig {
                channels: vec![8, 16, 16],
                hidden: 64,
                repr_dim: 32,
                expander: vec![64, 64],
                trunk: Trunk::PeriodicPool,
            },
            ..PretrainConfig::default()
        },
        supervised_steps: 0,
        supervised_final_lr_ratio: 0.1,
        timestep: TimestepConfig::default(),
        timestep_histories: vec![1],
        seed: 0,
    }
}

#[test]
fn a_tiny_pretraining_run_gives_a_probe_that_beats_an_untrained_encoder() {
    let cfg = tiny_experiment();
    let s = splits(&cfg).unwrap();
    let device = Device::flex();
    let objective = Vicreg(VicregConfig::default());
    let enc = pretrain(
        &s.unlabelled,
        &cfg.pretrain,
        &objective,
        &device,
        &mut |_, _| {},
    )
    .unwrap();
    let shape = cfg.pretrain.view.shape(16, 64).unwrap();
    let untrained = seeded(&device, 0, |d| {
        PdeEncoder::new(&cfg.pretrain.encoder, shape, d)
    });
    let ssl = probe(&enc, &s, 64, &cfg.pretrain, &device).unwrap();
    let base = probe(&untrained, &s, 64, &cfg.pretrain, &device).unwrap();
    // Measured when written: 0.42 vs 1.04 (seeds 1 and 2 of the same run: 0.36, 0.62).
    println!("relative MSE of ln ν with 64 labels: pre-trained {ssl:.3}, untrained {base:.3}");
    assert!(ssl < 0.8 && ssl < 0.8 * base, "{ssl} vs {base}");
}
