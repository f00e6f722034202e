//! Which derived image a request asks for: the source upload, what is made of it ([`Output`]),
//! and its key in the store, derived from the canonical form of its parameters (sorted, without
//! defaults, `dpr` folded in, the format chosen from `Accept`) so that equivalent URLs share one
//! derived image.

use std::fmt::Write as _;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::{
    domain::encode_hex,
    imaging::{
        params::{Crop, Fill, Length, OutputFormat, TransformParams, DEFAULT_QUALITY},
        pipeline::{self, Recipe},
    },
    media::AnimatedClip,
    storage::{BlobRead, StorageKey},
};

/// Bumped whenever the pipeline's output for the same parameters changes, so old derived images
/// are never served for new code.
const PIPELINE_VERSION: &str = "1";

/// The upload a transform reads.
#[derive(Debug, Clone)]
pub struct Source {
    pub upload_id: String,
    pub blob_key: String,
    pub md5: String,
    pub mime_type: String,
    /// The stored focal point (fractions), used by `crop=focalpoint` without `fp-x`/`fp-y`.
    pub focal_point: Option<(f64, f64)>,
    /// Videos: the poster time chosen by the editor, and the length.
    pub poster_time: Option<f64>,
    pub duration: Option<f64>,
}

impl Source {
    fn is_video(&self) -> bool {
        self.mime_type.starts_with("video/")
    }

    /// Where a video's poster frame is taken: `poster_time`, or the middle (clamped inside the video).
    fn poster_at(&self) -> f64 {
        let duration = self.duration.filter(|d| d.is_finite() && *d > 0.0);
        let at = self.poster_time.or(duration.map(|d| d / 2.0)).unwrap_or(0.0);
        match duration {
            Some(d) => at.clamp(0.0, (d - 0.05).max(0.0)),
            None => at.max(0.0),
        }
    }
}

/// What a derived image is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An image upload, transformed.
    Transform(Recipe),
    /// A video's frame at `at` seconds, transformed.
    PosterFrame { at: f64, recipe: Recipe },
    /// An SVG upload with script and remote references removed (served at its plain URL).
    SafeSvg,
    /// An animated preview of a video (Mux's `animated.gif` / `animated.webp`).
    Animation(AnimatedClip),
}

/// One derived image of one upload: its recipe and where it is kept.
#[derive(Debug, Clone)]
pub struct Variant {
    pub output: Output,
    /// The sorted, default-free parameters that make the key (after `dpr` and `auto=format`).
    pub canonical: String,
    pub digest: String,
    pub key: StorageKey,
    /// The format was chosen from `Accept` (`auto=format`): answers must say `Vary: Accept`.
    pub negotiated: bool,
}

impl Variant {
    /// The MIME type of this derived image when known before reading it: always, except for the
    /// default format of sources whose output depends on their transparency (HEIC, TIFF, SVG).
    pub fn content_type(&self) -> Option<&'static str> {
        match &self.output {
            Output::SafeSvg => Some("image/svg+xml"),
            Output::Animation(clip) => Some(clip.format.mime_type()),
            Output::Transform(recipe) | Output::PosterFrame { recipe, .. } => {
                recipe.format.map(OutputFormat::mime_type)
            }
        }
    }
}

