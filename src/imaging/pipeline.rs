//! Runs one transform: open the original, execute the [`Plan`], encode. Blocking and CPU-bound:
//! call it from `spawn_blocking`, under the service's concurrency bound.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use super::{
    geometry::{self, Canvas, Padding, Plan},
    memory::{Encoder, Footprint, SourceKind},
    params::{Color, Fill, OutputFormat, ParamError, TransformParams, COMPRESS_QUALITY, DEFAULT_QUALITY},
    vips::{Encoding, Image, LoadOptions, Timing, VipsError},
    webp::{self, WebpError, WebpOptions},
};

/// Bounds on one transform.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest source (width × height × pages) assetd will decode.
    pub max_input_pixels: u64,
    /// Largest output (width × height); larger requests are scaled down.
    pub max_output_pixels: u64,
    /// Largest output width and height as multiples of the source's (0: no bound); larger
    /// requests are scaled down.
    pub max_upscale: f64,
}

/// Why a transform could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("invalid parameter {0}")]
    Params(#[from] ParamError),
    #[error("the image has {pixels} pixels, more than the {limit} assetd transforms")]
    TooLarge { pixels: u64, limit: u64 },
    /// What was made is larger than assetd keeps (an animated preview).
    #[error("the result has {bytes} bytes, more than the {limit} assetd keeps")]
    OutputTooLarge { bytes: u64, limit: u64 },
    #[error("the image could not be decoded: {0}")]
    Decode(String),
    #[error("the transform took too long")]
    Timeout,
    #[error("too many transforms are waiting")]
    Busy,
    /// Waited for a slot (and its memory) longer than the queue wait limit.
    #[error("the transform waited too long for its turn")]
    QueueTimeout,
    /// The original left the store while the transform was being made (the upload was deleted,
    /// or replaced by a new version).
    #[error("the upload's file is gone")]
    SourceGone,
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

/// The output format when the URL does not choose one, for sources browsers show: their own.
/// `None` for the others (HEIC, TIFF, SVG), which become JPEG, or PNG with transparency
/// ([`default_format`], once the pixels are known).
pub fn format_for_source(source_mime: &str) -> Option<OutputFormat> {
    match source_mime {
        "image/jpeg" => Some(OutputFormat::Jpeg),
        "image/png" => Some(OutputFormat::Png),
        "image/gif" => Some(OutputFormat::Gif),
        "image/webp" => Some(OutputFormat::Webp),
        "image/avif" => Some(OutputFormat::Avif),
        _ => None,
    }
}

/// The output format when the URL does not choose one (see [`format_for_source`]).
pub fn default_format(source_mime: &str, has_alpha: bool) -> OutputFormat {
    match format_for_source(source_mime) {
        Some(format) => format,
        None if has_alpha => OutputFormat::Png,
        None => OutputFormat::Jpeg,
    }
}

/// A transform planned from the source's header, before any pixel is decoded: what will be
/// decoded, made and encoded, and about how much memory that takes ([`Planned::memory_bytes`]).
#[derive(Debug, Clone)]
pub struct Planned {
    recipe: Recipe,
    source_mime: String,
    plan: Plan,
    /// The source's size in the displayed orientation (after EXIF rotation).
    size: (u32, u32),
    orientation: u8,
    shrink: u32,
    format: OutputFormat,
    frames: Frames,
    footprint: Footprint,
}

/// Which pages of the source the result is made of.
#[derive(Debug, Clone, PartialEq)]
enum Frames {
    /// The first page, opened alone: every still source, and animated ones made into stills.
    First,
    /// Another page (0-based) of an animated source, as a still (`frame`).
    Page(u32),
    /// An animation of these pages (0-based, in the order they play), playing with `timing`.
    Animated { pages: Vec<u32>, timing: Timing },
}

impl Planned {
    /// The estimated peak memory of rendering this plan (see [`memory`](super::memory)).
    pub fn memory_bytes(&self) -> u64 {
        self.footprint.estimate()
    }

    /// Frames in the result (1 for a still).
    pub fn frames(&self) -> u32 {
        match &self.frames {
            Frames::Animated { pages, .. } => u32::try_from(pages.len()).unwrap_or(u32::MAX),
            _ => 1,
        }
    }

    /// The size of the image this plan produces (of one frame, for an animation).
    pub fn output_size(&self) -> (u32, u32) {
        self.plan.output_size()
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }
}

/// Plans `recipe` for the original at `path` (of type `source_mime`) from its header alone:
/// checks the input limit, chooses the output format, bounds the output (see
/// [`max_output_pixels`]) and estimates the memory the transform will take.
pub fn plan(path: &Path, source_mime: &str, recipe: &Recipe, limits: &Limits) -> Result<Planned, TransformError> {
    let header = Image::open(path, LoadOptions::default()).map_err(decode_error)?;
    // Every frame counts towards the limit.
    let pages = header.pages();
    let pixels = u64::from(header.width()) * u64::from(header.height()) * u64::from(pages);
    if pixels > limits.max_input_pixels {
        return Err(TransformError::TooLarge { pixels, limit: limits.max_input_pixels });
    }
    // `orient` replaces the file's own EXIF orientation.
    let orientation = recipe.params.orient.unwrap_or_else(|| header.orientation());
    let swapped = orientation >= 5;
    let (width, height) = if swapped { (header.height(), header.width()) } else { (header.width(), header.height()) };
    let has_alpha = header.has_alpha();
    let source_bands = header.bands();
    drop(header);
    let format = recipe.format.unwrap_or_else(|| default_format(source_mime, has_alpha));
    let animated_source = matches!(source_mime, "image/gif" | "image/webp") && pages > 1;
    let frames = if animated_source { choose_frames(path, &recipe.params, format, pages)? } else { Frames::First };
    if format.is_video() && !matches!(frames, Frames::Animated { .. }) {
        let message = format!("`{}` is made from an animated GIF or WebP (of more than one frame)", format.as_str());
        return Err(TransformError::Params(ParamError::new("fm", message)));
    }
    let frame_count = match &frames {
        Frames::Animated { pages, .. } => u32::try_from(pages.len()).unwrap_or(u32::MAX).max(1),
        _ => 1,
    };
    // An animation's frames share the output limit (width × height × frames).
    let max_pixels = max_output_pixels(format, limits).min(limits.max_output_pixels / u64::from(frame_count)).max(1);
    let plan = geometry::plan(width, height, &recipe.params, recipe.focal_point, max_pixels, limits.max_upscale)?;
    let shrink = match (source_mime, &frames) {
        ("image/jpeg" | "image/webp", Frames::First) => load_shrink(&plan),
        _ => 1,
    };
    // Pages other than the first are read from all of them, decoded whole.
    let whole_strip = frames != Frames::First;
    let stacked = |(w, h): (u32, u32), n: u32| (w, h.saturating_mul(n));
    let footprint = Footprint {
        source: source_kind(source_mime),
        decoded: stacked((width.div_ceil(shrink), height.div_ceil(shrink)), if whole_strip { pages } else { 1 }),
        source_bands,
        random_access: whole_strip || needs_random_access(orientation, &recipe.params),
        region: stacked((plan.region.width.div_ceil(shrink), plan.region.height.div_ceil(shrink)), frame_count),
        resized: stacked(plan.resized, frame_count),
        in_memory_resize: in_memory_resize(&plan, shrink),
        smart_crop: plan.smart_crop.is_some(),
        output: stacked(plan.output_size(), frame_count),
        bands: if has_alpha || plan.canvas.is_some() || recipe.params.mask.shape.is_some() { 4 } else { 3 },
        mask: recipe.params.mask.shape.is_some(),
        encoder: encoder_kind(format, &recipe.params),
    };
    Ok(Planned {
        recipe: recipe.clone(),
        source_mime: source_mime.to_owned(),
        plan,
        size: (width, height),
        orientation,
        shrink,
        format,
        frames,
        footprint,
    })
}

/// The pages of an animated source (`pages` of them) a transform keeps: an animation when the
/// output format animates (GIF, WebP) and more than one page is kept (all, or the `frame`
/// stretch), else one page as a still (the first, or `frame`'s).
fn choose_frames(
    path: &Path,
    params: &TransformParams,
    format: OutputFormat,
    pages: u32,
) -> Result<Frames, TransformError> {
    let kept = params.animation.pages(pages);
    let animates = matches!(format, OutputFormat::Gif | OutputFormat::Webp) || format.is_video();
    if animates && kept.len() > 1 {
        let strip =
            Image::open(path, LoadOptions { all_pages: true, ..LoadOptions::default() }).map_err(decode_error)?;
        let source = strip.timing(pages);
        let delays = kept.iter().map(|page| source.delays.get(*page as usize).copied().unwrap_or(0)).collect();
        let loop_count = params.animation.plays().unwrap_or(source.loop_count);
        return Ok(Frames::Animated { pages: kept, timing: Timing { delays, loop_count } });
    }
    Ok(match kept.first() {
        Some(0) | None => Frames::First,
        Some(page) => Frames::Page(*page),
    })
}

/// The largest output of `format`: `limits.max_output_pixels`, and for AVIF and GIF at most
/// [`MAX_AVIF_OUTPUT_PIXELS`] and [`MAX_GIF_OUTPUT_PIXELS`] (larger requests are scaled down to
/// fit, keeping their shape, as for the general limit).
pub fn max_output_pixels(format: OutputFormat, limits: &Limits) -> u64 {
    match format {
        OutputFormat::Avif => limits.max_output_pixels.min(MAX_AVIF_OUTPUT_PIXELS),
        OutputFormat::Gif => limits.max_output_pixels.min(MAX_GIF_OUTPUT_PIXELS),
        _ => limits.max_output_pixels,
    }
}

/// The largest AVIF made: 2560 × 1440. libaom holds the frame many times over (about 28 bytes per
/// pixel measured with libaom 3.6, 229 MiB for 8.3 MP) and takes about a second per megapixel on
/// one core, so a 28 MP AVIF took 325 MB and much of the timeout (see BENCHMARKS.md).
pub const MAX_AVIF_OUTPUT_PIXELS: u64 = 2560 * 1440;

/// The largest GIF made: 1920 × 1080. cgif and libimagequant take about 14 bytes and 3 s of one
/// core per megapixel (a 40 MP GIF took 464 MiB and 33 s).
pub const MAX_GIF_OUTPUT_PIXELS: u64 = 1920 * 1080;

/// Renders a [`Planned`] transform of the original at `path`; work still running at `deadline`
/// is stopped with [`TransformError::Timeout`].
pub fn render(path: &Path, planned: &Planned, deadline: Instant) -> Result<Rendered, TransformError> {
    if let Frames::Animated { pages, timing } = &planned.frames {
        return render_animation(path, planned, pages, timing, deadline);
    }
    let (shrink, source_mime) = (planned.shrink, planned.source_mime.as_str());
    let base = LoadOptions {
        random_access: needs_random_access(planned.orientation, &planned.recipe.params),
        ..LoadOptions::default()
    };
    let image = match planned.frames {
        Frames::Page(page) => {
            let strip = Image::open(path, LoadOptions { random_access: true, all_pages: true, ..base })
                .map_err(decode_error)?;
            page_of(&strip, page)?
        }
        _ => {
            let options = match source_mime {
                "image/jpeg" if shrink > 1 => LoadOptions { jpeg_shrink: Some(shrink), ..base },
                "image/webp" if shrink > 1 => LoadOptions { webp_scale: Some(1.0 / f64::from(shrink)), ..base },
                _ => base,
            };
            Image::open(path, options).map_err(decode_error)?
        }
    };
    let (image, pixels) = transform(image, planned)?;
    encode(image, pixels, planned.format, &planned.recipe.params, deadline)
}

/// Page `page` (0-based) of an image opened with all its pages.
fn page_of(strip: &Image, page: u32) -> Result<Image, TransformError> {
    let page_height = strip.page_height().max(1);
    let pages = (strip.height() / page_height).max(1);
    strip.extract(0, page.min(pages - 1) * page_height, strip.width(), page_height).map_err(internal)
}

/// The frames of a video result (`fm=mp4`/`webm`), written into `dir` as PNG files with the
/// ffconcat list of them and their delays (see [`crate::media::encode_frames`]); returns the
/// list's path.
pub fn render_frames(path: &Path, planned: &Planned, dir: &Path, deadline: Instant) -> Result<PathBuf, TransformError> {
    let Frames::Animated { pages, timing } = &planned.frames else {
        return Err(TransformError::Internal("a video is made from an animation".into()));
    };
    let mut names = Vec::with_capacity(pages.len());
    // Opaque: `transform` flattens onto `bg` or white, as videos have no alpha.
    each_frame(path, planned, pages, deadline, |index, frame| {
        let bytes = frame.prepared_for_save().map_err(internal)?.save(&FRAME_ENCODING).map_err(save_error)?;
        let name = format!("frame-{index:05}.png");
        std::fs::write(dir.join(&name), bytes).map_err(|e| TransformError::Internal(e.to_string()))?;
        names.push(name);
        Ok(())
    })?;
    let list = dir.join("frames.ffconcat");
    std::fs::write(&list, crate::media::concat_list(&names, &timing.delays))
        .map_err(|e| TransformError::Internal(e.to_string()))?;
    Ok(list)
}

/// How [`render_frames`] writes frames: lossless and fast, for ffmpeg to read back at once.
const FRAME_ENCODING: Encoding = Encoding::Png { palette: false, quality: 100, compression: 1 };

/// An animated result: each kept page of the source through [`transform`], the frames stacked
/// into one animation with the kept pages' delays, encoded as GIF or WebP.
fn render_animation(
    path: &Path,
    planned: &Planned,
    pages: &[u32],
    timing: &Timing,
    deadline: Instant,
) -> Result<Rendered, TransformError> {
    let mut frames = Vec::with_capacity(pages.len());
    each_frame(path, planned, pages, deadline, |_, frame| {
        frames.push(frame);
        Ok(())
    })?;
    let animation = Image::animation(&frames, timing).map_err(internal)?;
    let (width, height) = (animation.width(), animation.page_height());
    drop(frames);
    let bytes =
        animation.prepared_for_save().map_err(internal)?.save(&animated_encoding(planned)).map_err(save_error)?;
    Ok(Rendered { bytes, format: planned.format, width, height })
}

/// Opens every page of the source at `path` once and hands `frame` each of `pages` (in order, with
/// its index) through [`transform`]; stops with [`TransformError::Timeout`] at `deadline`.
fn each_frame(
    path: &Path,
    planned: &Planned,
    pages: &[u32],
    deadline: Instant,
    mut frame: impl FnMut(usize, Image) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    let options = LoadOptions { random_access: true, all_pages: true, ..LoadOptions::default() };
    let strip = Image::open(path, options).map_err(decode_error)?;
    for (index, page) in pages.iter().enumerate() {
        if Instant::now() >= deadline {
            return Err(TransformError::Timeout);
        }
        let (transformed, _) = transform(page_of(&strip, *page)?, planned)?;
        frame(index, transformed)?;
    }
    Ok(())
}

/// The encoder of an animated result.
fn animated_encoding(planned: &Planned) -> Encoding {
    match encoding(planned.format, &planned.recipe.params) {
        Encoding::Webp { quality, lossless, effort } => Encoding::AnimatedWebp { quality, lossless, effort },
        other => other,
    }
}

/// An image's 8-bit pixels and their band count.
type Pixels = (Vec<u8>, u32);

/// Runs the plan on one decoded image (the source, or one frame of it): orientation, sRGB, the
/// region, the resize, and every operation after it up to the flattening. Returns the result
/// and, when an in-memory resize left them at hand and nothing changed them since, its pixels.
fn transform(image: Image, planned: &Planned) -> Result<(Image, Option<Pixels>), TransformError> {
    let Planned { recipe, plan, size: (width, height), orientation, format, .. } = planned;
    let (width, height, format) = (*width, *height, *format);
    let mut image = orient(image, *orientation)?;
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
    // The pixels of `image`, when an in-memory resize left them at hand (saves reading them back).
    let mut pixels: Option<Pixels> = None;
    if (rw, rh) != (image.width(), image.height()) {
        let largest = (u64::from(w) * u64::from(h)).max(u64::from(rw) * u64::from(rh));
        image = if largest <= IN_MEMORY_RESIZE_MAX_PIXELS {
            let (bytes, bands) = resize_in_memory(image, rw, rh)?;
            let resized = Image::from_bytes(&bytes, rw, rh, bands).map_err(internal)?;
            pixels = Some((bytes, bands));
            resized
        } else {
            let resized = image.resize(f64::from(rw) / f64::from(w), f64::from(rh) / f64::from(h)).map_err(internal)?;
            exact_size(resized, rw, rh)?
        };
    }
    if let Some(crop) = plan.smart_crop {
        image = image.smart_crop(crop.width, crop.height, crop.attention).map_err(internal)?;
        pixels = None;
    }

    let params = &recipe.params;
    if !params.adjust.is_identity() {
        image = params.adjust.apply(image).map_err(internal)?;
        pixels = None;
    }
    if params.flip_h || params.flip_v || params.rot != 0.0 {
        image = flip_and_rotate(image, params)?;
        pixels = None;
    }
    if plan.canvas.is_some_and(|c| (c.width, c.height) != (image.width(), image.height())) {
        image = pad(image, plan, format, params)?;
        pixels = None;
    }
    if let Some(blur) = params.blur.filter(|b| *b > 0) {
        image = image.gaussian_blur(f64::from(blur) / 20.0).map_err(internal)?;
        pixels = None;
    }
    if params.mask.shape.is_some() {
        image = params.mask.apply(image).map_err(internal)?;
        pixels = None;
    }
    if image.has_alpha() {
        let flatten_on = match (format.has_alpha(), params.bg) {
            (false, bg) => Some(bg.unwrap_or(Color::WHITE)),
            (true, Some(bg)) if bg.a == 255 => Some(bg),
            _ => None,
        };
        if let Some(bg) = flatten_on {
            image = image.flatten(bg.rgb()).map_err(internal)?;
            pixels = None;
        }
    }
    Ok((image, pixels))
}

/// Encodes the result of [`transform`] (its pixels, when at hand, spare WebP reading them back).
fn encode(
    image: Image,
    pixels: Option<Pixels>,
    format: OutputFormat,
    params: &TransformParams,
    deadline: Instant,
) -> Result<Rendered, TransformError> {
    let (out_w, out_h) = (image.width(), image.height());
    let prepared = image.prepared_for_save().map_err(internal)?;
    let bytes = match encoding(format, params) {
        Encoding::Webp { quality, lossless, effort } => {
            // Computing the pixels is killable like any save; libwebp then checks the deadline itself.
            let (pixels, bands) = match pixels {
                Some(at_hand) => at_hand,
                None => (prepared.to_bytes().map_err(save_error)?, prepared.bands()),
            };
            let options = WebpOptions { quality: quality as f32, lossless, method: effort as i32, deadline };
            webp::encode(&pixels, out_w, out_h, bands, options).map_err(|error| match error {
                WebpError::Timeout => TransformError::Timeout,
                WebpError::Failed(message) => TransformError::Internal(message),
            })?
        }
        other => prepared.save(&other).map_err(save_error)?,
    };
    Ok(Rendered { bytes, format, width: out_w, height: out_h })
}

/// Resizes whose source (after shrink-on-load) and result both have up to this many pixels are
/// done in memory with fast_image_resize (Lanczos3, AVX2/SSE4.1): several times faster than
/// libvips 8.14's scalar reducer. Larger ones stream through libvips' resize, so memory stays
/// bounded (at most 2 × 64 MiB here per transform).
const IN_MEMORY_RESIZE_MAX_PIXELS: u64 = 16_000_000;

/// Whether [`render`] resizes in memory: the region after shrink-on-load and the result both
/// within [`IN_MEMORY_RESIZE_MAX_PIXELS`], and a resize to do.
fn in_memory_resize(plan: &Plan, shrink: u32) -> bool {
    let (w, h) = (plan.region.width.div_ceil(shrink), plan.region.height.div_ceil(shrink));
    let (rw, rh) = plan.resized;
    let largest = (u64::from(w) * u64::from(h)).max(u64::from(rw) * u64::from(rh));
    (w, h) != (rw, rh) && largest <= IN_MEMORY_RESIZE_MAX_PIXELS
}

/// How the loader of `source_mime` holds the source while it is read.
fn source_kind(source_mime: &str) -> SourceKind {
    match source_mime {
        "image/jpeg" | "image/png" | "image/tiff" => SourceKind::Streamed,
        "image/heic" | "image/heif" | "image/avif" => SourceKind::Heif,
        _ => SourceKind::WholeFrame,
    }
}

/// The encoder [`encoding`] picks, as far as its memory goes.
fn encoder_kind(format: OutputFormat, params: &TransformParams) -> Encoder {
    match encoding(format, params) {
        Encoding::Jpeg { progressive, optimize, .. } => Encoder::Jpeg { whole_image: progressive || optimize },
        Encoding::Png { palette, .. } => Encoder::Png { palette },
        Encoding::Webp { lossless, .. } => Encoder::Webp { lossless },
        Encoding::Avif { .. } => Encoder::Avif,
        Encoding::AnimatedWebp { lossless, .. } => Encoder::Webp { lossless },
        Encoding::Gif => Encoder::Gif,
    }
}

/// Decodes `image` into memory and resizes it to exactly `width` × `height` (Lanczos3, alpha
/// premultiplied while resampling); returns the pixels and their band count.
fn resize_in_memory(image: Image, width: u32, height: u32) -> Result<(Vec<u8>, u32), TransformError> {
    use fast_image_resize::{images::Image as Pixels, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
    let (sw, sh, bands) = (image.width(), image.height(), image.bands());
    let pixel_type = match bands {
        3 => PixelType::U8x3,
        4 => PixelType::U8x4,
        other => return Err(TransformError::Internal(format!("unexpected {other}-band image"))),
    };
    let bytes = image.to_bytes().map_err(decode_error)?;
    drop(image);
    let source = Pixels::from_vec_u8(sw, sh, bytes, pixel_type).map_err(|e| TransformError::Internal(e.to_string()))?;
    let mut resized = Pixels::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&source, &mut resized, &options).map_err(|e| TransformError::Internal(e.to_string()))?;
    Ok((resized.into_vec(), bands))
}

/// The JPEG/WebP shrink-on-load factor: the largest of 8, 4, 2 that the plan's reduction allows
/// (libjpeg scales the DCT, so a 12 MP photo for a 720 px thumbnail is decoded at 1/4 size).
fn load_shrink(plan: &Plan) -> u32 {
    let (rw, rh) = plan.resized;
    let ratio = (f64::from(plan.region.width) / f64::from(rw)).min(f64::from(plan.region.height) / f64::from(rh));
    [8, 4, 2].into_iter().find(|f| ratio >= f64::from(*f)).unwrap_or(1)
}

/// Whether the source is read in random order: turning it (an EXIF orientation), flipping it top
/// to bottom or turning it within its frame reads rows out of order.
fn needs_random_access(orientation: u8, params: &TransformParams) -> bool {
    orientation != 1 || params.flip_v || params.rot != 0.0
}

/// Applies EXIF orientation `orientation` (1–8) as libvips' autorot does: a clockwise turn, then a
/// mirror left to right.
fn orient(image: Image, orientation: u8) -> Result<Image, TransformError> {
    let (quarters, mirror) = match orientation {
        2 => (0, true),
        3 => (2, false),
        4 => (2, true),
        5 => (1, true),
        6 => (1, false),
        7 => (3, true),
        8 => (3, false),
        _ => (0, false),
    };
    let image = if quarters > 0 { image.rotate_quarters(quarters).map_err(internal)? } else { image };
    if mirror {
        return image.flip(true).map_err(internal);
    }
    Ok(image)
}

/// `flip`, then `rot`: the picture turned counter-clockwise within its own frame, zoomed so that
/// it covers the frame (imgix's default `rot-type=straighten`); the size does not change.
fn flip_and_rotate(image: Image, params: &TransformParams) -> Result<Image, TransformError> {
    let mut image = image;
    if params.flip_h {
        image = image.flip(true).map_err(internal)?;
    }
    if params.flip_v {
        image = image.flip(false).map_err(internal)?;
    }
    if params.rot == 0.0 {
        return Ok(image);
    }
    if params.rot == 180.0 {
        return image.rotate_quarters(2).map_err(internal);
    }
    let (width, height) = (image.width(), image.height());
    let scale = cover_scale(width, height, params.rot);
    // libvips turns clockwise; imgix counter-clockwise.
    let turned = image.similarity(scale, -params.rot).map_err(internal)?;
    let left = (turned.width().saturating_sub(width)) / 2;
    let top = (turned.height().saturating_sub(height)) / 2;
    let framed = turned
        .extract(left, top, width.min(turned.width() - left), height.min(turned.height() - top))
        .map_err(internal)?;
    exact_size(framed, width, height)
}

/// How much a `width` × `height` picture turned by `degrees` must be enlarged to cover its own
/// frame: the frame's corners must lie inside the turned picture. One pixel more on each side,
/// so that no corner shows the background the interpolation blends in at the picture's edge.
fn cover_scale(width: u32, height: u32, degrees: f64) -> f64 {
    let (w, h) = (f64::from(width), f64::from(height));
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (sin, cos) = (sin.abs(), cos.abs());
    let cover = (cos + sin * h / w).max(cos + sin * w / h);
    cover * (1.0 + 2.0 / w.min(h))
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
fn pad(image: Image, plan: &Plan, format: OutputFormat, params: &TransformParams) -> Result<Image, TransformError> {
    let Some(canvas) = plan.canvas else { return Ok(image) };
    if (canvas.width, canvas.height) == (image.width(), image.height()) {
        return Ok(image);
    }
    if canvas.padding == Padding::Solid && params.fill == Fill::Blur {
        return blurred_canvas(image, canvas);
    }
    let fill = match canvas.padding {
        Padding::Edge => None,
        Padding::Solid => {
            let default = if format.has_alpha() { Color::TRANSPARENT } else { Color::WHITE };
            Some(params.fill_color.or(params.bg).unwrap_or(default))
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

/// `fill=blur`: the canvas is the picture enlarged to cover it (centred) and blurred with a sigma
/// of 1/40 of the canvas's longer side (2–50 px); the picture sits on it where `fill` puts it.
fn blurred_canvas(image: Image, canvas: Canvas) -> Result<Image, TransformError> {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let scale = (f64::from(canvas.width) / w).max(f64::from(canvas.height) / h);
    let cover = image.resize(scale, scale).map_err(internal)?;
    let left = cover.width().saturating_sub(canvas.width) / 2;
    let top = cover.height().saturating_sub(canvas.height) / 2;
    let cover = cover
        .extract(left, top, canvas.width.min(cover.width() - left), canvas.height.min(cover.height() - top))
        .map_err(internal)?;
    let cover = exact_size(cover, canvas.width, canvas.height)?;
    let sigma = (f64::from(canvas.width.max(canvas.height)) / 40.0).clamp(2.0, 50.0);
    let background = cover.gaussian_blur(sigma).map_err(internal)?;
    background.insert(&image, canvas.left, canvas.top).map_err(internal)
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
            full_chroma: params.chromasub == Some(444),
        },
        OutputFormat::Png | OutputFormat::Png8 => Encoding::Png {
            palette: format == OutputFormat::Png8 || params.auto_compress,
            quality: params.q.unwrap_or(100),
            compression: 6,
        },
        // libwebp's method 3: the same rate-distortion level as its default 4, sizes within 1%, faster.
        OutputFormat::Webp => Encoding::Webp { quality, lossless: params.lossless, effort: 3 },
        OutputFormat::Avif => Encoding::Avif { quality, lossless: params.lossless, effort: 3 },
        OutputFormat::Gif => Encoding::Gif,
        // Videos are encoded by ffmpeg from PNG frames.
        OutputFormat::Mp4 | OutputFormat::Webm => FRAME_ENCODING,
    }
}

/// A failed save: killed at the timeout, or the source did not decode (pixels are computed now).
fn save_error(e: VipsError) -> TransformError {
    if e.0.contains("killed") {
        TransformError::Timeout
    } else {
        decode_error(e)
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

    fn planned(path: &Path, query: &str) -> Planned {
        let params = TransformParams::parse(query).unwrap().unwrap();
        let recipe = Recipe { format: params.fm, params, focal_point: (0.5, 0.5) };
        let limits = Limits { max_input_pixels: 100_000_000, max_output_pixels: 40_000_000, max_upscale: 0.0 };
        plan(path, "image/png", &recipe, &limits).unwrap()
    }

    #[test]
    fn avif_and_gif_outputs_have_limits_of_their_own_and_other_formats_the_output_limit() {
        super::super::vips::init(1, 30).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        image::RgbImage::new(6000, 3000).save(&path).unwrap();

        let avif = planned(&path, "w=6000&fm=avif");
        let (w, h) = avif.output_size();
        assert!(u64::from(w) * u64::from(h) <= MAX_AVIF_OUTPUT_PIXELS, "{w}x{h}");
        assert!(u64::from(w) * u64::from(h) > MAX_AVIF_OUTPUT_PIXELS * 99 / 100, "scaled to fit, not further: {w}x{h}");
        assert!((w / 2).abs_diff(h) <= 1, "the shape is kept: {w}x{h}");
        assert_eq!(planned(&path, "w=6000&fm=webp").output_size(), (6000, 3000));
        let (gw, gh) = planned(&path, "w=6000&fm=gif").output_size();
        assert!(u64::from(gw) * u64::from(gh) <= MAX_GIF_OUTPUT_PIXELS, "{gw}x{gh}");
        assert_eq!(planned(&path, "w=1200&fm=avif").output_size(), (1200, 600));
        // The AVIF costs more than a JPEG of the same size.
        let jpeg = planned(&path, &format!("w={w}&fm=jpg"));
        assert!(avif.memory_bytes() > 2 * jpeg.memory_bytes(), "{} vs {}", avif.memory_bytes(), jpeg.memory_bytes());
    }
}
