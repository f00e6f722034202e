//! The transform service: cache keys, the derived-image cache, single-flight rendering, limits.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    allocator,
    derived_cache::DerivedCache,
    params::{Crop, Length, OutputFormat, TransformParams, DEFAULT_QUALITY},
    pipeline::{self, Limits, Recipe, TransformError},
    vips,
};
use crate::{
    db::{Db, Dialect},
    domain::encode_hex,
    media,
    metrics::TransformMetrics,
    storage::{BlobRead, LocalBlob, Storage, StorageError, StorageKey, TempFile},
};

/// Bumped whenever the pipeline's output for the same parameters changes, so old derived images
/// are never served for new code.
const PIPELINE_VERSION: &str = "1";
/// A render lease outlives the transform timeout by this much before another node may take over.
const LEASE_MARGIN_MS: i64 = 10_000;
/// How often a node waiting for another node's render looks for the blob.
const LEASE_POLL: Duration = Duration::from_millis(50);

/// SVGs larger than this are not sanitised in memory: they are served as downloads instead.
pub const MAX_SANITIZED_SVG_BYTES: i64 = 16 * 1024 * 1024;

/// How the transform service is sized.
#[derive(Debug, Clone)]
pub struct TransformerSettings {
    /// Transforms running at once (default: the number of cores).
    pub concurrency: usize,
    /// libvips worker threads per transform.
    pub threads: usize,
    /// Transforms waiting for a slot before new ones are refused with 503.
    pub max_waiting: usize,
    /// Longest a transform waits for a slot and its memory before it is refused with 503.
    pub queue_wait: Duration,
    /// Bytes the transforms computing at once may take together, by their estimates
    /// ([`pipeline::Planned::memory_bytes`]); one larger than all of it runs alone.
    pub memory: u64,
    /// Longest a transform may compute.
    pub timeout: Duration,
    pub limits: Limits,
    /// Where originals are copied when storage is not a local disk, and poster frames are made.
    pub tmp_dir: PathBuf,
    /// The ffmpeg executable that takes video poster frames.
    pub ffmpeg: String,
    /// Bytes of derived images kept in the store (every node together); 0: no bound.
    pub derived_cache_max_bytes: u64,
}

/// The upload a transform reads.
#[derive(Debug, Clone)]
pub struct Source {
    pub upload_id: String,
    pub blob_key: String,
    pub md5: String,
    pub mime_type: String,
    /// The stored focal point (fractions), used by `crop=focalpoint` without `fp-x`/`fp-y`.
    pub focal_point: Option<(f64, f64)>,
    /// Videos: the poster time chosen by the editor, and the length.
    pub poster_time: Option<f64>,
    pub duration: Option<f64>,
}

impl Source {
    fn is_video(&self) -> bool {
        self.mime_type.starts_with("video/")
    }

    /// Where a video's poster frame is taken: `poster_time`, or the middle (clamped inside the video).
    fn poster_at(&self) -> f64 {
        let duration = self.duration.filter(|d| d.is_finite() && *d > 0.0);
        let at = self.poster_time.or(duration.map(|d| d / 2.0)).unwrap_or(0.0);
        match duration {
            Some(d) => at.clamp(0.0, (d - 0.05).max(0.0)),
            None => at.max(0.0),
        }
    }
}

/// What a derived image is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An image upload, transformed.
    Transform(Recipe),
    /// A video's frame at `at` seconds, transformed.
    PosterFrame { at: f64, recipe: Recipe },
    /// An SVG upload with script and remote references removed (served at its plain URL).
    SafeSvg,
}

/// One derived image of one upload: its recipe and where it is kept.
#[derive(Debug, Clone)]
pub struct Variant {
    pub output: Output,
    /// The sorted, default-free parameters that make the key (after `dpr` and `auto=format`).
    pub canonical: String,
    pub digest: String,
    pub key: StorageKey,
    /// The format was chosen from `Accept` (`auto=format`): answers must say `Vary: Accept`.
    pub negotiated: bool,
}

