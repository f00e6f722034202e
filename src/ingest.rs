//! The ingest workflow: read a stored file once (md5 and size while streaming), sniff its type
//! from its bytes, and probe what the type allows (dimensions, hashes, colours, duration).
//! Reads through `storage`, probes with `media` and `imaging`; writes nothing to `db` (the
//! upload workflow stores what it learns).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Semaphore,
};

use crate::{
    db::FileFacts,
    domain::CmaError,
    media::{self, MediaKind, Sniffed, SNIFF_LEN},
    storage::{Storage, StorageError, StorageKey, TempFile},
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file itself is the problem (missing, corrupt): the client's mistake, answered with a 4xx.
    #[error("{0}")]
    Rejected(CmaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<std::io::Error> for IngestError {
    fn from(error: std::io::Error) -> Self {
        IngestError::Internal(error.into())
    }
}

/// What ingest needs besides the blob.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// Scratch space for copies of remote blobs.
    pub temp_dir: PathBuf,
    pub ffprobe: String,
    /// Bounds the CPU- and memory-heavy probes running at once (an image decode may take 512 MiB).
    pub probe_slots: Arc<Semaphore>,
    /// Remove the GPS position from JPEG originals before they are stored for good.
    pub strip_location: bool,
}

impl IngestSettings {
    pub fn new(temp_dir: PathBuf, ffprobe: String) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        IngestSettings { temp_dir, ffprobe, probe_slots: Arc::new(Semaphore::new(cores)), strip_location: false }
    }
}

/// Computes every file fact of the blob at `key`.
pub async fn inspect_blob(
    storage: &Storage,
    settings: &IngestSettings,
    key: &StorageKey,
) -> Result<FileFacts, IngestError> {
    let mut local = LocalCopy::obtain(storage, settings, key).await?;
    let mut sniffed = media::sniff(&local.head);
    if settings.strip_location && sniffed.mime_type == "image/jpeg" {
        if let Some(stripped) = strip_location(storage, settings, key, &local.path).await? {
            local = stripped;
            sniffed = media::sniff(&local.head);
        }
    }
    let mut facts = FileFacts {
        blob_key: key.as_str().to_owned(),
        size: i64::try_from(local.size).unwrap_or(i64::MAX),
        md5: local.md5.clone(),
        mime_type: sniffed.mime_type.clone(),
        sniffed_format: sniffed.format.clone(),
        is_image: sniffed.kind == MediaKind::Image,
        width: None,
        height: None,
        duration: None,
        frame_rate: None,
        blurhash: None,
        thumbhash: None,
        exif_info: json!({}),
        colors: json!([]),
    };
    let _slot = settings.probe_slots.acquire().await.map_err(|e| anyhow::anyhow!("probe slots closed: {e}"))?;
    match sniffed.kind {
        MediaKind::Image if facts.mime_type == "image/svg+xml" => probe_svg_into(&mut facts, settings, &local).await?,
        MediaKind::Image => probe_image_into(&mut facts, local.path.clone()).await?,
        MediaKind::Video | MediaKind::Audio => probe_av_into(&mut facts, &local.path, &settings.ffprobe).await?,
        MediaKind::Pdf | MediaKind::Other => {}
    }
    Ok(facts)
}

/// Replaces the JPEG blob at `key` with a copy without its location, when it has one. Called
/// before the upload's row points at the blob (create, new version), so nobody has read it yet;
/// the write replaces it atomically, and a retried job finds nothing left to strip.
async fn strip_location(
    storage: &Storage,
    settings: &IngestSettings,
    key: &StorageKey,
    source: &Path,
) -> Result<Option<LocalCopy>, IngestError> {
    tokio::fs::create_dir_all(&settings.temp_dir).await?;
    let temp = TempFile::new(settings.temp_dir.join(format!("strip-{}", crate::domain::new_opaque_id())));
    let (source, target) = (source.to_path_buf(), temp.path().to_path_buf());
    let stripped = tokio::task::spawn_blocking(move || media::location_strip::strip_jpeg_location(&source, &target))
        .await
        .map_err(|e| anyhow::anyhow!("location strip task failed: {e}"))??;
    if !stripped {
        return Ok(None);
    }
    // One pass: the stripped copy is hashed while it streams into the store.
    let mut digest = StreamDigest::default();
    let file = tokio::fs::File::open(temp.path()).await?;
    let stream = tokio_util::io::ReaderStream::new(file).inspect(|chunk| {
        if let Ok(chunk) = chunk {
            digest.update(chunk);
        }
    });
    storage.put_stream(key, stream, u64::MAX).await?;
    let copy = digest.finish(temp.path().to_path_buf(), Some(temp));
    tracing::info!(key = key.as_str(), "removed the GPS position from a JPEG original");
    Ok(Some(copy))
}

