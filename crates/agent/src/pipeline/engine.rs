//! What computes the world model's training steps (`train.engine`): the dense CPU kernel
//! ([`crate::kernel::DenseJepaGradients`]) where it applies, burn's autodiff otherwise. Both
//! feed the same AdamW, checkpoints and logs, so a run may switch between them on resume.

use ami_jepa::{default_device_is_cpu, TrainEngine, Trainer};

use crate::error::AgentError;
use crate::kernel::DenseJepaGradients;

/// Sets `trainer`'s engine from its `train.engine`: `burn` → burn; `auto` → the dense kernel
/// on the CPU backend when the model and objective are supported, else burn; `dense` → the
/// kernel, or an error naming what it does not support.
pub fn attach_engine(trainer: &mut Trainer) -> Result<(), AgentError> {
    let supported = DenseJepaGradients::supports(&trainer.model_config, &trainer.objective);
    let dense = match (trainer.train_config.engine, supported) {
        (TrainEngine::Burn, _) => false,
        (TrainEngine::Auto, Ok(())) => default_device_is_cpu(),
        (TrainEngine::Auto, Err(_)) => false,
        (TrainEngine::Dense, Ok(())) => true,
        (TrainEngine::Dense, Err(why)) => {
            return Err(AgentError::config_source(
                "train.engine",
                format!("`dense` does not support {why}; use \"auto\" or \"burn\""),
            ))
        }
    };
    let engine: Option<Box<dyn ami_jepa::GradientEngine>> =
        dense.then(|| Box::new(DenseJepaGradients::new()) as _);
    trainer.set_engine(engine);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_jepa::burn::tensor::Device;
    use ami_jepa::{JepaConfig, ObjectiveConfig, TrainConfig};

    fn trainer(engine: TrainEngine, objective: ObjectiveConfig) -> Trainer {
        let model = JepaConfig {
            obs_dim: 4,
            obs_shape: vec![4],
            repr_dim: 4,
            readout_dim: 1,
            ..JepaConfig::default()
        };
        let train = TrainConfig {
            engine,
            ..TrainConfig::default()
        };
        Trainer::new(model, objective, train, &Device::default()).unwrap()
    }

    #[test]
    fn the_setting_picks_the_engine_and_dense_names_what_it_lacks() {
        let plain = ObjectiveConfig::default();
        let readout = ObjectiveConfig {
            readout: 1.0,
            ..ObjectiveConfig::default()
        };
        let picked = |engine, objective| {
            let mut t = trainer(engine, objective);
            attach_engine(&mut t).map(|()| t.engine_name())
        };
        assert_eq!(picked(TrainEngine::Auto, plain.clone()).unwrap(), "dense");
        assert_eq!(picked(TrainEngine::Burn, plain.clone()).unwrap(), "burn");
        assert_eq!(picked(TrainEngine::Dense, plain).unwrap(), "dense");
        assert_eq!(picked(TrainEngine::Auto, readout.clone()).unwrap(), "burn");
        let err = picked(TrainEngine::Dense, readout).unwrap_err().to_string();
        assert!(
            err.contains("train.engine") && err.contains("objective.readout"),
            "{err}"
        );
    }

    /// A NaN in the data makes the dense engine's loss NaN: the step fails as burn's does,
    /// naming the loss and the step, and nothing is updated.
    #[test]
    fn a_nan_loss_on_the_dense_engine_is_a_non_finite_error() {
        let mut t = trainer(TrainEngine::Dense, ObjectiveConfig::default());
        attach_engine(&mut t).unwrap();
        let (n_traj, traj_len) = (4, 5);
        let mut observations = vec![0.5f32; n_traj * (traj_len + 1) * 4];
        observations
            .iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = (i % 7) as f32);
        let data = ami_jepa::Trajectories {
            observations: observations.clone(),
            actions: vec![0.1; n_traj * traj_len * 2],
            n_traj,
            traj_len,
            obs_dim: 4,
            action_dim: 2,
            readout: Vec::new(),
            readout_dim: 0,
        };
        assert!(t.train_step(&data).unwrap().loss.is_finite());
        let mut bad = data;
        bad.observations.iter_mut().for_each(|o| *o = f32::NAN);
        let err = t.train_step(&bad).unwrap_err();
        assert!(
            matches!(&err, ami_jepa::JepaError::NonFinite { step: 1, what } if what == "loss"),
            "{err}"
        );
        assert_eq!(t.step, 1);
        // The same on a trainer's very first step (nothing sized yet).
        let mut fresh = trainer(TrainEngine::Dense, ObjectiveConfig::default());
        attach_engine(&mut fresh).unwrap();
        assert!(matches!(
            fresh.train_step(&bad),
            Err(ami_jepa::JepaError::NonFinite { step: 0, .. })
        ));
    }
}