impl Variant {
    /// The MIME type of this derived image when known before reading it: always, except for the
    /// default format of sources whose output depends on their transparency (HEIC, TIFF, SVG).
    pub fn content_type(&self) -> Option<&'static str> {
        match &self.output {
            Output::SafeSvg => Some("image/svg+xml"),
            Output::Transform(recipe) | Output::PosterFrame { recipe, .. } => {
                recipe.format.map(OutputFormat::mime_type)
            }
        }
    }
}

/// A derived image, from the cache or just made.
pub enum Derived {
    Stored(BlobRead),
    Fresh { bytes: Bytes, content_type: &'static str },
}

pub struct Transformer {
    storage: Storage,
    settings: TransformerSettings,
    permits: Arc<Semaphore>,
    /// The memory budget in MiB, one permit each: a transform holds its estimate while it runs.
    memory: Arc<Semaphore>,
    /// Sources being fetched from the store at once (temporary copies of remote originals).
    fetches: Semaphore,
    waiting: AtomicUsize,
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    rendered: AtomicU64,
    /// Render leases shared by every node (PostgreSQL); `None` on a single node, where the
    /// in-process single flight is enough.
    leases: Option<Db>,
    /// What is stored, its sizes and last uses, and eviction past the limit.
    cache: Arc<DerivedCache>,
    /// Cache results, render times and failures, for `/metrics`.
    metrics: TransformMetrics,
}

/// What a render lease tells a node that missed the cache.
enum Turn {
    /// This node renders the image.
    Render { leased: bool },
    /// Another node stored it meanwhile.
    Stored(BlobRead),
}

impl Transformer {
    /// Starts libvips (once per process) and the service. On PostgreSQL, the nodes sharing the
    /// database render each image once between them (render leases).
    pub fn new(storage: Storage, settings: TransformerSettings, db: Db) -> Result<Self, TransformError> {
        vips::init(settings.threads, settings.timeout.as_secs().max(1)).map_err(|e| TransformError::Internal(e.0))?;
        if !allocator::configure() {
            tracing::debug!("the allocator keeps its own mmap threshold: freed image memory may stay in its arenas");
        }
        std::fs::create_dir_all(&settings.tmp_dir).map_err(|e| TransformError::Internal(e.to_string()))?;
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let memory = Arc::new(Semaphore::new(budget_units(settings.memory) as usize));
        let fetches = Semaphore::new(settings.concurrency.max(1) * 2);
        let leases = (db.dialect() == Dialect::Postgres).then(|| db.clone());
        let cache = Arc::new(DerivedCache::new(db, storage.clone(), settings.derived_cache_max_bytes));
        Ok(Transformer {
            storage,
            settings,
            permits,
            memory,
            fetches,
            waiting: AtomicUsize::new(0),
            in_flight: Mutex::new(HashMap::new()),
            rendered: AtomicU64::new(0),
            leases,
            cache,
            metrics: TransformMetrics::default(),
        })
    }

    /// The derived-image cache's bookkeeping (sizes, last uses, eviction).
    pub fn cache(&self) -> &Arc<DerivedCache> {
        &self.cache
    }

    /// The service's instruments, for the `/metrics` registry.
    pub fn metrics(&self) -> &TransformMetrics {
        &self.metrics
    }

    /// How many images this process has rendered (each cache miss renders once).
    pub fn rendered_count(&self) -> u64 {
        self.rendered.load(Ordering::Relaxed)
    }

    /// Resolves a request into its variant: `dpr` folded into `w`/`h`, the focal point filled in
    /// when a focal-point crop uses it, the output format chosen (from `Accept` with `auto=format`).
    /// For a video, the variant is its poster frame (JPEG unless `fm` says otherwise).
    pub fn variant(&self, source: &Source, params: TransformParams, accept: Option<&str>) -> Variant {
        let (mut format, negotiated) = choose_format(&params, accept);
        if format.is_none() {
            format = pipeline::format_for_source(&source.mime_type);
        }
        let focal_point = source.focal_point.unwrap_or((0.5, 0.5));
        let params = normalise(params, focal_point);
        let poster_at = source.is_video().then(|| source.poster_at());
        if poster_at.is_some() {
            format = Some(format.unwrap_or(OutputFormat::Jpeg));
        }
        let mut canonical = canonical(&params, format);
        let recipe = Recipe { params, format, focal_point };
        let output = match poster_at {
            Some(at) => {
                canonical = format!("poster={at}&{canonical}");
                Output::PosterFrame { at, recipe }
            }
            None => Output::Transform(recipe),
        };
        self.variant_of(source, output, canonical, negotiated)
    }

