//! Persisted grants: every server-side artefact a token or a consent leaves behind.

use std::fmt;
use time::OffsetDateTime;

/// The `grant_type` values of [`PersistedGrant`].
pub mod grant_types {
    /// An opaque access token (the grant holds its claims).
    pub const REFERENCE_TOKEN: &str = "reference_token";
    /// An authorization code.
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    /// A refresh token.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// A pending CIBA authentication request.
    pub const CIBA_REQUEST: &str = "ciba_request";
    /// A remembered consent of a user for a client (one per user and client).
    pub const USER_CONSENT: &str = "user_consent";
    /// A used `private_key_jwt` assertion id, kept until the assertion expires to refuse replays.
    pub const CLIENT_ASSERTION_JTI: &str = "client_assertion_jti";
    /// The grants that belong to a user session and end with it: refresh tokens, reference
    /// tokens, authorization codes and pending CIBA requests (not consents, which are per user
    /// and client).
    pub const SESSION_BOUND: [&str; 4] = [
        REFRESH_TOKEN,
        REFERENCE_TOKEN,
        AUTHORIZATION_CODE,
        CIBA_REQUEST,
    ];
}

/// A server-side record of a grant. `key` is a hash of the handle given out, never the handle.
#[derive(Clone, PartialEq, Eq)]
pub struct PersistedGrant {
    /// Hash of the handle (primary key).
    pub key: String,
    /// What kind of grant this is (see [`grant_types`]).
    pub grant_type: String,
    /// The user, when there is one.
    pub subject_id: Option<String>,
    /// The user session (`sid`), when there is one.
    pub session_id: Option<String>,
    /// The client the grant was issued to.
    pub client_id: String,
    /// When the grant was created.
    pub created: OffsetDateTime,
    /// When it stops being valid; `None` for grants that do not expire.
    pub expires: Option<OffsetDateTime>,
    /// When it was used, for one-time grants.
    pub consumed: Option<OffsetDateTime>,
    /// Serialized payload (JSON).
    pub data: String,
}

impl fmt::Debug for PersistedGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The data may hold claims about a user; ids are enough to follow a grant in logs.
        f.debug_struct("PersistedGrant")
            .field("grant_type", &self.grant_type)
            .field("subject_id", &self.subject_id)
            .field("session_id", &self.session_id)
            .field("client_id", &self.client_id)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("consumed", &self.consumed)
            .finish_non_exhaustive()
    }
}

impl PersistedGrant {
    /// Whether the grant has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

/// Selects grants by any combination of its fields (AND-combined). At least one field must be
/// set: an empty filter is refused rather than read as "every grant".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistedGrantFilter {
    /// Match this subject.
    pub subject_id: Option<String>,
    /// Match this session.
    pub session_id: Option<String>,
    /// Match this client.
    pub client_id: Option<String>,
    /// Match any of these clients (combined with `client_id` when both are set).
    pub client_ids: Option<Vec<String>>,
    /// Match this grant type.
    pub grant_type: Option<String>,
    /// Match any of these grant types.
    pub grant_types: Option<Vec<String>>,
}

impl PersistedGrantFilter {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self.subject_id.is_none()
            && self.session_id.is_none()
            && self.client_id.is_none()
            && self.client_ids.is_none()
            && self.grant_type.is_none()
            && self.grant_types.is_none()
    }

    /// Whether `grant` satisfies every criterion (the reference semantics every store follows).
    pub fn matches(&self, grant: &PersistedGrant) -> bool {
        self.subject_id
            .as_ref()
            .is_none_or(|s| grant.subject_id.as_ref() == Some(s))
            && self
                .session_id
                .as_ref()
                .is_none_or(|s| grant.session_id.as_ref() == Some(s))
            && self
                .client_id
                .as_ref()
                .is_none_or(|c| &grant.client_id == c)
            && self
                .client_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&grant.client_id))
            && self
                .grant_type
                .as_ref()
                .is_none_or(|t| &grant.grant_type == t)
            && self
                .grant_types
                .as_ref()
                .is_none_or(|types| types.contains(&grant.grant_type))
    }
}

/// One rotation of a one-time refresh token, which [`crate::store::GrantStore::rotate_refresh_token`]
/// applies in one transaction: either all of it happens or none of it does, so a failure (a
/// database error, a timeout, a crash) never leaves a used token without its successor.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenRotation {
    /// The storage key of the token presented.
    pub key: String,
    /// What the presented token's `data` becomes: it names the successor issued in its place,
    /// which is what lets a retry within the grace find (and replace) it.
    pub data: String,
    /// A first use or a retry, and what each requires.
    pub step: RotationStep,
    /// The grants issued: the successor refresh token, and the reference access token issued
    /// with it, if any. Created, never replaced: a key already in use fails the rotation with
    /// [`crate::store::StoreError::Conflict`].
    pub issue: Vec<PersistedGrant>,
}

/// What a [`RefreshTokenRotation`] requires of the stored tokens, checked in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationStep {
    /// The token is used for the first time: it must be unconsumed, and is consumed `at`.
    FirstUse {
        /// When the token is consumed.
        at: OffsetDateTime,
    },
    /// The token was rotated already and is presented again within the retry grace: it must be
    /// consumed (its instant is kept, so retries never extend the grace), and `successor`, the
    /// token issued in its place, must still be unconsumed; `successor` is deleted.
    Retry {
        /// The storage key of the unused successor this rotation revokes.
        successor: String,
    },
}

impl fmt::Debug for RefreshTokenRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are hashes, but a log needs none of them to follow a rotation.
        f.debug_struct("RefreshTokenRotation")
            .field("retry", &matches!(self.step, RotationStep::Retry { .. }))
            .field("issue", &self.issue)
            .finish_non_exhaustive()
    }
}
