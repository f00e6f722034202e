//! The bounded derived-image cache: a row per stored image (size, last use) in `derived_images`,
//! hits remembered in memory and written in batches, and least-recently-used eviction that keeps
//! the blobs of every node together under `ASSETD_DERIVED_CACHE_MAX_BYTES`.
//!
//! Hits are the hot path, so a hit writes nothing: its key joins an in-memory set that is written
//! in one statement at most once a minute (on the hit that finds the set a minute old, or full),
//! and before every eviction. Last use is therefore up to a minute late, and a node's hits of its
//! last minute are lost if it stops: an approximation that only reorders images used within the
//! same minute or so.
//!
//! A store that takes the total (a counter kept by the database's triggers) over the limit starts
//! an eviction in the background, one per process; across nodes, an advisory lock lets one
//! evict while the others skip. It deletes the least recently used images, blob first, then row
//! (so a crash in between leaves a row without a blob, which the sweep forgets, rather than a
//! blob nothing counts), until the total is at 90 % of the limit. A blob deleted while being
//! served is read to the end: an open local file outlives its name, and an S3 GET in flight
//! completes.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::{
    db::Db,
    domain::now_millis,
    storage::{Storage, StorageKey},
};

/// Hits are written at most this often per node.
const TOUCH_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// Hit keys remembered between two writes; past it the set is written at once (and hits of other
/// keys are dropped until it is).
const MAX_PENDING_TOUCHES: usize = 10_000;
/// Keys per statement when hits are written.
const TOUCH_BATCH: usize = 500;
/// Rows eviction reads at a time.
const EVICTION_BATCH: i64 = 200;
/// Eviction stops at this percentage of the limit, so that it runs once per tenth of the limit
/// stored rather than after every store.
const LOW_WATER_PERCENT: u64 = 90;

/// The cache's bookkeeping, shared by the requests of one process and its eviction task.
pub struct DerivedCache {
    db: Db,
    storage: Storage,
    /// `ASSETD_DERIVED_CACHE_MAX_BYTES`; 0: no bound.
    max_bytes: u64,
    touches: Mutex<Touches>,
    flushing: AtomicBool,
    /// Held by the running eviction task.
    eviction: Arc<tokio::sync::Mutex<()>>,
    /// A store found the total over the limit since the eviction task last looked.
    eviction_wanted: AtomicBool,
    evicted: AtomicU64,
}

/// Keys hit since the last write.
struct Touches {
    keys: HashSet<String>,
    since: Instant,
}

impl DerivedCache {
    pub fn new(db: Db, storage: Storage, max_bytes: u64) -> Self {
        DerivedCache {
            db,
            storage,
            max_bytes,
            touches: Mutex::new(Touches { keys: HashSet::new(), since: Instant::now() }),
            flushing: AtomicBool::new(false),
            eviction: Arc::new(tokio::sync::Mutex::new(())),
            eviction_wanted: AtomicBool::new(false),
            evicted: AtomicU64::new(0),
        }
    }

