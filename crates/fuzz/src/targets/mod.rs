//! One file per loader; [`all`] lists them in command-line order.

pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod npy;
pub mod npz;
pub mod safetensors;
pub mod zip;

use crate::Target;

/// Every target.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(npy::Npy),
        Box::new(npz::Npz::new()),
        Box::new(safetensors::Safetensors),
        Box::new(checkpoint::Checkpoint),
        Box::new(config::Config::new()),
        Box::new(dataset::DatasetTarget::new()),
    ]
}
