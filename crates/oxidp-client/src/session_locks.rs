//! One async lock per session key, so that a session's refresh, sign-out and token replacement
//! never overlap (its refresh token is one-time use: two refreshes at once would make the second
//! fail with `invalid_grant`). Entries hold the lock weakly and are pruned as the map grows, so
//! ended sessions do not accumulate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OwnedMutexGuard;

type Lock = tokio::sync::Mutex<()>;

const FIRST_PRUNE: usize = 64;

pub(crate) struct SessionLocks {
    map: Mutex<Map>,
}

struct Map {
    locks: HashMap<String, Weak<Lock>>,
    prune_at: usize,
}

impl SessionLocks {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(Map {
                locks: HashMap::new(),
                prune_at: FIRST_PRUNE,
            }),
        }
    }

    /// Waits for, then holds, the lock of `key`.
    pub(crate) async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            match map.locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    if map.locks.len() >= map.prune_at {
                        map.locks.retain(|_, lock| lock.strong_count() > 0);
                        map.prune_at = FIRST_PRUNE.max(map.locks.len() * 2);
                    }
                    let lock = Arc::new(Lock::new(()));
                    map.locks.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .locks
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_key_is_held_by_one_caller_at_a_time() {
        let locks = SessionLocks::new();
        let held = locks.lock("a").await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), locks.lock("a")).await;
        assert!(waiting.is_err(), "the second caller must wait");
        let _other = tokio::time::timeout(Duration::from_millis(50), locks.lock("b"))
            .await
            .expect("another key is not blocked");
        drop(held);
        let _again = tokio::time::timeout(Duration::from_millis(50), locks.lock("a"))
            .await
            .expect("released");
    }

    #[tokio::test]
    async fn released_locks_are_pruned() {
        let locks = SessionLocks::new();
        for i in 0..1000 {
            drop(locks.lock(&format!("session-{i}")).await);
        }
        assert!(locks.len() <= FIRST_PRUNE + 1, "{} entries", locks.len());
    }
}
