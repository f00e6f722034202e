//! What an API token may do. The HTTP edge maps each request to the permission it needs
//! (`api::permissions`); this is the vocabulary, stored as text in `access_tokens.role`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRole {
    /// Everything the API offers.
    FullAccess,
    /// Reads only: listing, showing, job results.
    ReadOnly,
    /// Reads, plus adding new files (upload requests and `POST /uploads`); never changes or
    /// deletes what exists. For ingest bots and forms: a leaked secret cannot damage the library.
    UploadOnly,
}

impl TokenRole {
    pub const ALL: [TokenRole; 3] = [TokenRole::FullAccess, TokenRole::ReadOnly, TokenRole::UploadOnly];

    /// The stored (and CLI) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::FullAccess => "full_access",
            TokenRole::ReadOnly => "read_only",
            TokenRole::UploadOnly => "upload_only",
        }
    }

    /// Accepts the stored spelling and the dashed CLI spelling (`read-only`).
    pub fn parse(value: &str) -> Option<TokenRole> {
        let value = value.trim().replace('-', "_");
        TokenRole::ALL.into_iter().find(|role| role.as_str() == value)
    }
}

impl fmt::Display for TokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for role in TokenRole::ALL {
            assert_eq!(TokenRole::parse(role.as_str()), Some(role));
            assert_eq!(TokenRole::parse(&role.as_str().replace('_', "-")), Some(role));
        }
        assert_eq!(TokenRole::parse("admin"), None);
        assert_eq!(TokenRole::parse(""), None);
    }
}
