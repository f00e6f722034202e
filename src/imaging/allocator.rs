//! Giving memory back after a transform. libvips, libheif, libaom and libwebp allocate with
//! `malloc`, so a Rust `#[global_allocator]` would not cover them; glibc's malloc keeps what a
//! transform freed in its per-thread arenas (RSS stayed at ~1.2 GB after issue 14's load).
//! `malloc_trim(0)` returns the free pages of every arena to the system; it takes well under a
//! millisecond when little is free, and a few when a large transform just ended (measured in
//! BENCHMARKS.md, "Transform memory", with the jemalloc and mimalloc alternatives).
#![allow(unsafe_code)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    extern "C" {
        fn malloc_trim(pad: usize) -> c_int;
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
