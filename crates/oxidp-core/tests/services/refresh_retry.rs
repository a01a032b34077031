//! A failed refresh does not burn the chain: a store failure while the successor is stored
//! leaves the presented token usable, and a retry within the grace after a lost response gets
//! a fresh successor (the unseen one revoked). Outside the grace, or once the successor was
//! used, a reuse still revokes the family.

use crate::support::{Fixture, client, fixture, fixture_with_grants};
use async_trait::async_trait;
use oxidp_core::model::{
    Client, PersistedGrant, PersistedGrantFilter, RefreshTokenRotation, grant_types,
};
use oxidp_core::store::{GrantStore, MemoryStore, StoreError, StoreResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

/// A grant store that, once armed, fails the next write of a new refresh token (a database
/// error at the issue step), whichever way the service stores it.
struct FailingIssue {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
}

impl FailingIssue {
    fn fail_if_armed(&self, grant: &PersistedGrant) -> StoreResult<()> {
        if grant.grant_type == grant_types::REFRESH_TOKEN
            && grant.consumed.is_none()
            && self.armed.swap(false, Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl GrantStore for FailingIssue {
    async fn store_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
        self.fail_if_armed(grant)?;
        self.inner.store_grant(grant).await
    }
    async fn create_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
        self.fail_if_armed(grant)?;
        self.inner.create_grant(grant).await
    }
    async fn consume_grant(
        &self,
        key: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Option<PersistedGrant>> {
        self.inner.consume_grant(key, at).await
    }
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshTokenRotation,
    ) -> StoreResult<Option<PersistedGrant>> {
        // The rotation is one transaction: a failure inside it leaves nothing behind (the
        // conformance kit holds every store to that), so failing before it is the same.
        for grant in &rotation.issue {
            self.fail_if_armed(grant)?;
        }
        self.inner.rotate_refresh_token(rotation).await
    }
    async fn get_grant(&self, key: &str) -> StoreResult<Option<PersistedGrant>> {
        self.inner.get_grant(key).await
    }
    async fn get_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<Vec<PersistedGrant>> {
        self.inner.get_grants(filter).await
    }
    async fn remove_grant(&self, key: &str) -> StoreResult<bool> {
        self.inner.remove_grant(key).await
    }
    async fn remove_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<u64> {
        self.inner.remove_grants(filter).await
    }
    async fn remove_expired_grants(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64> {
        self.inner.remove_expired_grants(now, batch).await
    }
}

/// Signs in and redeems a code for `rp`; returns the refresh and the access token.
async fn tokens(f: &Fixture, rp: &Client) -> (String, String) {
    f.add_client(rp).await;
    let mut browser = f.sign_in().await;
    let tokens = f.code_flow(&mut browser, rp).await;
    (tokens.refresh_token.unwrap(), tokens.access_token)
}

#[tokio::test]
async fn a_store_failure_while_issuing_leaves_the_token_usable() {
    let store = Arc::new(MemoryStore::default());
    let grants = Arc::new(FailingIssue {
        inner: store.clone(),
        armed: AtomicBool::new(false),
    });
    let f = fixture_with_grants(store, grants.clone()).await;
    let rp = client("rp");
    let (first, access) = tokens(&f, &rp).await;

    grants.armed.store(true, Ordering::SeqCst);
    let failed = f.refresh(&rp, &first).await.unwrap_err();
    assert_eq!(failed.code.as_str(), "temporarily_unavailable");
    assert!(!grants.armed.load(Ordering::SeqCst), "the failure was hit");

    // Even past the retry grace: the failed refresh consumed nothing.
    f.clock.advance(time::Duration::minutes(10));
    let retried = f.refresh(&rp, &first).await.expect("the retry succeeds");
    let second = retried.refresh_token.unwrap();
    assert_ne!(second, first);
    f.refresh(&rp, &second).await.expect("the chain goes on");
    assert!(f.access_token_valid(&access).await, "nothing was revoked");
}

#[tokio::test]
async fn a_retry_within_the_grace_after_a_lost_response_gets_a_fresh_successor() {
    let f = fixture().await;
    let rp = client("rp");
    let (first, access) = tokens(&f, &rp).await;

    // The response carrying `unseen` never reaches the client.
    let unseen = f.refresh(&rp, &first).await.unwrap().refresh_token.unwrap();
    f.clock.advance(time::Duration::seconds(9));
    let retried = f
        .refresh(&rp, &first)
        .await
        .expect("a retry within the grace");
    let fresh = retried.refresh_token.unwrap();
    assert!(fresh != unseen && fresh != first);

    let revoked = f.refresh(&rp, &unseen).await.unwrap_err();
    assert_eq!(
        revoked.code.as_str(),
        "invalid_grant",
        "the unseen one is revoked"
    );
    assert!(f.access_token_valid(&access).await, "the family lives on");
    assert!(f.access_token_valid(&retried.access_token).await);
    let next = f.refresh(&rp, &fresh).await.expect("the fresh one works");
    assert!(f.access_token_valid(&next.access_token).await);
    assert_eq!(f.grants(grant_types::REFRESH_TOKEN).await.len(), 1);
}

#[tokio::test]
async fn retries_never_extend_the_grace() {
    let f = fixture().await;
    let rp = client("rp");
    let (first, access) = tokens(&f, &rp).await;
    f.refresh(&rp, &first).await.unwrap();
    f.clock.advance(time::Duration::seconds(6));
    f.refresh(&rp, &first).await.expect("within the grace");
    // 12 s after the rotation, 6 s after the retry: the grace ran from the rotation.
    f.clock.advance(time::Duration::seconds(6));
    let late = f.refresh(&rp, &first).await.unwrap_err();
    assert_eq!(late.code.as_str(), "invalid_grant");
    assert!(
        !f.access_token_valid(&access).await,
        "the family is revoked"
    );
    assert!(f.grants(grant_types::REFRESH_TOKEN).await.is_empty());
}

#[tokio::test]
async fn a_reuse_after_the_grace_revokes_the_family() {
    let f = fixture().await;
    let rp = client("rp");
    let (first, access) = tokens(&f, &rp).await;
    let second = f.refresh(&rp, &first).await.unwrap();
    f.clock.advance(time::Duration::seconds(11));
    let reuse = f.refresh(&rp, &first).await.unwrap_err();
    assert_eq!(reuse.code.as_str(), "invalid_grant");
    assert!(!f.access_token_valid(&access).await);
    assert!(!f.access_token_valid(&second.access_token).await);
    let successor = f.refresh(&rp, &second.refresh_token.unwrap()).await;
    assert_eq!(successor.unwrap_err().code.as_str(), "invalid_grant");
}

#[tokio::test]
async fn a_reuse_after_the_successor_was_used_revokes_the_family() {
    let f = fixture().await;
    let rp = client("rp");
    let (first, _) = tokens(&f, &rp).await;
    let second = f.refresh(&rp, &first).await.unwrap();
    let third = f
        .refresh(&rp, &second.refresh_token.unwrap())
        .await
        .unwrap();
    // Still within the grace of the first rotation, but its successor has been used.
    f.clock.advance(time::Duration::seconds(1));
    let reuse = f.refresh(&rp, &first).await.unwrap_err();
    assert_eq!(reuse.code.as_str(), "invalid_grant");
    assert!(!f.access_token_valid(&third.access_token).await);
    let latest = f.refresh(&rp, &third.refresh_token.unwrap()).await;
    assert_eq!(latest.unwrap_err().code.as_str(), "invalid_grant");
    assert!(f.grants(grant_types::REFRESH_TOKEN).await.is_empty());
}

#[tokio::test]
async fn a_client_with_no_grace_revokes_at_once_and_one_with_more_retries_later() {
    let f = fixture().await;
    let mut strict = client("strict");
    strict.refresh_token_reuse_grace = Some(Duration::ZERO);
    let (first, access) = tokens(&f, &strict).await;
    f.refresh(&strict, &first).await.unwrap();
    let reuse = f.refresh(&strict, &first).await.unwrap_err();
    assert_eq!(reuse.code.as_str(), "invalid_grant");
    assert!(!f.access_token_valid(&access).await);

    let mut patient = client("patient");
    patient.refresh_token_reuse_grace = Some(Duration::from_secs(60));
    let (first, _) = tokens(&f, &patient).await;
    f.refresh(&patient, &first).await.unwrap();
    f.clock.advance(time::Duration::seconds(59));
    f.refresh(&patient, &first)
        .await
        .expect("within the client's own grace");
}
