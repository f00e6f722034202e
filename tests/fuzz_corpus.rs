//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/<target>/`) through the same functions
//! the fuzz targets call, so every input the fuzzer kept (crash reproducers included) is checked
//! by a plain `cargo test` on stable Rust, where libFuzzer cannot run.

use std::{fs, path::Path};

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails; rerun with `cargo fuzz run {target} {}`",
            path.display(),
            path.display()
        );
        replayed += 1;
    }
    assert!(replayed > 0, "{} holds no corpus", dir.display());
}

#[test]
fn filter_params_corpus() {
    replay("filter_params", assetd::fuzzing::filter_params);
}

#[test]
fn transform_params_corpus() {
    replay("transform_params", assetd::fuzzing::transform_params);
}

#[test]
fn sniff_corpus() {
    replay("sniff", assetd::fuzzing::sniff);
}

#[test]
fn svg_sanitize_corpus() {
    replay("svg_sanitize", assetd::fuzzing::svg_sanitize);
}
