//! imgix rendering parameters (spec §7.2): parsed from an asset URL's query string, checked once.
//!
//! Rules (also in the README's API notes): names imgix does not know (cache busters, `ixlib`) are
//! ignored, as imgix ignores them; imgix's aliases (`width`, `f`) and `<name>64` base64url forms
//! of text parameters are read as their parameter; an imgix parameter assetd does not render is
//! refused (400 `UNSUPPORTED_PARAMS`, see [`imgix_catalog`]); a parameter
//! assetd renders with a value it cannot read answers 400; numbers outside their range are clamped.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use super::{adjust::Adjustments, animation::AnimationParams, imgix_catalog, mask::MaskParams, padding::PadParams};

/// The largest width or height assetd renders (imgix's own limit).
pub const MAX_DIMENSION: u32 = 8192;
/// imgix's default JPEG/WebP/AVIF quality.
pub const DEFAULT_QUALITY: u32 = 75;
/// The quality `auto=compress` uses when `q` is not given.
pub const COMPRESS_QUALITY: u32 = 45;

/// A rejected parameter: which one, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
    /// The imgix parameters the URL names that assetd does not render, as written (empty when
    /// the error is a value assetd cannot read).
    pub unsupported: Vec<String>,
}

impl ParamError {
    pub(super) fn new(param: &'static str, message: impl Into<String>) -> ParamError {
        ParamError { param, message: message.into(), unsupported: Vec::new() }
    }

    fn unsupported(first: &'static str, names: Vec<String>) -> ParamError {
        let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let list = imgix_catalog::version();
        let message =
            format!("imgix parameters (imgix-url-params {list}) assetd does not render: {}", listed.join(", "));
        ParamError { param: first, message, unsupported: names }
    }
}

fn bad(param: &'static str, message: impl Into<String>) -> ParamError {
    ParamError::new(param, message)
}

/// A width or height: pixels, or (below 1) a fraction of the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    Pixels(f64),
    Fraction(f64),
}

impl Length {
    /// The length in pixels for a source of `source` pixels.
    pub fn resolve(self, source: f64) -> f64 {
        match self {
            Length::Pixels(px) => px,
            Length::Fraction(f) => f * source,
        }
    }
}

/// `fit`: how the image fills the `w` × `h` box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    #[default]
    Clip,
    Crop,
    Clamp,
    Fill,
    FillMax,
    Max,
    Min,
    Scale,
    /// Accepted and treated as `crop` (assetd has no face detection).
    FaceArea,
}

impl Fit {
    fn parse(value: &str) -> Result<Fit, ParamError> {
        Ok(match value {
            "clip" => Fit::Clip,
            "crop" => Fit::Crop,
            "clamp" => Fit::Clamp,
            "fill" => Fit::Fill,
            "fillmax" => Fit::FillMax,
            "max" => Fit::Max,
            "min" => Fit::Min,
            "scale" => Fit::Scale,
            "facearea" => Fit::FaceArea,
            other => return Err(bad("fit", format!("unknown fit `{other}`"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Clip => "clip",
            Fit::Crop => "crop",
            Fit::Clamp => "clamp",
            Fit::Fill => "fill",
            Fit::FillMax => "fillmax",
            Fit::Max => "max",
            Fit::Min => "min",
            Fit::Scale => "scale",
            Fit::FaceArea => "facearea",
        }
    }

    /// Whether this mode crops to the requested aspect ratio.
    pub fn crops(self) -> bool {
        matches!(self, Fit::Crop | Fit::Min | Fit::FaceArea)
    }
}

/// Where a crop is anchored on one axis: 0 = start (left/top), 0.5 = centre, 1 = end.
pub type Anchor = f64;

/// `crop`: how the crop window is placed when `fit=crop`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Crop {
    /// Horizontal and vertical anchors from `left`/`right`/`top`/`bottom` (centre when absent).
    pub x: Option<Anchor>,
    pub y: Option<Anchor>,
    pub focalpoint: bool,
    /// `entropy` (true = libvips attention model for `edges`/`faces`, false = entropy).
    pub smart: Option<bool>,
}

impl Crop {
    fn parse(value: &str) -> Result<Crop, ParamError> {
        let mut crop = Crop::default();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "left" => crop.x = Some(0.0),
                "right" => crop.x = Some(1.0),
                "top" => crop.y = Some(0.0),
                "bottom" => crop.y = Some(1.0),
                "focalpoint" => crop.focalpoint = true,
                "entropy" => crop.smart = Some(false),
                "edges" | "faces" => crop.smart = Some(true),
                other => return Err(bad("crop", format!("unknown crop mode `{other}`"))),
            }
        }
        Ok(crop)
    }
}

/// `fm`: the output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    ProgressiveJpeg,
    Png,
    /// `png8`: a palette PNG.
    Png8,
    Webp,
    Avif,
    Gif,
    /// `mp4`: H.264 video of an animated GIF or WebP.
    Mp4,
    /// `webm`: VP9 video of an animated GIF or WebP.
    Webm,
}

