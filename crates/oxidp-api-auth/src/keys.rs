//! The issuer's signing keys, cached, with a refresh policy that a flood of forged tokens cannot
//! turn into a flood of JWKS requests.
//!
//! Reads take a snapshot (`Arc`) under a short read lock. A refresh is needed when no keys were
//! loaded yet, when the token names a `kid` the snapshot lacks, or when the snapshot is older
//! than the maximum age. Refreshes are serialized by one async mutex (single flight): whoever
//! waits behind a refresh looks again once it has the lock and usually finds the keys it
//! wanted. And a refresh is *attempted* at most once per refresh interval, whatever its outcome:
//! inside the interval an unknown `kid` is refused from the cache.

use crate::error::{ErrorKind, InvalidToken};
use crate::http_client::IssuerClient;
use oxidp_jose::verify::VerifierKeys;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use std::time::Instant;

/// One fetched JWK set.
#[derive(Debug)]
pub(crate) struct KeySnapshot {
    /// The set's usable keys, parsed and hardened once per fetch, not once per token.
    pub(crate) verifier: VerifierKeys,
    kids: HashSet<String>,
    fetched_at: Option<Instant>,
}

impl KeySnapshot {
    fn empty() -> Self {
        Self {
            verifier: VerifierKeys::from_jwks(&serde_json::json!({ "keys": [] })),
            kids: HashSet::new(),
            fetched_at: None,
        }
    }

    fn new(jwks: serde_json::Value, now: Instant) -> Self {
        let kids = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|key| key.get("kid").and_then(|kid| kid.as_str()))
            .map(str::to_owned)
            .collect();
        Self {
            verifier: VerifierKeys::from_jwks(&jwks),
            kids,
            fetched_at: Some(now),
        }
    }

    fn is_loaded(&self) -> bool {
        self.fetched_at.is_some()
    }

    /// Holds a key for `kid` (any key, for a token without `kid`).
    fn knows(&self, kid: Option<&str>) -> bool {
        self.is_loaded() && kid.is_none_or(|kid| self.kids.contains(kid))
    }

    fn is_fresh(&self, max_age: Duration) -> bool {
        self.fetched_at.is_some_and(|at| at.elapsed() < max_age)
    }
}

#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

/// The key cache of one validator.
#[derive(Debug)]
pub(crate) struct KeyCache {
    current: RwLock<Arc<KeySnapshot>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    refresh_interval: Duration,
    max_age: Duration,
}

impl KeyCache {
    pub(crate) fn new(refresh_interval: Duration, max_age: Duration) -> Self {
        Self {
            current: RwLock::new(Arc::new(KeySnapshot::empty())),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            refresh_interval,
            max_age,
        }
    }

    fn snapshot(&self) -> Arc<KeySnapshot> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn publish(&self, snapshot: Arc<KeySnapshot>) {
        match self.current.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Keys to verify a token whose header names `kid`.
    ///
    /// `Err(InvalidToken(UnknownKey))` when the issuer has no such key (as far as this cache may
    /// ask), `Err(IssuerUnavailable)` when the keys could not be fetched and none that fit are
    /// cached.
    pub(crate) async fn keys_for(
        &self,
        client: &IssuerClient,
        kid: Option<&str>,
    ) -> Result<Arc<KeySnapshot>, ErrorKind> {
        let snapshot = self.snapshot();
        if snapshot.knows(kid) && snapshot.is_fresh(self.max_age) {
            return Ok(snapshot);
        }
        self.refresh(client, kid).await
    }

    async fn refresh(
        &self,
        client: &IssuerClient,
        kid: Option<&str>,
    ) -> Result<Arc<KeySnapshot>, ErrorKind> {
        let mut state = self.refresh.lock().await;
        // Whoever held the lock before may have fetched what we need.
        let snapshot = self.snapshot();
        if snapshot.knows(kid) && snapshot.is_fresh(self.max_age) {
            return Ok(snapshot);
        }
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.refresh_interval)
        {
            return Self::settle(snapshot, kid, state.last_failed);
        }
        state.last_attempt = Some(Instant::now());
        match client.fetch_jwks().await {
            Ok(jwks) => {
                let fresh = Arc::new(KeySnapshot::new(jwks, Instant::now()));
                self.publish(fresh.clone());
                state.last_failed = false;
                tracing::debug!(keys = fresh.kids.len(), "fetched the issuer's signing keys");
                Self::settle(fresh, kid, false)
            }
            Err(error) => {
                state.last_failed = true;
                Self::settle(snapshot, kid, true).map_err(|_| error)
            }
        }
    }

    /// What a caller gets from `snapshot` when no (further) fetch is allowed: the snapshot if it
    /// has the key (even if stale); otherwise the key is unknown, or, if the issuer could not
    /// be asked, the issuer is unavailable.
    fn settle(
        snapshot: Arc<KeySnapshot>,
        kid: Option<&str>,
        last_failed: bool,
    ) -> Result<Arc<KeySnapshot>, ErrorKind> {
        if snapshot.knows(kid) {
            Ok(snapshot)
        } else if last_failed {
            Err(ErrorKind::IssuerUnavailable)
        } else {
            Err(ErrorKind::InvalidToken(InvalidToken::UnknownKey))
        }
    }
}
