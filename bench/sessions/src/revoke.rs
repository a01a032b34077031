//! `revoke`: times `SessionManagementService::remove_sessions` for a user with 100 sessions,
//! each used with the same 3 clients that have a back-channel logout URI: one call deletes the
//! 100 session records, revokes the sessions' tokens and the user's consents, and enqueues 300
//! logout messages, in one commit.
//!
//! Setup (not timed), on the populated database: 3 clients with a `backchannel_logout_uri`
//! (`upsert_client`), then for each measured user a user record, 100 sessions sealed by the
//! server's own `ServerSideTicketStore` (one `create_session` each, `client_ids` = the 3
//! clients) and, per session and client, `--grants-per-client` refresh-token grants, plus one
//! consent per client. Then each user is removed with the default context (all four flags on),
//! one after the other; every call must report 100 sessions removed and 300 notifications, and
//! afterwards the database must hold none of the user's sessions or grants and 300 pending
//! outbox messages for them.
//!
//! The outbox store the service uses is wrapped, so `commit_removal` (the one transaction:
//! `DELETE` of the sessions, of the grants, `INSERT` of the messages, `COMMIT`) is timed on its
//! own inside the real call; the rest of the call is reading the user's sessions, opening their
//! tickets, looking up the clients and signing 300 logout tokens.
//!
//! At the end the benchmark's users, sessions, grants, clients and outbox messages are deleted
//! again, so the database is left as `populate` made it.

use crate::db::Pool;
use crate::measure::Stats;
use crate::populate::ISSUER;
use anyhow::{Context as _, ensure};
use async_trait::async_trait;
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{
    AttemptOutcome, AuthenticationTicket, Client, DeliveryAttempt, DeliveryStatus, OutboxMessage,
    PersistedGrant, SessionExpiration, SessionRemoval, User, grant_types,
};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::{
    IdentityServer, RemoveSessionsContext, ServerSideTicketStore, TicketStore,
};
use oxidp_core::store::{ExpiredSessionBatch, OutboxStore, StoreResult};
use oxidp_jose::{b64url_encode, random_bytes};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;

/// Arguments of `revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL, as given to `populate`.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// Users removed and timed.
    #[arg(long, default_value_t = 30)]
    users: usize,
    /// Users removed first, untimed.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Sessions per user.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Clients (each with a back-channel logout URI) in every session's client list.
    #[arg(long, default_value_t = 3)]
    clients: usize,
    /// Refresh-token grants per session and client (revoked with the sessions).
    #[arg(long, default_value_t = 1)]
    grants_per_client: usize,
    /// Pooled database connections (the server's default is 10).
    #[arg(long, default_value_t = 10)]
    max_connections: u32,
    /// A label for the RESULT line (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
}

/// The outbox store, with the duration of each `commit_removal` recorded.
struct TimedOutbox {
    inner: Arc<dyn OutboxStore>,
    commits: Mutex<Vec<Duration>>,
}

#[async_trait]
impl OutboxStore for TimedOutbox {
    async fn commit_removal(&self, removal: &SessionRemoval) -> StoreResult<u64> {
        let started = Instant::now();
        let result = self.inner.commit_removal(removal).await;
        let elapsed = started.elapsed();
        if let Ok(mut commits) = self.commits.lock() {
            commits.push(elapsed);
        }
        result
    }

    async fn commit_expirations(
        &self,
        now: OffsetDateTime,
        expirations: &[SessionExpiration],
    ) -> StoreResult<Vec<String>> {
        self.inner.commit_expirations(now, expirations).await
    }

    async fn take_expired<'a>(
        &'a self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + 'a>> {
        self.inner.take_expired(now, batch).await
    }

    fn expiration_lanes(&self) -> usize {
        self.inner.expiration_lanes()
    }

    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        self.inner.enqueue(messages).await
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.inner.claim_due(now, lease_until, batch).await
    }

    async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> StoreResult<()> {
        self.inner.record_attempts(outcomes).await
    }

    async fn list_messages(
        &self,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.inner.list_messages(status, limit).await
    }

    async fn list_attempts(&self, message_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>> {
        self.inner.list_attempts(message_id).await
    }
}

/// The benchmark's clients: `bench-bc-1`, …, with a back-channel logout URI each.
pub(crate) fn bench_clients(count: usize, base: &str, prefix: &str) -> Vec<Client> {
    (1..=count)
        .map(|n| {
            let id = format!("{prefix}{n}");
            let mut client = Client::new(&id);
            client.client_name = Some(format!("Back-channel benchmark client {n}"));
            client.backchannel_logout_uri = Some(format!("{base}/{id}"));
            client.backchannel_logout_session_required = true;
            client
        })
        .collect()
}

