//! Remembers which token a secret hash belongs to for a short while, so that the token lookup is
//! not a database query on every request. Unknown secrets are never cached (each try is checked,
//! and counted by the rate limiter).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::db::{Db, DbError};

/// How long a known token is trusted without asking the database again (bounds how long a token
/// rotated by another node keeps working here).
const TTL: Duration = Duration::from_secs(30);
/// Entries kept before the cache is emptied (bounds memory).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    /// The id of the token whose secret hashes to `secret_sha256`, if any.
    pub async fn token_id(&self, db: &Db, secret_sha256: &str) -> Result<Option<String>, DbError> {
        if let Some(id) = self.cached(secret_sha256) {
            return Ok(Some(id));
        }
        let Some(token) = db.find_token_by_hash(secret_sha256).await? else { return Ok(None) };
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(secret_sha256.to_owned(), (token.id.clone(), Instant::now()));
        Ok(Some(token.id))
    }

    fn cached(&self, secret_sha256: &str) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(secret_sha256).filter(|(_, at)| at.elapsed() < TTL).map(|(id, _)| id.clone())
    }
}
