//! `cargo fuzz run sniff`: see [`assetd::fuzzing::sniff`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| assetd::fuzzing::sniff(data));
