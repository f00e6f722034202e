//! Tracing setup and the shutdown signal shared by the binary and the end-to-end tests. Uses only
//! `config` (the log format).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr; `RUST_LOG` overrides the default `info` level. In JSON, each line is one
/// object: the event's fields at the top level, and the fields of the span it happened in (the
/// request's `request_id`, `method` and `route`; a job's `id` and `kind`) under `span`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) is harmless: ignore the error it returns.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}

/// Resolves on SIGTERM or Ctrl-C, and says so in the log.
pub async fn shutdown_signal() {
    termination_requested().await;
    tracing::info!("shutdown signal received");
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination_requested() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
