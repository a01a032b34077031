//! The in-memory [`DpopProofStore`]: the reference semantics of the seen DPoP proofs (one
//! lock makes "insert if absent" atomic).

use super::{DpopProofStore, MemoryStore, StoreResult};
use async_trait::async_trait;
use std::collections::btree_map::Entry;
use time::OffsetDateTime;

#[async_trait]
impl DpopProofStore for MemoryStore {
    async fn record_dpop_proof(&self, key: &str, expires: OffsetDateTime) -> StoreResult<bool> {
        match self.lock().dpop_proofs.entry(key.to_owned()) {
            Entry::Occupied(_) => Ok(false),
            Entry::Vacant(entry) => {
                entry.insert(expires);
                Ok(true)
            }
        }
    }

    async fn remove_expired_dpop_proofs(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64> {
        Ok(super::memory::remove_batch(
            &mut self.lock().dpop_proofs,
            batch,
            |expires| *expires <= now,
        ))
    }
}
