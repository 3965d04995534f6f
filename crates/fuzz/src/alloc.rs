//! A counting global allocator: per-thread live bytes and their peak, so that the allocation
//! of one loader call can be measured while other threads (the test harness) allocate too.
//!
//! Every allocation goes to [`System`]; the counters are plain thread-local cells (no
//! destructor, no allocation), so counting is safe inside the allocator. A realloc counts the
//! new block before the old one is freed, as the copy needs both.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static LIMIT: Cell<i64> = const { Cell::new(i64::MAX) };
}

/// The most bytes one measured call may hold: an allocation past it fails (the process
/// aborts with "memory allocation of N bytes failed") instead of exhausting a shared machine.
pub const HARD_LIMIT: usize = 4 << 30;

/// Whether a block of `n` more bytes would take this thread past its limit.
fn over_limit(n: usize) -> bool {
    let live = LIVE.try_with(Cell::get).unwrap_or(0);
    let limit = LIMIT.try_with(Cell::get).unwrap_or(i64::MAX);
    live.saturating_add(n as i64) > limit
}

/// The allocator; install it with `#[global_allocator]` (the `ami-fuzz` library does).
pub struct CountingAlloc;

fn grow(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(n as i64);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(n as i64)));
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if over_limit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if over_limit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if over_limit(new_size) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

/// Runs `f` and returns its result with the peak number of bytes it held allocated on this
/// thread above what was live when it started; `f` may hold at most [`HARD_LIMIT`] bytes.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    LIMIT.with(|l| l.set(base.saturating_add(HARD_LIMIT as i64)));
    let r = f();
    LIMIT.with(|l| l.set(i64::MAX));
    let peak = PEAK.with(Cell::get);
    (r, usize::try_from(peak - base).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_peak_not_the_end() {
        let ((), peak) = measure(|| {
            let v = vec![1u8; 1 << 20];
            std::hint::black_box(&v);
        });
        assert!((1 << 20..(1 << 20) + 4096).contains(&peak), "{peak}");
        let (v, peak) = measure(|| Vec::<u8>::with_capacity(1000));
        assert_eq!((v.capacity(), peak), (1000, 1000));
    }
}