/// A derived image, from the cache or just made.
pub enum Derived {
    Stored(BlobRead),
    Fresh { bytes: Bytes, content_type: &'static str },
}

/// Resolves a request into its variant: `dpr` folded into `w`/`h`, the focal point filled in
/// when a focal-point crop uses it, the output format chosen (from `Accept` with `auto=format`).
/// For a video, the variant is its poster frame (JPEG unless `fm` says otherwise).
pub(super) fn requested(source: &Source, params: TransformParams, accept: Option<&str>) -> Variant {
    let (mut format, negotiated) = choose_format(&params, accept);
    if format.is_none() {
        format = pipeline::format_for_source(&source.mime_type);
    }
    let focal_point = source.focal_point.unwrap_or((0.5, 0.5));
    let params = normalise(params, focal_point);
    let poster_at = source.is_video().then(|| source.poster_at());
    if poster_at.is_some() {
        format = Some(format.unwrap_or(OutputFormat::Jpeg));
    }
    let mut canonical = canonical(&params, format);
    let recipe = Recipe { params, format, focal_point };
    let output = match poster_at {
        Some(at) => {
            canonical = format!("poster={at}&{canonical}");
            Output::PosterFrame { at, recipe }
        }
        None => Output::Transform(recipe),
    };
    keyed(source, output, canonical, negotiated)
}

/// The sanitised copy of an SVG upload (see [`crate::media::sanitize_svg`]).
pub(super) fn safe_svg(source: &Source) -> Variant {
    // `-2`: the allow-list sanitiser of issue 14; copies the old one made are never served again.
    keyed(source, Output::SafeSvg, "svg=sanitized-2".into(), false)
}

/// An animated preview of a video upload.
pub(super) fn animation(source: &Source, clip: AnimatedClip) -> Variant {
    let canonical = clip.canonical();
    keyed(source, Output::Animation(clip), canonical, false)
}

/// The variant of `source` made as `output`, keyed by the pipeline version, the source's md5 and
/// `canonical`.
fn keyed(source: &Source, output: Output, canonical: String, negotiated: bool) -> Variant {
    let mut hasher = Sha256::new();
    hasher.update(format!("{PIPELINE_VERSION}\n{}\n{canonical}", source.md5));
    let digest = encode_hex(&hasher.finalize()[..20]);
    let key = StorageKey::derived(&source.upload_id, &digest);
    Variant { output, canonical, digest, key, negotiated }
}

/// `fm` wins; otherwise `auto=format` picks AVIF, then WebP, from what `Accept` lists explicitly.
fn choose_format(params: &TransformParams, accept: Option<&str>) -> (Option<OutputFormat>, bool) {
    if let Some(fm) = params.fm {
        return (Some(fm), false);
    }
    if !params.auto_format {
        return (None, false);
    }
    let accept = accept.unwrap_or_default();
    let accepts = |wanted: &str| {
        accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused =
                parts.any(|p| p.replace(' ', "").strip_prefix("q=").and_then(|q| q.parse::<f64>().ok()) == Some(0.0));
            media.eq_ignore_ascii_case(wanted) && !refused
        })
    };
    let format = if accepts("image/avif") {
        Some(OutputFormat::Avif)
    } else if accepts("image/webp") {
        Some(OutputFormat::Webp)
    } else {
        None
    };
    (format, true)
}

/// Folds `dpr` into `w`/`h`, resolves the focal point where a focal-point crop uses it, and drops
/// what has no effect, so equivalent URLs share one derived image.
fn normalise(mut p: TransformParams, focal_point: (f64, f64)) -> TransformParams {
    // Without a size, a `dpr` below 1 shrinks the source itself (geometry applies it): it stays;
    // one above 1 changes nothing, and goes.
    if p.w.is_none() && p.h.is_none() {
        p.dpr = p.dpr.filter(|d| *d < 1.0);
    }
    if let Some(dpr) = p.dpr.take_if(|_| p.w.is_some() || p.h.is_some()) {
        let times = |l: Length| match l {
            Length::Pixels(v) => Length::Pixels(v * dpr),
            Length::Fraction(v) => Length::Fraction(v * dpr),
        };
        p.w = p.w.map(times);
        p.h = p.h.map(times);
        p.mask.scale(dpr);
        p.pad.scale(dpr);
    }
    if !p.fit.crops() {
        p.crop = Crop::default();
        p.ar = None;
    }
    let focal = p.fit.crops() && p.crop.smart.is_none() && (p.crop.focalpoint || p.fp_x.is_some() || p.fp_y.is_some());
    if focal {
        p.fp_x = Some(p.fp_x.unwrap_or(focal_point.0));
        p.fp_y = Some(p.fp_y.unwrap_or(focal_point.1));
        p.crop = Crop { focalpoint: true, ..Crop::default() };
        if p.fp_z == Some(1.0) {
            p.fp_z = None;
        }
    } else {
        (p.fp_x, p.fp_y, p.fp_z) = (None, None, None);
        p.crop.focalpoint = false;
    }
    p.fm = None;
    p.auto_format = false;
    if p.blur == Some(0) {
        p.blur = None;
    }
    if p.q == Some(DEFAULT_QUALITY) && !p.auto_compress {
        p.q = None;
    }
    p
}

