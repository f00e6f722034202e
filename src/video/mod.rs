//! Video streams as Mux serves them: a durable transcode job turns a video upload into an HLS
//! ladder and MP4 renditions stored under the upload's stream keys, and the stream URLs
//! (`crate::api`'s `video_delivery.rs`) serve them by playback id.
//!
//! * [`ladder`] plans the rungs and the MP4 renditions of a source (pure);
//! * [`encoder`] runs ffmpeg (one process for the ladder, a stream copy per MP4);
//! * [`outputs`] describes what a transcode made (the JSON on the upload's row), which files a
//!   stream URL may name, and writes the master playlist;
//! * [`thumbnail`] translates Mux's image API into the image pipeline's parameters (pure);
//! * [`storyboard`] lays out the storyboard and writes its cues; [`animated`] reads Mux's
//!   animated-preview parameters (pure);
//! * [`tracks`] adds a video's subtitle tracks and writes their playlists;
//! * [`subtitle_generation`] makes a track's subtitles with the configured [`speech_to_text`]
//!   command (a [`GenerateSubtitles`] job);
//! * `transcode.rs` makes and stores one generation of outputs.
//!
//! A stream's lifetime follows its upload's file: [`prepare_stream_in`] runs in the upload
//! workflow's transaction (a new upload or version queues a [`TranscodeVideo`] job; keep_url
//! keeps the playback id and serves the old outputs until the new ones are ready), the job
//! records the new generation as served in its own transaction, and superseded generations are
//! deleted after the commit (the orphan sweep removes what a crash leaves).
//!
//! Uses `db`, `storage`, `media`, `queue`, `config` and `domain`; never HTTP, `api`, `jobs` or `app`.

pub mod animated;
pub mod encoder;
pub mod ladder;
pub mod outputs;
pub mod speech_to_text;
pub mod storyboard;
pub mod subtitle_generation;
pub mod thumbnail;
pub mod tracks;
mod transcode;

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use self::{encoder::EncodeSettings, speech_to_text::SpeechToText};
pub use self::{
    ladder::Mp4Rendition,
    outputs::{OutputFile, VideoOutputs, PLAYLIST_CONTENT_TYPE},
    subtitle_generation::GenerateSubtitles,
    transcode::MadeStream,
};
use crate::{
    config::Config,
    db::{Db, DbError, FileFacts, ReadyStream, Tx, UploadRow},
    domain::new_opaque_id,
    queue::{self, Job},
    storage::{Storage, StorageKey},
};

/// The job that makes a video upload's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscodeVideo {
    pub upload_id: String,
    /// The file to transcode: if the upload has another one by the time the job runs, it does
    /// nothing (that file's own job makes its stream).
    pub blob_key: String,
}

impl Job for TranscodeVideo {
    const JOB_NAME: &'static str = "transcode_video";
}

/// Why a transcode did not make a stream.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The file cannot be transcoded (not a video ffmpeg reads, too long, too slow): final, and
    /// shown as the stream's error. The upload stays usable as a file.
    #[error("{0}")]
    Rejected(String),
    /// Passing (storage, the database, ffmpeg killed): the job is retried.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

/// How transcodes run on this node.
#[derive(Debug, Clone)]
pub struct VideoSettings {
    pub encode: EncodeSettings,
    pub ffprobe: String,
    /// Rungs (short-side lines), highest first.
    pub ladder: Vec<u32>,
    pub max_duration_secs: u64,
    /// Transcodes at once.
    pub transcodes: usize,
    /// Where sources are copied (remote storage) and outputs are made.
    pub tmp_dir: PathBuf,
    /// The command that makes subtitles, if one is configured.
    pub speech_to_text: Option<SpeechToText>,
}

impl VideoSettings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(VideoSettings {
            encode: EncodeSettings {
                ffmpeg: config.ffmpeg.clone(),
                preset: config.video_preset.clone(),
                threads: config.video_threads,
                segment_secs: config.video_segment_secs,
                timeout: Duration::from_secs(config.video_transcode_timeout_secs),
            },
            ffprobe: config.ffprobe.clone(),
            ladder: config.video_ladder_lines()?,
            max_duration_secs: config.video_max_duration_secs,
            transcodes: config.video_transcodes.max(1),
            tmp_dir: config.data_dir.join("tmp"),
            speech_to_text: config
                .speech_to_text_argv()?
                .map(|argv| SpeechToText { argv, timeout: Duration::from_secs(config.speech_to_text_timeout_secs) }),
        })
    }
}

/// Makes, records and deletes video streams.
pub struct Transcoder {
    db: Db,
    storage: Storage,
    settings: VideoSettings,
    /// This node's transcode slots.
    slots: Arc<Semaphore>,
}

impl Transcoder {
    pub fn new(db: Db, storage: Storage, settings: VideoSettings) -> Self {
        let slots = Arc::new(Semaphore::new(settings.transcodes));
        Transcoder { db, storage, settings, slots }
    }

    /// Whether one of this node's transcode slots is free now.
    pub fn has_free_slot(&self) -> bool {
        self.slots.available_permits() > 0
    }

