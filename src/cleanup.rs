//! The orphaned-blob sweep. Blobs outlive what pointed at them when a crash falls between a
//! commit and the blob's removal (a delete, a new version replacing a file), when a file is PUT
//! to an upload URL that is never used, or when an upload's derived images outlive it; a SIGKILL
//! also leaves half-written staging and scratch files. The sweep lists the store, asks the
//! database which keys it still needs, and removes the rest. It also squares the derived-image
//! cache's rows with the blobs (see [`check_derived`]): a blob without a row gets one, and rows
//! whose blob it did not list are forgotten.
//!
//! Safe beside live traffic and on several nodes at once: it lists first and reads the database
//! after, so anything referenced when the listing saw it is still referenced (or legitimately
//! gone) when the database answers; a key's reference moves from its upload request to its upload
//! in one transaction, which one statement sees whole ([`Db::blob_references`]); and nothing
//! written within the grace period is touched, whatever the database says. That grace covers the
//! moment between a file being written and the database naming it: a direct PUT stores its file
//! under a fresh key before it records it as the request's, and the take of a presigned PUT copies
//! it before it records the copy. The files such writes lose to (a replaced PUT, a PUT after the
//! take, a copy recorded by a concurrent take, a staging copy after the take) are named by nothing
//! and go. Deletes are idempotent, so two nodes sweeping together only repeat each other.
//!
//! Uses `db`, `storage` and `config` only ([`Sweeper`] holds what the server's sweep needs).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use anyhow::Context;
use futures_util::TryStreamExt;
use tokio::sync::watch;

use crate::{
    config::Config,
    db::Db,
    domain::now_millis,
    storage::{KeyOwner, ListedBlob, Storage, StorageKey, SWEPT_PREFIXES},
};

/// Keys checked against the database per query.
const BATCH: usize = 500;

/// What one sweep found and removed.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Blobs listed under the swept prefixes.
    pub listed: u64,
    /// Blobs left alone because they are younger than the grace period.
    pub young: u64,
    pub removed_blobs: Vec<String>,
    pub removed_bytes: u64,
    /// Staging files of interrupted writes, scratch files and empty `derived/<upload id>/`
    /// directories (local disk).
    pub removed_temp_files: Vec<PathBuf>,
    /// Derived images found without a row (now recorded) or with a wrong one (corrected).
    pub recorded_derived: u64,
    /// Rows of derived images whose blob is gone, forgotten.
    pub forgotten_derived: u64,
}

impl std::fmt::Display for SweepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for key in &self.removed_blobs {
            writeln!(f, "removed blob {key}")?;
        }
        for path in &self.removed_temp_files {
            writeln!(f, "removed {}", path.display())?;
        }
        write!(
            f,
            "{} blobs listed, {} younger than the grace period kept, {} orphaned blobs removed ({} bytes), \
             {} temporary files or empty directories removed, {} derived images recorded, \
             {} rows of missing derived images forgotten",
            self.listed,
            self.young,
            self.removed_blobs.len(),
            self.removed_bytes,
            self.removed_temp_files.len(),
            self.recorded_derived,
            self.forgotten_derived
        )
    }
}

/// One sweep over every blob under [`SWEPT_PREFIXES`]; blobs written within `grace` stay, and an
/// upload URL's file stays until `grace` after the URL expired.
pub async fn sweep(db: &Db, storage: &Storage, grace: Duration) -> anyhow::Result<SweepReport> {
    let mut report = SweepReport::default();
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let started = now_millis();
    let young_after = started.saturating_sub(grace_ms);
    for prefix in SWEPT_PREFIXES {
        let mut listing = storage.list_blobs(prefix);
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(blob) = listing.try_next().await.context("listing the blob store")? {
            report.listed += 1;
            if blob.last_modified_ms >= young_after {
                report.young += 1;
                continue;
            }
            batch.push(blob);
            if batch.len() == BATCH {
                remove_unneeded(db, storage, std::mem::take(&mut batch), young_after, started, &mut report).await?;
            }
        }
        remove_unneeded(db, storage, batch, young_after, started, &mut report).await?;
    }
    // Every derived blob was listed and its row checked: rows left unchecked have no blob.
    report.forgotten_derived = db.forget_unchecked_derived_images(started, young_after).await?;
    Ok(report)
}

