//! `query`: times `SessionManagementService::query_sessions` (a page of 25, as the admin page,
//! the admin API and the CLI ask for it) on the populated database, at page 1 and deep in the
//! paging order, unfiltered and with each filter.
//!
//! A deep page is reached with its results token, as a caller paging forward (or backward)
//! would hold it. Walking 10,000 pages forward to get that token would be setup, not
//! measurement, and costs 10,000 queries; the token's format is documented
//! (`oxidp-store/src/sessions.rs`: base64url of the JSON `[created_first, key_first,
//! created_last, key_last, page]` of the caller's page, or `[name_first, created_first,
//! key_first, name_last, created_last, key_last, page]` with a display-name filter, whose
//! results are in (display_name, created, key) order), so setup builds it from the position of
//! the row before the page (forward) or after it (backward) in the store's order, found once
//! with `OFFSET`. A check first walks pages 1 → 3 with the tokens the service returns, without
//! a filter and with the all-matching display-name prefix, and compares page 3 with the one a
//! built token fetches. Every timed call must return a full page whose `current_page` and
//! `total_count` are the expected ones.
//!
//! With `--breakdown N`, the two statements the SQL store runs for a page (the page's `SELECT …
//! ORDER BY created, key LIMIT 25`, or `ORDER BY display_name, created, key` with a
//! display-name prefix, then the `COUNT(*)`/`SUM(CASE …)` of the matching rows before and after
//! it, which gives `total_count` and `current_page`) are also timed on their own, N times each,
//! with the same SQL text as the store.

use crate::db::{Pool, with_pool};
use crate::measure::Stats;
use crate::populate::ISSUER;
use anyhow::{Context as _, bail, ensure};
use oxidp_core::clock::SystemClock;
use oxidp_core::model::SessionQuery;
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::IdentityServer;
use oxidp_jose::{b64url_decode, b64url_encode};
use std::time::{Duration, Instant};

/// Arguments of `query`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL, as given to `populate`.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// Timed calls per case, at most (see `--max-seconds`).
    #[arg(long, default_value_t = 1_000)]
    samples: usize,
    /// Stop a case's timed calls after this many seconds (at least `--min-samples` calls).
    #[arg(long, default_value_t = 20.0)]
    max_seconds: f64,
    /// Timed calls per case, at least.
    #[arg(long, default_value_t = 50)]
    min_samples: usize,
    /// Untimed calls per case first.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// The deep page measured.
    #[arg(long, default_value_t = 10_000)]
    page: u64,
    /// Page size (the default of the service is 25).
    #[arg(long, default_value_t = 25)]
    page_size: u32,
    /// The common start of the display names `populate` gives (`Bench User 000123`).
    #[arg(long, default_value = "Bench User ")]
    name_prefix: String,
    /// Also time the store's two statements of each case on their own, this many times each
    /// (0: not).
    #[arg(long, default_value_t = 20)]
    breakdown: usize,
    /// Only the cases whose name contains one of these (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Pooled database connections (the server's default is 10).
    #[arg(long, default_value_t = 10)]
    max_connections: u32,
    /// A label for the RESULT lines (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
}

/// The filter of a case.
#[derive(Debug, Clone)]
enum Filter {
    None,
    /// A display-name prefix.
    Prefix(String),
    /// Exact subject ids, one per call in turn.
    Subjects(Vec<String>),
    /// Exact session ids, one per call in turn.
    Sessions(Vec<String>),
}

/// One measured query.
#[derive(Debug)]
struct Case {
    name: String,
    filter: Filter,
    /// The page (1-based).
    page: u64,
    /// Reached backwards (from the page after it).
    backward: bool,
    /// Sessions the filter matches (for the prefix and unfiltered cases).
    matching: Option<i64>,
    /// The token that fetches the page (`None`: page 1).
    token: Option<String>,
}

impl Filter {
    /// Whether the store orders this filter's results by (display_name, created, key) rather
    /// than by (created, key): a display-name prefix (never empty here, see [`successor`]).
    fn by_name(&self) -> bool {
        matches!(self, Self::Prefix(_))
    }

