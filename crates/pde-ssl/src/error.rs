//! Typed errors of the PDE pre-training crate.

use ami_pde::PdeError;

/// Everything that can go wrong in pre-training and probing.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// A setting out of range.
    #[error("invalid setting `{key}` = {value}: expected {expected}")]
    Config {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// From the PDE crate (a symmetry, a grid).
    #[error(transparent)]
    Pde(#[from] PdeError),
    /// From the JEPA crate (an objective given inputs it cannot use).
    #[error(transparent)]
    Jepa(#[from] ami_jepa::JepaError),
    /// An output file could not be written.
    #[error("cannot write {path}: {msg}")]
    Write {
        /// The path.
        path: String,
        /// Why.
        msg: String,
    },
    /// A loss or a prediction became NaN or infinite.
    #[error("non-finite {what} at step {step}")]
    NonFinite {
        /// What.
        what: String,
        /// Step.
        step: usize,
    },
}

impl SslError {
    /// A [`SslError::Config`].
    pub fn config(key: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        SslError::Config {
            key,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
