//! A checkpoint as one atomic set of files.
//!
//! ```text
//! <dir>/current            -> step-000000120        symbolic link: the one commit point
//! <dir>/step-000000120/       checkpoint.json  model.safetensors  model.bpk  optimizer.bpk
//! <dir>/checkpoint.json    -> current/checkpoint.json     fixed links, made once
//! <dir>/model.safetensors  -> current/model.safetensors
//! <dir>/model.bpk          -> current/model.bpk
//! <dir>/optimizer.bpk      -> current/optimizer.bpk
//! ```
//!
//! A save writes every file into a fresh version directory, then renames a new link over
//! `current`. rename(2) replaces the link atomically, so a process killed at any instant leaves
//! `current` naming either the complete old set or the complete new one, and every fixed path
//! `<dir>/<file>` reads from that set. The loaders resolve `current` once and read every file
//! from that one version directory ([`resolve`]), so a concurrent save cannot mix the files of
//! one load either. Old version directories and whatever a killed save left behind are deleted
//! after the swap.
//!
//! A directory in the earlier layout (the four regular files directly in `<dir>`) is adopted
//! without a window: its files are first copied into a version directory that `current` is
//! pointed at, then each is replaced by its fixed link (to the same contents), and only then
//! is the new set written.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::io_err;
use crate::error::JepaError;

/// The files of one checkpoint, each reachable at `<dir>/<name>`.
pub const FILES: [&str; 4] = [
    "checkpoint.json",
    "model.safetensors",
    "model.bpk",
    "optimizer.bpk",
];

/// The link naming the current version directory.
const CURRENT: &str = "current";
/// The new link, renamed over [`CURRENT`].
const NEW_CURRENT: &str = ".current.new";
/// Version directories are `step-<step, 9 digits>` (`.1`, `.2`, … when that name is taken).
const VERSION_PREFIX: &str = "step-";

/// Counts the file-system changes of one save and, in tests, stops the save with an error just
/// before change number `fail_after` (0: before the first) — what a kill at that instant
/// leaves behind, since a failed save cleans nothing up.
#[derive(Debug, Default)]
pub(crate) struct Failpoint {
    changes: usize,
    fail_after: Option<usize>,
}

impl Failpoint {
    /// Never fails.
    pub(crate) fn never() -> Self {
        Failpoint::default()
    }

    /// Fails before change number `n`.
    #[cfg(test)]
    pub(crate) fn after(n: usize) -> Self {
        Failpoint {
            changes: 0,
            fail_after: Some(n),
        }
    }

    /// Called before every change of the file system.
    fn change(&mut self, dir: &Path) -> Result<(), JepaError> {
        if self.fail_after == Some(self.changes) {
            return Err(JepaError::Checkpoint {
                path: dir.to_path_buf(),
                msg: format!("injected failure before change {}", self.changes),
            });
        }
        self.changes += 1;
        Ok(())
    }
}

/// The directory holding the files of the checkpoint in `dir`: the target of `dir/current`, or
/// `dir` itself where there is no `current` (the earlier layout, or nothing saved yet).
pub fn resolve(dir: &Path) -> Result<PathBuf, JepaError> {
    let link = dir.join(CURRENT);
    match fs::read_link(&link) {
        Ok(target) => Ok(dir.join(target)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(dir.to_path_buf()),
        Err(source) => Err(JepaError::Io { path: link, source }),
    }
}

/// Writes a new set into `dir` (created if missing) and makes it current. `write(name, path)`
/// is called once per name of [`FILES`], in that order, and must write that file at `path`.
pub(crate) fn commit(
    dir: &Path,
    step: usize,
    write: &mut dyn FnMut(&str, &Path) -> Result<(), JepaError>,
    fp: &mut Failpoint,
) -> Result<(), JepaError> {
    if !dir.is_dir() {
        fp.change(dir)?;
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    adopt_earlier_layout(dir, fp)?;
    for name in FILES {
        fixed_link(dir, name, fp)?;
    }
    let version = fresh_name(dir, &format!("{step:09}"));
    let vdir = dir.join(&version);
    fp.change(dir)?;
    fs::create_dir(&vdir).map_err(io_err(&vdir))?;
    for name in FILES {
        let path = vdir.join(name);
        fp.change(dir)?;
        write(name, &path)?;
        sync_file(&path)?;
    }
    sync_dir(&vdir)?;
    point_current(dir, &version, fp)?;
    collect_garbage(dir, &version, fp)
}

/// Earlier layout (regular files in `dir`, no `current`): copy them into a version directory
/// and point `current` at it, so that replacing them by links changes no content.
fn adopt_earlier_layout(dir: &Path, fp: &mut Failpoint) -> Result<(), JepaError> {
    if exists(&dir.join(CURRENT))? {
        return Ok(());
    }
    let mut earlier = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            earlier.push((name, path));
        }
    }
    if earlier.is_empty() {
        return Ok(());
    }
    let version = fresh_name(dir, "earlier");
    let vdir = dir.join(&version);
    fp.change(dir)?;
    fs::create_dir(&vdir).map_err(io_err(&vdir))?;
    for (name, path) in earlier {
        fp.change(dir)?;
        fs::copy(&path, vdir.join(name)).map_err(io_err(&path))?;
        sync_file(&vdir.join(name))?;
    }
    sync_dir(&vdir)?;
    point_current(dir, &version, fp)
}

