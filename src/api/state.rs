//! The router's state: the service's capabilities ([`App`]) and what only the HTTP edge uses
//! ([`HttpEdge`]: rate limiters, the token cache, the URL signer, the transform policy, the
//! Media Area's policy, the GraphQL schema). Handlers extract either one (`State<Arc<App>>`, `State<Arc<HttpEdge>>`)
//! through [`FromRef`].

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::extract::FromRef;

use super::{rate_limit::RateLimiter, signing::UrlSigner, token_cache::TokenCache, transform_policy::TransformPolicy};
use crate::{app::App, domain::new_secret, graphql::GraphqlSchema};

/// What the HTTP edge keeps besides the capabilities.
pub struct HttpEdge {
    /// Signs the direct-PUT URLs.
    pub signer: UrlSigner,
    /// Per-token budget on the CMA.
    pub rate_limiter: RateLimiter,
    /// Per-client-address budget on asset URLs and the direct PUT.
    pub public_rate_limiter: RateLimiter,
    /// Recently seen API tokens.
    pub tokens: TokenCache,
    /// Which transform URLs are served (signatures, presets).
    pub transform_policy: TransformPolicy,
    /// The Content-Security-Policy of the Media Area's files, made on first use (`api::ui`).
    pub ui_policy: tokio::sync::OnceCell<String>,
    /// DatoCMS's Content Delivery API schema for uploads (`POST /graphql`).
    pub graphql: GraphqlSchema,
}

/// The state every route and layer gets.
#[derive(Clone)]
pub struct ApiState {
    pub app: Arc<App>,
    pub http: Arc<HttpEdge>,
}

impl ApiState {
    /// Builds the HTTP pieces from the app's configuration (the URL-signing key is kept in the
    /// database, so that every node signs alike).
    pub async fn new(app: Arc<App>) -> anyhow::Result<ApiState> {
        let config = &app.config;
        let signing_key = app
            .db
            .setting_or_insert("upload_url_signing_key", &new_secret())
            .await
            .context("reading the upload URL signing key")?;
        let window = Duration::from_secs(config.rate_limit_window_secs);
        let http = HttpEdge {
            signer: UrlSigner::new(signing_key.into_bytes()),
            rate_limiter: RateLimiter::new(config.rate_limit, window),
            public_rate_limiter: RateLimiter::new(config.public_rate_limit, window),
            tokens: TokenCache::default(),
            transform_policy: TransformPolicy::new(
                config.transform_secret.as_ref(),
                &config.transform_presets,
                config.transform_presets_only,
            )
            .map_err(|message| anyhow::anyhow!("ASSETD_TRANSFORM_PRESETS: {message}"))?,
            ui_policy: tokio::sync::OnceCell::new(),
            graphql: GraphqlSchema::build(app.clone()).context("building the GraphQL schema")?,
        };
        Ok(ApiState { app, http: Arc::new(http) })
    }
}

impl FromRef<ApiState> for Arc<App> {
    fn from_ref(state: &ApiState) -> Self {
        state.app.clone()
    }
}

impl FromRef<ApiState> for Arc<HttpEdge> {
    fn from_ref(state: &ApiState) -> Self {
        state.http.clone()
    }
}
