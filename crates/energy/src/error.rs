//! Typed errors of the EBM toolbox. Every message names the parameter or array, the value
//! found and what was expected.

/// Everything that can go wrong when fitting or applying an energy-based model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnergyError {
    /// A hyper-parameter is out of range.
    #[error("invalid parameter `{name}` = {value}; expected {expected}")]
    InvalidParam {
        /// The parameter (builder method / CLI flag without dashes).
        name: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// An array has the wrong shape.
    #[error("`{what}` has shape {found}; expected {expected}")]
    Shape {
        /// The array.
        what: &'static str,
        /// Its shape, as `[rows, cols]`.
        found: String,
        /// The shape that was expected.
        expected: String,
    },
    /// An array holds a NaN or an infinity.
    #[error("`{what}` has a non-finite value ({value}) at row {row}, column {col}")]
    NonFinite {
        /// The array.
        what: &'static str,
        /// Row of the first non-finite value.
        row: usize,
        /// Column of the first non-finite value.
        col: usize,
        /// The value (NaN, inf or -inf).
        value: f64,
    },
    /// Fewer samples than the model needs.
    #[error("`{what}` has {n_samples} samples; at least {needed} are needed ({why})")]
    TooFewSamples {
        /// The array.
        what: &'static str,
        /// Samples given.
        n_samples: usize,
        /// Samples needed.
        needed: usize,
        /// Why that many are needed.
        why: &'static str,
    },
    /// The data admit no fit of this model (e.g. every feature constant for PCA).
    #[error("`{what}` is degenerate: {why}")]
    Degenerate {
        /// The array.
        what: &'static str,
        /// What is wrong and what to do.
        why: &'static str,
    },
    /// A matrix that must be symmetric positive definite is not.
    #[error("{what} is not symmetric positive definite{hint}")]
    NotPositiveDefinite {
        /// The matrix (e.g. "covariance of component 2").
        what: String,
        /// What to do about it (may be empty).
        hint: &'static str,
    },
    /// An input's values are outside what the computation takes (e.g. a row too short to
    /// normalise).
    #[error("`{what}` {found}; expected {expected}")]
    InvalidInput {
        /// The array.
        what: &'static str,
        /// What was found (e.g. "row 3 has norm 0").
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A name (of a loss, an input or a parameter) that is not known.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// What kind of name (e.g. "SSL loss", "input of `vicreg`").
        kind: String,
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A required input was not given.
    #[error("`{owner}` needs input `{input}` (its inputs: {inputs})")]
    MissingInput {
        /// What needs it (e.g. the loss name).
        owner: &'static str,
        /// The missing input.
        input: &'static str,
        /// Every input it takes, comma-separated.
        inputs: String,
    },
    /// The same name was given twice.
    #[error("{kind} `{name}` is given twice")]
    Duplicate {
        /// What kind of name ("input", "parameter").
        kind: &'static str,
        /// The name.
        name: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EnergyError>;

pub(crate) fn invalid(
    name: &'static str,
    value: impl std::fmt::Display,
    expected: impl Into<String>,
) -> EnergyError {
    EnergyError::InvalidParam {
        name,
        value: value.to_string(),
        expected: expected.into(),
    }
}
