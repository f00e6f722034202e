//! Giving memory back after a transform. libvips, libheif, libaom and libwebp allocate with
//! `malloc`, so a Rust `#[global_allocator]` would not cover them, and glibc's malloc kept what
//! transforms freed: RSS stayed at ~1.2 GB after issue 14's load, and at ~450 MiB even with
//! `malloc_trim` after every transform. The cause is glibc's *dynamic* mmap threshold: after a
//! large mmapped block is freed, glibc raises the threshold (up to 32 MiB), so the next image
//! buffers come from the heap arenas, where they fragment and stay. [`configure`] fixes the
//! threshold at [`MMAP_THRESHOLD`]: every image-sized buffer is its own mapping, returned to
//! the system when it is freed. `malloc_trim(0)` after a transform returns what is left free in
//! the arenas. Measured (BENCHMARKS.md, "Transform memory", with jemalloc and mimalloc beside):
//! the fixed threshold took the peak from 616 to 340 MiB and the idle RSS from 306 to 60 MiB.
#![allow(unsafe_code)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    /// `M_MMAP_THRESHOLD` of `malloc.h`.
    const M_MMAP_THRESHOLD: c_int = -3;

    extern "C" {
        fn malloc_trim(pad: usize) -> c_int;
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    pub(super) fn fix_mmap_threshold(bytes: c_int) -> bool {
        // SAFETY: mallopt only sets a parameter of glibc's allocator; any value is allowed.
        unsafe { mallopt(M_MMAP_THRESHOLD, bytes) == 1 }
    }

    pub(super) fn trim() {
        // SAFETY: malloc_trim only walks glibc's own free lists.
        unsafe { malloc_trim(0) };
    }
}

/// Returns the free memory of the allocator's arenas to the system (a no-op off glibc).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::trim();
}

/// Allocations at least this large are mapped on their own (and unmapped when freed): image rows
/// and strips are smaller, whole images and encoder buffers larger.
const MMAP_THRESHOLD: usize = 1024 * 1024;

/// Sets the allocator up for transforms (a fixed mmap threshold; see the module doc), once per
/// process, before the first transform. False when the allocator refused (or is not glibc's).
pub(crate) fn configure() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static CONFIGURED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *CONFIGURED.get_or_init(|| glibc::fix_mmap_threshold(MMAP_THRESHOLD as std::ffi::c_int))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn glibc_takes_the_fixed_mmap_threshold() {
        assert!(super::configure());
        super::release_free_memory();
    }
}
