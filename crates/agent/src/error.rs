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
    /// A gradient was asked of a world model that has no vector–Jacobian product.
    #[error(
        "world model `{model}` is not differentiable ({reason}); gradient planners \
         (planner.kind = \"gradient\" or \"cem+gradient\") need one: use \"mppi\" or \"cem\""
    )]
    ModelNotDifferentiable {
        /// The model (its type, or what it runs on).
        model: String,
        /// Why it has no gradient.
        reason: String,
    },
    /// A gradient was asked of a cost term that does not implement one.
    #[error(
        "cost term `{term}` is not differentiable; gradient planners (planner.kind = \
         \"gradient\" or \"cem+gradient\") need every term with a weight > 0 to be: \
         use \"mppi\" or \"cem\""
    )]
    TermNotDifferentiable {
        /// The term's name.
        term: String,
    },
    /// A configuration file or override cannot be used.
    #[error("{origin}: {msg}")]
    Config {
        /// Where the configuration came from (a file, `--set KEY=VALUE`).
        origin: String,
        /// What is wrong, naming the key.
        msg: String,
    },
    /// Another process holds the run directory's lock.
    #[error(
        "{path} is in use by another process ({holder}); wait for it to finish or write to \
         another directory (the lock is released when that process ends, even if it is killed)"
    )]
    RunBusy {
        /// The lock file.
        path: String,
        /// What the lock file says about its holder.
        holder: String,
    },
    /// Training diverged and the divergence guard stopped it
    /// ([`crate::pipeline::guarded`]).
    #[error("training diverged at step {step}: {diagnosis}; {checkpoint}; the diagnosis is in {record} and metrics.jsonl")]
    Diverged {
        /// The step at which it was detected.
        step: usize,
        /// What diverged, by how much (and after how many rollbacks).
        diagnosis: String,
        /// Where the last good checkpoint is, or that there is none.
        checkpoint: String,
        /// The run's `divergence.json`.
        record: String,
    },
    /// Plain I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written or read (its message names the file).
    #[error(transparent)]
    File(#[from] ami_io::IoError),
    /// The environment failed (bad action, state or file; its message names the env).
    #[error(transparent)]
    Env(#[from] ami_envs::EnvError),
    /// The JEPA (model, training or checkpoint) failed.
    #[error(transparent)]
    Jepa(#[from] ami_jepa::JepaError),
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

    /// Shorthand for [`AgentError::Config`].
    pub fn config_source(origin: impl Into<String>, msg: impl Into<String>) -> Self {
        AgentError::Config {
            origin: origin.into(),
            msg: msg.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
        move |source| AgentError::Io {
            path: path.to_path_buf(),
            source,
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
pub(crate) fn check_len<T>(
    what: &str,
    buf: &[T],
    expected: usize,
    shape: impl FnOnce() -> String,
) -> Result<(), AgentError> {
    if buf.len() == expected {
        Ok(())
    } else {
        Err(AgentError::shape(what, buf.len(), shape()))
    }
}
