//! The SQL of the session store, shared by both backends (except the removal of expired
//! sessions, which differs and lives in the backend modules), and the keyset paging of
//! [`SessionStore::query_sessions`](oxidp_core::store::SessionStore::query_sessions).
//!
//! Paging never uses `OFFSET`: a page is the rows after (or before) a position in the paging
//! [`Order`], which an index finds directly, so page 10,000 costs what page 1 costs. Without a
//! display-name filter the order is (created, key), served by the `(created, key)` index; with
//! one it is (display_name, created, key), served by the `(display_name, created, key)` index,
//! so a prefix that matches 100,000 sessions still reads only the page's rows (in (created, key)
//! order the database would have to read and sort all 100,000 first). The results token is
//! `base64url(JSON [created_first, key_first, created_last, key_last, page])`, or in
//! display-name order `base64url(JSON [name_first, created_first, key_first, name_last,
//! created_last, key_last, page])`, of the page's first and last rows (`created` in unix
//! seconds) and its page number; anything that does not decode to the shape of the query's
//! order (a token of the other order included) starts at page 1. How the counts stay cheap is
//! in [`crate::session_counts`].
//!
//! The display-name filter is a prefix: `display_name >= prefix AND display_name < successor`,
//! where the successor is the prefix with its last character incremented. Text compares in
//! code-point order in both databases (SQLite's BINARY collation, the "C" collation of the
//! PostgreSQL columns), which is the order of Rust's `str`, so the range holds exactly the
//! strings that start with the prefix, and the `(display_name, created, key)` index serves it.
//! Next to a keyset condition `(display_name, created, key) > (…)` only the tighter of the two
//! lower bounds is written (and likewise of the upper bounds going backward): SQLite seeks the
//! index on one lower bound only, and with `display_name >= prefix` beside the row value it
//! would pick the prefix and step over every row before the position.

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

    /// `(created, key) <op> (position)`, or `(display_name, created, key) <op> (position)`.
    fn keyset(&mut self, op: &str, position: &Position) {
        let condition = match position {
            Position::Created(created, key) => {
                let created = self.bind(Value::Int(*created));
                let key = self.bind(Value::Text(key.clone()));
                format!("(created, key) {op} ({created}, {key})")
            }
            Position::Named(name, created, key) => {
                let name = self.bind(Value::Text(name.clone()));
                let created = self.bind(Value::Int(*created));
                let key = self.bind(Value::Text(key.clone()));
                format!("(display_name, created, key) {op} ({name}, {created}, {key})")
            }
        };
        self.conditions.push(condition);
    }

    fn query(&mut self, query: &SessionQuery) {
        self.equal("subject_id", query.subject_id.as_deref());
        self.equal("session_id", query.session_id.as_deref());
        self.starts_with("display_name", query.display_name.as_deref());
    }

    /// The conditions of `query` and of the rows on the `op` side (`<` or `>`) of `position`,
    /// ANDed. In display-name order, of the prefix's bound and the keyset condition on the same
    /// side only the tighter one is written, since it implies the other (see the module docs).
    fn query_beyond(&mut self, query: &SessionQuery, op: &str, position: &Position) {
        self.equal("subject_id", query.subject_id.as_deref());
        self.equal("session_id", query.session_id.as_deref());
        let (Some(prefix), Position::Named(name, ..)) = (
            query.display_name.as_deref().filter(|p| !p.is_empty()),
            position,
        ) else {
            self.starts_with("display_name", query.display_name.as_deref());
            self.keyset(op, position);
            return;
        };
        let successor = prefix_successor(prefix);
        // Going forward (`>`) the lower bounds compete: the keyset condition implies
        // `display_name >= prefix` when the position's name is at or above the prefix, and is
        // implied by it otherwise. Going backward (`<`) the upper bounds do: the keyset
        // condition against `display_name < successor`.
        let forward = op == ">";
        let keyset_is_tighter = if forward {
            name.as_str() >= prefix
        } else {
            successor
                .as_deref()
                .is_none_or(|upper| name.as_str() < upper)
        };
        if !forward || !keyset_is_tighter {
            let lower = self.bind(Value::Text(prefix.to_owned()));
            self.conditions.push(format!("display_name >= {lower}"));
        }
        if let Some(successor) = successor.filter(|_| forward || !keyset_is_tighter) {
            let upper = self.bind(Value::Text(successor));
            self.conditions.push(format!("display_name < {upper}"));
        }
        if keyset_is_tighter {
            self.keyset(op, position);
        }
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

/// The order sessions are paged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// (created, key): without a display-name filter.
    Created,
    /// (display_name, created, key): with a display-name filter, whose index delivers a page
    /// directly.
    DisplayName,
}

