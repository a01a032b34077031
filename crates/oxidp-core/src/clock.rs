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

/// The longest span any expiry is set ahead of "now": 100 years. A configured or
/// client-supplied lifetime beyond it means "forever" in practice, and capping keeps every
/// timestamp within what the stores and JWT `exp` claims can hold.
pub const MAX_SPAN: Duration = Duration::days(36_500);

/// A configured duration as a `time::Duration`, capped at [`MAX_SPAN`] so that adding it to
/// "now" can never overflow (`std::time::Duration` reaches far beyond what `time` can hold).
pub fn capped(duration: std::time::Duration) -> Duration {
    Duration::try_from(duration)
        .unwrap_or(Duration::MAX)
        .min(MAX_SPAN)
}

/// `now + duration` for a configured or client-supplied duration: never panics, whatever the
/// duration. The span is capped at [`MAX_SPAN`], and the sum saturates at the largest
/// representable instant (`OffsetDateTime + Duration` panics on overflow).
pub fn later(now: OffsetDateTime, duration: std::time::Duration) -> OffsetDateTime {
    now.saturating_add(capped(duration))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn later_adds_an_ordinary_duration() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(
            later(now, std::time::Duration::from_secs(3600)),
            datetime!(2026-01-01 1:00 UTC)
        );
    }

    #[test]
    fn later_caps_an_absurd_duration_at_the_max_span() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(later(now, std::time::Duration::MAX), now + MAX_SPAN);
        assert_eq!(
            later(now, std::time::Duration::from_secs(u64::MAX / 2)),
            now + MAX_SPAN
        );
    }

    #[test]
    fn later_saturates_instead_of_overflowing_near_the_end_of_time() {
        let end = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(later(end, std::time::Duration::from_secs(3600)), end);
    }
}
