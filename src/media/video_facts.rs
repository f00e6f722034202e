//! Facts about audio and video files, from `ffprobe`.
//!
//! [`probe_av`] runs `ffprobe -v error -print_format json -show_format
//! -show_streams` on a file (killed after [`FFPROBE_TIMEOUT`]) and hands the
//! output to [`parse_ffprobe_json`], the pure half that is tested against
//! recorded output in `tests/fixtures/ffprobe/`.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ffmpeg_run::file_url, MediaError};

/// How long `ffprobe` may run before it is killed.
pub const FFPROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest part of ffprobe's stderr kept in an error message.
const MAX_STDERR_CHARS: usize = 300;

/// What `ffprobe` reported about an audio or video file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AvFacts {
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Frames per second of the first video stream, rounded to 3 decimals
    /// (30000/1001 → 29.97).
    pub frame_rate: Option<f64>,
    /// Width of the first video stream in pixels.
    pub width: Option<u32>,
    /// Height of the first video stream in pixels.
    pub height: Option<u32>,
    /// Whether there is a real video stream (cover art does not count).
    pub has_video: bool,
    /// Whether there is an audio stream.
    pub has_audio: bool,
}

/// The parts of ffprobe's JSON output we read.
#[derive(Debug, Default, Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<ProbeFormat>,
    #[serde(default)]
    streams: Vec<ProbeStream>,
}

#[derive(Debug, Default, Deserialize)]
struct ProbeFormat {
    #[serde(default)]
    duration: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct ProbeStream {
    #[serde(default)]
    codec_type: Option<String>,
    #[serde(default)]
    width: Option<Value>,
    #[serde(default)]
    height: Option<Value>,
    #[serde(default)]
    avg_frame_rate: Option<String>,
    #[serde(default)]
    r_frame_rate: Option<String>,
    #[serde(default)]
    duration: Option<Value>,
    #[serde(default)]
    disposition: Option<Disposition>,
}

#[derive(Debug, Default, Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: Option<Value>,
}

impl ProbeStream {
    fn is_audio(&self) -> bool {
        self.codec_type.as_deref() == Some("audio")
    }

    /// A video stream that is not embedded cover art.
    fn is_real_video(&self) -> bool {
        let attached_pic = self
            .disposition
            .as_ref()
            .and_then(|d| d.attached_pic.as_ref())
            .and_then(number)
            .is_some_and(|flag| flag != 0.0);
        self.codec_type.as_deref() == Some("video") && !attached_pic
    }

    fn frame_rate(&self) -> Option<f64> {
        let avg = self.avg_frame_rate.as_deref().and_then(parse_rate);
        avg.or_else(|| self.r_frame_rate.as_deref().and_then(parse_rate))
    }
}

/// Probe an audio or video file with the `ffprobe` binary at `ffprobe`
/// (a path or a name looked up in `PATH`).
///
/// Errors: [`MediaError::Tool`] when ffprobe is missing (`"ffprobe not
/// found"`), dies or prints unreadable output; [`MediaError::Timeout`] after
/// [`FFPROBE_TIMEOUT`] (the process is killed); [`MediaError::Decode`] when
/// ffprobe rejects the file (it exits non-zero, e.g. "Invalid data found");
/// [`MediaError::Io`] when the file cannot be found.
/// Only the local file is read: other protocols are disabled.
pub async fn probe_av(path: &Path, ffprobe: &str) -> Result<AvFacts, MediaError> {
    // A missing file is our problem (Io), not a file ffprobe rejects (Decode).
    tokio::fs::metadata(path).await?;
    let stdout = run_ffprobe(path, ffprobe, FFPROBE_TIMEOUT).await?;
    parse_ffprobe_json(&stdout)
}

/// Extract [`AvFacts`] from the JSON printed by `ffprobe -print_format json
/// -show_format -show_streams`.
///
/// The duration is `format.duration`, else the first video stream's, else
/// the longest stream's. Size and frame rate come from the first video
/// stream that is not an attached picture; the frame rate is
/// `avg_frame_rate`, else `r_frame_rate`, ignoring `0/0`.
pub fn parse_ffprobe_json(json: &str) -> Result<AvFacts, MediaError> {
    let probe: Probe =
        serde_json::from_str(json).map_err(|err| MediaError::Tool(format!("unreadable ffprobe output: {err}")))?;
    Ok(facts_from_probe(&probe))
}

