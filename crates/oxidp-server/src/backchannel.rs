//! The back-channel logout delivery worker: drains the durable outbox, POSTs each logout token
//! (`logout_token` form field, 10 s timeout by default) to the client, records every attempt,
//! and retries failures with exponential backoff until the retry period has passed. Work is
//! claimed with a lease, so several instances on one database never deliver a message twice at
//! the same time, and a message claimed by an instance that dies is retried when its lease ends.

use oxidp_core::model::{AttemptOutcome, DeliveryStatus, OutboxMessage};
use oxidp_core::services::IdentityServer;
use std::time::Duration;

/// Messages claimed per round.
const BATCH: u32 = 100;
/// How often the outbox is polled when it was empty.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs the delivery loop until the task is aborted.
pub async fn deliver_forever(idp: IdentityServer) {
    let options = idp.options().backchannel_logout.clone();
    let http = match reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "cannot build the back-channel HTTP client; logout notifications stay queued");
            return;
        }
    };
    loop {
        match deliver_due(&idp, &http).await {
            Ok(0) => tokio::time::sleep(IDLE_POLL).await,
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "back-channel outbox unavailable");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Delivers the messages due now; returns how many were attempted.
pub async fn deliver_due(
    idp: &IdentityServer,
    http: &reqwest::Client,
) -> Result<usize, oxidp_core::store::StoreError> {
    let due = idp.backchannel.claim_due(BATCH).await?;
    let count = due.len();
    let mut attempts = tokio::task::JoinSet::new();
    let mut in_flight = std::collections::HashMap::with_capacity(count);
    for message in due {
        let (idp, http, task_message) = (idp.clone(), http.clone(), message.clone());
        let task = attempts.spawn(async move { deliver_one(&idp, &http, task_message).await });
        in_flight.insert(task.id(), message);
    }
    let mut outcomes = Vec::with_capacity(count);
    while let Some(result) = attempts.join_next_with_id().await {
        match result {
            Ok((_, outcome)) => outcomes.push(outcome),
            Err(error) => {
                // Recorded as a failed attempt, so that a message whose delivery always
                // fails this way still reaches its retry limit instead of looping forever.
                tracing::error!(%error, "a back-channel delivery task failed");
                if let Some(message) = in_flight.get(&error.id()) {
                    let error = Some("internal error".to_owned());
                    outcomes.push(idp.backchannel.outcome_of(message, None, error));
                }
            }
        }
    }
    // One commit for the batch. Should the process die before it, the batch is delivered
    // again once its lease lapses: at least once, as the spec expects of receivers.
    idp.backchannel.record_attempts(&outcomes).await?;
    for outcome in &outcomes {
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
    Ok(count)
}

async fn deliver_one(
    idp: &IdentityServer,
    http: &reqwest::Client,
    message: OutboxMessage,
) -> AttemptOutcome {
    // Each attempt gets a fresh token: logout tokens live two minutes, retries much longer.
    // A signing failure is a failed attempt, retried like any other.
    let token = idp
        .backchannel
        .logout_token(
            &message.client_id,
            &message.subject_id,
            &message.session_id,
            message.reason,
            &message.id.to_string(),
        )
        .await
        .ok();
    let (http_status, error) = match token {
        Some(token) => {
            let outcome = http
                .post(&message.endpoint)
                .form(&[("logout_token", token.as_str())])
                .send()
                .await;
            match &outcome {
                Ok(response) => (
                    Some(response.status().as_u16()),
                    (!response.status().is_success())
                        .then(|| format!("HTTP {}", response.status().as_u16())),
                ),
                Err(error) => (None, Some(describe(error))),
            }
        }
        None => (None, Some("no logout token could be signed".to_owned())),
    };
    idp.backchannel.outcome_of(&message, http_status, error)
}

/// The kind of failure, without the URL's query or anything the client sent back.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}
