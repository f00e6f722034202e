//! The GraphQL edge: DatoCMS's Content Delivery API for uploads (`allUploads`, `upload`,
//! `_allUploadsMeta`, `FileField` with `responsiveImage` and `video`), so a DatoCMS front-end
//! (`@datocms/cda-client`, react-datocms) keeps its queries. The schema is DatoCMS's own, read
//! from [`sdl::SCHEMA_SDL`] into async-graphql's dynamic schema; resolvers read the upload
//! listing (`db`, one query planner with the CMA's `GET /uploads`), the image pipeline's
//! geometry (sizes) and the video outputs. The HTTP side (token, ETag) is `api`'s.
//!
//! Uses `app`, `db`, `domain`, `imaging`, `uploads` (the filter parser), `video`; never `api`.

mod context;
mod file_field;
mod filters;
mod imgix;
mod placeholder;
mod query;
mod resolvers;
mod responsive_image;
mod sdl;
mod video_field;

use std::sync::Arc;

use async_graphql::dynamic::Schema;

use self::context::{GraphqlData, OutputLimits, QueryBudget};
pub use self::sdl::SCHEMA_SDL;
use crate::app::App;

/// Deepest query taken (DatoCMS's upload queries nest four or five levels).
const MAX_DEPTH: usize = 12;
/// Most fields one query may select, fragments expanded.
const MAX_COMPLEXITY: usize = 2_000;

/// The schema, built once per process.
pub struct GraphqlSchema(Schema);

impl GraphqlSchema {
    pub fn build(app: Arc<App>) -> anyhow::Result<Self> {
        let limits =
            OutputLimits { max_output_pixels: app.config.max_output_pixels, max_upscale: app.config.max_upscale };
        let builder = Schema::build("Query", None, None);
        let builder = sdl::register_types(builder, &app.config.locales)?;
        let schema = builder
            .data(GraphqlData { app, limits })
            .limit_depth(MAX_DEPTH)
            .limit_complexity(MAX_COMPLEXITY)
            .limit_recursive_depth(32)
            .finish()?;
        Ok(GraphqlSchema(schema))
    }

    /// Runs one query, within its own [`context::QueryBudget`].
    pub async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.0.execute(request.data(QueryBudget::default())).await
    }

    /// The schema as SDL (the snapshot test compares it with the committed one).
    pub fn sdl(&self) -> String {
        self.0.sdl()
    }
}