    /// The store's `ORDER BY` list for this filter, ascending: also the columns of a position.
    fn order(&self) -> &'static str {
        if self.by_name() {
            "display_name, created, key"
        } else {
            "created, key"
        }
    }

    /// The store's `ORDER BY` list for this filter, descending.
    fn order_descending(&self) -> &'static str {
        if self.by_name() {
            "display_name DESC, created DESC, key DESC"
        } else {
            "created DESC, key DESC"
        }
    }
}

/// A row's place in the store's paging order: (display_name, created, key) with a display-name
/// prefix (`name` set), (created, key) otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    name: Option<String>,
    created: i64,
    key: String,
}

impl Position {
    /// The position's values as a results token writes them.
    fn fields(&self) -> Vec<serde_json::Value> {
        let mut fields: Vec<serde_json::Value> =
            self.name.iter().map(|n| n.as_str().into()).collect();
        fields.push(self.created.into());
        fields.push(self.key.as_str().into());
        fields
    }
}

/// A value bound to a statement of the breakdown.
enum Bind {
    Text(String),
    Int(i64),
}

/// `(columns) <op> ($a, $b[, $c])` of `position`, its values appended to `binds`.
fn keyset(op: &str, position: &Position, binds: &mut Vec<Bind>) -> String {
    let mut placeholders = Vec::new();
    let mut columns = Vec::new();
    if let Some(name) = &position.name {
        binds.push(Bind::Text(name.clone()));
        placeholders.push(format!("${}", binds.len()));
        columns.push("display_name");
    }
    binds.push(Bind::Int(position.created));
    placeholders.push(format!("${}", binds.len()));
    binds.push(Bind::Text(position.key.clone()));
    placeholders.push(format!("${}", binds.len()));
    columns.extend(["created", "key"]);
    format!(
        "({}) {op} ({})",
        columns.join(", "),
        placeholders.join(", ")
    )
}

impl Case {
    /// The query of the `i`-th call.
    fn query(&self, i: usize, page_size: u32) -> SessionQuery {
        let mut query = SessionQuery {
            results_token: self.token.clone(),
            request_prior_results: self.backward,
            count_requested: page_size,
            ..SessionQuery::default()
        };
        match &self.filter {
            Filter::None => {}
            Filter::Prefix(prefix) => query.display_name = Some(prefix.clone()),
            Filter::Subjects(subjects) => {
                query.subject_id = Some(subjects[i % subjects.len()].clone());
            }
            Filter::Sessions(sessions) => {
                query.session_id = Some(sessions[i % sessions.len()].clone());
            }
        }
        query
    }
}

/// The smallest string above every string that starts with `prefix` (ASCII prefixes only,
/// which is what the cases use).
fn successor(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = prefix.as_bytes().to_vec();
    match bytes.last_mut() {
        Some(last) if last.is_ascii() && *last < 0x7f => *last += 1,
        _ => bail!("prefix {prefix:?} must be non-empty ASCII"),
    }
    Ok(String::from_utf8(bytes)?)
}

/// `WHERE` of a case's filter as the store writes it, and its text values.
fn condition(filter: &Filter) -> anyhow::Result<(String, Vec<String>)> {
    Ok(match filter {
        Filter::None => ("1 = 1".to_owned(), Vec::new()),
        Filter::Prefix(prefix) => (
            "display_name >= $1 AND display_name < $2".to_owned(),
            vec![prefix.clone(), successor(prefix)?],
        ),
        Filter::Subjects(_) | Filter::Sessions(_) => bail!("no position lookup for exact filters"),
    })
}

/// The results token of page number `page` whose first and last rows are both at `position`.
fn token_at(position: &Position, page: u64) -> String {
    let mut fields = position.fields();
    fields.extend(position.fields());
    fields.push(page.into());
    b64url_encode(serde_json::Value::Array(fields).to_string())
}

