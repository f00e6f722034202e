//! What one transform really takes, next to what assetd estimates before it starts
//! (`imaging::pipeline::Planned::memory_bytes`): for each query, a fresh process plans and
//! renders the transform once and reports its peak RSS above the process's RSS before it (VmHWM
//! − VmRSS, Linux), the estimate, the output and the time. Used to calibrate
//! `src/imaging/memory.rs`; run by `bench/transform_memory.sh calibrate`.
//!
//! Usage: transform_footprint <image> <mime> <query>...   (one JSON line per query)

use std::{path::Path, process::Command, time::Instant};

use assetd::{
    config::Config,
    imaging::{pipeline, Renderer, TransformParams},
    metrics::TransformMetrics,
    renditions::RenditionSettings,
};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field).map(|rest| rest.trim().trim_end_matches(" kB").trim().to_owned()))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn one(path: &Path, mime: &str, query: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("assetd-footprint-{}", std::process::id()));
    let config = Config::for_data_dir(dir.clone());
    let settings = RenditionSettings::from_config(&config).renderer;
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    // Starts libvips as the server does (one thread per transform, the operation cache off).
    let _renderer = Renderer::new(settings.clone(), TransformMetrics::default()).expect("libvips starts");
    let params = TransformParams::parse(query).expect("valid query").expect("rendering parameters");
    let recipe = pipeline::Recipe { format: params.fm, params, focal_point: (0.5, 0.5) };
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let planned = pipeline::plan(path, mime, &recipe, &settings.limits).expect("plans");
    let rendered = pipeline::render(path, &planned, started + settings.timeout);
    let took = started.elapsed();
    let peak = status_kib("VmHWM:");
    let _ = std::fs::remove_dir_all(dir);
    let (width, height) = planned.output_size();
    serde_json::json!({
        "query": query,
        "format": planned.format().as_str(),
        "output": format!("{width}x{height}"),
        "estimate_mib": planned.memory_bytes() / (1024 * 1024),
        "measured_mib": peak.saturating_sub(before) / 1024,
        "ms": took.as_millis() as u64,
        "bytes": rendered.as_ref().map(|r| r.bytes.len()).unwrap_or(0),
        "error": rendered.err().map(|e| e.to_string()),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 5 && args[1] == "--one" {
        println!("{}", one(Path::new(&args[2]), &args[3], &args[4]));
        return;
    }
    if args.len() < 4 {
        eprintln!("usage: transform_footprint <image> <mime> <query>...");
        std::process::exit(2);
    }
    for query in &args[3..] {
        // A process per transform: its peak is its own, not a previous transform's.
        let out = Command::new(&args[0]).args(["--one", &args[1], &args[2], query]).output().expect("runs itself");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{query}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
