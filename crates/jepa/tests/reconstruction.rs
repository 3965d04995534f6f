//! The pixel-reconstruction term of a reconstruction world model (`objective.reconstruction`,
//! a decoder `dec(s) ≈ õ` on encoded and predicted states):
//!
//! * weight 0 leaves the objective exactly as before, with or without a decoder (the decoder
//!   draws its weights after every other module);
//! * with weight η > 0 the term equals `mean_t ‖dec(s_t) − õ_t‖² + mean_{t≥1} ‖dec(ŝ_t) − õ_t‖²`
//!   computed by hand from the model's own calls, and the total gains exactly `η ·` it;
//! * a model without a decoder is an error naming `model.decoder`;
//! * training with the term alone lowers it.

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::{
    jepa_loss_readout, Jepa, JepaConfig, ObjectiveConfig, TrainConfig, Trainer, Trajectories,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn tensor<const N: usize>(v: Vec<f32>, shape: [usize; N], dev: &Device) -> Tensor<N> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().try_to_vec::<f32>().unwrap()[0]
}

/// Random walks in the plane observed as `[x, y, x·y, x − y]`.
fn walks(n_traj: usize, t: usize, seed: u64) -> Trajectories {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut observations, mut actions) = (Vec::new(), Vec::new());
    for _ in 0..n_traj {
        let mut p = [rng.gen_range(-1.0..1.0f32), rng.gen_range(-1.0..1.0f32)];
        for step in 0..=t {
            observations.extend_from_slice(&[p[0], p[1], p[0] * p[1], p[0] - p[1]]);
            if step < t {
                let a = [rng.gen_range(-0.2..0.2f32), rng.gen_range(-0.2..0.2f32)];
                actions.extend_from_slice(&a);
                p = [
                    (p[0] + a[0]).clamp(-1.0, 1.0),
                    (p[1] + a[1]).clamp(-1.0, 1.0),
                ];
            }
        }
    }
    Trajectories {
        observations: observations.into(),
        actions,
        n_traj,
        traj_len: t,
        obs_dim: 4,
        action_dim: 2,
        readout: Vec::new(),
        readout_dim: 0,
    }
}

fn config(decoder: bool) -> JepaConfig {
    JepaConfig {
        obs_dim: 4,
        repr_dim: 8,
        encoder_hidden: vec![32],
        predictor_hidden: vec![32],
        idm_hidden: vec![16],
        action_scale: 0.2,
        obs_mean: vec![0.1, -0.1, 0.0, 0.2],
        obs_std: vec![0.5, 0.6, 0.3, 0.9],
        decoder_hidden: decoder.then(|| vec![16]),
        ..JepaConfig::default()
    }
}

fn recon_objective(eta: f32) -> ObjectiveConfig {
    ObjectiveConfig {
        reconstruction: eta,
        ..ObjectiveConfig::default()
    }
}

fn model(decoder: bool, dev: &Device) -> Jepa {
    let train = TrainConfig {
        seed: 5,
        ..TrainConfig::default()
    };
    Trainer::new(config(decoder), ObjectiveConfig::default(), train, dev)
        .unwrap()
        .inference_model()
}

/// One batch of windows `(obs [16,3,4], actions [16,2,2])`.
fn batch(dev: &Device) -> (Tensor<3>, Tensor<3>) {
    let w = walks(8, 6, 1).sample(16, 2, 0, 0);
    (
        tensor(w.observations, [16, 3, 4], dev),
        tensor(w.actions, [16, 2, 2], dev),
    )
}

#[test]
fn zero_weight_leaves_the_objective_unchanged() {
    let dev = Device::flex();
    let (obs, act) = batch(&dev);
    let plain = model(false, &dev);
    let decoded = model(true, &dev);
    assert!(plain.decoder.is_none() && decoded.decoder.is_some());
    let cfg = ObjectiveConfig::default();
    let a = jepa_loss_readout(&plain, obs.clone(), act.clone(), None, &cfg).unwrap();
    let b = jepa_loss_readout(&decoded, obs, act, None, &cfg).unwrap();
    assert!(!a.terms.iter().any(|(n, _)| *n == "reconstruction"));
    assert_eq!(a.terms.len(), b.terms.len());
    assert_eq!(scalar(a.total), scalar(b.total));
}

