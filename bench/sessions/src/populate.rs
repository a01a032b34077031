//! `populate`: users and server-side sessions with real encrypted tickets, bulk-loaded.
//!
//! Each bulk ticket goes through [`TicketStore::store`] of a [`ServerSideTicketStore`] on the
//! database's key ring, backed by a throwaway [`MemoryStore`]: the record it writes there (key
//! hashed from the cookie value, ticket sealed, plaintext columns) is exactly what the server
//! would write, and is then copied into the database in multi-row `INSERT`s. The cookie value
//! it returns is what the sample file keeps.

use crate::SplitMix;
use crate::db::{Pool, with_pool};
use anyhow::{Context as _, bail, ensure};
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{
    AuthenticationTicket, ServerSideSession, SessionFilter, User, UserProfile,
};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::{IdentityServer, ServerSideTicketStore, TicketStore};
use oxidp_core::store::{MemoryStore, SessionStore};
use oxidp_jose::{b64url_encode, random_bytes};
use oxidp_store::StoreOptions;
use serde_json::json;
use sqlx::QueryBuilder;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// The issuer of the throwaway identity server (sessions do not depend on it).
pub(crate) const ISSUER: &str = "http://oxidp.bench.invalid";

/// Clients a ticket may list (the server records the clients a session was used with).
const CLIENTS: [&str; 3] = ["bench", "portal", "admin-ui"];

/// Arguments of `populate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL (`sqlite:///abs/path.db` or `postgres://...`); migrated if needed.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// Sessions to create.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Users the sessions belong to (each session picks one at random).
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Sessions created one by one through `SessionService::sign_in` (the server's own path)
    /// before the bulk load.
    #[arg(long, default_value_t = 1_000)]
    via_sign_in: u64,
    /// Rows per multi-row `INSERT`.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// `INSERT` statements per transaction.
    #[arg(long, default_value_t = 20)]
    statements_per_transaction: usize,
    /// Where to write the sampled session keys, one a line, in random order.
    #[arg(long, default_value = "session-keys.txt")]
    keys: PathBuf,
    /// How many keys to sample (`measure` warms up on the first ones and times the rest).
    #[arg(long, default_value_t = 11_000)]
    sample: usize,
}

