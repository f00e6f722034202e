//! Facts about raster images: dimensions and placeholders.
//!
//! [`probe_image`] reads the dimensions from the image header, then (for
//! images up to [`MAX_DECODE_PIXELS`]) decodes the image, shrinks it to fit
//! within 100x100 and derives from that thumbnail:
//!
//! * a [blurhash](https://blurha.sh) with 4x3 components,
//! * a [thumbhash](https://evanw.github.io/thumbhash/), standard base64 with
//!   padding (the encoding DatoCMS shows),
//! * up to five dominant colours.
//!
//! SVG is not handled here: the `image` crate cannot read it, so
//! [`probe_image`] returns [`MediaError::Unsupported`] and the caller leaves
//! width and height null. EXIF orientation is not applied: dimensions are
//! those stored in the file.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::Path;

use base64::Engine as _;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits, RgbaImage};
use serde::{Deserialize, Serialize};

use super::MediaError;

/// Images with more pixels than this get dimensions but no placeholders.
pub const MAX_DECODE_PIXELS: u64 = 100_000_000;
/// Memory the decoder may use for one image (the `image` crate's default).
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Thumbnails fit within this many pixels each way (thumbhash's maximum).
pub const THUMB_MAX_SIDE: u32 = 100;
const BLURHASH_COMPONENTS_X: u32 = 4;
const BLURHASH_COMPONENTS_Y: u32 = 3;
/// How many dominant colours to report.
const MAX_COLORS: usize = 5;
/// Colours closer than this (Euclidean RGB distance) count as the same.
const MIN_COLOR_DISTANCE: u32 = 24;

/// What [`probe_image`] learned about an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// Width in pixels, as stored in the file.
    pub width: u32,
    /// Height in pixels, as stored in the file.
    pub height: u32,
    /// Blurhash (4x3 components); `None` when the image was too large to decode.
    pub blurhash: Option<String>,
    /// Thumbhash, standard base64 with padding; `None` when too large to decode.
    pub thumbhash: Option<String>,
    /// Up to five dominant colours, most dominant first; empty when too large
    /// to decode or fully transparent.
    pub colors: Vec<Rgba>,
}

/// An sRGB colour with alpha, serialised like DatoCMS `colors` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgba {
    /// Red channel, 0–255.
    pub red: u8,
    /// Green channel, 0–255.
    pub green: u8,
    /// Blue channel, 0–255.
    pub blue: u8,
    /// Alpha channel, 0 (transparent) – 255 (opaque).
    pub alpha: u8,
}

/// Read an image's dimensions and compute its placeholders. Blocking: run it
/// in `spawn_blocking`.
///
/// The format is detected from the content (falling back to the file
/// extension). Errors: [`MediaError::Io`] when the file cannot be read,
/// [`MediaError::Decode`] for corrupt or truncated images,
/// [`MediaError::Unsupported`] for formats the `image` crate cannot decode
/// (SVG, HEIC, AVIF, …).
pub fn probe_image(path: &Path) -> Result<ImageFacts, MediaError> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    reader.limits(decoder_limits());
    let decoder = reader.into_decoder().map_err(media_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(MediaError::Decode("image has no pixels".to_owned()));
    }
    let mut facts = ImageFacts { width, height, blurhash: None, thumbhash: None, colors: Vec::new() };
    if !fits_decode_budget(width, height, decoder.total_bytes()) {
        tracing::debug!(width, height, "image too large to decode; skipping placeholders");
        return Ok(facts);
    }
    let image = match DynamicImage::from_decoder(decoder) {
        Ok(image) => image,
        Err(ImageError::Limits(err)) => {
            tracing::debug!(width, height, %err, "image decoding hit limits; skipping placeholders");
            return Ok(facts);
        }
        Err(err) => return Err(media_error(err)),
    };
    let thumb = thumbnail_rgba(&image);
    facts.blurhash = blurhash_of(&thumb);
    facts.thumbhash = thumbhash_of(&thumb);
    facts.colors = dominant_colors(&thumb, MAX_COLORS);
    Ok(facts)
}

fn decoder_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn fits_decode_budget(width: u32, height: u32, total_bytes: u64) -> bool {
    u64::from(width) * u64::from(height) <= MAX_DECODE_PIXELS && total_bytes <= MAX_DECODE_BYTES
}

