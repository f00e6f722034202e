//! Single flight within a process: of the requests that miss the cache for one key at the same
//! time, one renders it while the others wait for its result.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// The turn of each key being rendered, while someone holds or waits for it.
#[derive(Default)]
pub(super) struct SingleFlight {
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SingleFlight {
    /// The lock that makes one request render `digest` while the others wait for its result.
    pub(super) fn turn_for(&self, digest: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(digest.to_owned()).or_default().clone()
    }

    /// Gives `turn` back; the last request holding it forgets `digest`.
    pub(super) fn release_turn(&self, digest: &str, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        drop(turn);
        if map.get(digest).is_some_and(|t| Arc::strong_count(t) == 1) {
            map.remove(digest);
        }
    }
}
