//! Image delivery: imgix-style transforms of uploads at their public URL (spec §7), made with
//! libvips and kept as derived images in blob storage.
//!
//! * [`params`] reads the URL parameters; [`geometry`] turns them and the source size into a
//!   [`geometry::Plan`]; [`pipeline`] runs the plan with libvips ([`vips`], the only unsafe code);
//! * [`Transformer`] is the service: it canonicalises a request into a cache key, serves derived
//!   images from storage, renders each key once (concurrent requests wait for the first), bounds
//!   how many transforms run at once and for how long, and purges an upload's derived images.

pub mod geometry;
pub mod params;
pub mod pipeline;
mod service;
mod vips;

pub use params::{OutputFormat, ParamError, TransformParams};
pub use pipeline::{Limits, TransformError};
pub use service::{Derived, Source, Transformer, TransformerSettings, Variant};

/// The MIME types the pipeline reads. Other files (and images of other types) are always served
/// as uploaded; their URLs ignore rendering parameters.
pub fn can_transform(mime_type: &str) -> bool {
    matches!(
        mime_type,
        "image/jpeg"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/heic"
            | "image/heif"
            | "image/tiff"
            | "image/svg+xml"
    )
}

/// The libvips version assetd runs with.
pub fn engine_version() -> String {
    vips::version()
}
