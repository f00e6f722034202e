//! Subtitle files for a video's text tracks: WebVTT kept as WebVTT, SubRip (SRT) converted to it,
//! both read and written by ffmpeg's own demuxers and muxer (so a file is kept only if a real
//! parser reads cues from it).

use std::{path::Path, time::Duration};

use super::{ffmpeg_run, MediaError};

/// Largest subtitle file taken.
pub const MAX_SUBTITLE_BYTES: u64 = 10 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleFormat {
    WebVtt,
    SubRip,
}

impl SubtitleFormat {
    /// ffmpeg's demuxer for it.
    fn demuxer(self) -> &'static str {
        match self {
            SubtitleFormat::WebVtt => "webvtt",
            SubtitleFormat::SubRip => "srt",
        }
    }
}

/// The format of a subtitle file from its first bytes: WebVTT starts with `WEBVTT` (after an
/// optional byte order mark), SubRip with a cue number, then a `-->` timing line.
pub fn sniff_subtitles(head: &[u8]) -> Option<SubtitleFormat> {
    let text = String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head)).into_owned();
    if text.starts_with("WEBVTT")
        && text[6..].chars().next().is_none_or(|c| c == ' ' || c == '\t' || c == '\n' || c == '\r')
    {
        return Some(SubtitleFormat::WebVtt);
    }
    let mut lines = text.lines().map(str::trim).skip_while(|line| line.is_empty());
    let number = lines.next()?;
    let timing = lines.next()?;
    (number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() && timing.contains("-->"))
        .then_some(SubtitleFormat::SubRip)
}

/// Writes the subtitles at `input` (of `format`) to `output` as WebVTT; returns how many cues it
/// holds. `MediaError::Decode` when ffmpeg reads no cue from it.
pub async fn convert_to_webvtt(
    ffmpeg: &str,
    input: &Path,
    format: SubtitleFormat,
    output: &Path,
    timeout: Duration,
) -> Result<usize, MediaError> {
    let mut args = ffmpeg_run::args(["-f", format.demuxer(), "-i"]);
    args.push(ffmpeg_run::file_url(input));
    args.extend(ffmpeg_run::args(["-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt"]));
    ffmpeg_run::make_file(ffmpeg, &args, output, timeout, "not readable as subtitles").await?;
    // The output is at most a few times the input (bounded by MAX_SUBTITLE_BYTES).
    let written = tokio::fs::read_to_string(output).await?;
    let cues = written.lines().filter(|line| line.contains(" --> ")).count();
    if cues == 0 {
        return Err(MediaError::Decode("no cue could be read".into()));
    }
    Ok(cues)
}

/// Writes the first audio stream of the video at `input` to `output` as a 16 kHz mono 16-bit WAV
/// file, the input speech-to-text engines (Whisper, Vosk, …) take. `MediaError::Decode` when the
/// video has no audio ffmpeg reads.
pub async fn extract_speech_audio(
    ffmpeg: &str,
    input: &Path,
    output: &Path,
    timeout: Duration,
) -> Result<(), MediaError> {
    let mut args = ffmpeg_run::args(["-i"]);
    args.push(ffmpeg_run::file_url(input));
    args.extend(ffmpeg_run::args([
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
    ]));
    ffmpeg_run::make_file(ffmpeg, &args, output, timeout, "the video has no audio that can be read").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_from_their_first_bytes() {
        assert_eq!(sniff_subtitles(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHi"), Some(SubtitleFormat::WebVtt));
        assert_eq!(sniff_subtitles(b"\xEF\xBB\xBFWEBVTT - title\n"), Some(SubtitleFormat::WebVtt));
        assert_eq!(sniff_subtitles(b"\n1\r\n00:00:01,000 --> 00:00:02,000\r\nHi\r\n"), Some(SubtitleFormat::SubRip));
        for other in [&b"WEBVTTX"[..], b"hello", b"1\nhello", b"", b"<html>", b"\x89PNG"] {
            assert_eq!(sniff_subtitles(other), None, "{other:?}");
        }
    }

    #[tokio::test]
    async fn srt_becomes_webvtt_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let srt = dir.path().join("in.srt");
        std::fs::write(
            &srt,
            "1\n00:00:00,500 --> 00:00:02,000\nHello\n\n2\n00:00:02,500 --> 00:00:04,000\n<i>World</i>\n",
        )
        .unwrap();
        let out = dir.path().join("out.vtt");
        let cues =
            convert_to_webvtt("ffmpeg", &srt, SubtitleFormat::SubRip, &out, Duration::from_secs(20)).await.unwrap();
        assert_eq!(cues, 2);
        let vtt = std::fs::read_to_string(&out).unwrap();
        assert!(vtt.starts_with("WEBVTT"), "{vtt}");
        assert!(vtt.contains("00:00.500 --> 00:02.000\nHello"), "{vtt}");

        let garbage = dir.path().join("bad.vtt");
        std::fs::write(&garbage, "WEBVTT\n\nthis is not a cue\n").unwrap();
        let error = convert_to_webvtt("ffmpeg", &garbage, SubtitleFormat::WebVtt, &out, Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(matches!(error, MediaError::Decode(_)), "{error:?}");
    }
}