    /// The sanitised copy of an SVG upload (see [`crate::media::sanitize_svg`]).
    pub fn safe_svg(&self, source: &Source) -> Variant {
        // `-2`: the allow-list sanitiser of issue 14; copies the old one made are never served again.
        self.variant_of(source, Output::SafeSvg, "svg=sanitized-2".into(), false)
    }

    fn variant_of(&self, source: &Source, output: Output, canonical: String, negotiated: bool) -> Variant {
        let mut hasher = Sha256::new();
        hasher.update(format!("{PIPELINE_VERSION}\n{}\n{canonical}", source.md5));
        let digest = encode_hex(&hasher.finalize()[..20]);
        let key = StorageKey::derived(&source.upload_id, &digest);
        Variant { output, canonical, digest, key, negotiated }
    }

    /// The derived image: from storage, or rendered now (once, however many ask at the same time).
    pub async fn fetch(&self, source: &Source, variant: &Variant) -> Result<Derived, TransformError> {
        let fetched = self.fetch_or_render(source, variant).await;
        match &fetched {
            Ok(derived) => self.metrics.record_lookup(matches!(derived, Derived::Stored(_))),
            Err(error) => self.metrics.record_failure(failure_reason(error)),
        }
        fetched
    }

    async fn fetch_or_render(&self, source: &Source, variant: &Variant) -> Result<Derived, TransformError> {
        if let Some(stored) = self.stored(&variant.key).await? {
            return Ok(Derived::Stored(stored));
        }
        let turn = self.turn_for(&variant.digest);
        let result = async {
            let _guard = turn.lock().await;
            if let Some(stored) = self.stored(&variant.key).await? {
                return Ok(Derived::Stored(stored));
            }
            let leased = match self.cross_node_turn(&variant.key).await? {
                Turn::Stored(stored) => return Ok(Derived::Stored(stored)),
                Turn::Render { leased } => leased,
            };
            let made = self.make(source, &variant.output).await.map(|(bytes, kind)| (Bytes::from(bytes), kind));
            let stored = match &made {
                Ok((bytes, _)) => match self.storage.put_bytes(&variant.key, bytes.clone()).await {
                    Ok(()) => Some(bytes.len() as u64),
                    Err(error) => {
                        tracing::warn!(%error, key = variant.key.as_str(), "could not store a derived image");
                        None
                    }
                },
                Err(_) => None,
            };
            match stored {
                Some(size) => self.cache.record(&variant.key, size).await,
                None if leased => self.end_failed_lease(&variant.key).await,
                None => {}
            }
            let (bytes, content_type) = made?;
            Ok(Derived::Fresh { bytes, content_type })
        }
        .await;
        self.release_turn(&variant.digest, turn);
        result
    }

    /// Deletes every derived image of an upload and its rows (after a new version, a keep_url
    /// replacement or deletion). Failures are logged: stale images are unreachable anyway (their
    /// keys hold the md5), eviction deletes them in time, and the sweep forgets rows without blobs.
    pub async fn purge(&self, upload_id: &str) {
        let prefix = StorageKey::derived_prefix(upload_id);
        match self.storage.delete_prefix(&prefix).await {
            Ok(count) if count > 0 => tracing::debug!(upload = upload_id, count, "purged derived images"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, upload = upload_id, "could not purge derived images"),
        }
        if let Err(error) = self.cache.forget(&prefix).await {
            tracing::warn!(%error, upload = upload_id, "could not forget purged derived images");
        }
    }

