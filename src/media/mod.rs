//! Media inspection: what a file is and what can be learned from it. Pure: it uses only
//! `domain`, works on bytes and local paths, and never touches `db`, `storage` or `config`.
//!
//! * [`sniff()`] classifies a file from its first bytes (MIME type, canonical
//!   extension, [`MediaKind`]).
//! * [`probe_image`] reads raster dimensions and computes the placeholder
//!   data DatoCMS exposes for images (blurhash, thumbhash, dominant colours).
//!   It is blocking: run it in `tokio::task::spawn_blocking`.
//! * [`sanitize_svg`] rewrites an SVG by an allow-list (no script, no remote reference) before it is served.
//! * [`location_strip`] removes the GPS position from a JPEG original (when configured).
//! * [`read_exif`] reads the camera facts shown as `exif_info` (never the location).
//! * [`probe_av`] asks `ffprobe` for the duration, frame rate and size of
//!   audio/video files; [`parse_ffprobe_json`] is its pure, testable half.
//!
//! * [`extract_frame`] takes a video's poster frame with `ffmpeg`, [`encode_animation`] an
//!   animated GIF or WebP of a stretch of it; [`convert_to_webvtt`] reads subtitles (WebVTT,
//!   SRT), [`extract_speech_audio`] gives a speech-to-text engine a video's audio.
//!
//! All of them report failures as [`MediaError`]; use
//! [`MediaError::is_client_error`] to decide between a 4xx and a 5xx.

pub mod exif_facts;
mod ffmpeg_run;
pub mod frames_video;
pub mod image_facts;
pub mod location_strip;
pub mod sniff;
pub mod subtitles;
mod svg_allow;
mod svg_css;
pub mod svg_sanitize;
pub mod video_animation;
pub mod video_facts;
pub mod video_poster;
mod xml_prolog;

pub use exif_facts::read_exif;
pub use ffmpeg_run::{die_with_this_process, file_url};
pub use frames_video::{concat_list, encode_frames, FramesVideo};
pub use image_facts::{facts_from_thumbnail, probe_image, ImageFacts, Rgba};
pub use sniff::{same_format, sniff, MediaKind, Sniffed, SNIFF_LEN};
pub use subtitles::{convert_to_webvtt, extract_speech_audio, sniff_subtitles, SubtitleFormat, MAX_SUBTITLE_BYTES};
pub use svg_sanitize::{sanitize_svg, SvgError};
pub use video_animation::{encode_animation, AnimatedClip, AnimationFormat};
pub use video_facts::{parse_ffprobe_json, probe_av, AvFacts};
pub use video_poster::extract_frame;

/// Why a media file could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Reading the file failed on our side (missing file, permissions, disk).
    #[error("i/o error while reading media: {0}")]
    Io(#[from] std::io::Error),
    /// The file claims a format but its content is invalid or truncated.
    #[error("media could not be decoded: {0}")]
    Decode(String),
    /// The format is recognised but this service cannot decode it
    /// (e.g. SVG for dimension probing).
    #[error("unsupported media format")]
    Unsupported,
    /// An external tool (ffprobe) did not answer in time.
    #[error("media probe timed out")]
    Timeout,
    /// An external tool is missing or misbehaved.
    #[error("media tool failed: {0}")]
    Tool(String),
}

impl MediaError {
    /// Whether the failure is caused by the uploaded file itself (answer 4xx)
    /// rather than by the server or its environment (answer 5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(self, MediaError::Decode(_) | MediaError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_about_the_file() {
        assert!(MediaError::Decode("bad".into()).is_client_error());
        assert!(MediaError::Unsupported.is_client_error());
        assert!(!MediaError::Timeout.is_client_error());
        assert!(!MediaError::Tool("ffprobe not found".into()).is_client_error());
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        assert!(!MediaError::from(io).is_client_error());
    }
}