impl Order {
    /// The order of `query`'s results.
    pub(crate) fn of(query: &SessionQuery) -> Self {
        if query.orders_by_display_name() {
            Self::DisplayName
        } else {
            Self::Created
        }
    }

    /// The `ORDER BY` list, ascending.
    fn ascending(self) -> &'static str {
        match self {
            Self::Created => "created, key",
            Self::DisplayName => "display_name, created, key",
        }
    }

    /// The `ORDER BY` list, descending.
    fn descending(self) -> &'static str {
        match self {
            Self::Created => "created DESC, key DESC",
            Self::DisplayName => "display_name DESC, created DESC, key DESC",
        }
    }

    /// The columns of a position in this order.
    fn columns(self) -> &'static str {
        self.ascending()
    }

    /// `session`'s place in this order.
    fn position(self, session: &ServerSideSession) -> Position {
        let (created, key) = (seconds(session.created), session.key.clone());
        match self {
            Self::Created => Position::Created(created, key),
            // A session that matches a (non-empty) display-name prefix has a display name.
            Self::DisplayName => Position::Named(
                session.display_name.clone().unwrap_or_default(),
                created,
                key,
            ),
        }
    }
}

/// A place in the paging order (`created` in unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// (created, key), in [`Order::Created`].
    Created(i64, String),
    /// (display_name, created, key), in [`Order::DisplayName`].
    Named(String, i64, String),
}

impl Position {
    fn has_nul(&self) -> bool {
        match self {
            Self::Created(_, key) => key.contains('\0'),
            Self::Named(name, _, key) => name.contains('\0') || key.contains('\0'),
        }
    }

