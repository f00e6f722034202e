//! Entity ids: RFC 4122 UUID v4 in URL-safe base64 without padding, as DatoCMS uses (spec §1.5).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

/// A fresh id for uploads, collections and tokens. The top bit of the first byte is cleared, as the
/// official client's `generateId()` does, so ids start with `A–Z` or `a–f`.
pub fn new_entity_id() -> String {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[0] &= 0x7f;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An opaque random id (jobs, blobs): 22 URL-safe characters.
pub fn new_opaque_id() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// A new API token secret: two UUID v4s (244 random bits), URL-safe.
pub fn new_secret() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token secret (and looked up by): its SHA-256, in hex. Secrets are
/// random, so a plain digest suffices.
pub fn token_secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    super::encode_hex(&Sha256::digest(secret.as_bytes()))
}

/// The client's `isValidId`: a base64url UUID v4, or a legacy decimal id up to 2^48−1.
pub fn is_valid_entity_id(id: &str) -> bool {
    if !id.is_empty() && id.len() <= 15 && id.bytes().all(|b| b.is_ascii_digit()) {
        return id.parse::<u64>().is_ok_and(|n| n > 0 && n < (1 << 48));
    }
    if id.len() != 22 {
        return false;
    }
    match URL_SAFE_NO_PAD.decode(id) {
        Ok(bytes) => bytes.len() == 16 && bytes[6] >> 4 == 4 && (bytes[8] & 0xc0) == 0x80,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_start_with_a_letter() {
        for _ in 0..200 {
            let id = new_entity_id();
            assert!(is_valid_entity_id(&id), "{id}");
            assert!(id.as_bytes()[0].is_ascii_uppercase() || (b'a'..=b'f').contains(&id.as_bytes()[0]), "{id}");
        }
    }

    #[test]
    fn documented_ids_are_valid() {
        assert!(is_valid_entity_id("q0VNpiNQSkG6z0lif_O1zg"));
        assert!(is_valid_entity_id("uinr2zfqQLeCo_1O0-ao-Q"));
        assert!(is_valid_entity_id("312"));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in
            ["", "abc", "../../etc/passwd", "q0VNpiNQSkG6z0lif_O1z!", "0", "281474976710656", "AAAAAAAAAAAAAAAAAAAAAA"]
        {
            assert!(!is_valid_entity_id(bad), "{bad:?} should be invalid");
        }
    }
}