/// Removes temporary files: the scratch files in `scratch_dirs` and the local store's staging
/// files, those last modified before `modified_before`, or all of them with `None` (at start,
/// before this process wrote any).
pub async fn remove_temp_files(
    storage: &Storage,
    scratch_dirs: &[PathBuf],
    modified_before: Option<SystemTime>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for dir in scratch_dirs {
        removed.extend(remove_scratch_files(dir, modified_before).await?);
    }
    removed.extend(storage.remove_staging_files(modified_before).await?);
    Ok(removed)
}

/// Asks the database about `batch` (listed before this call) and deletes what nothing needs; the
/// derived images kept are checked against their rows (as of `checked_at`).
async fn remove_unneeded(
    db: &Db,
    storage: &Storage,
    batch: Vec<ListedBlob>,
    expired_before: i64,
    checked_at: i64,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let owners: Vec<KeyOwner> = batch.iter().map(|blob| blob.key.owner()).collect();
    let (mut originals, mut upload_ids, mut streamed, mut tracks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for owner in &owners {
        match owner {
            KeyOwner::Original(key) | KeyOwner::Incoming(key) => originals.push(key.clone()),
            KeyOwner::Derived(id) => upload_ids.push(id.clone()),
            KeyOwner::Video { upload_id, .. } => streamed.push(upload_id.clone()),
            KeyOwner::Track { track_id } => tracks.push(track_id.clone()),
            KeyOwner::Unknown => {}
        }
    }
    let references = db.blob_references(&originals, expired_before).await?;
    let uploads = db.existing_upload_ids(&upload_ids).await?;
    streamed.sort();
    streamed.dedup();
    let served = db.served_video_generations(&streamed).await?;
    let tracks = db.existing_tracks(&tracks).await?;
    let (mut forgotten, mut kept_derived) = (Vec::new(), Vec::new());
    for (blob, owner) in batch.into_iter().zip(owners) {
        let needed = match &owner {
            KeyOwner::Original(key) => references.by_uploads.contains(key) || references.by_requests.contains(key),
            KeyOwner::Incoming(key) => references.by_requests.contains(key),
            KeyOwner::Derived(id) => uploads.contains(id),
            // A generation being written is younger than the grace period (its files are stored
            // in one burst once ffmpeg is done); older ones nothing serves are left by a crash or
            // a replaced stream.
            KeyOwner::Video { upload_id, generation } => served.contains(&(upload_id.clone(), generation.clone())),
            // A track's file is stored before its row commits: a young one is within the grace.
            KeyOwner::Track { track_id } => tracks.contains(track_id),
            KeyOwner::Unknown => true,
        };
        if needed {
            if matches!(owner, KeyOwner::Derived(_)) {
                kept_derived.push(blob);
            }
            continue;
        }
        storage.delete(&blob.key).await.with_context(|| format!("deleting {}", blob.key.as_str()))?;
        tracing::info!(key = blob.key.as_str(), size = blob.size, "removed an orphaned blob");
        if let KeyOwner::Derived(id) = owner {
            forgotten.push(id);
        }
        report.removed_bytes += blob.size;
        report.removed_blobs.push(blob.key.as_str().to_owned());
    }
    // The derived images of deleted uploads: their rows go with their blobs.
    forgotten.sort();
    forgotten.dedup();
    for id in forgotten {
        report.forgotten_derived += db.forget_derived_images(&StorageKey::derived_prefix(&id)).await?;
    }
    check_derived(db, &kept_derived, checked_at, report).await
}

/// The derived images of live uploads, against their rows (which this stamps as checked, so
/// that [`sweep`] can forget the rows whose blob it never saw): a blob without a row (written
/// before sizes were kept, or a crash fell between the blob and its row) gets one, as used when
/// written, so the cache counts it; a row with another size, or left `rendering` by a node that
/// died after storing the blob, is corrected.
async fn check_derived(db: &Db, blobs: &[ListedBlob], checked_at: i64, report: &mut SweepReport) -> anyhow::Result<()> {
    let keys: Vec<String> = blobs.iter().map(|blob| blob.key.as_str().to_owned()).collect();
    let rows: HashMap<String, _> = db
        .check_listed_derived_images(&keys, checked_at)
        .await?
        .into_iter()
        .map(|row| (row.key.clone(), row))
        .collect();
    for blob in blobs {
        let (key, size) = (blob.key.as_str(), i64::try_from(blob.size).unwrap_or(i64::MAX));
        match rows.get(key) {
            None => db.adopt_derived_image(key, size, blob.last_modified_ms, checked_at).await?,
            Some(row) if row.size != size || (row.state != "stored" && row.locked_until < checked_at) => {
                db.settle_derived_image(key, size, checked_at).await?;
            }
            Some(_) => continue,
        }
        tracing::info!(key, size, "recorded a derived image found in the store");
        report.recorded_derived += 1;
    }
    Ok(())
}

/// Removes the files in `dir` (a scratch directory, flat) last modified before `cutoff` (all
/// with `None`).
async fn remove_scratch_files(dir: &Path, cutoff: Option<SystemTime>) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(error) => return Err(error).with_context(|| format!("reading {}", dir.display())),
    };
    while let Some(entry) = entries.next_entry().await? {
        let Ok(metadata) = entry.metadata().await else { continue };
        let stale = cutoff.is_none_or(|cutoff| metadata.modified().is_ok_and(|modified| modified < cutoff));
        if metadata.is_dir() && stale {
            // A transcode's scratch directory: new files touch it while ffmpeg writes them.
            match tokio::fs::remove_dir_all(entry.path()).await {
                Ok(()) => removed.push(entry.path()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).with_context(|| format!("removing {}", entry.path().display())),
            }
        } else if metadata.is_file() && stale {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed.push(entry.path()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).with_context(|| format!("removing {}", entry.path().display())),
            }
        }
    }
    Ok(removed)
}

