//! `ami-jepa`: joint-embedding predictive architectures for world models.
//!
//! A [`Jepa`] encodes observations into representations `s = Enc(o)` and predicts the next
//! representation from the current one and an action, `ŝ' = Pred(s, a)` — or, with a latent
//! variable for the unpredictable part of the future ([`latent`]), `ŝ' = Pred(s, a, z)`; its
//! energy is the prediction error in representation space. It is trained self-supervised on reward-free
//! trajectories with the PLDM objective ([`objective`]): multi-step prediction error plus VICReg
//! variance/covariance regularisation ([`vicreg`]), temporal smoothness and inverse dynamics.

pub mod batcher;
pub mod checkpoint;
pub mod conv;
pub mod diagnostics;
pub mod energy_model;
pub mod error;
pub mod guard;
pub mod hjepa;
pub mod latent;
pub mod mlp;
pub mod model;
pub mod model_config;
pub mod objective;
mod param_ids;
pub mod ssl;
pub mod train;
pub mod vicreg;
pub mod vit;

pub use batcher::{Trajectories, Window};
pub use diagnostics::{collapse, Collapse};
pub use error::JepaError;
pub use guard::{Divergence, DivergenceKind, GuardConfig, GuardState, OnDivergence};
pub use hjepa::{train_level2, Level2, Level2Config, Level2Data, Level2Report};
pub use latent::{LatentConfig, LatentUsage};
pub use model::{EncoderKind, Jepa, JepaConfig};
pub use model_config::{DataStats, ModelConfig};
pub use objective::{jepa_loss, jepa_loss_readout, jepa_loss_with, LossTensors, ObjectiveConfig};
pub use ssl::{
    objective_by_name, Ablated, BarlowTwins, Byol, Ijepa, InfoNce, MomentumSchedule, NtXent,
    Regularizer, SimSiam, SslInputs, SslLoss, SslNeeds, SslObjective, Swav, TargetBranch, Vicreg,
    OBJECTIVE_NAMES,
};
pub use train::{EngineStep, GradientEngine, StepLog, TrainConfig, TrainEngine, Trainer};
pub use vicreg::{vicreg, VicregConfig};

/// Whether the default device is the CPU: no GPU backend compiled in (with `cuda` or `wgpu`
/// the default device is the GPU, where a CPU training kernel would only add copies).
pub fn default_device_is_cpu() -> bool {
    cfg!(not(any(feature = "cuda", feature = "wgpu")))
}

/// Re-export of the tensor backend, so that dependants use the same version.
pub use burn;