    /// Across nodes: takes the render lease of `key`, or waits while another node renders it and
    /// answers its stored blob. The wait is bounded by the lease: a node that died mid-render
    /// leaves a lease that expires, and then this node renders. Should the database fail, this
    /// node renders anyway (a duplicate render beats an error).
    async fn cross_node_turn(&self, key: &StorageKey) -> Result<Turn, TransformError> {
        let Some(db) = &self.leases else { return Ok(Turn::Render { leased: false }) };
        let lease = i64::try_from(self.settings.timeout.as_millis()).unwrap_or(i64::MAX / 4) + LEASE_MARGIN_MS;
        loop {
            let now = crate::domain::now_millis();
            match db.claim_derived_render(key.as_str(), now, now + lease).await {
                Ok(true) => {
                    // Stored by another node between our miss and the claim: nothing to render.
                    if let Some(stored) = self.stored(key).await? {
                        self.cache.record(key, stored.total_size).await;
                        return Ok(Turn::Stored(stored));
                    }
                    if let Err(error) = db.count_derived_render(key.as_str()).await {
                        tracing::warn!(%error, "could not count a render");
                    }
                    return Ok(Turn::Render { leased: true });
                }
                Ok(false) => {
                    tokio::time::sleep(LEASE_POLL).await;
                    if let Some(stored) = self.stored(key).await? {
                        return Ok(Turn::Stored(stored));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, key = key.as_str(), "render lease unavailable; rendering anyway");
                    return Ok(Turn::Render { leased: false });
                }
            }
        }
    }

    /// Frees the lease of a render that stored nothing, for the next request to try.
    async fn end_failed_lease(&self, key: &StorageKey) {
        if let Some(db) = &self.leases {
            if let Err(error) = db.end_failed_derived_render(key.as_str(), crate::domain::now_millis()).await {
                tracing::warn!(%error, key = key.as_str(), "could not end a render lease");
            }
        }
    }

    /// The stored blob of `key`, counted as a use of it.
    async fn stored(&self, key: &StorageKey) -> Result<Option<BlobRead>, TransformError> {
        match self.storage.get(key, None).await {
            Ok(read) => {
                self.cache.touch(key);
                Ok(Some(read))
            }
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(storage_error(error)),
        }
    }

    /// The lock that makes one request render `digest` while the others wait for its result.
    fn turn_for(&self, digest: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(digest.to_owned()).or_default().clone()
    }

    fn release_turn(&self, digest: &str, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        drop(turn);
        if map.get(digest).is_some_and(|t| Arc::strong_count(t) == 1) {
            map.remove(digest);
        }
    }

    /// Makes a derived image under the concurrency bound; returns its bytes and type.
    async fn make(&self, source: &Source, output: &Output) -> Result<(Vec<u8>, &'static str), TransformError> {
        match self.make_from_original(source, output).await {
            // A delete or a new version may have removed the original while it was being read:
            // then the upload is gone, not broken.
            Err(TransformError::Decode(message)) => {
                match self.storage.size(&StorageKey::from_stored(&source.blob_key)).await {
                    Err(error) if error.is_not_found() => Err(TransformError::SourceGone),
                    _ => Err(TransformError::Decode(message)),
                }
            }
            made => made,
        }
    }

