//! Time as an injected dependency, so expiry, rotation and sliding logic are tested without
//! sleeping.

use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// The source of "now" for every time-dependent rule.
pub trait Clock: Send + Sync + 'static {
    /// The current instant (UTC).
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, truncated to whole seconds: every store keeps timestamps in seconds, so
/// a value read back equals the value written.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock stopped at `start` (sub-second precision dropped, as the stores keep seconds).
    pub fn new(start: OffsetDateTime) -> Self {
        let start = start.replace_nanosecond(0).unwrap_or(start);
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock stopped at the current system time.
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A configured duration as a `time::Duration`, capped at 100 years so that adding it to "now"
/// can never overflow (a lifetime of "a million years" means "forever" in practice).
pub fn capped(duration: std::time::Duration) -> Duration {
    Duration::try_from(duration)
        .unwrap_or(Duration::MAX)
        .min(Duration::days(36_500))
}
