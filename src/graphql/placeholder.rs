//! The tiny blurred placeholders: `blurUpThumb` and `responsiveImage.base64`, a JPEG decoded from
//! the upload's blurhash at the shape of the image asked for (longest side `size`, 24 px by
//! default), as a `data:` URI. Made in memory from the stored hash: no image is read.

use async_graphql::dynamic::{FieldValue, ResolverContext};
use base64::Engine;

use super::{file_field::FileView, imgix, responsive_image};

/// Largest `size` taken (each placeholder is decoded per request: kept tiny on purpose).
const MAX_SIZE: i64 = 64;

/// `blurUpThumb(punch, size, quality, imgixParams)`.
pub(super) fn blur_up_thumb(
    ctx: &ResolverContext<'_>,
    file: &FileView,
) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let punch = ctx.args.get("punch").map(|v| v.f64()).transpose()?.unwrap_or(1.0);
    let size = ctx.args.get("size").map(|v| v.i64()).transpose()?.unwrap_or(24);
    let quality = ctx.args.get("quality").map(|v| v.i64()).transpose()?.unwrap_or(70);
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(async_graphql::Error::new(format!("size must be between 1 and {MAX_SIZE}")));
    }
    if !(1..=100).contains(&quality) {
        return Err(async_graphql::Error::new("quality must be between 1 and 100"));
    }
    if !(punch.is_finite() && (0.0..=10.0).contains(&punch)) {
        return Err(async_graphql::Error::new("punch must be between 0 and 10"));
    }
    let query = imgix::query_of(ctx.args.get("imgixParams"))?;
    let shape = match imgix::transform_params(&query)? {
        Some(params) => {
            let limits = &ctx.data::<super::context::GraphqlData>()?.limits;
            responsive_image::output_size(file, &params, limits).unwrap_or(source_shape(file))
        }
        None => source_shape(file),
    };
    Ok(data_uri(file, shape, size as u32, punch as f32, quality as u8).map(FieldValue::value))
}

fn source_shape(file: &FileView) -> (u32, u32) {
    let side = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0).unwrap_or(1);
    (side(file.row.width), side(file.row.height))
}

/// The placeholder of `file` at the shape `(width, height)`, longest side `size`; `None` without
/// a blurhash.
pub(super) fn data_uri(
    file: &FileView,
    (width, height): (u32, u32),
    size: u32,
    punch: f32,
    quality: u8,
) -> Option<String> {
    let hash = file.row.blurhash.as_deref()?;
    let (w, h) = if width >= height {
        (size, ((f64::from(size) * f64::from(height) / f64::from(width.max(1))).round() as u32).max(1))
    } else {
        (((f64::from(size) * f64::from(width) / f64::from(height.max(1))).round() as u32).max(1), size)
    };
    let rgba = blurhash::decode(hash, w, h, punch).ok()?;
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg)))
}
