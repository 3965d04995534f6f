//! Which Python runs the env server, and where the server script lives.
//!
//! * The cache directory is `$XDG_CACHE_HOME/ami`, else `$HOME/.cache/ami`, else
//!   `<temp>/ami`.
//! * The virtual environment of `ami envs setup` is `$AMI_VENV`, else `<cache>/venv`.
//! * The bridge runs `$AMI_PYTHON` if set, else the virtual environment's `bin/python`.
//!   There is no fallback to a system Python: the bridge runs the pinned packages or says
//!   how to get them.
//! * The server script (`crates/envs/python/ami_env_server.py`) is compiled into the binary
//!   and written to `<cache>/bridge/ami_env_server-<hash>.py` on first use (the hash of its
//!   text, so binaries of different versions never share a script).

use std::path::{Path, PathBuf};

use crate::bridge::{bridge_error, BridgeFailure};
use crate::error::EnvError;

/// The server script, as compiled into the binary.
pub const SERVER_SCRIPT: &str = include_str!("../../python/ami_env_server.py");

/// `$XDG_CACHE_HOME/ami`, else `$HOME/.cache/ami`, else `<temp>/ami`.
pub fn cache_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = non_empty("XDG_CACHE_HOME") {
        PathBuf::from(x).join("ami")
    } else if let Some(h) = non_empty("HOME") {
        PathBuf::from(h).join(".cache").join("ami")
    } else {
        std::env::temp_dir().join("ami")
    }
}

/// The bridge's virtual environment: `$AMI_VENV`, else `<cache>/venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("AMI_VENV").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => cache_dir().join("venv"),
    }
}

/// The interpreter inside the virtual environment `venv`.
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The Python the bridge runs (module docs); the error for `env` says how to get one.
pub fn bridge_python(env: &str) -> Result<PathBuf, EnvError> {
    if let Some(p) = std::env::var_os("AMI_PYTHON").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let venv = venv_dir();
    let python = venv_python(&venv);
    if python.exists() {
        Ok(python)
    } else {
        Err(bridge_error(
            env,
            BridgeFailure::NoPython,
            format!(
                "AMI_PYTHON is not set and there is no virtual environment at {}",
                venv.display()
            ),
        ))
    }
}

/// FNV-1a (64 bit) of `bytes`: names the script file by its content.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes [`SERVER_SCRIPT`] to the cache directory (once per version) and returns its path.
pub fn server_script() -> Result<PathBuf, EnvError> {
    let dir = cache_dir().join("bridge");
    let path = dir.join(format!(
        "ami_env_server-{:016x}.py",
        fnv1a(SERVER_SCRIPT.as_bytes())
    ));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SERVER_SCRIPT) {
        std::fs::create_dir_all(&dir).map_err(|source| EnvError::Io {
            path: dir.clone(),
            source,
        })?;
        // A temporary name of this process and moment, then a rename: concurrent first
        // uses (tests, evaluation workers) never see a partial file.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(".server-{}-{nanos}.tmp", std::process::id()));
        let io = |source| EnvError::Io {
            path: tmp.clone(),
            source,
        };
        std::fs::write(&tmp, SERVER_SCRIPT).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_embedded_and_named_by_its_content() {
        assert!(SERVER_SCRIPT.contains("def serve()"));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