/// Map `image` errors: bad content is the client's problem ([`MediaError::Decode`]),
/// a failing disk is ours ([`MediaError::Io`]).
fn media_error(err: ImageError) -> MediaError {
    match err {
        ImageError::Unsupported(_) => MediaError::Unsupported,
        ImageError::IoError(io) if is_bad_content(&io) => MediaError::Decode(io.to_string()),
        ImageError::IoError(io) => MediaError::Io(io),
        other => MediaError::Decode(other.to_string()),
    }
}

fn is_bad_content(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData)
}

/// Size fitting `width`x`height` within `max`x`max`, keeping the aspect
/// ratio, never upscaling and never reaching zero.
fn fit_within(width: u32, height: u32, max: u32) -> (u32, u32) {
    if width <= max && height <= max {
        return (width, height);
    }
    let scale = f64::from(max) / f64::from(width.max(height));
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, max);
    (side(width), side(height))
}

/// Facts of an image decoded elsewhere (libvips, for SVG, HEIC and AVIF): its size and a
/// thumbnail of at most 100×100 pixels.
pub fn facts_from_thumbnail(width: u32, height: u32, thumb: &RgbaImage) -> ImageFacts {
    ImageFacts {
        width,
        height,
        blurhash: blurhash_of(thumb),
        thumbhash: thumbhash_of(thumb),
        colors: dominant_colors(thumb, MAX_COLORS),
    }
}

fn thumbnail_rgba(image: &DynamicImage) -> RgbaImage {
    let (width, height) = (image.width(), image.height());
    let (thumb_width, thumb_height) = fit_within(width, height, THUMB_MAX_SIDE);
    if (thumb_width, thumb_height) == (width, height) {
        image.to_rgba8()
    } else {
        image.thumbnail_exact(thumb_width, thumb_height).to_rgba8()
    }
}

fn blurhash_of(thumb: &RgbaImage) -> Option<String> {
    let (width, height) = thumb.dimensions();
    let raw = thumb.as_raw();
    blurhash::encode(BLURHASH_COMPONENTS_X, BLURHASH_COMPONENTS_Y, width, height, raw).ok()
}

fn thumbhash_of(thumb: &RgbaImage) -> Option<String> {
    let (width, height) = thumb.dimensions();
    // `rgba_to_thumb_hash` asserts these; never hand it anything else.
    let valid = (1..=THUMB_MAX_SIDE).contains(&width) && (1..=THUMB_MAX_SIDE).contains(&height);
    if !valid {
        return None;
    }
    let hash = thumbhash::rgba_to_thumb_hash(width as usize, height as usize, thumb.as_raw());
    Some(base64::engine::general_purpose::STANDARD.encode(hash))
}

/// Running totals for the pixels that fell into one colour bucket.
#[derive(Default, Clone, Copy)]
struct Bucket {
    count: u64,
    sums: [u64; 4],
}

impl Bucket {
    fn add(&mut self, pixel: [u8; 4]) {
        self.count += 1;
        for (sum, channel) in self.sums.iter_mut().zip(pixel) {
            *sum += u64::from(channel);
        }
    }

    fn average(&self) -> Rgba {
        let avg = |sum: u64| ((sum + self.count / 2) / self.count.max(1)) as u8;
        Rgba { red: avg(self.sums[0]), green: avg(self.sums[1]), blue: avg(self.sums[2]), alpha: avg(self.sums[3]) }
    }
}

/// Up to `max` dominant colours: pixels are bucketed by the top 4 bits of
/// each RGB channel, buckets ranked by pixel count, and each reported as the
/// average colour of its pixels. Fully transparent pixels are ignored, and a
/// bucket whose average is within [`MIN_COLOR_DISTANCE`] of a colour already
/// picked is skipped so the palette shows distinct colours.
fn dominant_colors(thumb: &RgbaImage, max: usize) -> Vec<Rgba> {
    let mut buckets: HashMap<u16, Bucket> = HashMap::new();
    for pixel in thumb.pixels() {
        let [red, green, blue, alpha] = pixel.0;
        if alpha == 0 {
            continue;
        }
        let key = (u16::from(red >> 4) << 8) | (u16::from(green >> 4) << 4) | u16::from(blue >> 4);
        buckets.entry(key).or_default().add(pixel.0);
    }
    let mut ranked: Vec<(u16, Bucket)> = buckets.into_iter().collect();
    // Ties broken by bucket key so the result is deterministic.
    ranked.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let mut picked: Vec<Rgba> = Vec::with_capacity(max);
    for (_, bucket) in ranked {
        if picked.len() == max {
            break;
        }
        let color = bucket.average();
        if !picked.iter().any(|seen| close_colors(*seen, color)) {
            picked.push(color);
        }
    }
    picked
}