    /// How many derived images this process has evicted.
    pub fn evicted_count(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// A hit of `key`: remembered in memory; written with the others when a minute has passed.
    pub fn touch(self: &Arc<Self>, key: &StorageKey) {
        let due = {
            let mut touches = self.touches.lock().unwrap_or_else(|p| p.into_inner());
            if touches.keys.len() < MAX_PENDING_TOUCHES && !touches.keys.contains(key.as_str()) {
                touches.keys.insert(key.as_str().to_owned());
            }
            touches.keys.len() >= MAX_PENDING_TOUCHES || touches.since.elapsed() >= TOUCH_FLUSH_INTERVAL
        };
        if due && !self.flushing.swap(true, Ordering::AcqRel) {
            let cache = self.clone();
            tokio::spawn(async move {
                cache.flush_touches().await;
                cache.flushing.store(false, Ordering::Release);
            });
        }
    }

    /// Writes the remembered hits as used now. Failures are logged: last use is a hint.
    pub async fn flush_touches(&self) {
        let keys: Vec<String> = {
            let mut touches = self.touches.lock().unwrap_or_else(|p| p.into_inner());
            touches.since = Instant::now();
            touches.keys.drain().collect()
        };
        let now = now_millis();
        for batch in keys.chunks(TOUCH_BATCH) {
            if let Err(error) = self.db.touch_derived_images(batch, now).await {
                tracing::warn!(%error, keys = batch.len(), "could not record the last use of derived images");
            }
        }
    }

    /// Records the blob of `key` (`size` bytes) just stored, ending its render lease if it has
    /// one, and starts an eviction when the total is over the limit. Failures are logged: a blob
    /// without a row gets one from the next sweep.
    pub async fn record(self: &Arc<Self>, key: &StorageKey, size: u64) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        if let Err(error) = self.db.store_derived_image(key.as_str(), size, now_millis()).await {
            tracing::warn!(%error, key = key.as_str(), "could not record a derived image");
            return;
        }
        if self.max_bytes == 0 {
            return;
        }
        match self.db.derived_cache_bytes().await {
            Ok(total) if u64::try_from(total).unwrap_or(0) > self.max_bytes => self.start_eviction(),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not read the derived cache's size"),
        }
    }

    /// Forgets the images under `prefix`, whose blobs were just deleted.
    pub async fn forget(&self, prefix: &str) -> Result<u64, crate::db::DbError> {
        self.db.forget_derived_images(prefix).await
    }

    /// Runs [`DerivedCache::evict`] in the background unless this process already does; a running
    /// eviction sees the request and goes on.
    fn start_eviction(self: &Arc<Self>) {
        self.eviction_wanted.store(true, Ordering::Release);
        let Ok(mut turn) = self.eviction.clone().try_lock_owned() else { return };
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                while cache.eviction_wanted.swap(false, Ordering::AcqRel) {
                    if let Err(error) = cache.evict().await {
                        tracing::warn!("derived image eviction failed: {error:#}");
                    }
                }
                drop(turn);
                // A store may have asked between the last look and the release.
                if !cache.eviction_wanted.load(Ordering::Acquire) {
                    return;
                }
                match cache.eviction.clone().try_lock_owned() {
                    Ok(again) => turn = again,
                    Err(_) => return,
                }
            }
        });
    }

    /// Waits until no eviction runs in this process (tests).
    pub async fn wait_for_eviction(&self) {
        drop(self.eviction.lock().await);
    }

    /// Deletes the least recently used derived images until the total is at the low-water mark
    /// (90 % of the limit); returns how many it deleted. Does nothing while another node evicts.
    pub async fn evict(&self) -> anyhow::Result<u64> {
        if self.max_bytes == 0 {
            return Ok(0);
        }
        let Some(_turn) = self.db.try_derived_eviction_turn().await? else { return Ok(0) };
        self.flush_touches().await;
        let low_water = i64::try_from(self.max_bytes / 100 * LOW_WATER_PERCENT).unwrap_or(i64::MAX);
        let mut total = self.db.derived_cache_bytes().await?;
        let (mut evicted, mut freed) = (0_u64, 0_i64);
        while total > low_water {
            let mut progressed = false;
            for image in self.db.least_recently_used_derived_images(EVICTION_BATCH).await? {
                if total <= low_water {
                    break;
                }
                let key = StorageKey::from_stored(&image.key);
                self.storage.delete(&key).await.with_context(|| format!("deleting {}", image.key))?;
                if self.db.forget_evicted_derived_image(&image).await? {
                    (total, freed, evicted, progressed) = (total - image.size, freed + image.size, evicted + 1, true);
                }
            }
            if !progressed {
                break;
            }
            total = self.db.derived_cache_bytes().await?;
        }
        self.evicted.fetch_add(evicted, Ordering::Relaxed);
        if evicted > 0 {
            tracing::info!(
                evicted,
                bytes = freed,
                total,
                limit = self.max_bytes,
                "evicted least recently used derived images"
            );
        }
        Ok(evicted)
    }
}
