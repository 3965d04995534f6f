//! The checkpoint set is replaced atomically: a save stopped before any one of its file-system
//! changes (as a kill at that instant would) leaves exactly the old or exactly the new
//! checkpoint at the fixed paths and for the loaders, and the next save cleans up after it.

use std::fs;
use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, TensorData};

use super::set::{resolve, Failpoint, FILES};
use super::*;
use crate::batcher::Trajectories;
use crate::error::JepaError;

fn configs() -> (JepaConfig, ObjectiveConfig, TrainConfig) {
    let model = JepaConfig {
        repr_dim: 4,
        encoder_hidden: vec![8],
        predictor_hidden: vec![8],
        idm_hidden: vec![8],
        ..JepaConfig::default()
    };
    let train = TrainConfig {
        batch_size: 4,
        rollout_steps: 2,
        ..TrainConfig::default()
    };
    (model, ObjectiveConfig::default(), train)
}

/// A trainer after `steps` optimiser steps from `seed` (so its AdamW state is not empty).
fn trainer(seed: u64, steps: usize) -> Trainer {
    let (m, o, mut t) = configs();
    t.seed = seed;
    let mut trainer = Trainer::new(m, o, t, &Device::flex()).unwrap();
    let (n_traj, traj_len) = (6, 5);
    let data = Trajectories {
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
    };
    for _ in 0..steps {
        trainer.train_step(&data).unwrap();
    }
    trainer
}

/// The four files as read through the fixed paths `<dir>/<name>`: `None` when none exists;
/// a panic when only some do (a mix of "no checkpoint" and a checkpoint).
fn files_at(dir: &Path) -> Option<Vec<Vec<u8>>> {
    let files: Vec<Option<Vec<u8>>> = FILES.iter().map(|n| fs::read(dir.join(n)).ok()).collect();
    if files.iter().all(Option::is_none) {
        return None;
    }
    let present: Vec<_> = files.iter().map(Option::is_some).collect();
    assert!(
        present.iter().all(|p| *p),
        "partial checkpoint: {present:?}"
    );
    Some(files.into_iter().map(Option::unwrap).collect())
}

/// A checkpoint's files and what loading it must give.
struct Expected {
    files: Vec<Vec<u8>>,
    step: usize,
    weights: Vec<u8>,
}

fn expected(trainer: &Trainer) -> Expected {
    let dir = tempfile::tempdir().unwrap();
    save_trainer(trainer, dir.path()).unwrap();
    Expected {
        files: files_at(dir.path()).unwrap(),
        step: trainer.step,
        weights: model_safetensors(trainer.model()),
    }
}

/// Which of `old` (if any) and `new` the checkpoint in `dir` is, checked through the fixed
/// paths, `load_meta`, `load_model` and `load_trainer`.
fn state_of(dir: &Path, old: Option<&Expected>, new: &Expected) -> &'static str {
    let Some(files) = files_at(dir) else {
        assert!(old.is_none(), "the old checkpoint disappeared");
        assert!(load_trainer(dir, &Device::flex()).is_err());
        return "none";
    };
    let (which, want) = if files == new.files {
        ("new", new)
    } else {
        let old = old.expect("a checkpoint appeared that is not the new one");
        assert!(
            files == old.files,
            "the files are neither the old nor the new set"
        );
        ("old", old)
    };
    assert_eq!(load_meta(dir).unwrap().step, want.step);
    let (model, meta) = load_model(dir, &Device::flex()).unwrap();
    assert_eq!(
        (meta.step, model_safetensors(&model)),
        (want.step, want.weights.clone())
    );
    let loaded = load_trainer(dir, &Device::flex()).unwrap();
    assert_eq!(loaded.step, want.step, "{which}");
    assert!(
        model_safetensors(loaded.model()) == want.weights,
        "{which}: weights"
    );
    which
}

/// Only the fixed links, `current` and one version directory remain.
fn assert_clean(dir: &Path) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    let versions = names.iter().filter(|n| n.starts_with("step-")).count();
    assert_eq!(versions, 1, "{names:?}");
    assert_eq!(names.len(), FILES.len() + 2, "{names:?}");
}

/// Stops the save of `new` before each of its changes in turn, on a directory prepared by
/// `setup`; returns the number of changes of a complete save.
fn kill_at_every_change(
    setup: &dyn Fn(&Path),
    old: Option<&Expected>,
    new_trainer: &Trainer,
) -> usize {
    let new = expected(new_trainer);
    let mut seen_new = false;
    for n in 0.. {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let result = save_trainer_with(new_trainer, dir.path(), &mut Failpoint::after(n));
        let state = state_of(dir.path(), old, &new);
        if result.is_ok() {
            assert_eq!(state, "new");
            assert_clean(dir.path());
            return n;
        }
        // One commit point: once the new set shows, it stays.
        assert!(!(seen_new && state != "new"), "change {n}: back to {state}");
        seen_new |= state == "new";
        // Whatever the stopped save left behind, the next save and load work and tidy up.
        save_trainer(new_trainer, dir.path()).unwrap();
        assert_eq!(state_of(dir.path(), old, &new), "new");
        assert_clean(dir.path());
    }
    unreachable!()
}

