//! The auxiliary readout term (`objective.readout`, a head `g(s) ≈ (f − mean)/std` on encoded
//! and predicted states):
//!
//! * weight 0 leaves the objective exactly as before (same total and terms, with or without a
//!   head; building the head draws no weights before the others);
//! * with weight ρ > 0 the total gains exactly `ρ · readout`, and missing heads or targets are
//!   errors naming their keys;
//! * a short training run on a toy whose readout is a known function of the observation
//!   decreases the readout term;
//! * checkpoints keep the head (`readout.layers.*`) and the standardisation; a checkpoint from
//!   before the head existed loads without one.

use std::path::Path;

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::checkpoint::{load_model, load_trainer, read_safetensors, save_trainer};
use ami_jepa::{
    jepa_loss, jepa_loss_readout, Jepa, JepaConfig, JepaError, ObjectiveConfig, TrainConfig,
    Trainer, Trajectories,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn tensor<const N: usize>(v: Vec<f32>, shape: [usize; N], dev: &Device) -> Tensor<N> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().try_to_vec::<f32>().unwrap()[0]
}

/// The known readout of an observation `o = (x, y)`: `[x + 2y, x·y]`.
fn feature(o: &[f32]) -> [f32; 2] {
    [o[0] + 2.0 * o[1], o[0] * o[1]]
}

/// Random walks in the plane with their readout targets.
fn walks(n_traj: usize, t: usize, seed: u64) -> Trajectories {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut observations, mut actions, mut readout) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n_traj {
        let mut p = [rng.gen_range(-1.0..1.0f32), rng.gen_range(-1.0..1.0f32)];
        for step in 0..=t {
            observations.extend_from_slice(&p);
            readout.extend_from_slice(&feature(&p));
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
        obs_dim: 2,
        action_dim: 2,
        readout,
        readout_dim: 2,
    }
}

fn config(readout_dim: usize) -> JepaConfig {
    JepaConfig {
        repr_dim: 8,
        encoder_hidden: vec![32],
        predictor_hidden: vec![32],
        idm_hidden: vec![16],
        action_scale: 0.2,
        readout_dim,
        readout_mean: vec![0.1; readout_dim],
        readout_std: vec![0.8; readout_dim],
        ..JepaConfig::default()
    }
}

/// A model drawn with seed 3 (the trainer's seeded initialisation draws every weight at once,
/// the head last).
fn model(readout_dim: usize, dev: &Device) -> Jepa {
    let train = TrainConfig {
        seed: 3,
        ..TrainConfig::default()
    };
    Trainer::new(config(readout_dim), ObjectiveConfig::default(), train, dev)
        .unwrap()
        .inference_model()
}

/// One batch of windows `(obs [B,3,2], actions [B,2,2], readout [B,3,2])`.
fn batch(dev: &Device) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
    let data = walks(8, 6, 1);
    let w = data.sample(16, 2, 0, 0);
    (
        tensor(w.observations, [16, 3, 2], dev),
        tensor(w.actions, [16, 2, 2], dev),
        tensor(w.readout, [16, 3, 2], dev),
    )
}

