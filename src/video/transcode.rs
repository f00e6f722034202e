//! One transcode: the upload's file as a local file, the ladder and the MP4 renditions made by
//! ffmpeg in a scratch directory, every output stored under a fresh generation of the upload's
//! stream keys. Recording the generation as served is the caller's (the job's transaction).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{
    encoder, ladder,
    outputs::{Mp4Output, RungOutput, VideoOutputs},
    storyboard::{self, StoryboardImage},
    TranscodeVideo, Transcoder, VideoError,
};
use crate::{
    domain::new_opaque_id,
    media::{self, MediaError},
    storage::StorageKey,
};

/// A stream made and stored, not yet served.
#[derive(Debug, Clone)]
pub struct MadeStream {
    pub upload_id: String,
    pub blob_key: String,
    pub generation: String,
    pub outputs: VideoOutputs,
}

/// A scratch directory, removed with what it holds when dropped.
pub(super) struct ScratchDir(pub(super) PathBuf);

impl ScratchDir {
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, path = %self.0.display(), "cannot remove a scratch directory");
            }
        }
    }
}

impl Transcoder {
    /// Makes and stores the stream of `job`'s file. `Ok(None)`: the upload is gone or has another
    /// file by now, and nothing was made. Waits for one of this node's transcode slots first.
    pub async fn transcode(&self, job: &TranscodeVideo) -> Result<Option<MadeStream>, VideoError> {
        let Some(upload) = self.db.find_upload(&job.upload_id).await.map_err(anyhow::Error::from)? else {
            return Ok(None);
        };
        if upload.blob_key != job.blob_key {
            return Ok(None);
        }
        let max = self.settings.max_duration_secs as f64;
        if upload.duration.is_some_and(|d| d > max) {
            return Err(VideoError::Rejected(format!("the video is longer than the {max} s a stream is made for")));
        }
        let _slot = self.slots.acquire().await.map_err(|e| VideoError::Transient(e.into()))?;
        let generation = new_opaque_id();
        let scratch = ScratchDir(self.settings.tmp_dir.join(format!("transcode-{generation}")));
        let out_dir = scratch.0.join("out");
        tokio::fs::create_dir_all(&out_dir).await.context("creating a transcode's scratch directory")?;
        let source =
            self.storage.local_blob(&StorageKey::from_stored(&job.blob_key), &scratch.0).await.map_err(|error| {
                match error.is_not_found() {
                    true => VideoError::Rejected("the upload's file is gone".into()),
                    false => VideoError::Transient(error.into()),
                }
            })?;
        let facts = media::probe_av(source.path(), &self.settings.ffprobe).await.map_err(|error| match error {
            MediaError::Decode(message) => VideoError::Rejected(format!("the file could not be read: {message}")),
            other => VideoError::Transient(other.into()),
        })?;
        let (Some(width), Some(height), true) = (facts.width, facts.height, facts.has_video) else {
            return Err(VideoError::Rejected("the file has no video stream".into()));
        };
        let rungs = ladder::plan(width, height, &self.settings.ladder);
        let board = storyboard::plan(width, height, facts.duration.or(upload.duration));
        let args = encoder::ladder_command(
            &self.settings.encode,
            source.path(),
            &out_dir,
            &rungs,
            facts.has_audio,
            board.as_ref(),
        );
        let command: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        tracing::info!(upload = %job.upload_id, ffmpeg_args = ?command, "transcoding");
        let started = std::time::Instant::now();
        encoder::encode_ladder(&self.settings.encode, args).await?;
        drop(source);
        let mut rung_outputs = rung_outputs(&out_dir, &rungs).await?;
        let mut mp4 = Vec::new();
        for (rendition, i) in ladder::mp4_renditions(&rungs) {
            let file = out_dir.join(format!("{}.mp4", rendition.name()));
            encoder::remux_mp4(&self.settings.encode, &out_dir.join(&rungs[i].name).join("index.m3u8"), &file).await?;
            let size = tokio::fs::metadata(&file).await.context("reading an MP4 rendition's size")?.len();
            mp4.push(Mp4Output { rendition, width: rungs[i].width, height: rungs[i].height, size });
        }
        mp4.sort_by_key(|m: &Mp4Output| m.rendition);
        for rung in &mut rung_outputs {
            rung.frame_rate = facts.frame_rate;
        }
        tracing::info!(upload = %job.upload_id, elapsed_ms = started.elapsed().as_millis() as u64, "transcoded");
        let storyboard = match board {
            Some(board) if storyboard_written(&out_dir).await => Some(board),
            Some(_) => {
                tracing::warn!(upload = %job.upload_id, "ffmpeg wrote no storyboard: the stream has none");
                None
            }
            None => None,
        };
        let outputs = VideoOutputs { rungs: rung_outputs, mp4, storyboard };
        let made = MadeStream { upload_id: job.upload_id.clone(), blob_key: job.blob_key.clone(), generation, outputs };
        if let Err(error) = self.store(&out_dir, &made).await {
            self.discard(&made).await;
            return Err(VideoError::Transient(error));
        }
        Ok(Some(made))
    }