/// Sniffs the type of a stored blob from its first bytes (cheap: one ranged read).
pub async fn sniff_blob(storage: &Storage, key: &StorageKey) -> Result<Sniffed, StorageError> {
    let size = storage.size(key).await?;
    if size == 0 {
        return Ok(media::sniff(&[]));
    }
    let read = storage.get(key, Some(0..size.min(SNIFF_LEN as u64))).await?;
    let mut head = Vec::with_capacity(size.min(SNIFF_LEN as u64) as usize);
    let mut stream = read.stream;
    while let Some(chunk) = stream.next().await {
        head.extend_from_slice(&chunk?);
    }
    Ok(media::sniff(&head))
}

async fn probe_image_into(facts: &mut FileFacts, path: PathBuf) -> Result<(), IngestError> {
    let path_for_vips = path.clone();
    let (probed, exif) = tokio::task::spawn_blocking(move || (media::probe_image(&path), media::read_exif(&path)))
        .await
        .map_err(|e| anyhow::anyhow!("image probe task failed: {e}"))?;
    facts.exif_info = exif;
    match probed {
        Ok(_) if is_damaged(&facts.mime_type, &path_for_vips).await? => {
            // Kept as the file it is (served as uploaded: browsers show what decodes), but not
            // listed as an image, since every transform of it would answer 422.
            facts.is_image = false;
            Ok(())
        }
        Ok(image) => {
            facts.width = Some(i64::from(image.width));
            facts.height = Some(i64::from(image.height));
            facts.blurhash = image.blurhash;
            facts.thumbhash = image.thumbhash;
            facts.colors = serde_json::to_value(&image.colors).unwrap_or_else(|_| json!([]));
            Ok(())
        }
        // SVG, HEIC, AVIF: libvips reads what the `image` crate cannot.
        Err(media::MediaError::Unsupported) => probe_with_libvips(facts, path_for_vips).await,
        Err(error) if error.is_client_error() => Err(IngestError::Rejected(not_readable(&facts.mime_type, &error))),
        Err(error) => Err(IngestError::Internal(anyhow::anyhow!("probing an image: {error}"))),
    }
}

