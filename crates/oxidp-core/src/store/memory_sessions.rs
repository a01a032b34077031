//! The in-memory [`SessionStore`](super::SessionStore).
//!
//! The reference semantics of session paging, which the SQL stores reproduce with keyset
//! queries: the matching sessions in (created, key) order, or in (display_name, created, key)
//! order when the query has a display-name prefix
//! ([`SessionQuery::orders_by_display_name`]); a results token names the positions in that
//! order of the first and last rows of the page it came from; a forward request takes the rows
//! after the last one, a backward request the rows before the first one. The token is
//! `base64url(JSON [created_first, key_first, created_last, key_last])`, or
//! `base64url(JSON [name_first, created_first, key_first, name_last, created_last, key_last])`
//! in display-name order, with `created` in unix nanoseconds here (the memory store keeps
//! sub-second instants); anything that does not decode to the shape of the query's order starts
//! at page 1.

use super::memory::MemoryStore;
use super::{SessionStore, StoreError, StoreResult};
use crate::model::{QueryResult, ServerSideSession, SessionFilter, SessionQuery};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::cmp::Ordering;
use time::OffsetDateTime;

/// A session's place in the paging order: (display name, created, key) in display-name order,
/// (`None`, created, key) otherwise.
type Position = (Option<String>, i128, String);

/// `session`'s place in the paging order, by display name first if `by_name`. (A session
/// matching a display-name prefix always has a display name.)
fn position(session: &ServerSideSession, by_name: bool) -> (Option<&str>, i128, &str) {
    let name = if by_name {
        Some(session.display_name.as_deref().unwrap_or_default())
    } else {
        None
    };
    (
        name,
        session.created.unix_timestamp_nanos(),
        session.key.as_str(),
    )
}

/// Orders `session` relative to `edge` in the paging order.
fn compare(session: &ServerSideSession, edge: &Position, by_name: bool) -> Ordering {
    position(session, by_name).cmp(&(edge.0.as_deref(), edge.1, edge.2.as_str()))
}

fn by_created_then_key(a: &ServerSideSession, b: &ServerSideSession) -> Ordering {
    (a.created, &a.key).cmp(&(b.created, &b.key))
}

fn encode_token(first: &ServerSideSession, last: &ServerSideSession, by_name: bool) -> String {
    let (first, last) = (position(first, by_name), position(last, by_name));
    let json = if by_name {
        serde_json::json!([first.0, first.1, first.2, last.0, last.1, last.2])
    } else {
        serde_json::json!([first.1, first.2, last.1, last.2])
    };
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The (first, last) positions a token names, in display-name order if `by_name`; `None` for
/// anything malformed, a token of the other order included.
fn decode_token(token: &str, by_name: bool) -> Option<(Position, Position)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if by_name {
        let (first_name, first_created, first_key, last_name, last_created, last_key): (
            String,
            i128,
            String,
            String,
            i128,
            String,
        ) = serde_json::from_slice(&bytes).ok()?;
        Some((
            (Some(first_name), first_created, first_key),
            (Some(last_name), last_created, last_key),
        ))
    } else {
        let (first_created, first_key, last_created, last_key): (i128, String, i128, String) =
            serde_json::from_slice(&bytes).ok()?;
        Some((
            (None, first_created, first_key),
            (None, last_created, last_key),
        ))
    }
}

