//! The environment bridge: Gymnasium and DeepMind Control environments run by a Python env
//! server in a subprocess, behind the same [`crate::Env`] and [`crate::EnvSpec`] as the
//! built-in environments (`[env] kind = "gym"` in [`crate::gym`], `kind = "dmc"` in
//! [`crate::dmc`]).
//!
//! * [`protocol`] — the framing: length-prefixed messages, a JSON header, f32/f64 arrays as
//!   raw little-endian bytes.
//! * [`server`] — [`server::EnvServer`]: the child process, a reader thread and a channel read
//!   with a timeout, so a dead or hung server is an error, never a hang; the child is killed
//!   on drop.
//! * [`python`] — which Python runs the server (`AMI_PYTHON`, else the virtual environment of
//!   `ami envs setup`), and the server script, embedded in the binary and written to the cache
//!   directory at use.
//! * [`remote`] — [`remote::RemoteEnv`], the running environment on a server.
//! * [`action`] — [`action::ActionMap`], from the agent's actions to a Gymnasium `Box`.
//! * [`spec`] — [`spec::RemoteSpec`], what the gym and dmc specs share (probing spaces,
//!   tasks and goals, the random behaviour policy, pictures).
//! * [`setup`] — `ami envs setup`: the virtual environment and its pinned packages.
//!
//! Nothing here needs Python until a bridge environment is built or probed.

pub mod action;
pub mod protocol;
pub mod python;
pub mod remote;
pub mod server;
pub mod setup;
pub mod spec;

use std::fmt;

/// What went wrong on the bridge (the kind of an [`crate::EnvError::Bridge`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeFailure {
    /// No Python interpreter to run the server.
    NoPython,
    /// The server could not import a package (the package's pip name).
    MissingPackage(String),
    /// Gymnasium or dm_control does not know the environment.
    UnknownEnv,
    /// The environment exists but the bridge cannot drive it (discrete actions, no state).
    Unsupported,
    /// The environment raised an exception, or refused a request.
    Python,
    /// The server exited or closed its output.
    Crashed,
    /// The server did not answer in time (it was killed).
    Timeout,
    /// The server's reply breaks the protocol.
    Malformed,
}

impl BridgeFailure {
    /// What the user can do about it (starts with `; ` or is empty).
    pub fn hint(&self) -> &'static str {
        match self {
            BridgeFailure::NoPython => {
                "; run `ami envs setup` (it creates the bridge's virtual environment), or set \
                 AMI_PYTHON to a Python that has gymnasium"
            }
            BridgeFailure::MissingPackage(_) => {
                "; run `ami envs setup` to install the bridge's pinned packages (or install \
                 them into the Python named by AMI_PYTHON)"
            }
            BridgeFailure::UnknownEnv => {
                "; check `env.id` (a Gymnasium id such as `Pendulum-v1`) or `env.domain` / \
                 `env.task` (a DeepMind Control task such as cartpole / swingup)"
            }
            BridgeFailure::Crashed | BridgeFailure::Timeout => {
                "; the server's last stderr lines are above; `ami envs setup` reinstalls the \
                 pinned packages"
            }
            _ => "",
        }
    }
}

impl fmt::Display for BridgeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeFailure::NoPython => write!(f, "no Python for the env bridge"),
            BridgeFailure::MissingPackage(p) => write!(f, "missing Python package `{p}`"),
            BridgeFailure::UnknownEnv => write!(f, "unknown environment"),
            BridgeFailure::Unsupported => write!(f, "not supported by the bridge"),
            BridgeFailure::Python => write!(f, "the environment failed"),
            BridgeFailure::Crashed => write!(f, "the env server died"),
            BridgeFailure::Timeout => write!(f, "the env server did not answer"),
            BridgeFailure::Malformed => write!(f, "malformed reply from the env server"),
        }
    }
}

/// Shorthand for an [`crate::EnvError::Bridge`].
pub(crate) fn bridge_error(
    env: &str,
    failure: BridgeFailure,
    detail: impl Into<String>,
) -> crate::EnvError {
    crate::EnvError::Bridge {
        env: env.to_string(),
        failure,
        detail: detail.into(),
    }
}
