//! What a delivery attempt does to an outbox message: delivered, retried after the backoff, or
//! given up once the next attempt would fall past the message's retry period.

use oxidp_core::clock::{Clock, ManualClock};
use oxidp_core::model::{DeliveryStatus, LogoutReason, OutboxMessage};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::IdentityServer;
use oxidp_core::store::Stores;
use std::sync::Arc;
use std::time::Duration;
use time::Duration as Span;
use uuid::Uuid;

fn server(clock: Arc<ManualClock>) -> IdentityServer {
    let mut options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    options.backchannel_logout.initial_backoff = Duration::from_secs(5);
    options.backchannel_logout.max_backoff = Duration::from_secs(3600);
    IdentityServer::new(options, Stores::in_memory(), clock)
}

fn message(clock: &ManualClock, attempts: u32, give_up_in: Span) -> OutboxMessage {
    let now = clock.now();
    OutboxMessage {
        id: Uuid::now_v7(),
        client_id: "web".to_owned(),
        endpoint: "https://rp.example/logout".to_owned(),
        logout_token: String::new(),
        subject_id: "alice".to_owned(),
        session_id: "sid".to_owned(),
        reason: LogoutReason::SessionExpiration,
        created: now,
        next_attempt: now,
        attempts,
        give_up_after: now + give_up_in,
        status: DeliveryStatus::Pending,
    }
}

#[test]
fn a_delivery_ends_the_message() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    let message = message(&clock, 0, Span::DAY);
    let outcome = idp.backchannel.outcome_of(&message, Some(200), None);
    assert_eq!(outcome.status, DeliveryStatus::Delivered);
    assert_eq!(outcome.next_attempt, clock.now());
    assert_eq!(outcome.attempt.message_id, message.id);
    assert_eq!(outcome.attempt.http_status, Some(200));
}

#[test]
fn a_failure_is_retried_after_a_doubling_backoff() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    let error = || Some("HTTP 503".to_owned());
    let first = idp
        .backchannel
        .outcome_of(&message(&clock, 0, Span::DAY), Some(503), error());
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.next_attempt, clock.now() + Span::seconds(5));
    let third = idp
        .backchannel
        .outcome_of(&message(&clock, 2, Span::DAY), Some(503), error());
    assert_eq!(third.next_attempt, clock.now() + Span::seconds(20));
    assert_eq!(third.attempt.error.as_deref(), Some("HTTP 503"));
}

#[test]
fn a_failure_whose_retry_would_fall_past_the_retry_period_gives_up() {
    let clock = Arc::new(ManualClock::starting_now());
    let idp = server(clock.clone());
    let message = message(&clock, 0, Span::seconds(4));
    let outcome = idp
        .backchannel
        .outcome_of(&message, None, Some("timed out".to_owned()));
    assert_eq!(outcome.status, DeliveryStatus::Failed);
    assert_eq!(outcome.next_attempt, clock.now());
}
