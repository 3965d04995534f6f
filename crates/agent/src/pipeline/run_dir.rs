//! The run directory: `config.toml`, `metrics.jsonl`, `checkpoint/`, `plots/`, `report.json`.
//!
//! **Lock.** A command that writes a run's model (`ami train`, `ami demo`, `ami train-critic`,
//! `ami train-policy`, `ami train-level2`) holds an exclusive advisory lock on `run.lock`
//! ([`RunDir::create_locked`], [`RunDir::open_locked`]) for as long as its [`RunDir`] lives. A
//! second writer is refused with [`AgentError::RunBusy`], which quotes what the holder wrote
//! into the file (command, process id, start time). The operating system releases the lock
//! when the holder's process ends in any way (`SIGKILL` included), so a stale `run.lock` left
//! by a killed process never blocks: the file's presence means nothing, only the lock does.
//! Evaluations do not lock (several `ami eval --set eval.tag=...` may share a run).

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ami_io::write_atomic;

use super::config::RunConfig;
use crate::error::AgentError;

/// The lock file of a run directory.
pub const LOCK_FILE: &str = "run.lock";

/// Removes the file at `path` if there is one (an output an earlier run wrote that this one
/// has nothing for); a missing file is not an error.
pub(crate) fn remove_if_present(path: &Path) -> Result<(), AgentError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AgentError::io(path)(e)),
        _ => Ok(()),
    }
}

/// Paths inside one run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory itself.
    pub root: PathBuf,
    /// The held `run.lock` (shared by clones; released when the last one is dropped).
    lock: Option<Arc<fs::File>>,
}

impl RunDir {
    /// Creates the directory tree (existing files are kept until overwritten).
    pub fn create(root: &Path) -> Result<Self, AgentError> {
        for sub in ["", "checkpoint", "plots"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(AgentError::io(&p))?;
        }
        Ok(RunDir {
            root: root.to_path_buf(),
            lock: None,
        })
    }

    /// [`RunDir::create`], then takes the run's lock for `command` (module docs).
    pub fn create_locked(root: &Path, command: &str) -> Result<Self, AgentError> {
        Self::create(root)?.locked(command)
    }

    /// [`RunDir::open`], then takes the run's lock for `command` (module docs).
    pub fn open_locked(root: &Path, command: &str) -> Result<Self, AgentError> {
        Self::open(root)?.locked(command)
    }

    /// Whether this handle holds the run's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Takes the exclusive lock on `run.lock` without waiting and writes who holds it.
    fn locked(mut self, command: &str) -> Result<Self, AgentError> {
        if self.lock.is_some() {
            return Ok(self);
        }
        let path = self.file(LOCK_FILE);
        let io = |source: std::io::Error| AgentError::Io {
            path: path.clone(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // What the holder wrote; empty when it has not written yet.
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "no details written yet".to_string(),
                    h => h.to_string(),
                };
                return Err(AgentError::RunBusy {
                    path: path.display().to_string(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(
            file,
            "{command}, pid {}, since unix time {since}",
            std::process::id()
        )
        .map_err(io)?;
        file.flush().map_err(io)?;
        self.lock = Some(Arc::new(file));
        Ok(self)
    }

    /// Opens an existing run directory (one with a `config.toml`).
    pub fn open(root: &Path) -> Result<Self, AgentError> {
        if !root.join("config.toml").is_file() {
            return Err(AgentError::config_source(
                root.display().to_string(),
                "is not a run directory (no config.toml)",
            ));
        }
        Self::create(root)
    }

    /// `checkpoint/`.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// `plots/NAME`.
    pub fn plot(&self, name: &str) -> PathBuf {
        self.root.join("plots").join(name)
    }

    /// A file at the root.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `bytes` to the root file `name`, atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), AgentError> {
        Ok(write_atomic(&self.file(name), bytes)?)
    }

    /// Writes `config.toml` atomically.
    pub fn write_config(&self, cfg: &RunConfig) -> Result<(), AgentError> {
        self.write("config.toml", cfg.to_toml()?.as_bytes())
    }

    /// Reads `config.toml`.
    pub fn read_config(&self) -> Result<RunConfig, AgentError> {
        RunConfig::from_toml_file(&self.file("config.toml"), &RunConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_handle_and_its_clones_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let first = RunDir::create_locked(&root, "ami train").unwrap();
        assert!(first.is_locked());
        let said = fs::read_to_string(root.join(LOCK_FILE)).unwrap();
        assert!(said.starts_with("ami train, pid "), "{said}");
        let err = RunDir::create_locked(&root, "ami demo").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, AgentError::RunBusy { .. }), "{msg}");
        assert!(
            msg.contains("run.lock") && msg.contains("ami train, pid"),
            "{msg}"
        );
        // A clone shares the lock: dropping the original alone does not release it.
        let clone = first.clone();
        drop(first);
        assert!(RunDir::create_locked(&root, "ami demo").is_err());
        drop(clone);
        let second = RunDir::create_locked(&root, "ami demo").unwrap();
        let said = fs::read_to_string(root.join(LOCK_FILE)).unwrap();
        assert!(said.starts_with("ami demo, pid "), "{said}");
        // Unlocked handles (evaluations) never conflict.
        assert!(!RunDir::create(&root).unwrap().is_locked());
        drop(second);
    }

    #[test]
    fn a_lock_file_left_behind_without_a_holder_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        fs::create_dir_all(&root).unwrap();
        fs::write(
            root.join(LOCK_FILE),
            "ami train, pid 999999, since unix time 0",
        )
        .unwrap();
        let run = RunDir::create_locked(&root, "ami train").unwrap();
        let said = fs::read_to_string(root.join(LOCK_FILE)).unwrap();
        assert!(!said.contains("999999"), "{said}");
        // open_locked needs a run directory.
        drop(run);
        let err = RunDir::open_locked(&root, "ami train-critic").unwrap_err();
        assert!(err.to_string().contains("no config.toml"), "{err}");
    }
}
