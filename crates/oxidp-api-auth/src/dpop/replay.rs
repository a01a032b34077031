//! Replay protection for DPoP proofs: every proof is accepted once. A [`ReplayCache`] remembers
//! each proof (by a hash of its key thumbprint and `jti`) until it is too old to be accepted
//! anyway, so the memory it needs is bounded by the request rate times the proof window.

use std::collections::HashMap;
use std::sync::Mutex;

/// Where a [`DpopCheck`](crate::DpopCheck) remembers the proofs it has accepted.
///
/// The default, [`MemoryReplayCache`], is per process: an API served by several instances
/// behind a load balancer without session affinity needs a shared implementation (a
/// `SET NX EX` in Redis, a unique insert in a database), or a replayed proof that reaches
/// another instance within the window is accepted there.
///
/// ```
/// use oxidp_api_auth::{MemoryReplayCache, ReplayCache};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oxidp_api_auth::ReplayCacheError> {
/// let cache = MemoryReplayCache::new(1_000);
/// let id = [7u8; 32];
/// let far_future = 4_000_000_000;
/// assert!(cache.record_once(id, far_future).await?, "first use");
/// assert!(!cache.record_once(id, far_future).await?, "a replay");
/// # Ok(()) }
/// ```
#[async_trait::async_trait]
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `id` until `expires_at` (unix seconds). `Ok(true)` if it was not recorded yet
    /// (the proof is fresh), `Ok(false)` if it was and has not expired (a replay). Concurrent
    /// calls with one `id` must let exactly one of them see `true`.
    async fn record_once(&self, id: [u8; 32], expires_at: i64) -> Result<bool, ReplayCacheError>;
}

/// The replay cache could not answer; the proof is refused with `503`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayCacheError {
    /// The cache holds as many unexpired proofs as it may.
    #[error("the replay cache is full")]
    Full,
    /// A shared cache (a database, Redis) could not be reached.
    #[error("the replay cache is unavailable")]
    Unavailable,
}

/// A [`ReplayCache`] in this process's memory, holding at most `capacity` unexpired proofs.
///
/// When it is full, expired entries are dropped; if none has expired, new proofs are refused
/// (`503`) until some do. Forgetting unexpired entries instead would let a flood of proofs
/// open a window for replays.
#[derive(Debug)]
pub struct MemoryReplayCache {
    entries: Mutex<HashMap<[u8; 32], i64>>,
    capacity: usize,
}

impl MemoryReplayCache {
    /// The default capacity: at 60 s per proof, about 1,600 proofs a second.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A cache for at most `capacity` unexpired proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// How many proofs are remembered (expired ones included until the next purge).
    ///
    /// ```
    /// # use oxidp_api_auth::MemoryReplayCache;
    /// assert_eq!(MemoryReplayCache::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, id: [u8; 32], expires_at: i64, now: i64) -> Result<bool, ReplayCacheError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = entries.get(&id)
            && *until >= now
        {
            return Ok(false);
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until >= now);
            if entries.len() >= self.capacity {
                return Err(ReplayCacheError::Full);
            }
        }
        entries.insert(id, expires_at);
        Ok(true)
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[async_trait::async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn record_once(&self, id: [u8; 32], expires_at: i64) -> Result<bool, ReplayCacheError> {
        self.record(id, expires_at, crate::jwt::now())
    }
}

/// The cache key of a proof: the proof key's thumbprint and the `jti`, hashed so that an
/// attacker's long `jti` costs the cache no more than any other.
pub(crate) fn proof_id(jkt: &str, jti: &str) -> [u8; 32] {
    let mut material = Vec::with_capacity(jkt.len() + jti.len() + 1);
    material.extend_from_slice(jkt.as_bytes());
    material.push(0);
    material.extend_from_slice(jti.as_bytes());
    oxidp_jose::sha256(material)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_accepted_once_until_it_expires() {
        let cache = MemoryReplayCache::new(10);
        let id = proof_id("key", "jti-1");
        assert_eq!(cache.record(id, 100, 50), Ok(true));
        assert_eq!(cache.record(id, 100, 60), Ok(false));
        assert_eq!(cache.record(id, 100, 100), Ok(false));
        // Past its expiry the proof is too old to pass verification anyway.
        assert_eq!(cache.record(id, 200, 101), Ok(true));
    }

    #[test]
    fn the_same_jti_under_another_key_is_another_proof() {
        assert_ne!(proof_id("key-a", "jti"), proof_id("key-b", "jti"));
        assert_ne!(proof_id("ab", "c"), proof_id("a", "bc"));
    }

    #[test]
    fn a_full_cache_drops_expired_entries_and_refuses_when_none_expired() {
        let cache = MemoryReplayCache::new(2);
        assert_eq!(cache.record([1; 32], 10, 0), Ok(true));
        assert_eq!(cache.record([2; 32], 100, 0), Ok(true));
        assert_eq!(cache.record([3; 32], 100, 5), Err(ReplayCacheError::Full));
        assert_eq!(cache.record([3; 32], 100, 11), Ok(true), "entry 1 expired");
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.record([2; 32], 100, 11),
            Ok(false),
            "still remembered"
        );
    }

    #[tokio::test]
    async fn concurrent_uses_of_one_proof_let_exactly_one_through() {
        let cache = std::sync::Arc::new(MemoryReplayCache::default());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.record_once([9; 32], i64::MAX).await })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            if task.await.unwrap_or(Ok(false)) == Ok(true) {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1);
    }
}
