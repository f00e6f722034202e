//! Runs one transform: open the original, execute the [`Plan`], encode. Blocking and CPU-bound:
//! call it from `spawn_blocking`, under the service's concurrency bound.

use std::path::Path;

use super::{
    geometry::{self, Padding, Plan},
    params::{Color, OutputFormat, ParamError, TransformParams, COMPRESS_QUALITY, DEFAULT_QUALITY},
    vips::{Encoding, Image, LoadOptions, VipsError},
};

/// Bounds on one transform.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest source (width × height × pages) assetd will decode.
    pub max_input_pixels: u64,
    /// Largest output (width × height); larger requests are scaled down.
    pub max_output_pixels: u64,
}

/// Why a transform could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("invalid parameter {0}")]
    Params(#[from] ParamError),
    #[error("the image has {pixels} pixels, more than the {limit} assetd transforms")]
    TooLarge { pixels: u64, limit: u64 },
    #[error("the image could not be decoded: {0}")]
    Decode(String),
    #[error("the transform took too long")]
    Timeout,
    #[error("too many transforms are waiting")]
    Busy,
    #[error("transform failed: {0}")]
    Internal(String),
}

/// A transform, fully resolved: what to do and how to encode it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Normalised parameters: `dpr` folded into `w`/`h`, the focal point resolved.
    pub params: TransformParams,
    /// The output format, or `None` for "same family as the source" (decided once the source's
    /// alpha is known, see [`default_format`]).
    pub format: Option<OutputFormat>,
    /// The focal point used by `crop=focalpoint` when no `fp-x`/`fp-y` is given.
    pub focal_point: (f64, f64),
}

/// An encoded result.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
}

/// The output format when the URL does not choose one: the source's own format where browsers
/// show it, otherwise JPEG (PNG when there is transparency).
pub fn default_format(source_mime: &str, has_alpha: bool) -> OutputFormat {
    match source_mime {
        "image/jpeg" => OutputFormat::Jpeg,
        "image/png" => OutputFormat::Png,
        "image/gif" => OutputFormat::Gif,
        "image/webp" => OutputFormat::Webp,
        "image/avif" => OutputFormat::Avif,
        _ if has_alpha => OutputFormat::Png,
        _ => OutputFormat::Jpeg,
    }
}