    /// Stores every output of `made` from `out_dir` (ffmpeg's own master playlist stays behind:
    /// the served one is written per request).
    async fn store(&self, out_dir: &Path, made: &MadeStream) -> anyhow::Result<()> {
        let mut names: Vec<String> = made.outputs.mp4.iter().map(|m| format!("{}.mp4", m.rendition.name())).collect();
        for rung in &made.outputs.rungs {
            names.push(format!("{}/index.m3u8", rung.name));
            names.push(format!("{}/{}", rung.name, rung.init));
            names.extend((0..rung.segments).map(|n| format!("{}/{}", rung.name, super::outputs::segment_name(n))));
        }
        if made.outputs.storyboard.is_some() {
            names.extend(StoryboardImage::ALL.map(StoryboardImage::file_name));
        }
        for name in names {
            let key = StorageKey::video_file(&made.upload_id, &made.generation, &name);
            self.storage.put_file(&key, &out_dir.join(&name)).await.with_context(|| format!("storing {name}"))?;
        }
        Ok(())
    }
}

/// Whether every storyboard image is there (ffmpeg writes none for a video without frames where
/// the storyboard's first tile falls).
async fn storyboard_written(out_dir: &Path) -> bool {
    for image in StoryboardImage::ALL {
        match tokio::fs::metadata(out_dir.join(image.file_name())).await {
            Ok(meta) if meta.len() > 0 => {}
            _ => return false,
        }
    }
    true
}

/// Each rung's BANDWIDTH and CODECS from ffmpeg's master playlist, and its segment count from
/// its media playlist (which must name exactly the segments ffmpeg wrote).
async fn rung_outputs(out_dir: &Path, rungs: &[ladder::Rung]) -> Result<Vec<RungOutput>, VideoError> {
    let master = tokio::fs::read(encoder::ffmpeg_master(out_dir)).await.context("reading ffmpeg's master playlist")?;
    let master = m3u8_rs::parse_master_playlist_res(&master).map_err(|error| {
        VideoError::Transient(anyhow::anyhow!("ffmpeg's master playlist does not parse: {error:?}"))
    })?;
    let mut outputs = Vec::with_capacity(rungs.len());
    for rung in rungs {
        let uri = format!("{}/index.m3u8", rung.name);
        let variant = master
            .variants
            .iter()
            .find(|v| v.uri == uri)
            .ok_or_else(|| VideoError::Transient(anyhow::anyhow!("ffmpeg's master playlist lacks {uri}")))?;
        let media = tokio::fs::read(out_dir.join(&uri)).await.with_context(|| format!("reading {uri}"))?;
        let media = m3u8_rs::parse_media_playlist_res(&media)
            .map_err(|error| VideoError::Transient(anyhow::anyhow!("{uri} does not parse: {error:?}")))?;
        let expected = |n: usize| super::outputs::segment_name(u32::try_from(n).unwrap_or(u32::MAX));
        let named_in_order = media.segments.iter().enumerate().all(|(n, s)| s.uri == expected(n));
        let init = media.segments.first().and_then(|s| s.map.as_ref()).map(|m| m.uri.clone()).unwrap_or_default();
        if !named_in_order || !super::outputs::is_init_name(&init) || media.segments.is_empty() {
            return Err(VideoError::Transient(anyhow::anyhow!("{uri} does not name the files expected")));
        }
        outputs.push(RungOutput {
            name: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            bandwidth: variant.bandwidth,
            codecs: variant.codecs.clone(),
            frame_rate: None,
            init,
            segments: u32::try_from(media.segments.len()).unwrap_or(u32::MAX),
        });
    }
    Ok(outputs)
}