/// Makes `dir/name` the link `current/name` unless it already is.
fn fixed_link(dir: &Path, name: &str, fp: &mut Failpoint) -> Result<(), JepaError> {
    let path = dir.join(name);
    let target = Path::new(CURRENT).join(name);
    if fs::read_link(&path).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.link"));
    remove_if_present(&tmp, fp)?;
    fp.change(dir)?;
    symlink(&target, &tmp, false).map_err(io_err(&tmp))?;
    fp.change(dir)?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

/// The commit: a new link to `version`, renamed over `dir/current`.
fn point_current(dir: &Path, version: &str, fp: &mut Failpoint) -> Result<(), JepaError> {
    let tmp = dir.join(NEW_CURRENT);
    remove_if_present(&tmp, fp)?;
    fp.change(dir)?;
    symlink(Path::new(version), &tmp, true).map_err(io_err(&tmp))?;
    fp.change(dir)?;
    fs::rename(&tmp, dir.join(CURRENT)).map_err(io_err(&dir.join(CURRENT)))?;
    sync_dir(dir)
}

/// Deletes every version directory but `keep`, and the temporary links and files of killed
/// saves (ours and the earlier `.<file>.tmp`); nothing else in `dir` is touched.
fn collect_garbage(dir: &Path, keep: &str, fp: &mut Failpoint) -> Result<(), JepaError> {
    let entries = fs::read_dir(dir).map_err(io_err(dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        let is_dir = entry.file_type().map_err(io_err(&path))?.is_dir();
        if is_dir && name.starts_with(VERSION_PREFIX) && name != keep {
            fp.change(dir)?;
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        } else if !is_dir && is_leftover(&name) {
            remove_if_present(&path, fp)?;
        }
    }
    Ok(())
}

/// Temporary names of a save: the new `current` link, `.<file>.link`, `.<file>.tmp`.
fn is_leftover(name: &str) -> bool {
    name == NEW_CURRENT
        || FILES
            .iter()
            .any(|f| name == format!(".{f}.link") || name == format!(".{f}.tmp"))
}

/// `step-<label>`, or `step-<label>.<i>` for the first `i` not yet taken in `dir`.
fn fresh_name(dir: &Path, label: &str) -> String {
    let base = format!("{VERSION_PREFIX}{label}");
    (0..)
        .map(|i| match i {
            0 => base.clone(),
            i => format!("{base}.{i}"),
        })
        .find(|name| fs::symlink_metadata(dir.join(name)).is_err())
        .expect("an unbounded range has a free name")
}

fn exists(path: &Path) -> Result<bool, JepaError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(source) => Err(JepaError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn remove_if_present(path: &Path, fp: &mut Failpoint) -> Result<(), JepaError> {
    if exists(path)? {
        fp.change(path)?;
        fs::remove_file(path).map_err(io_err(path))?;
    }
    Ok(())
}

fn sync_file(path: &Path) -> Result<(), JepaError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

/// Makes the directory's entries (new names, renames) durable.
fn sync_dir(dir: &Path) -> Result<(), JepaError> {
    #[cfg(unix)]
    {
        sync_file(dir)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A symbolic link at `link` to `target` (relative to the link's directory).
fn symlink(target: &Path, link: &Path, to_dir: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let _ = to_dir;
        std::os::unix::fs::symlink(target, link)
    }
    #[cfg(windows)]
    {
        if to_dir {
            std::os::windows::fs::symlink_dir(target, link)
        } else {
            std::os::windows::fs::symlink_file(target, link)
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (target, link, to_dir);
        Err(std::io::Error::new(
            ErrorKind::Unsupported,
            "checkpoints need symbolic links (unix or windows)",
        ))
    }
}
