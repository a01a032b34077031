//! The outbox delivery worker: drains the durable outbox (back-channel logout notifications
//! today; other kinds of messages travel the same way), POSTs each message's request (10 s
//! timeout by default), records every attempt, and retries failures with exponential backoff
//! until the retry period has passed. Work is claimed with a lease, so several instances on one
//! database never deliver a message twice at the same time, and a message claimed by an
//! instance that dies is retried when its lease ends.
//!
//! Every decision is the core's [`OutboxDeliveryService`]'s (what is due, what an attempt sends,
//! what an answer means, what is recorded); this module is only the HTTP client and the loop
//! around it. The loop survives panics: each message is attempted in a task of its own (a panic
//! there is recorded as a failed attempt of that message), and each round runs as a task of its
//! own (a panic there ends the round, not the worker).

use oxidp_core::model::{AttemptOutcome, DeliveryStatus, OutboxMessage};
use oxidp_core::services::{DeliveryRequest, IdentityServer, OutboxDeliveryService};
use oxidp_core::store::StoreError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often the outbox is polled when it was empty (or unavailable).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Sends one prepared request and answers the receiver's HTTP status, or what went wrong when
/// there was no answer (without secrets).
pub(crate) trait Transport: Send + Sync + 'static {
    /// Sends `request`.
    fn send(&self, request: DeliveryRequest) -> impl Future<Output = Result<u16, String>> + Send;
}

/// The real transport: form POSTs, redirects not followed.
struct Http(reqwest::Client);

impl Transport for Http {
    async fn send(&self, request: DeliveryRequest) -> Result<u16, String> {
        let mut post = self.0.post(&request.endpoint).form(&request.form);
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        match post.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(describe(&error)),
        }
    }
}

/// Runs the delivery loop until the task is aborted.
pub async fn deliver_forever(idp: IdentityServer) {
    let http = match reqwest::Client::builder()
        .timeout(idp.outbox.attempt_timeout())
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "cannot build the outbox HTTP client; messages stay queued");
            return;
        }
    };
    run(idp.outbox.clone(), Arc::new(Http(http))).await;
}

/// The delivery loop over `transport`.
pub(crate) async fn run<T: Transport>(service: Arc<OutboxDeliveryService>, transport: Arc<T>) {
    loop {
        // Aborted with this loop (at shutdown) through the guard.
        let mut round = AbortOnDrop(tokio::spawn(deliver_due(
            service.clone(),
            transport.clone(),
        )));
        match (&mut round.0).await {
            Ok(Ok(0)) => tokio::time::sleep(IDLE_POLL).await,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "outbox unavailable");
                tokio::time::sleep(IDLE_POLL).await;
            }
            Err(error) => {
                // Its claimed messages are retried once their lease lapses.
                tracing::error!(%error, "an outbox delivery round failed; delivery goes on");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Delivers the messages due now; returns how many were attempted.
async fn deliver_due<T: Transport>(
    service: Arc<OutboxDeliveryService>,
    transport: Arc<T>,
) -> Result<usize, StoreError> {
    let due = service.claim_due().await?;
    let count = due.len();
    let mut attempts = tokio::task::JoinSet::new();
    let mut in_flight = std::collections::HashMap::with_capacity(count);
    for message in due {
        let (service, transport, task_message) =
            (service.clone(), transport.clone(), message.clone());
        let task =
            attempts.spawn(async move { deliver_one(&service, &*transport, task_message).await });
        in_flight.insert(task.id(), message);
    }
    let mut outcomes = Vec::with_capacity(count);
    while let Some(result) = attempts.join_next_with_id().await {
        match result {
            Ok((_, outcome)) => outcomes.push(outcome),
            Err(error) => {
                // Recorded as a failed attempt, so that a message whose delivery always
                // fails this way still reaches its retry limit instead of looping forever.
                tracing::error!(%error, "an outbox delivery task failed");
                if let Some(message) = in_flight.get(&error.id()) {
                    outcomes.push(service.outcome_of_failure(message, "internal error".to_owned()));
                }
            }
        }
    }
    // One commit for the batch. Should the process die before it, the batch is delivered
    // again once its lease lapses: at least once, as receivers are told to expect.
    service.record(&outcomes).await?;
    count_outcomes(&outcomes);
    Ok(count)
}

async fn deliver_one<T: Transport>(
    service: &OutboxDeliveryService,
    transport: &T,
    message: OutboxMessage,
) -> AttemptOutcome {
    // A request that cannot be prepared (no signing key) is a failed attempt, retried like any
    // other.
    let answer = match service.prepare(&message).await {
        Ok(request) => transport.send(request).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(status) => service.outcome_of_answer(&message, status),
        Err(error) => service.outcome_of_failure(&message, error),
    }
}

fn count_outcomes(outcomes: &[AttemptOutcome]) {
    for outcome in outcomes {
        // The metric names predate the other kinds; every message so far is a back-channel
        // logout.
        match outcome.status {
            DeliveryStatus::Delivered => {
                metrics::counter!("oxidp_backchannel_logout_delivered_total").increment(1);
            }
            DeliveryStatus::Failed => {
                metrics::counter!("oxidp_backchannel_logout_failed_total").increment(1);
            }
            DeliveryStatus::Pending => {}
        }
    }
}

/// The kind of failure, without the URL's query or anything the receiver sent back.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}

#[cfg(test)]
#[path = "backchannel/tests.rs"]
mod tests;
