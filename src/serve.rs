//! `assetd serve`: runs the HTTP server, the job worker and the periodic sweeps on one [`App`]
//! until shutdown, then drains them in order (server, worker, database).
//!
//! The only module that starts long-running tasks; it wires the layers and owns none of them.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    api::{self, server::ConnectionLimits, state::ApiState},
    app::App,
    cleanup,
    jobs::Worker,
    video,
};

/// Serves HTTP on the configured address and runs the worker until `shutdown` resolves.
pub async fn serve_until_shutdown(
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(app.config.listen).await.with_context(|| format!("binding {}", app.config.listen))?;
    serve_on(app, listener, shutdown).await
}

/// Like [`serve_until_shutdown`] on a listener bound by the caller.
pub async fn serve_on(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = api::router(ApiState::new(app.clone()).await?);
    tracing::info!(address = %listener.local_addr()?, public_url = %app.public_url, "assetd is listening");
    let (stop_worker, stop_signal) = tokio::sync::watch::channel(false);
    let sweeper = cleanup::Sweeper::new(app.db.clone(), app.storage.clone(), &app.config);
    cleanup::start(sweeper, stop_signal.clone()).await;
    let db = app.db.clone();
    tokio::spawn(async move {
        match video::backfill_streams(&db).await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "queued the streams of videos uploaded before streaming"),
            Err(error) => tracing::warn!(%error, "cannot queue the streams of older videos (next start retries)"),
        }
    });
    let worker = (app.config.workers > 0)
        .then(|| tokio::spawn(Worker::new(app.clone()).run_until_stopped(app.config.workers, stop_signal)));
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(app.config.header_timeout_secs),
        idle_timeout: Duration::from_secs(app.config.idle_timeout_secs),
    };
    api::server::serve(listener, router, limits, shutdown).await;
    tracing::info!("HTTP server stopped; stopping the worker");
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        if let Err(error) = worker.await {
            tracing::error!(%error, "the worker task failed");
        }
    }
    app.db.close().await;
    Ok(())
}
