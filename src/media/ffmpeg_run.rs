//! Running ffmpeg to make one file: quiet, local files only, no stdin, killed past the timeout,
//! when the caller gives up or with this process; a failure is reported with ffmpeg's last line of stderr.

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
    die_with_this_process(&mut command);
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

/// Has the kernel SIGKILL the command's process when the thread that spawns it ends. kill_on_drop
/// covers a timeout, a lost lease and a shutdown, but a node that is SIGKILLed (or crashes) drops
/// nothing: its ffmpeg (or speech-to-text command) would run on, reparented, taking every core
/// for work nobody stores while another node redoes the job. The spawning thread is one of the runtime's workers, which
/// live as long as the process (nothing here uses `block_in_place`).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn die_with_this_process(command: &mut tokio::process::Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the child between fork and exec and only makes two system
    // calls (no allocation, no lock), as `pre_exec` requires.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The parent died before the call took effect: no signal will come, so do not start.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub fn die_with_this_process(_command: &mut tokio::process::Command) {}

/// `OsString`s of `items`.
pub(super) fn args<S: AsRef<std::ffi::OsStr>>(items: impl IntoIterator<Item = S>) -> Vec<OsString> {
    items.into_iter().map(|item| item.as_ref().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_command_is_killed_when_the_thread_that_spawned_it_ends() {
        use rustix::process::{waitpid, Pid, Signal, WaitOptions};
        // A thread that spawns `sleep 30` and ends without waiting for it or killing it, as a
        // SIGKILLed process leaves its children.
        let pid = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut command = tokio::process::Command::new("sleep");
                command.arg("30");
                die_with_this_process(&mut command);
                let child = command.spawn().expect("sleep runs");
                let pid = child.id().expect("a pid");
                std::mem::forget(child);
                pid
            })
        })
        .join()
        .unwrap();
        let pid = Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
        let (_, status) = waitpid(Some(pid), WaitOptions::empty()).unwrap().expect("a status");
        assert_eq!(status.terminating_signal(), Some(Signal::KILL.as_raw()), "killed, not run for 30 s: {status:?}");
    }
}
