//! Blob storage behind one small interface (object_store: local disk, an S3-compatible bucket,
//! memory in tests). Only this module builds storage keys; none derives from client input.
//!
//! A file that an upload (or an upload request that was taken) points at is never written again by
//! a client. The direct PUT (local disk) streams into a fresh key of its own, which becomes the
//! request's file only through the database. With S3, clients PUT files straight to the bucket
//! through presigned URLs that target a staging key ([`StorageKey::incoming`]);
//! [`Storage::take_presigned_upload`] copies the file to a fresh key, so nothing a client PUTs
//! later can change a file that already belongs to an upload. Uses only `config`, `domain` and
//! `metrics`: it stores bytes under keys and knows nothing of uploads' rows.

mod listing;
mod s3;
#[cfg(test)]
mod s3_tests;

use std::{ops::Range, path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{stream::BoxStream, Stream, StreamExt, TryStreamExt};
use object_store::{
    local::LocalFileSystem, memory::InMemory, path::Path as ObjectPath, GetOptions, GetRange, ObjectStore,
    WriteMultipart,
};

use crate::{config::Config, domain::new_opaque_id, metrics::StorageMetrics};

pub use listing::{KeyOwner, ListedBlob, SWEPT_PREFIXES};

/// Size of the parts a streamed write is cut into; at most a few are in memory at once.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts being written concurrently by one streamed write.
const PARTS_IN_FLIGHT: usize = 2;

/// Where a blob lives. Built only here: from a fresh random id, or from a key we stored earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKey(String);

/// The folder of a text track under a video's prefix starts so (generations are opaque ids,
/// which never do).
const TRACK_FOLDER_PREFIX: &str = "track-";

impl StorageKey {
    /// A fresh key for an original file.
    pub fn new_original() -> Self {
        StorageKey(format!("originals/{}", new_opaque_id()))
    }

    /// The key of a derived image (a transform result) of upload `upload_id`; `digest` names the
    /// content and parameters it was made from. All of an upload's derived images share a prefix,
    /// see [`StorageKey::derived_prefix`].
    pub fn derived(upload_id: &str, digest: &str) -> Self {
        StorageKey(format!("{}{digest}", Self::derived_prefix(upload_id)))
    }

    /// The prefix under which every derived image of `upload_id` lives.
    pub fn derived_prefix(upload_id: &str) -> String {
        format!("derived/{upload_id}/")
    }

    /// A file of a video's stream outputs: `file` (a name the transcode chose, such as
    /// `720p/seg_00003.m4s` or `high.mp4`) of generation `generation` of upload `upload_id`.
    /// Every generation has a prefix of its own ([`StorageKey::video_generation_prefix`]) so
    /// that a new one is written beside the one being served, which then goes whole.
    pub fn video_file(upload_id: &str, generation: &str, file: &str) -> Self {
        debug_assert!(
            !file.is_empty() && !file.contains("..") && !file.starts_with('/'),
            "video output names are relative: {file}"
        );
        StorageKey(format!("{}{file}", Self::video_generation_prefix(upload_id, generation)))
    }

    /// The prefix of one generation of upload `upload_id`'s stream outputs.
    pub fn video_generation_prefix(upload_id: &str, generation: &str) -> String {
        format!("{}{generation}/", Self::video_prefix(upload_id))
    }

    /// The WebVTT of text track `track_id` of upload `upload_id`, beside its stream's
    /// generations (`video/<upload id>/track-<track id>/subtitles.vtt`), so that deleting the
    /// upload's stream prefix deletes its tracks too.
    pub fn video_track(upload_id: &str, track_id: &str) -> Self {
        StorageKey::video_file(upload_id, &format!("{TRACK_FOLDER_PREFIX}{track_id}"), "subtitles.vtt")
    }

    /// The prefix under which every generation of upload `upload_id`'s stream outputs lives.
    pub fn video_prefix(upload_id: &str) -> String {
        format!("video/{upload_id}/")
    }

    /// The prefix of text track `track_id`'s files.
    pub fn video_track_prefix(upload_id: &str, track_id: &str) -> String {
        Self::video_generation_prefix(upload_id, &format!("{TRACK_FOLDER_PREFIX}{track_id}"))
    }

    /// A key read back from the database.
    pub fn from_stored(key: &str) -> Self {
        StorageKey(key.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where a client's presigned PUT for this key lands until it is taken into place.
    fn incoming(&self) -> StorageKey {
        StorageKey(format!("incoming/{}", self.0))
    }

    fn location(&self) -> ObjectPath {
        ObjectPath::from(self.0.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no blob at {0}")]
    NotFound(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("storage backend: {0}")]
    Backend(#[from] object_store::Error),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage configuration: {0}")]
    Config(String),
}

impl StorageError {
    /// A failure of the store (I/O, the backend), as opposed to an answer about the request
    /// (not found, too large, the client's body broke off).
    pub fn is_store_failure(&self) -> bool {
        matches!(self, StorageError::Io(_) | StorageError::Backend(_)) && !self.is_not_found()
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound(_) | StorageError::Backend(object_store::Error::NotFound { .. }))
    }
}

/// A blob being read: its total size and a stream of the requested bytes.
pub struct BlobRead {
    pub total_size: u64,
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

/// The blob store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Set for the local-disk backend, whose files can be read in place.
    local: Option<Arc<LocalFileSystem>>,
    /// The local backend's directory, where interrupted writes leave staging files.
    local_root: Option<PathBuf>,
    /// Set for S3: signs the URLs clients PUT files to.
    presigner: Option<s3::Presigner>,
    /// Failures counted for `/metrics` (shared by every clone).
    metrics: StorageMetrics,
}

impl Storage {
    /// The backend the configuration names: the S3 bucket of `storage_url` when set, else files
    /// under `data_dir/files`.
    pub fn from_config(config: &Config) -> Result<Self, StorageError> {
        match &config.storage_url {
            Some(url) => Self::s3(url),
            None => Self::local(config.data_dir.join("files")),
        }
    }

    /// An S3-compatible bucket: `s3://bucket[/prefix]?endpoint=http://host:port&region=us-east-1`.
    /// Credentials come from the usual `AWS_*` variables; requests are path-style.
    pub fn s3(url: &str) -> Result<Self, StorageError> {
        let s3::S3Store { store, presigner } = s3::connect(url)?;
        Ok(Storage {
            store,
            local: None,
            local_root: None,
            presigner: Some(presigner),
            metrics: StorageMetrics::default(),
        })
    }

    /// Files under `root` on local disk. Writes go to a temporary file renamed into place when
    /// complete, so a half-written blob is never visible.
    pub fn local(root: PathBuf) -> Result<Self, StorageError> {
        std::fs::create_dir_all(&root)?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(&root)?);
        Ok(Storage {
            store: local.clone(),
            local: Some(local),
            local_root: Some(root),
            presigner: None,
            metrics: StorageMetrics::default(),
        })
    }

    /// Blobs in memory (tests).
    pub fn in_memory() -> Self {
        Storage {
            store: Arc::new(InMemory::new()),
            local: None,
            local_root: None,
            presigner: None,
            metrics: StorageMetrics::default(),
        }
    }

    /// The store's failure counters, for the `/metrics` registry.
    pub fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Counts `result` if it is a failure of the store itself (see [`StorageError::is_store_failure`]).
    fn observe<T>(&self, operation: &'static str, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(error) = &result {
            if error.is_store_failure() {
                self.metrics.record_error(operation);
            }
        }
        result
    }

    /// True when clients upload straight to the backend (S3) rather than through assetd.
    pub fn takes_direct_uploads(&self) -> bool {
        self.presigner.is_some()
    }

    /// A URL a client can PUT the file for `key` to without credentials, valid for `expires_in`:
    /// `Some` for S3, `None` when files have to go through assetd. Once PUT, the file becomes a
    /// blob only through [`Storage::take_presigned_upload`].
    pub async fn presigned_put_url(
        &self,
        key: &StorageKey,
        expires_in: Duration,
    ) -> Result<Option<String>, StorageError> {
        let result: Result<_, StorageError> = async {
            match &self.presigner {
                Some(presigner) => Ok(Some(presigner.put_url(&key.incoming().location(), expires_in).await?)),
                None => Ok(None),
            }
        }
        .await;
        self.observe("sign", result)
    }

    /// Copies what a client PUT to the presigned URL of `key` to a fresh key, which no client can
    /// write, and returns that key and its size: the caller records it as the request's file (or
    /// deletes it when another call recorded its own first), then drops the staging copy with
    /// [`Storage::discard_presigned_upload`]. `NotFound` when nothing was PUT (or a concurrent
    /// call took it and dropped the staging copy); `TooLarge` (and both copies deleted, so the
    /// client may PUT a smaller file) past `max_size`. The size is checked on the copy, so a PUT
    /// racing with this call cannot slip a larger file past the limit, and whatever a client PUTs
    /// afterwards only replaces the staging copy. The copy is server-side (S3 copies at most 5 GiB
    /// in one request).
    pub async fn take_presigned_upload(
        &self,
        key: &StorageKey,
        max_size: u64,
    ) -> Result<(StorageKey, u64), StorageError> {
        let result: Result<_, StorageError> = async {
            let incoming = key.incoming();
            let staged = self.store.head(&incoming.location()).await.map_err(|e| not_found(e, &incoming))?;
            if staged.size > max_size {
                self.delete(&incoming).await?;
                return Err(StorageError::TooLarge { limit: max_size });
            }
            let taken = StorageKey::new_original();
            self.store.copy(&incoming.location(), &taken.location()).await.map_err(|e| not_found(e, &incoming))?;
            let size = self.size(&taken).await?;
            if size > max_size {
                self.delete(&taken).await?;
                self.delete(&incoming).await?;
                return Err(StorageError::TooLarge { limit: max_size });
            }
            Ok((taken, size))
        }
        .await;
        self.observe("copy", result)
    }

    /// Deletes what clients PUT to the presigned URL of `key` (once the file was taken, any later
    /// PUT there is garbage; the sweep removes what this misses).
    pub async fn discard_presigned_upload(&self, key: &StorageKey) -> Result<(), StorageError> {
        self.delete(&key.incoming()).await
    }

    /// Streams `body` into `key`, failing with `TooLarge` past `max_size` bytes. Returns the size.
    /// On any failure nothing is stored.
    pub async fn put_stream<S, E>(&self, key: &StorageKey, body: S, max_size: u64) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let result: Result<_, StorageError> = async {
            let upload = self.store.put_multipart(&key.location()).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut size: u64 = 0;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let failure = match chunk {
                    Ok(chunk) => {
                        size += chunk.len() as u64;
                        if size > max_size {
                            Some(StorageError::TooLarge { limit: max_size })
                        } else if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                            Some(error.into())
                        } else {
                            writer.write(&chunk);
                            None
                        }
                    }
                    Err(error) => Some(StorageError::Body(error.to_string())),
                };
                if let Some(failure) = failure {
                    if let Err(error) = writer.abort().await {
                        tracing::warn!(%error, key = key.as_str(), "aborting a failed write");
                    }
                    return Err(failure);
                }
            }
            writer.finish().await?;
            Ok(size)
        }
        .await;
        self.observe("put", result)
    }

    /// Streams the local file at `path` into `key` (a transcode's outputs). Returns the size.
    pub async fn put_file(&self, key: &StorageKey, path: &std::path::Path) -> Result<u64, StorageError> {
        let file = tokio::fs::File::open(path).await?;
        let body = tokio_util::io::ReaderStream::with_capacity(file, STREAM_PIECE);
        self.put_stream(key, body, u64::MAX).await
    }

    /// Answers when the store does (readiness): a missing probe object is an answer too.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            match self.store.head(&ObjectPath::from("readiness-probe")).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(error.into()),
            }
        }
        .await;
        self.observe("head", result)
    }

    /// Stores a small blob written in one piece (a derived image), replacing any previous one.
    pub async fn put_bytes(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            self.store.put(&key.location(), bytes.into()).await?;
            Ok(())
        }
        .await;
        self.observe("put", result)
    }

    /// Deletes every blob whose key starts with `prefix`; returns how many were deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let result: Result<_, StorageError> = async {
            let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
            let locations = self.store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
            let deleted: Vec<ObjectPath> = self.store.delete_stream(locations).try_collect().await?;
            Ok(deleted.len())
        }
        .await;
        self.observe("delete", result)
    }

    /// How many blobs have keys starting with `prefix`.
    pub async fn count_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let result: Result<_, StorageError> = async {
            let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
            let count = self.store.list(Some(&prefix)).try_fold(0, |n, _| async move { Ok(n + 1) }).await?;
            Ok(count)
        }
        .await;
        self.observe("list", result)
    }

    /// The blob at `key` as a local file, for tools that need a path: the stored file itself on
    /// local disk, otherwise a streamed copy under `tmp_dir`, removed when the result is dropped.
    pub async fn local_blob(&self, key: &StorageKey, tmp_dir: &std::path::Path) -> Result<LocalBlob, StorageError> {
        let result: Result<_, StorageError> = async {
            if let Some(path) = self.local_file(key) {
                return match tokio::fs::metadata(&path).await {
                    Ok(_) => Ok(LocalBlob { path, _copy: None }),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        Err(StorageError::NotFound(key.as_str().to_owned()))
                    }
                    Err(error) => Err(error.into()),
                };
            }
            let copy = TempFile::new(tmp_dir.join(format!("blob-{}", new_opaque_id())));
            let mut file = tokio::fs::File::create(copy.path()).await?;
            let mut stream = self.get(key, None).await?.stream;
            while let Some(chunk) = stream.next().await {
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await?;
            Ok(LocalBlob { path: copy.path().to_path_buf(), _copy: Some(copy) })
        }
        .await;
        self.observe("get", result)
    }

    /// Reads `key`, all of it or the byte range given.
    pub async fn get(&self, key: &StorageKey, range: Option<Range<u64>>) -> Result<BlobRead, StorageError> {
        let result: Result<_, StorageError> = async {
            if let Some(path) = self.local_file(key) {
                return read_local(path, range, key).await;
            }
            let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
            let result = self.store.get_opts(&key.location(), options).await.map_err(|e| not_found(e, key))?;
            let total_size = result.meta.size;
            let metrics = self.metrics.clone();
            let stream = result
                .into_stream()
                .map_err(move |error| {
                    metrics.record_error("read");
                    StorageError::from(error)
                })
                .boxed();
            Ok(BlobRead { total_size, stream })
        }
        .await;
        self.observe("get", result)
    }

    /// The blob's size, or `NotFound`.
    pub async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        let result: Result<_, StorageError> = async {
            let meta = self.store.head(&key.location()).await.map_err(|e| not_found(e, key))?;
            Ok(meta.size)
        }
        .await;
        self.observe("head", result)
    }

    /// Deletes `key`; a blob that is already gone is not an error.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            match self.store.delete(&key.location()).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(error.into()),
            }
        }
        .await;
        self.observe("delete", result)
    }

    /// The file holding `key` when the backend is local disk (so probes can read it in place).
    pub fn local_file(&self, key: &StorageKey) -> Option<PathBuf> {
        self.local.as_ref().and_then(|local| local.path_to_filesystem(&key.location()).ok())
    }
}