impl OutputFormat {
    fn parse(value: &str) -> Result<OutputFormat, ParamError> {
        Ok(match value {
            "jpg" | "jpeg" => OutputFormat::Jpeg,
            "pjpg" => OutputFormat::ProgressiveJpeg,
            "png" | "png32" => OutputFormat::Png,
            "png8" => OutputFormat::Png8,
            "webp" => OutputFormat::Webp,
            "avif" => OutputFormat::Avif,
            "gif" => OutputFormat::Gif,
            "mp4" => OutputFormat::Mp4,
            "webm" => OutputFormat::Webm,
            "jp2" | "jxr" | "json" | "blurhash" | "spritesheet" => {
                return Err(bad("fm", format!("output format `{value}` is not supported")))
            }
            other => return Err(bad("fm", format!("unknown output format `{other}`"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::ProgressiveJpeg => "pjpg",
            OutputFormat::Png => "png",
            OutputFormat::Png8 => "png8",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
            OutputFormat::Gif => "gif",
            OutputFormat::Mp4 => "mp4",
            OutputFormat::Webm => "webm",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg | OutputFormat::ProgressiveJpeg => "image/jpeg",
            OutputFormat::Png | OutputFormat::Png8 => "image/png",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Avif => "image/avif",
            OutputFormat::Gif => "image/gif",
            OutputFormat::Mp4 => "video/mp4",
            OutputFormat::Webm => "video/webm",
        }
    }

    /// Whether the format stores transparency.
    pub fn has_alpha(self) -> bool {
        !matches!(self, OutputFormat::Jpeg | OutputFormat::ProgressiveJpeg | OutputFormat::Mp4 | OutputFormat::Webm)
    }

    /// Whether the result is a video (made by ffmpeg from an animation's frames).
    pub fn is_video(self) -> bool {
        matches!(self, OutputFormat::Mp4 | OutputFormat::Webm)
    }

    /// Whether `q` means anything for this format.
    pub fn is_lossy(self) -> bool {
        matches!(self, OutputFormat::Jpeg | OutputFormat::ProgressiveJpeg | OutputFormat::Webp | OutputFormat::Avif)
    }
}

/// An sRGB colour with alpha, 0–255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Color {
    pub const WHITE: Color = Color { r: 255, g: 255, b: 255, a: 255 };
    pub const TRANSPARENT: Color = Color { r: 0, g: 0, b: 0, a: 0 };

    /// imgix colours: 3 (RGB), 4 (ARGB), 6 (RRGGBB) or 8 (AARRGGBB) hex digits, `#` optional, or a
    /// few CSS names.
    pub(super) fn parse(param: &'static str, value: &str) -> Result<Color, ParamError> {
        let named = match value.to_ascii_lowercase().as_str() {
            "white" => Some("fff"),
            "black" => Some("000"),
            "red" => Some("f00"),
            "green" => Some("008000"),
            "blue" => Some("00f"),
            "gray" | "grey" => Some("808080"),
            "transparent" => Some("0000"),
            _ => None,
        };
        let hex = named.unwrap_or_else(|| value.trim_start_matches('#'));
        let digits: Option<Vec<u8>> = hex.chars().map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok())).collect();
        let digits = digits.ok_or_else(|| bad(param, format!("`{value}` is not a hex colour")))?;
        let pair = |i: usize| digits[i] * 16 + digits[i + 1];
        Ok(match digits.len() {
            3 => Color { r: digits[0] * 17, g: digits[1] * 17, b: digits[2] * 17, a: 255 },
            4 => Color { a: digits[0] * 17, r: digits[1] * 17, g: digits[2] * 17, b: digits[3] * 17 },
            6 => Color { r: pair(0), g: pair(2), b: pair(4), a: 255 },
            8 => Color { a: pair(0), r: pair(2), g: pair(4), b: pair(6) },
            _ => return Err(bad(param, format!("`{value}` is not a 3, 4, 6 or 8 digit hex colour"))),
        })
    }

    pub fn rgb(self) -> [f64; 3] {
        [f64::from(self.r), f64::from(self.g), f64::from(self.b)]
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}{:02x}{:02x}", self.a, self.r, self.g, self.b)
    }
}

