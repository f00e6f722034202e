//! `cargo fuzz run svg_sanitize`: see [`assetd::fuzzing::svg_sanitize`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| assetd::fuzzing::svg_sanitize(data));
