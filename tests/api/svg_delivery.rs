//! SVG and other XML at their public URL (defect 4 of issue 14): what is sniffed as SVG is served
//! sanitised, on both backends; other XML only as a download; the editor corpus in
//! `tests/fixtures/svg/` keeps what it draws. What Chromium makes of it is `e2e/ui/svg_corpus.test.mjs`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp};

const SCRIPT: &str =
    r##"<script>alert(document.domain)</script><rect width="10" height="10" fill="#0a0" onclick="alert(1)"/>"##;

/// Creates an upload of `bytes` and answers its attributes and the GET of its URL.
async fn upload_and_get(app: &TestApp, name: &str, bytes: &[u8]) -> (Value, crate::helpers::TestResponse) {
    let upload = app.create_upload(name, bytes, json!({})).await;
    let attributes = upload["attributes"].clone();
    let url = attributes["url"].as_str().expect("url").to_owned();
    let response = app.fetch_asset(&url, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{name}");
    (attributes, response)
}

fn body_of(response: &crate::helpers::TestResponse) -> String {
    String::from_utf8(response.bytes.clone()).expect("UTF-8")
}

/// The sanitised copy of an SVG: shown inline, no script, the SVG namespace written out.
fn assert_served_sanitised(name: &str, response: &crate::helpers::TestResponse) -> String {
    assert_eq!(response.header("content-type"), Some("image/svg+xml"), "{name}");
    assert_eq!(response.header("content-disposition"), None, "{name} is shown, not downloaded");
    let body = body_of(response);
    assert!(!body.contains("script") && !body.contains("alert") && !body.contains("onclick"), "{name}: {body}");
    assert!(body.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "{name}: {body}");
    body
}

#[tokio::test]
async fn svg_is_recognised_by_its_root_element_whatever_precedes_or_prefixes_it() {
    let app = TestApp::spawn().await;
    let comment = "exported by a very chatty tool ".repeat(1500); // 45 KiB: past the old 8 KiB window
    let cases = [
        (
            "prefixed.svg",
            r##"<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="10" height="10"><svg:script>alert(1)</svg:script><svg:rect width="10" height="10" fill="#0a0"/></svg:svg>"##.to_owned(),
        ),
        (
            "long-prolog.svg",
            format!(
                "<?xml version=\"1.0\"?>\n<!--{comment}-->\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">{SCRIPT}</svg>"
            ),
        ),
        (
            "entity-namespace.svg",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [<!ENTITY ns_svg \"http://www.w3.org/2000/svg\">]>\n\
                 <svg xmlns=\"&ns_svg;\" width=\"10\" height=\"10\">{SCRIPT}</svg>"
            ),
        ),
        ("bom.svg", format!("\u{feff}\r\n\t <svg\n xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">{SCRIPT}</svg>")),
    ];
    for (name, svg) in cases {
        let (attributes, response) = upload_and_get(&app, name, svg.as_bytes()).await;
        assert_eq!(attributes["mime_type"], "image/svg+xml", "{name}");
        assert_eq!(attributes["format"], "svg", "{name}");
        assert_eq!(attributes["is_image"], true, "{name}");
        assert_eq!((attributes["width"].as_i64(), attributes["height"].as_i64()), (Some(10), Some(10)), "{name}");
        let body = assert_served_sanitised(name, &response);
        assert!(body.contains(r##"<rect width="10" height="10" fill="#0a0"/>"##), "{name}: {body}");
        assert!(!body.contains("chatty"), "{name}: comments are not copied");
    }
}

#[tokio::test]
async fn xml_that_is_not_svg_is_only_a_download() {
    let app = TestApp::spawn().await;
    let cases: [(&str, &[u8]); 4] = [
        ("feed.rss", br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>"#),
        // No namespace: browsers do not draw it as SVG either.
        ("plain.svg", br#"<svg width="10" height="10"><script>alert(1)</script></svg>"#),
        (
            "page.xhtml",
            br#"<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><script>alert(1)</script></body></html>"#,
        ),
        // A root the sniffer cannot resolve (undeclared prefix): not SVG, still XML.
        ("prefix.svg", br#"<svg:svg><svg:script>alert(1)</svg:script></svg:svg>"#),
    ];
    for (name, bytes) in cases {
        let (attributes, response) = upload_and_get(&app, name, bytes).await;
        assert_eq!(attributes["is_image"], false, "{name}");
        assert_ne!(attributes["mime_type"], "image/svg+xml", "{name}");
        assert_eq!(response.header("content-disposition"), Some("attachment"), "{name}: {:?}", attributes["mime_type"]);
        assert_eq!(response.bytes, bytes, "{name} is served as uploaded");
    }
}

#[tokio::test]
async fn the_sanitised_copy_keeps_no_bypass() {
    let app = TestApp::spawn().await;
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="40">
  <style>@import url(https://evil.example/a.css); .c { fill: url(https://evil.example/p.svg#a); stroke: #123456 }</style>
  <a id="link"><set attributeName="onclick" to="alert(1)"/><animate attributeName="href" values="javascript:alert(2)"/>
    <set attributeName="xlink:href" to="javascript:alert(3)"/><rect class="c" width="40" height="40"/></a>
  <a href="javascript:alert(4)"><circle r="5"/></a><a xlink:href="https://evil.example/"><circle r="6"/></a>
  <use href="https://evil.example/sprite.svg#icon"/><image href="https://evil.example/pixel.png"/>
  <rect width="1" height="1" style="fill:url(http://evil.example/#x);stroke:#654321;background:url(//evil.example/b)"/>
  <foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example/"/></foreignObject>
</svg>"##;
    let (_, response) = upload_and_get(&app, "bypasses.svg", svg.as_bytes()).await;
    let body = assert_served_sanitised("bypasses.svg", &response);
    for gone in
        ["evil.example", "@import", "javascript", "attributeName=\"onclick\"", "foreignObject", "iframe", "<set"]
    {
        assert!(!body.contains(gone), "{gone} survived:\n{body}");
    }
    for kept in [".c{stroke:#123456}", "style=\"stroke:#654321\"", "<rect class=\"c\" width=\"40\" height=\"40\"/>"] {
        assert!(body.contains(kept), "{kept} was lost:\n{body}");
    }
}

#[tokio::test]
async fn entity_bombs_are_downloads_not_documents() {
    let app = TestApp::spawn().await;
    let laughs = (1..10).fold(String::from(r#"<!ENTITY l0 "lol">"#), |dtd, n| {
        dtd + &format!("<!ENTITY l{n} \"{}\">", format!("&l{};", n - 1).repeat(10))
    });
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE svg [{laughs}]><svg xmlns="http://www.w3.org/2000/svg"><text>&l9;</text></svg>"#
    );
    let external = r#"<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>"#;
    for (name, svg) in [("laughs.svg", bomb.as_str()), ("external.svg", external)] {
        let (attributes, response) = upload_and_get(&app, name, svg.as_bytes()).await;
        assert_eq!(attributes["mime_type"], "image/svg+xml", "{name}");
        assert_eq!(
            response.header("content-disposition"),
            Some("attachment"),
            "{name}: not sanitisable, so a download"
        );
        assert_eq!(response.bytes, svg.as_bytes(), "{name}: as uploaded, nothing expanded or read");
    }
}

#[tokio::test]
async fn editor_output_keeps_what_it_draws() {
    let app = TestApp::spawn().await;
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "illustrator.svg",
            &[
                r#"xml:space="preserve""#,
                r#"enable-background="new 0 0 240 160""#,
                ".st0{fill:#E30613}",
                "<switch>",
                "class=\"st3\">Ai 27</text>",
                "data:image/png;base64,",
            ],
            &["i:extraneous", "i:pgf", "foreignObject", "ENTITY", "sfw", "metadata"],
        ),
        (
            "inkscape.svg",
            &[
                "<radialGradient",
                r##"xlink:href="#linearGradient2""##,
                ">Inkscape</tspan>",
                "fill:url(#radialGradient3)",
                r#"viewBox="0 0 64 40""#,
            ],
            &["sodipodi", "inkscape:", "rdf:", "metadata", "-inkscape-stroke"],
        ),
        (
            "figma.svg",
            &[
                r##"clip-path="url(#clip0_12_34)""##,
                "<feGaussianBlur stdDeviation=\"4\"/>",
                "style=\"mask-type:alpha\"",
                r##"<use href="#star_12_34" x="150" y="84"/>"##,
                "<pattern",
                "data:image/png;base64,",
            ],
            &[],
        ),
        (
            "styled.svg",
            &[
                ".card{fill:#fffbe6;stroke:#b08900;stroke-width:2}",
                "#dot{fill:hsl(10 80% 50%);opacity:.9}",
                "<title>Price tag</title>",
                "12,50 €",
                r##"marker-end="url(#arrow)""##,
            ],
            &["background", "house style"],
        ),
    ];
    for (name, kept, gone) in cases {
        let original = fixture(&format!("svg/{name}"));
        let (attributes, response) = upload_and_get(&app, name, &original).await;
        assert_eq!(attributes["mime_type"], "image/svg+xml", "{name}");
        assert!(attributes["width"].as_i64().is_some_and(|w| w > 0), "{name}: libvips reads its size");
        let body = assert_served_sanitised(name, &response);
        for needle in kept {
            assert!(body.contains(needle), "{name}: {needle} was lost:\n{body}");
        }
        for needle in gone {
            assert!(!body.contains(needle), "{name}: {needle} survived:\n{body}");
        }
    }
}
