//! Atomic file writes: a temporary file in the same directory, fsync, rename.

use std::io::Write;
use std::path::Path;

use crate::error::IoError;

/// Writes `bytes` to `path` so that readers see either the old or the complete new file: the
/// bytes go to `.NAME.tmp` beside `path`, are synced to disk, and the temporary file is renamed
/// over `path` (a rename within one directory is atomic on POSIX file systems).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(IoError::io(&tmp))?;
    f.write_all(bytes).map_err(IoError::io(&tmp))?;
    f.sync_all().map_err(IoError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(IoError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no-such-dir").join("b.json");
        let e = write_atomic(&missing, b"x").unwrap_err().to_string();
        assert!(e.contains(".b.json.tmp"), "{e}");
    }
}
