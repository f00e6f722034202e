//! Lowercase hex, the one text form of digests and signatures (in URLs, headers, storage keys).

use std::fmt::Write as _;

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The bytes of hex text (either case); `None` when it is not hex.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(encode_hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode_hex("00ab7f"), Some(vec![0x00, 0xab, 0x7f]));
        assert_eq!(decode_hex("00AB7F"), Some(vec![0x00, 0xab, 0x7f]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
