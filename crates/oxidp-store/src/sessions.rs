//! The SQL of the session store, shared by both backends (except the removal of expired
//! sessions, which differs and lives in the backend modules), and the keyset paging of
//! [`SessionStore::query_sessions`](oxidp_core::store::SessionStore::query_sessions).
//!
//! Paging never uses `OFFSET`: a page is the rows after (or before) a (created, key) position,
//! which the `(created, key)` index finds directly, so page 10,000 costs what page 1 costs. The
//! results token is `base64url(JSON [created_first, key_first, created_last, key_last, page])`
//! of the page's first and last rows (`created` in unix seconds) and its page number; anything
//! that does not decode to that shape starts at page 1. How the counts stay cheap is in
//! [`crate::session_counts`].
//!
//! The display-name filter is a prefix: `display_name >= prefix AND display_name < successor`,
//! where the successor is the prefix with its last character incremented. Text compares in
//! code-point order in both databases (SQLite's BINARY collation, the "C" collation of the
//! PostgreSQL columns), which is the order of Rust's `str`, so the range holds exactly the
//! strings that start with the prefix, and the `(display_name, created, key)` index serves it.

use crate::sql::{column, instant, seconds};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oxidp_core::model::{QueryResult, ServerSideSession, SessionFilter, SessionQuery};
use oxidp_core::store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;

/// The columns of `server_side_sessions`, in the order [`CREATE_SESSION`] binds them.
pub(crate) const SESSION_COLUMNS: &str =
    "key, scheme, subject_id, session_id, display_name, created, renewed, expires, ticket";

/// Inserts a session unless the key exists (then no row is affected).
pub(crate) const CREATE_SESSION: &str = "INSERT INTO server_side_sessions \
     (key, scheme, subject_id, session_id, display_name, created, renewed, expires, ticket) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING";
pub(crate) const GET_SESSION: &str = "SELECT key, scheme, subject_id, session_id, display_name, \
     created, renewed, expires, ticket FROM server_side_sessions WHERE key = $1";
/// Replaces every column of a session; binds as [`CREATE_SESSION`] does.
pub(crate) const UPDATE_SESSION: &str = "UPDATE server_side_sessions SET scheme = $2, \
     subject_id = $3, session_id = $4, display_name = $5, created = $6, renewed = $7, \
     expires = $8, ticket = $9 WHERE key = $1";
pub(crate) const TOUCH_SESSION: &str =
    "UPDATE server_side_sessions SET renewed = $2, expires = $3 WHERE key = $1";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM server_side_sessions WHERE key = $1";

/// A value bound to a statement built at run time.
pub(crate) enum Value {
    Text(String),
    Int(i64),
}

/// A statement built at run time and the values to bind to its `$1..$n`, in order. Only column
/// names, operators and placeholders enter the text; every value is bound.
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Value>,
}

/// `AND`-combined conditions and their bound values.
#[derive(Default)]
struct Conditions {
    conditions: Vec<String>,
    binds: Vec<Value>,
}

impl Conditions {
    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: Value) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// `column = value`, unless the value is unset or empty (the domain filters ignore those).
    fn equal(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let placeholder = self.bind(Value::Text(value.to_owned()));
            self.conditions.push(format!("{column} = {placeholder}"));
        }
    }

    /// `column` starts with `prefix` (an empty prefix is no condition), as a range the index
    /// on `column` serves. NULL never matches.
    fn starts_with(&mut self, column: &str, prefix: Option<&str>) {
        let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
            return;
        };
        let lower = self.bind(Value::Text(prefix.to_owned()));
        self.conditions.push(format!("{column} >= {lower}"));
        if let Some(successor) = prefix_successor(prefix) {
            let upper = self.bind(Value::Text(successor));
            self.conditions.push(format!("{column} < {upper}"));
        }
    }

    /// `(created, key) <op> (position)`.
    fn keyset(&mut self, op: &str, position: &Position) {
        let created = self.bind(Value::Int(position.0));
        let key = self.bind(Value::Text(position.1.clone()));
        self.conditions
            .push(format!("(created, key) {op} ({created}, {key})"));
    }

    fn query(&mut self, query: &SessionQuery) {
        self.equal("subject_id", query.subject_id.as_deref());
        self.equal("session_id", query.session_id.as_deref());
        self.starts_with("display_name", query.display_name.as_deref());
    }

    /// The `WHERE` condition (`1 = 1` when there is none).
    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.conditions.join(" AND ")
        }
    }
}

