//! The in-memory [`SignInFailureStore`]: the reference semantics of the failed sign-in
//! counters (one lock makes each operation atomic).

use super::{MemoryStore, SignInFailureStore, StoreResult};
use crate::model::SignInFailures;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl SignInFailureStore for MemoryStore {
    async fn get_sign_in_failures(&self, key: &str) -> StoreResult<Option<SignInFailures>> {
        Ok(self.lock().sign_in_failures.get(key).cloned())
    }

    async fn replace_sign_in_failures(
        &self,
        key: &str,
        current: Option<&SignInFailures>,
        next: &SignInFailures,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        if inner.sign_in_failures.get(key) != current {
            return Ok(false);
        }
        inner.sign_in_failures.insert(key.to_owned(), next.clone());
        Ok(true)
    }

    async fn add_sign_in_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> StoreResult<SignInFailures> {
        let mut inner = self.lock();
        let failures = match inner.sign_in_failures.get(key) {
            Some(counter) if counter.expires > at => counter.failures.saturating_add(1),
            _ => 1,
        };
        let counter = SignInFailures {
            failures,
            last_failure: at,
            expires,
        };
        inner
            .sign_in_failures
            .insert(key.to_owned(), counter.clone());
        Ok(counter)
    }

    async fn clear_sign_in_failures(&self, key: &str) -> StoreResult<bool> {
        Ok(self.lock().sign_in_failures.remove(key).is_some())
    }

    async fn remove_expired_sign_in_failures(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64> {
        Ok(super::memory::remove_batch(
            &mut self.lock().sign_in_failures,
            batch,
            |entry| entry.expires <= now,
        ))
    }
}