    async fn make_from_original(
        &self,
        source: &Source,
        output: &Output,
    ) -> Result<(Vec<u8>, &'static str), TransformError> {
        // The source is fetched before taking a CPU slot: from a remote store that takes a while,
        // and the slot's core should compute meanwhile. Fetches are bounded on their own.
        let original = {
            let _fetch = self.fetches.acquire().await.map_err(|_| TransformError::Internal("stopped".into()))?;
            self.local_original(source).await?
        };
        let made = match output {
            Output::Transform(recipe) => {
                let path = original.path().to_path_buf();
                let rendered = self.render(path, &source.mime_type, recipe, original, "image").await?;
                (rendered.bytes, rendered.format.mime_type())
            }
            Output::PosterFrame { at, recipe } => {
                let frame = TempFile::new(self.settings.tmp_dir.join(format!("poster-{}.png", uuid::Uuid::new_v4())));
                // ffmpeg runs in a process of its own: the slot bounds its CPU, its memory is not ours.
                let admission = self.admit(0).await?;
                media::extract_frame(&self.settings.ffmpeg, original.path(), *at, frame.path(), self.settings.timeout)
                    .await
                    .map_err(|error| match error {
                        media::MediaError::Decode(message) => TransformError::Decode(message),
                        media::MediaError::Timeout => TransformError::Timeout,
                        other => TransformError::Internal(other.to_string()),
                    })?;
                drop((admission, original));
                let rendered = self.render(frame.path().to_path_buf(), "image/png", recipe, frame, "poster").await?;
                (rendered.bytes, rendered.format.mime_type())
            }
            Output::SafeSvg => {
                // The sanitiser streams; what it holds is the copy it writes (at most the input).
                let admission = self.admit(2 * MAX_SANITIZED_SVG_BYTES.unsigned_abs()).await?;
                let bytes = self
                    .blocking(
                        move || {
                            // Whole in memory: the caller only asks for SVGs up to MAX_SANITIZED_SVG_BYTES.
                            let svg =
                                std::fs::read(original.path()).map_err(|e| TransformError::Internal(e.to_string()))?;
                            let safe = media::sanitize_svg(&svg).map_err(|e| TransformError::Decode(e.to_string()))?;
                            Ok(safe.into_bytes())
                        },
                        admission,
                        "svg",
                    )
                    .await?;
                (bytes, "image/svg+xml")
            }
        };
        self.rendered.fetch_add(1, Ordering::Relaxed);
        Ok(made)
    }

    /// Plans a transform of the image at `path` from its header, waits for its turn (a slot and
    /// its estimated memory), then renders it. `keep` (the file) lives until the render ends.
    async fn render<K: Send + 'static>(
        &self,
        path: PathBuf,
        mime: &str,
        recipe: &Recipe,
        keep: K,
        kind: &'static str,
    ) -> Result<pipeline::Rendered, TransformError> {
        let (mime, recipe, limits) = (mime.to_owned(), recipe.clone(), self.settings.limits);
        let header_path = path.clone();
        // Reading a header takes a millisecond: no slot, but off the async threads.
        let planned = tokio::task::spawn_blocking(move || pipeline::plan(&header_path, &mime, &recipe, &limits))
            .await
            .map_err(|join| TransformError::Internal(join.to_string()))??;
        let admission = self.admit(planned.memory_bytes()).await?;
        let deadline = std::time::Instant::now() + self.settings.timeout;
        self.blocking(
            move || {
                let _keep = keep;
                pipeline::render(&path, &planned, deadline)
            },
            admission,
            kind,
        )
        .await
    }

    /// A transform slot and `bytes` of the memory budget (all of it at most), waiting in the
    /// bounded queue (at most `queue_wait`) when either is short. The queue is first come, first
    /// served: a large transform waiting for memory is not overtaken by small ones.
    async fn admit(&self, bytes: u64) -> Result<Admission, TransformError> {
        let units = memory_units(bytes, self.settings.memory);
        if let Some(admission) = self.try_admit(units) {
            return Ok(admission);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.settings.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(TransformError::Busy);
        }
        let waited = tokio::time::timeout(self.settings.queue_wait, async {
            let memory = self.memory.clone().acquire_many_owned(units).await?;
            let slot = self.permits.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(Admission { _slot: slot, _memory: memory })
        })
        .await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Err(_) => Err(TransformError::QueueTimeout),
            Ok(Err(_)) => Err(TransformError::Internal("the transform service stopped".into())),
            Ok(Ok(admission)) => Ok(admission),
        }
    }

    fn try_admit(&self, units: u32) -> Option<Admission> {
        let memory = self.memory.clone().try_acquire_many_owned(units).ok()?;
        let slot = self.permits.clone().try_acquire_owned().ok()?;
        Some(Admission { _slot: slot, _memory: memory })
    }

    /// The original as a local file: in place on local disk, else a temporary copy.
    async fn local_original(&self, source: &Source) -> Result<LocalBlob, TransformError> {
        let key = StorageKey::from_stored(&source.blob_key);
        self.storage.local_blob(&key, &self.settings.tmp_dir).await.map_err(storage_error)
    }

    /// Runs CPU-bound work on the blocking pool, holding `admission` until it really ends, then
    /// gives the memory the work freed back to the system (see [`crate::imaging::allocator`]).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, TransformError> + Send + 'static,
        admission: Admission,
        kind: &'static str,
    ) -> Result<T, TransformError> {
        let metrics = self.metrics.clone();
        let task = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let result = work();
            if result.is_ok() {
                metrics.record_render(kind, started.elapsed());
            }
            drop(admission);
            allocator::release_free_memory();
            result
        });
        // libvips kills an evaluation at the timeout; this is the backstop should it not.
        let backstop = self.settings.timeout + Duration::from_secs(5);
        match tokio::time::timeout(backstop, task).await {
            Err(_) => Err(TransformError::Timeout),
            Ok(Err(join)) => Err(TransformError::Internal(join.to_string())),
            Ok(Ok(result)) => result,
        }
    }
}

