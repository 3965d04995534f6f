//! The latent-variable predictor `ŝ' = Pred(s, a, z)` ([`ami_jepa::latent`]).
//!
//! * **Toy (bimodal transitions).** 1-D state, observations = state, `s' = s + a + ε` with
//!   `ε = ±c` (probability ½ each). What is tested: the predictor, the objective's inference of
//!   `z` by minimisation over the open-loop rollout (2 steps) and the prior head, with the
//!   encoder **frozen to the identity** (`Enc(o) = o`, its parameters excluded from the
//!   gradient), so that representation space is state space and the two true futures are known
//!   exactly. The latent model (k = 2) must predict both modes (each within 0.1·c by some
//!   branch, `F∞ = E min_z E ≪ c²`) with prior ≈ ½ each, while the deterministic predictor
//!   trained the same way predicts their mean (its prediction ≈ s + a, its error over the
//!   2-step rollout ≈ (c² + 2c²)/2).
//! * The objective's prediction term for a latent model equals the mean over samples of the
//!   minimum over the enumerated branches' energies.
//! * The trainer logs the latent usage; checkpoints keep the latent config and the prior; a
//!   checkpoint written before latents existed loads as a deterministic model.

use std::path::Path;

use ami_jepa::burn::module::{Module, Param};
use ami_jepa::burn::optim::{AdamWConfig, GradientsParams};
use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::checkpoint::{load_model, load_trainer, read_safetensors, save_trainer};
use ami_jepa::{
    jepa_loss, Jepa, JepaConfig, LatentConfig, ObjectiveConfig, TrainConfig, Trainer, Trajectories,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Half the distance between the two futures.
const C: f32 = 0.5;

fn tensor<const N: usize>(v: Vec<f32>, shape: [usize; N], dev: &Device) -> Tensor<N> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn values<const N: usize>(t: Tensor<N>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// `B` windows of 2 steps of the bimodal walk: obs `[B, 3, 1]`, actions `[B, 2, 1]`.
fn bimodal_batch(rng: &mut StdRng, b: usize, dev: &Device) -> (Tensor<3>, Tensor<3>) {
    let (mut obs, mut act) = (Vec::new(), Vec::new());
    for _ in 0..b {
        let mut s = rng.gen_range(-1.0..1.0f32);
        obs.push(s);
        for _ in 0..2 {
            let a = rng.gen_range(-0.5..0.5f32);
            let eps = if rng.gen_bool(0.5) { C } else { -C };
            s += a + eps;
            act.push(a);
            obs.push(s);
        }
    }
    (tensor(obs, [b, 3, 1], dev), tensor(act, [b, 2, 1], dev))
}

/// A 1-D JEPA whose encoder is the identity and frozen.
fn toy_model(latent: LatentConfig, dev: &Device) -> Jepa {
    dev.seed(7);
    let cfg = JepaConfig {
        obs_dim: 1,
        action_dim: 1,
        repr_dim: 1,
        encoder_hidden: vec![],
        predictor_hidden: vec![32, 32],
        idm_hidden: vec![4],
        latent,
        ..JepaConfig::default()
    };
    let mut model = cfg.init(dev).unwrap();
    let layer = &mut model.encoder.layers[0];
    layer.weight = Param::from_data(TensorData::new(vec![1.0f32], [1, 1]), dev);
    layer.bias = Some(Param::from_data(TensorData::new(vec![0.0f32], [1]), dev));
    model.encoder = model.encoder.set_require_grad(false);
    model
}

/// Trains the predictor (and the prior) on the prediction term only.
fn train_toy(latent: LatentConfig, dev: &Device) -> Jepa {
    let objective = ObjectiveConfig {
        variance: 0.0,
        covariance: 0.0,
        time_smoothness: 0.0,
        inverse_dynamics: 0.0,
        ..ObjectiveConfig::default()
    };
    let mut model = toy_model(latent, dev);
    let mut opt = AdamWConfig::new().init();
    let mut rng = StdRng::seed_from_u64(3);
    for step in 0..600 {
        let (obs, act) = bimodal_batch(&mut rng, 128, dev);
        let loss = jepa_loss(&model, obs, act, &objective);
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let lr = if step < 400 { 3e-3 } else { 1e-3 };
        model = opt.step(lr, model, grads);
    }
    model.valid()
}

/// Branch predictions `[k]` of the trained model at `(s, a)`.
fn branches(model: &Jepa, s: f32, a: f32) -> Vec<f32> {
    let k = model.latent_count();
    let dev = Device::flex();
    let st = tensor(vec![s; k], [k, 1], &dev);
    let at = tensor(vec![a; k], [k, 1], &dev);
    let z: Vec<f32> = (0..k * k)
        .map(|i| if i / k == i % k { 1.0 } else { 0.0 })
        .collect();
    values(model.predict_latent(st, at, tensor(z, [k, k], &dev)))
}

#[test]
fn latent_predictor_represents_both_futures_where_the_deterministic_one_predicts_the_mean() {
    let dev = Device::flex().autodiff();
    let latent = train_toy(LatentConfig::discrete(2), &dev);
    let det = train_toy(LatentConfig::None, &dev);
    let cpu = Device::flex();
    let grid = [
        (-0.6f32, -0.3f32),
        (-0.6, 0.3),
        (0.0, 0.0),
        (0.3, -0.2),
        (0.6, 0.3),
    ];
    for (s, a) in grid {
        let modes = [s + a - C, s + a + C];
        let p = branches(&latent, s, a);
        for m in modes {
            let err = p
                .iter()
                .map(|x| (x - m).abs())
                .fold(f32::INFINITY, f32::min);
            assert!(
                err < 0.1 * C,
                "(s, a) = ({s}, {a}): branches {p:?}, mode {m}"
            );
        }
        let q = values(
            latent
                .latent_prior(tensor(vec![s], [1, 1], &cpu), tensor(vec![a], [1, 1], &cpu))
                .unwrap(),
        );
        assert!(
            q.iter().all(|p| (p - 0.5).abs() < 0.15),
            "prior at ({s}, {a}): {q:?}"
        );
        let d = values(det.predict(tensor(vec![s], [1, 1], &cpu), tensor(vec![a], [1, 1], &cpu)));
        assert!(
            (d[0] - (s + a)).abs() < 0.15 * C,
            "deterministic at ({s}, {a}): {}",
            d[0]
        );
    }
    // Energies on fresh data: F∞ = min_z E for the latent model against E of the deterministic.
    let mut rng = StdRng::seed_from_u64(99);
    let (obs, act) = bimodal_batch(&mut rng, 512, &cpu);
    let eval = ObjectiveConfig::default();
    let prediction = |m: &Jepa| {
        values(
            jepa_loss(m, obs.clone(), act.clone(), &eval).terms[0]
                .1
                .clone(),
        )[0]
    };
    let (f_latent, e_det) = (prediction(&latent), prediction(&det));
    eprintln!(
        "c² = {}: latent F∞ = {f_latent}, deterministic error = {e_det}",
        C * C
    );
    assert!(f_latent < 0.02 * C * C, "latent F∞ = {f_latent}");
    // The deterministic rollout predicts the mean at both steps: its error is c² at step 1 and
    // 2c² at step 2 (two independent ±c), 1.5·c² on average.
    assert!(
        (1.3 * C * C..1.7 * C * C).contains(&e_det),
        "deterministic error {e_det}, expected ≈ 1.5·c² = {}",
        1.5 * C * C
    );
}

/// The prediction term of a latent model is `mean_b min_j E_j`, by enumeration of `Pred(s, a,
/// e_j)` (one step, random weights, k = 3).
#[test]
fn latent_prediction_term_is_the_minimum_over_enumerated_branches() {
    let dev = Device::flex();
    dev.seed(5);
    let cfg = JepaConfig {
        repr_dim: 3,
        encoder_hidden: vec![8],
        predictor_hidden: vec![8],
        idm_hidden: vec![4],
        latent: LatentConfig::discrete(3),
        ..JepaConfig::default()
    };
    let model = cfg.init(&dev).unwrap();
    let (b, d) = (6, 3);
    let obs: Vec<f32> = (0..b * 2 * 2).map(|i| (i as f32 * 0.9).sin()).collect();
    let act: Vec<f32> = (0..b * 2).map(|i| (i as f32 * 0.4).cos()).collect();
    let (obs, act) = (tensor(obs, [b, 2, 2], &dev), tensor(act, [b, 1, 2], &dev));
    let loss = jepa_loss(
        &model,
        obs.clone(),
        act.clone(),
        &ObjectiveConfig::default(),
    );
    assert_eq!(loss.terms[0].0, "prediction");
    let got = values(loss.terms[0].1.clone())[0];
    let s = values(model.encode(obs));
    let a = values(act);
    let mut want = 0.0;
    for i in 0..b {
        let (s0, s1) = (
            &s[i * 2 * d..i * 2 * d + d],
            &s[i * 2 * d + d..(i + 1) * 2 * d],
        );
        let energies: Vec<f32> = (0..3)
            .map(|j| {
                let mut z = vec![0.0; 3];
                z[j] = 1.0;
                let p = values(model.predict_latent(
                    tensor(s0.to_vec(), [1, d], &dev),
                    tensor(a[i * 2..i * 2 + 2].to_vec(), [1, 2], &dev),
                    tensor(z, [1, 3], &dev),
                ));
                p.iter().zip(s1).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / d as f32
            })
            .collect();
        want += energies.iter().copied().fold(f32::INFINITY, f32::min) / b as f32;
    }
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    assert_eq!(loss.latent_counts.iter().sum::<usize>(), b);
    assert!(loss.terms.iter().any(|(n, _)| *n == "latent_prior"));
}

fn small_data() -> Trajectories {
    let (n_traj, traj_len) = (6, 5);
    Trajectories {
        observations: (0..n_traj * (traj_len + 1) * 2)
            .map(|i| (i as f32 * 0.37).sin())
            .collect::<Vec<_>>()
            .into(),
        actions: (0..n_traj * traj_len * 2)
            .map(|i| (i as f32 * 0.71).cos())
            .collect(),
        n_traj,
        traj_len,
        obs_dim: 2,
        action_dim: 2,
        readout: Vec::new(),
        readout_dim: 0,
    }
}

fn small_trainer(latent: LatentConfig) -> Trainer {
    let model = JepaConfig {
        repr_dim: 4,
        encoder_hidden: vec![8],
        predictor_hidden: vec![8],
        idm_hidden: vec![8],
        latent,
        ..JepaConfig::default()
    };
    let train = TrainConfig {
        batch_size: 8,
        rollout_steps: 2,
        ..TrainConfig::default()
    };
    Trainer::new(model, ObjectiveConfig::default(), train, &Device::flex()).unwrap()
}

#[test]
fn the_step_log_reports_latent_usage() {
    let data = small_data();
    let mut t = small_trainer(LatentConfig::discrete(3));
    let log = t.train_step(&data).unwrap();
    let usage = log
        .latent_usage
        .clone()
        .expect("a latent model logs its usage");
    assert_eq!(usage.fractions.len(), 3);
    assert!((usage.fractions.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert!((0.0..=3f32.log2() + 1e-5).contains(&usage.entropy_bits));
    assert!(log.terms.iter().any(|(n, _)| n == "latent_prior"));
    let json = serde_json::to_string(&log).unwrap();
    assert!(
        json.contains("\"latent_usage\"") && json.contains("entropy_bits"),
        "{json}"
    );

    let mut det = small_trainer(LatentConfig::None);
    let log = det.train_step(&data).unwrap();
    assert!(log.latent_usage.is_none());
    assert!(!serde_json::to_string(&log).unwrap().contains("latent"));
}

#[test]
fn a_latent_checkpoint_round_trips_with_its_prior() {
    let data = small_data();
    let mut t = small_trainer(LatentConfig::discrete(3));
    for _ in 0..2 {
        t.train_step(&data).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&t, dir.path()).unwrap();
    let (loaded, meta) = load_model(dir.path(), &Device::flex()).unwrap();
    assert_eq!(meta.model.latent, LatentConfig::discrete(3));
    assert_eq!(loaded.latent_count(), 3);
    let before = t.inference_model();
    let dev = Device::flex();
    let s = || tensor(vec![0.3, -0.1, 0.7, 0.2, 0.0, 1.0, -0.5, 0.4], [2, 4], &dev);
    let a = || tensor(vec![0.5, -1.0, 0.2, 0.1], [2, 2], &dev);
    let q0 = values(before.latent_prior(s(), a()).unwrap());
    let q1 = values(loaded.latent_prior(s(), a()).unwrap());
    assert_eq!(q0, q1);
    assert!((q0[..3].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(
        values(before.predict(s(), a())),
        values(loaded.predict(s(), a()))
    );
    let resumed = load_trainer(dir.path(), &Device::flex()).unwrap();
    assert_eq!(resumed.model().latent_count(), 3);
    let weights = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(weights["prior.layers.1.weight"].0, vec![3, 64]);
    assert_eq!(weights["predictor.layers.0.weight"].0, vec![8, 4 + 2 + 3]);
}

#[test]
fn a_checkpoint_from_before_latents_loads_as_deterministic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoint_v0");
    let (model, meta) = load_model(&dir, &Device::flex()).unwrap();
    assert_eq!(meta.model.latent, LatentConfig::None);
    assert_eq!(meta.objective.latent_prior, 1.0);
    assert_eq!(model.latent_count(), 1);
    assert!(model.prior.is_none());
    let dev = Device::flex();
    let s = tensor(vec![0.1, 0.2, 0.3, 0.4], [1, 4], &dev);
    let a = tensor(vec![0.5, -0.5], [1, 2], &dev);
    assert!(model.latent_prior(s.clone(), a.clone()).is_err());
    assert!(values(model.predict(s, a)).iter().all(|v| v.is_finite()));
    let mut t = load_trainer(&dir, &Device::flex()).unwrap();
    assert_eq!(t.step, 2);
    t.train_step(&small_data()).unwrap();
}
