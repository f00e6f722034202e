//! Load generator for the seed update of `bench/run.sh`: N clients each loop `PUT /uploads/{id}` with the
//! DatoCMS docs' example body (author varied per request so every update changes a row), take the job id
//! of the 202, and poll `GET /job-results/{job}` every `--poll-ms` until it answers 200. One sample is the
//! time from sending the PUT to receiving that 200.
//!
//! ```sh
//! cargo run --release --example bench_update -- --base-url http://127.0.0.1:3000 --token SECRET \
//!     --ids ID1,ID2,ID3,ID4,ID5,ID6,ID7,ID8 --clients 8 --duration-secs 20
//! ```
//!
//! Bounded: clients start no update after the measured window (`--warmup-secs` + `--duration-secs`) nor
//! past `--max-updates` in all; each update gives up after `--update-timeout-secs`. Only loopback URLs are
//! accepted. Prints a human summary, then one line `BENCH_JSON {...}` with the figures for scripts.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use clap::Parser;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "Seed-update load generator: PUT /uploads/{id} then poll the job result until 200")]
struct Args {
    /// Base URL of assetd (loopback only), e.g. http://127.0.0.1:3000.
    #[arg(long, env = "BENCH_BASE_URL")]
    base_url: String,

    /// API token (sent as `Authorization: Bearer <token>`).
    #[arg(long, env = "BENCH_TOKEN", hide_env_values = true)]
    token: String,

    /// Upload ids, comma separated; client i updates id i (modulo the list).
    #[arg(long, value_delimiter = ',', required = true)]
    ids: Vec<String>,

    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,

    /// Measured window, seconds (after the warm-up).
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,

    /// Warm-up before the measured window, seconds (updates started then are not recorded).
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,

    /// Most updates started in all (warm-up included).
    #[arg(long, default_value_t = 200_000)]
    max_updates: u64,

    /// Pause between two polls of the job result, milliseconds.
    #[arg(long, default_value_t = 2)]
    poll_ms: u64,

    /// An update not done after this long counts as an error.
    #[arg(long, default_value_t = 10)]
    update_timeout_secs: u64,
}

/// One finished update.
struct Sample {
    /// PUT sent → job result 200 received.
    total: Duration,
    /// PUT sent → 202 received.
    accepted: Duration,
    /// Job-result requests made (404s and the final 200).
    polls: u32,
}

#[derive(Default)]
struct ClientReport {
    samples: Vec<Sample>,
    errors: u64,
    first_errors: Vec<String>,
    last_finish: Option<Instant>,
}

