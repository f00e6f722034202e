//! Signed, expiring URLs for the direct PUT: HMAC-SHA256 over the path and the expiry time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{decode_hex, encode_hex};

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks upload URLs. The key is shared by every node (it lives in the database).
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(***)")
    }
}

impl UrlSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        UrlSigner { key: key.into() }
    }

    fn mac(&self, path: &str, expires: i64) -> HmacSha256 {
        // Any key length is accepted by HMAC, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(b"PUT\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Hex signature of (`path`, `expires`).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        encode_hex(&self.mac(path, expires).finalize().into_bytes())
    }

    /// Constant-time check of a hex signature.
    pub fn verify(&self, path: &str, expires: i64, signature_hex: &str) -> bool {
        let Some(bytes) = decode_hex(signature_hex) else { return false };
        self.mac(path, expires).verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_path_and_expiry() {
        let signer = UrlSigner::new(b"secret".to_vec());
        let sig = signer.sign("/1/100-cat.png", 1000);
        assert!(signer.verify("/1/100-cat.png", 1000, &sig));
        assert!(!signer.verify("/1/100-dog.png", 1000, &sig));
        assert!(!signer.verify("/1/100-cat.png", 1001, &sig));
        assert!(!signer.verify("/1/100-cat.png", 1000, "zz"));
        assert!(!signer.verify("/1/100-cat.png", 1000, &sig[..10]));
        assert!(!UrlSigner::new(b"other".to_vec()).verify("/1/100-cat.png", 1000, &sig));
    }
}