/// The (first, last) positions a results token names, in display-name order if `by_name`.
fn decode_token(token: &str, by_name: bool) -> Option<(Position, Position)> {
    let bytes = b64url_decode(token)?;
    let at = |name: Option<String>, created, key| Position { name, created, key };
    if by_name {
        let (n1, c1, k1, n2, c2, k2, _page): (String, i64, String, String, i64, String, u64) =
            serde_json::from_slice(&bytes).ok()?;
        Some((at(Some(n1), c1, k1), at(Some(n2), c2, k2)))
    } else {
        let (c1, k1, c2, k2, _page): (i64, String, i64, String, u64) =
            serde_json::from_slice(&bytes).ok()?;
        Some((at(None, c1, k1), at(None, c2, k2)))
    }
}

/// The token that fetches `page` of `filter` forward (the position of the row before it) or
/// backward (the row after it).
async fn token_for(
    pool: &Pool,
    filter: &Filter,
    page: u64,
    page_size: u32,
    backward: bool,
) -> anyhow::Result<Option<String>> {
    if page <= 1 && !backward {
        return Ok(None);
    }
    let (clause, binds) = condition(filter)?;
    let size = u64::from(page_size);
    let offset = if backward {
        page * size
    } else {
        (page - 1) * size - 1
    };
    let placeholder = binds.len() + 1;
    let order = filter.order();
    let sql = format!(
        "SELECT {order} FROM server_side_sessions WHERE {clause} \
         ORDER BY {order} LIMIT 1 OFFSET ${placeholder}"
    );
    let binds: Vec<&str> = binds.iter().map(String::as_str).collect();
    let offset = i64::try_from(offset)?;
    let position = if filter.by_name() {
        crate::db::name_position(pool, &sql, &binds, offset)
            .await?
            .map(|(name, created, key)| Position {
                name: Some(name),
                created,
                key,
            })
    } else {
        crate::db::position(pool, &sql, &binds, offset)
            .await?
            .map(|(created, key)| Position {
                name: None,
                created,
                key,
            })
    };
    let position = position
        .with_context(|| format!("no row at offset {offset}: the filter matches too few"))?;
    // The number of the page the token comes from: the one before, or the one after.
    let from = if backward { page + 1 } else { page - 1 };
    Ok(Some(token_at(&position, from)))
}

/// Counts the sessions a filter matches.
async fn matching(pool: &Pool, filter: &Filter) -> anyhow::Result<i64> {
    let (clause, binds) = condition(filter)?;
    let binds: Vec<&str> = binds.iter().map(String::as_str).collect();
    crate::db::scalar(
        pool,
        &format!("SELECT COUNT(*) FROM server_side_sessions WHERE {clause}"),
        &binds,
    )
    .await
}

/// `count` random (subject id, session id) pairs of existing sessions.
async fn sample_ids(pool: &Pool, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    // The key is a hash of a random cookie value: ordering by it is a random order.
    let limit = i64::try_from(count)?;
    let sql = "SELECT subject_id, session_id FROM server_side_sessions ORDER BY key LIMIT $1";
    Ok(with_pool!(pool, |pool, Db| {
        sqlx::query_as::<Db, (String, String)>(sql)
            .bind(limit)
            .fetch_all(pool)
            .await?
    }))
}

