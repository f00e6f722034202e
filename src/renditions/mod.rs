//! The renditions workflow: an upload's derived images (transforms, video poster frames,
//! sanitised SVGs) served from blob storage or made once. It owns the cache keys, the derived
//! blobs in storage, single-flight rendering, render leases across nodes, purge and the
//! derived-image cache, and uses [`crate::db`], [`crate::storage`], [`crate::imaging`] (which
//! renders, pure), [`crate::media`], [`crate::metrics`], [`crate::config`] and [`crate::domain`];
//! it never touches HTTP (axum), [`crate::api`], [`crate::jobs`] or [`crate::app`].
//!
//! * [`Renditions`] gets or makes a [`Variant`]: from storage, or rendered by this process (once
//!   however many ask at the same time, `single_flight.rs`) and by one node of many
//!   (`leases.rs`); it purges an upload's derived images;
//! * `variant.rs` turns a request into a [`Variant`]: its canonical parameters and storage key;
//! * [`derived_cache`] keeps the derived images under their size limit (least recently used go).
//!
//! A new imgix parameter belongs to [`crate::imaging`]; a new cache policy belongs here.

pub mod derived_cache;
mod leases;
mod single_flight;
mod variant;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::sync::Semaphore;

pub use self::variant::{Derived, Output, Source, Variant};
use self::{derived_cache::DerivedCache, leases::Turn, single_flight::SingleFlight};
use crate::{
    config::Config,
    db::{Db, Dialect},
    imaging::{Limits, Renderer, RendererSettings, TransformError, TransformParams},
    metrics::TransformMetrics,
    storage::{BlobRead, LocalBlob, Storage, StorageError, StorageKey},
};

/// How the renditions workflow is sized.
#[derive(Debug, Clone)]
pub struct RenditionSettings {
    /// Transform slots, memory budget, queue, timeout, limits and temporary files.
    pub renderer: RendererSettings,
    /// Bytes of derived images kept in the store (every node together); 0: no bound.
    pub derived_cache_max_bytes: u64,
}

impl RenditionSettings {
    /// Transform settings; the concurrency defaults to the number of cores.
    pub fn from_config(config: &Config) -> RenditionSettings {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        RenditionSettings {
            renderer: RendererSettings {
                concurrency: if config.transform_concurrency == 0 { cores } else { config.transform_concurrency },
                threads: config.transform_threads.max(1),
                max_waiting: config.transform_queue,
                queue_wait: Duration::from_secs(config.transform_queue_wait_secs),
                memory: config.transform_memory_mib.saturating_mul(1024 * 1024),
                timeout: Duration::from_secs(config.transform_timeout_secs),
                limits: Limits {
                    max_input_pixels: config.max_input_pixels,
                    max_output_pixels: config.max_output_pixels,
                    max_upscale: config.max_upscale,
                },
                tmp_dir: config.data_dir.join("tmp"),
                ffmpeg: config.ffmpeg.clone(),
            },
            derived_cache_max_bytes: config.derived_cache_max_bytes,
        }
    }
}

pub struct Renditions {
    storage: Storage,
    /// Where images are rendered: slots, the memory budget, the queue, the blocking pool.
    renderer: Renderer,
    /// Sources being fetched from the store at once (temporary copies of remote originals).
    fetches: Semaphore,
    single_flight: SingleFlight,
    rendered: AtomicU64,
    /// Render leases shared by every node (PostgreSQL); `None` on a single node, where the
    /// in-process single flight is enough.
    leases: Option<Db>,
    /// What is stored, its sizes and last uses, and eviction past the limit.
    cache: Arc<DerivedCache>,
    /// Cache results, render times and failures, for `/metrics`.
    metrics: TransformMetrics,
}

impl Renditions {
    /// Starts libvips (once per process) and the workflow. On PostgreSQL, the nodes sharing the
    /// database render each image once between them (render leases).
    pub fn new(storage: Storage, settings: RenditionSettings, db: Db) -> Result<Self, TransformError> {
        let metrics = TransformMetrics::default();
        let renderer = Renderer::new(settings.renderer, metrics.clone())?;
        let fetches = Semaphore::new(renderer.settings().concurrency.max(1) * 2);
        let leases = (db.dialect() == Dialect::Postgres).then(|| db.clone());
        let cache = Arc::new(DerivedCache::new(db, storage.clone(), settings.derived_cache_max_bytes));
        Ok(Renditions {
            storage,
            renderer,
            fetches,
            single_flight: SingleFlight::default(),
            rendered: AtomicU64::new(0),
            leases,
            cache,
            metrics,
        })
    }

    /// The derived-image cache's bookkeeping (sizes, last uses, eviction).
    pub fn cache(&self) -> &Arc<DerivedCache> {
        &self.cache
    }

    /// The workflow's instruments, for the `/metrics` registry.
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
        variant::requested(source, params, accept)
    }

    /// An animated preview of a video upload.
    pub fn animation(&self, source: &Source, clip: crate::media::AnimatedClip) -> Variant {
        variant::animation(source, clip)
    }

    /// The sanitised copy of an SVG upload (see [`crate::media::sanitize_svg`]).
    pub fn safe_svg(&self, source: &Source) -> Variant {
        variant::safe_svg(source)
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
        let turn = self.single_flight.turn_for(&variant.digest);
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
        self.single_flight.release_turn(&variant.digest, turn);
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

    /// Makes a derived image under the renderer's bounds; returns its bytes and type.
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
                let rendered = self.renderer.render(path, &source.mime_type, recipe, original).await?;
                (rendered.bytes, rendered.format.mime_type())
            }
            Output::PosterFrame { at, recipe } => {
                let video = original.path().to_path_buf();
                let rendered = self.renderer.poster_frame(&video, *at, recipe, original).await?;
                (rendered.bytes, rendered.format.mime_type())
            }
            Output::Animation(clip) => {
                let video = original.path().to_path_buf();
                (self.renderer.animation(&video, clip, original).await?, clip.format.mime_type())
            }
            Output::SafeSvg => {
                let path = original.path().to_path_buf();
                (self.renderer.sanitize_svg(path, original).await?, "image/svg+xml")
            }
        };
        self.rendered.fetch_add(1, Ordering::Relaxed);
        Ok(made)
    }

    /// The original as a local file: in place on local disk, else a temporary copy.
    async fn local_original(&self, source: &Source) -> Result<LocalBlob, TransformError> {
        let key = StorageKey::from_stored(&source.blob_key);
        self.storage.local_blob(&key, &self.renderer.settings().tmp_dir).await.map_err(storage_error)
    }
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
        TransformError::OutputTooLarge { .. } => "too_large",
        TransformError::Internal(_) => "internal",
    }
}

fn storage_error(error: StorageError) -> TransformError {
    if error.is_not_found() {
        return TransformError::SourceGone;
    }
    TransformError::Internal(error.to_string())
}