/// Renders `recipe` from the original at `path` (of type `source_mime`).
pub fn render(path: &Path, source_mime: &str, recipe: &Recipe, limits: &Limits) -> Result<Rendered, TransformError> {
    let header = Image::open(path, LoadOptions::default()).map_err(decode_error)?;
    let pages = u64::from(header.pages());
    let pixels = u64::from(header.width()) * u64::from(header.page_height().max(1)) * pages.max(1);
    let pixels = pixels.max(u64::from(header.width()) * u64::from(header.height()));
    if pixels > limits.max_input_pixels {
        return Err(TransformError::TooLarge { pixels, limit: limits.max_input_pixels });
    }
    let orientation = header.orientation();
    let swapped = orientation >= 5;
    let (width, height) = if swapped { (header.height(), header.width()) } else { (header.width(), header.height()) };
    let (width, height) = (width, if pages > 1 { header.page_height().min(height) } else { height });
    let plan = geometry::plan(width, height, &recipe.params, recipe.focal_point, limits.max_output_pixels)?;
    drop(header);

    let shrink = load_shrink(&plan);
    let options = match source_mime {
        "image/jpeg" if shrink > 1 => LoadOptions { jpeg_shrink: Some(shrink), ..LoadOptions::default() },
        "image/webp" if shrink > 1 => LoadOptions { webp_scale: Some(1.0 / f64::from(shrink)), ..Default::default() },
        _ => LoadOptions::default(),
    };
    let mut image = Image::open(path, options).map_err(decode_error)?;
    if orientation != 1 {
        image = image.autorotate().map_err(internal)?;
    }
    if pages > 1 && image.height() > height {
        image = image.extract(0, 0, image.width(), height.min(image.height())).map_err(internal)?;
    }
    image = image.to_srgb().map_err(decode_error)?;

    // Shrink-on-load decoded a smaller image: map the plan's region onto it.
    let kx = f64::from(image.width()) / f64::from(width);
    let ky = f64::from(image.height()) / f64::from(height);
    let region = plan.region;
    let left = ((f64::from(region.x) * kx).round() as u32).min(image.width() - 1);
    let top = ((f64::from(region.y) * ky).round() as u32).min(image.height() - 1);
    let w = ((f64::from(region.width) * kx).round() as u32).clamp(1, image.width() - left);
    let h = ((f64::from(region.height) * ky).round() as u32).clamp(1, image.height() - top);
    if (left, top, w, h) != (0, 0, image.width(), image.height()) {
        image = image.extract(left, top, w, h).map_err(internal)?;
    }
    let (rw, rh) = plan.resized;
    if (rw, rh) != (image.width(), image.height()) {
        image = image.resize(f64::from(rw) / f64::from(w), f64::from(rh) / f64::from(h)).map_err(internal)?;
        image = exact_size(image, rw, rh)?;
    }
    if let Some(crop) = plan.smart_crop {
        image = image.smart_crop(crop.width, crop.height, crop.attention).map_err(internal)?;
    }

    let format = recipe.format.unwrap_or_else(|| default_format(source_mime, image.has_alpha()));
    let params = &recipe.params;
    image = pad(image, &plan, format, params.bg)?;
    if let Some(blur) = params.blur.filter(|b| *b > 0) {
        image = image.gaussian_blur(f64::from(blur) / 20.0).map_err(internal)?;
    }
    if image.has_alpha() {
        match (format.has_alpha(), params.bg) {
            (false, bg) => image = image.flatten(bg.unwrap_or(Color::WHITE).rgb()).map_err(internal)?,
            (true, Some(bg)) if bg.a == 255 => image = image.flatten(bg.rgb()).map_err(internal)?,
            _ => {}
        }
    }
    let encoding = encoding(format, params);
    let (out_w, out_h) = (image.width(), image.height());
    let bytes = image.prepared_for_save().and_then(|i| i.save(&encoding)).map_err(|e| {
        if e.0.contains("killed") {
            TransformError::Timeout
        } else {
            decode_error(e)
        }
    })?;
    let bytes = if format == OutputFormat::Webp { strip_webp_metadata(bytes) } else { bytes };
    Ok(Rendered { bytes, format, width: out_w, height: out_h })
}

/// Removes the EXIF and XMP chunks of a WebP file (libvips 8.14's WebP saver writes an EXIF chunk
/// even with `strip`), clearing their flags in the VP8X header. Anything unexpected: unchanged.
pub fn strip_webp_metadata(webp: Vec<u8>) -> Vec<u8> {
    if webp.len() < 12 || &webp[..4] != b"RIFF" || &webp[8..12] != b"WEBP" {
        return webp;
    }
    let mut out = webp[..12].to_vec();
    let mut at = 12;
    while at + 8 <= webp.len() {
        let fourcc = &webp[at..at + 4];
        let size = u32::from_le_bytes([webp[at + 4], webp[at + 5], webp[at + 6], webp[at + 7]]) as usize;
        let end = at + 8 + size + (size & 1);
        if end > webp.len() {
            return webp;
        }
        match fourcc {
            b"EXIF" | b"XMP " => {}
            b"VP8X" if size >= 1 => {
                let flags_at = out.len() + 8;
                out.extend_from_slice(&webp[at..end]);
                out[flags_at] &= !(0x08 | 0x04);
            }
            _ => out.extend_from_slice(&webp[at..end]),
        }
        at = end;
    }
    let riff_size = u32::try_from(out.len() - 8).unwrap_or(u32::MAX);
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    out
}

/// The JPEG/WebP shrink-on-load factor: the largest of 8, 4, 2 that the plan's reduction allows
/// (libjpeg scales the DCT, so a 12 MP photo for a 720 px thumbnail is decoded at 1/4 size).
fn load_shrink(plan: &Plan) -> u32 {
    let (rw, rh) = plan.resized;
    let ratio = (f64::from(plan.region.width) / f64::from(rw)).min(f64::from(plan.region.height) / f64::from(rh));
    [8, 4, 2].into_iter().find(|f| ratio >= f64::from(*f)).unwrap_or(1)
}

