//! The fuzz loop: generate, run under `catch_unwind` with a timer and the allocation counter,
//! tally, and keep crashing inputs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::alloc::measure;
use crate::rng::Rng;
use crate::{bytes, Target};

/// An input that runs longer than this, twice in a row, counts as a hang.
pub const HANG: Duration = Duration::from_secs(1);

/// The tally of one target's run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Target name.
    pub target: String,
    /// Inputs run.
    pub inputs: u64,
    /// Inputs the loader accepted.
    pub accepted: u64,
    /// Inputs the loader refused with an error.
    pub errors: u64,
    /// Inputs that panicked.
    pub panics: u64,
    /// Inputs that took longer than [`HANG`].
    pub hangs: u64,
    /// Inputs whose allocation exceeded the target's bound.
    pub violations: u64,
    /// The slowest input, in milliseconds (the shorter of two runs where the first passed
    /// [`HANG`]).
    pub slowest_ms: f64,
    /// The largest allocation peak of one input, in bytes.
    pub max_alloc: usize,
    /// The bound for the input that had [`Report::max_alloc`].
    pub bound_at_max: usize,
    /// The largest input, in bytes.
    pub max_len: usize,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

impl Report {
    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.seconds.max(1e-9)
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target, "inputs": self.inputs, "accepted": self.accepted,
            "errors": self.errors, "panics": self.panics, "hangs": self.hangs,
            "bound_violations": self.violations, "slowest_ms": self.slowest_ms,
            "max_alloc_bytes": self.max_alloc, "bound_at_max_bytes": self.bound_at_max,
            "max_input_bytes": self.max_len, "inputs_per_s": self.rate(),
        })
    }
}

/// What happened to one input.
pub struct Outcome {
    /// The loader's result; `None` if it panicked (the panic message is the error).
    pub result: Option<Result<(), String>>,
    /// Peak bytes allocated above the start.
    pub alloc: usize,
    /// Time taken.
    pub elapsed: Duration,
}

/// Runs one input through `target.load(bytes, path)`, catching a panic.
pub fn run_one(target: &dyn Target, bytes: &[u8], path: &Path) -> Outcome {
    let start = Instant::now();
    IN_LOADER.with(|f| f.set(true));
    let (result, alloc) =
        measure(|| catch_unwind(AssertUnwindSafe(|| target.load(bytes, path))).ok());
    IN_LOADER.with(|f| f.set(false));
    Outcome {
        result,
        alloc,
        elapsed: start.elapsed(),
    }
}

/// The next input: a random seed with one to four edits, each format-aware or byte-level.
pub fn generate(target: &dyn Target, seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut input = rng.pick(seeds).clone();
    for _ in 0..1 + rng.below(4) {
        if rng.one_in(3) {
            bytes::mutate(rng, &mut input);
        } else {
            target.mutate(rng, &mut input);
        }
    }
    input
}

/// Runs `inputs` generated inputs (the seeds first) through `target`, deterministically from
/// `seed`; inputs that panic, hang or exceed the bound are written to `crashes` if given.
///
/// With `crashes`, each input is first written to `crashes/<target>-current.bin`, so that an
/// abort or an out-of-memory kill leaves the input behind.
pub fn fuzz(target: &dyn Target, inputs: u64, seed: u64, crashes: Option<&Path>) -> Report {
    let seeds = target.seeds();
    let mut rng = Rng::new(seed);
    let mut r = Report {
        target: target.name().into(),
        ..Report::default()
    };
    let mut current = crashes.and_then(|dir| {
        let file = dir.join(format!("{}-current.bin", target.name()));
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(file))
            .ok()
    });
    let start = Instant::now();
    let path = Path::new(target.file_name());
    for k in 0..inputs {
        let input = match seeds.get(k as usize) {
            Some(s) => s.clone(),
            None => generate(target, &seeds, &mut rng),
        };
        if let Some(f) = current.as_mut() {
            keep_current(f, &input);
        }
        let mut o = run_one(target, &input, path);
        if o.elapsed > HANG {
            // Timed again, so that a stall of the machine is not taken for a hang.
            o.elapsed = o.elapsed.min(run_one(target, &input, path).elapsed);
        }
        let bound = target.bound(input.len());
        r.inputs += 1;
        r.max_len = r.max_len.max(input.len());
        let ms = o.elapsed.as_secs_f64() * 1e3;
        r.slowest_ms = r.slowest_ms.max(ms);
        if o.alloc > r.max_alloc {
            (r.max_alloc, r.bound_at_max) = (o.alloc, bound);
        }
        let mut bad = None;
        match o.result {
            Some(Ok(())) => r.accepted += 1,
            Some(Err(_)) => r.errors += 1,
            None => {
                r.panics += 1;
                bad = Some("panic");
            }
        }
        if o.elapsed > HANG {
            r.hangs += 1;
            bad = Some("hang");
        }
        if o.alloc > bound {
            r.violations += 1;
            bad = Some("alloc");
        }
        if let (Some(kind), Some(dir)) = (bad, crashes) {
            save(dir, target.name(), kind, k, &input);
        }
    }
    r.seconds = start.elapsed().as_secs_f64();
    r
}

/// Overwrites the open `<target>-current.bin` with `input` (no open or close per input).
fn keep_current(f: &mut std::fs::File, input: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let kept = f
        .seek(SeekFrom::Start(0))
        .and_then(|_| f.write_all(input))
        .and_then(|()| f.set_len(input.len() as u64));
    if let Err(e) = kept {
        eprintln!("cannot keep the current input: {e}");
    }
}

fn save(dir: &Path, target: &str, kind: &str, k: u64, input: &[u8]) {
    let file: PathBuf = dir.join(format!("{target}-{kind}-{k}.bin"));
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&file, input));
    if let Err(e) = written {
        eprintln!("cannot save {}: {e}", file.display());
    }
}

thread_local! {
    static IN_LOADER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Silences the panic message of panics inside a loader (they are counted and saved instead);
/// a panic of the fuzzer itself is still reported.
pub fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_LOADER.with(std::cell::Cell::get) {
            default(info);
        }
    }));
}
