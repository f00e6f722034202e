//! Running ffmpeg: the HLS ladder in one process (one decode, a split, one encoder per rung),
//! and the MP4 renditions as copies of rungs' streams. The command is built by a pure function
//! ([`ladder_command`]) so that it is tested, logged and re-run by the benchmark as is.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::io::AsyncReadExt;

use super::{ladder::Rung, storyboard::Storyboard, VideoError};
use crate::media::{self, file_url};

/// Longest part of ffmpeg's stderr kept in an error message.
const MAX_STDERR_CHARS: usize = 400;
/// How long copying a rung into an MP4 may take.
const REMUX_TIMEOUT: Duration = Duration::from_secs(600);

/// How the ladder is encoded.
#[derive(Debug, Clone)]
pub struct EncodeSettings {
    pub ffmpeg: String,
    /// x264 preset.
    pub preset: String,
    /// Encoder threads (0: ffmpeg's choice).
    pub threads: usize,
    /// Target segment length in seconds; every rung has a keyframe at each multiple of it, so
    /// the rungs' segments line up and a player can switch between them at any boundary.
    pub segment_secs: u32,
    pub timeout: Duration,
}

/// The ffmpeg arguments that encode `rungs` of `source` into `out_dir`: `<rung>/index.m3u8`,
/// `<rung>/init_<i>.mp4` and `<rung>/seg_<n>.m4s` for each rung (fMP4 segments, VOD playlists),
/// and ffmpeg's own `master.m3u8` (read for the rungs' BANDWIDTH and CODECS). H.264 High at
/// constant quality held to each rung's maxrate, AAC stereo at 128 kbit/s when there is audio.
/// With a `storyboard`, one more branch of the same decode tiles its frames into
/// `storyboard.{jpg,png,webp}`.
pub fn ladder_command(
    settings: &EncodeSettings,
    source: &Path,
    out_dir: &Path,
    rungs: &[Rung],
    has_audio: bool,
    storyboard: Option<&Storyboard>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file"]);
    push(&["-i"]);
    args.push(file_url(source));
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    let labels: Vec<String> = (0..rungs.len()).map(|i| format!("[s{i}]")).collect();
    let scales: Vec<String> = rungs
        .iter()
        .enumerate()
        .map(|(i, r)| format!("[s{i}]scale={}:{}:flags=bicubic,setsar=1[o{i}]", r.width, r.height))
        .collect();
    let branches = rungs.len() + usize::from(storyboard.is_some());
    let mut graph = format!("[0:v:0]split={branches}{}", labels.concat());
    if storyboard.is_some() {
        graph.push_str("[sb]");
    }
    graph.push(';');
    graph.push_str(&scales.join(";"));
    if let Some(board) = storyboard {
        graph.push_str(&format!(";[sb]{},split=3[sb_jpg][sb_png][sb_webp]", board.filter()));
    }
    push(&["-filter_complex", &graph]);
    if storyboard.is_some() {
        let codecs: [(&str, &[&str]); 3] = [
            ("jpg", &["-c:v", "mjpeg", "-q:v", "3"]),
            ("png", &["-c:v", "png"]),
            ("webp", &["-c:v", "libwebp", "-quality", "75"]),
        ];
        for (image, codec) in codecs {
            let label = format!("[sb_{image}]");
            let output = [&["-map", label.as_str(), "-frames:v", "1"][..], codec, &["-f", "image2", "-update", "1"]];
            args.extend(output.concat().into_iter().map(OsString::from));
            args.push(out_dir.join(format!("storyboard.{image}")).into_os_string());
        }
    }
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    for i in 0..rungs.len() {
        push(&["-map", &format!("[o{i}]")]);
    }
    if has_audio {
        for _ in rungs {
            push(&["-map", "0:a:0"]);
        }
    }
    push(&["-c:v", "libx264", "-preset", &settings.preset, "-profile:v", "high", "-pix_fmt", "yuv420p", "-crf", "23"]);
    for (i, rung) in rungs.iter().enumerate() {
        push(&[&format!("-maxrate:v:{i}"), &format!("{}k", rung.max_kbps)]);
        push(&[&format!("-bufsize:v:{i}"), &format!("{}k", rung.max_kbps * 2)]);
    }
    let keyframes = format!("expr:gte(t,n_forced*{})", settings.segment_secs);
    push(&["-force_key_frames", &keyframes, "-sc_threshold", "0"]);
    if settings.threads > 0 {
        push(&["-threads", &settings.threads.to_string()]);
    }
    if has_audio {
        push(&["-c:a", "aac", "-b:a", "128k", "-ac", "2"]);
    }
    let stream_map: Vec<String> = rungs
        .iter()
        .enumerate()
        .map(|(i, r)| if has_audio { format!("v:{i},a:{i},name:{}", r.name) } else { format!("v:{i},name:{}", r.name) })
        .collect();
    push(&["-f", "hls", "-hls_time", &settings.segment_secs.to_string(), "-hls_playlist_type", "vod"]);
    push(&["-hls_segment_type", "fmp4", "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4"]);
    push(&["-master_pl_name", "master.m3u8", "-var_stream_map", &stream_map.join(" ")]);
    push(&["-hls_segment_filename"]);
    args.push(out_dir.join("%v").join("seg_%05d.m4s").into_os_string());
    args.push(out_dir.join("%v").join("index.m3u8").into_os_string());
    args
}

