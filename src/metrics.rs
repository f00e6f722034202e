//! The service's Prometheus instruments, one registry per [`crate::app::App`] (tests run many apps
//! in one process, so nothing here is global).
//!
//! Each capability records into its own instrument, handed to it when the app is built:
//! [`HttpMetrics`] by the request middleware, [`JobMetrics`] by the worker, [`TransformMetrics`]
//! by the transform service and [`StorageMetrics`] by the blob store. Figures that live in the
//! database (the job queue) are read when `/metrics` is scraped, see [`Metrics::render`].
//! A leaf: it uses no other layer (instruments are handed to them).

use std::time::Duration;

use prometheus_client::{
    encoding::{prometheus_text, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
        info::Info,
    },
    registry::Registry,
};

/// The `Content-Type` of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 30 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.5, 12))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    /// The route template (`/uploads/{id}`), never the raw path, so the label set stays small.
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// Requests by route: counts by status, latency to the response head, in flight.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    pub requests: Family<ResponseLabels, Counter>,
    pub duration: HistogramFamily<RouteLabels>,
    pub in_flight: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcomeLabels {
    pub kind: String,
    /// `done`, `rejected` (a 4xx result), `retried`, `dead` (a 500 result) or `lease_lost`.
    pub outcome: &'static str,
}

