//! Typed errors of the PDE crate.

use std::path::PathBuf;

use ami_io::IoError;

/// Everything that can go wrong when configuring, integrating or saving a PDE dataset.
#[derive(Debug, thiserror::Error)]
pub enum PdeError {
    /// A configuration value is out of range.
    #[error("invalid setting `{key}` = {value}: {expected}")]
    InvalidSetting {
        /// The configuration key (as written on the command line with `--set`).
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected, with the limit.
        expected: String,
    },
    /// A `--set key=value` that names no key of the equation, or whose value does not parse.
    #[error("`--set {given}`: {msg}")]
    BadOverride {
        /// The override as given.
        given: String,
        /// What is wrong (the known keys, or the parse error).
        msg: String,
    },
    /// An equation name that is not one of `burgers`, `kdv`, `ks`.
    #[error("unknown equation `{0}`; expected one of burgers, kdv, ks")]
    UnknownEquation(String),
    /// The integration produced a non-finite value.
    #[error(
        "{equation}: the solution became non-finite (NaN or Inf) at t = {t:.4} (step {step}); \
         lower `dt` or raise `grid`"
    )]
    NonFinite {
        /// The equation's name.
        equation: &'static str,
        /// Time at which it was detected.
        t: f64,
        /// Step index.
        step: usize,
    },
    /// The advective Courant number exceeded the scheme's limit during integration.
    #[error(
        "{equation}: `dt` = {dt} is too large: the advective Courant number a·max|u|·dt/dx \
         reached {courant:.3} at t = {t:.4} (max|u| = {max_u:.3}); the limit is {limit}; \
         lower `dt`: at this max|u| the limit means dt ≤ {dt_max:.3e}, and |u| may grow further"
    )]
    Unstable {
        /// The equation's name.
        equation: &'static str,
        /// The time step.
        dt: f64,
        /// Courant number reached.
        courant: f64,
        /// The limit.
        limit: f64,
        /// Time at which it was reached.
        t: f64,
        /// max |u| at that time.
        max_u: f64,
        /// The largest time step that would satisfy the limit at that max |u|.
        dt_max: f64,
    },
    /// A symmetry the equation does not admit, or a parameter out of range.
    #[error("invalid symmetry: {0}")]
    Symmetry(String),
    /// Arrays of inconsistent shapes passed to a transformation or a residual.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A file that cannot be written or read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The JSON sidecar cannot be written.
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

impl PdeError {
    /// An [`PdeError::InvalidSetting`] with the value formatted.
    pub fn setting(key: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        PdeError::InvalidSetting {
            key,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