/// A transform's turn: a slot and its share of the memory budget, released when dropped.
struct Admission {
    _slot: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

const MIB: u64 = 1024 * 1024;

/// The memory budget in permits of one MiB (at least one).
fn budget_units(budget: u64) -> u32 {
    u32::try_from(budget / MIB).unwrap_or(u32::MAX).max(1)
}

/// The permits an estimate of `bytes` takes: whole MiB, at least one, at most the whole budget.
fn memory_units(bytes: u64, budget: u64) -> u32 {
    u32::try_from(bytes.div_ceil(MIB)).unwrap_or(u32::MAX).clamp(1, budget_units(budget))
}

/// The `reason` label of a failed transform.
fn failure_reason(error: &TransformError) -> &'static str {
    match error {
        TransformError::Params(_) => "params",
        TransformError::TooLarge { .. } => "too_large",
        TransformError::Decode(_) => "decode",
        TransformError::Timeout => "timeout",
        TransformError::Busy => "busy",
        TransformError::QueueTimeout => "queue_timeout",
        TransformError::SourceGone => "source_gone",
        TransformError::Internal(_) => "internal",
    }
}

fn storage_error(error: StorageError) -> TransformError {
    if error.is_not_found() {
        return TransformError::SourceGone;
    }
    TransformError::Internal(error.to_string())
}

/// `fm` wins; otherwise `auto=format` picks AVIF, then WebP, from what `Accept` lists explicitly.
fn choose_format(params: &TransformParams, accept: Option<&str>) -> (Option<OutputFormat>, bool) {
    if let Some(fm) = params.fm {
        return (Some(fm), false);
    }
    if !params.auto_format {
        return (None, false);
    }
    let accept = accept.unwrap_or_default();
    let accepts = |wanted: &str| {
        accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused =
                parts.any(|p| p.replace(' ', "").strip_prefix("q=").and_then(|q| q.parse::<f64>().ok()) == Some(0.0));
            media.eq_ignore_ascii_case(wanted) && !refused
        })
    };
    let format = if accepts("image/avif") {
        Some(OutputFormat::Avif)
    } else if accepts("image/webp") {
        Some(OutputFormat::Webp)
    } else {
        None
    };
    (format, true)
}

/// Folds `dpr` into `w`/`h`, resolves the focal point where a focal-point crop uses it, and drops
/// what has no effect, so equivalent URLs share one derived image.
fn normalise(mut p: TransformParams, focal_point: (f64, f64)) -> TransformParams {
    if let Some(dpr) = p.dpr.take() {
        let times = |l: Length| match l {
            Length::Pixels(v) => Length::Pixels(v * dpr),
            Length::Fraction(v) => Length::Fraction(v * dpr),
        };
        p.w = p.w.map(times);
        p.h = p.h.map(times);
    }
    if !p.fit.crops() {
        p.crop = Crop::default();
        p.ar = None;
    }
    let focal = p.fit.crops() && p.crop.smart.is_none() && (p.crop.focalpoint || p.fp_x.is_some() || p.fp_y.is_some());
    if focal {
        p.fp_x = Some(p.fp_x.unwrap_or(focal_point.0));
        p.fp_y = Some(p.fp_y.unwrap_or(focal_point.1));
        p.crop = Crop { focalpoint: true, ..Crop::default() };
        if p.fp_z == Some(1.0) {
            p.fp_z = None;
        }
    } else {
        (p.fp_x, p.fp_y, p.fp_z) = (None, None, None);
        p.crop.focalpoint = false;
    }
    p.fm = None;
    p.auto_format = false;
    if p.blur == Some(0) {
        p.blur = None;
    }
    if p.q == Some(DEFAULT_QUALITY) && !p.auto_compress {
        p.q = None;
    }
    p
}

