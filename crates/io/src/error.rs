//! Typed errors of the file-format crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong reading or writing a file; every message names the file and,
/// where there is one, the array or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A file that cannot be used (bad format, wrong shape, unsupported dtype, …).
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the array/field.
        msg: String,
    },
    /// Plain I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl IoError {
    /// Shorthand for [`IoError::BadFile`].
    pub fn bad(path: &Path, msg: impl Into<String>) -> Self {
        IoError::BadFile {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A closure turning a [`std::io::Error`] on `path` into [`IoError::Io`] (for `map_err`).
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| IoError::Io { path, source }
    }
}
