//! Typed errors of the agent crate.

/// Everything that can go wrong while building or running the agent's modules.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A configuration value is out of range.
    #[error("invalid config: `{field}` = {value}; expected {expected}")]
    InvalidConfig {
        /// Name of the field (e.g. `mppi.temperature`).
        field: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An input buffer has the wrong length for the shape it should hold.
    #[error("shape mismatch in {what}: got {got} values, expected {expected}")]
    Shape {
        /// Which buffer.
        what: String,
        /// Number of values found.
        got: usize,
        /// The shape expected, in words (e.g. `[n=4, h=8, D=2] = 64`).
        expected: String,
    },
    /// A cost or a predicted state was NaN or infinite.
    #[error("{what} is not finite (NaN or infinite); check the world model and the cost terms")]
    NonFinite {
        /// The quantity that was not finite.
        what: String,
    },
    /// A cost term was looked up or added under a name that does not fit.
    #[error("cost term `{name}`: {msg}")]
    CostTerm {
        /// The term's name.
        name: String,
        /// What went wrong.
        msg: String,
    },
    /// The world model failed.
    #[error("world model: {0}")]
    WorldModel(String),
}

impl AgentError {
    /// Shorthand for [`AgentError::InvalidConfig`].
    pub fn config(field: &'static str, value: impl ToString, expected: &'static str) -> Self {
        AgentError::InvalidConfig {
            field,
            value: value.to_string(),
            expected,
        }
    }

    /// Shorthand for [`AgentError::Shape`].
    pub fn shape(what: impl Into<String>, got: usize, expected: impl Into<String>) -> Self {
        AgentError::Shape {
            what: what.into(),
            got,
            expected: expected.into(),
        }
    }
}

/// Return [`AgentError::Shape`] unless `buf.len() == expected`.
pub(crate) fn check_len(
    what: &str,
    buf: &[f32],
    expected: usize,
    shape: impl FnOnce() -> String,
) -> Result<(), AgentError> {
    if buf.len() == expected {
        Ok(())
    } else {
        Err(AgentError::shape(what, buf.len(), shape()))
    }
}
