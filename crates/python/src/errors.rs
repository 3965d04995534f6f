//! Library errors as Python exceptions, and the panic boundary.
//!
//! | library error | Python exception |
//! |---|---|
//! | shapes, non-finite values, configuration (`AgentError::{Shape, NonFinite, InvalidConfig, Config, CostTerm}` and their `ami-envs` / `ami-jepa` counterparts) | `ValueError` |
//! | files and directories (`Io`, `File`, a dataset or checkpoint file that cannot be used) | `OSError` |
//! | anything else (a busy run directory, divergence, a world-model failure) and a panic | `RuntimeError` |
//!
//! The exception's message is the library's (`Display`), which names the file, field or
//! array at fault.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ami_agent::AgentError;
use ami_envs::EnvError;
use ami_jepa::JepaError;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// The Python exception for a library error (module docs).
pub fn to_py(e: AgentError) -> PyErr {
    let msg = e.to_string();
    let value = || PyValueError::new_err(msg.clone());
    let os = || PyOSError::new_err(msg.clone());
    match &e {
        AgentError::Shape { .. }
        | AgentError::NonFinite { .. }
        | AgentError::InvalidConfig { .. }
        | AgentError::Config { .. }
        | AgentError::CostTerm { .. } => value(),
        AgentError::Io { .. } | AgentError::File(_) => os(),
        AgentError::Env(env) => match env {
            EnvError::InvalidConfig { .. }
            | EnvError::InvalidAction(_)
            | EnvError::InvalidPosition(_)
            | EnvError::UnknownEnv { .. } => value(),
            EnvError::BadFile { .. } | EnvError::Io { .. } => os(),
            _ => PyRuntimeError::new_err(msg),
        },
        AgentError::Jepa(j) => match j {
            JepaError::InvalidConfig { .. }
            | JepaError::Shape { .. }
            | JepaError::NonFinite { .. } => value(),
            JepaError::Checkpoint { .. } | JepaError::Io { .. } => os(),
            JepaError::Engine { .. } => PyRuntimeError::new_err(msg),
        },
        _ => PyRuntimeError::new_err(msg),
    }
}

/// A `ValueError` naming the argument `arg`.
pub fn bad_arg(arg: &str, msg: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{arg}: {msg}"))
}

/// Runs `f`, turning a library error into its Python exception and a panic into a
/// `RuntimeError` (a panic must not unwind into the interpreter).
pub fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, AgentError>) -> Result<T, PyErr> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(e)),
        Err(payload) => {
            let detail = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(PyRuntimeError::new_err(format!(
                "internal error in {what} (a bug in ami; please report it): {detail}"
            )))
        }
    }
}