/// The page `query` asks for among `matching` (sorted): the range of its rows.
fn page_range(
    matching: &[&ServerSideSession],
    query: &SessionQuery,
    size: usize,
) -> (usize, usize) {
    let by_name = query.orders_by_display_name();
    let from_start = (0, size.min(matching.len()));
    let Some((first, last)) = query
        .results_token
        .as_deref()
        .and_then(|token| decode_token(token, by_name))
    else {
        return from_start;
    };
    if query.request_prior_results {
        let end = matching.partition_point(|s| compare(s, &first, by_name) == Ordering::Less);
        let start = end.saturating_sub(size);
        // Nothing before the token's page, or a short first page because rows were deleted
        // meanwhile: show a full first page instead.
        if end == 0 || (start == 0 && end < size && end < matching.len()) {
            return from_start;
        }
        (start, end)
    } else {
        let start = matching.partition_point(|s| compare(s, &last, by_name) != Ordering::Greater);
        if start == matching.len() {
            // Nothing after the token's page any more: the token is stale.
            return from_start;
        }
        (start, (start + size).min(matching.len()))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &ServerSideSession) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.sessions.contains_key(&session.key) {
            return Err(StoreError::Conflict);
        }
        inner.sessions.insert(session.key.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, key: &str) -> StoreResult<Option<ServerSideSession>> {
        Ok(self.lock().sessions.get(key).cloned())
    }

    async fn update_session(&self, session: &ServerSideSession) -> StoreResult<bool> {
        match self.lock().sessions.get_mut(&session.key) {
            Some(stored) => {
                *stored = session.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn touch_session(
        &self,
        key: &str,
        renewed: OffsetDateTime,
        expires: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        match self.lock().sessions.get_mut(key) {
            Some(stored) => {
                stored.renewed = renewed;
                stored.expires = expires;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_session(&self, key: &str) -> StoreResult<bool> {
        Ok(self.lock().sessions.remove(key).is_some())
    }

    async fn get_sessions(&self, filter: &SessionFilter) -> StoreResult<Vec<ServerSideSession>> {
        if filter.is_empty() {
            return Err(StoreError::EmptyFilter);
        }
        let mut sessions: Vec<_> = self
            .lock()
            .sessions
            .values()
            .filter(|s| filter.matches(s))
            .cloned()
            .collect();
        sessions.sort_by(by_created_then_key);
        Ok(sessions)
    }

    async fn count_active_sessions(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let inner = self.lock();
        Ok(inner
            .sessions
            .values()
            .filter(|s| !s.is_expired(now))
            .count() as u64)
    }

    async fn query_sessions(
        &self,
        query: &SessionQuery,
    ) -> StoreResult<QueryResult<ServerSideSession>> {
        let size = query.page_size() as usize;
        let inner = self.lock();
        let mut matching: Vec<&ServerSideSession> = inner
            .sessions
            .values()
            .filter(|s| query.matches(s))
            .collect();
        let by_name = query.orders_by_display_name();
        matching.sort_by(|a, b| position(a, by_name).cmp(&position(b, by_name)));

        let (start, end) = page_range(&matching, query, size);
        let total = matching.len();
        let results: Vec<ServerSideSession> =
            matching[start..end].iter().map(|s| (*s).clone()).collect();
        drop(inner);
        let (Some(first), Some(last)) = (results.first(), results.last()) else {
            return Ok(QueryResult {
                results_token: None,
                has_prev_results: false,
                has_next_results: false,
                total_count: 0,
                total_pages: 0,
                current_page: 0,
                results,
            });
        };
        let total_pages = total.div_ceil(size) as u64;
        Ok(QueryResult {
            results_token: Some(encode_token(first, last, by_name)),
            has_prev_results: start > 0,
            has_next_results: end < total,
            total_count: total as u64,
            total_pages,
            current_page: (1 + start.div_ceil(size) as u64).min(total_pages),
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_any_key_and_name_in_their_order_only() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .expect("a valid instant");
        let session = |key: &str, name: Option<&str>| ServerSideSession {
            key: key.to_owned(),
            scheme: "oxidp".to_owned(),
            subject_id: "s".to_owned(),
            session_id: "sid".to_owned(),
            display_name: name.map(str::to_owned),
            created: at,
            renewed: at,
            expires: None,
            ticket: Vec::new(),
        };
        let nanos = at.unix_timestamp_nanos();
        let (a, b) = (
            session("a:b|c,\"é\u{0}", Some("Zoë \"✓\" [1,2]")),
            session("", Some("")),
        );
        let by_created = encode_token(&a, &b, false);
        assert_eq!(
            decode_token(&by_created, false),
            Some(((None, nanos, a.key.clone()), (None, nanos, String::new())))
        );
        let by_name = encode_token(&a, &b, true);
        assert_eq!(
            decode_token(&by_name, true),
            Some((
                (a.display_name.clone(), nanos, a.key.clone()),
                (Some(String::new()), nanos, String::new())
            ))
        );
        assert_eq!(
            decode_token(&by_created, true),
            None,
            "a token of the other order"
        );
        assert_eq!(
            decode_token(&by_name, false),
            None,
            "a token of the other order"
        );
        for malformed in ["", "garbage", "a:b|c:d", "W10", "WzEsImEiXQ"] {
            for by_name in [false, true] {
                assert_eq!(decode_token(malformed, by_name), None, "{malformed}");
            }
        }
    }
}
