//! A video's text tracks (DatoCMS's `upload_track`): a subtitle file taken from an upload
//! request, read by ffmpeg (WebVTT, or SRT converted), stored as WebVTT beside the stream's
//! outputs and recorded in one transaction; the stream's master playlist lists the tracks
//! (`EXT-X-MEDIA TYPE=SUBTITLES`), each with a one-segment subtitle playlist.

use std::path::Path;

use m3u8_rs::{MediaPlaylist, MediaPlaylistType, MediaSegment};

use super::{transcode::ScratchDir, Transcoder};
use crate::{
    db::{Db, TrackRow},
    domain::{new_opaque_id, now_millis},
    media::{self, MediaError},
    storage::StorageKey,
};

/// How long reading one subtitle file may take.
const CONVERT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A track to add: what the client said of it, and where its file is.
#[derive(Debug, Clone)]
pub struct NewTrack {
    pub id: String,
    pub upload_id: String,
    pub name: String,
    pub language_code: String,
    pub closed_captions: Option<bool>,
    /// The upload request (its id) whose file this track takes.
    pub request_path: String,
    /// The upload request's file (taken for this track).
    pub source_key: String,
}

/// Why a track could not be added.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The file is not subtitles assetd reads (the client's mistake): nothing was stored.
    #[error("{0}")]
    Rejected(String),
    /// The upload was deleted meanwhile.
    #[error("the upload is gone")]
    UploadGone,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Transcoder {
    /// Reads the track's file, stores it as WebVTT and records the track (`ready`).
    pub async fn add_track(&self, new: NewTrack) -> Result<TrackRow, TrackError> {
        let source_key = StorageKey::from_stored(&new.source_key);
        let size = self.storage.size(&source_key).await.map_err(|error| match error.is_not_found() {
            true => TrackError::Rejected("the file of this upload request is gone".into()),
            false => TrackError::Internal(error.into()),
        })?;
        if size > media::MAX_SUBTITLE_BYTES {
            return Err(TrackError::Rejected(format!(
                "a subtitle file may have at most {} bytes, this one has {size}",
                media::MAX_SUBTITLE_BYTES
            )));
        }
        let scratch = ScratchDir(self.settings.tmp_dir.join(format!("track-{}", new_opaque_id())));
        tokio::fs::create_dir_all(scratch.path()).await.map_err(|e| TrackError::Internal(e.into()))?;
        let source =
            self.storage.local_blob(&source_key, scratch.path()).await.map_err(|e| TrackError::Internal(e.into()))?;
        let key = self.store_subtitles(source.path(), scratch.path(), &new.upload_id, &new.id).await?;
        let track = TrackRow {
            id: new.id,
            upload_id: new.upload_id,
            kind: "subtitles".into(),
            name: new.name,
            language_code: new.language_code,
            closed_captions: new.closed_captions,
            status: "ready".into(),
            error: None,
            blob_key: Some(key.as_str().to_owned()),
            created_at: now_millis(),
        };
        let recorded = async {
            let mut tx = self.db.begin_write().await?;
            if Db::find_upload_in(&mut tx, &track.upload_id).await?.is_none() {
                return Ok(Err(TrackError::UploadGone));
            }
            if !Db::consume_upload_request(&mut tx, &new.request_path, &track.id).await? {
                return Ok(Err(TrackError::Rejected("the file of this upload request is already used".into())));
            }
            Db::insert_track(&mut tx, &track).await?;
            tx.commit().await?;
            Ok::<_, crate::db::DbError>(Ok(()))
        }
        .await;
        match recorded {
            Ok(Ok(())) => {
                // The track keeps its WebVTT copy: the request's file is needed no more.
                if let Err(error) = self.storage.delete(&source_key).await {
                    tracing::warn!(%error, track = %track.id, "could not delete a track's source file (the sweep will)");
                }
                Ok(track)
            }
            Ok(Err(rejected)) => {
                self.delete_track_files(&track.upload_id, &track.id).await;
                Err(rejected)
            }
            Err(error) => {
                self.delete_track_files(&track.upload_id, &track.id).await;
                Err(TrackError::Internal(error.into()))
            }
        }
    }

    /// Reads the subtitle file `source` (WebVTT or SRT) and stores it as the WebVTT of track
    /// `track_id`, converting it in `scratch`.
    pub(super) async fn store_subtitles(
        &self,
        source: &Path,
        scratch: &Path,
        upload_id: &str,
        track_id: &str,
    ) -> Result<StorageKey, TrackError> {
        let size = tokio::fs::metadata(source).await.map_err(|e| TrackError::Internal(e.into()))?.len();
        if size > media::MAX_SUBTITLE_BYTES {
            return Err(TrackError::Rejected(format!(
                "a subtitle file may have at most {} bytes, this one has {size}",
                media::MAX_SUBTITLE_BYTES
            )));
        }
        let head = read_head(source).await?;
        let format = media::sniff_subtitles(&head)
            .ok_or_else(|| TrackError::Rejected("the file is neither WebVTT nor SRT".into()))?;
        let vtt = scratch.join("subtitles.vtt");
        let converted =
            media::convert_to_webvtt(&self.settings.encode.ffmpeg, source, format, &vtt, CONVERT_TIMEOUT).await;
        match converted {
            Ok(_) => {}
            Err(MediaError::Decode(message)) => {
                return Err(TrackError::Rejected(format!("the subtitles could not be read: {message}")))
            }
            Err(error) => return Err(TrackError::Internal(error.into())),
        }
        let key = StorageKey::video_track(upload_id, track_id);
        self.storage.put_file(&key, &vtt).await.map_err(|e| TrackError::Internal(e.into()))?;
        Ok(key)
    }

    /// Deletes a removed track's file (the sweep removes what a failure here leaves).
    pub async fn delete_track_files(&self, upload_id: &str, track_id: &str) {
        let prefix = StorageKey::video_track_prefix(upload_id, track_id);
        if let Err(error) = self.storage.delete_prefix(&prefix).await {
            tracing::warn!(%error, upload = upload_id, track = track_id, "could not delete a track's file");
        }
    }
}

