//! Poster frames: one still of a video, taken with ffmpeg at a given time.

use std::{path::Path, time::Duration};

use super::{ffmpeg_run, MediaError};

/// Writes the frame of the video at `input` shown at `at` seconds to `output` as PNG.
/// `MediaError::Decode` when there is no frame there (no video stream, a broken file).
pub async fn extract_frame(
    ffmpeg: &str,
    input: &Path,
    at: f64,
    output: &Path,
    timeout: Duration,
) -> Result<(), MediaError> {
    let at = if at.is_finite() && at > 0.0 { at } else { 0.0 };
    let mut args = ffmpeg_run::args(["-ss", &format!("{at:.3}"), "-i"]);
    args.push(ffmpeg_run::file_url(input));
    args.extend(ffmpeg_run::args(["-frames:v", "1", "-an", "-f", "image2", "-c:v", "png"]));
    ffmpeg_run::make_file(ffmpeg, &args, output, timeout, "no frame at that time").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[tokio::test]
    async fn extracts_a_png_frame() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("poster.png");
        extract_frame("ffmpeg", &fixture("clip.mp4"), 0.5, &out, Duration::from_secs(20)).await.unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[tokio::test]
    async fn files_without_frames_are_decode_errors() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("poster.png");
        let error = extract_frame("ffmpeg", &fixture("doc.pdf"), 0.0, &out, Duration::from_secs(20)).await.unwrap_err();
        assert!(matches!(error, MediaError::Decode(_)), "{error:?}");
        let error = extract_frame("no-such-ffmpeg", &fixture("clip.mp4"), 0.0, &out, Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(matches!(error, MediaError::Tool(_)), "{error:?}");
    }
}
