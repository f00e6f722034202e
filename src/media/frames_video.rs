//! An animation's frames (PNG files and their delays, listed in an ffconcat file) encoded by
//! ffmpeg as a video: `fm=mp4` (H.264, yuv420p, `faststart`) and `fm=webm` (VP9) of an animated
//! GIF or WebP. Each frame lasts its own delay (variable frame rate); both sides are rounded
//! down to even, as 4:2:0 chroma needs.

use std::{fmt::Write as _, path::Path, time::Duration};

use super::{ffmpeg_run, MediaError};

/// The video codec of [`encode_frames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramesVideo {
    Mp4,
    Webm,
}

/// Shortest frame written (ms): ffmpeg's concat demuxer needs a duration, browsers show GIF
/// delays under 20 ms as 100 ms.
const MIN_DELAY_MS: i32 = 20;
const DEFAULT_DELAY_MS: i32 = 100;

/// The ffconcat list of `frames` (file names in the list's directory) with their `delays_ms`.
/// Each image is read at a millisecond time base (the image demuxer's default 25 fps would round
/// every start to 40 ms); the last image is listed once more, so that the one before it lasts
/// its delay: the video has one frame more than the animation, the last one repeated at its end.
pub fn concat_list(frames: &[String], delays_ms: &[i32]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    for (name, delay) in frames.iter().zip(delays_ms) {
        let delay = if *delay < MIN_DELAY_MS { DEFAULT_DELAY_MS } else { *delay };
        let _ = writeln!(list, "file '{name}'\noption framerate 1000\nduration {:.3}", f64::from(delay) / 1000.0);
    }
    if let Some(last) = frames.last() {
        let _ = writeln!(list, "file '{last}'\noption framerate 1000");
    }
    list
}

/// Encodes the frames listed in `list` (see [`concat_list`]) to `output`. `MediaError::Timeout`
/// past `timeout` (ffmpeg is killed).
pub async fn encode_frames(
    ffmpeg: &str,
    list: &Path,
    format: FramesVideo,
    output: &Path,
    timeout: Duration,
) -> Result<(), MediaError> {
    // `-safe 0` allows the list's `option` lines; its file names are assetd's own.
    let mut args = ffmpeg_run::args(["-safe", "0", "-f", "concat", "-i"]);
    args.push(ffmpeg_run::file_url(list));
    let codec: &[&str] = match format {
        FramesVideo::Mp4 => {
            &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-movflags", "+faststart", "-f", "mp4"]
        }
        FramesVideo::Webm => &[
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "0",
            "-crf",
            "33",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-row-mt",
            "1",
            "-f",
            "webm",
        ],
    };
    args.extend(ffmpeg_run::args([
        "-an",
        "-fps_mode",
        "vfr",
        "-vf",
        "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p",
    ]));
    args.extend(ffmpeg_run::args(codec.iter().copied()));
    ffmpeg_run::make_file(ffmpeg, &args, output, timeout, "the frames could not be encoded").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_gives_each_frame_its_delay_and_repeats_the_last() {
        let list = concat_list(&["a.png".into(), "b.png".into()], &[40, 0]);
        let option = "option framerate 1000";
        assert_eq!(
            list,
            format!(
                "ffconcat version 1.0\nfile 'a.png'\n{option}\nduration 0.040\nfile 'b.png'\n{option}\nduration 0.100\n\
                 file 'b.png'\n{option}\n"
            )
        );
    }
}
