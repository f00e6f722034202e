//! Content sniffing: decide what an upload is from its first bytes.
//!
//! The filename and the client's `Content-Type` are not trusted; [`sniff`]
//! looks at the first bytes of the file instead (ingest passes up to
//! [`SNIFF_LEN`]). Binary formats are recognised with the `infer` crate.
//! XML is read as XML (quick-xml for the prolog, roxmltree for the root's
//! namespace): an SVG is a document whose root element is `svg` in the SVG
//! namespace, whatever prefix or entity declares it and however long the
//! prolog before it, as long as the root's start tag is within the bytes
//! given; other XML is `application/xml`. Plain text is detected here too.

use serde::{Deserialize, Serialize};

use super::xml_prolog;

/// Bytes read from the start of a file to sniff its type: for XML, the root element's start tag
/// must begin within them (prologs of real files take a few KiB: Illustrator's DOCTYPE, editors'
/// comments). A file whose root starts later is not taken for SVG; it is stored as XML or text and
/// never shown as SVG (see [`sniff`]).
pub const SNIFF_LEN: usize = 256 * 1024;

/// MIME type reported for SVG documents.
const SVG_MIME: &str = "image/svg+xml";
/// MIME type reported for other XML documents (served as downloads: a browser would render
/// one whose root turns out to be SVG or XHTML).
const XML_MIME: &str = "application/xml";
/// MIME type reported for UTF-8 text that matched nothing more specific.
const TEXT_MIME: &str = "text/plain";
/// MIME type reported when nothing matched.
const OCTET_STREAM_MIME: &str = "application/octet-stream";

/// Raster MIME types the `image` crate (with this crate's features) decodes.
const DECODABLE_RASTER_MIMES: &[&str] =
    &["image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/heif", "image/avif"];

/// What [`sniff`] learned about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// Detected MIME type, e.g. `image/jpeg`; `text/plain` or
    /// `application/octet-stream` when nothing specific matched.
    pub mime_type: String,
    /// Lowercase canonical extension (`jpg`, `png`, `mp4`, `svg`, …); `None`
    /// when the content does not determine it (plain text, unknown binary),
    /// in which case the caller keeps the uploaded file's extension.
    pub format: Option<String>,
    /// Broad category of the file.
    pub kind: MediaKind,
}

/// Broad category of a file, serialised in lowercase (`"image"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// An image this service understands: a raster format the `image` crate
    /// decodes (JPEG, PNG, GIF, WebP, BMP, TIFF) or SVG. Other image formats
    /// (HEIC, AVIF, PSD, …) are [`MediaKind::Other`].
    Image,
    /// A video container (MP4, QuickTime, WebM, Matroska, AVI, …).
    Video,
    /// An audio file (MP3, WAV, Ogg, FLAC, …).
    Audio,
    /// A PDF document.
    Pdf,
    /// Anything else.
    Other,
}

impl MediaKind {
    /// Whether the upload counts as an image (DatoCMS `is_image`).
    pub fn is_image(self) -> bool {
        self == MediaKind::Image
    }
}

impl Sniffed {
    fn new(mime_type: &str, format: Option<String>, kind: MediaKind) -> Self {
        Sniffed { mime_type: mime_type.to_owned(), format, kind }
    }
}

/// Classify a file from its first bytes (`head`).
///
/// Order: XML read up to its root element (SVG, or `application/xml`; checked
/// first because `infer` would call it text or `text/xml`), then `infer`'s binary signatures, then a UTF-8 text fallback
/// (`text/plain`, format `None`), else `application/octet-stream`.
/// An empty `head` is `application/octet-stream`.
pub fn sniff(head: &[u8]) -> Sniffed {
    match xml_root(head) {
        Some(XmlRoot::Svg) => return Sniffed::new(SVG_MIME, Some("svg".to_owned()), MediaKind::Image),
        Some(XmlRoot::Other) => return Sniffed::new(XML_MIME, Some("xml".to_owned()), MediaKind::Other),
        None => {}
    }
    if let Some(found) = infer::get(head) {
        return from_infer(&found);
    }
    if looks_like_text(head) {
        return Sniffed::new(TEXT_MIME, None, MediaKind::Other);
    }
    Sniffed::new(OCTET_STREAM_MIME, None, MediaKind::Other)
}