/// `fill`: what fills the canvas of `fit=fill`/`fillmax` around the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fill {
    /// `fill-color`, else `bg`, else transparent (formats with alpha) or white.
    #[default]
    Solid,
    /// The picture itself, enlarged to cover the canvas and blurred.
    Blur,
}

impl Fill {
    fn parse(value: &str) -> Result<Fill, ParamError> {
        match value {
            "solid" => Ok(Fill::Solid),
            "blur" => Ok(Fill::Blur),
            "gen" | "generative" | "gradient" => {
                Err(bad("fill", format!("`{value}` (imgix's generative and gradient fills) is not rendered by assetd")))
            }
            other => Err(bad("fill", format!("unknown fill `{other}`"))),
        }
    }
}

/// `rect`: a source region, in pixels or (below 1) fractions of the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceRect {
    pub x: Length,
    pub y: Length,
    pub w: Length,
    pub h: Length,
}

/// Everything a transform URL asked for, checked. Built by [`TransformParams::parse`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransformParams {
    pub w: Option<Length>,
    pub h: Option<Length>,
    pub max_w: Option<u32>,
    pub max_h: Option<u32>,
    pub fit: Fit,
    pub crop: Crop,
    /// Explicit `fp-x`/`fp-y` (each may be given alone; the other defaults to the stored point).
    pub fp_x: Option<f64>,
    pub fp_y: Option<f64>,
    pub fp_z: Option<f64>,
    /// `ar`: width / height.
    pub ar: Option<f64>,
    pub rect: Option<SourceRect>,
    pub dpr: Option<f64>,
    pub fm: Option<OutputFormat>,
    pub auto_format: bool,
    pub auto_compress: bool,
    pub q: Option<u32>,
    pub blur: Option<u32>,
    pub bg: Option<Color>,
    pub lossless: bool,
    /// `orient`: the EXIF orientation (1–8) to apply instead of the file's own.
    pub orient: Option<u8>,
    /// `flip`: mirror left to right (`h`), top to bottom (`v`).
    pub flip_h: bool,
    pub flip_v: bool,
    /// `rot`: degrees counter-clockwise (0 ≤ rot < 360), turned within the output's frame.
    pub rot: f64,
    /// `bri`, `con`, `exp`, `gam`, `sat`, `hue`, `invert`, `sharp`, `px`.
    pub adjust: Adjustments,
    pub fill: Fill,
    /// `fill-color`: the canvas colour of `fill=solid` (before `bg`).
    pub fill_color: Option<Color>,
    /// `frame`, `reverse`, `loop`.
    pub animation: AnimationParams,
    /// `mask`, `corner-radius`, `mask-bg`.
    pub mask: MaskParams,
    /// `pad`, `pad-top`, `pad-right`, `pad-bottom`, `pad-left`.
    pub pad: PadParams,
    /// `chromasub`: JPEG chroma subsampling, 444 or 420 (the default).
    pub chromasub: Option<u32>,
}

