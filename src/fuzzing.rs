//! Entry points for the cargo-fuzz targets in `fuzz/` and for `tests/fuzz_corpus.rs`, which replays
//! their committed corpora on stable Rust. Each function takes arbitrary bytes, runs one parser the
//! way a request would, and panics only when an invariant breaks, so a fuzzer crash is a bug and
//! the replay test runs exactly what the fuzzer ran. Not an API: hidden from the docs. A top
//! layer like `cli`: it may call any parser, and nothing uses it.
//!
//! Targets:
//! - [`filter_params`]: the `GET /uploads` query string, through to the SQL of both backends;
//! - [`transform_params`]: the imgix parameters of a delivery URL, through the URL policy
//!   (signatures, presets) and to the geometry plan;
//! - [`sniff`]: content sniffing of an upload's first bytes;
//! - [`svg_sanitize`]: the allow-list SVG sanitiser, whose output must hold no script or remote link.

use std::sync::OnceLock;

use quick_xml::{events::Event, Reader};

use crate::{
    api::{parse_nested_query, parse_uploads_query, transform_policy::TransformPolicy},
    config::Config,
    db::{listing_statements, StringOp, TagOp, UploadCondition},
    domain::Locale,
    imaging::{
        geometry::{self, Plan},
        params::{Length, MAX_DIMENSION},
        TransformParams,
    },
    media::{self, MediaKind},
};

/// Most values SQLite binds in one statement (`SQLITE_MAX_VARIABLE_NUMBER`); Postgres takes more.
const SQLITE_MAX_BINDS: usize = 32_766;
/// How many bytes of an upload [`media::sniff()`] is given (see `ingest`).
const SNIFF_HEAD: usize = 8192;
/// The default `ASSETD_MAX_OUTPUT_PIXELS`.
const MAX_OUTPUT_PIXELS: u64 = 40_000_000;
/// The default `ASSETD_MAX_UPSCALE`.
const MAX_UPSCALE: f64 = 4.0;
/// Source sizes every parsed transform is planned for: ordinary photos and the extreme aspect
/// ratios where rounding and division go wrong first.
const SOURCES: [(u32, u32); 7] = [(1, 1), (2, 3), (640, 480), (4000, 3000), (1, 8192), (8192, 1), (10_000, 10_000)];

/// A query string from fuzzer bytes: request URIs are text, and invalid UTF-8 still exercises the
/// percent-decoding paths once replaced.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The listing config: two locales, so `locale=` has something to choose from.
fn listing_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut config = Config::for_data_dir("/nonexistent".into());
        config.locales = ["en", "it", "pt-BR"].iter().filter_map(|l| Locale::parse(l).ok()).collect();
        config
    })
}

/// `GET /uploads?…`: parses the raw query as the handler does. Deterministic; a rejection is a 4xx
/// (never a 500); an accepted query stays within the documented limits and builds SQL on both
/// backends that binds no more values than SQLite allows.
pub fn filter_params(data: &[u8]) {
    let raw = text(data);
    let parse = || parse_nested_query(Some(&raw)).and_then(|query| parse_uploads_query(listing_config(), &query));
    let first = parse();
    assert_eq!(first, parse(), "parsing is deterministic");
    let query = match first {
        Ok(query) => query,
        Err(error) => {
            assert!((400..500).contains(&error.status), "a bad query is the client's error: {error:?}");
            return;
        }
    };
    assert!(query.offset >= 0 && (0..=500).contains(&query.limit), "{query:?}");
    for condition in &query.conditions {
        let values = match condition {
            UploadCondition::String { op: StringOp::In(v) | StringOp::NotIn(v), .. } => v.len(),
            UploadCondition::Tags(op) | UploadCondition::Colors(op) => match op {
                TagOp::AnyIn(v) | TagOp::AllIn(v) | TagOp::NotIn(v) | TagOp::Eq(v) => v.len(),
            },
            _ => 0,
        };
        assert!(values <= 1000, "at most MAX_VALUES values per operator: {condition:?}");
    }
    match listing_statements(&query) {
        Ok(statements) => {
            for (sql, binds) in statements {
                assert!(binds <= SQLITE_MAX_BINDS, "{binds} binds in {sql}");
            }
        }
        Err(error) => panic!("an accepted query must encode its values: {error}"),
    }
}

