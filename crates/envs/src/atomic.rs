//! Atomic file writes: a temporary file in the same directory, fsync, rename.

use std::io::Write;
use std::path::Path;

use crate::error::EnvError;

/// Writes `bytes` to `path` so that readers see either the old or the complete new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EnvError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| EnvError::Io { path: p, source }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}