/// Whether two MIME types denote the same file format, for the rule that a
/// file replaced with `keep_url` must keep its format. Parameters
/// (`; charset=…`) and case are ignored, and common aliases are folded
/// (`image/jpg`, `image/pjpeg` → `image/jpeg`, …).
pub fn same_format(a: &str, b: &str) -> bool {
    let (a, b) = (normalize_mime(a), normalize_mime(b));
    !a.is_empty() && a == b
}

fn normalize_mime(mime: &str) -> String {
    let essence = mime.split(';').next().unwrap_or("").trim();
    let lower = essence.to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "image/x-png" => "image/png",
        "image/x-ms-bmp" | "image/x-bmp" => "image/bmp",
        "image/svg" => SVG_MIME,
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav",
        "audio/mp3" | "audio/x-mp3" | "audio/mpeg3" => "audio/mpeg",
        "application/x-pdf" => "application/pdf",
        other => other,
    };
    canonical.to_owned()
}

fn from_infer(found: &infer::Type) -> Sniffed {
    let mime = found.mime_type();
    let kind = kind_of(found.matcher_type(), mime);
    let format = canonical_extension(found.extension());
    Sniffed::new(mime, Some(format), kind)
}

fn kind_of(matcher: infer::MatcherType, mime: &str) -> MediaKind {
    match matcher {
        _ if DECODABLE_RASTER_MIMES.contains(&mime) => MediaKind::Image,
        _ if mime == "application/pdf" => MediaKind::Pdf,
        infer::MatcherType::Video => MediaKind::Video,
        infer::MatcherType::Audio => MediaKind::Audio,
        _ => MediaKind::Other,
    }
}

fn canonical_extension(ext: &str) -> String {
    let lower = ext.to_ascii_lowercase();
    match lower.as_str() {
        "jpeg" => "jpg".to_owned(),
        "tif" => "tiff".to_owned(),
        _ => lower,
    }
}

/// UTF-8 (a multi-byte character cut off at the end of `head` is allowed)
/// without NUL bytes.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None` means "unexpected end of input".
        Err(err) => err.error_len().is_none(),
    }
}

/// What the start of an XML document says it is.
#[derive(Debug, PartialEq, Eq)]
enum XmlRoot {
    /// Root element `svg` in the SVG namespace, however declared (any prefix, an entity).
    Svg,
    /// Well-formed up to a root element that is not SVG (and not HTML's `html`).
    Other,
}

