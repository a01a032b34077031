//! How the SQL stores keep `total_count` of a session query cheap on large tables.
//!
//! Counting the sessions a filter matches is a scan of every matching index entry: fine for a
//! user's few sessions, 100 ms and more for a filter that matches hundreds of thousands of them
//! (an empty filter on a busy server, a common display-name prefix). So a query first counts at
//! most [`SessionCountPolicy::exact_up_to`] + 1 matching rows. Up to that bound every number
//! of the page (total, page number, flags) is exact and live. Above it the filter is *large*:
//! its total is counted once and reused for [`SessionCountPolicy::reuse_for`] (a few sessions
//! more or less among thousands is not worth a scan per page), the page number comes from the
//! results token, and the flags come from one extra row and one index probe. Either way a page
//! costs the same at page 1 and at page 10,000.

use oxidp_core::model::SessionQuery;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many remembered totals a store keeps at most; past that it forgets them all (distinct
/// large filters are few: the admin page's and API's current ones).
const MAX_REMEMBERED: usize = 1_024;

/// When a session query's counts are exact and how long a large filter's total is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCountPolicy {
    /// Filters matching at most this many sessions get exact, live counts on every page.
    pub exact_up_to: u64,
    /// How long the total of a larger filter is reused before it is counted again.
    pub reuse_for: Duration,
}

impl Default for SessionCountPolicy {
    fn default() -> Self {
        Self {
            exact_up_to: 5_000,
            reuse_for: Duration::from_secs(10),
        }
    }
}

/// A query's filter, normalized the way the SQL conditions read it (empty means unset).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FilterKey {
    subject_id: Option<String>,
    session_id: Option<String>,
    display_name: Option<String>,
}

impl FilterKey {
    fn of(query: &SessionQuery) -> Self {
        let norm = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        Self {
            subject_id: norm(&query.subject_id),
            session_id: norm(&query.session_id),
            display_name: norm(&query.display_name),
        }
    }
}

/// The totals of large filters, remembered per store instance.
#[derive(Debug, Default)]
pub(crate) struct SessionCounts {
    policy: SessionCountPolicy,
    totals: Mutex<HashMap<FilterKey, (u64, Instant)>>,
}

impl SessionCounts {
    pub(crate) fn new(policy: SessionCountPolicy) -> Self {
        Self {
            policy,
            totals: Mutex::default(),
        }
    }

    /// The bound up to which counts are exact.
    pub(crate) fn exact_up_to(&self) -> u64 {
        self.policy.exact_up_to
    }

    /// The remembered total of `query`'s filter, if it is large and recent enough.
    pub(crate) fn large_total(&self, query: &SessionQuery) -> Option<u64> {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals
            .get(&FilterKey::of(query))
            .filter(|(total, counted)| {
                *total > self.policy.exact_up_to && counted.elapsed() < self.policy.reuse_for
            })
            .map(|(total, _)| *total)
    }

    /// Remembers the total of `query`'s filter, just counted.
    pub(crate) fn remember(&self, query: &SessionQuery, total: u64) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        if totals.len() >= MAX_REMEMBERED {
            totals.clear();
        }
        totals.insert(FilterKey::of(query), (total, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_name(name: &str) -> SessionQuery {
        SessionQuery {
            display_name: Some(name.to_owned()),
            ..SessionQuery::default()
        }
    }

    #[test]
    fn only_large_recent_totals_are_reused() {
        let counts = SessionCounts::new(SessionCountPolicy {
            exact_up_to: 10,
            reuse_for: Duration::from_secs(60),
        });
        counts.remember(&by_name("A"), 11);
        counts.remember(&by_name("B"), 10);
        assert_eq!(counts.large_total(&by_name("A")), Some(11));
        assert_eq!(counts.large_total(&by_name("B")), None, "not large");
        assert_eq!(counts.large_total(&by_name("C")), None, "never counted");

        let expired = SessionCounts::new(SessionCountPolicy {
            exact_up_to: 10,
            reuse_for: Duration::ZERO,
        });
        expired.remember(&by_name("A"), 11);
        assert_eq!(expired.large_total(&by_name("A")), None, "too old");
    }

    #[test]
    fn empty_filter_values_are_the_same_filter_as_unset_ones() {
        let counts = SessionCounts::new(SessionCountPolicy {
            exact_up_to: 0,
            reuse_for: Duration::from_secs(60),
        });
        counts.remember(&SessionQuery::default(), 5);
        assert_eq!(counts.large_total(&by_name("")), Some(5));
    }
}
