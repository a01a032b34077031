//! Single flight: while one caller runs a fetch, every other caller awaits that same fetch
//! and gets a clone of its result, success or failure. Nothing is remembered once it is done;
//! caching is the caller's business (store the result before returning it from the fetch, so
//! that a caller arriving just after finds it).
//!
//! If the leading caller is cancelled (its future dropped), the waiters notice the closed
//! channel and one of them leads a new fetch.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::watch;

pub(crate) struct SingleFlight<T> {
    in_flight: Mutex<Option<watch::Receiver<Option<T>>>>,
}

enum Role<T> {
    Lead(watch::Sender<Option<T>>),
    Wait(watch::Receiver<Option<T>>),
}

/// Empties the in-flight slot when the leader finishes or is dropped.
struct Vacate<'a, T>(&'a Mutex<Option<watch::Receiver<Option<T>>>>);

impl<T> Drop for Vacate<'_, T> {
    fn drop(&mut self) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

impl<T: Clone> SingleFlight<T> {
    pub(crate) fn new() -> Self {
        Self {
            in_flight: Mutex::new(None),
        }
    }

    /// Runs `fetch`, or joins the run already in flight.
    pub(crate) async fn run<F, Fut>(&self, fetch: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = T>,
    {
        loop {
            let role = {
                let mut slot = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match slot.as_ref() {
                    Some(receiver) => Role::Wait(receiver.clone()),
                    None => {
                        let (sender, receiver) = watch::channel(None);
                        *slot = Some(receiver);
                        Role::Lead(sender)
                    }
                }
            };
            match role {
                Role::Lead(sender) => {
                    let _vacate = Vacate(&self.in_flight);
                    let result = fetch().await;
                    sender.send_replace(Some(result.clone()));
                    return result;
                }
                Role::Wait(mut receiver) => {
                    if let Ok(done) = receiver.wait_for(Option::is_some).await
                        && let Some(result) = done.as_ref()
                    {
                        return result.clone();
                    }
                    // The leader was dropped before it finished: lead or join a new run.
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flight = Arc::new(SingleFlight::<usize>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (flight, runs) = (flight.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                flight
                    .run(|| async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_later_call_runs_again() {
        let flight = SingleFlight::<u8>::new();
        assert_eq!(flight.run(|| async { 1 }).await, 1);
        assert_eq!(flight.run(|| async { 2 }).await, 2);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let flight = Arc::new(SingleFlight::<u8>::new());
        let leader = {
            let flight = flight.clone();
            tokio::spawn(async move {
                flight
                    .run(|| async {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let flight = flight.clone();
            tokio::spawn(async move { flight.run(|| async { 2 }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        assert_eq!(waiter.await.unwrap(), 2);
    }
}