/// The imgix parameters assetd renders (every name [`TransformParams::parse`] reads); the
/// GraphQL `ImgixParams` input offers exactly these.
#[rustfmt::skip]
pub const RENDERED_PARAMS: [&str; 50] = [
    // size, focal point, pixel density, format
    "w", "h", "max-w", "max-h", "fit", "crop", "fp-x", "fp-y", "fp-z", "ar", "rect", "dpr", "fm", "auto", "q",
    "lossless", "chromasub",
    // fill
    "bg", "fill", "fill-color",
    // rotation
    "orient", "flip", "rot",
    // adjustment
    "bri", "con", "exp", "gam", "sat", "hue", "invert", "sharp", "usm", "usmrad",
    // stylize
    "blur", "px", "sepia", "monochrome", "duotone", "duotone-alpha",
    // border and padding
    "pad", "pad-top", "pad-right", "pad-bottom", "pad-left",
    // mask
    "mask", "corner-radius", "mask-bg",
    // animation
    "frame", "reverse", "loop",
];

/// imgix parameters read when the answer is sent, not when it is rendered: `dl` (download it
/// under that file name). They apply to every file, rendered or not, and are not in the
/// derived image's key.
pub const DELIVERY_PARAMS: [&str; 1] = ["dl"];

/// `dl` (or `dl64`): the file name a URL asks to download its answer as; `Some("")` means the
/// upload's own name.
pub fn download_name(query: &str) -> Result<Option<String>, ParamError> {
    let mut name = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(imgix) = imgix_catalog::lookup(&key).filter(|i| i.parameter.name == "dl") else { continue };
        let value = if imgix.base64 { base64_text("dl", &value)? } else { value.into_owned() };
        name = Some(value.trim().to_owned());
    }
    Ok(name)
}

impl TransformParams {
    /// Reads the rendering parameters of a query string. `Ok(None)` when it has none (serve the
    /// original).
    pub fn parse(query: &str) -> Result<Option<TransformParams>, ParamError> {
        let mut params = TransformParams::default();
        let mut any = false;
        let mut unsupported: Vec<(&'static str, String)> = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(imgix) = imgix_catalog::lookup(&key) else { continue };
            let name = imgix.parameter.name;
            if DELIVERY_PARAMS.contains(&name) {
                continue;
            }
            let decoded;
            let value = match imgix.base64 {
                true => {
                    decoded = base64_text(name, &value)?;
                    decoded.trim()
                }
                false => value.trim(),
            };
            if params.set(name, value)? {
                any = true;
            } else {
                unsupported.push((name, key.into_owned()));
            }
        }
        if let Some((first, _)) = unsupported.first() {
            return Err(ParamError::unsupported(first, unsupported.into_iter().map(|(_, key)| key).collect()));
        }
        Ok(any.then_some(params))
    }

