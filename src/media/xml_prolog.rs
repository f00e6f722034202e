//! The start of an XML document, read with quick-xml: everything before the root element (XML
//! declaration, comments, processing instructions, DOCTYPE with its internal subset) and the root
//! element's start tag. Used to sniff SVG without a fixed prefix (a comment of any length, any
//! namespace prefix) and to bound entity expansion before a document is parsed whole.

use quick_xml::{events::Event, Reader};

/// The SVG namespace.
pub(super) const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// What precedes the root element, and the root's start tag.
#[derive(Debug)]
pub(super) struct Prolog<'a> {
    /// The document up to and including the root element's start tag.
    pub(super) through_root: &'a [u8],
    /// `<root/>` rather than `<root>`.
    pub(super) root_is_empty: bool,
    /// The root element's local name, as written.
    pub(super) root_local_name: Vec<u8>,
    /// Length of the DOCTYPE's content (its internal subset included), 0 without one.
    pub(super) doctype_len: usize,
}

/// Reads the prolog of `document` (BOM already removed) up to the end of the root element's start
/// tag. `None` when `document` is not XML, or its root start tag is not within it.
pub(super) fn scan(document: &[u8]) -> Option<Prolog<'_>> {
    let mut reader = Reader::from_reader(document);
    let mut doctype_len = 0;
    loop {
        match reader.read_event().ok()? {
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::DocType(doctype) => doctype_len = doctype.len(),
            Event::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
            event @ (Event::Start(_) | Event::Empty(_)) => {
                let end = usize::try_from(reader.buffer_position()).ok()?;
                let (root_is_empty, start) = match &event {
                    Event::Empty(start) => (true, start),
                    Event::Start(start) => (false, start),
                    _ => unreachable!("matched above"),
                };
                return Some(Prolog {
                    through_root: document.get(..end)?,
                    root_is_empty,
                    root_local_name: start.local_name().as_ref().to_vec(),
                    doctype_len,
                });
            }
            _ => return None,
        }
    }
}

/// The prolog and the root start tag as a document of their own (`<root …/>`), for a real XML
/// parser to resolve the root's namespace (declared with any prefix, or through an entity).
pub(super) fn root_only(prolog: &Prolog<'_>) -> Option<String> {
    let text = std::str::from_utf8(prolog.through_root).ok()?;
    if prolog.root_is_empty {
        return Some(text.to_owned());
    }
    let open = text.strip_suffix('>')?;
    Some(format!("{open}/>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_root_after_any_prolog() {
        let comment = "x".repeat(20_000);
        let doc =
            format!("<?xml version=\"1.0\"?>\n<!--{comment}-->\n<!DOCTYPE svg [<!ENTITY a \"b\">]>\n<svg:svg a=\"1\">");
        let prolog = scan(doc.as_bytes()).expect("root found");
        assert_eq!(prolog.root_local_name, b"svg");
        assert!(!prolog.root_is_empty);
        assert_eq!(prolog.doctype_len, "svg [<!ENTITY a \"b\">]".len());
        assert!(root_only(&prolog).unwrap().ends_with("<svg:svg a=\"1\"/>"));
    }

    #[test]
    fn no_root_no_prolog() {
        for doc in ["", "hello <svg>", "<!-- never closed <svg>", "<svg", "</svg>"] {
            assert!(scan(doc.as_bytes()).is_none(), "{doc}");
        }
    }
}
