//! `ami-pde-ssl`: self-supervised pre-training on PDE trajectories with the equations' Lie
//! point symmetries as views (Mialon, Garrido, Lawrence, Rehman, LeCun, Kiani, NeurIPS 2023),
//! and the downstream regression of the coefficient from the frozen representation.
//!
//! `ami experiment pde-ssl` ([`experiment::run`]) is the whole study in one command.
//!
//! * [`views`] — random views: time crop, space translation, Galilean boost, noise;
//! * [`encoder`] — the conv encoder of a `[T, X]` window (periodic in x, pooled);
//! * [`pretrain`] — the VICReg (any [`ami_jepa::SslObjective`]) training loop;
//! * [`probe`] — ridge and kernel-ridge heads on frozen features, and the supervised baseline;
//! * [`experiment`] — the report: regression table (SSL vs crop/noise vs untrained vs
//!   supervised), ablation, time-stepping, solver accuracy, plots;
//! * [`timestep`] — a periodic-conv time-stepper with and without the frozen representation
//!   as conditioning, and its rollout error.

pub mod encoder;
pub mod error;
pub mod experiment;
pub mod pretrain;
pub mod probe;
pub mod timestep;
pub mod views;

pub use encoder::{EncoderConfig, PdeEncoder};
pub use error::SslError;
pub use pretrain::{pretrain, PretrainConfig};
pub use views::{Augmentation, ViewConfig};