    /// Applies one parameter, by its canonical imgix name; false when assetd does not render it.
    fn set(&mut self, key: &'static str, value: &str) -> Result<bool, ParamError> {
        match key {
            "w" => self.w = Some(length("w", value)?),
            "h" => self.h = Some(length("h", value)?),
            "max-w" => self.max_w = Some(pixels("max-w", value)?),
            "max-h" => self.max_h = Some(pixels("max-h", value)?),
            "fit" => self.fit = Fit::parse(value)?,
            "crop" => self.crop = Crop::parse(value)?,
            "fp-x" => self.fp_x = Some(number("fp-x", value)?.clamp(0.0, 1.0)),
            "fp-y" => self.fp_y = Some(number("fp-y", value)?.clamp(0.0, 1.0)),
            "fp-z" => self.fp_z = Some(number("fp-z", value)?.clamp(1.0, 100.0)),
            "ar" => self.ar = Some(aspect_ratio(value)?),
            "rect" => self.rect = Some(rect(value)?),
            "dpr" => {
                let dpr = number("dpr", value)?;
                if dpr <= 0.0 {
                    return Err(bad("dpr", "must be greater than 0"));
                }
                self.dpr = Some(dpr.clamp(0.01, 5.0));
            }
            "fm" => self.fm = Some(OutputFormat::parse(&value.to_ascii_lowercase())?),
            "auto" => {
                for part in value.split(',').map(str::trim) {
                    match part {
                        "format" => self.auto_format = true,
                        "compress" => self.auto_compress = true,
                        // enhance, redeye: accepted, not applied.
                        _ => {}
                    }
                }
            }
            "q" => self.q = Some(number("q", value)?.round().clamp(1.0, 100.0) as u32),
            "blur" => self.blur = Some(number("blur", value)?.round().clamp(0.0, 2000.0) as u32),
            "bg" => self.bg = Some(Color::parse("bg", value)?),
            "lossless" => self.lossless = boolean("lossless", value)?,
            "chromasub" => {
                self.chromasub = Some(match value {
                    "444" => 444,
                    "420" => 420,
                    "422" => return Err(bad("chromasub", "libvips writes 4:4:4 (444) or 4:2:0 (420), not 4:2:2")),
                    other => return Err(bad("chromasub", format!("`{other}` is not 444 or 420"))),
                })
            }

            "orient" => self.orient = Some(orientation(value)?),
            "flip" => (self.flip_h, self.flip_v) = flip(value)?,
            "rot" => self.rot = number("rot", value)?.rem_euclid(360.0),
            "fill" => self.fill = Fill::parse(value)?,
            "fill-color" => self.fill_color = Some(Color::parse("fill-color", value)?),
            other if self.animation.set(other, value)? => {}
            other if self.mask.set(other, value)? => {}
            other if self.pad.set(other, value)? => {}
            other => return self.adjust.set(other, value),
        }
        Ok(true)
    }
}

/// The text a `<name>64` parameter carries (imgix: base64url, padding optional).
fn base64_text(param: &'static str, value: &str) -> Result<String, ParamError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .map_err(|_| bad(param, format!("`{value}` is not base64url")))?;
    String::from_utf8(bytes).map_err(|_| bad(param, "the base64url value is not UTF-8 text"))
}

pub(super) fn number(param: &'static str, value: &str) -> Result<f64, ParamError> {
    value.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| bad(param, format!("`{value}` is not a number")))
}

/// A width or height: > 0; below 1 a fraction, otherwise pixels (at most [`MAX_DIMENSION`]).
fn length(param: &'static str, value: &str) -> Result<Length, ParamError> {
    let n = number(param, value)?;
    if n <= 0.0 {
        return Err(bad(param, "must be greater than 0"));
    }
    Ok(if n < 1.0 { Length::Fraction(n) } else { Length::Pixels(n.round().min(f64::from(MAX_DIMENSION))) })
}

fn pixels(param: &'static str, value: &str) -> Result<u32, ParamError> {
    let n = number(param, value)?;
    if n < 1.0 {
        return Err(bad(param, "must be at least 1"));
    }
    Ok(n.round().min(f64::from(MAX_DIMENSION)) as u32)
}