fn facts_from_probe(probe: &Probe) -> AvFacts {
    let video = probe.streams.iter().find(|s| s.is_real_video());
    AvFacts {
        duration: duration_of(probe, video),
        frame_rate: video.and_then(ProbeStream::frame_rate).map(round3),
        width: video.and_then(|v| v.width.as_ref()).and_then(dimension),
        height: video.and_then(|v| v.height.as_ref()).and_then(dimension),
        has_video: video.is_some(),
        has_audio: probe.streams.iter().any(ProbeStream::is_audio),
    }
}

fn duration_of(probe: &Probe, video: Option<&ProbeStream>) -> Option<f64> {
    let positive = |v: &Value| number(v).filter(|d| *d > 0.0);
    let from_format = probe.format.as_ref().and_then(|f| f.duration.as_ref()).and_then(positive);
    let from_video = || video.and_then(|v| v.duration.as_ref()).and_then(positive);
    let longest_stream = || {
        let durations = probe.streams.iter().filter_map(|s| s.duration.as_ref().and_then(positive));
        durations.reduce(f64::max)
    };
    from_format.or_else(from_video).or_else(longest_stream)
}

/// A finite number, given as a JSON number or a numeric string (ffprobe
/// prints durations as strings).
fn number(value: &Value) -> Option<f64> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed.filter(|n| n.is_finite())
}

/// A positive pixel dimension.
fn dimension(value: &Value) -> Option<u32> {
    let n = number(value)?;
    let in_range = n >= 1.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0;
    in_range.then_some(n as u32)
}