/// Rounding inside libvips can leave a pixel more or less than asked: trim or extend the edge.
fn exact_size(image: Image, width: u32, height: u32) -> Result<Image, TransformError> {
    if (image.width(), image.height()) == (width, height) {
        return Ok(image);
    }
    let mut image = image;
    if image.width() > width || image.height() > height {
        image = image.extract(0, 0, width.min(image.width()), height.min(image.height())).map_err(internal)?;
    }
    if image.width() < width || image.height() < height {
        image = image.embed(0, 0, width, height, None).map_err(internal)?;
    }
    Ok(image)
}

/// `fit=fill`/`fillmax`/`clamp`: place the image on its canvas.
fn pad(image: Image, plan: &Plan, format: OutputFormat, bg: Option<Color>) -> Result<Image, TransformError> {
    let Some(canvas) = plan.canvas else { return Ok(image) };
    if (canvas.width, canvas.height) == (image.width(), image.height()) {
        return Ok(image);
    }
    let fill = match canvas.padding {
        Padding::Edge => None,
        Padding::Solid => {
            let color = bg.unwrap_or(if format.has_alpha() { Color::TRANSPARENT } else { Color::WHITE });
            Some(color)
        }
    };
    let (image, background) = match fill {
        None => (image, None),
        Some(color) if image.has_alpha() || color.a < 255 => {
            let image = if image.has_alpha() { image } else { image.add_alpha().map_err(internal)? };
            let [r, g, b] = color.rgb();
            (image, Some(vec![r, g, b, f64::from(color.a)]))
        }
        Some(color) => (image, Some(color.rgb().to_vec())),
    };
    image.embed(canvas.left, canvas.top, canvas.width, canvas.height, background.as_deref()).map_err(internal)
}

/// Encoder settings: imgix's default quality 75 (45 with `auto=compress`), `lossless` for WebP and
/// AVIF, palette PNG for `png8` and `auto=compress`.
fn encoding(format: OutputFormat, params: &TransformParams) -> Encoding {
    let quality = params.q.unwrap_or(if params.auto_compress { COMPRESS_QUALITY } else { DEFAULT_QUALITY });
    match format {
        OutputFormat::Jpeg | OutputFormat::ProgressiveJpeg => Encoding::Jpeg {
            quality,
            progressive: format == OutputFormat::ProgressiveJpeg,
            optimize: params.auto_compress,
        },
        OutputFormat::Png | OutputFormat::Png8 => Encoding::Png {
            palette: format == OutputFormat::Png8 || params.auto_compress,
            quality: params.q.unwrap_or(100),
            compression: 6,
        },
        OutputFormat::Webp => Encoding::Webp { quality, lossless: params.lossless, effort: 4 },
        OutputFormat::Avif => Encoding::Avif { quality, lossless: params.lossless, effort: 3 },
        OutputFormat::Gif => Encoding::Gif,
    }
}

fn decode_error(e: VipsError) -> TransformError {
    TransformError::Decode(e.0)
}

fn internal(e: VipsError) -> TransformError {
    TransformError::Internal(e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = fourcc.to_vec();
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_le_bytes());
        out.extend_from_slice(b"WEBP");
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn webp_metadata_chunks_are_removed() {
        let vp8x = chunk(b"VP8X", &[0x08 | 0x04 | 0x10, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
        let image = chunk(b"VP8 ", b"pixels!");
        let input = riff(&[vp8x, image.clone(), chunk(b"EXIF", b"Exif\0\0gps"), chunk(b"XMP ", b"<x/>")]);
        let output = strip_webp_metadata(input);
        let expected = riff(&[chunk(b"VP8X", &[0x10, 0, 0, 0, 1, 0, 0, 1, 0, 0]), image]);
        assert_eq!(output, expected);
        assert_eq!(strip_webp_metadata(b"not webp".to_vec()), b"not webp");
    }
}