struct Shared {
    http: reqwest::Client,
    base_url: String,
    started_updates: AtomicU64,
    max_updates: u64,
    measure_from: Instant,
    stop_at: Instant,
    poll: Duration,
    update_timeout: Duration,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let base_url = args.base_url.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&base_url)?;
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        return Err(format!("refusing to load {base_url}: only loopback targets are benchmarked").into());
    }
    if args.clients == 0 || args.ids.is_empty() {
        return Err("need at least one client and one upload id".into());
    }

    let mut headers = header::HeaderMap::new();
    headers.insert(header::AUTHORIZATION, format!("Bearer {}", args.token).parse()?);
    headers.insert(header::ACCEPT, header::HeaderValue::from_static("application/json"));
    headers.insert("x-api-version", header::HeaderValue::from_static("3"));
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.clients * 2)
        .timeout(Duration::from_secs(args.update_timeout_secs))
        .build()?;

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_secs);
    let shared = Arc::new(Shared {
        http,
        base_url: base_url.clone(),
        started_updates: AtomicU64::new(0),
        max_updates: args.max_updates,
        measure_from,
        stop_at: measure_from + Duration::from_secs(args.duration_secs),
        poll: Duration::from_millis(args.poll_ms),
        update_timeout: Duration::from_secs(args.update_timeout_secs),
    });

    let tasks: Vec<_> = (0..args.clients)
        .map(|client| {
            let upload_id = args.ids[client % args.ids.len()].clone();
            tokio::spawn(run_client(shared.clone(), client, upload_id))
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for task in tasks {
        reports.push(task.await?);
    }

    let errors: u64 = reports.iter().map(|r| r.errors).sum();
    let first_errors: Vec<String> = reports.iter().flat_map(|r| r.first_errors.iter().cloned()).take(5).collect();
    let last_finish = reports.iter().filter_map(|r| r.last_finish).max();
    let mut samples: Vec<Sample> = reports.into_iter().flat_map(|r| r.samples).collect();
    let count = samples.len();
    let window = last_finish.map_or(Duration::ZERO, |end| end.saturating_duration_since(measure_from));
    let per_sec = if window.is_zero() { 0.0 } else { count as f64 / window.as_secs_f64() };

    samples.sort_by_key(|s| s.total);
    let totals: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let mut accepted: Vec<Duration> = samples.iter().map(|s| s.accepted).collect();
    accepted.sort();
    let mean_polls =
        if count == 0 { 0.0 } else { samples.iter().map(|s| f64::from(s.polls)).sum::<f64>() / count as f64 };

    println!(
        "seed update: {} clients, {} ids, window {:.2} s (after {} s warm-up), poll every {} ms",
        args.clients,
        args.ids.len(),
        window.as_secs_f64(),
        args.warmup_secs,
        args.poll_ms
    );
    println!("  PUT -> job result 200: {}", summary(&totals));
    println!("  PUT -> 202 accepted:   {}", summary(&accepted));
    println!(
        "  updates: {count}, errors: {errors}, updates/s: {per_sec:.1}, job-result polls per update: {mean_polls:.2}"
    );
    for error in &first_errors {
        println!("  error: {error}");
    }
    let report = json!({
        "bench": "update",
        "clients": args.clients,
        "ids": args.ids.len(),
        "duration_s": window.as_secs_f64(),
        "warmup_s": args.warmup_secs,
        "poll_ms": args.poll_ms,
        "count": count,
        "errors": errors,
        "updates_per_s": round2(per_sec),
        "p50_ms": ms(percentile(&totals, 50.0)),
        "p90_ms": ms(percentile(&totals, 90.0)),
        "p99_ms": ms(percentile(&totals, 99.0)),
        "max_ms": ms(totals.last().copied()),
        "accepted_p50_ms": ms(percentile(&accepted, 50.0)),
        "accepted_p99_ms": ms(percentile(&accepted, 99.0)),
        "polls_per_update": round2(mean_polls),
    });
    println!("BENCH_JSON {report}");
    if count == 0 {
        return Err("no update finished".into());
    }
    Ok(())
}

async fn run_client(shared: Arc<Shared>, client: usize, upload_id: String) -> ClientReport {
    let mut report = ClientReport::default();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        if now >= shared.stop_at || shared.started_updates.fetch_add(1, Ordering::Relaxed) >= shared.max_updates {
            break;
        }
        seq += 1;
        let recorded = now >= shared.measure_from;
        let author = format!("Mark {client}.{seq}");
        let outcome = tokio::time::timeout(shared.update_timeout, one_update(&shared, &upload_id, &author)).await;
        let finished = Instant::now();
        let outcome = outcome.unwrap_or_else(|_| Err(format!("update not done after {:?}", shared.update_timeout)));
        match outcome {
            Ok(sample) if recorded => {
                report.samples.push(sample);
                report.last_finish = Some(finished);
            }
            Ok(_) => {}
            Err(error) => {
                report.errors += 1;
                if report.first_errors.len() < 3 {
                    report.first_errors.push(format!("client {client}: {error}"));
                }
                // Don't spin on a broken server.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    report
}

async fn one_update(shared: &Shared, upload_id: &str, author: &str) -> Result<Sample, String> {
    let body = json!({
        "data": {
            "id": upload_id,
            "type": "upload",
            "attributes": {
                "author": author,
                "copyright": "2020 DatoCMS",
                "default_field_metadata": {
                    "en": { "alt": "Nyan the cat", "title": "My cat", "custom_data": {} }
                }
            }
        }
    })
    .to_string();
    let sent = Instant::now();
    let response = shared
        .http
        .put(format!("{}/uploads/{upload_id}", shared.base_url))
        .header(header::CONTENT_TYPE, "application/vnd.api+json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("PUT: {e}"))?;
    let status = response.status();
    let document: Value = response.json().await.map_err(|e| format!("PUT answer: {e}"))?;
    if status != StatusCode::ACCEPTED {
        return Err(format!("PUT answered {status}: {document}"));
    }
    let accepted = sent.elapsed();
    let job_id = document["data"]["id"].as_str().ok_or_else(|| format!("202 without a job id: {document}"))?;
    let job_url = format!("{}/job-results/{job_id}", shared.base_url);
    let mut polls = 0u32;
    loop {
        tokio::time::sleep(shared.poll).await;
        polls += 1;
        let response = shared.http.get(&job_url).send().await.map_err(|e| format!("GET job result: {e}"))?;
        match response.status() {
            StatusCode::NOT_FOUND => {
                // Drain the body so the connection goes back to the pool.
                let _ = response.bytes().await;
            }
            StatusCode::OK => {
                let document: Value = response.json().await.map_err(|e| format!("job result: {e}"))?;
                let total = sent.elapsed();
                let attributes = &document["data"]["attributes"];
                if attributes["status"] != 200 {
                    return Err(format!("job failed: {document}"));
                }
                let stored = &attributes["payload"]["data"]["attributes"]["author"];
                if stored != author {
                    return Err(format!("job result shows author {stored}, expected {author:?}"));
                }
                return Ok(Sample { total, accepted, polls });
            }
            other => {
                let text = response.text().await.unwrap_or_default();
                return Err(format!("GET job result answered {other}: {text}"));
            }
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(value: Option<Duration>) -> Value {
    value.map_or(Value::Null, |d| json!(round2(d.as_secs_f64() * 1000.0)))
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn summary(sorted: &[Duration]) -> String {
    let show = |p: f64| percentile(sorted, p).map_or("-".to_owned(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3));
    format!(
        "p50 {}, p90 {}, p99 {}, max {}",
        show(50.0),
        show(90.0),
        show(99.0),
        sorted.last().map_or("-".to_owned(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
    )
}
