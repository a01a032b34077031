//! Delivery of outbox messages, whatever their kind: which messages are due, what request an
//! attempt sends, what its answer does to the message, and recording it.
//!
//! The server's delivery worker is only the HTTP client around this service: it claims a
//! batch ([`OutboxDeliveryService::claim_due`]), asks for each message's request
//! ([`OutboxDeliveryService::prepare`], the one step that differs by kind), sends it, turns the
//! answer into an outcome ([`OutboxDeliveryService::outcome_of_answer`] or
//! [`OutboxDeliveryService::outcome_of_failure`]) and records the batch
//! ([`OutboxDeliveryService::record`]). Delivery is at least once: the message id is the same
//! at every attempt and travels in the [`MESSAGE_ID_HEADER`] of every request (back-channel
//! logout tokens also carry it as `jti`), so a receiver deduplicates on it.

use super::{BackchannelLogoutService, Context};
use crate::model::{AttemptOutcome, DeliveryAttempt, DeliveryStatus, OutboxMessage, OutboxPayload};
use crate::store::StoreResult;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The header that carries the message id, the same at every attempt of one message.
pub const MESSAGE_ID_HEADER: &str = "Oxidp-Message-Id";

/// Messages claimed per round.
const BATCH: u32 = 100;

/// The HTTP request one attempt sends: a form POST to `endpoint`. Core has no HTTP client; the
/// server's worker sends it as given.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryRequest {
    /// Where it is POSTed.
    pub endpoint: String,
    /// The form fields (for back-channel logout: `logout_token`).
    pub form: Vec<(&'static str, String)>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl fmt::Debug for DeliveryRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Form values are tokens: only their names are shown.
        let fields: Vec<&str> = self.form.iter().map(|(name, _)| *name).collect();
        f.debug_struct("DeliveryRequest")
            .field("fields", &fields)
            .finish_non_exhaustive()
    }
}

/// Claims, prepares and records deliveries of outbox messages.
#[derive(Debug)]
pub struct OutboxDeliveryService {
    ctx: Arc<Context>,
    backchannel: Arc<BackchannelLogoutService>,
}

impl OutboxDeliveryService {
    pub(crate) fn new(ctx: Arc<Context>, backchannel: Arc<BackchannelLogoutService>) -> Self {
        Self { ctx, backchannel }
    }

    /// The time limit of one attempt.
    pub fn attempt_timeout(&self) -> Duration {
        self.ctx.options.backchannel_logout.timeout
    }

    /// Claims up to a batch of messages due now for this worker. Each is leased for three
    /// attempt timeouts: should this worker die meanwhile, another retries the message once
    /// the lease has passed.
    pub async fn claim_due(&self) -> StoreResult<Vec<OutboxMessage>> {
        let now = self.ctx.clock.now();
        let lease = self.attempt_timeout().saturating_mul(3);
        self.ctx
            .stores
            .outbox
            .claim_due(now, later(now, lease), BATCH)
            .await
    }

    /// The request an attempt at `message` sends now, or why there is none (a failed attempt,
    /// retried like any other). Every request carries the message id in the
    /// [`MESSAGE_ID_HEADER`], the same at each attempt, for receivers to deduplicate on. For
    /// back-channel logout a fresh logout token is signed at each attempt (its `jti` is the
    /// message id too): a token lives two minutes, retries much longer.
    pub async fn prepare(&self, message: &OutboxMessage) -> Result<DeliveryRequest, String> {
        let form = match &message.payload {
            OutboxPayload::BackchannelLogout(logout) => {
                let token = self
                    .backchannel
                    .logout_token(
                        &message.client_id,
                        &logout.subject_id,
                        &logout.session_id,
                        logout.reason,
                        &message.id.to_string(),
                    )
                    .await
                    .map_err(|_| "no logout token could be signed".to_owned())?;
                vec![("logout_token", token)]
            }
        };
        Ok(DeliveryRequest {
            endpoint: message.endpoint.clone(),
            form,
            headers: vec![(MESSAGE_ID_HEADER, message.id.to_string())],
        })
    }

    /// What the receiver's answer does to `message`: a 2xx status delivers it; any other
    /// status (a 5xx, a redirect, a 4xx), with or without a body, is a failed attempt.
    pub fn outcome_of_answer(&self, message: &OutboxMessage, http_status: u16) -> AttemptOutcome {
        let error = (!(200..300).contains(&http_status)).then(|| format!("HTTP {http_status}"));
        self.outcome(message, Some(http_status), error)
    }

    /// A failed attempt without an answer (`error` says what went wrong, without secrets: a
    /// timeout, a refused connection, a request that could not be prepared, a task that
    /// panicked).
    pub fn outcome_of_failure(&self, message: &OutboxMessage, error: String) -> AttemptOutcome {
        self.outcome(message, None, Some(error))
    }

    /// Records a batch of outcomes in one commit. Should the process die before it, the batch
    /// is attempted again once its lease lapses: at least once.
    pub async fn record(&self, outcomes: &[AttemptOutcome]) -> StoreResult<()> {
        self.ctx.stores.outbox.record_attempts(outcomes).await
    }

    /// Delivered when `error` is `None`; otherwise due again after the backoff, or, once that
    /// would fall past the message's retry period, given up (failed).
    fn outcome(
        &self,
        message: &OutboxMessage,
        http_status: Option<u16>,
        error: Option<String>,
    ) -> AttemptOutcome {
        let now = self.ctx.clock.now();
        let options = &self.ctx.options.backchannel_logout;
        let attempts = message.attempts.saturating_add(1);
        let kind = message.payload.kind().as_str();
        let (status, next_attempt) = if error.is_none() {
            (DeliveryStatus::Delivered, now)
        } else {
            let next = later(now, options.backoff(attempts));
            if next > message.give_up_after {
                tracing::warn!(message_id = %message.id, kind, client_id = %message.client_id, attempts, "outbox delivery given up");
                (DeliveryStatus::Failed, now)
            } else {
                tracing::info!(message_id = %message.id, kind, client_id = %message.client_id, attempts, error = error.as_deref(), "outbox delivery failed; will retry");
                (DeliveryStatus::Pending, next)
            }
        };
        AttemptOutcome {
            attempt: DeliveryAttempt {
                message_id: message.id,
                at: now,
                http_status,
                error,
            },
            status,
            next_attempt,
        }
    }
}

/// `now + delay`, capped at the last representable instant, so that no configured duration
/// (a retry period, a backoff, a lease), however absurd, can overflow.
pub(crate) fn later(now: OffsetDateTime, delay: Duration) -> OffsetDateTime {
    time::Duration::try_from(delay)
        .ok()
        .and_then(|delay| now.checked_add(delay))
        .unwrap_or_else(|| PrimitiveDateTime::MAX.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_adds_ordinary_delays_exactly() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            later(now, Duration::from_secs(90)),
            now + time::Duration::seconds(90)
        );
    }

    #[test]
    fn later_caps_delays_that_would_overflow() {
        let cap = PrimitiveDateTime::MAX.assume_utc();
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(later(now, Duration::MAX), cap, "beyond time::Duration");
        assert_eq!(
            later(now, Duration::from_secs(400 * 365 * 24 * 3600 * 100)),
            cap,
            "a time::Duration past the last date"
        );
        assert_eq!(
            later(cap, Duration::from_secs(1)),
            cap,
            "from the last instant"
        );
    }
}
