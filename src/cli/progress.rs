//! Progress of `import` and `export`: on a terminal an indicatif bar (bytes, files done, failures
//! as their own lines above it); otherwise one plain line per file on stderr, so logs stay readable.
//! And how they end: an error is one line on stderr and exit code 1 (no backtrace, even with
//! `RUST_BACKTRACE` set).

use std::{
    io::IsTerminal,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cma_client::OnBytes;

pub struct Progress {
    /// `None` when stderr is not a terminal: plain lines instead.
    bar: Option<ProgressBar>,
    files: u64,
    done: AtomicU64,
}

impl Progress {
    pub fn new(files: u64, bytes: u64) -> Arc<Progress> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let progress = Progress { bar, files, done: AtomicU64::new(0) };
        progress.set_message();
        Arc::new(progress)
    }

    fn set_message(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}/{} files", self.done.load(Ordering::Relaxed), self.files));
        }
    }

    /// A callback adding transferred bytes to the bar (negative counts take bytes back).
    pub fn on_bytes(self: &Arc<Self>) -> OnBytes {
        let progress = self.clone();
        Arc::new(move |delta: i64| progress.add_bytes(delta))
    }

    pub fn add_bytes(&self, delta: i64) {
        if let Some(bar) = &self.bar {
            if delta >= 0 {
                bar.inc(delta as u64);
            } else {
                bar.set_position(bar.position().saturating_sub(delta.unsigned_abs()));
            }
        }
    }

    /// One file is finished; `line` says how (printed as is without a terminal).
    pub fn file_done(&self, line: &str) {
        self.done.fetch_add(1, Ordering::Relaxed);
        match &self.bar {
            Some(_) => self.set_message(),
            None => eprintln!("{line}"),
        }
    }

    /// One file failed: always its own line.
    pub fn file_failed(&self, line: &str) {
        self.done.fetch_add(1, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                self.set_message();
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Ends the process with exit code 1 and `error: <message>` on one line when `result` failed.
pub fn exit_on_error(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(error) = result {
        let message = format!("{error:#}").replace('\n', " ");
        eprintln!("error: {message}");
        std::process::exit(1);
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (quietly: the summary says the run was interrupted).
pub async fn interrupted() {
    crate::telemetry::termination_requested().await;
}

/// The closing lines of a run: `counts`, then the failures, what was left undone and the time;
/// then one line per failed file.
pub fn print_summary(
    counts: String,
    failed: &[(String, String)],
    not_done: usize,
    rate_limit_waits: u64,
    started: std::time::Instant,
) {
    let mut line = format!("{counts}, {} failed", failed.len());
    if not_done > 0 {
        line.push_str(&format!(", {not_done} not done"));
    }
    if rate_limit_waits > 0 {
        line.push_str(&format!(", {rate_limit_waits} rate-limit waits"));
    }
    line.push_str(&format!(" in {}", indicatif::HumanDuration(started.elapsed())));
    println!("{line}");
    for (path, reason) in failed {
        println!("  failed {path}: {reason}");
    }
}
