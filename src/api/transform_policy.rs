//! Who may ask for which transforms. A transform costs CPU; an open server computes any variant
//! anyone asks for. Two optional guards bound that:
//! - **signed URLs**: with `ASSETD_TRANSFORM_SECRET`, a URL may carry `s`, the hex HMAC-SHA256 of
//!   `<path>?<query before &s=>` under the secret (as imgix's secure URLs, with an HMAC instead of
//!   a plain hash). A signed URL may ask for anything;
//! - **presets**: `ASSETD_TRANSFORM_PRESETS` names parameter sets (`thumb:w=200&h=200&fit=crop`),
//!   asked for as `?preset=thumb`.
//!
//! With a secret set, or `ASSETD_TRANSFORM_PRESETS_ONLY`, an unsigned URL may use presets only.
//! Without either, every URL may use any parameter (and presets).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::domain::{decode_hex, encode_hex};
use crate::{config::Secret, domain::CmaError, imaging::TransformParams};

type HmacSha256 = Hmac<Sha256>;

/// The query parameter holding the signature; it must come last.
const SIGNATURE_PARAM: &str = "s";
const PRESET_PARAM: &str = "preset";

#[derive(Default)]
pub struct TransformPolicy {
    secret: Option<Vec<u8>>,
    presets: HashMap<String, String>,
    presets_only: bool,
}

impl std::fmt::Debug for TransformPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformPolicy")
            .field("signed", &self.secret.is_some())
            .field("presets", &self.presets.keys().collect::<Vec<_>>())
            .field("presets_only", &self.presets_only)
            .finish()
    }
}

impl TransformPolicy {
    /// Checks every preset once, at start: a typo fails the start, not a request.
    pub fn new(secret: Option<&Secret>, presets: &str, presets_only: bool) -> Result<Self, String> {
        let mut parsed = HashMap::new();
        for entry in presets.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, query)) = entry.split_once(':') else {
                return Err(format!("preset {entry:?} is not name:query (e.g. thumb:w=200&h=200)"));
            };
            let name = name.trim();
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name {
                return Err(format!("preset name {name:?} must be 1-64 letters, digits, - or _"));
            }
            match TransformParams::parse(query) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("preset {name:?} has no rendering parameter")),
                Err(error) => return Err(format!("preset {name:?}: {}: {}", error.param, error.message)),
            }
            if parsed.insert(name.to_owned(), query.trim().to_owned()).is_some() {
                return Err(format!("preset {name:?} is defined twice"));
            }
        }
        Ok(TransformPolicy { secret: secret.map(|s| s.expose().as_bytes().to_vec()), presets: parsed, presets_only })
    }

    /// The query to render with, for a request of `path` (as sent, percent-encoded) with `query`:
    /// the signature checked and removed, a preset expanded (the URL's own parameters after it,
    /// so they win). An error when the URL is not allowed.
    pub fn resolve(&self, path: &str, query: Option<&str>) -> Result<Option<String>, CmaError> {
        let Some(query) = query.filter(|q| !q.is_empty()) else { return Ok(None) };
        let (unsigned, signature) = split_signature(query);
        let signed = match signature {
            Some(signature) => {
                self.verify(path, unsigned, signature)?;
                true
            }
            None => false,
        };
        let mut preset = None;
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(unsigned.as_bytes()) {
            if key == PRESET_PARAM {
                let name = value.trim();
                let query = self.presets.get(name).ok_or_else(|| unknown_preset(name))?;
                preset = Some(query.as_str());
            } else {
                rest.append_pair(&key, &value);
            }
        }
        let rest = rest.finish();
        let restricted = self.secret.is_some() || self.presets_only;
        if restricted && !signed && renders(&rest) {
            return Err(not_allowed(self.secret.is_some()));
        }
        Ok(Some(match preset {
            Some(preset) if rest.is_empty() => preset.to_owned(),
            Some(preset) => format!("{preset}&{rest}"),
            None => rest,
        }))
    }

    /// For the redirect of a renamed path: `query` signed for `new_path` when its signature is
    /// valid for `old_path`; otherwise unchanged (an invalid signature stays invalid).
    pub fn resign(&self, old_path: &str, new_path: &str, query: &str) -> String {
        let (unsigned, signature) = split_signature(query);
        match signature {
            Some(signature) if self.verify(old_path, unsigned, signature).is_ok() => {
                let separator = if unsigned.is_empty() { "" } else { "&" };
                format!("{unsigned}{separator}{SIGNATURE_PARAM}={}", self.sign(new_path, unsigned))
            }
            _ => query.to_owned(),
        }
    }

    /// The signature of `path?unsigned_query` (just `path` when the query is empty).
    pub fn sign(&self, path: &str, unsigned_query: &str) -> String {
        let Some(secret) = &self.secret else { return String::new() };
        encode_hex(&self.mac(secret, path, unsigned_query).finalize().into_bytes())
    }

    fn mac(&self, secret: &[u8], path: &str, unsigned_query: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(path.as_bytes());
        if !unsigned_query.is_empty() {
            mac.update(b"?");
            mac.update(unsigned_query.as_bytes());
        }
        mac
    }

    fn verify(&self, path: &str, unsigned: &str, signature: &str) -> Result<(), CmaError> {
        let invalid = || {
            CmaError::new(
                403,
                "INVALID_SIGNATURE",
                json!({ "message": "the s parameter is not the signature of this URL" }),
            )
        };
        let Some(secret) = &self.secret else { return Err(invalid()) };
        let bytes = decode_hex(signature).ok_or_else(invalid)?;
        self.mac(secret, path, unsigned).verify_slice(&bytes).map_err(|_| invalid())
    }
}