/// `orient`: an EXIF orientation 1–8, `0` (none: the file's own is ignored), or the degree
/// aliases imgix gives (`90` = 6, `180` = 3, `270` = 8).
fn orientation(value: &str) -> Result<u8, ParamError> {
    Ok(match value {
        "0" => 1,
        "90" => 6,
        "180" => 3,
        "270" => 8,
        exif => exif
            .parse::<u8>()
            .ok()
            .filter(|o| (1..=8).contains(o))
            .ok_or_else(|| bad("orient", format!("`{value}` is not 0-8, 90, 180 or 270")))?,
    })
}

/// `flip`: `h`, `v`, or both (`hv`, `vh`).
fn flip(value: &str) -> Result<(bool, bool), ParamError> {
    match value {
        "h" => Ok((true, false)),
        "v" => Ok((false, true)),
        "hv" | "vh" => Ok((true, true)),
        other => Err(bad("flip", format!("`{other}` is not h, v or hv"))),
    }
}

pub(super) fn boolean(param: &'static str, value: &str) -> Result<bool, ParamError> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" | "" => Ok(false),
        other => Err(bad(param, format!("`{other}` is not 0, 1, true or false"))),
    }
}

/// `W:H` (e.g. `16:9`) or a plain ratio (`1.5`).
fn aspect_ratio(value: &str) -> Result<f64, ParamError> {
    let ratio = match value.split_once(':') {
        Some((w, h)) => number("ar", w)? / number("ar", h)?,
        None => number("ar", value)?,
    };
    if !ratio.is_finite() || ratio <= 0.0 {
        return Err(bad("ar", format!("`{value}` is not a positive aspect ratio such as 16:9")));
    }
    Ok(ratio.clamp(1.0 / 100.0, 100.0))
}

fn rect(value: &str) -> Result<SourceRect, ParamError> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    let [x, y, w, h] = parts[..] else {
        return Err(bad("rect", "expected x,y,w,h"));
    };
    let offset = |v: &str| -> Result<Length, ParamError> {
        let n = number("rect", v)?;
        if n < 0.0 {
            return Err(bad("rect", "offsets cannot be negative"));
        }
        Ok(if n < 1.0 && n > 0.0 { Length::Fraction(n) } else { Length::Pixels(n.round()) })
    };
    let size = |v: &str| -> Result<Length, ParamError> {
        let n = number("rect", v)?;
        if n <= 0.0 {
            return Err(bad("rect", "width and height must be greater than 0"));
        }
        Ok(if n <= 1.0 { Length::Fraction(n) } else { Length::Pixels(n.round()) })
    };
    Ok(SourceRect { x: offset(x)?, y: offset(y)?, w: size(w)?, h: size(h)? })
}

