//! The in-memory [`RevokedTokenStore`]: the reference semantics of the revocation list of JWT
//! ids.

use super::{MemoryStore, RevokedTokenStore, StoreResult};
use crate::model::RevokedToken;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl RevokedTokenStore for MemoryStore {
    async fn revoke_token_id(&self, revoked: &RevokedToken) -> StoreResult<()> {
        self.lock()
            .revoked_tokens
            .entry(revoked.jti.clone())
            .or_insert_with(|| revoked.clone());
        Ok(())
    }

    async fn find_revoked_token_id(&self, jti: &str) -> StoreResult<Option<RevokedToken>> {
        Ok(self.lock().revoked_tokens.get(jti).cloned())
    }

    async fn remove_expired_revoked_token_ids(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64> {
        Ok(super::memory::remove_batch(
            &mut self.lock().revoked_tokens,
            batch,
            |entry| entry.expires <= now,
        ))
    }
}
