//! `cargo fuzz run transform_params`: see [`assetd::fuzzing::transform_params`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| assetd::fuzzing::transform_params(data));
