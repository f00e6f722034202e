//! Subtitles made by the configured speech-to-text command (`generate_subtitles`): the track is
//! recorded as `preparing` with a [`GenerateSubtitles`] job; the job gives the command the video's
//! audio as a WAV file, reads the subtitle file it writes like an uploaded one (WebVTT kept, SRT
//! converted) and stores it as the track's WebVTT. Recording the track as `ready` (or `errored`)
//! is the job's transaction.

use serde::{Deserialize, Serialize};

use super::{speech_to_text::SpeechToTextError, tracks::TrackError, transcode::ScratchDir, Transcoder, VideoError};
use crate::{
    domain::new_opaque_id,
    media::{self, MediaError},
    queue::Job,
    storage::StorageKey,
};

/// The job that makes a `preparing` track's subtitles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateSubtitles {
    pub upload_id: String,
    pub track_id: String,
    /// The track's language (BCP 47).
    pub language_code: String,
}

impl Job for GenerateSubtitles {
    const JOB_NAME: &'static str = "generate_subtitles";
}

impl Transcoder {
    /// Whether a speech-to-text command is configured.
    pub fn can_generate_subtitles(&self) -> bool {
        self.settings.speech_to_text.is_some()
    }

    /// Makes and stores the subtitles of `job`'s track. `Ok(None)`: the upload or the track is
    /// gone (or the track is no longer preparing), and nothing was made. Waits for one of this
    /// node's transcode slots first (speech-to-text takes the cores a transcode would).
    pub async fn generate_subtitles(&self, job: &GenerateSubtitles) -> Result<Option<StorageKey>, VideoError> {
        let Some(stt) = &self.settings.speech_to_text else {
            return Err(VideoError::Rejected("this server has no speech-to-text command any more".into()));
        };
        let found = async {
            let upload = self.db.find_upload(&job.upload_id).await?;
            let track = self.db.find_track(&job.upload_id, &job.track_id).await?;
            Ok::<_, crate::db::DbError>(upload.zip(track.filter(|t| t.status == "preparing")))
        };
        let Some((upload, _track)) = found.await.map_err(anyhow::Error::from)? else {
            return Ok(None);
        };
        let _slot = self.slots.acquire().await.map_err(|e| VideoError::Transient(e.into()))?;
        let scratch = ScratchDir(self.settings.tmp_dir.join(format!("subtitles-{}", new_opaque_id())));
        let out_dir = scratch.path().join("out");
        tokio::fs::create_dir_all(&out_dir).await.map_err(|e| VideoError::Transient(e.into()))?;
        let source =
            self.storage.local_blob(&StorageKey::from_stored(&upload.blob_key), scratch.path()).await.map_err(
                |error| match error.is_not_found() {
                    true => VideoError::Rejected("the upload's file is gone".into()),
                    false => VideoError::Transient(error.into()),
                },
            )?;
        let audio = scratch.path().join("audio.wav");
        match media::extract_speech_audio(&self.settings.encode.ffmpeg, source.path(), &audio, stt.timeout).await {
            Ok(()) => {}
            Err(MediaError::Decode(message)) => {
                return Err(VideoError::Rejected(format!("the video has no audio to transcribe: {message}")))
            }
            Err(MediaError::Timeout) => {
                return Err(VideoError::Rejected("reading the video's audio took too long".into()))
            }
            Err(error) => return Err(VideoError::Transient(error.into())),
        }
        drop(source);
        tracing::info!(upload = %job.upload_id, track = %job.track_id, "transcribing");
        let started = std::time::Instant::now();
        let written = stt.transcribe(&audio, &job.language_code, &out_dir).await.map_err(|error| match error {
            SpeechToTextError::Io(error) => VideoError::Transient(error.into()),
            SpeechToTextError::Spawn(_) => {
                tracing::error!(%error, "the speech-to-text command cannot run: check ASSETD_SPEECH_TO_TEXT_COMMAND");
                VideoError::Rejected(error.to_string())
            }
            other => VideoError::Rejected(other.to_string()),
        })?;
        tracing::info!(
            upload = %job.upload_id,
            track = %job.track_id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "transcribed"
        );
        let key =
            self.store_subtitles(&written, scratch.path(), &job.upload_id, &job.track_id).await.map_err(|error| {
                match error {
                    TrackError::Rejected(message) => {
                        VideoError::Rejected(format!("the speech-to-text command's output: {message}"))
                    }
                    TrackError::UploadGone => VideoError::Rejected("the upload is gone".into()),
                    TrackError::Internal(error) => VideoError::Transient(error),
                }
            })?;
        Ok(Some(key))
    }
}
