//! How long work reports its progress: the library calls a [`Progress`]; the binary draws bars.

/// A sink for the progress of one phase at a time (`data`, `train`, `eval`).
pub trait Progress: Sync {
    /// A phase of `total` units begins.
    fn start(&self, phase: &str, total: u64);
    /// `done` units of the current phase are finished; `message` is a short status (may be
    /// empty).
    fn set(&self, done: u64, message: &str);
    /// The current phase is over.
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _phase: &str, _total: u64) {}
    fn set(&self, _done: u64, _message: &str) {}
    fn finish(&self) {}
}
