//! Storage traits, one per aggregate, and the in-memory implementations beside them.
//!
//! Every implementation (memory here, SQLite and PostgreSQL in `oxidp-store`) must pass the
//! conformance kit in `oxidp_core::test_kit` (behind the `test-kit` feature, so not linked here).

mod cache;
mod memory;
mod memory_dpop;
mod memory_outbox;
mod memory_revoked;
mod memory_sessions;
mod memory_sign_in;

pub use cache::{CachedClientStore, CachedResourceStore, CachedUserStore};
pub use memory::MemoryStore;

use crate::model::{
    ApiResource, AttemptOutcome, AuditEntry, Client, DataProtectionKeyRecord, DeliveryAttempt,
    DeliveryStatus, OutboxMessage, PersistedGrant, PersistedGrantFilter, QueryResult,
    RefreshTokenRotation, RevokedToken, ServerSideSession, SessionExpiration, SessionFilter,
    SessionQuery, SessionRemoval, SignInFailures, SigningKeyRecord, User,
};
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// Errors every store reports in these terms, whatever the backend.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A record with the same key already exists.
    #[error("a record with this key already exists")]
    Conflict,
    /// The filter selects nothing; refused so that it is never read as "everything".
    #[error("the filter is empty")]
    EmptyFilter,
    /// A stored value could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed or cannot be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// The client with this id, enabled or not.
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// Creates or replaces a client.
    async fn upsert_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes a client; returns whether it existed.
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
    /// Every client, enabled or not, ordered by client id.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
}

/// API resources.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// The resource with this name.
    async fn find_api_resource(&self, name: &str) -> StoreResult<Option<ApiResource>>;
    /// Creates or replaces a resource.
    async fn upsert_api_resource(&self, resource: &ApiResource) -> StoreResult<()>;
    /// Every resource, ordered by name.
    async fn list_api_resources(&self) -> StoreResult<Vec<ApiResource>>;
}

/// Persisted grants (reference tokens, codes, refresh tokens, consents, replay records).
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Creates or replaces the grant with this key.
    async fn store_grant(&self, grant: &PersistedGrant) -> StoreResult<()>;
    /// Creates the grant only if its key is unused; [`StoreError::Conflict`] otherwise.
    /// This is the atomic primitive behind one-time values (assertion ids, codes).
    async fn create_grant(&self, grant: &PersistedGrant) -> StoreResult<()>;
    /// Marks the grant consumed at `at` if it exists and is not consumed yet, and returns it
    /// as it now is (one statement: the read and the claim are one step). `None` when it does
    /// not exist or was consumed already. Atomic: of concurrent callers exactly one gets it.
    async fn consume_grant(
        &self,
        key: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Option<PersistedGrant>>;
    /// Applies a refresh token's rotation in one transaction (see [`RefreshTokenRotation`]):
    /// the presented token is consumed (a first use) or its unused successor deleted (a
    /// retry), its data replaced, and the new grants created. Returns the presented grant as
    /// it now is; `None`, with nothing changed, when the step's condition does not hold (the
    /// token is absent or already consumed; for a retry, it is unconsumed or its successor
    /// is used or gone). Of concurrent rotations of one token exactly one succeeds. A failure
    /// (an issued key that exists: [`StoreError::Conflict`]; a database error) changes
    /// nothing.
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshTokenRotation,
    ) -> StoreResult<Option<PersistedGrant>>;
    /// The grant with this key, expired or not (callers decide with their clock).
    async fn get_grant(&self, key: &str) -> StoreResult<Option<PersistedGrant>>;
    /// Every grant matching the filter, ordered by creation then key.
    async fn get_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<Vec<PersistedGrant>>;
    /// Deletes the grant with this key; returns whether it existed.
    async fn remove_grant(&self, key: &str) -> StoreResult<bool>;
    /// Deletes every grant matching the filter; returns how many.
    async fn remove_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<u64>;
    /// Deletes up to `batch` grants that expired before `now`; returns how many.
    async fn remove_expired_grants(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64>;
}

