//! Typed errors of the environments crate.

use std::path::PathBuf;

use ami_io::IoError;

/// Everything that can go wrong in an environment, a dataset or a file.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A configuration value is out of range.
    #[error("invalid config: `{field}` = {value}; expected {expected}")]
    InvalidConfig {
        /// Dotted field name.
        field: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An action that cannot be applied.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// A position outside free space.
    #[error("invalid position: {0}")]
    InvalidPosition(String),
    /// A data file that cannot be used (also what [`IoError::BadFile`] becomes).
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the array/field.
        msg: String,
    },
    /// `[env] kind` names no registered environment.
    #[error("unknown environment kind `{kind}`; registered kinds: {known}")]
    UnknownEnv {
        /// The kind asked for.
        kind: String,
        /// The registered kinds.
        known: String,
    },
    /// The Python environment server of the bridge ([`crate::bridge`]) failed or refused:
    /// names the environment, what went wrong and what to do about it.
    #[error("env `{env}`: {failure}: {detail}{}", .failure.hint())]
    Bridge {
        /// The environment (`gym:Pendulum-v1`, `dmc:cartpole/swingup`).
        env: String,
        /// What kind of failure.
        failure: crate::bridge::BridgeFailure,
        /// What the server or the operating system said.
        detail: String,
    },
    /// A step of `ami envs setup` ([`crate::bridge::setup`]) failed.
    #[error("ami envs setup: {step}: {detail}")]
    Setup {
        /// The step (`python -m venv`, `pip install`, the import check).
        step: String,
        /// What went wrong.
        detail: String,
    },
    /// Plain I/O failure (also what [`IoError::Io`] becomes).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl EnvError {
    /// Shorthand for [`EnvError::InvalidConfig`].
    pub fn config(field: &'static str, value: impl ToString, expected: &'static str) -> Self {
        EnvError::InvalidConfig {
            field,
            value: value.to_string(),
            expected,
        }
    }

    pub(crate) fn bad(path: &std::path::Path, msg: impl Into<String>) -> Self {
        EnvError::BadFile {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// File-format errors keep their variant and text: `BadFile` stays `BadFile`, `Io` stays `Io`.
impl From<IoError> for EnvError {
    fn from(e: IoError) -> Self {
        match e {
            IoError::BadFile { path, msg } => EnvError::BadFile { path, msg },
            IoError::Io { path, source } => EnvError::Io { path, source },
        }
    }
}
