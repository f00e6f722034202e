//! `X-Assetd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under the
//! webhook's secret. The timestamp is signed with the body, so a receiver that refuses old
//! timestamps (we advise 5 minutes) refuses replays too.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{decode_hex, encode_hex};

type HmacSha256 = Hmac<Sha256>;

/// The header name.
pub const SIGNATURE_HEADER: &str = "x-assetd-signature";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for a delivery of `body` at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", encode_hex(&digest))
}

/// What a receiver does: true when `header` carries a `v1` signature of `body` under `secret`
/// and its timestamp is within `tolerance_secs` of `now_secs`. Compares in constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now_secs: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    if (now_secs - timestamp).abs() > tolerance_secs {
        return false;
    }
    signatures.iter().any(|hex| {
        let Some(bytes) = decode_hex(hex) else { return false };
        mac(secret, timestamp, body).verify_slice(&bytes).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_under_their_secret_body_and_time_only() {
        let header = sign("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_test", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_other", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{\"a\":2}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{\"a\":1}", 1_700_001_000, 300), "too old: a replay");
        let moved = header.replace("t=1700000000", "t=1700000900");
        assert!(!verify("whsec_test", &moved, b"{\"a\":1}", 1_700_000_900, 300), "the timestamp is signed");
        assert!(!verify("whsec_test", "garbage", b"{\"a\":1}", 1_700_000_000, 300));
    }

    #[test]
    fn the_documented_example_matches() {
        // The README's example: HMAC-SHA256("whsec_example", "1700000000.{}") in hex.
        let header = sign("whsec_example", 1_700_000_000, b"{}");
        let expected = {
            let mut mac = HmacSha256::new_from_slice(b"whsec_example").unwrap();
            mac.update(b"1700000000.{}");
            mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }
}
