//! Runtime dispatch of hot loops to an AVX2-compiled copy.
//!
//! The workspace builds for the baseline x86-64 target (SSE2: two f64 per vector). A kernel
//! written as an `#[inline(always)]` function of slices is compiled a second time inside a
//! `#[target_feature(enable = "avx2")]` wrapper and picked at run time when the CPU has AVX2.
//! FMA is deliberately **not** enabled: without it the compiler cannot fuse `a*b + c`, so both
//! copies perform the same IEEE operations in the same order and return identical bits.

/// `avx2_dispatch!(pub(crate) fn name(a: A, ...) -> R = generic);` defines `name`, which calls
/// `generic` through an AVX2 copy where available and directly otherwise.
macro_rules! avx2_dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $generic:path;) => {
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: this CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
