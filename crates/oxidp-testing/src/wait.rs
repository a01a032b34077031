//! Waiting for the thing, not for time: a test polls what it expects (a store, a receiver,
//! a page) until it holds, and fails with a message at a deadline. Never `sleep` and then
//! assert that something happened, or that nothing did.

use std::future::Future;
use std::time::Duration;

/// How often a condition is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls `check` until it yields a value, failing the test with `what` after `limit`.
pub async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_value_once_the_condition_holds() {
        let polls = AtomicU32::new(0);
        let value = wait_until("three polls", Duration::from_secs(5), || async {
            (polls.fetch_add(1, Ordering::SeqCst) == 2).then_some("done")
        })
        .await;
        assert_eq!(value, "done");
        assert_eq!(polls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn fails_at_the_deadline() {
        wait_until("the impossible", Duration::from_millis(50), || async {
            None::<()>
        })
        .await;
    }
}