/// The cache-key text of normalised parameters: `key=value` pairs in alphabetical order.
fn canonical(p: &TransformParams, format: Option<OutputFormat>) -> String {
    let length = |l: Length| match l {
        Length::Pixels(v) => format!("{v}"),
        Length::Fraction(v) => format!("{v}x"),
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(ar) = p.ar {
        pairs.push(("ar", format!("{ar}")));
    }
    if p.auto_compress {
        pairs.push(("auto", "compress".into()));
    }
    if let Some(bg) = p.bg {
        pairs.push(("bg", bg.to_string()));
    }
    if let Some(blur) = p.blur {
        pairs.push(("blur", blur.to_string()));
    }
    let crop = &p.crop;
    if crop.focalpoint || crop.x.is_some() || crop.y.is_some() || crop.smart.is_some() {
        let mut text = String::new();
        let _ = write!(text, "{:?},{:?},{},{:?}", crop.x, crop.y, crop.focalpoint, crop.smart);
        pairs.push(("crop", text));
    }
    if let Some(chromasub) = p.chromasub.filter(|c| *c != 420) {
        pairs.push(("chromasub", chromasub.to_string()));
    }
    if let Some(dpr) = p.dpr.filter(|d| *d != 1.0) {
        pairs.push(("dpr", format!("{dpr}")));
    }
    if p.fill == Fill::Blur {
        pairs.push(("fill", "blur".into()));
    }
    if let Some(color) = p.fill_color {
        pairs.push(("fill-color", color.to_string()));
    }
    if p.fit != Default::default() {
        pairs.push(("fit", p.fit.as_str().into()));
    }
    if p.flip_h || p.flip_v {
        pairs.push(("flip", format!("{}{}", if p.flip_h { "h" } else { "" }, if p.flip_v { "v" } else { "" })));
    }
    pairs.push(("fm", format.map_or("source", OutputFormat::as_str).into()));
    for (name, value) in [("fp-x", p.fp_x), ("fp-y", p.fp_y), ("fp-z", p.fp_z)] {
        if let Some(v) = value {
            pairs.push((name, format!("{v}")));
        }
    }
    if let Some(h) = p.h {
        pairs.push(("h", length(h)));
    }
    if p.lossless {
        pairs.push(("lossless", "1".into()));
    }
    if let Some(v) = p.max_h {
        pairs.push(("max-h", v.to_string()));
    }
    if let Some(v) = p.max_w {
        pairs.push(("max-w", v.to_string()));
    }
    if let Some(orient) = p.orient {
        pairs.push(("orient", orient.to_string()));
    }
    if let Some(q) = p.q {
        pairs.push(("q", q.to_string()));
    }
    if let Some(r) = p.rect {
        pairs.push(("rect", format!("{},{},{},{}", length(r.x), length(r.y), length(r.w), length(r.h))));
    }
    if p.rot != 0.0 {
        pairs.push(("rot", format!("{}", p.rot)));
    }
    if let Some(w) = p.w {
        pairs.push(("w", length(w)));
    }
    pairs.extend(p.adjust.canonical_pairs());
    pairs.extend(p.animation.canonical_pairs());
    pairs.extend(p.mask.canonical_pairs());
    pairs.extend(p.pad.canonical_pairs());
    pairs.sort_by_key(|(name, _)| *name);
    pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> TransformParams {
        TransformParams::parse(query).unwrap().unwrap()
    }

    fn key(query: &str, accept: Option<&str>) -> String {
        let (format, _) = choose_format(&params(query), accept);
        canonical(&normalise(params(query), (0.3, 0.7)), format)
    }

    #[test]
    fn canonical_form_is_sorted_and_drops_defaults() {
        assert_eq!(key("w=720&fm=jpg&q=80", None), "fm=jpg&q=80&w=720");
        assert_eq!(key("q=80&fm=jpg&w=720&fit=clip&dpr=1&blur=0", None), "fm=jpg&q=80&w=720");
        assert_eq!(key("w=720&q=75", None), "fm=source&w=720");
    }

    /// Each rendered parameter changes the derived image, so each is in the key (with a crop,
    /// where only crops use it).
    #[test]
    fn every_rendered_parameter_is_part_of_the_key() {
        let base = "w=100&h=50&fit=crop";
        // Values that differ from the base's and from the defaults.
        let sample = |name: &str| match name {
            "fit" => "fill",
            "crop" => "left",
            "auto" => "compress",
            "fp-x" | "fp-y" => "0.1",
            "orient" => "6",
            "q" => "20",
            "fm" | "ar" | "rect" | "bg" | "lossless" | "flip" | "invert" | "reverse" | "fill" | "fill-color"
            | "monochrome" | "duotone" | "dpr" | "mask" | "mask-bg" | "chromasub" => {
                crate::imaging::params::example_value(name)
            }
            _ => "30",
        };
        for name in crate::imaging::RENDERED_PARAMS {
            // The focal point's parameters apply to focal-point crops, `duotone-alpha` to a duotone,
            // the mask's to a mask.
            let base = match name {
                "duotone-alpha" => format!("{base}&duotone=000,fff"),
                "corner-radius" | "mask-bg" => format!("{base}&mask=corners"),
                "usmrad" => format!("{base}&usm=30"),
                _ if name.starts_with("fp-") => format!("{base}&crop=focalpoint"),
                _ => base.to_owned(),
            };
            let with = format!("{base}&{name}={}", sample(name));
            assert_ne!(key(&with, None), key(&base, None), "{with}");
        }
        assert_ne!(key("w=10&flip=h", None), key("w=10&flip=v", None));
        assert_ne!(key("w=10&rot=10", None), key("w=10&rot=20", None));
    }

    #[test]
    fn dpr_is_folded_into_the_size() {
        assert_eq!(key("w=375&dpr=2", None), key("w=750", None));
        assert_eq!(key("dpr=0.5", None), "dpr=0.5&fm=source", "without a size, dpr scales the source");
        assert_eq!(key("dpr=1", None), "fm=source");
        assert_eq!(key("dpr=2", None), "fm=source", "without a size, dpr above 1 changes nothing");
        assert_eq!(key("ar=16:9&dpr=0.5&fit=crop&w=750", None), key("ar=16:9&fit=crop&w=375", None));
    }

    #[test]
    fn the_focal_point_is_part_of_the_key_only_when_used() {
        assert_eq!(
            key("w=100&h=100&fit=crop&crop=focalpoint", None),
            "crop=None,None,true,None&fit=crop&fm=source&fp-x=0.3&fp-y=0.7&h=100&w=100"
        );
        assert_eq!(key("w=100&fp-x=0.2", None), "fm=source&w=100");
        assert_ne!(key("w=100&h=100&fit=crop&fp-x=0.2", None), key("w=100&h=100&fit=crop&fp-x=0.3", None));
    }

    #[test]
    fn auto_format_is_resolved_from_accept() {
        let chrome = Some("image/avif,image/webp,image/apng,image/*,*/*;q=0.8");
        let old_safari = Some("image/webp,image/png,image/*;q=0.8");
        assert_eq!(choose_format(&params("auto=format"), chrome), (Some(OutputFormat::Avif), true));
        assert_eq!(choose_format(&params("auto=format"), old_safari), (Some(OutputFormat::Webp), true));
        assert_eq!(
            choose_format(&params("auto=format"), Some("image/avif;q=0,image/webp")),
            (Some(OutputFormat::Webp), true)
        );
        assert_eq!(choose_format(&params("auto=format"), Some("*/*")), (None, true));
        assert_eq!(choose_format(&params("auto=format&fm=png"), chrome), (Some(OutputFormat::Png), false));
        assert_eq!(key("w=10&auto=format", chrome), key("w=10&fm=avif", None));
    }
}
