//! The back-channel logout outbox: notifications written in the same transaction as the
//! removal that caused them, delivered (and retried) by a background worker.

use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why a session ended, as told to clients in the logout token's `logout_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One back-channel logout notification for one client.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Unique id (UUIDv7: time-ordered).
    pub id: Uuid,
    /// The client notified.
    pub client_id: String,
    /// Its `backchannel_logout_uri`.
    pub endpoint: String,
    /// Empty: the delivery worker signs a fresh logout token for each attempt. (Messages written
    /// by earlier versions carry the token signed then; it expired two minutes later and is
    /// never sent.)
    pub logout_token: String,
    /// The session's subject.
    pub subject_id: String,
    /// The session id.
    pub session_id: String,
    /// Why the session ended.
    pub reason: LogoutReason,
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
            .field("client_id", &self.client_id)
            .field("session_id", &self.session_id)
            .field("reason", &self.reason)
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
