//! `cleanup`: the real server's expired-session cleanup job draining every session of the
//! populated database, all made expired first, while client-credentials token requests run
//! against the same server.
//!
//! The sessions' clients (`bench`, `portal`, `admin-ui`, as `populate` lists them) get a
//! back-channel logout URI on a local receiver, so the job enqueues a logout message per client
//! of every session (as `expired_sessions_trigger_backchannel_logout` does by default), and the
//! server's delivery worker runs as it would in production. The clock starts when the server
//! answers its health check (the job's first run starts with the server) and stops when no
//! expired session is left. Token latencies are those of requests sent in that window.

use crate::populate::ISSUER;
use anyhow::{Context as _, ensure};
use axum::Router;
use axum::routing::post;
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{Client, GrantType, HashedSecret};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::IdentityServer;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `cleanup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL, as given to `populate`.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// The server binary.
    #[arg(long, default_value = "target/release/oxidp")]
    oxidp: PathBuf,
    /// `server_side_sessions.remove_expired_sessions_batch_size` of the server.
    #[arg(long, default_value_t = 100)]
    batch_size: u32,
    /// Tasks sending token requests during the cleanup (0: no token load).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Token requests per second, spread over the tasks (a steady production-like load, not
    /// a saturating one: the question is whether cleanup disturbs requests).
    #[arg(long, default_value_t = 500)]
    token_rate: u32,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Where the server's output goes (and its configuration, next to it).
    #[arg(long, default_value = "cleanup-server.log")]
    server_log: PathBuf,
    /// A label for the RESULT line (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
}

/// The clients `populate` writes into tickets.
const SESSION_CLIENTS: [&str; 3] = ["bench", "portal", "admin-ui"];
const TOKEN_CLIENT: &str = "bench-cleanup-m2m";
const TOKEN_SECRET: &str = "bench-cleanup-secret";

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let shown = oxidp_server::redact_url(&args.url);
    let (store, pool) = crate::db::open(&args.url, 4).await?;
    let backend = pool.backend();
    let stores = store.stores();
    let options = IdentityServerOptions::new(ISSUER).map_err(anyhow::Error::msg)?;
    let idp = IdentityServer::builder(options, stores.clone(), Arc::new(SystemClock))
        .server_side_sessions(None)
        .build();
    // The signing key exists before the server starts, so that it does not create another.
    idp.keys().maintain().await?;

    let delivered = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let counter = delivered.clone();
    let app = Router::new().route(
        "/bc/{client}",
        post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { "" }
        }),
    );
    let receiving = tokio::spawn(async move { axum::serve(listener, app).await });

    for client_id in SESSION_CLIENTS {
        let mut client = Client::new(client_id);
        client.backchannel_logout_uri = Some(format!("http://{address}/bc/{client_id}"));
        client.backchannel_logout_session_required = true;
        stores.clients.upsert_client(&client).await?;
    }
    let mut m2m = Client::new(TOKEN_CLIENT);
    m2m.secrets = vec![HashedSecret::from_plaintext(TOKEN_SECRET)];
    m2m.allowed_grant_types = vec![GrantType::ClientCredentials];
    m2m.allowed_scopes = vec!["bench.api".to_owned()];
    stores.clients.upsert_client(&m2m).await?;

    // Every session expires a minute ago; nothing is claimed.
    let expired_at = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    crate::db::execute(
        &pool,
        &format!("UPDATE server_side_sessions SET expires = {expired_at}"),
        &[],
    )
    .await?;
    crate::db::execute(&pool, "DELETE FROM backchannel_outbox", &[]).await?;
    // Statistics as autovacuum would have them shortly after a change this size (SQLite keeps
    // none unless asked, and the server never asks).
    if matches!(pool, crate::db::Pool::Postgres(_)) {
        crate::db::execute(&pool, "ANALYZE server_side_sessions", &[]).await?;
    }
    let expired =
        crate::db::scalar(&pool, "SELECT COUNT(*) FROM server_side_sessions", &[]).await?;
    // Polled while the job runs: an existence probe, not a count, so that watching costs the
    // database next to nothing.
    let remaining_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM server_side_sessions WHERE expires <= {expired_at} \
         LIMIT 1) AS left_over"
    );

    let port = free_port()?;
    let config = args.server_log.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "# oxidp-bench-sessions cleanup: the server whose cleanup job drains the sessions.\n\
             [server_side_sessions]\nenabled = true\nremove_expired_sessions = true\n\
             remove_expired_sessions_frequency = \"2s\"\nfuzz_expired_session_removal_start = false\n\
             remove_expired_sessions_batch_size = {}\n\n\
             [[api_resources]]\nname = \"bench-api\"\nscopes = [\"bench.api\"]\n\n\
             [log]\nlevel = \"warn\"\n",
            args.batch_size
        ),
    )
    .with_context(|| format!("cannot write {}", config.display()))?;
    let log = std::fs::File::create(&args.server_log)
        .with_context(|| format!("cannot create {}", args.server_log.display()))?;
    let mut server = tokio::process::Command::new(&args.oxidp)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("OXIDP_STORE__URL", &args.url)
        .env("OXIDP_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.oxidp.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        ensure!(
            server.try_wait()?.is_none(),
            "the server exited; see {}",
            args.server_log.display()
        );
        ensure!(
            Instant::now() < ready_deadline,
            "the server did not start within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let pid = server.id().unwrap_or(0);
    let cpu_before = crate::outbox::cpu_seconds(pid);
    println!(
        "cleanup on {shown} ({backend}): {expired} expired sessions, batch {}, server pid {}, \
         {} token requests/s from {} tasks",
        args.batch_size,
        server.id().unwrap_or(0),
        args.token_rate,
        args.concurrency
    );

    let done = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, url, done) = (http.clone(), format!("{base}/connect/token"), done.clone());
        let period =
            Duration::from_secs_f64(args.concurrency as f64 / f64::from(args.token_rate.max(1)));
        load.spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut ticks = tokio::time::interval(period);
            while !done.load(Ordering::Relaxed) {
                ticks.tick().await;
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .basic_auth(TOKEN_CLIENT, Some(TOKEN_SECRET))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        });
    }

    let timeout = Duration::from_secs(args.timeout);
    let mut remaining = expired;
    while remaining > 0 {
        ensure!(
            started.elapsed() < timeout,
            "expired sessions are still left after {timeout:?}"
        );
        ensure!(
            server.try_wait()?.is_none(),
            "the server exited; see {}",
            args.server_log.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        remaining = crate::db::scalar(&pool, &remaining_sql, &[]).await?;
    }
    let cleanup_s = started.elapsed().as_secs_f64();
    let server_cpu_s = crate::outbox::cpu_seconds(pid) - cpu_before;
    done.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    while let Some(task) = load.join_next().await {
        let (mut l, f) = task?;
        latencies.append(&mut l);
        failures += f;
    }
    latencies.sort();
    let messages = crate::db::scalar(&pool, "SELECT COUNT(*) FROM backchannel_outbox", &[]).await?;
    let delivered_so_far = delivered.load(Ordering::Relaxed);
    let load1 = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned();
    let _ = server.kill().await;
    receiving.abort();
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    );
    println!(
        "  {expired} expired sessions removed in {cleanup_s:.1} s ({:.0}/s), {messages} logout \
         messages enqueued ({delivered_so_far} delivered meanwhile); {} token requests \
         ({:.0}/s, {failures} failed): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; server \
         CPU {server_cpu_s:.1} s ({:.0} us per session, delivery and token requests included); \
         load average {load1}",
        expired as f64 / cleanup_s,
        latencies.len(),
        latencies.len() as f64 / cleanup_s,
        server_cpu_s * 1e6 / expired.max(1) as f64,
    );
    println!(
        "RESULT cleanup label={} sessions={expired} batch={} cleanup_s={cleanup_s:.1} \
         messages={messages} delivered={delivered_so_far} tokens={} token_failures={failures} \
         token_p50_ms={p50:.1} token_p99_ms={p99:.1} token_max_ms={max:.1} \
         server_cpu_s={server_cpu_s:.1} load1={load1}",
        args.label,
        args.batch_size,
        latencies.len()
    );
    Ok(())
}