/// `IN (...)` of the benchmark's client ids, as SQL text (ids are ours: `[a-z0-9-]`).
pub(crate) fn client_list(clients: &[Client]) -> String {
    clients
        .iter()
        .map(|c| format!("'{}'", c.client_id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A user created for the benchmark.
fn bench_user(n: usize, now: OffsetDateTime) -> User {
    let mut claims = BTreeMap::new();
    claims.insert("name".to_owned(), json!(format!("Revoke Bench {n:04}")));
    claims.insert(
        "email".to_owned(),
        json!(format!("revoke{n:04}@bench.test")),
    );
    User {
        subject_id: format!("revoke-bench-{}", b64url_encode(random_bytes::<12>())),
        username: format!("revoke-bench-{n:04}-{}", b64url_encode(random_bytes::<6>())),
        password_hash: None,
        claims,
        enabled: true,
        roles: Vec::new(),
        created: now,
    }
}

/// Deletes everything the benchmark added (rows of users named `revoke-bench-…`).
async fn clean_up(pool: &Pool, clients: &[Client]) -> anyhow::Result<()> {
    let list = client_list(clients);
    let sqls = [
        format!("DELETE FROM backchannel_outbox WHERE client_id IN ({list})"),
        "DELETE FROM persisted_grants WHERE subject_id LIKE 'revoke-bench-%'".to_owned(),
        "DELETE FROM server_side_sessions WHERE subject_id LIKE 'revoke-bench-%'".to_owned(),
        "DELETE FROM users WHERE subject_id LIKE 'revoke-bench-%'".to_owned(),
        format!("DELETE FROM clients WHERE client_id IN ({list})"),
    ];
    for sql in &sqls {
        crate::db::execute(pool, sql, &[]).await?;
    }
    Ok(())
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.users > 0, "--users must be at least 1");
    ensure!(args.sessions > 0, "--sessions must be at least 1");
    let shown = oxidp_server::redact_url(&args.url);
    let (store, pool) = crate::db::open(&args.url, args.max_connections).await?;
    let backend = pool.backend();
    let mut stores = store.stores();
    let timed = Arc::new(TimedOutbox {
        inner: stores.outbox.clone(),
        commits: Mutex::new(Vec::new()),
    });
    stores.outbox = timed.clone();
    let mut options = IdentityServerOptions::new(ISSUER).map_err(anyhow::Error::msg)?;
    options.server_side_sessions.user_display_name_claim_type = Some("name".to_owned());
    let lifetime = time::Duration::try_from(options.authentication.cookie_lifetime)?;
    let idp = IdentityServer::builder(options, stores.clone(), Arc::new(SystemClock))
        .server_side_sessions(None)
        .build();
    // The signing key the logout tokens need exists before the first timed call.
    idp.keys().maintain().await?;

    // Nothing listens there: no server runs during this step, and the messages are deleted
    // at the end.
    let clients = bench_clients(args.clients, "http://127.0.0.1:9/backchannel", "bench-bc-");
    clean_up(&pool, &clients).await?;
    for client in &clients {
        stores.clients.upsert_client(client).await?;
    }
    let client_ids: Vec<String> = clients.iter().map(|c| c.client_id.clone()).collect();
    let list = client_list(&clients);
    let sessions_before =
        crate::db::scalar(&pool, "SELECT COUNT(*) FROM server_side_sessions", &[]).await?;

    let total_users = args.warmup + args.users;
    println!(
        "remove_sessions on {shown} ({backend}, {sessions_before} sessions): {total_users} users \
         ({} untimed) with {} sessions x {} clients, {} refresh token(s) per session and client",
        args.warmup, args.sessions, args.clients, args.grants_per_client
    );
    let setup = Instant::now();
    let tickets = ServerSideTicketStore::new(
        stores.sessions.clone(),
        idp.protector().clone(),
        Some("name".to_owned()),
    );
    let now = OffsetDateTime::now_utc();
    let mut rng = crate::SplitMix::from_entropy();
    let mut users = Vec::with_capacity(total_users);
    let mut grants = 0usize;
    for n in 0..total_users {
        let user = bench_user(n, now);
        stores.users.create_user(&user).await?;
        for _ in 0..args.sessions {
            let issued = now - time::Duration::seconds(rng.below(4 * 3600) as i64);
            let ticket = AuthenticationTicket {
                subject_id: user.subject_id.clone(),
                session_id: b64url_encode(random_bytes::<16>()),
                auth_time: issued,
                idp: "local".to_owned(),
                amr: vec!["pwd".to_owned()],
                client_ids: client_ids.clone(),
                issued,
                expires: issued + lifetime,
                claims: user.claims.clone(),
                issuer: None,
            };
            tickets.store(&ticket).await?;
            for client_id in &client_ids {
                for _ in 0..args.grants_per_client {
                    stores
                        .grants
                        .store_grant(&PersistedGrant {
                            key: b64url_encode(random_bytes::<32>()),
                            grant_type: grant_types::REFRESH_TOKEN.to_owned(),
                            subject_id: Some(user.subject_id.clone()),
                            session_id: Some(ticket.session_id.clone()),
                            client_id: client_id.clone(),
                            created: issued,
                            expires: Some(issued + time::Duration::days(30)),
                            consumed: None,
                            data: "{}".to_owned(),
                        })
                        .await?;
                    grants += 1;
                }
            }
        }
        for client_id in &client_ids {
            stores
                .grants
                .store_grant(&PersistedGrant {
                    key: b64url_encode(random_bytes::<32>()),
                    grant_type: grant_types::USER_CONSENT.to_owned(),
                    subject_id: Some(user.subject_id.clone()),
                    session_id: None,
                    client_id: client_id.clone(),
                    created: now,
                    expires: None,
                    consumed: None,
                    data: "{}".to_owned(),
                })
                .await?;
            grants += 1;
        }
        users.push(user);
    }
    println!(
        "  setup: {} users, {} sessions, {grants} grants in {:.1} s",
        users.len(),
        users.len() * args.sessions,
        setup.elapsed().as_secs_f64()
    );
    let expected_messages = (args.sessions * args.clients) as u64;

    let mut totals = Vec::with_capacity(args.users);
    let mut commits = Vec::with_capacity(args.users);
    for (i, user) in users.iter().enumerate() {
        let context = RemoveSessionsContext {
            subject_id: Some(user.subject_id.clone()),
            ..RemoveSessionsContext::default()
        };
        let started = Instant::now();
        let summary = idp.session_management.remove_sessions(&context).await?;
        let elapsed = started.elapsed();
        let commit = timed
            .commits
            .lock()
            .ok()
            .and_then(|mut c| c.pop())
            .context("remove_sessions did not commit")?;
        ensure!(
            summary.sessions_removed == args.sessions as u64
                && summary.notifications_enqueued == expected_messages,
            "user {i}: {} sessions removed, {} notifications (expected {} and {expected_messages})",
            summary.sessions_removed,
            summary.notifications_enqueued,
            args.sessions
        );
        // What the commit left in the database (checked outside the timing).
        let subject = user.subject_id.as_str();
        let pending = crate::db::scalar(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM backchannel_outbox WHERE subject_id = $1 AND \
                 status = 'pending' AND client_id IN ({list})"
            ),
            &[subject],
        )
        .await?;
        let sessions_left = crate::db::scalar(
            &pool,
            "SELECT COUNT(*) FROM server_side_sessions WHERE subject_id = $1",
            &[subject],
        )
        .await?;
        let grants_left = crate::db::scalar(
            &pool,
            "SELECT COUNT(*) FROM persisted_grants WHERE subject_id = $1",
            &[subject],
        )
        .await?;
        ensure!(
            u64::try_from(pending)? == expected_messages && sessions_left == 0 && grants_left == 0,
            "user {i}: {pending} pending messages, {sessions_left} sessions and {grants_left} \
             grants left"
        );
        if i >= args.warmup {
            totals.push(elapsed);
            commits.push(commit);
        }
    }
    let total = Stats::of(&totals);
    let commit = Stats::of(&commits);
    let rest: Vec<Duration> = totals
        .iter()
        .zip(&commits)
        .map(|(t, c)| t.saturating_sub(*c))
        .collect();
    let rest = Stats::of(&rest);
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "  remove_sessions, {} users, each {} sessions removed + {expected_messages} messages \
         enqueued (checked):",
        totals.len(),
        args.sessions
    );
    println!(
        "    whole call:          p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1} ms",
        ms(total.p50),
        ms(total.p90),
        ms(total.p99),
        ms(total.max),
        total.mean / 1000.0
    );
    println!(
        "    commit_removal:      p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1} ms",
        ms(commit.p50),
        ms(commit.p90),
        ms(commit.p99),
        ms(commit.max),
        commit.mean / 1000.0
    );
    println!(
        "    rest (read, decrypt, sign): p50 {:.1}  p99 {:.1} ms",
        ms(rest.p50),
        ms(rest.p99)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load1 = load.split_whitespace().next().unwrap_or("?").to_owned();
    println!("    load average {load1}");

    clean_up(&pool, &clients).await?;
    let sessions_after =
        crate::db::scalar(&pool, "SELECT COUNT(*) FROM server_side_sessions", &[]).await?;
    ensure!(
        sessions_after == sessions_before,
        "{sessions_after} sessions after clean-up, {sessions_before} before"
    );
    println!(
        "RESULT revoke label={} users={} sessions_per_user={} messages_per_user={expected_messages} \
         p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} commit_p50_ms={:.1} \
         commit_p99_ms={:.1} commit_max_ms={:.1} rest_p50_ms={:.1} rest_p99_ms={:.1} load1={load1}",
        if args.label.is_empty() {
            "-"
        } else {
            &args.label
        },
        totals.len(),
        args.sessions,
        ms(total.p50),
        ms(total.p90),
        ms(total.p99),
        ms(total.max),
        ms(commit.p50),
        ms(commit.p99),
        ms(commit.max),
        ms(rest.p50),
        ms(rest.p99)
    );
    store.close().await;
    Ok(())
}
