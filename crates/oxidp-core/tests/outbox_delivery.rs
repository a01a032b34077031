//! What a delivery attempt does to an outbox message (delivered, retried after the backoff, or
//! given up once the next attempt would fall past the message's retry period), what counts as
//! delivered (a 2xx answer, nothing else), and that no configured duration, however absurd,
//! makes enqueueing, claiming or retrying panic.

use oxidp_core::clock::{Clock, ManualClock};
use oxidp_core::model::{
    BackchannelLogout, Client, DeliveryStatus, LogoutReason, OutboxMessage, OutboxPayload,
};
use oxidp_core::options::{BackchannelLogoutOptions, IdentityServerOptions};
use oxidp_core::services::{EndedSession, IdentityServer};
use oxidp_core::store::Stores;
use std::sync::Arc;
use std::time::Duration;
use time::Duration as Span;
use time::PrimitiveDateTime;
use uuid::Uuid;

fn server_with(clock: Arc<ManualClock>, delivery: BackchannelLogoutOptions) -> IdentityServer {
    let mut options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    options.backchannel_logout = delivery;
    IdentityServer::new(options, Stores::in_memory(), clock)
}

fn server(clock: Arc<ManualClock>) -> IdentityServer {
    server_with(
        clock,
        BackchannelLogoutOptions {
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
            ..BackchannelLogoutOptions::default()
        },
    )
}

fn message(clock: &ManualClock, attempts: u32, give_up_in: Span) -> OutboxMessage {
    let now = clock.now();
    OutboxMessage {
        id: Uuid::now_v7(),
        client_id: "web".to_owned(),
        endpoint: "https://rp.example/logout".to_owned(),
        payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: "alice".to_owned(),
            session_id: "sid".to_owned(),
            reason: LogoutReason::SessionExpiration,
        }),
        created: now,
        next_attempt: now,
        attempts,
        give_up_after: now + give_up_in,
        status: DeliveryStatus::Pending,
    }
}

/// The last instant `time` represents: where every capped `now + duration` ends.
fn end_of_time() -> time::OffsetDateTime {
    PrimitiveDateTime::MAX.assume_utc()
}

#[test]
fn a_2xx_answer_ends_the_message() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    for status in [200, 202, 204] {
        let message = message(&clock, 0, Span::DAY);
        let outcome = idp.outbox.outcome_of_answer(&message, status);
        assert_eq!(outcome.status, DeliveryStatus::Delivered, "HTTP {status}");
        assert_eq!(outcome.next_attempt, clock.now());
        assert_eq!(outcome.attempt.message_id, message.id);
        assert_eq!(outcome.attempt.http_status, Some(status));
        assert_eq!(outcome.attempt.error, None);
    }
}

#[test]
fn any_other_answer_is_a_failed_attempt() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    for status in [500, 503, 302, 400, 404, 100] {
        let outcome = idp
            .outbox
            .outcome_of_answer(&message(&clock, 0, Span::DAY), status);
        assert_eq!(outcome.status, DeliveryStatus::Pending, "HTTP {status}");
        assert_eq!(outcome.next_attempt, clock.now() + Span::seconds(5));
        assert_eq!(outcome.attempt.http_status, Some(status));
        assert_eq!(
            outcome.attempt.error.as_deref(),
            Some(format!("HTTP {status}").as_str())
        );
    }
}

#[test]
fn a_failure_is_retried_after_a_doubling_backoff() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    let first = idp
        .outbox
        .outcome_of_answer(&message(&clock, 0, Span::DAY), 503);
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.next_attempt, clock.now() + Span::seconds(5));
    let third = idp
        .outbox
        .outcome_of_failure(&message(&clock, 2, Span::DAY), "timeout".to_owned());
    assert_eq!(third.next_attempt, clock.now() + Span::seconds(20));
    assert_eq!(third.attempt.error.as_deref(), Some("timeout"));
    assert_eq!(third.attempt.http_status, None);
}

#[test]
fn a_failure_whose_retry_would_fall_past_the_retry_period_gives_up() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    let message = message(&clock, 0, Span::seconds(4));
    let outcome = idp
        .outbox
        .outcome_of_failure(&message, "timed out".to_owned());
    assert_eq!(outcome.status, DeliveryStatus::Failed);
    assert_eq!(outcome.next_attempt, clock.now());
}

#[test]
fn an_absurd_backoff_gives_up_instead_of_overflowing() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server_with(
        clock.clone(),
        BackchannelLogoutOptions {
            initial_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            ..BackchannelLogoutOptions::default()
        },
    );
    let outcome = idp
        .outbox
        .outcome_of_failure(&message(&clock, u32::MAX, Span::DAY), "timeout".to_owned());
    assert_eq!(outcome.status, DeliveryStatus::Failed);
    assert_eq!(outcome.next_attempt, clock.now());

    // A message that never gives up is retried at the end of time, not at an overflow.
    let mut forever = message(&clock, 3, Span::DAY);
    forever.give_up_after = end_of_time();
    let outcome = idp
        .outbox
        .outcome_of_failure(&forever, "timeout".to_owned());
    assert_eq!(outcome.status, DeliveryStatus::Pending);
    assert_eq!(outcome.next_attempt, end_of_time());
}

#[tokio::test]
async fn an_absurd_retry_period_is_capped_when_messages_are_written() {
    let clock = Arc::new(ManualClock::starting_now());
    let stores = Stores::in_memory();
    let mut client = Client::new("web");
    client.backchannel_logout_uri = Some("https://rp.example/logout".to_owned());
    stores
        .clients
        .upsert_client(&client)
        .await
        .expect("upsert_client");
    let mut options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    options.backchannel_logout.retry_period = Duration::MAX;
    let idp = IdentityServer::new(options, stores, clock);
    let messages = idp
        .backchannel
        .messages_for(
            &EndedSession {
                subject_id: "alice",
                session_id: "sid",
                client_ids: &["web".to_owned()],
            },
            LogoutReason::UserLogout,
            None,
        )
        .await
        .expect("messages_for");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].give_up_after, end_of_time());
}

#[tokio::test]
async fn an_absurd_attempt_timeout_is_capped_when_messages_are_claimed() {
    let clock = Arc::new(ManualClock::starting_now());
    let stores = Stores::in_memory();
    let mut options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    options.backchannel_logout.timeout = Duration::MAX;
    let idp = IdentityServer::new(options, stores.clone(), clock.clone());
    let due = message(&clock, 0, Span::DAY);
    stores
        .outbox
        .enqueue(std::slice::from_ref(&due))
        .await
        .expect("enqueue");
    let claimed = idp.outbox.claim_due().await.expect("claim_due");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].next_attempt,
        end_of_time(),
        "leased to the end of time"
    );
}
