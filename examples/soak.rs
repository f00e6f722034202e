//! Soak load generator for `bench/soak.sh`: N clients run a mixed load for a fixed time against one
//! assetd: uploads (upload request, direct PUT, `POST /uploads`, job result), metadata updates
//! (PUT and job result), filtered listings, asset GETs, image transforms (mostly cached sizes,
//! some new) and deletes, keeping between `--pool-min` and `--pool-max` uploads alive. It samples
//! the server's VmRSS and VmHWM from `/proc/<pid>/status`, counts answers by status per operation
//! and records every latency.
//!
//! ```sh
//! cargo run --release --example soak -- --base-url http://127.0.0.1:3000 --token SECRET \
//!     --server-pid 1234 --duration-secs 600
//! ```
//!
//! An upload is read, transformed or updated only while it is in the pool; a delete takes it out
//! of the pool a second before it is sent, so a 404 is a real error, not a race of the load itself.
//! Prints a markdown report, then `SOAK_ERRORS <n>` (any answer that is not the expected one).
//! Only loopback URLs are accepted.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "Mixed-load soak test of one assetd server")]
struct Args {
    /// Base URL of assetd (loopback only).
    #[arg(long, env = "SOAK_BASE_URL")]
    base_url: String,
    /// API token.
    #[arg(long, env = "SOAK_TOKEN", hide_env_values = true)]
    token: String,
    /// The server's process id, for RSS sampling (none: no sampling).
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 600)]
    duration_secs: u64,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds between two RSS samples.
    #[arg(long, default_value_t = 5)]
    sample_secs: u64,
    #[arg(long, default_value_t = 40)]
    pool_min: usize,
    #[arg(long, default_value_t = 300)]
    pool_max: usize,
    /// Where the image fixtures are.
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// Also write every RSS sample here (CSV: seconds,vmrss_kib,vmhwm_kib).
    #[arg(long)]
    rss_csv: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Upload {
    id: String,
    url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Upload,
    Put,
    Update,
    List,
    Get,
    Transform,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Upload => "upload (request + PUT + create + job)",
            Op::Put => "  of which: direct PUT",
            Op::Update => "metadata update (PUT + job)",
            Op::List => "list with filters",
            Op::Get => "asset GET",
            Op::Transform => "image transform",
            Op::Delete => "delete",
        }
    }
}

#[derive(Default)]
struct OpStats {
    latencies_us: Vec<u64>,
    /// Outcome → count: an HTTP status, `job <status>` for a job result, or a transport error.
    outcomes: BTreeMap<String, u64>,
    errors: u64,
}

#[derive(Default)]
struct Minute {
    ops: u64,
    errors: u64,
}

struct Shared {
    args: Args,
    http: Client,
    fixtures: Vec<(&'static str, Vec<u8>)>,
    pool: Mutex<Vec<Upload>>,
    stats: Mutex<HashMap<Op, OpStats>>,
    minutes: Mutex<Vec<Minute>>,
    start: Instant,
}

/// Why one operation failed: what to count it as.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        let text = error.to_string();
        Failure(if text.contains("timed out") { "timeout".into() } else { "transport error".into() })
    }
}

type OpResult = Result<String, Failure>;

