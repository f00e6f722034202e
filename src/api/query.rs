//! Rails/qs-style query strings (spec §1.6): `filter[fields][md5][eq]=x`, `tags[anyIn][]=a&…[]=b`,
//! percent-decoded into a nested JSON object so that every parameter can be checked by name.

use serde_json::{Map, Value};

use crate::domain::CmaError;

/// Most segments a parameter name may have: the deepest the CMA takes is
/// `filter[fields][tags][anyIn][]` (5). Without a bound, a name nested thousands deep overflowed
/// the stack (the nesting is built, and dropped, recursively).
const MAX_KEY_SEGMENTS: usize = 8;

/// Parses a raw query string. Repeated `key[]` build arrays; a key used both as a value and as an
/// object, a name nested deeper than [`MAX_KEY_SEGMENTS`] and a NUL character (see
/// [`super::nul_guard`]) are errors.
pub(crate) fn parse_nested_query(raw: Option<&str>) -> Result<Map<String, Value>, CmaError> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        // Refused names are quoted in the error only as far as 64 characters.
        let shown = || key.chars().take(64).collect::<String>().replace('\0', "%00");
        if key.contains('\0') || value.contains('\0') {
            return Err(CmaError::invalid_params(&shown(), "parameters may not hold a NUL character"));
        }
        let segments = split_key(&key).ok_or_else(|| CmaError::invalid_params(&key, "malformed parameter name"))?;
        if segments.len() > MAX_KEY_SEGMENTS {
            return Err(CmaError::invalid_params(&shown(), "parameter name nested too deeply"));
        }
        insert(&mut root, &segments, value.into_owned())
            .map_err(|_| CmaError::invalid_params(&key, "parameter given both as a value and as an object"))?;
    }
    Ok(root)
}

/// `a[b][]` → `["a", "b", ""]`.
fn split_key(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut segments = vec![head.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        segments.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    Some(segments)
}

fn insert(map: &mut Map<String, Value>, segments: &[String], value: String) -> Result<(), ()> {
    let (first, rest) = segments.split_first().ok_or(())?;
    match rest {
        [] => {
            if map.contains_key(first) {
                return Err(());
            }
            map.insert(first.clone(), Value::String(value));
        }
        [array_marker] if array_marker.is_empty() => {
            let entry = map.entry(first.clone()).or_insert_with(|| Value::Array(Vec::new()));
            entry.as_array_mut().ok_or(())?.push(Value::String(value));
        }
        _ => {
            let entry = map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
            insert(entry.as_object_mut().ok_or(())?, rest, value)?;
        }
    }
    Ok(())
}

/// Reads `page[offset]` / `page[limit]` with the endpoint's default and maximum limit.
pub(super) fn page_params(
    query: &Map<String, Value>,
    default_limit: i64,
    max_limit: i64,
) -> Result<(i64, i64), CmaError> {
    let page = match query.get("page") {
        None => return Ok((0, default_limit)),
        Some(Value::Object(page)) => page,
        Some(_) => return Err(CmaError::invalid_params("page", "page must be page[offset] and/or page[limit]")),
    };
    if let Some(unknown) = page.keys().find(|k| *k != "offset" && *k != "limit") {
        return Err(CmaError::invalid_params(&format!("page[{unknown}]"), "unknown page parameter"));
    }
    let number =
        |name: &str, default: i64| -> Result<i64, CmaError> {
            match page.get(name) {
                None => Ok(default),
                Some(Value::String(text)) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    CmaError::invalid_params(&format!("page[{name}]"), "must be a non-negative integer")
                }),
                Some(_) => Err(CmaError::invalid_params(&format!("page[{name}]"), "must be a non-negative integer")),
            }
        };
    let offset = number("offset", 0)?;
    let limit = number("limit", default_limit)?;
    if limit > max_limit {
        return Err(CmaError::invalid_params("page[limit]", format!("must be at most {max_limit}")));
    }
    Ok((offset, limit))
}

/// Refuses top-level parameters the endpoint does not take.
pub(super) fn only_params(query: &Map<String, Value>, allowed: &[&str]) -> Result<(), CmaError> {
    match query.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(CmaError::invalid_params(
            unknown,
            format!("unknown parameter; this endpoint takes {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_nested_too_deeply_and_nul_characters_are_refused() {
        let deep = format!("a{}=1", "[b]".repeat(5000));
        let error = parse_nested_query(Some(&deep)).unwrap_err();
        assert_eq!(error.status, 422);
        assert!(parse_nested_query(Some(&format!("a{}=1", "[b]".repeat(8)))).is_err());
        assert!(parse_nested_query(Some("filter[fields][tags][anyIn][]=x&a[b][c][d][e][f][g]=1")).is_ok());
        for raw in ["filter[ids]=a%00b", "a%00=1", "page[limit]=1%00"] {
            assert_eq!(parse_nested_query(Some(raw)).unwrap_err().status, 422, "{raw}");
        }
    }

    #[test]
    fn parses_the_recorded_client_query() {
        let raw = "filter%5Bids%5D=a%2Cb&filter%5Bfields%5D%5Btags%5D%5BanyIn%5D%5B%5D=x\
                   &filter%5Bfields%5D%5Btags%5D%5BanyIn%5D%5B%5D=y&filter%5Bfields%5D%5Btype%5D%5Beq%5D=image\
                   &locale=it&order_by=_created_at_DESC&page%5Boffset%5D=0&page%5Blimit%5D=10";
        let parsed = parse_nested_query(Some(raw)).unwrap();
        assert_eq!(
            Value::Object(parsed),
            json!({
                "filter": {"ids": "a,b", "fields": {"tags": {"anyIn": ["x", "y"]}, "type": {"eq": "image"}}},
                "locale": "it", "order_by": "_created_at_DESC", "page": {"offset": "0", "limit": "10"}
            })
        );
    }

    #[test]
    fn conflicting_and_malformed_keys_are_errors() {
        for raw in ["a=1&a=2", "a=1&a[b]=2", "a[b]=1&a=2", "[x]=1", "a[b=1", "a[]=1&a[x]=2"] {
            assert!(parse_nested_query(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn page_defaults_and_limits() {
        let q = |raw: &str| parse_nested_query(Some(raw)).unwrap();
        assert_eq!(page_params(&q(""), 30, 500).unwrap(), (0, 30));
        assert_eq!(page_params(&q("page[offset]=60&page[limit]=0"), 30, 500).unwrap(), (60, 0));
        assert!(page_params(&q("page[limit]=501"), 30, 500).is_err());
        assert!(page_params(&q("page[limit]=-1"), 30, 500).is_err());
        assert!(page_params(&q("page[limit]=ten"), 30, 500).is_err());
        assert!(page_params(&q("page[size]=1"), 30, 500).is_err());
    }
}