/// A delivery URL's query: parses as the delivery handler does. Deterministic; a rejection is the
/// typed [`crate::imaging::ParamError`]; accepted numbers are clamped into their documented ranges;
/// every source size gets a plan whose region lies inside the source, whose output stays within
/// `MAX_DIMENSION` a side, the output pixel limit and `MAX_UPSCALE` times the source a side, and
/// whose intermediate resize is no larger than the source or the pixel limit.
pub fn transform_params(data: &[u8]) {
    let raw = text(data);
    check_policy(&raw);
    let first = TransformParams::parse(&raw);
    assert_eq!(first, TransformParams::parse(&raw), "parsing is deterministic");
    let Ok(Some(params)) = first else { return };
    check_ranges(&params);
    for (width, height) in SOURCES {
        // A rejected `rect` (outside the image) is a 400, not a bug.
        if let Ok(plan) = geometry::plan(width, height, &params, (0.5, 0.5), MAX_OUTPUT_PIXELS, MAX_UPSCALE) {
            check_plan(width, height, &plan, &params);
        }
    }
}

/// The URL policy in front of the parser (signatures, presets): a refusal is a 4xx, and a URL
/// signed with the policy's own secret is never refused for its signature.
fn check_policy(raw: &str) {
    static POLICY: OnceLock<TransformPolicy> = OnceLock::new();
    let policy = POLICY.get_or_init(|| {
        let secret = crate::config::Secret::new("fuzzing-secret");
        TransformPolicy::new(Some(&secret), "thumb:w=200&h=200&fit=crop;hero:w=1600&auto=format", false)
            .unwrap_or_else(|e| panic!("the fuzzing presets are valid: {e}"))
    });
    const PATH: &str = "/1/123-photo.jpg";
    if let Err(error) = policy.resolve(PATH, Some(raw)) {
        assert!((400..500).contains(&error.status), "a refused URL is the client's error: {error:?}");
    }
    if !raw.contains("s=") {
        let signed = match raw {
            "" => format!("s={}", policy.sign(PATH, "")),
            _ => format!("{raw}&s={}", policy.sign(PATH, raw)),
        };
        if let Err(error) = policy.resolve(PATH, Some(&signed)) {
            assert_ne!(error.code, "INVALID_SIGNATURE", "a correctly signed URL: {signed}");
            assert_ne!(error.code, "TRANSFORM_NOT_ALLOWED", "signed URLs may use any parameter: {signed}");
        }
    }
}