/// What the server's periodic sweep works on, and how often.
pub struct Sweeper {
    db: Db,
    storage: Storage,
    scratch_dirs: Vec<PathBuf>,
    interval: Duration,
    grace: Duration,
}

impl Sweeper {
    /// The sweep of a server on `db` and `storage`, paced by `config`.
    pub fn new(db: Db, storage: Storage, config: &Config) -> Self {
        Sweeper {
            db,
            storage,
            scratch_dirs: scratch_dirs(config),
            interval: Duration::from_secs(config.cleanup_interval_secs),
            grace: Duration::from_secs(config.cleanup_grace_secs),
        }
    }
}

/// Starts the server's cleanup: removes every temporary file now, before the server takes
/// requests (they are a killed earlier run's: the scratch directory and the local store belong to
/// one node, and this process has written none yet; its own remove themselves), then sweeps the
/// blobs in the background at once and every `cleanup_interval_secs` until `stop` turns true.
pub async fn start(sweeper: Sweeper, stop: watch::Receiver<bool>) {
    match remove_temp_files(&sweeper.storage, &sweeper.scratch_dirs, None).await {
        Ok(removed) if removed.is_empty() => {}
        Ok(removed) => tracing::info!(count = removed.len(), "removed temporary files left by an earlier run"),
        Err(error) => tracing::warn!("cannot remove old temporary files: {error:#}"),
    }
    if !sweeper.interval.is_zero() {
        tokio::spawn(run_periodically(sweeper, stop));
    }
}

async fn run_periodically(sweeper: Sweeper, mut stop: watch::Receiver<bool>) {
    loop {
        match sweep(&sweeper.db, &sweeper.storage, sweeper.grace).await {
            Ok(report) if report.removed_blobs.is_empty() => {
                tracing::debug!(listed = report.listed, "cleanup: nothing to remove");
            }
            Ok(report) => tracing::info!(
                listed = report.listed,
                blobs = report.removed_blobs.len(),
                bytes = report.removed_bytes,
                "cleanup: removed orphaned blobs"
            ),
            Err(error) => tracing::warn!("cleanup sweep failed: {error:#}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(sweeper.interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// This node's scratch directories.
fn scratch_dirs(config: &Config) -> Vec<PathBuf> {
    vec![config.data_dir.join("tmp")]
}

/// `assetd cleanup`: one sweep with the configured grace, temporary files older than the grace
/// included; beside a running server or not (with a grace of 0 only while no server writes: it
/// would take in-flight writes for leftovers).
pub async fn run_once(config: &Config) -> anyhow::Result<SweepReport> {
    config.validate()?;
    let storage = Storage::from_config(config).context("opening the file store")?;
    let db = match &config.database_url {
        Some(url) => Db::open_postgres(url, &config.database_schema, &config.locales)
            .await
            .context("opening the PostgreSQL database")?,
        None => Db::open_sqlite(&config.data_dir.join("assetd.db"), &config.locales)
            .await
            .context("opening the database")?,
    };
    let grace = Duration::from_secs(config.cleanup_grace_secs);
    let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let swept = async {
        let temp_files = remove_temp_files(&storage, &scratch_dirs(config), Some(cutoff)).await?;
        let mut report = sweep(&db, &storage, grace).await?;
        report.removed_temp_files = temp_files;
        anyhow::Ok(report)
    }
    .await;
    db.close().await;
    swept
}