/// Signing keys and data-protection keys, shared by every instance on one database.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every signing key, ordered by activation then id.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds a signing key; [`StoreError::Conflict`] if its id exists.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Deletes a signing key; returns whether it existed.
    async fn delete_signing_key(&self, id: &str) -> StoreResult<bool>;
    /// Every data-protection key, ordered by activation then id.
    async fn list_data_protection_keys(&self) -> StoreResult<Vec<DataProtectionKeyRecord>>;
    /// Adds a data-protection key; [`StoreError::Conflict`] if its id exists.
    async fn insert_data_protection_key(&self, key: &DataProtectionKeyRecord) -> StoreResult<()>;
    /// Replaces the stored material of key `id` with `sealed`, only while it still is
    /// `unsealed` (so two instances sealing at once cannot overwrite each other); returns
    /// whether it was replaced.
    async fn seal_data_protection_key(
        &self,
        id: Uuid,
        unsealed: &[u8],
        sealed: &[u8],
    ) -> StoreResult<bool>;
}

/// Local user accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this subject id.
    async fn find_user_by_subject(&self, subject_id: &str) -> StoreResult<Option<User>>;
    /// The user with this username (exact match).
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Creates a user; [`StoreError::Conflict`] if the subject id or the username is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Replaces the user with the same subject id; returns whether it existed.
    /// [`StoreError::Conflict`] if the new username belongs to another user.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    /// Every user, ordered by username.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
}

/// Server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session; [`StoreError::Conflict`] if the key exists.
    async fn create_session(&self, session: &ServerSideSession) -> StoreResult<()>;
    /// The session with this key, expired or not.
    async fn get_session(&self, key: &str) -> StoreResult<Option<ServerSideSession>>;
    /// Replaces every field of the session with the same key; returns whether it existed.
    async fn update_session(&self, session: &ServerSideSession) -> StoreResult<bool>;
    /// Sets only `renewed` and `expires` (extending a session needs no re-encryption); returns
    /// whether it existed.
    async fn touch_session(
        &self,
        key: &str,
        renewed: OffsetDateTime,
        expires: Option<OffsetDateTime>,
    ) -> StoreResult<bool>;
    /// Deletes the session with this key; returns whether it existed.
    async fn delete_session(&self, key: &str) -> StoreResult<bool>;
    /// Every session matching the filter, ordered by (created, key). [`StoreError::EmptyFilter`]
    /// for an empty filter.
    async fn get_sessions(&self, filter: &SessionFilter) -> StoreResult<Vec<ServerSideSession>>;
    /// How many sessions are alive at `now` (no expiry, or expiring after `now`).
    async fn count_active_sessions(&self, now: OffsetDateTime) -> StoreResult<u64>;
    /// One page of sessions matching the query, by keyset pagination over (created, key), or
    /// over (display_name, created, key) when the query has a (non-empty) display-name filter
    /// ([`SessionQuery::orders_by_display_name`]), so that a prefix matching many sessions is
    /// paged straight from the `(display_name, created, key)` index. A malformed or stale
    /// results token, or one of the other order, restarts at page 1; it is never an error.
    async fn query_sessions(
        &self,
        query: &SessionQuery,
    ) -> StoreResult<QueryResult<ServerSideSession>>;
}

/// Expired sessions taken by one cleanup worker ([`OutboxStore::take_expired`]).
#[async_trait]
pub trait ExpiredSessionBatch: Send {
    /// The sessions taken, oldest expiry first (empty when nothing was expired).
    fn sessions(&self) -> &[ServerSideSession];
    /// In one transaction: removes the taken sessions (on SQLite, those still there and still
    /// expired), and for each removed one whose expiration is among `expirations` revokes its
    /// session's grants of `revoke_client_ids` and enqueues its messages (expirations of other
    /// keys are ignored); then commits. Returns how many sessions were removed. On error
    /// nothing is committed and the sessions are given back.
    async fn commit(self: Box<Self>, expirations: &[SessionExpiration]) -> StoreResult<u64>;
    /// Gives the taken sessions back, unchanged, for the next taker (a rollback). Dropping the
    /// batch does the same, but only once its connection is released, a moment later.
    async fn give_back(self: Box<Self>) -> StoreResult<()>;
}

