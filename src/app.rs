//! `App`: everything a request or a job needs, built once at start and shared by the HTTP server,
//! the worker and the tests.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, sync::Notify};

use crate::{
    api::{
        self, rate_limit::RateLimiter, server::ConnectionLimits, signing::UrlSigner, token_cache::TokenCache,
        transform_policy::TransformPolicy,
    },
    config::Config,
    db::Db,
    domain::{new_entity_id, new_secret, now_millis},
    ingest::IngestSettings,
    jobs::Worker,
    metrics::Metrics,
    renditions::{RenditionSettings, Renditions},
    storage::Storage,
    views::ViewContext,
};

/// Name of the token managed through `ASSETD_API_TOKEN`.
const CONFIGURED_TOKEN_NAME: &str = "ASSETD_API_TOKEN";

pub struct App {
    pub config: Config,
    /// Absolute base of upload and asset URLs, without a trailing slash.
    pub public_url: String,
    pub db: Db,
    pub storage: Storage,
    /// What resource rendering needs (asset base, locales, metadata shape).
    pub views: ViewContext,
    pub ingest: IngestSettings,
    /// Signs the direct-PUT URLs.
    pub signer: UrlSigner,
    pub rate_limiter: RateLimiter,
    /// Recently seen API tokens.
    pub tokens: TokenCache,
    /// Wakes this node's worker when a job is queued here.
    pub job_wakeup: Notify,
    /// Derived images (transforms, poster frames, sanitised SVGs) and their cache.
    pub renditions: Renditions,
    /// Which transform URLs are served (signatures, presets).
    pub transform_policy: TransformPolicy,
    /// Per-client-address budget on asset URLs and the direct PUT.
    pub public_rate_limiter: RateLimiter,
    /// The instruments `/metrics` renders.
    pub metrics: Metrics,
    /// The Content-Security-Policy of the Media Area's files, made on first use (`api::ui`).
    pub ui_policy: tokio::sync::OnceCell<String>,
}

impl App {
    /// The embedded default: SQLite and files under the data directory.
    pub async fn build(config: Config) -> anyhow::Result<Arc<App>> {
        let storage = Storage::from_config(&config).context("opening the file store")?;
        Self::build_with_storage(config, storage).await
    }

    /// Like [`App::build`] with another blob store (tests use memory).
    pub async fn build_with_storage(config: Config, storage: Storage) -> anyhow::Result<Arc<App>> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
        let db = Db::open_configured(&config.database_args()).await?;
        let signing_key = db.setting_or_insert("upload_url_signing_key", &new_secret()).await?;
        ensure_api_token(&db, &config).await?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen))
            .trim_end_matches('/')
            .to_owned();
        let renditions = Renditions::new(storage.clone(), RenditionSettings::from_config(&config), db.clone())
            .context("starting the image pipeline (libvips)")?;
        let metrics = Metrics::new(renditions.metrics().clone(), storage.metrics().clone());
        let app = App {
            views: ViewContext::from_config(&config, &public_url),
            ingest: IngestSettings {
                strip_location: config.strip_location,
                ..IngestSettings::new(config.data_dir.join("tmp"), config.ffprobe.clone())
            },
            signer: UrlSigner::new(signing_key.into_bytes()),
            rate_limiter: RateLimiter::new(config.rate_limit, Duration::from_secs(config.rate_limit_window_secs)),
            public_rate_limiter: RateLimiter::new(
                config.public_rate_limit,
                Duration::from_secs(config.rate_limit_window_secs),
            ),
            transform_policy: TransformPolicy::new(
                config.transform_secret.as_ref(),
                &config.transform_presets,
                config.transform_presets_only,
            )
            .map_err(|message| anyhow::anyhow!("ASSETD_TRANSFORM_PRESETS: {message}"))?,
            tokens: TokenCache::default(),
            job_wakeup: Notify::new(),
            renditions,
            metrics,
            ui_policy: tokio::sync::OnceCell::new(),
            public_url,
            db,
            storage,
            config,
        };
        Ok(Arc::new(app))
    }

    /// Serves HTTP and runs the worker until `shutdown` resolves, then drains both.
    pub async fn serve_until_shutdown(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let listener =
            TcpListener::bind(self.config.listen).await.with_context(|| format!("binding {}", self.config.listen))?;
        self.serve_on(listener, shutdown).await
    }

    /// Like [`App::serve_until_shutdown`] on a listener bound by the caller.
    pub async fn serve_on(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %listener.local_addr()?, public_url = %self.public_url, "assetd is listening");
        let (stop_worker, stop_signal) = tokio::sync::watch::channel(false);
        crate::cleanup::start(self.clone(), stop_signal.clone()).await;
        let worker = (self.config.workers > 0)
            .then(|| tokio::spawn(Worker::new(self.clone()).run_until_stopped(self.config.workers, stop_signal)));
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(self.config.header_timeout_secs),
            idle_timeout: Duration::from_secs(self.config.idle_timeout_secs),
        };
        api::server::serve(listener, api::router(self.clone()), limits, shutdown).await;
        tracing::info!("HTTP server stopped; stopping the worker");
        let _ = stop_worker.send(true);
        if let Some(worker) = worker {
            if let Err(error) = worker.await {
                tracing::error!(%error, "the worker task failed");
            }
        }
        self.db.close().await;
        Ok(())
    }
}

/// Makes sure a token exists: the configured one (created or rotated to the configured secret),
/// or on a first start without one, a generated token printed once.
async fn ensure_api_token(db: &Db, config: &Config) -> anyhow::Result<()> {
    if let Some(secret) = &config.api_token {
        db.upsert_token(&new_entity_id(), CONFIGURED_TOKEN_NAME, &api::sha256_hex(secret.expose()), now_millis())
            .await?;
        return Ok(());
    }
    if db.count_tokens().await? == 0 {
        let secret = new_secret();
        db.upsert_token(&new_entity_id(), "generated", &api::sha256_hex(&secret), now_millis()).await?;
        // Printed once, on purpose, to stdout: this is the only time the secret is shown.
        println!("assetd: created a full-access API token (shown only now): {secret}");
    }
    Ok(())
}