/// A blob as a local file (see [`Storage::local_blob`]).
pub struct LocalBlob {
    path: PathBuf,
    _copy: Option<TempFile>,
}

impl LocalBlob {
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// A scratch file, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        TempFile(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.0) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, path = %self.0.display(), "cannot remove a temporary file");
            }
        }
    }
}

/// Reads of at most this many bytes are answered in one piece, with one trip to the blocking pool.
const SMALL_READ: u64 = 1024 * 1024;
/// Larger reads stream in pieces of this size.
const STREAM_PIECE: usize = 256 * 1024;

/// What the blocking half of [`read_local`] found: the file's size, the range to send, and the
/// bytes themselves (small reads) or the file positioned at the range's start.
type LocalRead = (u64, Range<u64>, Result<Vec<u8>, std::fs::File>);

/// A local file read without object_store's 8 KiB pieces (one blocking-pool trip each): small
/// blobs (derived images, most originals) in one read, large ones in 256 KiB pieces.
async fn read_local(path: PathBuf, range: Option<Range<u64>>, key: &StorageKey) -> Result<BlobRead, StorageError> {
    use std::io::{Read, Seek, SeekFrom};
    let opened = tokio::task::spawn_blocking(move || -> std::io::Result<LocalRead> {
        let mut file = std::fs::File::open(&path)?;
        let total = file.metadata()?.len();
        let range = range.map_or(0..total, |r| r.start.min(total)..r.end.min(total));
        file.seek(SeekFrom::Start(range.start))?;
        let len = range.end - range.start;
        if len <= SMALL_READ {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(len).read_to_end(&mut bytes)?;
            return Ok((total, range, Ok(bytes)));
        }
        Ok((total, range, Err(file)))
    })
    .await
    .map_err(|e| StorageError::Io(std::io::Error::other(e)))?;
    let (total_size, range, content) = match opened {
        Ok(opened) => opened,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(StorageError::NotFound(key.as_str().to_owned()))
        }
        Err(error) => return Err(error.into()),
    };
    let stream = match content {
        Ok(bytes) => futures_util::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed(),
        Err(file) => {
            let file = tokio::io::AsyncReadExt::take(tokio::fs::File::from_std(file), range.end - range.start);
            tokio_util::io::ReaderStream::with_capacity(file, STREAM_PIECE).map_err(StorageError::Io).boxed()
        }
    };
    Ok(BlobRead { total_size, stream })
}