/// The outbox of messages for other parties (back-channel logout notifications, and further
/// kinds of [`OutboxPayload`](crate::model::OutboxPayload)), and the atomic session removals
/// that fill it.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// In one transaction: deletes the sessions, revokes the grants and enqueues the messages.
    /// Returns how many sessions were actually deleted (a session already gone is skipped; its
    /// messages are still enqueued, since its removal is what the caller decided).
    async fn commit_removal(&self, removal: &SessionRemoval) -> StoreResult<u64>;
    /// In one transaction, for each expiration whose record still exists and is still expired
    /// at `now`: deletes it, revokes its sessions' grants of `revoke_client_ids`, and enqueues
    /// its messages. Expirations whose record is gone (another worker committed it) or slid
    /// (no longer expired) change nothing. Returns the keys actually removed, so each expired
    /// session's notifications are committed exactly once however many workers process it.
    async fn commit_expirations(
        &self,
        now: OffsetDateTime,
        expirations: &[SessionExpiration],
    ) -> StoreResult<Vec<String>>;
    /// Takes up to `batch` sessions expired at `now` (`expires <= now`; never those without
    /// expiry), oldest expiry first, for one cleanup worker, and holds them until the batch is
    /// committed ([`ExpiredSessionBatch::commit`]), given back or dropped. Meanwhile no other
    /// caller takes them, so concurrent workers get disjoint sessions; a batch given back or
    /// dropped uncommitted (its worker failed, or died) leaves its sessions, whole, to the next
    /// taker. Readers see the sessions until the commit, except in the memory store, which
    /// takes them out at once.
    ///
    /// PostgreSQL holds a batch in an open transaction: the rows are deleted and stay locked
    /// (`FOR UPDATE SKIP LOCKED`, so other takers, in any instance, pass them by; a renewal or
    /// [`OutboxStore::commit_expirations`] of one waits for the outcome and finds it gone).
    /// SQLite holds no lock until the commit (its one write lock would stall every other
    /// writer meanwhile): takers in one process are kept apart in memory, and the commit
    /// removes only sessions still there and still expired, so a session renewed in between is
    /// kept and one taken by two processes is committed once.
    async fn take_expired<'a>(
        &'a self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + 'a>>;
    /// How many expired-session batches one cleanup run usefully holds open at once: 1 where
    /// writes are serialized anyway (SQLite, memory), more where they run in parallel
    /// (PostgreSQL), so that one batch's round trips overlap another's work.
    fn expiration_lanes(&self) -> usize {
        1
    }
    /// Enqueues messages (outside a removal, e.g. RP-initiated logout).
    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()>;
    /// Claims up to `batch` pending messages due at `now` for delivery by this caller: their
    /// `next_attempt` moves to `lease_until`, so no other worker claims them meanwhile; two
    /// concurrent callers never claim the same message.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Records each attempt and its message's new state (`status`, `next_attempt`, attempts
    /// + 1), all or none: the delivery worker records a whole batch at once, so that a backlog
    /// costs one commit per batch rather than one per message. An attempt of a message that no
    /// longer exists is skipped.
    async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> StoreResult<()>;
    /// Messages with this status, newest first, at most `limit`.
    async fn list_messages(
        &self,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// The attempts of one message, oldest first.
    async fn list_attempts(&self, message_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>>;
}

/// The audit trail of administrative actions.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The newest entries first, at most `limit`.
    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// Counters of failed sign-ins, shared by every instance on one database so that the sign-in
/// throttle holds however many instances an attacker spreads guesses over.
#[async_trait]
pub trait SignInFailureStore: Send + Sync {
    /// The counter with this key, expired or not (callers decide with their clock).
    async fn get_sign_in_failures(&self, key: &str) -> StoreResult<Option<SignInFailures>>;
    /// Replaces the counter with this key by `next`, only if it is still exactly `current`
    /// (`None`: there is no counter); returns whether it was replaced. Of concurrent callers
    /// that read the same counter, exactly one succeeds: the sign-in throttle counts an attempt
    /// this way before checking the password, so parallel guesses cannot all pass one check.
    async fn replace_sign_in_failures(
        &self,
        key: &str,
        current: Option<&SignInFailures>,
        next: &SignInFailures,
    ) -> StoreResult<bool>;
    /// Adds one failure at `at` to the counter with this key (starting it at one when there is
    /// none or it expired before `at`), which then lasts until `expires`; returns the counter as
    /// it now is. Atomic: concurrent additions all count.
    async fn add_sign_in_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> StoreResult<SignInFailures>;
    /// Deletes the counter with this key; returns whether it existed.
    async fn clear_sign_in_failures(&self, key: &str) -> StoreResult<bool>;
    /// Deletes up to `batch` counters expired at `now` (`expires <= now`); returns how many.
    async fn remove_expired_sign_in_failures(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64>;
}

/// The revocation list of JWT access tokens: the ids (`jti`) of tokens revoked before their
/// expiry, kept until they expire. A JWT cannot be recalled from APIs that validate it
/// locally; this server (and APIs that ask it through introspection) refuses it from then on.
#[async_trait]
pub trait RevokedTokenStore: Send + Sync {
    /// Records the revoked token. An id already recorded keeps its first entry.
    async fn revoke_token_id(&self, revoked: &RevokedToken) -> StoreResult<()>;
    /// The entry of the token with this id, if it was revoked (expired or not: callers that
    /// ask hold a token that is otherwise still valid).
    async fn find_revoked_token_id(&self, jti: &str) -> StoreResult<Option<RevokedToken>>;
    /// Deletes up to `batch` entries whose token expired at `now` (`expires <= now`); returns
    /// how many.
    async fn remove_expired_revoked_token_ids(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<u64>;
}

/// The DPoP proofs seen (RFC 9449 §11.1): one entry per proof, keyed by a hash of its `jti`
/// and its key's thumbprint, kept while the proof could still be accepted, so that a proof is
/// honoured once across every instance that shares the store.
#[async_trait]
pub trait DpopProofStore: Send + Sync {
    /// Records the proof `key` until `expires` unless it is recorded already; returns whether
    /// this call recorded it. Of concurrent calls with one key, exactly one returns `true`. An
    /// entry stays until [`DpopProofStore::remove_expired_dpop_proofs`] removes it, even past
    /// `expires` (by then the proof is too old to be accepted anyway).
    async fn record_dpop_proof(&self, key: &str, expires: OffsetDateTime) -> StoreResult<bool>;
    /// Deletes up to `batch` entries expired at `now` (`expires <= now`); returns how many.
    async fn remove_expired_dpop_proofs(&self, now: OffsetDateTime, batch: u32)
    -> StoreResult<u64>;
}

/// The set of stores a server runs on.
#[derive(Clone)]
pub struct Stores {
    /// Clients.
    pub clients: Arc<dyn ClientStore>,
    /// API resources.
    pub resources: Arc<dyn ResourceStore>,
    /// Persisted grants.
    pub grants: Arc<dyn GrantStore>,
    /// Keys.
    pub keys: Arc<dyn KeyStore>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Server-side sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The outbox.
    pub outbox: Arc<dyn OutboxStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Failed sign-in counters.
    pub sign_in_failures: Arc<dyn SignInFailureStore>,
    /// The revocation list of JWT access tokens.
    pub revoked_tokens: Arc<dyn RevokedTokenStore>,
    /// The DPoP proofs seen.
    pub dpop_proofs: Arc<dyn DpopProofStore>,
}

impl Stores {
    /// Every store backed by one value that implements them all (as each backend does).
    pub fn from_backend<S>(backend: Arc<S>) -> Self
    where
        S: ClientStore
            + ResourceStore
            + GrantStore
            + KeyStore
            + UserStore
            + SessionStore
            + OutboxStore
            + AuditStore
            + SignInFailureStore
            + RevokedTokenStore
            + DpopProofStore
            + 'static,
    {
        Self {
            clients: backend.clone(),
            resources: backend.clone(),
            grants: backend.clone(),
            keys: backend.clone(),
            users: backend.clone(),
            sessions: backend.clone(),
            outbox: backend.clone(),
            audit: backend.clone(),
            sign_in_failures: backend.clone(),
            revoked_tokens: backend.clone(),
            dpop_proofs: backend,
        }
    }

    /// Every store in memory (the library default; nothing survives a restart).
    pub fn in_memory() -> Self {
        Self::from_backend(Arc::new(MemoryStore::default()))
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
