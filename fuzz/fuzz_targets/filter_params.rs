//! `cargo fuzz run filter_params`: see [`assetd::fuzzing::filter_params`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| assetd::fuzzing::filter_params(data));