fn close_colors(a: Rgba, b: Rgba) -> bool {
    let diff = |x: u8, y: u8| u32::from(x.abs_diff(y)).pow(2);
    let distance_sq = diff(a.red, b.red) + diff(a.green, b.green) + diff(a.blue, b.blue);
    distance_sq < MIN_COLOR_DISTANCE.pow(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    fn rgba(red: u8, green: u8, blue: u8) -> Rgba {
        Rgba { red, green, blue, alpha: 255 }
    }

    fn near(a: Rgba, b: Rgba, tolerance: u8) -> bool {
        a.red.abs_diff(b.red) <= tolerance
            && a.green.abs_diff(b.green) <= tolerance
            && a.blue.abs_diff(b.blue) <= tolerance
    }

    fn decode_thumbhash(facts: &ImageFacts) -> Vec<u8> {
        let encoded = facts.thumbhash.as_deref().expect("thumbhash present");
        // Standard alphabet, padded: always a multiple of 4 characters.
        assert_eq!(encoded.len() % 4, 0, "{encoded}");
        base64::engine::general_purpose::STANDARD.decode(encoded).expect("valid base64")
    }

    // cat.png (see tests/fixtures/README.md): orange left part with a white
    // square, blue top right, green bottom right.
    const ORANGE: Rgba = Rgba { red: 0xE0, green: 0x70, blue: 0x20, alpha: 255 };
    const BLUE: Rgba = Rgba { red: 0x20, green: 0x50, blue: 0xC0, alpha: 255 };
    const GREEN: Rgba = Rgba { red: 0x30, green: 0xA0, blue: 0x40, alpha: 255 };
    const WHITE: Rgba = Rgba { red: 0xFF, green: 0xFF, blue: 0xFF, alpha: 255 };

    #[test]
    fn png_facts() {
        let facts = probe_image(&fixture("cat.png")).expect("png decodes");
        assert_eq!((facts.width, facts.height), (64, 48));
        let blurhash = facts.blurhash.as_deref().expect("blurhash present");
        // 1 size char + 1 max-AC char + 4 DC chars + 2 per AC component.
        assert_eq!(blurhash.len(), 6 + 2 * 11);
        let hash = decode_thumbhash(&facts);
        let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).expect("thumbhash");
        assert!((ratio - 64.0 / 48.0).abs() < 0.1, "aspect ratio {ratio}");
        // Uniform regions: exact colours, ordered by area.
        assert_eq!(facts.colors, vec![ORANGE, BLUE, GREEN, WHITE]);
    }

    #[test]
    fn jpeg_facts() {
        let facts = probe_image(&fixture("cat.jpg")).expect("jpeg decodes");
        assert_eq!((facts.width, facts.height), (80, 60));
        assert_eq!(facts.blurhash.as_deref().map(str::len), Some(28));
        let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&decode_thumbhash(&facts)).expect("thumbhash");
        assert!((ratio - 80.0 / 60.0).abs() < 0.1, "aspect ratio {ratio}");
        // Lossy: the same palette, approximately.
        assert!(facts.colors.len() >= 3, "{:?}", facts.colors);
        assert!(near(facts.colors[0], ORANGE, 12), "{:?}", facts.colors);
        assert!(near(facts.colors[1], BLUE, 12), "{:?}", facts.colors);

        let dog = probe_image(&fixture("dog.jpg")).expect("jpeg decodes");
        assert_eq!((dog.width, dog.height), (40, 30));
        assert!(dog.blurhash.is_some() && dog.thumbhash.is_some());
        assert!(!dog.colors.is_empty());
        assert_ne!(dog.blurhash, facts.blurhash);
    }

    #[test]
    fn corrupt_png_is_client_error() {
        let err = probe_image(&fixture("corrupt.png")).expect_err("corrupt");
        assert!(err.is_client_error(), "{err:?}");
    }

    #[test]
    fn svg_is_unsupported() {
        let err = probe_image(&fixture("drawing.svg")).expect_err("svg");
        assert!(matches!(err, MediaError::Unsupported), "{err:?}");
    }

    #[test]
    fn text_is_not_an_image() {
        let err = probe_image(&fixture("notes.txt")).expect_err("text");
        assert!(err.is_client_error(), "{err:?}");
    }

    #[test]
    fn missing_file_is_server_error() {
        let err = probe_image(&fixture("does-not-exist.png")).expect_err("missing");
        assert!(matches!(err, MediaError::Io(_)), "{err:?}");
        assert!(!err.is_client_error());
    }

    #[test]
    fn fit_within_keeps_ratio() {
        assert_eq!(fit_within(64, 48, 100), (64, 48));
        assert_eq!(fit_within(400, 300, 100), (100, 75));
        assert_eq!(fit_within(300, 400, 100), (75, 100));
        assert_eq!(fit_within(100_000, 10, 100), (100, 1));
        assert_eq!(fit_within(1, 5000, 100), (1, 100));
    }

    #[test]
    fn budget() {
        assert!(fits_decode_budget(10_000, 10_000, 400_000_000));
        assert!(!fits_decode_budget(10_001, 10_000, 400_040_000));
        assert!(!fits_decode_budget(8_000, 8_000, MAX_DECODE_BYTES + 1));
    }

    #[test]
    fn placeholders_for_odd_shapes() {
        for (width, height) in [(1, 1), (100, 1), (1, 100), (100, 100)] {
            let thumb = RgbaImage::from_pixel(width, height, image::Rgba([10, 20, 30, 255]));
            assert!(blurhash_of(&thumb).is_some(), "{width}x{height}");
            assert!(thumbhash_of(&thumb).is_some(), "{width}x{height}");
            assert_eq!(dominant_colors(&thumb, MAX_COLORS), vec![rgba(10, 20, 30)]);
        }
        let too_big = RgbaImage::new(101, 1);
        assert_eq!(thumbhash_of(&too_big), None);
    }

    #[test]
    fn transparent_pixels_are_ignored() {
        let mut thumb = RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 0, 0]));
        assert!(dominant_colors(&thumb, MAX_COLORS).is_empty());
        assert!(thumbhash_of(&thumb).is_some());
        thumb.put_pixel(0, 0, image::Rgba([200, 100, 50, 128]));
        let colors = dominant_colors(&thumb, MAX_COLORS);
        assert_eq!(colors, vec![Rgba { red: 200, green: 100, blue: 50, alpha: 128 }]);
    }

    #[test]
    fn dominant_colors_rank_and_merge() {
        // 60 red, 30 blue, 10 near-red pixels (in another bucket but too close).
        let mut thumb = RgbaImage::from_pixel(10, 10, image::Rgba([250, 0, 0, 255]));
        for (i, pixel) in thumb.pixels_mut().enumerate() {
            if (60..90).contains(&i) {
                *pixel = image::Rgba([0, 0, 250, 255]);
            } else if i >= 90 {
                *pixel = image::Rgba([250, 20, 0, 255]);
            }
        }
        let colors = dominant_colors(&thumb, MAX_COLORS);
        assert_eq!(colors, vec![rgba(250, 0, 0), rgba(0, 0, 250)]);
        assert_eq!(dominant_colors(&thumb, 1), vec![rgba(250, 0, 0)]);
    }

    #[test]
    fn large_image_is_thumbnailed() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(640, 320, image::Rgb([1, 2, 3])));
        assert_eq!(thumbnail_rgba(&image).dimensions(), (100, 50));
    }

    #[test]
    fn colors_serialise_like_datocms() {
        let json = serde_json::to_value(rgba(1, 2, 3)).expect("serialises");
        assert_eq!(json, serde_json::json!({"red": 1, "green": 2, "blue": 3, "alpha": 255}));
    }
}
