//! Time comes from an injected [`Clock`], so expiry and refresh-ahead logic can be tested
//! without sleeping.

use time::OffsetDateTime;

/// The source of "now" for expiry decisions.
///
/// ```
/// use oxidp_client::{Clock, SystemClock};
/// use std::sync::Arc;
///
/// // A clock frozen at one instant, as a test would use.
/// struct Frozen(time::OffsetDateTime);
/// impl Clock for Frozen {
///     fn now(&self) -> time::OffsetDateTime {
///         self.0
///     }
/// }
///
/// let clock: Arc<dyn Clock> = Arc::new(Frozen(time::OffsetDateTime::UNIX_EPOCH));
/// assert_eq!(clock.now().unix_timestamp(), 0);
/// assert!(SystemClock.now().unix_timestamp() > 0);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock; the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
