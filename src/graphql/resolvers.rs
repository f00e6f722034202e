//! Which function resolves each field of the schema (by type and field name); the schema is
//! built only if every field of [`super::sdl::SCHEMA_SDL`] has one.

use async_graphql::dynamic::{FieldFuture, ResolverContext};

use super::{file_field, query, responsive_image, video_field};

/// A field's resolver.
pub(super) type Resolve = for<'a> fn(ResolverContext<'a>) -> FieldFuture<'a>;

pub(super) fn resolver(type_name: &str, field: &str) -> Option<Resolve> {
    match type_name {
        "Query" => {
            let resolve: Resolve = match field {
                "allUploads" => query::all_uploads,
                "upload" => query::upload,
                "_allUploadsMeta" => query::all_uploads_meta,
                _ => return None,
            };
            Some(resolve)
        }
        "CollectionMetadata" if field == "count" => Some(query::count),
        "FileField" => file_field::field(field),
        "ColorField" => file_field::color_field(field),
        "focalPoint" => file_field::focal_point_field(field),
        "ResponsiveImage" => responsive_image::field(field),
        "UploadVideoField" => video_field::field(field),
        _ => None,
    }
}