fn check_ranges(p: &TransformParams) {
    let max = f64::from(MAX_DIMENSION);
    for length in [p.w, p.h].into_iter().flatten() {
        match length {
            Length::Pixels(v) => assert!((1.0..=max).contains(&v), "{p:?}"),
            Length::Fraction(v) => assert!(v > 0.0 && v < 1.0, "{p:?}"),
        }
    }
    for v in [p.max_w, p.max_h].into_iter().flatten() {
        assert!((1..=MAX_DIMENSION).contains(&v), "{p:?}");
    }
    for v in [p.fp_x, p.fp_y].into_iter().flatten() {
        assert!((0.0..=1.0).contains(&v), "{p:?}");
    }
    assert!(p.fp_z.is_none_or(|z| (1.0..=100.0).contains(&z)), "{p:?}");
    assert!(p.ar.is_none_or(|ar| (0.01..=100.0).contains(&ar)), "{p:?}");
    assert!(p.dpr.is_none_or(|d| (0.01..=5.0).contains(&d)), "{p:?}");
    assert!(p.q.is_none_or(|q| (1..=100).contains(&q)), "{p:?}");
    assert!(p.blur.is_none_or(|b| b <= 2000), "{p:?}");
    assert!((0.0..360.0).contains(&p.rot), "{p:?}");
    assert!(p.orient.is_none_or(|o| (1..=8).contains(&o)), "{p:?}");
    let a = &p.adjust;
    assert!(a.usmrad.is_none_or(|r| (0.1..=100.0).contains(&r)), "{p:?}");
    for v in [a.bri, a.con, a.exp, a.gam, a.sat, a.usm] {
        assert!((-100..=100).contains(&v), "{p:?}");
    }
    assert!((0..360).contains(&a.hue) && (0.0..=100.0).contains(&a.sharp) && a.px <= 100, "{p:?}");
    assert!(a.sepia <= 100 && a.duotone_alpha.is_none_or(|d| d <= 100), "{p:?}");
    let radii = p.mask.radii.unwrap_or_default();
    assert!(radii.iter().all(|r| r.is_finite() && *r >= 0.0), "{p:?}");
    let n = &p.animation;
    assert!(n.frames.is_none_or(|(first, last)| first >= 1 && last.is_none_or(|l| l >= first)), "{p:?}");
    assert!(n.loop_count.is_none_or(|l| l <= 65_535), "{p:?}");
    for pages in [1, 7] {
        let kept = n.pages(pages);
        assert!(!kept.is_empty() && kept.iter().all(|page| *page < pages), "{p:?}: {kept:?}");
    }
}

fn check_plan(width: u32, height: u32, plan: &Plan, params: &TransformParams) {
    let context = || format!("{width}x{height} {params:?} → {plan:?}");
    let r = plan.region;
    assert!(r.width >= 1 && r.height >= 1, "{}", context());
    assert!(u64::from(r.x) + u64::from(r.width) <= u64::from(width), "{}", context());
    assert!(u64::from(r.y) + u64::from(r.height) <= u64::from(height), "{}", context());
    let (rw, rh) = plan.resized;
    let (ow, oh) = plan.output_size();
    assert!(ow >= 1 && oh >= 1 && rw >= 1 && rh >= 1, "{}", context());
    assert!(ow <= MAX_DIMENSION && oh <= MAX_DIMENSION, "{}", context());
    assert!(u64::from(ow) * u64::from(oh) <= MAX_OUTPUT_PIXELS, "{}", context());
    assert!(f64::from(ow) <= MAX_UPSCALE * f64::from(width), "{}", context());
    assert!(f64::from(oh) <= MAX_UPSCALE * f64::from(height), "{}", context());
    // The resized image may be larger than the output (a smart crop cuts it), but never larger
    // than both the source and the output limit.
    let source = u64::from(width) * u64::from(height);
    assert!(u64::from(rw) * u64::from(rh) <= source.max(MAX_OUTPUT_PIXELS), "{}", context());
    if let Some(crop) = plan.smart_crop {
        assert!(crop.width <= rw && crop.height <= rh, "{}", context());
    }
    if let Some(canvas) = plan.canvas {
        // What is placed on the canvas: the smart crop, else the resized image.
        let (pw, ph) = plan.smart_crop.map_or((rw, rh), |crop| (crop.width, crop.height));
        assert!(u64::from(canvas.left) + u64::from(pw) <= u64::from(canvas.width), "{}", context());
        assert!(u64::from(canvas.top) + u64::from(ph) <= u64::from(canvas.height), "{}", context());
    }
}