/// Splits `a=1&b=2&s=abc` into (`a=1&b=2`, `abc`). Only a last `s` counts as the signature, so
/// that the signed text is exactly what precedes it.
fn split_signature(query: &str) -> (&str, Option<&str>) {
    let prefix = format!("{SIGNATURE_PARAM}=");
    if let Some(signature) = query.strip_prefix(&prefix) {
        return ("", Some(signature));
    }
    match query.rfind(&format!("&{prefix}")) {
        Some(at) => (&query[..at], Some(&query[at + 1 + prefix.len()..])),
        None => (query, None),
    }
}

/// Whether the parameters ask for a rendering (an unparseable one counts: it would be rendered).
fn renders(query: &str) -> bool {
    !matches!(TransformParams::parse(query), Ok(None))
}

fn unknown_preset(name: &str) -> CmaError {
    CmaError::new(
        400,
        "INVALID_IMAGE_PARAMS",
        json!({ "param": PRESET_PARAM, "message": format!("no preset is named `{name}`") }),
    )
}

fn not_allowed(signing: bool) -> CmaError {
    let message = if signing {
        "this server renders signed URLs (s=…) and presets (preset=…) only"
    } else {
        "this server renders presets (preset=…) only"
    };
    CmaError::new(403, "TRANSFORM_NOT_ALLOWED", json!({ "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(secret: Option<&str>, presets: &str, presets_only: bool) -> TransformPolicy {
        TransformPolicy::new(secret.map(Secret::new).as_ref(), presets, presets_only).unwrap()
    }

    fn code(result: Result<Option<String>, CmaError>) -> &'static str {
        result.unwrap_err().code
    }

    #[test]
    fn open_by_default_with_presets_expanded() {
        let policy = policy(None, "thumb:w=200&h=200&fit=crop", false);
        assert_eq!(policy.resolve("/1/a.jpg", Some("w=10")).unwrap().as_deref(), Some("w=10"));
        assert_eq!(policy.resolve("/1/a.jpg", None).unwrap(), None);
        assert_eq!(
            policy.resolve("/1/a.jpg", Some("preset=thumb&h=100")).unwrap().as_deref(),
            Some("w=200&h=200&fit=crop&h=100"),
            "the URL's own parameters come after the preset's, so they win"
        );
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("preset=nope"))), "INVALID_IMAGE_PARAMS");
    }

    #[test]
    fn presets_only_refuses_other_rendering_parameters() {
        let policy = policy(None, "thumb:w=200", true);
        assert_eq!(policy.resolve("/1/a.jpg", Some("preset=thumb")).unwrap().as_deref(), Some("w=200"));
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("preset=thumb&w=4000"))), "TRANSFORM_NOT_ALLOWED");
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("w=4000"))), "TRANSFORM_NOT_ALLOWED");
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("w=nonsense"))), "TRANSFORM_NOT_ALLOWED");
        // Parameters that render nothing (tracking, download names) still serve the original.
        assert_eq!(policy.resolve("/1/a.jpg", Some("utm_source=x")).unwrap().as_deref(), Some("utm_source=x"));
    }

    #[test]
    fn signatures_cover_path_and_query() {
        let policy = policy(Some("s3cret-key"), "thumb:w=200", false);
        let signature = policy.sign("/1/a.jpg", "w=400&fm=webp");
        assert_eq!(signature.len(), 64);
        let query = format!("w=400&fm=webp&s={signature}");
        assert_eq!(policy.resolve("/1/a.jpg", Some(&query)).unwrap().as_deref(), Some("w=400&fm=webp"));
        assert_eq!(code(policy.resolve("/1/b.jpg", Some(&query))), "INVALID_SIGNATURE", "another path");
        let tampered = format!("w=4000&fm=webp&s={signature}");
        assert_eq!(code(policy.resolve("/1/a.jpg", Some(&tampered))), "INVALID_SIGNATURE");
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("w=400&s=zz"))), "INVALID_SIGNATURE");
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("w=400"))), "TRANSFORM_NOT_ALLOWED", "unsigned");
        assert_eq!(policy.resolve("/1/a.jpg", Some("preset=thumb")).unwrap().as_deref(), Some("w=200"));
        let bare = format!("s={}", policy.sign("/1/a.jpg", ""));
        assert_eq!(policy.resolve("/1/a.jpg", Some(&bare)).unwrap().as_deref(), Some(""));
    }

    #[test]
    fn a_signature_without_a_secret_is_refused() {
        let policy = policy(None, "", false);
        assert_eq!(code(policy.resolve("/1/a.jpg", Some("w=1&s=00"))), "INVALID_SIGNATURE");
    }

    #[test]
    fn redirects_are_resigned_for_the_new_path() {
        let policy = policy(Some("s3cret-key"), "", false);
        let old = format!("w=400&s={}", policy.sign("/1/old.jpg", "w=400"));
        let new = policy.resign("/1/old.jpg", "/1/new.jpg", &old);
        assert_eq!(policy.resolve("/1/new.jpg", Some(&new)).unwrap().as_deref(), Some("w=400"));
        assert_eq!(policy.resign("/1/old.jpg", "/1/new.jpg", "w=400"), "w=400", "unsigned queries are left alone");
        let forged = "w=4000&s=00";
        assert_eq!(policy.resign("/1/old.jpg", "/1/new.jpg", forged), forged, "a bad signature is not laundered");
    }

    #[test]
    fn bad_presets_fail_the_start() {
        for presets in ["thumb", "thumb:", "th umb:w=1", "thumb:w=-1", "a:w=1;a:w=2", "a:utm=1"] {
            assert!(TransformPolicy::new(None, presets, false).is_err(), "{presets}");
        }
    }
}
