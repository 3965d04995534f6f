//! The run directory: `config.toml`, `metrics.jsonl`, `checkpoint/`, `plots/`, `report.json`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::RunConfig;

/// Paths inside one run directory.
pub struct RunDir {
    /// The directory itself.
    pub root: PathBuf,
}

impl RunDir {
    /// Creates the directory tree.
    pub fn create(root: &Path) -> Result<Self> {
        for sub in ["", "checkpoint", "plots"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        Ok(RunDir {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing run directory.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.join("config.toml").is_file() {
            anyhow::bail!("{} is not a run directory (no config.toml)", root.display());
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

    /// Writes `config.toml` atomically.
    pub fn write_config(&self, cfg: &RunConfig) -> Result<()> {
        write_atomic(&self.file("config.toml"), cfg.to_toml()?.as_bytes())
    }

    /// Reads `config.toml`.
    pub fn read_config(&self) -> Result<RunConfig> {
        RunConfig::from_toml_file(&self.file("config.toml"), &RunConfig::default())
    }

    /// Appends one JSON object per line to `metrics.jsonl` (truncated when `fresh`).
    pub fn metrics(&self, fresh: bool) -> Result<fs::File> {
        let path = self.file("metrics.jsonl");
        let mut opts = fs::OpenOptions::new();
        opts.create(true);
        if fresh {
            opts.write(true).truncate(true);
        } else {
            opts.append(true);
        }
        opts.open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }
}

/// Writes `bytes` to `path` via a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}
