//! Integration: a small JEPA trained on a synthetic point-mass random walk learns (the loss
//! falls, the prediction term falls below the copy-the-state baseline, no collapse),
//! checkpoints round-trip, and training resumes exactly.

use ami_jepa::burn::tensor::Device;
use ami_jepa::checkpoint::{load_trainer, read_safetensors, save_trainer};
use ami_jepa::{JepaConfig, ObjectiveConfig, TrainConfig, Trainer, Trajectories};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Point mass in the box [0, 10]², actions in [−1, 1]², positions clamped to the box.
fn random_walks(n_traj: usize, t: usize, seed: u64) -> Trajectories {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut observations = Vec::new();
    let mut actions = Vec::new();
    for _ in 0..n_traj {
        let mut p = [rng.gen_range(0.0..10.0f32), rng.gen_range(0.0..10.0f32)];
        observations.extend_from_slice(&p);
        for _ in 0..t {
            let a = [rng.gen_range(-1.0..1.0f32), rng.gen_range(-1.0..1.0f32)];
            p = [
                (p[0] + a[0]).clamp(0.0, 10.0),
                (p[1] + a[1]).clamp(0.0, 10.0),
            ];
            actions.extend_from_slice(&a);
            observations.extend_from_slice(&p);
        }
    }
    Trajectories {
        observations: observations.into(),
        actions,
        n_traj,
        traj_len: t,
        obs_dim: 2,
        action_dim: 2,
        readout: Vec::new(),
        readout_dim: 0,
    }
}

fn configs(steps: usize) -> (JepaConfig, ObjectiveConfig, TrainConfig) {
    let model = JepaConfig {
        repr_dim: 8,
        encoder_hidden: vec![32],
        predictor_hidden: vec![64],
        idm_hidden: vec![32],
        obs_mean: vec![5.0, 5.0],
        obs_std: vec![3.0, 3.0],
        ..JepaConfig::default()
    };
    let train = TrainConfig {
        steps,
        batch_size: 64,
        rollout_steps: 4,
        warmup_steps: 10,
        log_every: 10,
        ..TrainConfig::default()
    };
    (model, ObjectiveConfig::default(), train)
}

fn term(log: &ami_jepa::StepLog, name: &str) -> f32 {
    log.terms
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap()
}

#[test]
fn small_training_run_lowers_the_loss_without_collapse() {
    let data = random_walks(200, 16, 1);
    let (m, o, t) = configs(300);
    let mut trainer = Trainer::new(m, o, t, &Device::flex()).unwrap();
    let logs: Vec<_> = (0..300)
        .map(|_| trainer.train_step(&data).unwrap())
        .collect();
    let early: f32 = logs[..20].iter().map(|l| l.loss).sum::<f32>() / 20.0;
    let late: f32 = logs[280..].iter().map(|l| l.loss).sum::<f32>() / 20.0;
    assert!(
        late < 0.5 * early,
        "loss did not fall enough: {early} -> {late}"
    );
    // The prediction term itself falls, and by the end the k-step rollout error is well below
    // the one-step "nothing moves" error (time_smoothness), so the fall is not just the
    // representations shrinking: the predictor has learned the dynamics.
    let mean_term = |logs: &[ami_jepa::StepLog], name: &str| {
        logs.iter().map(|l| term(l, name)).sum::<f32>() / logs.len() as f32
    };
    let pred_early = mean_term(&logs[..20], "prediction");
    let pred_late = mean_term(&logs[280..], "prediction");
    assert!(
        pred_late < 0.2 * pred_early,
        "prediction error did not fall enough: {pred_early} -> {pred_late}"
    );
    let smooth_late = mean_term(&logs[280..], "time_smoothness");
    assert!(
        pred_late < 0.5 * smooth_late,
        "the predictor does not beat copying the state: prediction {pred_late}, \
         one-step change {smooth_late}"
    );
    let idm_early = term(&logs[0], "inverse_dynamics");
    let idm_late = term(&logs[299], "inverse_dynamics");
    assert!(
        idm_late < 0.5 * idm_early,
        "inverse dynamics {idm_early} -> {idm_late}"
    );
    let c = logs[299].collapse.expect("diagnostics on the last step");
    assert!(c.mean_std > 0.3, "representations collapsed: {c:?}");
    assert!(c.effective_rank > 1.5, "dimensional collapse: {c:?}");
}

#[test]
fn resumed_training_is_exactly_the_uninterrupted_run() {
    let data = random_walks(50, 8, 2);
    let (m, o, t) = configs(12);
    let mut straight = Trainer::new(m.clone(), o.clone(), t.clone(), &Device::flex()).unwrap();
    let straight_logs: Vec<f32> = (0..12)
        .map(|_| straight.train_step(&data).unwrap().loss)
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(m, o, t, &Device::flex()).unwrap();
    for _ in 0..6 {
        first.train_step(&data).unwrap();
    }
    save_trainer(&first, dir.path()).unwrap();
    drop(first);
    let mut resumed = load_trainer(dir.path(), &Device::flex()).unwrap();
    assert_eq!(resumed.step, 6);
    let resumed_logs: Vec<f32> = (0..6)
        .map(|_| resumed.train_step(&data).unwrap().loss)
        .collect();
    assert_eq!(
        &straight_logs[6..],
        &resumed_logs[..],
        "resumed losses differ"
    );

    save_trainer(&straight, dir.path()).unwrap();
    let a = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    save_trainer(&resumed, dir.path()).unwrap();
    let b = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(a, b, "final weights differ");
}

#[test]
fn safetensors_use_pytorch_linear_layout() {
    let (m, o, t) = configs(1);
    let trainer = Trainer::new(m, o, t, &Device::flex()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&trainer, dir.path()).unwrap();
    let tensors = read_safetensors(&dir.path().join("model.safetensors")).unwrap();
    // encoder: 2 -> 32 -> 8; PyTorch nn.Linear weight is [out, in].
    assert_eq!(tensors["encoder.layers.0.weight"].0, vec![32, 2]);
    assert_eq!(tensors["encoder.layers.1.weight"].0, vec![8, 32]);
    assert_eq!(tensors["predictor.layers.0.weight"].0, vec![64, 10]);
    assert_eq!(tensors["idm.layers.1.bias"].0, vec![2]);
    // Values match the module's own weight (burn layout [in, out]) transposed.
    let w = trainer.model().encoder.layers[0]
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let st = &tensors["encoder.layers.0.weight"].1;
    for i in 0..2 {
        for o in 0..32 {
            assert_eq!(st[o * 2 + i], w[i * 32 + o]);
        }
    }
}

#[test]
fn missing_or_corrupt_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_trainer(dir.path(), &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("checkpoint.json"), "{err}");
    std::fs::write(dir.path().join("checkpoint.json"), "{\"step\": 1}").unwrap();
    let err = load_trainer(dir.path(), &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("invalid checkpoint.json"), "{err}");
    std::fs::write(dir.path().join("model.safetensors"), [1u8, 2, 3]).unwrap();
    let err = read_safetensors(&dir.path().join("model.safetensors"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("8-byte header"), "{err}");
}