impl Shared {
    fn cma(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.args.base_url))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.args.token))
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-version", "3")
    }

    fn record(&self, op: Op, started: Instant, outcome: &OpResult) {
        let (key, error) = match outcome {
            Ok(ok) => (ok.clone(), false),
            Err(Failure(failure)) => (failure.clone(), true),
        };
        let elapsed = started.elapsed();
        {
            let mut stats = self.stats.lock().unwrap();
            let entry = stats.entry(op).or_default();
            entry.latencies_us.push(elapsed.as_micros() as u64);
            *entry.outcomes.entry(key).or_default() += 1;
            entry.errors += u64::from(error);
        }
        let minute = (started.duration_since(self.start).as_secs() / 60) as usize;
        let mut minutes = self.minutes.lock().unwrap();
        if minutes.len() <= minute {
            minutes.resize_with(minute + 1, Minute::default);
        }
        minutes[minute].ops += 1;
        minutes[minute].errors += u64::from(error);
    }

    /// Sends `request`, expecting `expected`; returns the body as JSON (Null when empty).
    async fn expect(&self, request: reqwest::RequestBuilder, expected: StatusCode) -> Result<Value, Failure> {
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status != expected {
            return Err(Failure(status.as_u16().to_string()));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Polls a job until its result is there; the result's status must be 200.
    async fn job(&self, accepted: Value) -> Result<Value, Failure> {
        let id = accepted["data"]["id"].as_str().ok_or_else(|| Failure("no job id".into()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let response = self.cma(Method::GET, &format!("/job-results/{id}")).send().await?;
            match response.status() {
                StatusCode::OK => {
                    let body: Value = response.json().await?;
                    let status = body["data"]["attributes"]["status"].as_u64().unwrap_or(0);
                    if status != 200 {
                        return Err(Failure(format!("job {status}")));
                    }
                    return Ok(body["data"]["attributes"]["payload"].clone());
                }
                StatusCode::NOT_FOUND => tokio::time::sleep(Duration::from_millis(20)).await,
                other => return Err(Failure(other.as_u16().to_string())),
            }
        }
        Err(Failure("job timeout".into()))
    }

    async fn upload(&self, n: u64) -> OpResult {
        let (name, fixture) = &self.fixtures[(n % self.fixtures.len() as u64) as usize];
        let body = json!({"data": {"type": "upload_request", "attributes": {"filename": name}}});
        let request = self.expect(self.cma(Method::POST, "/upload-requests").json(&body), StatusCode::OK).await?;
        let url = request["data"]["attributes"]["url"].as_str().ok_or_else(|| Failure("no url".into()))?;
        // Trailing bytes make every file distinct (decoders ignore them).
        let mut bytes = fixture.clone();
        bytes.extend_from_slice(format!("soak-{n}-{}", uuid_like(n)).as_bytes());
        let put_started = Instant::now();
        let put = async {
            let response = self.http.put(url).body(bytes).send().await?;
            match response.status() {
                StatusCode::OK => Ok("200".to_owned()),
                other => Err(Failure(other.as_u16().to_string())),
            }
        }
        .await;
        self.record(Op::Put, put_started, &put);
        put?;
        let attributes = json!({"path": request["data"]["id"], "tags": ["soak", format!("batch-{}", n % 7)],
            "author": format!("client {n}")});
        let body = json!({"data": {"type": "upload", "attributes": attributes}});
        let accepted = self.expect(self.cma(Method::POST, "/uploads").json(&body), StatusCode::ACCEPTED).await?;
        let payload = self.job(accepted).await?;
        let data = &payload["data"];
        let (Some(id), Some(url)) = (data["id"].as_str(), data["attributes"]["url"].as_str()) else {
            return Err(Failure("no upload in the job result".into()));
        };
        self.pool.lock().unwrap().push(Upload { id: id.to_owned(), url: url.to_owned() });
        Ok("200".into())
    }

    async fn update(&self, upload: &Upload, n: u64) -> OpResult {
        let attributes = json!({
            "author": format!("updated {n}"),
            "notes": format!("soak note {n}"),
            "default_field_metadata": {"en": {"alt": format!("alt {n}"), "title": "soak", "custom_data": {}}},
        });
        let body = json!({"data": {"type": "upload", "id": upload.id, "attributes": attributes}});
        let path = format!("/uploads/{}", upload.id);
        let accepted = self.expect(self.cma(Method::PUT, &path).json(&body), StatusCode::ACCEPTED).await?;
        self.job(accepted).await?;
        Ok("200".into())
    }

    async fn list(&self, n: u64) -> OpResult {
        const QUERIES: [&str; 6] = [
            "/uploads?page[limit]=30",
            "/uploads?filter[fields][type][eq]=image&order_by=_created_at_DESC&page[limit]=20",
            "/uploads?filter[query]=soak&page[limit]=10",
            "/uploads?filter[fields][size][gt]=1000&order_by=size_ASC&page[limit]=20",
            "/uploads?filter[fields][tags][contains]=batch-3&page[limit]=20",
            "/uploads?filter[fields][author][matches][pattern]=updated&page[offset]=10&page[limit]=10",
        ];
        let query = QUERIES[(n % QUERIES.len() as u64) as usize];
        self.expect(self.cma(Method::GET, query), StatusCode::OK).await?;
        Ok("200".into())
    }

    async fn get(&self, url: &str) -> OpResult {
        let response = self.http.get(url).send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status != StatusCode::OK || bytes.is_empty() {
            return Err(Failure(status.as_u16().to_string()));
        }
        Ok("200".into())
    }

    async fn transform(&self, url: &str, n: u64) -> OpResult {
        // Mostly a few cached sizes; one in five a width never asked for (a render).
        let query = if n % 5 == 0 {
            format!("w={}&fm=webp", 64 + (n * 37) % 900)
        } else {
            ["w=200&fm=webp", "w=400", "w=120&h=120&fit=crop", "w=800&fm=jpg&q=70"][(n % 4) as usize].to_owned()
        };
        self.get(&format!("{url}?{query}")).await
    }

    async fn delete(&self, upload: Upload) -> OpResult {
        self.expect(self.cma(Method::DELETE, &format!("/uploads/{}", upload.id)), StatusCode::OK).await?;
        Ok("200".into())
    }

    fn pick(&self, n: u64, take: bool) -> Option<Upload> {
        let mut pool = self.pool.lock().unwrap();
        if pool.is_empty() {
            return None;
        }
        let index = (n as usize).wrapping_mul(2_654_435_761) % pool.len();
        Some(if take { pool.swap_remove(index) } else { pool[index].clone() })
    }
}

/// A cheap per-operation discriminator (no RNG dependency).
fn uuid_like(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

async fn client(shared: Arc<Shared>, index: usize, deadline: Instant) {
    let mut n = index as u64 * 1_000_000;
    while Instant::now() < deadline {
        n += 1;
        let size = shared.pool.lock().unwrap().len();
        let roll = uuid_like(n) % 100;
        let op = if size < shared.args.pool_min {
            Op::Upload
        } else if size > shared.args.pool_max {
            Op::Delete
        } else {
            match roll {
                0..=11 => Op::Upload,
                12..=23 => Op::Update,
                24..=43 => Op::List,
                44..=68 => Op::Get,
                69..=92 => Op::Transform,
                _ => Op::Delete,
            }
        };
        let started = Instant::now();
        let outcome = match op {
            Op::Upload | Op::Put => shared.upload(n).await,
            Op::List => shared.list(n).await,
            Op::Update => match shared.pick(n, true) {
                Some(upload) => {
                    let outcome = shared.update(&upload, n).await;
                    shared.pool.lock().unwrap().push(upload);
                    outcome
                }
                None => continue,
            },
            Op::Get => match shared.pick(n, false) {
                Some(upload) => shared.get(&upload.url).await,
                None => continue,
            },
            Op::Transform => match shared.pick(n, false) {
                Some(upload) => shared.transform(&upload.url, n).await,
                None => continue,
            },
            Op::Delete => match shared.pick(n, true) {
                Some(upload) => {
                    // Out of the pool already; let reads that picked it just before finish. The
                    // pause is not part of the delete's latency.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let started = Instant::now();
                    let outcome = shared.delete(upload).await;
                    shared.record(op, started, &outcome);
                    continue;
                }
                None => continue,
            },
        };
        shared.record(op, started, &outcome);
    }
}

/// (VmRSS, VmHWM) of `pid` in KiB.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field =
        |name: &str| status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse::<u64>().ok();
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args.base_url.trim_start_matches("http://");
    anyhow::ensure!(
        host.starts_with("127.0.0.1:") || host.starts_with("localhost:"),
        "only loopback URLs are accepted"
    );
    let mut fixtures = Vec::new();
    for name in ["cat.jpg", "cat.png", "dog.jpg"] {
        fixtures.push((name, std::fs::read(args.fixtures.join(name))?));
    }
    let http = Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(64).build()?;
    let duration = Duration::from_secs(args.duration_secs);
    let clients = args.clients;
    let shared = Arc::new(Shared {
        args,
        http,
        fixtures,
        pool: Mutex::new(Vec::new()),
        stats: Mutex::new(HashMap::new()),
        minutes: Mutex::new(Vec::new()),
        start: Instant::now(),
    });
    let deadline = shared.start + duration;
    let sampler = tokio::spawn(sample_memory(shared.clone(), deadline));
    let handles: Vec<_> = (0..clients).map(|i| tokio::spawn(client(shared.clone(), i, deadline))).collect();
    for handle in handles {
        handle.await?;
    }
    let samples = sampler.await?;
    let errors = report(&shared, &samples, duration);
    println!("SOAK_ERRORS {errors}");
    Ok(())
}

/// Samples the server's memory every `sample_secs` until `deadline` (and once after it).
async fn sample_memory(shared: Arc<Shared>, deadline: Instant) -> Vec<(u64, u64, u64)> {
    let mut samples = Vec::new();
    let Some(pid) = shared.args.server_pid else { return samples };
    loop {
        let now = Instant::now();
        if let Some((rss, hwm)) = memory_of(pid) {
            samples.push((now.duration_since(shared.start).as_secs(), rss, hwm));
        }
        if now >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(shared.args.sample_secs).min(deadline - now)).await;
    }
    if let Some(path) = &shared.args.rss_csv {
        let csv: String = samples.iter().map(|(s, rss, hwm)| format!("{s},{rss},{hwm}\n")).collect();
        if let Err(error) = std::fs::write(path, format!("seconds,vmrss_kib,vmhwm_kib\n{csv}")) {
            eprintln!("soak: cannot write {}: {error}", path.display());
        }
    }
    samples
}

/// Prints the markdown report; returns the error count.
fn report(shared: &Shared, samples: &[(u64, u64, u64)], duration: Duration) -> u64 {
    let stats = shared.stats.lock().unwrap();
    let mut ops: Vec<_> = stats.iter().collect();
    ops.sort_by_key(|(op, _)| **op);
    let total: usize = ops.iter().filter(|(op, _)| **op != Op::Put).map(|(_, s)| s.latencies_us.len()).sum();
    let errors: u64 = ops.iter().map(|(_, s)| s.errors).sum();
    println!(
        "{} clients, {} s: {} operations ({:.1}/s), {} errors; {} uploads alive at the end\n",
        shared.args.clients,
        duration.as_secs(),
        total,
        total as f64 / duration.as_secs_f64(),
        errors,
        shared.pool.lock().unwrap().len()
    );
    println!("| operation | count | errors | p50 ms | p95 ms | p99 ms | max ms | outcomes |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for (op, stat) in &ops {
        let mut sorted = stat.latencies_us.clone();
        sorted.sort_unstable();
        let outcomes: Vec<String> = stat.outcomes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            op.name(),
            sorted.len(),
            stat.errors,
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.95),
            percentile(&sorted, 0.99),
            percentile(&sorted, 1.0),
            outcomes.join(", ")
        );
    }
    if samples.is_empty() {
        return errors;
    }
    println!("\n| minute | operations (a direct PUT counts on its own) | errors | VmRSS at end (MiB) | max VmRSS in minute (MiB) | VmHWM (MiB) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let minutes = shared.minutes.lock().unwrap();
    for (index, minute) in minutes.iter().enumerate() {
        let range = index as u64 * 60..(index as u64 + 1) * 60;
        let within: Vec<_> = samples.iter().filter(|(s, _, _)| range.contains(s)).collect();
        let Some(last) = within.last() else { continue };
        let peak = within.iter().map(|(_, rss, _)| *rss).max().unwrap_or(0);
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            index + 1,
            minute.ops,
            minute.errors,
            last.1 as f64 / 1024.0,
            peak as f64 / 1024.0,
            last.2 as f64 / 1024.0
        );
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    println!(
        "\nRSS samples every {} s: first {:.1} MiB, last {:.1} MiB, peak (VmHWM) {:.1} MiB",
        shared.args.sample_secs,
        first.1 as f64 / 1024.0,
        last.1 as f64 / 1024.0,
        last.2 as f64 / 1024.0
    );
    errors
}