/// The smallest string greater than every string that starts with `prefix`, in code-point
/// order; `None` if there is none (every character is `char::MAX`).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The `WHERE` condition of a session filter; [`StoreError::EmptyFilter`] if it has none.
fn filter_conditions(filter: &SessionFilter) -> StoreResult<Conditions> {
    if filter.is_empty() {
        return Err(StoreError::EmptyFilter);
    }
    let mut conditions = Conditions::default();
    conditions.equal("subject_id", filter.subject_id.as_deref());
    conditions.equal("session_id", filter.session_id.as_deref());
    Ok(conditions)
}

/// `SELECT` of the sessions matching `filter`, ordered by (created, key).
pub(crate) fn select_sessions(filter: &SessionFilter) -> StoreResult<Statement> {
    let conditions = filter_conditions(filter)?;
    Ok(Statement {
        sql: format!(
            "SELECT {SESSION_COLUMNS} FROM server_side_sessions WHERE {} ORDER BY created, key",
            conditions.clause()
        ),
        binds: conditions.binds,
    })
}

/// `DELETE` of the sessions matching `filter`, returning them (in no particular order).
pub(crate) fn delete_sessions(filter: &SessionFilter) -> StoreResult<Statement> {
    let conditions = filter_conditions(filter)?;
    Ok(Statement {
        sql: format!(
            "DELETE FROM server_side_sessions WHERE {} RETURNING {SESSION_COLUMNS}",
            conditions.clause()
        ),
        binds: conditions.binds,
    })
}

/// A place in the paging order: (created in unix seconds, key).
pub(crate) type Position = (i64, String);

fn position(session: &ServerSideSession) -> Position {
    (seconds(session.created), session.key.clone())
}

/// Which page a query asks for.
pub(crate) enum Page {
    /// The first page.
    First,
    /// The rows after a position (the last row of the caller's page, whose number is given).
    After(Position, u64),
    /// The rows before a position (the first row of the caller's page, whose number is given).
    Before(Position, u64),
}

impl Page {
    /// The page `query` asks for; a missing or malformed token asks for the first.
    pub(crate) fn requested(query: &SessionQuery) -> Self {
        match query.results_token.as_deref().and_then(decode_token) {
            None => Self::First,
            Some((first, _, page)) if query.request_prior_results => Self::Before(first, page),
            Some((_, last, page)) => Self::After(last, page),
        }
    }

    pub(crate) fn is_first(&self) -> bool {
        matches!(self, Self::First)
    }

    pub(crate) fn is_backward(&self) -> bool {
        matches!(self, Self::Before(..))
    }
}

fn encode_token(first: &ServerSideSession, last: &ServerSideSession, page: u64) -> String {
    let (first, last) = (position(first), position(last));
    let json = serde_json::json!([first.0, first.1, last.0, last.1, page]);
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The (first, last) positions and page number a token names; `None` for anything malformed.
fn decode_token(token: &str) -> Option<(Position, Position, u64)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (first_created, first_key, last_created, last_key, page): (i64, String, i64, String, u64) =
        serde_json::from_slice(&bytes).ok()?;
    (page >= 1).then_some(((first_created, first_key), (last_created, last_key), page))
}

/// `SELECT` of one page of at most `size` sessions matching `query`, in (created, key) order.
pub(crate) fn select_page(query: &SessionQuery, page: &Page, size: u32) -> Statement {
    let mut conditions = Conditions::default();
    conditions.query(query);
    match page {
        Page::First => {}
        Page::After(last, _) => conditions.keyset(">", last),
        Page::Before(first, _) => conditions.keyset("<", first),
    }
    let limit = conditions.bind(Value::Int(i64::from(size)));
    let clause = conditions.clause();
    let sql = match page {
        Page::First | Page::After(..) => format!(
            "SELECT {SESSION_COLUMNS} FROM server_side_sessions WHERE {clause} \
             ORDER BY created, key LIMIT {limit}"
        ),
        // The nearest rows before the position, walking the index backwards, then put back in
        // ascending order.
        Page::Before(..) => format!(
            "SELECT {SESSION_COLUMNS} FROM (SELECT {SESSION_COLUMNS} FROM server_side_sessions \
             WHERE {clause} ORDER BY created DESC, key DESC LIMIT {limit}) AS page \
             ORDER BY created, key"
        ),
    };
    Statement {
        sql,
        binds: conditions.binds,
    }
}

/// How many sessions match a query in all, before a page and after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) total: i64,
    pub(crate) before: i64,
    pub(crate) after: i64,
}