async fn read_head(path: &Path) -> Result<Vec<u8>, TrackError> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await.map_err(|e| TrackError::Internal(e.into()))?;
    let mut head = Vec::with_capacity(1024);
    file.take(1024).read_to_end(&mut head).await.map_err(|e| TrackError::Internal(e.into()))?;
    Ok(head)
}

/// The subtitle playlist of a track of a video of `duration` seconds: its whole WebVTT file as
/// one segment (`<track id>.vtt`, beside the playlist).
pub fn subtitle_playlist(track_id: &str, duration: f64) -> std::io::Result<Vec<u8>> {
    let duration = if duration.is_finite() && duration > 0.0 { duration } else { 1.0 };
    let playlist = MediaPlaylist {
        version: Some(3),
        target_duration: duration.ceil() as u64,
        media_sequence: 0,
        playlist_type: Some(MediaPlaylistType::Vod),
        end_list: true,
        segments: vec![MediaSegment {
            uri: format!("{track_id}.vtt"),
            duration: duration as f32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    playlist.write_to(&mut out)?;
    Ok(out)
}

/// The `CHARACTERISTICS` Apple's HLS spec gives closed captions (for the Deaf and hard of hearing).
pub const CLOSED_CAPTIONS_CHARACTERISTICS: &str =
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subtitle_playlist_is_one_segment_of_the_whole_video() {
        let playlist = subtitle_playlist("t1", 6.04).unwrap();
        let parsed = m3u8_rs::parse_media_playlist_res(&playlist).unwrap();
        assert_eq!(parsed.target_duration, 7);
        assert!(parsed.end_list);
        assert_eq!(parsed.segments.len(), 1);
        assert_eq!(parsed.segments[0].uri, "t1.vtt");
        assert!((parsed.segments[0].duration - 6.04).abs() < 1e-3);
    }
}