#[test]
fn the_term_is_the_mean_squared_pixel_error_of_encoded_and_predicted_states() {
    let dev = Device::flex();
    let (obs, act) = batch(&dev);
    let m = model(true, &dev);
    let eta = 0.7;
    let with =
        jepa_loss_readout(&m, obs.clone(), act.clone(), None, &recon_objective(eta)).unwrap();
    let without =
        jepa_loss_readout(&m, obs.clone(), act.clone(), None, &recon_objective(0.0)).unwrap();
    let term = with
        .terms
        .iter()
        .find(|(n, _)| *n == "reconstruction")
        .map(|(_, t)| scalar(t.clone()))
        .expect("a reconstruction term");

    // By hand: õ, s = enc(o), ŝ_1 = Pred(s_0, a_0), ŝ_2 = Pred(ŝ_1, a_1).
    let target = m.normalise(obs.clone());
    let s = m.encode(obs);
    let step = |x: Tensor<3>, t: usize, w: usize| x.narrow(1, t, 1).reshape([16, w]);
    let s1 = m.predict(step(s.clone(), 0, 8), step(act.clone(), 0, 2));
    let s2 = m.predict(s1.clone(), step(act, 1, 2));
    let enc = scalar(
        (m.decode(s).unwrap() - target.clone())
            .powi_scalar(2)
            .mean(),
    );
    let pred = scalar(
        (m.decode(Tensor::stack(vec![s1, s2], 1)).unwrap() - target.narrow(1, 1, 2))
            .powi_scalar(2)
            .mean(),
    );
    assert!(
        (term - (enc + pred)).abs() < 1e-5 * (enc + pred),
        "{term} vs {enc} + {pred}"
    );
    let gained = scalar(with.total) - scalar(without.total);
    assert!(
        (gained - eta * term).abs() < 1e-4,
        "{gained} vs {}",
        eta * term
    );
}

#[test]
fn a_positive_weight_without_a_decoder_names_the_key() {
    let dev = Device::flex();
    let (obs, act) = batch(&dev);
    let Err(e) = jepa_loss_readout(&model(false, &dev), obs, act, None, &recon_objective(1.0))
    else {
        panic!("no error without a decoder")
    };
    let e = e.to_string();
    assert!(e.contains("model.decoder"), "{e}");
    let e = model(false, &dev)
        .decode(tensor(vec![0.0; 8], [1, 8], &dev))
        .expect_err("no decoder")
        .to_string();
    assert!(e.contains("model.decoder_hidden"), "{e}");
}

#[test]
fn training_on_the_term_lowers_it() {
    let dev = Device::flex();
    let data = walks(32, 8, 2);
    let objective = ObjectiveConfig {
        prediction: 0.0,
        variance: 0.0,
        covariance: 0.0,
        time_smoothness: 0.0,
        inverse_dynamics: 0.0,
        reconstruction: 1.0,
        ..ObjectiveConfig::default()
    };
    let train = TrainConfig {
        seed: 1,
        steps: 300,
        batch_size: 32,
        rollout_steps: 2,
        ..TrainConfig::default()
    };
    let (obs, act) = batch(&dev);
    let mut trainer = Trainer::new(config(true), objective.clone(), train, &dev).unwrap();
    let term = |m: &Jepa| {
        let l = jepa_loss_readout(m, obs.clone(), act.clone(), None, &objective).unwrap();
        scalar(l.total)
    };
    let before = term(&trainer.inference_model());
    for _ in 0..300 {
        trainer.train_step(&data).unwrap();
    }
    let after = term(&trainer.inference_model());
    assert!(after < 0.3 * before, "{before} -> {after}");
}