/// Inserts `statements` (each a batch of rows) in one transaction.
async fn insert_sessions(
    pool: &Pool,
    statements: Vec<Vec<ServerSideSession>>,
) -> anyhow::Result<()> {
    with_pool!(pool, |pool, Db| {
        let mut tx = pool.begin().await?;
        for rows in statements {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO server_side_sessions (key, scheme, subject_id, session_id, \
                 display_name, created, renewed, expires, ticket) ",
            );
            query.push_values(rows, |mut row, s| {
                row.push_bind(s.key)
                    .push_bind(s.scheme)
                    .push_bind(s.subject_id)
                    .push_bind(s.session_id)
                    .push_bind(s.display_name)
                    .push_bind(s.created.unix_timestamp())
                    .push_bind(s.renewed.unix_timestamp())
                    .push_bind(s.expires.map(OffsetDateTime::unix_timestamp))
                    .push_bind(s.ticket);
            });
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Inserts users in batches of `batch`, in one transaction.
async fn insert_users(pool: &Pool, users: &[User], batch: usize) -> anyhow::Result<()> {
    with_pool!(pool, |pool, Db| {
        let mut tx = pool.begin().await?;
        for rows in users.chunks(batch) {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO users (subject_id, username, password_hash, profile, enabled, \
                 created) ",
            );
            let mut failed = None;
            query.push_values(rows, |mut row, user| {
                let profile = UserProfile {
                    claims: user.claims.clone(),
                    roles: user.roles.clone(),
                };
                let profile = serde_json::to_string(&profile).unwrap_or_else(|e| {
                    failed = Some(e);
                    String::new()
                });
                row.push_bind(user.subject_id.clone())
                    .push_bind(user.username.clone())
                    .push_bind(user.password_hash.clone())
                    .push_bind(profile)
                    .push_bind(user.enabled)
                    .push_bind(user.created.unix_timestamp());
            });
            if let Some(error) = failed {
                return Err(error.into());
            }
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

async fn count_rows(pool: &Pool, table: &str) -> anyhow::Result<i64> {
    let sql = match table {
        "users" => "SELECT COUNT(*) FROM users",
        _ => "SELECT COUNT(*) FROM server_side_sessions",
    };
    Ok(match pool {
        Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
    })
}

/// Refreshes planner statistics, folds the SQLite WAL into the database file, and returns the
/// database's size in bytes.
async fn finish(pool: &Pool) -> anyhow::Result<i64> {
    Ok(match pool {
        Pool::Sqlite(pool) => {
            sqlx::query("ANALYZE").execute(pool).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
            sqlx::query_scalar(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            )
            .fetch_one(pool)
            .await?
        }
        Pool::Postgres(pool) => {
            // Sets the hint bits and the visibility map, as autovacuum would some time later.
            sqlx::query("VACUUM (ANALYZE) server_side_sessions")
                .execute(pool)
                .await?;
            sqlx::query("VACUUM (ANALYZE) users").execute(pool).await?;
            sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await?
        }
    })
}

/// Users with realistic claims (name, email), no password (nobody signs in during the run).
fn make_users(count: u64, now: OffsetDateTime) -> Vec<User> {
    (0..count)
        .map(|i| {
            let mut claims = BTreeMap::new();
            claims.insert("name".to_owned(), json!(format!("Bench User {i:06}")));
            claims.insert("email".to_owned(), json!(format!("user{i:06}@bench.test")));
            claims.insert("email_verified".to_owned(), json!(true));
            User {
                subject_id: b64url_encode(random_bytes::<16>()),
                username: format!("user{i:06}"),
                password_hash: None,
                claims,
                enabled: true,
                roles: Vec::new(),
                created: now,
            }
        })
        .collect()
}

/// Keeps a uniform random sample of `size` keys among all offered (reservoir sampling).
struct Reservoir {
    size: usize,
    seen: u64,
    keys: Vec<String>,
    rng: SplitMix,
}

impl Reservoir {
    fn new(size: usize) -> Self {
        Self {
            size,
            seen: 0,
            keys: Vec::with_capacity(size),
            rng: SplitMix::from_entropy(),
        }
    }

    fn offer(&mut self, key: &str) {
        self.seen += 1;
        if self.keys.len() < self.size {
            self.keys.push(key.to_owned());
        } else {
            let slot = self.rng.below(self.seen);
            if let Some(kept) = usize::try_from(slot)
                .ok()
                .and_then(|slot| self.keys.get_mut(slot))
            {
                key.clone_into(kept);
            }
        }
    }

    /// The sample, shuffled (Fisher-Yates).
    fn into_shuffled(mut self) -> Vec<String> {
        for i in (1..self.keys.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            self.keys.swap(i, j);
        }
        self.keys
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.users > 0, "--users must be at least 1");
    ensure!(args.batch > 0, "--batch must be at least 1");
    ensure!(
        args.statements_per_transaction > 0,
        "--statements-per-transaction must be at least 1"
    );
    let started = Instant::now();
    let shown = oxidp_server::redact_url(&args.url);
    let store = oxidp_store::connect(
        &args.url,
        &StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(60),
            ..StoreOptions::default()
        },
    )
    .await
    .with_context(|| format!("cannot open {shown}"))?;
    let pool = Pool::of(&store);
    let existing = count_rows(&pool, "server_side_sessions").await?;
    if existing > 0 || count_rows(&pool, "users").await? > 0 {
        bail!("{shown} already holds users or sessions; populate a fresh database");
    }

    let mut options = IdentityServerOptions::new(ISSUER).map_err(anyhow::Error::msg)?;
    options.server_side_sessions.user_display_name_claim_type = Some("name".to_owned());
    let lifetime = time::Duration::try_from(options.authentication.cookie_lifetime)?;
    let idp = IdentityServer::builder(options, store.stores(), Arc::new(SystemClock))
        .server_side_sessions(None)
        .build();
    // Creates the data-protection key in the database: `measure` and the server load it.
    idp.protector().maintain().await?;
    let now = OffsetDateTime::now_utc();

    println!(
        "populating {shown}: {} users, {} sessions",
        args.users, args.count
    );
    let phase = Instant::now();
    let users = Arc::new(make_users(args.users, now));
    insert_users(&pool, &users, args.batch).await?;
    println!(
        "  users: {} in {:.1} s",
        users.len(),
        phase.elapsed().as_secs_f64()
    );

    let mut reservoir = Reservoir::new(args.sample);
    let mut rng = SplitMix::from_entropy();

    // The server's own path: one sign-in, one INSERT.
    let phase = Instant::now();
    let via_sign_in = args.via_sign_in.min(args.count);
    for _ in 0..via_sign_in {
        let user = &users[rng.below(args.users) as usize];
        let (_, key) = idp.sessions.sign_in(user, &["pwd"], "local", None).await?;
        reservoir.offer(&key);
    }
    let elapsed = phase.elapsed().as_secs_f64();
    println!(
        "  sessions via sign_in: {via_sign_in} in {elapsed:.1} s ({:.0}/s)",
        via_sign_in as f64 / elapsed.max(1e-9)
    );

    // The rest: each ticket sealed by the same ServerSideTicketStore into a memory store, then
    // copied in bulk. Sealing runs on one task, inserting on another.
    let phase = Instant::now();
    let bulk = args.count - via_sign_in;
    let (tx, mut rx) = mpsc::channel::<Vec<Vec<ServerSideSession>>>(2);
    let sealer = {
        let protector = idp.protector().clone();
        let users = users.clone();
        let batch = args.batch;
        let per_tx = args.statements_per_transaction;
        tokio::spawn(async move {
            let memory = Arc::new(MemoryStore::default());
            let sessions: Arc<dyn SessionStore> = memory.clone();
            let tickets = ServerSideTicketStore::new(sessions, protector, Some("name".to_owned()));
            let mut made = 0u64;
            let mut transaction = Vec::with_capacity(per_tx);
            let mut rows = Vec::with_capacity(batch);
            while made < bulk {
                let user = &users[rng.below(users.len() as u64) as usize];
                let ticket = ticket_for(user, now, lifetime, &mut rng);
                let key = tickets.store(&ticket).await?;
                // The record is stored under a hash of the cookie value: take it out of the
                // memory store by its session id (it is the only one there).
                let filter = SessionFilter {
                    session_id: Some(ticket.session_id.clone()),
                    ..SessionFilter::default()
                };
                let mut records = memory.get_sessions(&filter).await?;
                for record in &records {
                    memory.delete_session(&record.key).await?;
                }
                ensure!(
                    records.len() == 1,
                    "the memory store held {} records for a sealed session",
                    records.len()
                );
                let record = records.remove(0);
                reservoir.offer(&key);
                rows.push(record);
                made += 1;
                if rows.len() == batch || made == bulk {
                    transaction.push(std::mem::replace(&mut rows, Vec::with_capacity(batch)));
                }
                if transaction.len() == per_tx || (made == bulk && !transaction.is_empty()) {
                    let full = std::mem::replace(&mut transaction, Vec::with_capacity(per_tx));
                    if tx.send(full).await.is_err() {
                        bail!("the inserter stopped");
                    }
                }
            }
            anyhow::Ok(reservoir)
        })
    };
    let mut inserted = 0u64;
    let mut last_report = Instant::now();
    while let Some(transaction) = rx.recv().await {
        let rows: usize = transaction.iter().map(Vec::len).sum();
        insert_sessions(&pool, transaction).await?;
        inserted += rows as u64;
        if last_report.elapsed() >= Duration::from_secs(15) {
            last_report = Instant::now();
            println!(
                "  ... {inserted} bulk sessions ({:.0}/s)",
                inserted as f64 / phase.elapsed().as_secs_f64()
            );
        }
    }
    let reservoir = sealer.await??;
    ensure!(
        inserted == bulk,
        "inserted {inserted} of {bulk} bulk sessions"
    );
    let elapsed = phase.elapsed().as_secs_f64();
    println!(
        "  sessions bulk-loaded: {inserted} in {elapsed:.1} s ({:.0}/s)",
        inserted as f64 / elapsed.max(1e-9)
    );

    let phase = Instant::now();
    let size = finish(&pool).await?;
    println!(
        "  analyze/checkpoint/vacuum: {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    let total = count_rows(&pool, "server_side_sessions").await?;
    ensure!(
        u64::try_from(total)? == args.count,
        "{total} sessions stored, {} expected",
        args.count
    );

    let keys = reservoir.into_shuffled();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&args.keys)
            .with_context(|| format!("cannot create {}", args.keys.display()))?,
    );
    for key in &keys {
        writeln!(file, "{key}")?;
    }
    file.flush()?;
    store.close().await;

    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  {} sampled keys written to {}",
        keys.len(),
        args.keys.display()
    );
    println!(
        "populated {total} sessions ({} users) in {seconds:.1} s; database size {:.0} MB",
        args.users,
        size as f64 / 1e6
    );
    println!(
        "RESULT populate sessions={total} users={} seconds={seconds:.1} db_bytes={size}",
        args.users
    );
    Ok(())
}

/// A ticket as `SessionService::sign_in` makes it, signed in up to four hours ago (so that it
/// still has at least six of its ten hours to live during the run), used with up to three
/// clients.
fn ticket_for(
    user: &User,
    now: OffsetDateTime,
    lifetime: time::Duration,
    rng: &mut SplitMix,
) -> AuthenticationTicket {
    let age = time::Duration::seconds(rng.below(4 * 3600) as i64);
    let issued = now - age;
    let clients = rng.below(CLIENTS.len() as u64 + 1) as usize;
    AuthenticationTicket {
        subject_id: user.subject_id.clone(),
        session_id: b64url_encode(random_bytes::<16>()),
        auth_time: issued,
        idp: "local".to_owned(),
        amr: vec!["pwd".to_owned()],
        client_ids: CLIENTS[..clients].iter().map(|c| (*c).to_owned()).collect(),
        issued,
        expires: issued + lifetime,
        claims: user.claims.clone(),
        issuer: None,
    }
}