/// An upload's first bytes, as ingest reads them. Deterministic, and the answer is consistent: a
/// MIME type with a slash, a canonical lowercase extension, and a kind that matches the type.
pub fn sniff(data: &[u8]) {
    let head = &data[..data.len().min(SNIFF_HEAD)];
    let sniffed = media::sniff(head);
    assert_eq!(sniffed, media::sniff(head), "sniffing is deterministic");
    let mime = sniffed.mime_type.as_str();
    assert!(mime.contains('/') && media::same_format(mime, mime), "{sniffed:?}");
    if let Some(format) = &sniffed.format {
        assert!(!format.is_empty() && !format.bytes().any(|b| b.is_ascii_uppercase()), "{sniffed:?}");
        assert!(format != "jpeg" && format != "tif", "extensions are canonical: {sniffed:?}");
    }
    match sniffed.kind {
        MediaKind::Image => assert!(mime.starts_with("image/"), "{sniffed:?}"),
        MediaKind::Pdf => assert_eq!(mime, "application/pdf"),
        MediaKind::Video | MediaKind::Audio | MediaKind::Other => {}
    }
    if head.is_empty() {
        assert_eq!(mime, "application/octet-stream");
    }
}

/// An SVG upload: sanitising either fails (not well-formed, not SVG) or gives a document that,
/// parsed again, holds only SVG-namespace elements, no dropped element, no event handler, no
/// `javascript:` (after unescaping), no link other than in-document and inline raster images, no
/// `url()` other than `url(#…)` and no `@import`; sanitising that output changes nothing.
pub fn svg_sanitize(data: &[u8]) {
    let Ok(once) = media::sanitize_svg(data) else { return };
    assert_safe(once.as_bytes());
    match media::sanitize_svg(once.as_bytes()) {
        Ok(twice) => assert_eq!(once, twice, "sanitising is idempotent"),
        Err(error) => panic!("sanitised output is well-formed: {error}\n{once}"),
    }
}

/// CSS (squeezed, lowercase) that holds no `url()` but `url(#…)` and no `@import`.
fn assert_local_css(css: &str, document: &str) {
    let squeezed: String = css.chars().filter(|c| !c.is_whitespace()).collect();
    for (at, _) in squeezed.match_indices("url(") {
        let rest = squeezed[at + 4..].trim_start_matches(['"', '\'']);
        assert!(rest.starts_with('#'), "non-local url() kept:\n{document}");
    }
    assert!(!squeezed.contains("@import"), "@import kept:\n{document}");
}

fn assert_safe(svg: &[u8]) {
    let dropped = ["script", "foreignobject", "iframe", "embed", "object", "audio", "video", "handler", "listener"];
    let text = String::from_utf8_lossy(svg);
    let mut in_style = false;
    let mut reader = Reader::from_reader(svg);
    let mut buf = Vec::new();
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(event) => event,
            Err(error) => panic!("sanitised output parses: {error}\n{text}"),
        };
        match &event {
            Event::Start(element) => in_style = element.local_name().as_ref() == b"style",
            Event::End(_) => in_style = false,
            Event::Text(css) if in_style => {
                let css = css.xml_content().unwrap_or_default().to_ascii_lowercase();
                assert_local_css(&css, &text);
            }
            _ => {}
        }
        if let Event::Start(element) | Event::Empty(element) = &event {
            assert!(element.name().prefix().is_none(), "prefixed element kept:\n{text}");
            let name = element.local_name().as_ref().to_ascii_lowercase();
            assert!(!dropped.iter().any(|d| d.as_bytes() == name), "dropped element kept:\n{text}");
            for attribute in element.attributes() {
                let Ok(attribute) = attribute else { panic!("sanitised attributes parse:\n{text}") };
                let key = attribute.key.local_name().as_ref().to_ascii_lowercase();
                assert!(!key.starts_with(b"on"), "event handler kept:\n{text}");
                // What a browser acts on: the unescaped value, without whitespace and controls.
                let value: String = attribute
                    .unescape_value()
                    .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned().into())
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                assert!(!value.contains("javascript:") && !value.contains("vbscript:"), "script URL kept:\n{text}");
                if key == b"href" {
                    assert!(value.starts_with('#') || value.starts_with("data:image/"), "remote link kept:\n{text}");
                }
                assert_local_css(&value, &text);
                if key == b"attributename" {
                    assert!(
                        !value.starts_with("on") && !value.contains("href"),
                        "animated link or handler kept:\n{text}"
                    );
                }
            }
        }
        buf.clear();
    }
}
