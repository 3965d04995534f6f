//! The run directory: `config.toml`, `metrics.jsonl`, `checkpoint/`, `plots/`, `report.json`.

use std::fs;
use std::path::{Path, PathBuf};

use ami_io::write_atomic;

use super::config::RunConfig;
use crate::error::AgentError;

/// Paths inside one run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory itself.
    pub root: PathBuf,
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
        })
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