/// `SELECT` of the [`Counts`] of the page from `first` to `last`, in one pass over at most
/// `bound` + 1 matching rows: when `total` comes out above `bound`, the filter is large and the
/// counts are not exact (see [`crate::session_counts`]).
pub(crate) fn count_page(
    query: &SessionQuery,
    first: &ServerSideSession,
    last: &ServerSideSession,
    bound: u64,
) -> Statement {
    let mut conditions = Conditions::default();
    conditions.query(query);
    let limit = conditions.bind(Value::Int(
        i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let clause = conditions.clause();
    // Placeholders of the positions come after those of the filter and the bound.
    let mut edges = Conditions {
        conditions: Vec::new(),
        binds: std::mem::take(&mut conditions.binds),
    };
    edges.keyset("<", &position(first));
    edges.keyset(">", &position(last));
    let (before, after) = (&edges.conditions[0], &edges.conditions[1]);
    Statement {
        sql: format!(
            "SELECT COUNT(*) AS total_rows, \
             COALESCE(SUM(CASE WHEN {before} THEN 1 ELSE 0 END), 0) AS rows_before, \
             COALESCE(SUM(CASE WHEN {after} THEN 1 ELSE 0 END), 0) AS rows_after \
             FROM (SELECT created, key FROM server_side_sessions WHERE {clause} LIMIT {limit}) \
             AS matching"
        ),
        binds: edges.binds,
    }
}

/// `SELECT` of how many sessions match `query` (`total_rows`), however many that is.
pub(crate) fn count_matching(query: &SessionQuery) -> Statement {
    let mut conditions = Conditions::default();
    conditions.query(query);
    Statement {
        sql: format!(
            "SELECT COUNT(*) AS total_rows FROM server_side_sessions WHERE {}",
            conditions.clause()
        ),
        binds: conditions.binds,
    }
}

/// `SELECT` of at most one session matching `query` on the `op` side (`<` or `>`) of
/// `session`'s position: one index probe.
pub(crate) fn probe_beyond(
    query: &SessionQuery,
    op: &str,
    session: &ServerSideSession,
) -> Statement {
    let mut conditions = Conditions::default();
    conditions.query(query);
    conditions.keyset(op, &position(session));
    Statement {
        sql: format!(
            "SELECT {SESSION_COLUMNS} FROM server_side_sessions WHERE {} LIMIT 1",
            conditions.clause()
        ),
        binds: conditions.binds,
    }
}

/// Takes the extra row off a page read with one row more than `size`: the last one going
/// forward, the first one going backward (it is the farthest from the position). Returns
/// whether there was one, that is whether more rows lie in the direction read.
pub(crate) fn take_extra_row(page: &Page, rows: &mut Vec<ServerSideSession>, size: u32) -> bool {
    if rows.len() <= size as usize {
        return false;
    }
    if page.is_backward() {
        rows.remove(0);
    } else {
        rows.truncate(size as usize);
    }
    true
}

/// Whether a page reached backwards should be replaced by the first page: it is a short first
/// page (rows before it were deleted since the caller's page was read) while more rows follow.
pub(crate) fn restart_backward(page: &Page, len: usize, size: u32, counts: Counts) -> bool {
    page.is_backward() && counts.before == 0 && len < size as usize && counts.after > 0
}

/// The result for `rows` (a non-empty page of `size`) and its exact counts.
pub(crate) fn page_result(
    rows: Vec<ServerSideSession>,
    size: u32,
    counts: Counts,
) -> QueryResult<ServerSideSession> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let (total, before) = (count(counts.total), count(counts.before));
    let total_pages = total.div_ceil(u64::from(size)).max(1);
    let current_page = (1 + before.div_ceil(u64::from(size))).min(total_pages);
    numbered_result(
        rows,
        (before > 0, counts.after > 0),
        (total, total_pages, current_page),
    )
}

/// The result for `rows` (a non-empty page of `size`) of a large filter: its flags, as found
/// by the extra row and the probe; its number, from the token's; `total`, as last counted.
pub(crate) fn large_page_result(
    rows: Vec<ServerSideSession>,
    size: u32,
    page: &Page,
    (has_prev, has_next): (bool, bool),
    total: u64,
) -> QueryResult<ServerSideSession> {
    let current_page = match *page {
        _ if !has_prev => 1,
        Page::First => 1,
        Page::After(_, number) => number.saturating_add(1),
        Page::Before(_, number) => number.saturating_sub(1).max(2),
    };
    // The remembered total may be a little old: never show fewer pages than those seen.
    let total_pages = total
        .div_ceil(u64::from(size))
        .max(current_page + u64::from(has_next));
    let total = total.max((current_page - 1) * u64::from(size) + rows.len() as u64);
    numbered_result(
        rows,
        (has_prev, has_next),
        (total, total_pages, current_page),
    )
}

fn numbered_result(
    rows: Vec<ServerSideSession>,
    (has_prev_results, has_next_results): (bool, bool),
    (total_count, total_pages, current_page): (u64, u64, u64),
) -> QueryResult<ServerSideSession> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return empty_result();
    };
    QueryResult {
        results_token: Some(encode_token(first, last, current_page)),
        has_prev_results,
        has_next_results,
        total_count,
        total_pages,
        current_page,
        results: rows,
    }
}