/// The cache-key text of normalised parameters: `key=value` pairs in alphabetical order.
fn canonical(p: &TransformParams, format: Option<OutputFormat>) -> String {
    let length = |l: Length| match l {
        Length::Pixels(v) => format!("{v}"),
        Length::Fraction(v) => format!("{v}x"),
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(ar) = p.ar {
        pairs.push(("ar", format!("{ar}")));
    }
    if p.auto_compress {
        pairs.push(("auto", "compress".into()));
    }
    if let Some(bg) = p.bg {
        pairs.push(("bg", bg.to_string()));
    }
    if let Some(blur) = p.blur {
        pairs.push(("blur", blur.to_string()));
    }
    let crop = &p.crop;
    if crop.focalpoint || crop.x.is_some() || crop.y.is_some() || crop.smart.is_some() {
        let mut text = String::new();
        let _ = write!(text, "{:?},{:?},{},{:?}", crop.x, crop.y, crop.focalpoint, crop.smart);
        pairs.push(("crop", text));
    }
    if p.fit != Default::default() {
        pairs.push(("fit", p.fit.as_str().into()));
    }
    pairs.push(("fm", format.map_or("source", OutputFormat::as_str).into()));
    for (name, value) in [("fp-x", p.fp_x), ("fp-y", p.fp_y), ("fp-z", p.fp_z)] {
        if let Some(v) = value {
            pairs.push((name, format!("{v}")));
        }
    }
    if let Some(h) = p.h {
        pairs.push(("h", length(h)));
    }
    if p.lossless {
        pairs.push(("lossless", "1".into()));
    }
    if let Some(v) = p.max_h {
        pairs.push(("max-h", v.to_string()));
    }
    if let Some(v) = p.max_w {
        pairs.push(("max-w", v.to_string()));
    }
    if let Some(q) = p.q {
        pairs.push(("q", q.to_string()));
    }
    if let Some(r) = p.rect {
        pairs.push(("rect", format!("{},{},{},{}", length(r.x), length(r.y), length(r.w), length(r.h))));
    }
    if let Some(w) = p.w {
        pairs.push(("w", length(w)));
    }
    pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn service(memory_mib: u64, concurrency: usize, max_waiting: usize, dir: &std::path::Path) -> Transformer {
        let settings = TransformerSettings {
            concurrency,
            threads: 1,
            max_waiting,
            queue_wait: Duration::from_millis(300),
            memory: memory_mib * MIB,
            timeout: Duration::from_secs(30),
            limits: Limits { max_input_pixels: 100_000_000, max_output_pixels: 40_000_000, max_upscale: 0.0 },
            tmp_dir: dir.join("tmp"),
            ffmpeg: "ffmpeg".into(),
            derived_cache_max_bytes: 0,
        };
        let locales = [crate::domain::Locale::parse("en").unwrap()];
        let db = Db::open_sqlite(&dir.join("assetd.db"), &locales).await.unwrap();
        Transformer::new(Storage::in_memory(), settings, db).unwrap()
    }

    async fn refused_after_the_wait(service: &Transformer, bytes: u64) {
        let started = Instant::now();
        let refused = service.admit(bytes).await;
        assert!(matches!(refused, Err(TransformError::QueueTimeout)), "{:?}", refused.err());
        assert!(started.elapsed() >= Duration::from_millis(290), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn transforms_take_their_estimate_from_the_memory_budget() {
        let dir = tempfile::tempdir().unwrap();
        let service = Arc::new(service(100, 4, 8, dir.path()).await);
        let large = service.admit(80 * MIB).await.unwrap();
        // 30 MiB do not fit beside it: it waits, and is refused at the queue wait limit.
        refused_after_the_wait(&service, 30 * MIB).await;
        // 20 MiB do, at once.
        let small = service.try_admit(memory_units(20 * MIB, service.settings.memory));
        assert!(small.is_some(), "20 MiB fit beside 80 of 100");
        drop(small);
        // A waiting transform is admitted as soon as the memory is given back.
        let waiter = tokio::spawn({
            let service = service.clone();
            async move { service.admit(60 * MIB).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(large);
        waiter.await.unwrap().expect("admitted once the large transform ended");
        // An estimate above the whole budget runs alone, holding all of it.
        let alone = service.admit(500 * MIB).await.unwrap();
        assert!(service.try_admit(1).is_none(), "nothing runs beside it");
        drop(alone);
        assert!(service.try_admit(100).is_some(), "the whole budget is back");
    }

    #[tokio::test]
    async fn slots_bound_the_transforms_computing_at_once_and_the_queue_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(1024, 1, 1, dir.path()).await;
        let first = service.admit(MIB).await.unwrap();
        refused_after_the_wait(&service, MIB).await;
        // One may wait; a second waiting one is refused at once.
        let (waiting, refused) = tokio::join!(service.admit(MIB), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            service.admit(MIB).await
        });
        assert!(matches!(refused, Err(TransformError::Busy)), "{:?}", refused.err());
        assert!(matches!(waiting, Err(TransformError::QueueTimeout)), "{:?}", waiting.err());
        drop(first);
        assert!(service.admit(MIB).await.is_ok());
    }

    fn params(query: &str) -> TransformParams {
        TransformParams::parse(query).unwrap().unwrap()
    }

    fn key(query: &str, accept: Option<&str>) -> String {
        let (format, _) = choose_format(&params(query), accept);
        canonical(&normalise(params(query), (0.3, 0.7)), format)
    }

    #[test]
    fn canonical_form_is_sorted_and_drops_defaults() {
        assert_eq!(key("w=720&fm=jpg&q=80", None), "fm=jpg&q=80&w=720");
        assert_eq!(key("q=80&fm=jpg&w=720&fit=clip&dpr=1&blur=0", None), "fm=jpg&q=80&w=720");
        assert_eq!(key("w=720&q=75", None), "fm=source&w=720");
    }

    #[test]
    fn dpr_is_folded_into_the_size() {
        assert_eq!(key("w=375&dpr=2", None), key("w=750", None));
        assert_eq!(key("ar=16:9&dpr=0.5&fit=crop&w=750", None), key("ar=16:9&fit=crop&w=375", None));
    }

    #[test]
    fn the_focal_point_is_part_of_the_key_only_when_used() {
        assert_eq!(
            key("w=100&h=100&fit=crop&crop=focalpoint", None),
            "crop=None,None,true,None&fit=crop&fm=source&fp-x=0.3&fp-y=0.7&h=100&w=100"
        );
        assert_eq!(key("w=100&fp-x=0.2", None), "fm=source&w=100");
        assert_ne!(key("w=100&h=100&fit=crop&fp-x=0.2", None), key("w=100&h=100&fit=crop&fp-x=0.3", None));
    }

    #[test]
    fn auto_format_is_resolved_from_accept() {
        let chrome = Some("image/avif,image/webp,image/apng,image/*,*/*;q=0.8");
        let old_safari = Some("image/webp,image/png,image/*;q=0.8");
        assert_eq!(choose_format(&params("auto=format"), chrome), (Some(OutputFormat::Avif), true));
        assert_eq!(choose_format(&params("auto=format"), old_safari), (Some(OutputFormat::Webp), true));
        assert_eq!(
            choose_format(&params("auto=format"), Some("image/avif;q=0,image/webp")),
            (Some(OutputFormat::Webp), true)
        );
        assert_eq!(choose_format(&params("auto=format"), Some("*/*")), (None, true));
        assert_eq!(choose_format(&params("auto=format&fm=png"), chrome), (Some(OutputFormat::Png), false));
        assert_eq!(key("w=10&auto=format", chrome), key("w=10&fm=avif", None));
    }
}