    /// Serves `made` from now on, in the job's transaction, if the upload still has the file it
    /// was made of. `None`: it does not (discard `made`); else the generation served until now,
    /// to delete after the commit.
    pub async fn record_ready(&self, tx: &mut Tx, made: &MadeStream) -> Result<Option<Option<String>>, DbError> {
        let outputs = serde_json::to_string(&made.outputs)?;
        let ready = ReadyStream {
            upload_id: &made.upload_id,
            blob_key: &made.blob_key,
            generation: &made.generation,
            outputs: &outputs,
        };
        Db::record_ready_video_stream(tx, &ready).await
    }

    /// Records that `job`'s file cannot be streamed (`message` says why), in the job's transaction.
    pub async fn record_failure(&self, tx: &mut Tx, job: &TranscodeVideo, message: &str) -> Result<(), DbError> {
        if Db::record_failed_video_stream(tx, &job.upload_id, &job.blob_key, message).await? {
            tracing::info!(upload = %job.upload_id, reason = message, "the video's stream could not be made");
        }
        Ok(())
    }

    /// Deletes the outputs of `made` (stored, then not recorded).
    pub async fn discard(&self, made: &MadeStream) {
        delete_generation(&self.storage, &made.upload_id, &made.generation).await;
    }

    /// Deletes one generation of an upload's outputs (superseded by a newer one).
    pub async fn delete_generation(&self, upload_id: &str, generation: &str) {
        delete_generation(&self.storage, upload_id, generation).await;
    }
}

/// Deletes one generation of an upload's stream outputs; failures are logged (the sweep removes
/// what is left).
pub async fn delete_generation(storage: &Storage, upload_id: &str, generation: &str) {
    let prefix = StorageKey::video_generation_prefix(upload_id, generation);
    if let Err(error) = storage.delete_prefix(&prefix).await {
        tracing::warn!(%error, upload = %upload_id, "cannot delete a superseded video stream");
    }
}

/// Deletes every generation of an upload's stream outputs (the upload is gone).
pub async fn delete_streams(storage: &Storage, upload_id: &str) {
    if let Err(error) = storage.delete_prefix(&StorageKey::video_prefix(upload_id)).await {
        tracing::warn!(%error, upload = %upload_id, "cannot delete a deleted upload's video stream");
    }
}

/// Whether a file gets a stream: a video with a picture.
pub fn is_streamable(facts: &FileFacts) -> bool {
    facts.mime_type.starts_with("video/") && facts.width.is_some() && facts.height.is_some()
}

/// The setting that records a finished [`backfill_streams`] pass.
const BACKFILLED: &str = "video_streams_backfilled";

/// Queues a transcode for every video that has never had a stream (uploaded before this version
/// of assetd made streams), in batches; returns how many. Safe to run on several nodes at once:
/// each video is claimed by one of them. Once a pass has finished it is recorded, and later
/// starts skip the scan (every video uploaded since gets its stream from the upload workflow).
pub async fn backfill_streams(db: &Db) -> Result<usize, DbError> {
    const BATCH: i64 = 200;
    if db.setting(BACKFILLED).await?.is_some() {
        return Ok(0);
    }
    let (mut queued, mut after) = (0, String::new());
    loop {
        let videos = db.videos_without_stream(&after, BATCH).await?;
        let Some((last, _)) = videos.last() else {
            db.setting_or_insert(BACKFILLED, "1").await?;
            return Ok(queued);
        };
        after.clone_from(last);
        let mut tx = db.begin_write().await?;
        for (upload_id, blob_key) in &videos {
            if Db::prepare_missing_video_stream(&mut tx, upload_id, &new_opaque_id()).await? {
                let job = TranscodeVideo { upload_id: upload_id.clone(), blob_key: blob_key.clone() };
                queue::enqueue_in(&mut tx, &job).await?;
                queued += 1;
            }
        }
        tx.commit().await?;
    }
}

/// What [`prepare_stream_in`] changed.
#[derive(Debug, Default)]
pub struct StreamChange {
    /// A transcode job was queued (wake the worker after the commit).
    pub queued: bool,
    /// The generation no longer served (delete it after the commit).
    pub superseded: Option<String>,
}

/// Points the stream of upload `upload_id` at its new file `facts`, in the upload workflow's
/// transaction. `previous` is the upload as it was (`None` for a new upload). A video gets a
/// transcode job; with `keep_url` it keeps its playback id and the generation served until the
/// new one is ready, otherwise it gets a new playback id and its old outputs go (a new version at
/// a new URL is a new stream, as with Mux). A file that is not a video has no stream.
pub async fn prepare_stream_in(
    tx: &mut Tx,
    upload_id: &str,
    previous: Option<&UploadRow>,
    facts: &FileFacts,
    keep_url: bool,
) -> Result<StreamChange, DbError> {
    let mut change = StreamChange::default();
    let streamable = is_streamable(facts);
    let kept_id = previous.and_then(|p| p.video_playback_id.as_deref()).filter(|_| keep_url && streamable);
    if kept_id.is_none() {
        if let Some(previous) = previous.filter(|p| p.video_status.is_some()) {
            change.superseded.clone_from(&previous.video_generation);
            Db::clear_video_stream(tx, upload_id).await?;
        }
    }
    if streamable {
        let playback_id = kept_id.map_or_else(new_opaque_id, str::to_owned);
        Db::prepare_video_stream(tx, upload_id, &playback_id).await?;
        let job = TranscodeVideo { upload_id: upload_id.to_owned(), blob_key: facts.blob_key.clone() };
        queue::enqueue_in(tx, &job).await?;
        change.queued = true;
    }
    Ok(change)
}