/// The store's two statements of a page, timed on their own: (page `SELECT`, counts).
async fn breakdown(
    pool: &Pool,
    case: &Case,
    token: &str,
    page_size: u32,
    times: usize,
) -> anyhow::Result<(Stats, Stats)> {
    let filter = &case.filter;
    let (clause, texts) = condition(filter)?;
    let (first, last) =
        decode_token(token, filter.by_name()).context("a results token the store returned")?;
    // The page: as `oxidp_store::sessions::select_page` writes it. Forward pages start after
    // the last row of the token's page, backward ones end before its first row.
    let edge = match &case.token {
        None => None,
        Some(token) => {
            let (first, last) =
                decode_token(token, filter.by_name()).context("a malformed token in a case")?;
            Some(if case.backward { first } else { last })
        }
    };
    let columns = "key, scheme, subject_id, session_id, display_name, created, renewed, \
                   expires, ticket";
    let (ascending, descending) = (filter.order(), filter.order_descending());
    let mut select_binds = Vec::new();
    let select = match &edge {
        None => {
            select_binds.extend(texts.iter().cloned().map(Bind::Text));
            select_binds.push(Bind::Int(i64::from(page_size)));
            format!(
                "SELECT {columns} FROM server_side_sessions WHERE {clause} \
                 ORDER BY {ascending} LIMIT ${}",
                select_binds.len()
            )
        }
        Some(edge) => {
            let op = if case.backward { "<" } else { ">" };
            let condition = match filter {
                Filter::Prefix(prefix) => {
                    // Beside the keyset condition the store writes only the prefix bound on
                    // the other side: the position's row matches the prefix, so the keyset
                    // condition is the tighter bound on its side.
                    let upper = successor(prefix)?;
                    let name = edge.name.as_deref().unwrap_or_default();
                    ensure!(
                        name >= prefix.as_str() && name < upper.as_str(),
                        "a case's token names a row outside its prefix"
                    );
                    let bound = if case.backward {
                        select_binds.push(Bind::Text(prefix.clone()));
                        format!("display_name >= ${}", select_binds.len())
                    } else {
                        select_binds.push(Bind::Text(upper));
                        format!("display_name < ${}", select_binds.len())
                    };
                    format!("{bound} AND {}", keyset(op, edge, &mut select_binds))
                }
                _ => keyset(op, edge, &mut select_binds),
            };
            select_binds.push(Bind::Int(i64::from(page_size)));
            let limit = select_binds.len();
            if case.backward {
                format!(
                    "SELECT {columns} FROM (SELECT {columns} FROM server_side_sessions \
                     WHERE {condition} ORDER BY {descending} LIMIT ${limit}) AS page \
                     ORDER BY {ascending}"
                )
            } else {
                format!(
                    "SELECT {columns} FROM server_side_sessions WHERE {condition} \
                     ORDER BY {ascending} LIMIT ${limit}"
                )
            }
        }
    };
    // The counts over every matching row: what `count_page` cost before counts were bounded,
    // and about what a large filter's total costs once per reuse period.
    let mut count_binds: Vec<Bind> = texts.iter().cloned().map(Bind::Text).collect();
    let before = keyset("<", &first, &mut count_binds);
    let after = keyset(">", &last, &mut count_binds);
    let count = format!(
        "SELECT COUNT(*) AS total_rows, \
         COALESCE(SUM(CASE WHEN {before} THEN 1 ELSE 0 END), 0) AS rows_before, \
         COALESCE(SUM(CASE WHEN {after} THEN 1 ELSE 0 END), 0) AS rows_after \
         FROM server_side_sessions WHERE {clause}"
    );
    let mut select_times = Vec::with_capacity(times);
    let mut count_times = Vec::with_capacity(times);
    for _ in 0..times {
        let select = sqlx::AssertSqlSafe(select.clone());
        let count = sqlx::AssertSqlSafe(count.clone());
        with_pool!(pool, |pool, Db| {
            let mut query = sqlx::query::<Db>(select);
            for value in &select_binds {
                query = match value {
                    Bind::Text(text) => query.bind(text.as_str()),
                    Bind::Int(int) => query.bind(*int),
                };
            }
            let started = Instant::now();
            let rows = query.fetch_all(pool).await?;
            select_times.push(started.elapsed());
            ensure!(
                rows.len() == page_size as usize,
                "the page SELECT returned {} rows",
                rows.len()
            );

            let mut query = sqlx::query_as::<Db, (i64, i64, i64)>(count);
            for value in &count_binds {
                query = match value {
                    Bind::Text(text) => query.bind(text.as_str()),
                    Bind::Int(int) => query.bind(*int),
                };
            }
            let started = Instant::now();
            let (total, _, _) = query.fetch_one(pool).await?;
            count_times.push(started.elapsed());
            if let Some(expected) = case.matching {
                ensure!(total == expected, "the count found {total}, not {expected}");
            }
        });
    }
    Ok((Stats::of(&select_times), Stats::of(&count_times)))
}

