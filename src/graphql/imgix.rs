//! `ImgixParams` (DatoCMS's camelCase names of imgix's parameters) as the query string of an
//! asset URL: dashed names (`fpX` → `fp-x`), keys sorted, values percent-encoded as DatoCMS
//! writes them (`ar=16%3A9`, `auto=format%2Ccompress`), lists joined by commas. Only the
//! parameters assetd renders are in the schema ([`is_rendered`]); the values are checked by the
//! same parser the asset URL uses, so a URL handed out always renders.

use std::collections::BTreeMap;

use async_graphql::{dynamic::ValueAccessor, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::imaging::{TransformParams, DELIVERY_PARAMS, RENDERED_PARAMS};

/// What `encodeURIComponent` leaves as it is, less `!'()*` (as npm's `query-string` does).
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// imgix parameters by name, sorted.
pub(super) type ImgixQuery = BTreeMap<String, String>;

/// Whether the `ImgixParams` field `name` (camelCase) is a parameter assetd renders (or, as `dl`,
/// applies when it sends the file).
pub(super) fn is_rendered(name: &str) -> bool {
    let name = dashed(name);
    RENDERED_PARAMS.contains(&name.as_str()) || DELIVERY_PARAMS.contains(&name.as_str())
}

/// `fpX` → `fp-x`, `maxW` → `max-w`.
pub(super) fn dashed(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The `imgixParams` argument of a field, as imgix parameters (empty when absent).
pub(super) fn query_of(argument: Option<ValueAccessor<'_>>) -> async_graphql::Result<ImgixQuery> {
    let mut query = ImgixQuery::new();
    let Some(argument) = argument else { return Ok(query) };
    for (name, value) in argument.object()?.iter() {
        if let Some(text) = text(value.as_value()) {
            query.insert(dashed(name.as_str()), text);
        }
    }
    Ok(query)
}

/// The query string (`a=1&b=2`, no `?`).
pub(super) fn encode(query: &ImgixQuery) -> String {
    let parts: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, STRICT))).collect();
    parts.join("&")
}

/// `base` with `query` appended (`base` alone when it is empty).
pub(super) fn url_with(base: &str, query: &ImgixQuery) -> String {
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", encode(query))
    }
}

/// The parameters as the renderer reads them; a value it cannot use is the client's error.
pub(super) fn transform_params(query: &ImgixQuery) -> async_graphql::Result<Option<TransformParams>> {
    let plain: Vec<String> =
        query.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect();
    TransformParams::parse(&plain.join("&"))
        .map_err(|error| async_graphql::Error::new(format!("imgixParams.{}: {}", error.param, error.message)))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Enum(name) => Some(name.to_string()),
        Value::List(items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(",")),
        Value::Binary(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dashed_and_only_rendered_ones_are_offered() {
        assert_eq!(dashed("fpX"), "fp-x");
        assert_eq!(dashed("maxW"), "max-w");
        assert!(is_rendered("w") && is_rendered("fpX") && is_rendered("auto") && is_rendered("lossless"));
        assert!(!is_rendered("txt") && !is_rendered("skipDefaultOptimizations") && !is_rendered("markAlign"));
    }

    #[test]
    fn the_query_is_sorted_and_strictly_encoded_as_datocms_writes_it() {
        let query: ImgixQuery = [("w", "400"), ("ar", "16:9"), ("fit", "crop"), ("auto", "format,compress")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(encode(&query), "ar=16%3A9&auto=format%2Ccompress&fit=crop&w=400");
        assert_eq!(url_with("https://a.test/x.jpg", &ImgixQuery::new()), "https://a.test/x.jpg");
        assert!(transform_params(&query).unwrap().is_some());
        let bad: ImgixQuery = [("w".to_owned(), "-3".to_owned())].into();
        assert!(transform_params(&bad).unwrap_err().message.contains("imgixParams.w"));
    }
}