#[test]
fn saves_are_byte_reproducible() {
    let t = trainer(3, 2);
    assert!(expected(&t).files == expected(&t).files);
}

#[test]
fn a_killed_first_save_leaves_no_checkpoint_or_the_new_one() {
    let changes = kill_at_every_change(&|_| {}, None, &trainer(2, 3));
    // 4 fixed links (2 each), the version directory, 4 files, the `current` swap (2).
    assert_eq!(changes, 15);
}

#[test]
fn a_killed_save_leaves_the_old_or_the_new_checkpoint() {
    let old_trainer = trainer(1, 2);
    let old = expected(&old_trainer);
    let setup = |dir: &Path| save_trainer(&old_trainer, dir).unwrap();
    let changes = kill_at_every_change(&setup, Some(&old), &trainer(2, 3));
    // The version directory, 4 files, the `current` swap (2), removing the old version.
    assert_eq!(changes, 8);
}

/// A directory in the earlier layout (four regular files, a stray temporary file of the old
/// writer) is adopted without a moment where a fixed path shows something else.
#[test]
fn a_killed_save_over_the_earlier_layout_leaves_the_old_or_the_new_checkpoint() {
    let old_trainer = trainer(1, 2);
    let old = expected(&old_trainer);
    let setup = |dir: &Path| {
        for (name, bytes) in FILES.iter().zip(&old.files) {
            fs::write(dir.join(name), bytes).unwrap();
        }
        fs::write(dir.join(".model.bpk.tmp"), b"left by a killed save").unwrap();
    };
    let changes = kill_at_every_change(&setup, Some(&old), &trainer(2, 3));
    // Adoption: a version directory, 4 copies, the `current` swap (2); 4 fixed links (2 each)
    // over the regular files; the new set (7, as above); removing the adopted copy and the
    // stray temporary file.
    assert_eq!(changes, 24);
}

#[test]
fn loaders_read_one_version_directory() {
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&trainer(1, 1), dir.path()).unwrap();
    let files = resolve(dir.path()).unwrap();
    assert_ne!(files, dir.path());
    assert!(files.starts_with(dir.path()) && files.join("model.bpk").is_file());
}

fn with_param(
    t: &Trainer,
    value: f32,
    place: &dyn Fn(&mut Jepa, Param<burn::tensor::Tensor<1>>),
) -> Trainer {
    let mut model = t.model().clone();
    let n = model.predictor.layers[1]
        .bias
        .as_ref()
        .unwrap()
        .val()
        .dims()[0];
    let mut v = vec![0.5f32; n];
    v[n / 2] = value;
    place(
        &mut model,
        Param::from_data(TensorData::new(v, [n]), t.device()),
    );
    Trainer::from_parts(
        model,
        new_optimizer(&t.train_config),
        t.step,
        (
            t.model_config.clone(),
            t.objective.clone(),
            t.train_config.clone(),
        ),
        t.guard,
        t.device().clone(),
    )
}

#[test]
fn non_finite_weights_are_never_checkpointed() {
    let good = trainer(1, 2);
    good.check_finite().unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&good, dir.path()).unwrap();
    let before = files_at(dir.path());
    for value in [f32::NAN, f32::INFINITY] {
        let bad = with_param(&good, value, &|m, p| m.predictor.layers[1].bias = Some(p));
        let err = save_trainer(&bad, dir.path()).unwrap_err();
        assert!(
            matches!(&err, JepaError::NonFinite { step: 2, what } if what.contains("predictor.layers.1.bias")),
            "{err}"
        );
        assert!(err.to_string().contains("step 2"), "{err}");
        assert!(
            files_at(dir.path()) == before,
            "the good checkpoint was touched"
        );
    }
}

#[test]
fn the_guard_state_is_restored_and_older_checkpoints_read_as_the_initial_state() {
    let mut t = trainer(3, 1);
    t.guard = crate::guard::GuardState {
        // 0.1 · 0.1: 17 significant digits, which serde_json's default parser may misread.
        lr_scale: 0.1 * 0.1,
        rollbacks: 2,
        collapse_streak: 2,
        first_loss: Some(1.2498391),
    };
    let dir = tempfile::tempdir().unwrap();
    save_trainer(&t, dir.path()).unwrap();
    let back = load_trainer(dir.path(), &Device::flex()).unwrap();
    assert_eq!(back.guard, t.guard);
    assert_eq!(back.guard.lr_scale.to_bits(), (0.1f64 * 0.1).to_bits());
    // A checkpoint.json written before the guard existed has no `guard`.
    let path = dir.path().join("checkpoint.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("guard");
    let old: CheckpointMeta = serde_json::from_value(meta).unwrap();
    assert_eq!(old.guard, crate::guard::GuardState::default());
    assert_eq!(old.guard.lr_scale, 1.0);
}