fn wanted(only: &[String], name: &str) -> bool {
    only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.samples > 0, "--samples must be at least 1");
    ensure!(args.page >= 2, "--page must be at least 2");
    let shown = oxidp_server::redact_url(&args.url);
    let (store, pool) = crate::db::open(&args.url, args.max_connections).await?;
    let backend = pool.backend();
    let options = IdentityServerOptions::new(ISSUER).map_err(anyhow::Error::msg)?;
    let idp = IdentityServer::builder(options, store.stores(), std::sync::Arc::new(SystemClock))
        .server_side_sessions(None)
        .build();
    let sm = idp.session_management.clone();
    let size = args.page_size;
    let deep = args.page;
    let total = crate::db::scalar(&pool, "SELECT COUNT(*) FROM server_side_sessions", &[]).await?;
    println!("query_sessions on {shown} ({backend}): {total} sessions, page size {size}");

    // The token check: pages 1 -> 3 walked with the service's tokens, page 3 fetched with a
    // built one; the same sessions, the same page number. Unfiltered ((created, key) order)
    // and with the all-matching display-name prefix ((display_name, created, key) order).
    let sids = |r: &oxidp_core::model::QueryResult<oxidp_core::services::UserSession>| {
        r.results
            .iter()
            .map(|s| s.session_id.clone())
            .collect::<Vec<_>>()
    };
    for filter in [Filter::None, Filter::Prefix(args.name_prefix.clone())] {
        let mut query = Case {
            name: String::new(),
            filter: filter.clone(),
            page: 1,
            backward: false,
            matching: None,
            token: None,
        }
        .query(0, size);
        let mut walked = sm.query_sessions(&query).await?;
        for _ in 0..2 {
            query.results_token = walked.results_token.clone();
            walked = sm.query_sessions(&query).await?;
        }
        query.results_token = token_for(&pool, &filter, 3, size, false).await?;
        let built = sm.query_sessions(&query).await?;
        ensure!(
            walked.current_page == 3 && built.current_page == 3 && sids(&walked) == sids(&built),
            "{filter:?}: a built token does not fetch the page the walk reaches (pages {} and {})",
            walked.current_page,
            built.current_page
        );
    }
    println!(
        "  token check: page 3 walked from page 1 = page 3 from a built token (unfiltered, and \
         by display name)"
    );

    let ids = sample_ids(&pool, 2_000).await?;
    ensure!(!ids.is_empty(), "no sessions");
    let subjects: Vec<String> = ids.iter().map(|(s, _)| s.clone()).collect();
    let sessions: Vec<String> = ids.iter().map(|(_, s)| s.clone()).collect();
    let p = &args.name_prefix;
    let specs: Vec<(String, Filter, u64, bool)> = vec![
        ("all-p1".into(), Filter::None, 1, false),
        (format!("all-p{deep}"), Filter::None, deep, false),
        (format!("all-p{deep}-backward"), Filter::None, deep, true),
        ("name-all-p1".into(), Filter::Prefix(p.clone()), 1, false),
        (
            format!("name-all-p{deep}"),
            Filter::Prefix(p.clone()),
            deep,
            false,
        ),
        (
            format!("name-all-p{deep}-backward"),
            Filter::Prefix(p.clone()),
            deep,
            true,
        ),
        (
            "name-10pct-p1".into(),
            Filter::Prefix(format!("{p}00")),
            1,
            false,
        ),
        (
            "name-1pct-p1".into(),
            Filter::Prefix(format!("{p}000")),
            1,
            false,
        ),
        (
            "name-0.1pct-p1".into(),
            Filter::Prefix(format!("{p}0000")),
            1,
            false,
        ),
        ("subject-p1".into(), Filter::Subjects(subjects), 1, false),
        ("sid-p1".into(), Filter::Sessions(sessions), 1, false),
    ];
    let mut cases = Vec::new();
    for (name, filter, page, backward) in specs {
        if !wanted(&args.only, &name) {
            continue;
        }
        let (matching, token) = match &filter {
            Filter::None | Filter::Prefix(_) => (
                Some(matching(&pool, &filter).await?),
                token_for(&pool, &filter, page, size, backward).await?,
            ),
            _ => (None, None),
        };
        cases.push(Case {
            name,
            filter,
            page,
            backward,
            matching,
            token,
        });
    }

    println!(
        "  {:<22} {:>9} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "case", "matching", "page", "samples", "p50_us", "p90_us", "p99_us", "max_us", "mean_us"
    );
    let mut lines = Vec::new();
    let mut first_calls = Vec::new();
    for case in &cases {
        // The first call of a case pays what any query of a filter pays once per reuse period
        // of its total (see `oxidp_store::SessionCountPolicy`): reported on its own.
        let first = Instant::now();
        sm.query_sessions(&case.query(0, size)).await?;
        let first_us = first.elapsed().as_micros();
        first_calls.push(format!("{}={first_us}", case.name));
        for i in 1..args.warmup {
            sm.query_sessions(&case.query(i, size)).await?;
        }
        let mut latencies = Vec::with_capacity(args.samples);
        let mut last_token = None;
        let started = Instant::now();
        let limit = Duration::from_secs_f64(args.max_seconds);
        let mut i = 0;
        while i < args.samples && (i < args.min_samples || started.elapsed() < limit) {
            let query = case.query(i, size);
            let call = Instant::now();
            let page = sm.query_sessions(&query).await?;
            latencies.push(call.elapsed());
            ensure!(
                page.current_page == case.page,
                "{}: current_page {} (expected {})",
                case.name,
                page.current_page,
                case.page
            );
            match case.matching {
                Some(expected) => {
                    ensure!(
                        page.total_count == u64::try_from(expected)?
                            && page.results.len() == size as usize,
                        "{}: {} results of {} (expected {size} of {expected})",
                        case.name,
                        page.results.len(),
                        page.total_count
                    );
                }
                None => ensure!(
                    !page.results.is_empty()
                        && page.results.len() as u64 == page.total_count.min(u64::from(size)),
                    "{}: {} results of {}",
                    case.name,
                    page.results.len(),
                    page.total_count
                ),
            }
            if let Some(expected) = &query.subject_id {
                ensure!(page.results.iter().all(|s| &s.subject_id == expected));
            }
            if let Some(expected) = &query.session_id {
                ensure!(page.results.iter().all(|s| &s.session_id == expected));
            }
            last_token = page.results_token;
            i += 1;
        }
        let stats = Stats::of(&latencies);
        let matching = case
            .matching
            .map_or_else(|| "-".to_owned(), |m| m.to_string());
        println!(
            "  {:<22} {:>9} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8.0}",
            case.name,
            matching,
            case.page,
            latencies.len(),
            stats.p50,
            stats.p90,
            stats.p99,
            stats.max,
            stats.mean
        );
        let mut line = format!(
            "RESULT query label={} case={} matching={matching} page={} samples={} p50_us={} \
             p90_us={} p99_us={} max_us={} mean_us={:.0} first_us={first_us}",
            if args.label.is_empty() {
                "-"
            } else {
                &args.label
            },
            case.name,
            case.page,
            latencies.len(),
            stats.p50,
            stats.p90,
            stats.p99,
            stats.max,
            stats.mean
        );
        if args.breakdown > 0
            && case.matching.is_some()
            && let Some(token) = &last_token
        {
            let (select, count) = breakdown(&pool, case, token, size, args.breakdown).await?;
            println!(
                "  {:<22} page SELECT p50 {} p99 {} us; counts p50 {} p99 {} us ({} each)",
                "", select.p50, select.p99, count.p50, count.p99, args.breakdown
            );
            line.push_str(&format!(
                " select_p50_us={} select_p99_us={} count_p50_us={} count_p99_us={}",
                select.p50, select.p99, count.p50, count.p99
            ));
        }
        lines.push(line);
    }
    println!(
        "  first call of each case (us; large filters count their total then): {}",
        first_calls.join(" ")
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "  load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for line in lines {
        println!("{line}");
    }
    store.close().await;
    Ok(())
}
