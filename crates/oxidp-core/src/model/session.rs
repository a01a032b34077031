//! Server-side sessions: the stored form of an authentication ticket, and how to find them.

use std::fmt;
use time::OffsetDateTime;

/// A browser session kept on the server. The cookie holds only `key`; the ticket is encrypted
/// in `ticket`, and the plaintext columns exist to find, page and expire sessions.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSideSession {
    /// The random value in the cookie (256 bits, base64url). Unique.
    pub key: String,
    /// The authentication scheme (`oxidp` for the identity server's own cookie).
    pub scheme: String,
    /// The user (`sub`).
    pub subject_id: String,
    /// The session id (`sid`).
    pub session_id: String,
    /// The value of the configured display-name claim, if any (unset by default, for privacy).
    pub display_name: Option<String>,
    /// When the session was created.
    pub created: OffsetDateTime,
    /// When it was last renewed.
    pub renewed: OffsetDateTime,
    /// When it expires; `None` never expires.
    pub expires: Option<OffsetDateTime>,
    /// The data-protection envelope of the serialized ticket.
    pub ticket: Vec<u8>,
}

impl fmt::Debug for ServerSideSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a bearer credential: never in logs.
        f.debug_struct("ServerSideSession")
            .field("subject_id", &self.subject_id)
            .field("session_id", &self.session_id)
            .field("display_name", &self.display_name)
            .field("created", &self.created)
            .field("renewed", &self.renewed)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl ServerSideSession {
    /// Whether the session has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// The new expiry when a use at `now` slides the session, or `None` when it is not due
    /// (see [`renewal_due`]) or never expires.
    pub fn slid_expiry(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let expires = self.expires?;
        let window = expires - self.renewed;
        renewal_due(self.renewed, window, now).then(|| now.checked_add(window).unwrap_or(expires))
    }
}

/// The one renewal rule of sliding sessions, for browser requests and for the coordinated
/// uses of a client's tokens (refresh, userinfo, introspection) alike: a session renewed at
/// `renewed` with a lifetime of `window` is extended once half of that window has passed, so a
/// busy session costs one write per half window, never one per request.
pub fn renewal_due(renewed: OffsetDateTime, window: time::Duration, now: OffsetDateTime) -> bool {
    renewed
        .checked_add(window / 2)
        .is_some_and(|due| due <= now)
}

/// Selects sessions by subject and/or session id, both exact and AND-combined. At least one
/// must be set: an empty filter is refused rather than read as "every session".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Match this subject.
    pub subject_id: Option<String>,
    /// Match this session id.
    pub session_id: Option<String>,
}

impl SessionFilter {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self.subject_id.as_deref().is_none_or(str::is_empty)
            && self.session_id.as_deref().is_none_or(str::is_empty)
    }

    /// Whether `session` satisfies the filter (the reference semantics every store follows).
    pub fn matches(&self, session: &ServerSideSession) -> bool {
        self.subject_id
            .as_deref()
            .is_none_or(|s| s.is_empty() || session.subject_id == s)
            && self
                .session_id
                .as_deref()
                .is_none_or(|s| s.is_empty() || session.session_id == s)
    }
}

/// A page request over sessions (keyset pagination: the token names the page's edges). The
/// matching sessions are ordered by (created, key), or by (display_name, created, key) when
/// the query has a display-name prefix (see [`SessionQuery::orders_by_display_name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// The token of the page the caller is on; `None` (or malformed, or stale) starts at page 1.
    pub results_token: Option<String>,
    /// Go backward from the token's page instead of forward.
    pub request_prior_results: bool,
    /// Page size; 0 means 25, more than 1,000 means 1,000.
    pub count_requested: u32,
    /// Exact subject id.
    pub subject_id: Option<String>,
    /// Exact session id.
    pub session_id: Option<String>,
    /// Display-name prefix (case-sensitive).
    pub display_name: Option<String>,
}

impl SessionQuery {
    /// The default page size.
    pub const DEFAULT_COUNT: u32 = 25;
    /// The largest page size.
    pub const MAX_COUNT: u32 = 1_000;

    /// The page size in force.
    pub fn page_size(&self) -> u32 {
        match self.count_requested {
            0 => Self::DEFAULT_COUNT,
            n => n.min(Self::MAX_COUNT),
        }
    }

    /// Whether the results are ordered by (display_name, created, key) rather than by
    /// (created, key): when the query has a display-name prefix (not empty), so that the
    /// `(display_name, created, key)` index of the SQL stores delivers a page directly however
    /// many sessions the prefix matches. Every matching session then has a display name.
    pub fn orders_by_display_name(&self) -> bool {
        self.display_name.as_deref().is_some_and(|p| !p.is_empty())
    }

    /// Whether `session` passes the query's filters (the reference semantics).
    pub fn matches(&self, session: &ServerSideSession) -> bool {
        self.subject_id
            .as_deref()
            .is_none_or(|s| s.is_empty() || session.subject_id == s)
            && self
                .session_id
                .as_deref()
                .is_none_or(|s| s.is_empty() || session.session_id == s)
            && self.display_name.as_deref().is_none_or(|p| {
                p.is_empty()
                    || session
                        .display_name
                        .as_deref()
                        .is_some_and(|d| d.starts_with(p))
            })
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult<T> {
    /// Token of this page, to pass back for the next or previous page; `None` for an empty page.
    pub results_token: Option<String>,
    /// Whether a previous page exists.
    pub has_prev_results: bool,
    /// Whether a next page exists.
    pub has_next_results: bool,
    /// Matching records in all.
    pub total_count: u64,
    /// Pages in all (at least 1 when there are results).
    pub total_pages: u64,
    /// This page's number, from 1.
    pub current_page: u64,
    /// The records, in ascending (created, key) order.
    pub results: Vec<T>,
}
