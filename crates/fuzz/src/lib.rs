//! `ami-fuzz`: structure-aware fuzzing of every file loader of `ami`, on stable Rust.
//!
//! Each loader is one [`Target`] (one file in [`targets`]): valid seed files written by the
//! crate's own writers, a format-aware mutator (shape, dtype, offset, size and count fields
//! set to 0, 1, huge or overflowing values; entries spliced or duplicated; zip bombs; JSON and
//! TOML values changed in type, made huge, NaN or negative, keys dropped or repeated, deep
//! nesting) on top of format-blind byte edits ([`bytes`]), and the loader's stated allocation
//! bound. [`runner::fuzz`] runs each input under `catch_unwind`, timed, with its allocation
//! measured by the counting global allocator ([`alloc`]) installed here.
//!
//! Run `scripts/fuzz.sh [N]` (N inputs per loader, default 1 000 000), or
//! `ami-fuzz --target NAME|all --inputs N --seed S [--crashes DIR] [--json]`; saved inputs are
//! rerun with `ami-fuzz --target NAME --replay FILE…`. The regression [`corpus`] runs in the
//! normal test suite (`tests/corpus.rs`), with a CI-sized generator run (`tests/generator.rs`).

pub mod alloc;
pub mod bytes;
pub mod corpus;
pub mod rng;
pub mod runner;
pub mod targets;
pub mod tree;

use std::path::Path;

use rng::Rng;

#[global_allocator]
static ALLOC: alloc::CountingAlloc = alloc::CountingAlloc;

/// One file loader under test.
pub trait Target {
    /// The name used on the command line and as the corpus folder (`npy`, `npz`, …).
    fn name(&self) -> &'static str;

    /// The file name the loader is given for fuzzed inputs (errors must name it).
    fn file_name(&self) -> &'static str;

    /// Valid inputs made by the crate's own writers.
    fn seeds(&self) -> Vec<Vec<u8>>;

    /// One format-aware edit of `input` (the runner mixes in format-blind byte edits).
    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>);

    /// Runs the loader on `bytes` as if read from `path`; `Err` carries its message.
    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String>;

    /// The most bytes the loader may hold allocated at once for an input of `len` bytes (the
    /// bound its documentation states).
    fn bound(&self, len: usize) -> usize;

    /// [`Target::load`] under [`Target::file_name`].
    fn run(&self, bytes: &[u8]) -> Result<(), String> {
        self.load(bytes, Path::new(self.file_name()))
    }
}

/// Every target, in command-line order.
pub fn all_targets() -> Vec<Box<dyn Target>> {
    targets::all()
}

/// The target called `name`, or an error listing the names.
pub fn target(name: &str) -> Result<Box<dyn Target>, String> {
    all_targets()
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = all_targets().iter().map(|t| t.name()).collect();
            format!(
                "unknown target `{name}` (expected all, {})",
                names.join(", ")
            )
        })
}
