//! `ami-ssl`: self-supervised learning on offline image and video data, with any
//! [`ami_jepa::SslObjective`] (VICReg today; Barlow Twins, BYOL, SimSiam, SwAV, … as they
//! are registered in [`ami_jepa::objective_by_name`]).
//!
//! * [`dataset`] — image and video sets (`.npz` + sidecar), validated on load;
//! * [`augment`] — two random views (crop, flip, colour jitter, grey, noise; mild shifts for
//!   tiny images);
//! * [`encoder`] — the small conv encoder, the projector;
//! * [`train`] — the generic two-view training loop (predictor, stop-gradient or EMA target,
//!   prototypes as the objective needs), loss terms per step, collapse diagnostics;
//! * [`masked`] — the token loop of the masked objectives (I-JEPA): a ViT context encoder,
//!   multi-block masks, the ViT predictor and the EMA target encoder;
//! * [`compare`] — `ami experiment ssl-compare`: every objective on the same data and
//!   budget: probe accuracy, seconds per step, effective rank;
//! * [`probe`] — linear probes on frozen features: multinomial logistic regression (accuracy)
//!   and ridge regression (R²);
//! * [`supervised`] — the baseline: the same encoder trained from scratch by cross-entropy;
//! * [`experiment`] — `ami ssl train`: pre-train, probe at 1/10/100 % of the labels against a
//!   random-init encoder and the supervised baseline, write the report;
//! * [`overrides`] — `--set KEY=VALUE` on the settings structs;
//! * [`video`] — a video JEPA on moving shapes: predict the representation of a future frame
//!   from the context frames' representations, probe positions and velocities.

pub mod augment;
pub mod collapse;
pub mod compare;
pub mod dataset;
pub mod encoder;
pub mod error;
pub mod experiment;
pub mod masked;
pub mod overrides;
pub mod probe;
pub mod supervised;
pub mod train;
pub mod video;

pub use augment::{AugmentConfig, AugmentKind};
pub use dataset::{ImageSet, VideoSet};
pub use encoder::{Arch, Backbone, EncoderConfig, ImageEncoder, Online};
pub use error::SslError;
pub use train::{pretrain, Diagnostic, StepLog, TrainConfig, Trained};