/// Reads `head` as the start of an XML document: BOM, whitespace, XML declaration, comments,
/// processing instructions and DOCTYPE of any length (within `head`), then the root element's
/// start tag, whose namespace is resolved by roxmltree. `None` when `head` does not reach a root
/// element this way (not XML, or a prolog longer than `head`), or the root is `html`, left to
/// `infer`.
fn xml_root(head: &[u8]) -> Option<XmlRoot> {
    let document = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if document.trim_ascii_start().first() != Some(&b'<') {
        return None;
    }
    let prolog = xml_prolog::scan(document)?;
    if prolog.root_local_name.eq_ignore_ascii_case(b"html") {
        return None;
    }
    let Some(root_only) = xml_prolog::root_only(&prolog) else { return Some(XmlRoot::Other) };
    let options = roxmltree::ParsingOptions { allow_dtd: true, nodes_limit: 1024, ..Default::default() };
    let is_svg = roxmltree::Document::parse_with_options(&root_only, options).is_ok_and(|doc| {
        let root = doc.root_element().tag_name();
        root.namespace() == Some(xml_prolog::SVG_NS) && root.name() == "svg"
    });
    Some(if is_svg { XmlRoot::Svg } else { XmlRoot::Other })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The first 8 KiB of a fixture, as the upload pipeline would read it.
    fn head_of(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let file = std::fs::File::open(&path).expect("fixture exists");
        let mut head = Vec::new();
        file.take(SNIFF_LEN as u64).read_to_end(&mut head).expect("fixture readable");
        head
    }

    fn check(name: &str, mime: &str, format: Option<&str>, kind: MediaKind) {
        let got = sniff(&head_of(name));
        assert_eq!(got.mime_type, mime, "{name}");
        assert_eq!(got.format.as_deref(), format, "{name}");
        assert_eq!(got.kind, kind, "{name}");
    }

    #[test]
    fn sniffs_fixtures() {
        check("cat.png", "image/png", Some("png"), MediaKind::Image);
        check("cat.jpg", "image/jpeg", Some("jpg"), MediaKind::Image);
        check("dog.jpg", "image/jpeg", Some("jpg"), MediaKind::Image);
        check("clip.mp4", "video/mp4", Some("mp4"), MediaKind::Video);
        check("sound.mp3", "audio/mpeg", Some("mp3"), MediaKind::Audio);
        check("doc.pdf", "application/pdf", Some("pdf"), MediaKind::Pdf);
        check("notes.txt", "text/plain", None, MediaKind::Other);
        check("drawing.svg", "image/svg+xml", Some("svg"), MediaKind::Image);
        // Only the signature is checked; decoding fails later.
        check("corrupt.png", "image/png", Some("png"), MediaKind::Image);
    }

    #[test]
    fn is_image_only_for_image_kind() {
        assert!(MediaKind::Image.is_image());
        for kind in [MediaKind::Video, MediaKind::Audio, MediaKind::Pdf, MediaKind::Other] {
            assert!(!kind.is_image(), "{kind:?}");
        }
    }

    #[test]
    fn media_kind_serialises_lowercase() {
        let json = serde_json::to_string(&MediaKind::Pdf).expect("serialises");
        assert_eq!(json, "\"pdf\"");
        let back: MediaKind = serde_json::from_str("\"video\"").expect("deserialises");
        assert_eq!(back, MediaKind::Video);
    }

    #[test]
    fn svg_variants() {
        let cases: &[&[u8]] = &[
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"\xEF\xBB\xBF  \n<svg xmlns=\"http://www.w3.org/2000/svg\">",
            b"<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<svg\n width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">",
            b"<?xml version=\"1.0\"?><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \
              \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\"><svg xmlns=\"http://www.w3.org/2000/svg\">",
            b"<!DOCTYPE svg [ <!ENTITY a \"b\"> ]>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            // Any prefix (defect 4 of issue 14: this was text/xml, served inline, and ran its script).
            b"<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"><svg:script>alert(1)</svg:script></svg:svg>",
            // Illustrator: the namespace comes from an entity of the internal subset.
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \
              \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\" [\n\t<!ENTITY ns_svg \"http://www.w3.org/2000/svg\">\n\
              \t<!ENTITY ns_xlink \"http://www.w3.org/1999/xlink\">\n]>\n<svg version=\"1.1\" xmlns=\"&ns_svg;\" \
              xmlns:xlink=\"&ns_xlink;\" width=\"10\">",
            // BOM, whitespace and a start tag split over lines.
            b"\xEF\xBB\xBF\r\n\t <svg\n  xmlns=\"http://www.w3.org/2000/svg\"\n>",
        ];
        for case in cases {
            let got = sniff(case);
            assert_eq!(got.mime_type, SVG_MIME, "{}", String::from_utf8_lossy(case));
            assert!(got.kind.is_image());
        }
    }

    #[test]
    fn a_prolog_of_any_length_before_the_root() {
        // Defect 4 of issue 14: a comment longer than the old 8 KiB sniffing window hid the root.
        let comment = "made by a very chatty exporter. ".repeat(1024);
        let svg = format!("<?xml version=\"1.0\"?>\n<!--{comment}-->\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        assert!(svg.len() > 32 * 1024 && svg.len() < SNIFF_LEN);
        assert_eq!(sniff(svg.as_bytes()).mime_type, SVG_MIME);
        // Past the bytes given, nothing is known: XML-looking text that is never shown as SVG.
        let cut = &svg.as_bytes()[..16 * 1024];
        let sniffed = sniff(cut);
        assert_ne!(sniffed.mime_type, SVG_MIME);
        assert!(!sniffed.kind.is_image());
    }

    #[test]
    fn other_xml_is_application_xml() {
        let cases: &[&[u8]] = &[
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>",
            b"<svg><rect/></svg>",
            b"<svg xmlns=\"http://example.com/not-svg\"/>",
            b"<x:svg xmlns:x=\"http://www.w3.org/2000/svg-not\"/>",
            b"<kml xmlns=\"http://www.opengis.net/kml/2.2\">",
            // Browsers refuse an undeclared prefix or entity; so does the sniffer.
            b"<svg:svg>",
            b"<svg xmlns=\"&ns;\">",
        ];
        for case in cases {
            let got = sniff(case);
            assert_eq!(got.mime_type, XML_MIME, "{}", String::from_utf8_lossy(case));
            assert_eq!(got.format.as_deref(), Some("xml"));
            assert_eq!(got.kind, MediaKind::Other);
        }
        assert_eq!(sniff(b"<!DOCTYPE html><html><body><svg></svg></body></html>").mime_type, "text/html");
    }

    #[test]
    fn not_svg() {
        // XML that is not SVG, an element merely starting with "svg",
        // HTML embedding an SVG, and an unterminated comment.
        let cases: &[&[u8]] = &[
            b"<?xml version=\"1.0\"?><rss></rss>",
            b"<svgfoo>",
            b"<html><body><svg></svg></body></html>",
            b"<!-- never closed <svg>",
        ];
        for case in cases {
            assert_ne!(sniff(case).mime_type, SVG_MIME, "{}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn text_fallback() {
        let json = sniff(b"{\"a\": [1, 2, 3]}\n");
        assert_eq!(json.mime_type, TEXT_MIME);
        assert_eq!(json.format, None);
        assert_eq!(json.kind, MediaKind::Other);
        assert_eq!(sniff(b"name,age\nAda,36\n").mime_type, TEXT_MIME);
        // "é" is 0xC3 0xA9: a head cut after 0xC3 is still text.
        assert_eq!(sniff(b"caf\xC3").mime_type, TEXT_MIME);
    }

    #[test]
    fn binary_fallback() {
        for case in [&b"abc\0def"[..], b"\xC3\x28 invalid", b"\xFF\xFE\xFD", b""] {
            let got = sniff(case);
            assert_eq!(got.mime_type, OCTET_STREAM_MIME, "{case:?}");
            assert_eq!(got.format, None);
            assert_eq!(got.kind, MediaKind::Other);
        }
    }

    #[test]
    fn other_infer_formats() {
        let zip = sniff(b"PK\x03\x04\x14\x00\x00\x00\x08\x00");
        assert_eq!(zip.mime_type, "application/zip");
        assert_eq!(zip.format.as_deref(), Some("zip"));
        assert_eq!(zip.kind, MediaKind::Other);
        let tiff = sniff(b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(tiff.mime_type, "image/tiff");
        assert_eq!(tiff.format.as_deref(), Some("tiff"));
        assert!(tiff.kind.is_image());
        let wav = sniff(b"RIFF\x24\x00\x00\x00WAVEfmt ");
        assert_eq!(wav.format.as_deref(), Some("wav"));
        assert_eq!(wav.kind, MediaKind::Audio);
    }

    #[test]
    fn same_format_rules() {
        assert!(same_format("image/jpeg", "image/jpeg"));
        assert!(!same_format("image/jpeg", "image/png"));
        assert!(same_format("image/jpg", "image/jpeg"));
        assert!(same_format("image/pjpeg", "IMAGE/JPEG"));
        assert!(same_format("text/plain; charset=utf-8", "text/plain"));
        assert!(same_format("audio/x-wav", "audio/wav"));
        assert!(!same_format("video/mp4", "video/quicktime"));
        assert!(!same_format("", ""));
    }
}
