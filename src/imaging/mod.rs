//! Image delivery's pure part: imgix-style transforms of an image file (spec §7), made with
//! libvips. It knows nothing of where files are kept or which derived images exist: it may use
//! [`crate::domain`], [`crate::media`] and [`crate::metrics`], never the database, blob storage or
//! the configuration (the renditions workflow, [`crate::renditions`], brings those).
//!
//! * [`params`] reads the URL parameters; [`geometry`] turns them and the source size into a
//!   [`geometry::Plan`]; [`pipeline`] runs the plan with libvips (`vips.rs`) and encodes WebP with
//!   libwebp 1.6 (`webp.rs`): the only two modules with unsafe code;
//! * [`Renderer`] renders local files within the process's bounds: how many transforms run at
//!   once, the memory they take together by their estimates (`memory.rs`), how long they wait
//!   and compute, and the memory given back after each (`allocator.rs`); it also takes video
//!   poster frames and sanitises SVGs.
//!
//! A new imgix parameter belongs here (`params`, `geometry`, `pipeline`); a new cache policy
//! belongs to [`crate::renditions`].

mod adjust;
mod allocator;
mod animation;
pub mod geometry;
pub mod imgix_catalog;
mod imgix_table;
mod mask;
mod memory;
mod padding;
pub mod params;
pub mod pipeline;
mod renderer;
mod vips;
mod webp;

pub use params::{download_name, OutputFormat, ParamError, TransformParams, DELIVERY_PARAMS, RENDERED_PARAMS};
pub use pipeline::{Limits, TransformError};
pub use renderer::{Renderer, RendererSettings, MAX_SANITIZED_SVG_BYTES};

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

/// Size and a small upright sRGB thumbnail (RGBA, at most `max_side` each way) of an image the
/// `image` crate cannot read (SVG, HEIC, AVIF); `None` above `max_pixels` (only the size is
/// read). Blocking.
pub fn probe(path: &std::path::Path, max_side: u32, max_pixels: u64) -> Result<Probed, ProbeError> {
    let header = vips::Image::open(path, vips::LoadOptions::default()).map_err(|e| ProbeError(e.0))?;
    let (width, height) = (header.width(), header.height());
    drop(header);
    if u64::from(width) * u64::from(height) > max_pixels {
        return Ok(Probed { width, height, thumbnail: None });
    }
    let thumb = vips::Image::thumbnail(path, max_side, max_side).map_err(|e| ProbeError(e.0))?;
    let (tw, th) = (thumb.width(), thumb.height());
    let rgba = thumb.to_rgba_bytes().map_err(|e| ProbeError(e.0))?;
    Ok(Probed { width, height, thumbnail: image::RgbaImage::from_raw(tw, th, rgba) })
}

/// What [`probe`] learned.
pub struct Probed {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Option<image::RgbaImage>,
}

/// libvips could not read the file.
#[derive(Debug, thiserror::Error)]
#[error("image could not be read: {0}")]
pub struct ProbeError(String);

/// The libvips version assetd runs with.
pub fn engine_version() -> String {
    vips::version()
}
