//! The delivery loop keeps delivering after panics: in one message's task, and in a whole round.

use super::*;
use oxidp_core::clock::ManualClock;
use oxidp_core::model::{
    BackchannelLogout, DeliveryAttempt, LogoutReason, OutboxPayload, SessionExpiration,
    SessionRemoval,
};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::store::{ExpiredSessionBatch, OutboxStore, StoreResult, Stores};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;
use uuid::Uuid;

/// Answers 200 to every request, except that it panics on an endpoint containing `panic`.
#[derive(Default)]
struct PanickyReceiver {
    received: Mutex<Vec<String>>,
}

impl Transport for PanickyReceiver {
    async fn send(&self, request: DeliveryRequest) -> Result<u16, String> {
        assert!(
            !request.endpoint.contains("panic"),
            "the receiver path panics"
        );
        self.received.lock().unwrap().push(request.endpoint);
        Ok(200)
    }
}

/// The memory outbox, whose first `claims_to_panic` claims panic.
struct PanickyOutbox {
    inner: Arc<dyn OutboxStore>,
    claims_to_panic: AtomicUsize,
}

#[async_trait::async_trait]
impl OutboxStore for PanickyOutbox {
    async fn commit_removal(&self, removal: &SessionRemoval) -> StoreResult<u64> {
        self.inner.commit_removal(removal).await
    }
    async fn commit_expirations(
        &self,
        now: OffsetDateTime,
        expirations: &[SessionExpiration],
    ) -> StoreResult<Vec<String>> {
        self.inner.commit_expirations(now, expirations).await
    }
    async fn take_expired<'a>(
        &'a self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + 'a>> {
        self.inner.take_expired(now, batch).await
    }
    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        self.inner.enqueue(messages).await
    }
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let left = self.claims_to_panic.load(Ordering::SeqCst);
        if left > 0 {
            self.claims_to_panic.store(left - 1, Ordering::SeqCst);
            panic!("the outbox store panics");
        }
        self.inner.claim_due(now, lease_until, batch).await
    }
    async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> StoreResult<()> {
        self.inner.record_attempts(outcomes).await
    }
    async fn list_messages(
        &self,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.inner.list_messages(status, limit).await
    }
    async fn list_attempts(&self, message_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>> {
        self.inner.list_attempts(message_id).await
    }
}

fn server(stores: Stores, clock: Arc<ManualClock>) -> IdentityServer {
    let options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    IdentityServer::new(options, stores, clock)
}

fn message(clock: &ManualClock, endpoint: &str) -> OutboxMessage {
    let now = clock.now();
    OutboxMessage {
        id: Uuid::now_v7(),
        client_id: "rp".to_owned(),
        endpoint: endpoint.to_owned(),
        payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: "alice".to_owned(),
            session_id: "sid".to_owned(),
            reason: LogoutReason::UserLogout,
        }),
        created: now,
        next_attempt: now,
        attempts: 0,
        give_up_after: now + time::Duration::DAY,
        status: DeliveryStatus::Pending,
    }
}

/// Waits (bounded) until `message` has reached `status` with `attempts` attempts.
async fn wait_for(stores: &Stores, message: &OutboxMessage, status: DeliveryStatus, attempts: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = stores.outbox.list_messages(status, 100).await.unwrap();
        if listed
            .iter()
            .any(|m| m.id == message.id && m.attempts == attempts)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never reached {status:?} after {attempts} attempt(s)",
            message.endpoint
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

use oxidp_core::clock::Clock as _;

#[tokio::test]
async fn a_panicking_delivery_is_a_failed_attempt_and_the_worker_keeps_delivering() {
    let clock = Arc::new(ManualClock::starting_now());
    let stores = Stores::in_memory();
    let idp = server(stores.clone(), clock.clone());
    let receiver = Arc::new(PanickyReceiver::default());
    let worker = tokio::spawn(run(idp.outbox.clone(), receiver.clone()));

    let panics = message(&clock, "https://panic.example/bcl");
    let fine = message(&clock, "https://rp.example/bcl");
    stores
        .outbox
        .enqueue(&[panics.clone(), fine.clone()])
        .await
        .unwrap();
    wait_for(&stores, &fine, DeliveryStatus::Delivered, 1).await;
    wait_for(&stores, &panics, DeliveryStatus::Pending, 1).await;
    let attempts = stores.outbox.list_attempts(panics.id).await.unwrap();
    assert_eq!(attempts[0].error.as_deref(), Some("internal error"));

    // The worker is still there: a message enqueued after the panic is delivered too.
    let later = message(&clock, "https://rp.example/later");
    stores
        .outbox
        .enqueue(std::slice::from_ref(&later))
        .await
        .unwrap();
    wait_for(&stores, &later, DeliveryStatus::Delivered, 1).await;
    assert!(!worker.is_finished());
    worker.abort();
}

#[tokio::test]
async fn a_round_that_panics_ends_that_round_and_not_the_worker() {
    let clock = Arc::new(ManualClock::starting_now());
    let mut stores = Stores::in_memory();
    stores.outbox = Arc::new(PanickyOutbox {
        inner: stores.outbox.clone(),
        claims_to_panic: AtomicUsize::new(1),
    });
    let idp = server(stores.clone(), clock.clone());
    let receiver = Arc::new(PanickyReceiver::default());
    let fine = message(&clock, "https://rp.example/bcl");
    stores
        .outbox
        .enqueue(std::slice::from_ref(&fine))
        .await
        .unwrap();

    let worker = tokio::spawn(run(idp.outbox.clone(), receiver.clone()));
    // The first claim panics; the next round claims and delivers.
    wait_for(&stores, &fine, DeliveryStatus::Delivered, 1).await;
    assert_eq!(
        receiver.received.lock().unwrap().as_slice(),
        ["https://rp.example/bcl"]
    );
    assert!(!worker.is_finished());
    worker.abort();
}