    /// The position's values as the results token writes them, in order.
    fn fields(self) -> Vec<serde_json::Value> {
        match self {
            Self::Created(created, key) => vec![created.into(), key.into()],
            Self::Named(name, created, key) => vec![name.into(), created.into(), key.into()],
        }
    }
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
    /// The page `query` asks for; a missing or malformed token (or one of the other order)
    /// asks for the first.
    pub(crate) fn requested(query: &SessionQuery) -> Self {
        let order = Order::of(query);
        match query
            .results_token
            .as_deref()
            .and_then(|token| decode_token(token, order))
        {
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

fn encode_token(
    order: Order,
    first: &ServerSideSession,
    last: &ServerSideSession,
    page: u64,
) -> String {
    let mut fields = order.position(first).fields();
    fields.extend(order.position(last).fields());
    fields.push(page.into());
    URL_SAFE_NO_PAD.encode(serde_json::Value::Array(fields).to_string())
}

/// The (first, last) positions in `order` and page number a token names; `None` for anything
/// malformed, a token of the other order included.
fn decode_token(token: &str, order: Order) -> Option<(Position, Position, u64)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (first, last, page) = match order {
        Order::Created => {
            let (c1, k1, c2, k2, page): (i64, String, i64, String, u64) =
                serde_json::from_slice(&bytes).ok()?;
            (Position::Created(c1, k1), Position::Created(c2, k2), page)
        }
        Order::DisplayName => {
            let (n1, c1, k1, n2, c2, k2, page): (String, i64, String, String, i64, String, u64) =
                serde_json::from_slice(&bytes).ok()?;
            (
                Position::Named(n1, c1, k1),
                Position::Named(n2, c2, k2),
                page,
            )
        }
    };
    // PostgreSQL text cannot hold NUL: such a token could only fail the query.
    let has_nul = [&first, &last].iter().any(|p| p.has_nul());
    (page >= 1 && !has_nul).then_some((first, last, page))
}

/// `SELECT` of one page of at most `size` sessions matching `query`, in the query's [`Order`].
pub(crate) fn select_page(query: &SessionQuery, page: &Page, size: u32) -> Statement {
    let order = Order::of(query);
    let mut conditions = Conditions::default();
    match page {
        Page::First => conditions.query(query),
        Page::After(last, _) => conditions.query_beyond(query, ">", last),
        Page::Before(first, _) => conditions.query_beyond(query, "<", first),
    }
    let limit = conditions.bind(Value::Int(i64::from(size)));
    let clause = conditions.clause();
    let (ascending, descending) = (order.ascending(), order.descending());
    let sql = match page {
        Page::First | Page::After(..) => format!(
            "SELECT {SESSION_COLUMNS} FROM server_side_sessions WHERE {clause} \
             ORDER BY {ascending} LIMIT {limit}"
        ),
        // The nearest rows before the position, walking the index backwards, then put back in
        // ascending order.
        Page::Before(..) => format!(
            "SELECT {SESSION_COLUMNS} FROM (SELECT {SESSION_COLUMNS} FROM server_side_sessions \
             WHERE {clause} ORDER BY {descending} LIMIT {limit}) AS page \
             ORDER BY {ascending}"
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
    let order = Order::of(query);
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
    edges.keyset("<", &order.position(first));
    edges.keyset(">", &order.position(last));
    let (before, after) = (&edges.conditions[0], &edges.conditions[1]);
    let columns = order.columns();
    Statement {
        sql: format!(
            "SELECT COUNT(*) AS total_rows, \
             COALESCE(SUM(CASE WHEN {before} THEN 1 ELSE 0 END), 0) AS rows_before, \
             COALESCE(SUM(CASE WHEN {after} THEN 1 ELSE 0 END), 0) AS rows_after \
             FROM (SELECT {columns} FROM server_side_sessions WHERE {clause} LIMIT {limit}) \
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
/// `session`'s position in the query's [`Order`]: one index probe.
pub(crate) fn probe_beyond(
    query: &SessionQuery,
    op: &str,
    session: &ServerSideSession,
) -> Statement {
    let mut conditions = Conditions::default();
    conditions.query_beyond(query, op, &Order::of(query).position(session));
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

/// The result for `rows` (a non-empty page of `size` of `query`) and its exact counts.
pub(crate) fn page_result(
    query: &SessionQuery,
    rows: Vec<ServerSideSession>,
    size: u32,
    counts: Counts,
) -> QueryResult<ServerSideSession> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let (total, before) = (count(counts.total), count(counts.before));
    let total_pages = total.div_ceil(u64::from(size)).max(1);
    let current_page = (1 + before.div_ceil(u64::from(size))).min(total_pages);
    numbered_result(
        Order::of(query),
        rows,
        (before > 0, counts.after > 0),
        (total, total_pages, current_page),
    )
}

/// The result for `rows` (a non-empty page of `size` of `query`) of a large filter: its flags,
/// as found by the extra row and the probe; its number, from the token's; `total`, as last
/// counted.
pub(crate) fn large_page_result(
    query: &SessionQuery,
    rows: Vec<ServerSideSession>,
    size: u32,
    page: &Page,
    (has_prev, has_next): (bool, bool),
    total: u64,
) -> QueryResult<ServerSideSession> {
    let size = u64::from(size);
    // The token's number is the caller's word: never past the page after the last one counted,
    // so a forged number cannot inflate the figures (or overflow them).
    let last_page = total.div_ceil(size).max(1);
    let current_page = match *page {
        _ if !has_prev => 1,
        Page::First => 1,
        Page::After(_, number) => number.min(last_page).saturating_add(1),
        Page::Before(_, number) => number
            .min(last_page.saturating_add(1))
            .saturating_sub(1)
            .max(2),
    };
    // The remembered total may be a little old: never show fewer pages than those seen.
    let total_pages = last_page.max(current_page.saturating_add(u64::from(has_next)));
    let seen = (current_page - 1)
        .saturating_mul(size)
        .saturating_add(rows.len() as u64);
    let total = total.max(seen);
    numbered_result(
        Order::of(query),
        rows,
        (has_prev, has_next),
        (total, total_pages, current_page),
    )
}

fn numbered_result(
    order: Order,
    rows: Vec<ServerSideSession>,
    (has_prev_results, has_next_results): (bool, bool),
    (total_count, total_pages, current_page): (u64, u64, u64),
) -> QueryResult<ServerSideSession> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return empty_result();
    };
    QueryResult {
        results_token: Some(encode_token(order, first, last, current_page)),
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
mod tests;