/// Parse an ffprobe rate such as `30000/1001` or `25`; `0/0` and other
/// non-positive or infinite rates are `None`.
fn parse_rate(rate: &str) -> Option<f64> {
    let value = match rate.split_once('/') {
        Some((num, den)) => {
            let den: f64 = den.trim().parse().ok()?;
            if den == 0.0 {
                return None;
            }
            num.trim().parse::<f64>().ok()? / den
        }
        None => rate.trim().parse().ok()?,
    };
    (value.is_finite() && value > 0.0).then_some(value)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Run ffprobe and return its stdout.
async fn run_ffprobe(path: &Path, ffprobe: &str, timeout: Duration) -> Result<String, MediaError> {
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args(["-v", "error", "-protocol_whitelist", "file"])
        .args(["-print_format", "json", "-show_format", "-show_streams", "-i"])
        .arg(file_url(path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(spawn_error)?;
    // On timeout the future, and with it the child, is dropped: kill_on_drop kills it.
    let output = tokio::time::timeout(timeout, child.wait_with_output()).await.map_err(|_| MediaError::Timeout)??;
    check_exit(&output, path)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn spawn_error(err: std::io::Error) -> MediaError {
    match err.kind() {
        std::io::ErrorKind::NotFound => MediaError::Tool("ffprobe not found".to_owned()),
        _ => MediaError::Tool(format!("cannot run ffprobe: {err}")),
    }
}

fn check_exit(output: &Output, path: &Path) -> Result<(), MediaError> {
    if output.status.success() {
        return Ok(());
    }
    let message = stderr_message(&output.stderr, path);
    match output.status.code() {
        // ffprobe ran and rejected the file.
        Some(code) if message.is_empty() => Err(MediaError::Decode(format!("ffprobe exited with code {code}"))),
        Some(_) => Err(MediaError::Decode(message)),
        // Killed by a signal: not the file's fault as far as we can tell.
        None => Err(MediaError::Tool(format!("ffprobe died: {}", output.status))),
    }
}

/// The last line of ffprobe's stderr (its verdict), without the
/// `file:<path>: ` prefix so server paths do not leak into client errors.
fn stderr_message(stderr: &[u8], path: &Path) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
    let prefix = format!("{}: ", file_url(path).to_string_lossy());
    let message = last.strip_prefix(prefix.as_str()).unwrap_or(last).trim();
    message.chars().take(MAX_STDERR_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    fn recorded(name: &str) -> AvFacts {
        let json = std::fs::read_to_string(fixture("ffprobe").join(name)).expect("recorded json");
        parse_ffprobe_json(&json).expect("parses")
    }

    fn assert_clip(facts: &AvFacts) {
        let duration = facts.duration.expect("duration");
        assert!((duration - 2.0).abs() < 0.1, "duration {duration}");
        assert_eq!(facts.frame_rate, Some(25.0));
        assert_eq!((facts.width, facts.height), (Some(64), Some(48)));
        assert!(facts.has_video);
        assert!(facts.has_audio);
    }

    #[test]
    fn parses_recorded_clip() {
        assert_clip(&recorded("clip.mp4.json"));
    }

    #[test]
    fn parses_recorded_mp3() {
        let facts = recorded("sound.mp3.json");
        let duration = facts.duration.expect("duration");
        // MP3 encoder padding makes it slightly longer than the 1 s of input.
        assert!((1.0..1.25).contains(&duration), "duration {duration}");
        assert!(facts.has_audio);
        assert!(!facts.has_video);
        assert_eq!((facts.width, facts.height, facts.frame_rate), (None, None, None));
    }

    #[test]
    fn cover_art_is_not_video() {
        let facts = recorded("cover.mp3.json");
        assert!(facts.has_audio);
        assert!(!facts.has_video, "attached picture counted as video");
        assert_eq!((facts.width, facts.height, facts.frame_rate), (None, None, None));
    }

    #[test]
    fn ntsc_rate_and_fallbacks() {
        let json = r#"{"streams": [
            {"codec_type": "video", "width": 1920, "height": 1080,
             "avg_frame_rate": "30000/1001", "r_frame_rate": "30000/1001"}],
            "format": {"duration": "12.345000"}}"#;
        let facts = parse_ffprobe_json(json).expect("parses");
        assert_eq!(facts.frame_rate, Some(29.97));
        assert_eq!(facts.duration, Some(12.345));
        assert_eq!((facts.width, facts.height), (Some(1920), Some(1080)));
        assert!(!facts.has_audio);

        // avg 0/0 falls back to r_frame_rate; duration falls back to the stream.
        let json = r#"{"streams": [
            {"codec_type": "video", "width": 0, "avg_frame_rate": "0/0",
             "r_frame_rate": "24000/1001", "duration": "3.5"}], "format": {}}"#;
        let facts = parse_ffprobe_json(json).expect("parses");
        assert_eq!(facts.frame_rate, Some(23.976));
        assert_eq!(facts.duration, Some(3.5));
        assert_eq!((facts.width, facts.height), (None, None));

        let facts = parse_ffprobe_json(
            r#"{"streams": [{"codec_type": "video",
            "avg_frame_rate": "0/0", "r_frame_rate": "0/0"}]}"#,
        )
        .expect("parses");
        assert_eq!(facts.frame_rate, None);
        assert!(facts.has_video);
    }

    #[test]
    fn empty_and_bad_json() {
        let facts = parse_ffprobe_json("{}").expect("empty object parses");
        assert_eq!(facts, AvFacts::default());
        let err = parse_ffprobe_json("not json").expect_err("bad json");
        assert!(matches!(err, MediaError::Tool(_)), "{err:?}");
        assert!(!err.is_client_error());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("25/1"), Some(25.0));
        assert_eq!(parse_rate("25"), Some(25.0));
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("1/0"), None);
        assert_eq!(parse_rate("0/1"), None);
        assert_eq!(parse_rate("x/1"), None);
        assert_eq!(parse_rate(""), None);
    }

    #[tokio::test]
    async fn probes_clip_with_real_ffprobe() {
        let facts = probe_av(&fixture("clip.mp4"), "ffprobe").await.expect("probes");
        assert_clip(&facts);
        assert_eq!(facts, recorded("clip.mp4.json"));
    }

    #[tokio::test]
    async fn missing_ffprobe() {
        let err = probe_av(&fixture("clip.mp4"), "/nonexistent/ffprobe").await.expect_err("missing");
        assert!(matches!(&err, MediaError::Tool(msg) if msg == "ffprobe not found"), "{err:?}");
    }

    #[tokio::test]
    async fn garbage_is_client_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("garbage.mp4");
        std::fs::write(&path, [b'x'; 300]).expect("write");
        let err = probe_av(&path, "ffprobe").await.expect_err("garbage");
        assert!(err.is_client_error(), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("Invalid data found"), "{message}");
        assert!(!message.contains("garbage.mp4"), "path leaked: {message}");
    }

    #[test]
    fn stderr_message_strips_path() {
        let path = Path::new("/tmp/up/x.mp4");
        let stderr = b"[mov @ 0x1] moov atom not found\nfile:/tmp/up/x.mp4: Invalid data found when processing input\n";
        assert_eq!(stderr_message(stderr, path), "Invalid data found when processing input");
        assert_eq!(stderr_message(b"", path), "");
    }

    #[tokio::test]
    async fn missing_file_is_server_error() {
        let err = probe_av(&fixture("nope.mp4"), "ffprobe").await.expect_err("missing");
        assert!(matches!(err, MediaError::Io(_)), "{err:?}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn slow_ffprobe_times_out() {
        let hang = fixture("bin/hang-ffprobe");
        let hang = hang.to_str().expect("utf-8 path");
        let started = std::time::Instant::now();
        let err = run_ffprobe(&fixture("clip.mp4"), hang, Duration::from_millis(300)).await.expect_err("times out");
        assert!(matches!(err, MediaError::Timeout), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
