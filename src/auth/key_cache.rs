//! A short-lived in-memory cache of verified API keys, so a busy integrating system does not
//! cost a database round trip per request. Entries are keyed by a SHA-256 of the presented
//! key (the map never holds a key in clear) and expire after `auth.api_key_cache_seconds`,
//! which bounds how long a revoked key keeps working on a node that had just verified it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::ApiCaller;

/// Beyond this many keys the cache starts over (there are only ever a handful of clients).
const MAX_ENTRIES: usize = 10_000;

pub struct ApiKeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Instant, ApiCaller)>>,
}

impl ApiKeyCache {
    /// A zero `ttl` disables caching.
    pub fn new(ttl: Duration) -> Self {
        ApiKeyCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The caller for `token`, if it was verified less than `ttl` ago.
    pub fn get(&self, token: &str) -> Option<ApiCaller> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&Self::key(token))
            .filter(|(verified, _)| verified.elapsed() < self.ttl)
            .map(|(_, caller)| caller.clone())
    }

    /// Remembers a successful verification.
    /// Forgets the key with this id (after a revocation on this node; other nodes forget it
    /// when their entry expires).
    pub fn forget(&self, key_id: uuid::Uuid) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, (_, caller)| caller.key_id != key_id);
    }

    pub fn put(&self, token: &str, caller: &ApiCaller) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(Self::key(token), (Instant::now(), caller.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    fn caller() -> ApiCaller {
        ApiCaller {
            key_id: uuid::Uuid::now_v7(),
            name: "test".into(),
            scopes: vec![Scope::TipsSubmit],
        }
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let cache = ApiKeyCache::new(Duration::from_millis(30));
        let caller = caller();
        cache.put("tipsa_a_b", &caller);
        assert_eq!(
            cache.get("tipsa_a_b").map(|c| c.key_id),
            Some(caller.key_id)
        );
        assert!(cache.get("tipsa_a_c").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("tipsa_a_b").is_none());

        let off = ApiKeyCache::new(Duration::ZERO);
        off.put("tipsa_a_b", &caller);
        assert!(off.get("tipsa_a_b").is_none());
    }
}
