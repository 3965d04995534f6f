//! Typed errors of the image SSL crate; every message names the file, field or setting.

use std::path::PathBuf;

use ami_io::IoError;

/// Everything that can go wrong in loading, training and probing.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// A setting out of range or unknown.
    #[error("invalid setting `{key}` = {value}: expected {expected}")]
    Config {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A data file whose array or field is missing or wrong.
    #[error("{}: `{field}`: {msg}", .path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// The array or sidecar field at fault.
        field: String,
        /// What is wrong and what was expected.
        msg: String,
    },
    /// A file could not be read or written (the message names it).
    #[error(transparent)]
    Io(#[from] IoError),
    /// From the JEPA crate (an objective given inputs it cannot use).
    #[error(transparent)]
    Jepa(#[from] ami_jepa::JepaError),
    /// An objective needs machinery this loop does not build yet.
    #[error("objective `{objective}` is unsupported here: {why}")]
    Unsupported {
        /// The objective.
        objective: String,
        /// What is missing.
        why: String,
    },
    /// A loss became NaN or infinite.
    #[error("non-finite {what} at step {step}")]
    NonFinite {
        /// What.
        what: String,
        /// The optimiser step.
        step: usize,
    },
}

impl SslError {
    /// A [`SslError::Config`].
    pub fn config(
        key: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        SslError::Config {
            key: key.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// A [`SslError::BadFile`].
    pub fn bad(path: &std::path::Path, field: &str, msg: impl Into<String>) -> Self {
        SslError::BadFile {
            path: path.to_path_buf(),
            field: field.to_string(),
            msg: msg.into(),
        }
    }
}
