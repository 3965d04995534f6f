//! Typed errors of the JEPA crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, training or saving a JEPA.
#[derive(Debug, thiserror::Error)]
pub enum JepaError {
    /// A configuration value is out of range.
    #[error("invalid config: `{field}` = {value}; expected {expected}")]
    InvalidConfig {
        /// Dotted name of the field.
        field: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// Input data has the wrong shape.
    #[error("shape mismatch in {what}: got {got:?}, expected {expected}")]
    Shape {
        /// Which input.
        what: String,
        /// The shape found.
        got: Vec<usize>,
        /// The shape expected, in words.
        expected: String,
    },
    /// A loss or representation became NaN or infinite.
    #[error("training diverged at step {step}: {what} is not finite")]
    NonFinite {
        /// Optimiser step at which it happened.
        step: usize,
        /// The quantity that was not finite.
        what: String,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The file involved.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// A training kernel outside burn ([`crate::train::GradientEngine`]) failed.
    #[error("training kernel `{engine}`: {msg}")]
    Engine {
        /// The engine's name.
        engine: String,
        /// What went wrong.
        msg: String,
    },
    /// Plain I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl JepaError {
    /// Shorthand for [`JepaError::InvalidConfig`].
    pub fn config(field: &str, value: impl ToString, expected: &str) -> Self {
        JepaError::InvalidConfig {
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

impl From<ami_io::IoError> for JepaError {
    fn from(e: ami_io::IoError) -> Self {
        match e {
            ami_io::IoError::Io { path, source } => JepaError::Io { path, source },
            ami_io::IoError::BadFile { path, msg } => JepaError::Checkpoint { path, msg },
        }
    }
}