/// A value each rendered parameter reads (for tests that walk [`RENDERED_PARAMS`]).
#[cfg(test)]
pub(crate) fn example_value(name: &str) -> &'static str {
    match name {
        "fit" => "crop",
        "crop" => "focalpoint",
        "fm" => "png",
        "auto" => "format",
        "ar" => "16:9",
        "rect" => "0,0,10,10",
        "bg" => "fff",
        "lossless" => "true",
        "fp-x" | "fp-y" => "0.5",
        "flip" => "h",
        "invert" | "reverse" => "1",
        "fill" => "blur",
        "fill-color" | "monochrome" | "mask-bg" => "f00",
        "mask" => "ellipse",
        "chromasub" => "444",
        "duotone" => "000080,ffff00",
        _ => "2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendered_param_is_read_and_no_other() {
        assert!(error("fill=gen").message.contains("generative"));
        let modules = [
            &super::super::adjust::ADJUSTMENT_PARAMS[..],
            &super::super::animation::ANIMATION_PARAMS,
            &super::super::mask::MASK_PARAMS,
            &super::super::padding::PAD_PARAMS,
        ];
        for name in modules.into_iter().flatten() {
            assert!(RENDERED_PARAMS.contains(name), "{name}");
        }
        for name in RENDERED_PARAMS {
            let query = format!("{name}={}", example_value(name));
            assert!(TransformParams::parse(&query).unwrap().is_some(), "{query} is read");
        }
        for other in ["ixlib", "skipDefaultOptimizations", "utm_source", "s64"] {
            assert!(TransformParams::parse(&format!("{other}=1")).unwrap().is_none(), "{other}");
        }
    }

    #[test]
    fn imgix_parameters_assetd_does_not_render_are_refused_by_the_names_written() {
        let refused = error("w=10&txt=hi&utm_source=x&ba=top&mark64=aHR0cDovL3gvYS5wbmc");
        assert_eq!(refused.param, "txt");
        assert_eq!(refused.unsupported, ["txt", "ba", "mark64"]);
        assert!(refused.message.contains("`ba`"), "{}", refused.message);
        // Not rendered with another one: still refused.
        assert_eq!(error("vib=20").unsupported, ["vib"]);
        // A value assetd cannot read is that parameter's error.
        assert!(error("w=x&vib=20").unsupported.is_empty());
    }

    #[test]
    fn dl_is_read_at_delivery_not_rendering() {
        assert_eq!(TransformParams::parse("dl=cat.jpg").unwrap(), None);
        assert_eq!(parse("dl=cat.jpg&w=10").w, Some(Length::Pixels(10.0)));
        assert_eq!(download_name("w=10&dl=my%20cat.jpg").unwrap().as_deref(), Some("my cat.jpg"));
        assert_eq!(download_name("dl64=Y2F0LmpwZw").unwrap().as_deref(), Some("cat.jpg"));
        assert_eq!(download_name("dl=").unwrap().as_deref(), Some(""));
        assert_eq!(download_name("w=10").unwrap(), None);
        assert_eq!(download_name("dl64=***").unwrap_err().param, "dl");
    }

    #[test]
    fn aliases_and_base64_forms_are_their_parameter() {
        let p = parse("width=300&height=200&f=crop&max-width=100");
        assert_eq!(
            (p.w, p.h, p.fit, p.max_w),
            (Some(Length::Pixels(300.0)), Some(Length::Pixels(200.0)), Fit::Crop, Some(100))
        );
        // `fm64=cG5n` is `fm=png`; padding is optional.
        assert_eq!(parse("fm64=cG5n").fm, Some(OutputFormat::Png));
        assert_eq!(parse("fit64=Y3JvcA==").fit, Fit::Crop);
        assert_eq!(error("fm64=***").param, "fm");
    }

    fn parse(query: &str) -> TransformParams {
        TransformParams::parse(query).unwrap().unwrap()
    }

    fn error(query: &str) -> ParamError {
        TransformParams::parse(query).unwrap_err()
    }

    #[test]
    fn no_rendering_parameter_means_the_original() {
        assert_eq!(TransformParams::parse("").unwrap(), None);
        assert_eq!(TransformParams::parse("utm_source=x&ixlib=js-3.8.0&v=2").unwrap(), None);
    }

    #[test]
    fn widths_are_pixels_or_fractions() {
        let p = parse("w=720&h=0.5");
        assert_eq!(p.w, Some(Length::Pixels(720.0)));
        assert_eq!(p.h, Some(Length::Fraction(0.5)));
        assert_eq!(parse("w=99999").w, Some(Length::Pixels(8192.0)));
        assert_eq!(error("w=0").param, "w");
        assert_eq!(error("w=-3").param, "w");
        assert_eq!(error("w=abc").param, "w");
        assert_eq!(error("h=NaN").param, "h");
    }

    #[test]
    fn react_datocms_parameters_parse() {
        let p = parse("ar=16%3A9&dpr=0.25&fit=crop&w=750&auto=format&max-w=1500");
        assert_eq!(p.fit, Fit::Crop);
        assert!((p.ar.unwrap() - 16.0 / 9.0).abs() < 1e-9);
        assert_eq!(p.dpr, Some(0.25));
        assert!(p.auto_format);
        assert_eq!(p.max_w, Some(1500));
    }

    #[test]
    fn crop_modes_combine() {
        let p = parse("fit=crop&crop=top,left");
        assert_eq!((p.crop.x, p.crop.y), (Some(0.0), Some(0.0)));
        let p = parse("crop=focalpoint&fp-x=0.2&fp-y=1.7&fp-z=0.5");
        assert!(p.crop.focalpoint);
        assert_eq!((p.fp_x, p.fp_y, p.fp_z), (Some(0.2), Some(1.0), Some(1.0)));
        assert_eq!(parse("crop=faces").crop.smart, Some(true));
        assert_eq!(parse("crop=entropy").crop.smart, Some(false));
        assert_eq!(error("crop=middle").param, "crop");
        assert_eq!(error("fit=stretch").param, "fit");
    }

    #[test]
    fn formats_and_quality() {
        assert_eq!(parse("fm=pjpg").fm, Some(OutputFormat::ProgressiveJpeg));
        assert_eq!(parse("fm=PNG8").fm, Some(OutputFormat::Png8));
        assert!(error("fm=jp2").message.contains("not supported"));
        assert_eq!(error("fm=bmp").param, "fm");
        assert_eq!(parse("q=250").q, Some(100));
        assert_eq!(parse("q=0").q, Some(1));
        assert_eq!(parse("blur=5000").blur, Some(2000));
        assert!(parse("lossless=true").lossless);
        assert_eq!(error("lossless=maybe").param, "lossless");
        let p = parse("auto=compress,format,enhance");
        assert!(p.auto_compress && p.auto_format);
    }

    #[test]
    fn colours_follow_imgix() {
        assert_eq!(parse("bg=f00").bg, Some(Color { r: 255, g: 0, b: 0, a: 255 }));
        assert_eq!(parse("bg=%23336699").bg, Some(Color { r: 0x33, g: 0x66, b: 0x99, a: 255 }));
        assert_eq!(parse("bg=80ff0000").bg, Some(Color { r: 255, g: 0, b: 0, a: 0x80 }));
        assert_eq!(parse("bg=0fff").bg, Some(Color { r: 255, g: 255, b: 255, a: 0 }));
        assert_eq!(parse("bg=white").bg, Some(Color::WHITE));
        assert_eq!(error("bg=12345").param, "bg");
        assert_eq!(error("bg=zzz").param, "bg");
    }

    #[test]
    fn rotation_and_orientation() {
        assert_eq!(parse("rot=-90").rot, 270.0);
        assert_eq!(parse("rot=725").rot, 5.0);
        assert_eq!((parse("flip=hv").flip_h, parse("flip=hv").flip_v), (true, true));
        assert_eq!((parse("flip=v").flip_h, parse("flip=v").flip_v), (false, true));
        assert_eq!(error("flip=x").param, "flip");
        assert_eq!(parse("orient=90").orient, Some(6));
        assert_eq!(parse("orient=0").orient, Some(1));
        assert_eq!(parse("or=8").orient, Some(8));
        assert_eq!(error("orient=9").param, "orient");
        assert_eq!(error("orient=45").param, "orient");
    }

    #[test]
    fn aspect_ratio_and_rect() {
        assert!((parse("ar=1.5").ar.unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(error("ar=16:0").param, "ar");
        assert_eq!(error("ar=-1:2").param, "ar");
        let p = parse("rect=10,20,300,0.5");
        let r = p.rect.unwrap();
        assert_eq!(
            (r.x, r.y, r.w, r.h),
            (Length::Pixels(10.0), Length::Pixels(20.0), Length::Pixels(300.0), Length::Fraction(0.5))
        );
        assert_eq!(error("rect=1,2,3").param, "rect");
        assert_eq!(error("rect=0,0,0,10").param, "rect");
        assert_eq!(error("dpr=0").param, "dpr");
        assert_eq!(parse("dpr=9").dpr, Some(5.0));
    }
}