/// The result of a query that matches nothing.
pub(crate) fn empty_result() -> QueryResult<ServerSideSession> {
    QueryResult {
        results_token: None,
        has_prev_results: false,
        has_next_results: false,
        total_count: 0,
        total_pages: 0,
        current_page: 0,
        results: Vec::new(),
    }
}

/// Orders sessions by (created, key).
pub(crate) fn sort_by_created(sessions: &mut [ServerSideSession]) {
    sessions.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
}

/// Orders sessions by (expires, key).
pub(crate) fn sort_by_expiry(sessions: &mut [ServerSideSession]) {
    sessions.sort_by(|a, b| (a.expires, &a.key).cmp(&(b.expires, &b.key)));
}

/// A [`Counts`] row.
pub(crate) fn counts_from_row<R>(row: &R) -> StoreResult<Counts>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Counts {
        total: column(row, "total_rows")?,
        before: column(row, "rows_before")?,
        after: column(row, "rows_after")?,
    })
}

/// A `server_side_sessions` row.
pub(crate) fn session_from_row<R>(row: &R) -> StoreResult<ServerSideSession>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let expires: Option<i64> = column(row, "expires")?;
    Ok(ServerSideSession {
        key: column(row, "key")?,
        scheme: column(row, "scheme")?,
        subject_id: column(row, "subject_id")?,
        session_id: column(row, "session_id")?,
        display_name: column(row, "display_name")?,
        created: instant("created", column(row, "created")?)?,
        renewed: instant("renewed", column(row, "renewed")?)?,
        expires: expires.map(|s| instant("expires", s)).transpose()?,
        ticket: column(row, "ticket")?,
    })
}

/// An optional instant as stored.
pub(crate) fn optional_seconds(instant: Option<OffsetDateTime>) -> Option<i64> {
    instant.map(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("Al").as_deref(), Some("Am"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
        for prefix in ["Al", "a\u{D7FF}", "x\u{10FFFF}", "é", "50%_"] {
            let upper = prefix_successor(prefix).expect("an upper bound");
            for candidate in [
                "Alice",
                "Al",
                "Am",
                "alice",
                "a\u{D7FF}z",
                "a\u{E000}",
                "x\u{10FFFF}\u{10FFFF}",
                "y",
                "été",
                "f",
                "50%_off",
                "50%a",
            ] {
                let in_range = candidate >= prefix && candidate < upper.as_str();
                assert_eq!(
                    in_range,
                    candidate.starts_with(prefix),
                    "{prefix:?} {candidate:?}"
                );
            }
        }
    }

    #[test]
    fn tokens_round_trip_any_key_and_malformed_ones_are_ignored() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("a valid instant");
        let session = |key: &str| ServerSideSession {
            key: key.to_owned(),
            scheme: "oxidp".to_owned(),
            subject_id: "s".to_owned(),
            session_id: "sid".to_owned(),
            display_name: None,
            created: at,
            renewed: at,
            expires: None,
            ticket: Vec::new(),
        };
        let (a, b) = (session("a:b|c,\"é\\"), session(""));
        let token = encode_token(&a, &b, 7);
        assert_eq!(
            decode_token(&token),
            Some((
                (1_700_000_000, a.key.clone()),
                (1_700_000_000, String::new()),
                7
            ))
        );
        let page_zero = URL_SAFE_NO_PAD.encode(r#"[1,"a",2,"b",0]"#);
        let four_fields = URL_SAFE_NO_PAD.encode(r#"[1,"a",2,"b"]"#);
        for malformed in [
            "",
            "garbage",
            "a:b|c:d",
            "W10",
            "WzEsImEiXQ",
            &page_zero,
            &four_fields,
        ] {
            assert_eq!(decode_token(malformed), None, "{malformed}");
        }
    }
}
