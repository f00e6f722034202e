//! Remembers which token a secret hash belongs to for a short while, so that the token lookup is
//! not a database query on every request. Unknown secrets are never cached (each try is checked,
//! and counted by the rate limiter).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{
    db::{Db, DbError},
    domain::TokenRole,
};

/// How long a known token is trusted without asking the database again (bounds how long a token
/// rotated by another node keeps working here).
const TTL: Duration = Duration::from_secs(30);
/// Entries kept before the cache is emptied (bounds memory).
const MAX_ENTRIES: usize = 10_000;

/// A known token: its id (the `creator` of what it uploads) and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownToken {
    pub id: String,
    pub role: TokenRole,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (KnownToken, Instant)>>,
}

impl TokenCache {
    /// The token whose secret hashes to `secret_sha256`, if any.
    pub async fn token(&self, db: &Db, secret_sha256: &str) -> Result<Option<KnownToken>, DbError> {
        if let Some(known) = self.cached(secret_sha256) {
            return Ok(Some(known));
        }
        let Some(token) = db.find_token_by_hash(secret_sha256).await? else { return Ok(None) };
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let known = KnownToken { role: token.role(), id: token.id };
        entries.insert(secret_sha256.to_owned(), (known.clone(), Instant::now()));
        Ok(Some(known))
    }

    fn cached(&self, secret_sha256: &str) -> Option<KnownToken> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(secret_sha256).filter(|(_, at)| at.elapsed() < TTL).map(|(known, _)| known.clone())
    }
}