fn names(terms: &[(&'static str, Tensor<1>)]) -> Vec<&'static str> {
    terms.iter().map(|(n, _)| *n).collect()
}

#[test]
fn zero_weight_leaves_the_objective_unchanged() {
    let dev = Device::flex();
    let (obs, act, f) = batch(&dev);
    let plain = model(0, &dev);
    let headed = model(2, &dev);
    assert!(plain.readout.is_none() && headed.readout.is_some());
    let cfg = ObjectiveConfig::default();
    assert_eq!(cfg.readout, 0.0);
    let before = jepa_loss(&plain, obs.clone(), act.clone(), &cfg);
    let after = jepa_loss_readout(&headed, obs.clone(), act.clone(), Some(f), &cfg).unwrap();
    assert_eq!(names(&before.terms), names(&after.terms));
    assert!(!names(&after.terms).contains(&"readout"));
    assert_eq!(scalar(before.total), scalar(after.total));
    for ((_, a), (_, b)) in before.terms.into_iter().zip(after.terms) {
        assert_eq!(scalar(a), scalar(b));
    }
    // Weight 0 needs neither targets nor a head.
    assert!(jepa_loss_readout(&plain, obs, act, None, &cfg).is_ok());
}

#[test]
fn a_positive_weight_adds_rho_times_the_readout_term_and_names_missing_parts() {
    let dev = Device::flex();
    let (obs, act, f) = batch(&dev);
    let headed = model(2, &dev);
    let base = jepa_loss(
        &headed,
        obs.clone(),
        act.clone(),
        &ObjectiveConfig::default(),
    );
    let cfg = ObjectiveConfig {
        readout: 0.5,
        ..ObjectiveConfig::default()
    };
    let loss = jepa_loss_readout(&headed, obs.clone(), act.clone(), Some(f.clone()), &cfg).unwrap();
    let (name, term) = loss.terms.last().unwrap();
    assert_eq!(*name, "readout");
    let term = scalar(term.clone());
    assert!(term > 0.0);
    let diff = scalar(loss.total) - scalar(base.total) - 0.5 * term;
    assert!(diff.abs() < 1e-4, "total − base − ρ·readout = {diff}");

    let key = |e: JepaError| e.to_string();
    let no_head = jepa_loss_readout(&model(0, &dev), obs.clone(), act.clone(), Some(f), &cfg);
    assert!(key(no_head.err().unwrap()).contains("model.readout_dim"));
    let no_targets = jepa_loss_readout(&headed, obs.clone(), act.clone(), None, &cfg);
    assert!(key(no_targets.err().unwrap()).contains("data.readout"));
    let wrong = tensor(vec![0.0; 16 * 3], [16, 3, 1], &dev);
    let wrong_shape = jepa_loss_readout(&headed, obs, act, Some(wrong), &cfg);
    assert!(key(wrong_shape.err().unwrap()).contains("data.readout"));
    let trainer = Trainer::new(config(0), cfg, TrainConfig::default(), &dev);
    assert!(key(trainer.err().unwrap()).contains("model.readout_dim"));
}

fn trainer(steps: usize) -> (Trainer, Trajectories) {
    let data = walks(32, 10, 5);
    let (mean, std) = data.readout_moments();
    let model = JepaConfig {
        readout_mean: mean,
        readout_std: std,
        ..config(2)
    };
    let objective = ObjectiveConfig {
        readout: 1.0,
        ..ObjectiveConfig::default()
    };
    let train = TrainConfig {
        steps,
        batch_size: 32,
        rollout_steps: 3,
        lr: 3e-3,
        warmup_steps: 10,
        ..TrainConfig::default()
    };
    (
        Trainer::new(model, objective, train, &Device::flex()).unwrap(),
        data,
    )
}

fn readout_term(log: &ami_jepa::StepLog) -> f32 {
    log.terms
        .iter()
        .find(|(n, _)| n == "readout")
        .expect("a readout term is logged")
        .1
}

#[test]
fn training_with_the_readout_term_decreases_it() {
    let steps = 300;
    let (mut t, data) = trainer(steps);
    let mut terms = Vec::new();
    for _ in 0..steps {
        terms.push(readout_term(&t.train_step(&data).unwrap()));
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (first, last) = (mean(&terms[..20]), mean(&terms[steps - 20..]));
    assert!(
        last < 0.25 * first,
        "readout term {first} -> {last} (first/last 20 steps)"
    );
    // The head reads the feature in its own units from encoded states.
    let m = t.inference_model();
    let dev = Device::flex();
    let o = [0.5f32, -0.3];
    let s = m.encode(tensor(o.to_vec(), [1, 2], &dev));
    let got = m
        .readout(s)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let want = feature(&o);
    assert!((got[0] - want[0]).abs() < 0.3, "{got:?} vs {want:?}");
}

#[test]
fn a_checkpoint_round_trips_with_the_readout_head() {
    let (mut t, data) = trainer(10);
    for _ in 0..2 {
        t.train_step(&data).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&t, dir.path()).unwrap();
    let (loaded, meta) = load_model(dir.path(), &Device::flex()).unwrap();
    assert_eq!(meta.model.readout_dim, 2);
    assert_eq!(meta.model.readout_std, t.model_config.readout_std);
    assert_eq!(meta.objective.readout, 1.0);
    let dev = Device::flex();
    let s = || tensor(vec![0.3, -0.1, 0.7, 0.2, 0.0, 1.0, -0.5, 0.4], [1, 8], &dev);
    let before = t.inference_model();
    let values = |m: &Jepa| {
        m.readout(s())
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(values(&before), values(&loaded));
    let resumed = load_trainer(dir.path(), &Device::flex()).unwrap();
    assert_eq!(values(&resumed.inference_model()), values(&before));
    let weights = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(weights["readout.layers.0.weight"].0, vec![128, 8]);
    assert_eq!(weights["readout.layers.1.weight"].0, vec![2, 128]);

    // A checkpoint written before the head existed loads without one.
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoint_v0");
    let (model, meta) = load_model(&old, &Device::flex()).unwrap();
    assert!(model.readout.is_none());
    assert_eq!((meta.model.readout_dim, meta.objective.readout), (0, 0.0));
}
