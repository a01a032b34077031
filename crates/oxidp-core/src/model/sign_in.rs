//! Counters of failed sign-ins, kept in the store so that every instance on one database sees
//! the same counts (see `services::login` for the policy that reads them).

use time::OffsetDateTime;

/// The failed sign-ins recorded under one key (a user and an address, or an address alone;
/// the key is a hash, so the store holds neither usernames nor addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInFailures {
    /// Failures since the counter was created (or last expired).
    pub failures: u32,
    /// When the latest failure happened; the wait before the next attempt counts from here.
    pub last_failure: OffsetDateTime,
    /// When the counter is forgotten (an expired counter counts as none).
    pub expires: OffsetDateTime,
}

impl SignInFailures {
    /// The counter as it counts at `now`: `None` once it has expired.
    pub fn live_at(self, now: OffsetDateTime) -> Option<Self> {
        (self.expires > now).then_some(self)
    }
}
