//! The outbox: one durable delivery mechanism for every message the server sends to another
//! party's endpoint (back-channel logout notifications today; CIBA pings and webhook events are
//! further [`OutboxPayload`] variants). Messages are written in the same transaction as the
//! change that caused them and delivered, retried with backoff and given up by one background
//! worker, at least once: the message id is stable across attempts, so a receiver can
//! deduplicate.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why a session ended, as told to clients in the logout token's `logout_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutReason {
    /// The user logged out.
    UserLogout,
    /// An administrator (or a user switch) ended the session.
    Terminated,
    /// The session expired.
    SessionExpiration,
}

impl LogoutReason {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserLogout => "user_logout",
            Self::Terminated => "terminated",
            Self::SessionExpiration => "session_expiration",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user_logout" => Some(Self::UserLogout),
            "terminated" => Some(Self::Terminated),
            "session_expiration" => Some(Self::SessionExpiration),
            _ => None,
        }
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for (another) attempt.
    Pending,
    /// The client answered 2xx.
    Delivered,
    /// Retries exhausted (the retry period passed).
    Failed,
}

impl DeliveryStatus {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// The kind of an outbox message: what it tells the receiver and how a delivery is prepared.
/// Stored as [`OutboxKind::as_str`] beside the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// OIDC Back-Channel Logout: a logout token POSTed to the client.
    BackchannelLogout,
}

impl OutboxKind {
    /// Every kind this version delivers. A store claims only messages of these kinds, so that
    /// during a rolling upgrade an instance never takes a message of a kind it does not know
    /// from the newer instances that do.
    pub const ALL: &[OutboxKind] = &[Self::BackchannelLogout];

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackchannelLogout => "backchannel_logout",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "backchannel_logout" => Some(Self::BackchannelLogout),
            _ => None,
        }
    }
}

/// What a back-channel logout message says: the logout token is signed from it at each
/// delivery attempt (a token lives two minutes, retries much longer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackchannelLogout {
    /// The session's subject (`sub`).
    pub subject_id: String,
    /// The session id (`sid`).
    pub session_id: String,
    /// Why the session ended (`logout_reason`).
    pub reason: LogoutReason,
}

/// What a message carries, by kind. Adding a kind of message is adding a variant here, its
/// stored form in [`OutboxPayload::to_stored`] / [`OutboxPayload::from_stored`], and its
/// request in the delivery service's `prepare` step: the table, the claim, the retries and the
/// worker are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxPayload {
    /// A back-channel logout notification.
    BackchannelLogout(BackchannelLogout),
}

impl OutboxPayload {
    /// The message's kind.
    pub fn kind(&self) -> OutboxKind {
        match self {
            Self::BackchannelLogout(_) => OutboxKind::BackchannelLogout,
        }
    }

    /// The subject the message is about, if it is about one.
    pub fn subject_id(&self) -> Option<&str> {
        match self {
            Self::BackchannelLogout(logout) => Some(&logout.subject_id),
        }
    }

    /// The session the message is about, if it is about one.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::BackchannelLogout(logout) => Some(&logout.session_id),
        }
    }

    /// The stored form: the kind and the payload's JSON.
    pub fn to_stored(&self) -> Result<(OutboxKind, String), serde_json::Error> {
        let json = match self {
            Self::BackchannelLogout(logout) => serde_json::to_string(logout)?,
        };
        Ok((self.kind(), json))
    }

    /// Reads a stored payload of `kind` back.
    pub fn from_stored(kind: OutboxKind, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            OutboxKind::BackchannelLogout => Self::BackchannelLogout(serde_json::from_str(json)?),
        })
    }
}

/// One message for one receiver.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Unique id (UUIDv7: time-ordered), the same at every attempt: receivers deduplicate on it.
    pub id: Uuid,
    /// The client (receiver) the message is for.
    pub client_id: String,
    /// Where it is delivered (for back-channel logout: the client's `backchannel_logout_uri`).
    pub endpoint: String,
    /// What it carries.
    pub payload: OutboxPayload,
    /// When the message was written.
    pub created: OffsetDateTime,
    /// Not before this instant is it (re)tried.
    pub next_attempt: OffsetDateTime,
    /// Attempts made so far.
    pub attempts: u32,
    /// After this instant no further attempt is made.
    pub give_up_after: OffsetDateTime,
    /// Current status.
    pub status: DeliveryStatus,
}

impl fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("kind", &self.payload.kind())
            .field("client_id", &self.client_id)
            .field("session_id", &self.payload.session_id())
            .field("attempts", &self.attempts)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The record of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The message.
    pub message_id: Uuid,
    /// When the attempt was made.
    pub at: OffsetDateTime,
    /// The HTTP status, when the client answered.
    pub http_status: Option<u16>,
    /// What went wrong (timeout, connection refused, ...), without secrets.
    pub error: Option<String>,
}

/// The outcome of one delivery attempt, as the delivery worker records it: the attempt and the
/// message's new state (`status`, `next_attempt`; its attempt count goes up by one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The attempt.
    pub attempt: DeliveryAttempt,
    /// The message's status after it.
    pub status: DeliveryStatus,
    /// When the message is due again (for a delivered or failed message: when it ended).
    pub next_attempt: OffsetDateTime,
}

/// One expired session's end, as the cleanup job commits it: the record deleted, the
/// coordinated clients' grants of the session revoked and the logout notifications enqueued.
/// The store commits it only if the record still exists and is still expired at commit time,
/// so a session processed by two cleanup workers, or slid meanwhile, is never notified twice
/// (or at all, when it was slid).
#[derive(Debug, Clone)]
pub struct SessionExpiration {
    /// The session record's key.
    pub key: String,
    /// The session id (`sid`) its grants carry.
    pub session_id: String,
    /// The clients whose refresh tokens, reference tokens, codes and CIBA requests of this
    /// session are revoked (coordinated clients).
    pub revoke_client_ids: Vec<String>,
    /// Notifications to enqueue when the record is removed.
    pub messages: Vec<OutboxMessage>,
}

/// Everything one session removal changes, committed atomically: the sessions deleted, the
/// grants revoked and the notifications enqueued, so a crash loses no notification.
#[derive(Debug, Clone, Default)]
pub struct SessionRemoval {
    /// Keys of the sessions to delete.
    pub session_keys: Vec<String>,
    /// Grants to revoke (each filter must be non-empty).
    pub grant_filters: Vec<super::PersistedGrantFilter>,
    /// Notifications to enqueue.
    pub messages: Vec<OutboxMessage>,
}
