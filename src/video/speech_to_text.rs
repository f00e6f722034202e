//! The configured speech-to-text command (`ASSETD_SPEECH_TO_TEXT_COMMAND`): run without a shell,
//! in a process group of its own (so that a timeout or a cancelled job stops what it started
//! too), killed with this process (a parent-death signal), with no stdin, its stdout dropped and only the end of its stderr kept for the error.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The end of the command's stderr kept to explain a failure.
const STDERR_TAIL_BYTES: usize = 4096;

/// The command and how long it may run.
#[derive(Debug, Clone)]
pub struct SpeechToText {
    /// Program and arguments, with `{input}`, `{language}` and `{output_dir}` not yet replaced.
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// Why the command made no subtitles.
#[derive(Debug, thiserror::Error)]
pub enum SpeechToTextError {
    #[error("the speech-to-text command could not start: {0}")]
    Spawn(std::io::Error),
    #[error("the speech-to-text command ran longer than {0} s")]
    Timeout(u64),
    #[error("the speech-to-text command failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("the speech-to-text command wrote no .vtt or .srt file")]
    NoOutput,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl SpeechToText {
    /// Runs the command on the WAV file `audio` for `language` (a BCP 47 tag; the command gets
    /// its primary subtag); returns the subtitle file it wrote in `output_dir`.
    pub async fn transcribe(
        &self,
        audio: &Path,
        language: &str,
        output_dir: &Path,
    ) -> Result<PathBuf, SpeechToTextError> {
        let argv = self.arguments(audio, language, output_dir);
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        crate::media::die_with_this_process(&mut command);
        let mut child = command.spawn().map_err(SpeechToTextError::Spawn)?;
        let _group = child.id().and_then(ProcessGroup::of);
        let stderr = child.stderr.take();
        let run = async { tokio::join!(child.wait(), stderr_tail(stderr)) };
        let (status, tail) = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| SpeechToTextError::Timeout(self.timeout.as_secs()))?;
        let status = status?;
        if !status.success() {
            let stderr = tail.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no message").to_owned();
            return Err(SpeechToTextError::Failed { status: status.to_string(), stderr });
        }
        subtitle_file_in(output_dir).await?.ok_or(SpeechToTextError::NoOutput)
    }

    /// The command line with its placeholders replaced.
    fn arguments(&self, audio: &Path, language: &str, output_dir: &Path) -> Vec<String> {
        let primary = language.split('-').next().unwrap_or(language).to_ascii_lowercase();
        self.argv
            .iter()
            .map(|arg| {
                arg.replace("{input}", &audio.to_string_lossy())
                    .replace("{language}", &primary)
                    .replace("{output_dir}", &output_dir.to_string_lossy())
            })
            .collect()
    }
}

/// The command's process group, killed when dropped: nothing it started outlives the job run
/// (finished, timed out or cancelled).
struct ProcessGroup(rustix::process::Pid);

impl ProcessGroup {
    fn of(pid: u32) -> Option<Self> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
        (!pid.is_init()).then_some(ProcessGroup(pid))
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // ESRCH (the group is gone) is the usual answer.
        let _ = rustix::process::kill_process_group(self.0, rustix::process::Signal::KILL);
    }
}

/// The last [`STDERR_TAIL_BYTES`] of `stderr`, read to its end (so the command never blocks on a
/// full pipe), as text.
async fn stderr_tail(stderr: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut stderr) = stderr else { return String::new() };
    let mut tail = Vec::with_capacity(STDERR_TAIL_BYTES * 2);
    let mut buf = [0u8; 4096];
    while let Ok(read @ 1..) = stderr.read(&mut buf).await {
        tail.extend_from_slice(&buf[..read]);
        if tail.len() > STDERR_TAIL_BYTES * 2 {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    }
    let start = tail.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(&tail[start..]).into_owned()
}

/// The subtitle file the command wrote: the first `.vtt` by name, else the first `.srt`.
async fn subtitle_file_in(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut found = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let rank = match extension.as_deref() {
            Some("vtt") => 0,
            Some("srt") => 1,
            _ => continue,
        };
        if entry.file_type().await?.is_file() {
            found.push((rank, path));
        }
    }
    found.sort();
    Ok(found.into_iter().next().map(|(_, path)| path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, timeout: Duration) -> SpeechToText {
        let argv = ["sh", "-c", script, "stt", "{input}", "{language}", "{output_dir}"];
        SpeechToText { argv: argv.map(str::to_owned).to_vec(), timeout }
    }

    #[test]
    fn placeholders_are_replaced_in_every_argument() {
        let stt = SpeechToText {
            argv: ["w", "--in={input}", "-l", "{language}", "{output_dir}/out"].map(str::to_owned).to_vec(),
            timeout: Duration::from_secs(1),
        };
        let argv = stt.arguments(Path::new("/tmp/a.wav"), "pt-BR", Path::new("/tmp/o"));
        assert_eq!(argv, ["w", "--in=/tmp/a.wav", "-l", "pt", "/tmp/o/out"]);
    }

    #[tokio::test]
    async fn the_written_file_is_found_vtt_first() {
        let dir = tempfile::tempdir().unwrap();
        let stt =
            shell(r#"echo x > "$3/b.srt"; echo x > "$3/a.vtt"; echo x > "$3/notes.txt""#, Duration::from_secs(10));
        let file = stt.transcribe(Path::new("/dev/null"), "it", dir.path()).await.unwrap();
        assert_eq!(file, dir.path().join("a.vtt"));
    }

    #[tokio::test]
    async fn failures_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let failed = shell("echo first >&2; echo 'no model for $2' >&2; exit 3", Duration::from_secs(10));
        match failed.transcribe(Path::new("/dev/null"), "it", dir.path()).await {
            Err(SpeechToTextError::Failed { stderr, .. }) => assert_eq!(stderr, "no model for $2"),
            other => panic!("{other:?}"),
        }
        let silent = shell("true", Duration::from_secs(10));
        assert!(matches!(
            silent.transcribe(Path::new("/dev/null"), "it", dir.path()).await,
            Err(SpeechToTextError::NoOutput)
        ));
        let missing = SpeechToText {
            argv: vec!["/nonexistent/stt".into(), "{input}".into(), "{output_dir}".into()],
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(
            missing.transcribe(Path::new("/dev/null"), "it", dir.path()).await,
            Err(SpeechToTextError::Spawn(_))
        ));
    }

    #[tokio::test]
    async fn a_timeout_stops_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        // A child of the command that would write the marker after the timeout.
        let script = format!("(sleep 2; touch '{}') & sleep 30", marker.display());
        let stt = shell(&script, Duration::from_millis(300));
        let started = std::time::Instant::now();
        let result = stt.transcribe(Path::new("/dev/null"), "it", dir.path()).await;
        assert!(matches!(result, Err(SpeechToTextError::Timeout(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the command's background child outlived the timeout");
    }

    #[tokio::test]
    async fn a_chatty_stderr_is_kept_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let stt = shell("yes progress | head -n 200000 >&2; echo the-end >&2; exit 1", Duration::from_secs(10));
        match stt.transcribe(Path::new("/dev/null"), "it", dir.path()).await {
            Err(SpeechToTextError::Failed { stderr, .. }) => assert_eq!(stderr, "the-end"),
            other => panic!("{other:?}"),
        }
    }
}