/// Jobs run by this node, and the shared queue as last read from the database.
#[derive(Clone, Debug)]
pub struct JobMetrics {
    pub runs: Family<JobOutcomeLabels, Counter>,
    pub duration: HistogramFamily<JobLabels>,
    /// Jobs waiting to run (all nodes: the queue is shared).
    pub queued: Gauge,
    /// Jobs being run (all nodes).
    pub running: Gauge,
    /// Age of the oldest waiting job, 0 when none waits.
    pub oldest_queued_age: Gauge<f64, std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit`: served from the derived-image cache; `miss`: rendered by this request.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RenderLabels {
    /// `image`, `poster` (a video frame) or `svg` (a sanitised copy).
    pub output: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `busy`, `queue_timeout`, `timeout`, `decode`, `too_large`, `params`, `source_gone` or `internal`.
    pub reason: &'static str,
}

/// The transform service: cache lookups, render times, failures.
#[derive(Clone, Debug)]
pub struct TransformMetrics {
    pub cache: Family<CacheLabels, Counter>,
    pub render: HistogramFamily<RenderLabels>,
    pub failures: Family<FailureLabels, Counter>,
    /// hits / (hits + misses) since start, for dashboards without PromQL at hand.
    pub hit_ratio: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl TransformMetrics {
    pub fn record_lookup(&self, hit: bool) {
        self.cache.get_or_create(&CacheLabels { result: if hit { "hit" } else { "miss" } }).inc();
    }

    pub fn record_failure(&self, reason: &'static str) {
        self.failures.get_or_create(&FailureLabels { reason }).inc();
    }

    pub fn record_render(&self, output: &'static str, took: Duration) {
        self.render.get_or_create(&RenderLabels { output }).observe(took.as_secs_f64());
    }

    fn update_hit_ratio(&self) {
        let count = |result| self.cache.get(&CacheLabels { result }).map_or(0, |c| c.get());
        let (hits, misses) = (count("hit"), count("miss"));
        let ratio = if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 };
        self.hit_ratio.set(ratio);
    }
}

impl Default for TransformMetrics {
    fn default() -> Self {
        TransformMetrics {
            cache: Family::default(),
            render: Family::new_with_constructor(latency_histogram),
            failures: Family::default(),
            hit_ratio: Gauge::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageLabels {
    /// The store operation that failed (`get`, `put`, `delete`, `list`, ...).
    pub operation: &'static str,
}

/// Failures of the blob store other than "not found" (which is an answer, not an error).
#[derive(Clone, Debug, Default)]
pub struct StorageMetrics {
    pub errors: Family<StorageLabels, Counter>,
}

impl StorageMetrics {
    pub fn record_error(&self, operation: &'static str) {
        self.errors.get_or_create(&StorageLabels { operation }).inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The call's status after the attempt: `success`, `rescheduled` (a retry is queued) or `failed`.
    pub outcome: &'static str,
}

/// What the database says about the job queue when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueSnapshot {
    pub queued: i64,
    pub running: i64,
    pub oldest_queued_age: Duration,
}

/// Every instrument, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub jobs: JobMetrics,
    pub transforms: TransformMetrics,
    pub storage: StorageMetrics,
    /// Webhook delivery attempts made by this node, by outcome.
    pub webhook_deliveries: Family<DeliveryLabels, Counter>,
}

impl Metrics {
    /// Registers `transforms` and `storage`, which their services were built with, next to new
    /// HTTP and job instruments.
    pub fn new(transforms: TransformMetrics, storage: StorageMetrics) -> Self {
        let mut registry = Registry::with_prefix("assetd");
        registry.register(
            "build",
            "The running version",
            Info::new(vec![("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]),
        );
        let http = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
        };
        registry.register("http_requests", "HTTP requests answered, by route and status", http.requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from the request to its response head, by route",
            http.duration.clone(),
        );
        registry.register("http_requests_in_flight", "HTTP requests being handled", http.in_flight.clone());
        let jobs = JobMetrics {
            runs: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            queued: Gauge::default(),
            running: Gauge::default(),
            oldest_queued_age: Gauge::default(),
        };
        registry.register("job_runs", "Job runs on this node, by kind and outcome", jobs.runs.clone());
        registry.register("job_duration_seconds", "Job run times on this node, by kind", jobs.duration.clone());
        registry.register("jobs_queued", "Jobs waiting to run (the queue all nodes share)", jobs.queued.clone());
        registry.register("jobs_running", "Jobs being run (all nodes)", jobs.running.clone());
        registry.register(
            "jobs_oldest_queued_age_seconds",
            "Age of the oldest waiting job (0 when none waits)",
            jobs.oldest_queued_age.clone(),
        );
        registry.register(
            "transform_cache_lookups",
            "Transform requests by derived-image cache result",
            transforms.cache.clone(),
        );
        registry.register(
            "transform_cache_hit_ratio",
            "Share of transform requests served from the cache since start",
            transforms.hit_ratio.clone(),
        );
        registry.register(
            "transform_render_duration_seconds",
            "Time to render a derived image (fetching the original included)",
            transforms.render.clone(),
        );
        registry.register("transform_failures", "Transforms that failed, by reason", transforms.failures.clone());
        registry.register("storage_errors", "Blob store failures, by operation", storage.errors.clone());
        let webhook_deliveries = Family::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts on this node, by outcome",
            webhook_deliveries.clone(),
        );
        Metrics { registry, http, jobs, transforms, storage, webhook_deliveries }
    }

    /// The Prometheus text exposition, with the queue figures of `queue`.
    pub fn render(&self, queue: Option<QueueSnapshot>) -> String {
        if let Some(queue) = queue {
            self.jobs.queued.set(queue.queued);
            self.jobs.running.set(queue.running);
            self.jobs.oldest_queued_age.set(queue.oldest_queued_age.as_secs_f64());
        }
        self.transforms.update_hit_ratio();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(TransformMetrics::default(), StorageMetrics::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_the_hit_ratio() {
        let metrics = Metrics::default();
        let labels = ResponseLabels { method: "GET".into(), route: "/uploads/{id}".into(), status: 200 };
        metrics.http.requests.get_or_create(&labels).inc();
        metrics.transforms.record_lookup(true);
        metrics.transforms.record_lookup(true);
        metrics.transforms.record_lookup(false);
        metrics.storage.record_error("get");
        let text = metrics.render(Some(QueueSnapshot {
            queued: 3,
            running: 1,
            oldest_queued_age: Duration::from_millis(1500),
        }));
        assert!(text.contains(r#"assetd_http_requests_total{method="GET",route="/uploads/{id}",status="200"} 1"#));
        assert!(text.contains(r#"assetd_transform_cache_lookups_total{result="hit"} 2"#), "{text}");
        assert!(text.contains("assetd_transform_cache_hit_ratio 0.6666"), "{text}");
        assert!(text.contains(r#"assetd_storage_errors_total{operation="get"} 1"#));
        assert!(text.contains("assetd_jobs_queued 3\n"));
        assert!(text.contains("assetd_jobs_running 1\n"));
        assert!(text.contains("assetd_jobs_oldest_queued_age_seconds 1.5\n"));
        assert!(text.contains(&format!(r#"assetd_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"))));
    }
}
