//! Makes an uploaded SVG safe to show: an SVG opened from its URL is a document that can run
//! script, load remote resources and define entity bombs.
//!
//! The document is parsed whole with roxmltree (namespace-aware, internal entities expanded within
//! its depth and count limits, external DTDs and entities never loaded) and a new document is
//! written from the tree by an allow-list ([`svg_allow`]): SVG-namespace elements and attributes
//! that only draw, CSS properties and functions that only paint, links only inside the document
//! (`#id`) or to inline raster images (`data:image/png|jpeg|gif|webp`). Everything else is not
//! written: script, `foreignObject`, event attributes, elements and attributes of other namespaces
//! (editor data such as `inkscape:`, `sodipodi:`, Illustrator's `i:`), comments, processing
//! instructions, the DOCTYPE. Animations (`<set>`, `<animate>`, …) are kept only when what they
//! animate is kept and is no link. CSS (`<style>`, `style=""`, presentation attributes) goes
//! through [`svg_css`]. Names are written as the allow-list spells them and values re-escaped, so
//! nothing of the input's syntax reaches the output; namespaces are written once on the root
//! (`xmlns`, `xmlns:xlink`), which is how an Illustrator file whose namespace came from an entity
//! (`xmlns="&ns_svg;"`) keeps displaying.
//!
//! Why not re-serialising through usvg: usvg's writer emits its own simplified model. Text
//! becomes paths only with fonts loaded at sanitising time (fontdb, machine-dependent output) and is
//! lost without them; `<style>` classes, `<switch>`, links and SMIL animation are flattened or
//! dropped; files grow (absolute paths everywhere); its image loader reads local files unless
//! replaced. Browsers draw the kept elements themselves, with their own fonts, so an allow-list
//! over the real tree keeps editor output looking as it did, and nothing outside the lists is
//! ever written.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use super::{svg_allow, svg_css, xml_prolog};

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Largest tree parsed (elements, attributes' owners, text nodes).
const MAX_NODES: u32 = 1_000_000;
/// Entity references may expand the document to at most this many bytes (see [`check_entities`]).
const MAX_ENTITY_EXPANSION: usize = 16 * 1024 * 1024;
/// roxmltree lets one reference expand at most this many references in turn.
const REFERENCES_PER_REFERENCE: usize = 256;

/// Why an SVG could not be sanitised (not well-formed, not SVG, or too costly to parse).
#[derive(Debug, thiserror::Error)]
#[error("the SVG cannot be sanitised: {0}")]
pub struct SvgError(String);

/// The sanitised copy of the SVG document `svg`.
pub fn sanitize_svg(svg: &[u8]) -> Result<String, SvgError> {
    let svg = svg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(svg);
    let text = std::str::from_utf8(svg).map_err(|_| SvgError("not UTF-8".into()))?;
    check_entities(svg)?;
    let options = ParsingOptions { allow_dtd: true, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let document = Document::parse_with_options(text, options).map_err(|e| SvgError(e.to_string()))?;
    let root = document.root_element();
    if root.tag_name().namespace() != Some(xml_prolog::SVG_NS) || root.tag_name().name() != "svg" {
        return Err(SvgError("the root element is not <svg> in the SVG namespace".into()));
    }
    let mut out = String::with_capacity(text.len() / 2);
    write_element(root, true, &mut out);
    Ok(out)
}

/// Refuses documents whose entity references could expand past [`MAX_ENTITY_EXPANSION`]: each
/// reference outside the DOCTYPE expands to at most [`REFERENCES_PER_REFERENCE`] definitions, each
/// no longer than the DOCTYPE. Editors declare a few short entities (Illustrator: namespace URIs).
fn check_entities(svg: &[u8]) -> Result<(), SvgError> {
    let Some(prolog) = xml_prolog::scan(svg) else { return Ok(()) };
    if prolog.doctype_len == 0 {
        return Ok(());
    }
    // Counted over the whole document, the DOCTYPE's own references included: an overestimate.
    let references = svg
        .iter()
        .enumerate()
        .filter(|&(at, &byte)| byte == b'&' && !is_predefined_or_character(&svg[at + 1..]))
        .count();
    let bound = references.saturating_mul(REFERENCES_PER_REFERENCE).saturating_mul(prolog.doctype_len);
    if bound > MAX_ENTITY_EXPANSION {
        return Err(SvgError(format!("{references} entity references could expand too far")));
    }
    Ok(())
}

fn is_predefined_or_character(after_ampersand: &[u8]) -> bool {
    [&b"#"[..], b"amp;", b"lt;", b"gt;", b"quot;", b"apos;"].iter().any(|name| after_ampersand.starts_with(name))
}

fn write_element(node: Node<'_, '_>, is_root: bool, out: &mut String) {
    let name = node.tag_name().name();
    if node.tag_name().namespace() != Some(xml_prolog::SVG_NS) || !svg_allow::ELEMENTS.contains(&name) {
        return;
    }
    if svg_allow::ANIMATIONS.contains(&name) && !animates_something_kept(node) {
        return;
    }
    if name == "style" && node.attribute("type").is_some_and(|t| !t.trim().eq_ignore_ascii_case("text/css")) {
        return;
    }
    out.push('<');
    out.push_str(name);
    if is_root {
        out.push_str(" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"");
    }
    for attribute in node.attributes() {
        if let Some((written_name, value)) = kept_attribute(name, &attribute) {
            out.push(' ');
            out.push_str(written_name);
            out.push_str("=\"");
            escape_into(&value, true, out);
            out.push('"');
        }
    }
    let start = out.len();
    out.push('>');
    if name == "style" {
        let css: String = node.children().filter_map(|child| child.text()).collect();
        escape_into(&svg_css::sanitize_stylesheet(&css), false, out);
    } else {
        for child in node.children() {
            match child.node_type() {
                NodeType::Element => write_element(child, false, out),
                NodeType::Text => escape_into(child.text().unwrap_or_default(), false, out),
                NodeType::Root | NodeType::Comment | NodeType::PI => {}
            }
        }
    }
    if out.len() == start + 1 {
        out.truncate(start);
        out.push_str("/>");
    } else {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

/// The name to write and the value of an attribute that is kept, if it is.
fn kept_attribute<'a>(element: &str, attribute: &roxmltree::Attribute<'a, '_>) -> Option<(&'a str, String)> {
    let (name, value) = (attribute.name(), attribute.value());
    match attribute.namespace() {
        Some(XLINK_NS) if name == "href" => is_safe_href(element, value).then(|| ("xlink:href", value.to_owned())),
        Some(XML_NS) if name == "space" => Some(("xml:space", value.to_owned())),
        Some(XML_NS) if name == "lang" => Some(("xml:lang", value.to_owned())),
        Some(_) => None,
        None if name == "href" => is_safe_href(element, value).then(|| ("href", value.to_owned())),
        None if name == "style" => {
            let style = svg_css::sanitize_declarations(value);
            (!style.is_empty()).then_some(("style", style))
        }
        // `x`, `width`, `d`, … are CSS properties too, but kept as the plain attributes they also are.
        None if svg_allow::CSS_PROPERTIES.contains(&name) && !svg_allow::ATTRIBUTES.contains(&name) => {
            svg_css::is_safe_value(name, value).then(|| (name, value.to_owned()))
        }
        None if matches!(name, "from" | "to" | "by" | "values") => {
            svg_css::is_inert_values(value).then(|| (name, value.to_owned()))
        }
        None if svg_allow::ATTRIBUTES.contains(&name) || is_data_attribute(name) => Some((name, value.to_owned())),
        None => None,
    }
}

/// `data-name` (Illustrator) and other `data-*` attributes: inert.
fn is_data_attribute(name: &str) -> bool {
    name.strip_prefix("data-").is_some_and(|rest| !rest.is_empty())
}

/// Links to elements of this document; raster images inline, where an image is drawn.
fn is_safe_href(element: &str, value: &str) -> bool {
    let value = value.trim();
    if value.starts_with('#') {
        return !element.eq_ignore_ascii_case("image");
    }
    let lower: String = value.chars().filter(|c| !c.is_ascii_whitespace()).take(32).collect::<String>();
    let lower = lower.to_ascii_lowercase();
    matches!(element, "image" | "feImage") && svg_allow::DATA_IMAGE_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// A SMIL element is kept when it animates an attribute that is kept and is not a link or a style.
fn animates_something_kept(node: Node<'_, '_>) -> bool {
    if node.tag_name().name() == "animateMotion" {
        return true;
    }
    let Some(target) = node.attribute("attributeName") else { return false };
    let target = target.trim();
    svg_allow::CSS_PROPERTIES.contains(&target) || svg_allow::ATTRIBUTES.contains(&target)
}

/// Appends `text` escaped for XML character data, or for a double-quoted attribute value.
fn escape_into(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitize(svg: &str) -> String {
        sanitize_svg(svg.as_bytes()).unwrap_or_else(|e| panic!("{e}: {svg}"))
    }

    fn assert_gone(out: &str, gone: &[&str]) {
        for needle in gone {
            assert!(!out.contains(needle), "{needle} survived:\n{out}");
        }
    }

    fn assert_kept(out: &str, kept: &[&str]) {
        for needle in kept {
            assert!(out.contains(needle), "{needle} was lost:\n{out}");
        }
    }

    #[test]
    fn scripts_and_handlers_are_not_written() {
        let out = sanitize(
            r##"<?xml version="1.0"?>
<svg:svg xmlns:svg="http://www.w3.org/2000/svg" onload="alert(1)" width="10">
  <!-- a comment --><?php echo 1 ?>
  <svg:script>alert(2)</svg:script>
  <script xmlns="http://www.w3.org/2000/svg" type="text/javascript"><![CDATA[alert(3)]]></script>
  <svg:rect width="10" height="10" fill="#f00" onclick="alert(4)" ONCLICK="alert(5)"/>
  <svg:foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://x.example"/></div></svg:foreignObject>
  <svg:handler type="application/ecmascript">alert(6)</svg:handler>
</svg:svg>"##,
        );
        assert_gone(
            &out,
            &[
                "script",
                "alert",
                "onload",
                "onclick",
                "ONCLICK",
                "foreignObject",
                "iframe",
                "handler",
                "comment",
                "php",
            ],
        );
        assert!(
            out.starts_with(
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10">"#
            ),
            "{out}"
        );
        assert_kept(&out, &[r##"<rect width="10" height="10" fill="#f00"/>"##]);
    }

    #[test]
    fn animations_cannot_set_handlers_or_links() {
        let out = sanitize(
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
  <a id="l"><set attributeName="onclick" to="alert(1)"/><set attributeName="onmouseover" to="alert(2)"/>
  <set attributeName="href" to="javascript:alert(3)"/><animate attributeName="xlink:href" values="javascript:alert(4)"/>
  <set attributeName="HREF" to="javascript:alert(5)"/><animate attributeName="style" to="x"/>
  <text>t</text></a>
  <rect width="1" height="1"><animate attributeName="fill" from="red" to="url(https://x.example/p.svg#a)" dur="1s"/>
  <animate attributeName="width" values="1;10;1" dur="2s" repeatCount="indefinite"/></rect>
</svg>"##,
        );
        assert_gone(&out, &["onclick", "onmouseover", "alert", "javascript", "HREF", "x.example", "style"]);
        assert_kept(
            &out,
            &[
                r#"<animate attributeName="fill" from="red" dur="1s"/>"#,
                r#"<animate attributeName="width" values="1;10;1" dur="2s" repeatCount="indefinite"/>"#,
            ],
        );
    }

    #[test]
    fn links_stay_inside_the_document() {
        let out = sanitize(
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
  <a href="javascript:alert(1)"><text>a</text></a><a xlink:href=" java&#x09;script:alert(2)">b</a>
  <a href="https://x.example/"><text>c</text></a><a href="#c"><text>d</text></a>
  <use href="#shape"/><use xlink:href="other.svg#shape"/><use href="https://x.example/s.svg#a"/>
  <image href="https://x.example/pixel.png"/><image xlink:href="data:image/png;base64,AAAA"/>
  <image href="data:image/svg+xml;base64,PHN2Zy8+"/><image href="file:///etc/passwd"/>
  <feImage href="https://x.example/f.png"/>
</svg>"##,
        );
        assert_gone(&out, &["javascript", "alert", "x.example", "other.svg", "svg+xml", "passwd"]);
        assert_kept(
            &out,
            &[r##"<a href="#c">"##, r##"<use href="#shape"/>"##, r#"<image xlink:href="data:image/png;base64,AAAA"/>"#],
        );
    }

    #[test]
    fn css_loads_nothing() {
        let out = sanitize(
            r##"<svg xmlns="http://www.w3.org/2000/svg">
  <style>@import url(https://x.example/a.css); @import "//x.example/b.css";
    .a { fill: url(https://x.example/p.svg#g); stroke: #000 }
    .b { background-image: url(//x.example/bg.png); fill: url(#g) }</style>
  <style type="text/less">.c{fill:red}</style>
  <rect class="a b" style="fill:url(http://x.example/#a);stroke-width:2;filter:u\72l(//x.example/f)" fill="url(https://x.example/#p)" mask="url(#m)"/>
</svg>"##,
        );
        assert_gone(&out, &["@import", "x.example", "background", "less", "u\\72l"]);
        assert_kept(&out, &[".a{stroke:#000}\n.b{fill:url(#g)}", r##"style="stroke-width:2""##, r##"mask="url(#m)""##]);
    }

    #[test]
    fn entities_expand_within_bounds_and_nothing_external_is_read() {
        // Illustrator's entity-declared namespaces come out as plain declarations.
        let illustrator = sanitize(
            r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
	<!ENTITY ns_svg "http://www.w3.org/2000/svg">
	<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">
	<!ENTITY st0 "fill:#E30613;">
]>
<svg version="1.1" xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" width="10" height="10"><rect style="&st0;" width="10" height="10"/></svg>"#,
        );
        assert_eq!(
            illustrator,
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="10" height="10"><rect style="fill:#E30613" width="10" height="10"/></svg>"##
        );
        let laughs = (1..10).fold(String::from(r#"<!ENTITY l0 "lol">"#), |dtd, n| {
            dtd + &format!("<!ENTITY l{n} \"{}\">", format!("&l{};", n - 1).repeat(10))
        });
        let bomb =
            format!(r#"<!DOCTYPE svg [{laughs}]><svg xmlns="http://www.w3.org/2000/svg"><text>&l9;</text></svg>"#);
        assert!(sanitize_svg(bomb.as_bytes()).is_err(), "a billion laughs is refused");
        let many = format!(
            r#"<!DOCTYPE svg [<!ENTITY big "{}">]><svg xmlns="http://www.w3.org/2000/svg"><text>{}</text></svg>"#,
            "x".repeat(60_000),
            "&big;".repeat(2_000)
        );
        assert!(sanitize_svg(many.as_bytes()).is_err(), "120 MB of expansion is refused before parsing");
        let external = r#"<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>"#;
        assert!(sanitize_svg(external.as_bytes()).is_err(), "an external entity is never read");
        let parameter = r#"<!DOCTYPE svg [<!ENTITY % p SYSTEM "https://x.example/evil.dtd"> %p;]><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert!(sanitize_svg(parameter.as_bytes()).is_err(), "parameter entities are refused");
        // An external DTD is named but never read (roxmltree does no I/O); the copy has no DOCTYPE.
        let external_dtd =
            r#"<!DOCTYPE svg SYSTEM "https://x.example/evil.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert_eq!(
            sanitize(external_dtd),
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"/>"#
        );
    }

    #[test]
    fn editor_data_is_dropped_and_drawing_kept() {
        let out = sanitize(
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:i="http://ns.adobe.com/AdobeIllustrator/10.0/" xmlns:xlink="http://www.w3.org/1999/xlink" xml:space="preserve" inkscape:version="1.3" sodipodi:docname="a.svg">
  <sodipodi:namedview id="nv" pagecolor="#fff"/><metadata><rdf:RDF><rdf:Description about="x"/></rdf:RDF></metadata>
  <switch><foreignObject requiredExtensions="http://ns.adobe.com/AdobeIllustrator/10.0/"><i:pgfRef xlink:href="#adobe"/></foreignObject>
  <g i:extraneous="self" inkscape:label="Layer 1" inkscape:groupmode="layer" data-name="Layer 1"><path d="M0 0L10 10" style="fill:none;stroke:#000;-inkscape-stroke:none"/></g></switch>
</svg>"##,
        );
        assert_gone(&out, &["inkscape", "sodipodi", "rdf", "metadata", "i:", "pgf", "foreignObject", "namedview"]);
        assert_kept(
            &out,
            &[
                r#"xml:space="preserve""#,
                r#"<g data-name="Layer 1"><path d="M0 0L10 10" style="fill:none;stroke:#000"/></g></switch>"#,
            ],
        );
    }

    #[test]
    fn text_and_escapes_survive_and_sanitising_twice_changes_nothing() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg"><title>A &amp; B &lt;3</title><text x="1" font-family="'Open Sans', sans-serif" title='" onload="alert(1)'>x &amp; y &#x3C;</text></svg>"##;
        let once = sanitize(svg);
        assert_kept(
            &once,
            &["<title>A &amp; B &lt;3</title>", r#"font-family="'Open Sans', sans-serif""#, "x &amp; y &lt;"],
        );
        assert_gone(&once, &["onload=\""]);
        assert_eq!(sanitize(&once), once);
    }

    #[test]
    fn only_svg_documents_are_sanitised() {
        for not_svg in [
            "<svg><g></svg>",
            "<svg><rect/></svg>",
            "<html xmlns=\"http://www.w3.org/1999/xhtml\"><svg xmlns=\"http://www.w3.org/2000/svg\"/></html>",
            "<svg xmlns=\"&undefined;\"/>",
            "plain text",
        ] {
            assert!(sanitize_svg(not_svg.as_bytes()).is_err(), "{not_svg}");
        }
        assert!(sanitize_svg(b"\xEF\xBB\xBF<svg xmlns=\"http://www.w3.org/2000/svg\"/>").is_ok(), "a BOM is fine");
    }
}