fn not_found(error: object_store::Error, key: &StorageKey) -> StorageError {
    match error {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.as_str().to_owned()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    async fn read_all(storage: &Storage, key: &StorageKey, range: Option<Range<u64>>) -> Vec<u8> {
        let read = storage.get(key, range).await.unwrap();
        let parts: Vec<Bytes> = read.stream.try_collect().await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn local_round_trip_with_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path().to_path_buf()).unwrap();
        let key = StorageKey::new_original();
        let size = storage.put_stream(&key, chunks(&[b"hello ", b"world"]), 100).await.unwrap();
        assert_eq!(size, 11);
        assert_eq!(read_all(&storage, &key, None).await, b"hello world");
        assert_eq!(read_all(&storage, &key, Some(6..11)).await, b"world");
        assert_eq!(storage.size(&key).await.unwrap(), 11);
        let file = storage.local_file(&key).unwrap();
        assert_eq!(std::fs::read(file).unwrap(), b"hello world");
        storage.delete(&key).await.unwrap();
        assert!(storage.size(&key).await.unwrap_err().is_not_found());
        storage.delete(&key).await.unwrap();
    }

    #[tokio::test]
    async fn large_local_reads_stream_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path().to_path_buf()).unwrap();
        let key = StorageKey::new_original();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let body = futures_util::stream::iter(
            data.chunks(100_000).map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
        );
        storage.put_stream(&key, body, u64::MAX).await.unwrap();
        let read = storage.get(&key, None).await.unwrap();
        assert_eq!(read.total_size, 3_000_000);
        let pieces: Vec<Bytes> = read.stream.try_collect().await.unwrap();
        assert!(pieces.len() > 1 && pieces.iter().all(|p| p.len() <= STREAM_PIECE));
        assert_eq!(pieces.concat(), data);
        assert_eq!(read_all(&storage, &key, Some(1_000_000..2_500_000)).await, data[1_000_000..2_500_000]);
        assert!(storage.get(&StorageKey::new_original(), None).await.err().unwrap().is_not_found());
    }

    #[tokio::test]
    async fn oversized_writes_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path().to_path_buf()).unwrap();
        let key = StorageKey::new_original();
        let error = storage.put_stream(&key, chunks(&[b"12345", b"67890"]), 7).await.unwrap_err();
        assert!(matches!(error, StorageError::TooLarge { limit: 7 }));
        assert!(storage.size(&key).await.unwrap_err().is_not_found());
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "staging files left behind: {leftovers:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[tokio::test]
    async fn failing_body_stores_nothing() {
        let storage = Storage::in_memory();
        let key = StorageKey::new_original();
        let body = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("client went away")),
        ]);
        let error = storage.put_stream(&key, body, 100).await.unwrap_err();
        assert!(matches!(error, StorageError::Body(_)));
        assert!(storage.size(&key).await.unwrap_err().is_not_found());
    }
}
