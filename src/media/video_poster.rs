//! Poster frames: one still of a video, taken with ffmpeg at a given time.

use std::{path::Path, process::Stdio, time::Duration};

use super::MediaError;

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
    let mut input_url = std::ffi::OsString::from("file:");
    input_url.push(input.as_os_str());
    let mut output_url = std::ffi::OsString::from("file:");
    output_url.push(output.as_os_str());
    let mut command = tokio::process::Command::new(ffmpeg);
    command
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file"])
        .args(["-ss", &format!("{at:.3}"), "-i"])
        .arg(input_url)
        .args(["-frames:v", "1", "-an", "-f", "image2", "-c:v", "png", "-y"])
        .arg(output_url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => MediaError::Tool(format!("{ffmpeg} not found")),
        _ => MediaError::Tool(format!("cannot run {ffmpeg}: {error}")),
    })?;
    let result = tokio::time::timeout(timeout, child.wait_with_output()).await.map_err(|_| MediaError::Timeout)??;
    let written = tokio::fs::metadata(output).await.map(|m| m.len()).unwrap_or(0);
    if !result.status.success() || written == 0 {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let reason = stderr.lines().last().unwrap_or("no frame at that time").to_owned();
        return Err(MediaError::Decode(reason));
    }
    Ok(())
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