/// Encodes the ladder (see [`ladder_command`]).
pub async fn encode_ladder(settings: &EncodeSettings, args: Vec<OsString>) -> Result<(), VideoError> {
    run(&settings.ffmpeg, args, settings.timeout).await
}

/// Copies the rung whose media playlist is `playlist` into the MP4 at `out` (`+faststart`: the
/// index first, so players start before the whole file arrived).
pub async fn remux_mp4(settings: &EncodeSettings, playlist: &Path, out: &Path) -> Result<(), VideoError> {
    let mut args: Vec<OsString> =
        ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file", "-i"]
            .map(OsString::from)
            .to_vec();
    args.push(file_url(playlist));
    args.extend(["-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4"].map(OsString::from));
    args.push(file_url(out));
    run(&settings.ffmpeg, args, REMUX_TIMEOUT).await
}

/// Runs ffmpeg to the end (killed past `timeout`, when the caller gives up: the job lost its
/// lease, or with this process). A failure is the file's (`Rejected`) unless ffmpeg could not
/// start or was killed.
async fn run(ffmpeg: &str, args: Vec<OsString>, timeout: Duration) -> Result<(), VideoError> {
    let mut command = tokio::process::Command::new(ffmpeg);
    command.args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    media::die_with_this_process(&mut command);
    let mut child =
        command.spawn().map_err(|error| VideoError::Transient(anyhow::anyhow!("cannot run {ffmpeg}: {error}")))?;
    // stderr is read as it comes (a full pipe would stall ffmpeg), keeping only its tail.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let tail = async move {
        let mut tail = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buffer[..n]);
            if tail.len() > 16 * 1024 {
                tail.drain(..tail.len() - 8 * 1024);
            }
        }
        tail
    };
    let waited = tokio::time::timeout(timeout, async { tokio::join!(child.wait(), tail) }).await;
    let Ok((status, tail)) = waited else {
        return Err(VideoError::Rejected(format!("the transcode took longer than {} s", timeout.as_secs())));
    };
    let status = status.map_err(|error| VideoError::Transient(error.into()))?;
    if status.success() {
        return Ok(());
    }
    let message = String::from_utf8_lossy(&tail);
    let last = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let last: String = last.chars().take(MAX_STDERR_CHARS).collect();
    match status.code() {
        Some(code) => Err(VideoError::Rejected(format!("ffmpeg exited with code {code}: {last}"))),
        // Killed by a signal (an operator, the OOM killer): worth another try.
        None => Err(VideoError::Transient(anyhow::anyhow!("ffmpeg died ({status}): {last}"))),
    }
}

/// Where ffmpeg's own master playlist lands in `out_dir`.
pub fn ffmpeg_master(out_dir: &Path) -> PathBuf {
    out_dir.join("master.m3u8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::ladder::plan;

    #[test]
    fn the_command_maps_every_rung_and_its_audio() {
        let settings = EncodeSettings {
            ffmpeg: "ffmpeg".into(),
            preset: "veryfast".into(),
            threads: 2,
            segment_secs: 4,
            timeout: Duration::from_secs(60),
        };
        let rungs = plan(1280, 720, &[1080, 720, 480]);
        let args = ladder_command(&settings, Path::new("/s/in.mp4"), Path::new("/o"), &rungs, true, None);
        let line: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = line.join(" ");
        assert!(line.contains("-i file:/s/in.mp4"), "{line}");
        assert!(line.contains("[0:v:0]split=2[s0][s1];[s0]scale=1280:720:flags=bicubic,setsar=1[o0];[s1]scale=854:480"));
        assert!(line.contains("-maxrate:v:1 988k -bufsize:v:1 1976k"), "{line}");
        assert!(line.contains("-var_stream_map v:0,a:0,name:720p v:1,a:1,name:480p"), "{line}");
        assert!(line.contains("-force_key_frames expr:gte(t,n_forced*4)"), "{line}");
        assert!(line.ends_with("-hls_segment_filename /o/%v/seg_%05d.m4s /o/%v/index.m3u8"), "{line}");
        let silent = ladder_command(&settings, Path::new("/s/in.mp4"), Path::new("/o"), &rungs, false, None);
        let silent: Vec<String> = silent.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(!silent.iter().any(|a| a == "0:a:0" || a == "aac"));
        assert!(silent.contains(&"v:0,name:720p v:1,name:480p".to_owned()));

        let board = crate::video::storyboard::plan(1280, 720, Some(60.0));
        let args = ladder_command(&settings, Path::new("/s/in.mp4"), Path::new("/o"), &rungs, true, board.as_ref());
        let line: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = line.join(" ");
        assert!(line.contains("[0:v:0]split=3[s0][s1][sb];"), "{line}");
        assert!(line.contains(";[sb]fps=fps=0.833333:start_time=0,scale=256:144"), "{line}");
        assert!(
            line.contains("-map [sb_jpg] -frames:v 1 -c:v mjpeg -q:v 3 -f image2 -update 1 /o/storyboard.jpg"),
            "{line}"
        );
        assert!(line.contains("/o/storyboard.webp -map [o0] -map [o1]"), "the ladder's output comes last: {line}");
    }
}
