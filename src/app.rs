//! `App`: the service's capabilities (configuration, database, blob store, renditions, video
//! streams, ingest settings, metrics, the job wake-up), built once at start and shared by the HTTP edge, the
//! worker and the tests.
//!
//! It holds no HTTP piece (those are `api::state`'s) and starts nothing (`serve.rs` runs the
//! server, the worker and the sweeps): every layer above may use it, and it uses none of them.

use std::sync::Arc;

use anyhow::Context;

use crate::{
    config::Config,
    db::{Db, DbError},
    domain::{new_entity_id, new_secret, now_millis, token_secret_hash},
    ingest::IngestSettings,
    metrics::Metrics,
    queue::{self, Job, JobWakeup},
    renditions::{RenditionSettings, Renditions},
    storage::Storage,
    video::{Transcoder, VideoSettings},
    views::ViewContext,
    webhooks::EventSource,
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
    /// Derived images (transforms, poster frames, sanitised SVGs) and their cache.
    pub renditions: Renditions,
    /// Video streams: transcodes (this node's slots), their outputs.
    pub video: Transcoder,
    /// The instruments `/metrics` renders.
    pub metrics: Metrics,
    /// Wakes this node's worker when a commit queued work here.
    pub jobs: JobWakeup,
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
        let video = Transcoder::new(db.clone(), storage.clone(), VideoSettings::from_config(&config)?);
        let app = App {
            video,
            views: ViewContext::from_config(&config, &public_url),
            ingest: IngestSettings {
                strip_location: config.strip_location,
                ..IngestSettings::new(config.data_dir.join("tmp"), config.ffprobe.clone())
            },
            jobs: JobWakeup::default(),
            renditions,
            metrics,
            public_url,
            db,
            storage,
            config,
        };
        Ok(Arc::new(app))
    }

    /// Queues `job` in a transaction of its own and wakes the worker; returns the job id for the
    /// 202 answer. Producers already in a transaction use [`queue::enqueue_in`].
    pub async fn enqueue<J: Job>(&self, job: &J) -> Result<String, DbError> {
        let mut tx = self.db.begin_write().await?;
        let id = queue::enqueue_in(&mut tx, job).await?;
        tx.commit().await?;
        self.jobs.wake();
        Ok(id)
    }

    /// Who the webhook events of this deployment come from.
    pub fn event_source(&self) -> EventSource<'_> {
        EventSource::of(&self.config)
    }
}

/// Makes sure a token exists: the configured one (created or rotated to the configured secret),
/// or on a first start without one, a generated token printed once.
async fn ensure_api_token(db: &Db, config: &Config) -> anyhow::Result<()> {
    if let Some(secret) = &config.api_token {
        db.upsert_token(&new_entity_id(), CONFIGURED_TOKEN_NAME, &token_secret_hash(secret.expose()), now_millis())
            .await?;
        return Ok(());
    }
    if db.count_tokens().await? == 0 {
        let secret = new_secret();
        db.upsert_token(&new_entity_id(), "generated", &token_secret_hash(&secret), now_millis()).await?;
        // Printed once, on purpose, to stdout: this is the only time the secret is shown.
        println!("assetd: created a full-access API token (shown only now): {secret}");
    }
    Ok(())
}
