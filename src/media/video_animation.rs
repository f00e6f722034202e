//! Animated previews of a video (Mux's `animated.gif` and `animated.webp`): a stretch of at
//! most [`MAX_SECONDS`] of it, scaled to at most [`MAX_SIDE`] pixels a side and resampled to at
//! most [`MAX_FPS`] frames a second, encoded by ffmpeg (a palette made for the clip, for GIF;
//! libwebp's animation encoder, for WebP).

use std::{path::Path, time::Duration};

use super::{ffmpeg_run, MediaError};

/// Longest preview, seconds (Mux's limit).
pub const MAX_SECONDS: f64 = 10.0;
/// Shortest preview, seconds (Mux's limit).
pub const MIN_SECONDS: f64 = 0.25;
/// Largest width or height (Mux's limit).
pub const MAX_SIDE: u32 = 640;
/// Highest frame rate (Mux's limit).
pub const MAX_FPS: u32 = 30;
/// Largest encoded preview kept: a noisy 640 px clip at 30 fps can exceed it, and is refused.
pub const MAX_BYTES: u64 = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimationFormat {
    Gif,
    Webp,
}

impl AnimationFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            AnimationFormat::Gif => "image/gif",
            AnimationFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            AnimationFormat::Gif => "gif",
            AnimationFormat::Webp => "webp",
        }
    }
}

/// One preview: from `start` to `end` seconds, `width` × `height` pixels, `fps` frames a second.
#[derive(Debug, Clone, PartialEq)]
pub struct AnimatedClip {
    pub start: f64,
    pub end: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub format: AnimationFormat,
}

impl AnimatedClip {
    /// The canonical form of the preview, for cache keys.
    pub fn canonical(&self) -> String {
        format!(
            "animated={}&start={:.3}&end={:.3}&w={}&h={}&fps={}",
            self.format.extension(),
            self.start,
            self.end,
            self.width,
            self.height,
            self.fps
        )
    }
}

/// Writes the preview `clip` of the video at `input` to `output`. `MediaError::Decode` when the
/// video has no frames there; `MediaError::Timeout` past `timeout` (ffmpeg is killed).
pub async fn encode_animation(
    ffmpeg: &str,
    input: &Path,
    clip: &AnimatedClip,
    output: &Path,
    timeout: Duration,
) -> Result<(), MediaError> {
    let scale = format!("fps={},scale={}:{}:flags=lanczos,setsar=1", clip.fps, clip.width, clip.height);
    let encode: Vec<String> = match clip.format {
        AnimationFormat::Gif => vec![
            "-filter_complex".into(),
            format!("[0:v:0]{scale},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer"),
            "-loop".into(),
            "0".into(),
            "-f".into(),
            "gif".into(),
        ],
        AnimationFormat::Webp => {
            let args = ["-map", "0:v:0", "-vf", &scale, "-c:v", "libwebp_anim", "-quality", "75"];
            let more = ["-compression_level", "4", "-loop", "0", "-f", "webp"];
            args.iter().chain(more.iter()).map(|a| a.to_string()).collect()
        }
    };
    let length = format!("{:.3}", clip.end - clip.start);
    let mut args = ffmpeg_run::args(["-ss", &format!("{:.3}", clip.start), "-t", &length, "-i"]);
    args.push(ffmpeg_run::file_url(input));
    args.extend(ffmpeg_run::args(["-an", "-sn", "-dn"]));
    args.extend(ffmpeg_run::args(encode));
    ffmpeg_run::make_file(ffmpeg, &args, output, timeout, "no frames in that stretch").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[tokio::test]
    async fn previews_are_animated_gifs_and_webps() {
        let dir = tempfile::tempdir().unwrap();
        for format in [AnimationFormat::Gif, AnimationFormat::Webp] {
            let clip = AnimatedClip { start: 0.0, end: 1.0, width: 64, height: 36, fps: 10, format };
            let out = dir.path().join(format!("preview.{}", format.extension()));
            encode_animation("ffmpeg", &fixture("clip.mp4"), &clip, &out, Duration::from_secs(30)).await.unwrap();
            let bytes = std::fs::read(&out).unwrap();
            match format {
                AnimationFormat::Gif => assert_eq!(&bytes[..6], b"GIF89a"),
                AnimationFormat::Webp => {
                    assert_eq!((&bytes[..4], &bytes[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
                    assert!(bytes.windows(4).any(|w| w == b"ANMF"), "animation frames");
                }
            }
        }
    }

    #[tokio::test]
    async fn files_without_frames_are_decode_errors() {
        let dir = tempfile::tempdir().unwrap();
        let clip = AnimatedClip { start: 0.0, end: 1.0, width: 64, height: 36, fps: 10, format: AnimationFormat::Gif };
        let out = dir.path().join("preview.gif");
        let error =
            encode_animation("ffmpeg", &fixture("doc.pdf"), &clip, &out, Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(error, MediaError::Decode(_)), "{error:?}");
    }
}