/// Whether a raster image that the `image` crate decoded is refused by the transform pipeline: it
/// opens files with `fail_on=truncated` (libvips), while the `image` crate fills a truncated JPEG
/// with grey. Checked by rendering an 8-pixel-wide thumbnail the way a transform would, so the
/// listing and the transforms agree; a damaged file is logged with what libvips said.
async fn is_damaged(mime: &str, path: &Path) -> Result<bool, IngestError> {
    if !crate::imaging::can_transform(mime) {
        return Ok(false);
    }
    let (mime, path) = (mime.to_owned(), path.to_path_buf());
    let rendered = tokio::task::spawn_blocking(move || {
        use crate::imaging::{pipeline, Limits, OutputFormat, TransformParams};
        let params = TransformParams::parse("w=8").ok().flatten().unwrap_or_default();
        let recipe = pipeline::Recipe { params, format: Some(OutputFormat::Png), focal_point: (0.5, 0.5) };
        let limits = Limits {
            max_input_pixels: media::image_facts::MAX_DECODE_PIXELS,
            max_output_pixels: 64 * 64,
            max_upscale: 0.0,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        pipeline::plan(&path, &mime, &recipe, &limits)
            .and_then(|planned| pipeline::render(&path, &planned, deadline))
            .map(|_| ())
            .map_err(|e| (mime, e))
    })
    .await
    .map_err(|e| anyhow::anyhow!("image check task failed: {e}"))?;
    match rendered {
        Ok(()) => Ok(false),
        Err((mime, crate::imaging::TransformError::Decode(error))) => {
            tracing::warn!(%mime, %error, "damaged image (truncated or corrupt): kept as a file, not as an image");
            Ok(true)
        }
        // Too large or too slow to check here: its facts stand; transforms say so themselves.
        Err((mime, error)) => {
            tracing::debug!(%mime, %error, "image not checked by the transform pipeline");
            Ok(false)
        }
    }
}

/// An SVG's facts come from its sanitised copy, the one that is served: libvips (librsvg) then
/// never reads the upload's DOCTYPE, entities or external references, and a long prolog, which
/// libvips' sniffing would miss, is gone. An SVG that cannot be sanitised (served as a download)
/// has no facts.
async fn probe_svg_into(
    facts: &mut FileFacts,
    settings: &IngestSettings,
    local: &LocalCopy,
) -> Result<(), IngestError> {
    if local.size > crate::imaging::MAX_SANITIZED_SVG_BYTES as u64 {
        return Ok(());
    }
    let svg = tokio::fs::read(&local.path).await?;
    let sanitized = tokio::task::spawn_blocking(move || media::sanitize_svg(&svg))
        .await
        .map_err(|e| anyhow::anyhow!("SVG sanitiser task failed: {e}"))?;
    let sanitized = match sanitized {
        Ok(sanitized) => sanitized,
        Err(error) => {
            tracing::info!(%error, "SVG facts unavailable: it is served as a download");
            return Ok(());
        }
    };
    tokio::fs::create_dir_all(&settings.temp_dir).await?;
    let copy = TempFile::new(settings.temp_dir.join(format!("svg-{}.svg", crate::domain::new_opaque_id())));
    tokio::fs::write(copy.path(), sanitized).await?;
    probe_with_libvips(facts, copy.path().to_path_buf()).await
}

async fn probe_with_libvips(facts: &mut FileFacts, path: PathBuf) -> Result<(), IngestError> {
    let probed = tokio::task::spawn_blocking(move || {
        crate::imaging::probe(&path, media::image_facts::THUMB_MAX_SIDE, media::image_facts::MAX_DECODE_PIXELS)
    })
    .await
    .map_err(|e| anyhow::anyhow!("image probe task failed: {e}"))?;
    match probed {
        Ok(probed) => {
            facts.width = Some(i64::from(probed.width));
            facts.height = Some(i64::from(probed.height));
            if let Some(thumb) = probed.thumbnail {
                let image = media::facts_from_thumbnail(probed.width, probed.height, &thumb);
                facts.blurhash = image.blurhash;
                facts.thumbhash = image.thumbhash;
                facts.colors = serde_json::to_value(&image.colors).unwrap_or_else(|_| json!([]));
            }
            Ok(())
        }
        // The sniffer recognised the type but the file does not decode: keep it, without facts,
        // as before libvips (it is served as uploaded; transforms answer 422).
        Err(error) => {
            tracing::info!(%error, mime = %facts.mime_type, "image facts unavailable");
            Ok(())
        }
    }
}

async fn probe_av_into(facts: &mut FileFacts, path: &Path, ffprobe: &str) -> Result<(), IngestError> {
    match media::probe_av(path, ffprobe).await {
        Ok(av) => {
            facts.duration = av.duration;
            facts.frame_rate = av.frame_rate;
            facts.width = av.width.map(i64::from);
            facts.height = av.height.map(i64::from);
            Ok(())
        }
        Err(error) if error.is_client_error() => Err(IngestError::Rejected(not_readable(&facts.mime_type, &error))),
        Err(error) => {
            // A missing or broken ffprobe is our problem, not the file's: keep the upload, log it.
            tracing::warn!(%error, "cannot probe audio/video; duration and frame rate stay null");
            Ok(())
        }
    }
}

fn not_readable(mime_type: &str, error: &media::MediaError) -> CmaError {
    CmaError::invalid_field(
        "path",
        "INVALID_FILE",
        format!("the file looks like {mime_type} but cannot be read: {error}"),
    )
}

/// The blob as a local file plus what one streaming pass over it computed.
struct LocalCopy {
    path: PathBuf,
    md5: String,
    size: u64,
    head: Vec<u8>,
    /// Removed on drop when the blob had to be copied from a remote store.
    _temp: Option<TempFile>,
}

impl LocalCopy {
    async fn obtain(storage: &Storage, settings: &IngestSettings, key: &StorageKey) -> Result<LocalCopy, IngestError> {
        if let Some(path) = storage.local_file(key) {
            return match tokio::fs::File::open(&path).await {
                Ok(file) => Self::hash_local(path, file).await,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err(StorageError::NotFound(key.as_str().to_owned()).into())
                }
                Err(error) => Err(error.into()),
            };
        }
        Self::download(storage, settings, key).await
    }

    async fn hash_local(path: PathBuf, mut file: tokio::fs::File) -> Result<LocalCopy, IngestError> {
        let mut digest = StreamDigest::default();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            digest.update(&buffer[..n]);
        }
        Ok(digest.finish(path, None))
    }

    async fn download(
        storage: &Storage,
        settings: &IngestSettings,
        key: &StorageKey,
    ) -> Result<LocalCopy, IngestError> {
        tokio::fs::create_dir_all(&settings.temp_dir).await?;
        let temp = TempFile::new(settings.temp_dir.join(format!("ingest-{}", crate::domain::new_opaque_id())));
        let mut file = tokio::fs::File::create(temp.path()).await?;
        let mut digest = StreamDigest::default();
        let mut stream = storage.get(key, None).await?.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            digest.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        let path = temp.path().to_path_buf();
        Ok(digest.finish(path, Some(temp)))
    }
}

#[derive(Default)]
struct StreamDigest {
    md5: Md5,
    size: u64,
    head: Vec<u8>,
}

impl StreamDigest {
    fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
    }

    fn finish(self, path: PathBuf, temp: Option<TempFile>) -> LocalCopy {
        let md5 = self.md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
        LocalCopy { path, md5, size: self.size, head: self.head, _temp: temp }
    }
}
