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
