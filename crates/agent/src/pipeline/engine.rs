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

    fn trainer(engine: TrainEngine, latent: bool) -> Trainer {
        let model = JepaConfig {
            obs_dim: 4,
            obs_shape: vec![4],
            repr_dim: 4,
            latent: if latent {
                ami_jepa::LatentConfig::discrete(3)
            } else {
                ami_jepa::LatentConfig::None
            },
            ..JepaConfig::default()
        };
        let train = TrainConfig {
            engine,
            ..TrainConfig::default()
        };
        let objective = ObjectiveConfig::default();
        Trainer::new(model, objective, train, &Device::default()).unwrap()
    }

    #[test]
    fn the_setting_picks_the_engine_and_dense_names_what_it_lacks() {
        let picked = |engine, latent| {
            let mut t = trainer(engine, latent);
            attach_engine(&mut t).map(|()| t.engine_name())
        };
        assert_eq!(picked(TrainEngine::Auto, false).unwrap(), "dense");
        assert_eq!(picked(TrainEngine::Burn, false).unwrap(), "burn");
        assert_eq!(picked(TrainEngine::Dense, false).unwrap(), "dense");
        assert_eq!(picked(TrainEngine::Auto, true).unwrap(), "burn");
        let err = picked(TrainEngine::Dense, true).unwrap_err().to_string();
        assert!(
            err.contains("train.engine") && err.contains("model.latent"),
            "{err}"
        );
    }

    /// A NaN in the data makes the dense engine's loss NaN: the step fails as burn's does,
    /// naming the loss and the step, and nothing is updated.
    #[test]
    fn a_nan_loss_on_the_dense_engine_is_a_non_finite_error() {
        let mut t = trainer(TrainEngine::Dense, false);
        attach_engine(&mut t).unwrap();
        let (n_traj, traj_len) = (4, 5);
        let mut observations = vec![0.5f32; n_traj * (traj_len + 1) * 4];
        observations
            .iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = (i % 7) as f32);
        let data = ami_jepa::Trajectories {
            observations: observations.clone().into(),
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
        std::sync::Arc::make_mut(&mut bad.observations)
            .iter_mut()
            .for_each(|o| *o = f32::NAN);
        let err = t.train_step(&bad).unwrap_err();
        assert!(
            matches!(&err, ami_jepa::JepaError::NonFinite { step: 1, what } if what == "loss"),
            "{err}"
        );
        assert_eq!(t.step, 1);
        // The same on a trainer's very first step (nothing sized yet).
        let mut fresh = trainer(TrainEngine::Dense, false);
        attach_engine(&mut fresh).unwrap();
        assert!(matches!(
            fresh.train_step(&bad),
            Err(ami_jepa::JepaError::NonFinite { step: 0, .. })
        ));
    }
}
