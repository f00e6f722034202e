//! Running ffmpeg to make one file: quiet, local files only, no stdin, killed past the timeout
//! or when the caller gives up; a failure is reported with ffmpeg's last line of stderr.

use std::{ffi::OsString, path::Path, process::Stdio, time::Duration};

use super::MediaError;

/// `file:<path>`: ffmpeg and ffprobe never read a path as an option (`-x`) or as a URL of another
/// protocol (`http://…`).
pub fn file_url(path: &Path) -> OsString {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    url
}

/// Runs `ffmpeg <preamble> <args> -y file:<output>`. `Ok` when ffmpeg succeeded and wrote a
/// non-empty `output`; else `MediaError::Decode` with ffmpeg's last stderr line (or `fallback`),
/// `Timeout` past `timeout`, `Tool` when ffmpeg cannot run.
pub(super) async fn make_file(
    ffmpeg: &str,
    args: &[OsString],
    output: &Path,
    timeout: Duration,
    fallback: &str,
) -> Result<(), MediaError> {
    let mut command = tokio::process::Command::new(ffmpeg);
    command
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file"])
        .args(args)
        .arg("-y")
        .arg(file_url(output))
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
        return Err(MediaError::Decode(stderr.lines().last().unwrap_or(fallback).to_owned()));
    }
    Ok(())
}

/// `OsString`s of `items`.
pub(super) fn args<S: AsRef<std::ffi::OsStr>>(items: impl IntoIterator<Item = S>) -> Vec<OsString> {
    items.into_iter().map(|item| item.as_ref().to_owned()).collect()
}
