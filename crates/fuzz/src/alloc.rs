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
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
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
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

/// Runs `f` and returns its result with the peak number of bytes it held allocated on this
/// thread above what was live when it started.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
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
