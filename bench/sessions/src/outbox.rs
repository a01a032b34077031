//! `outbox`: how fast the real server (`oxidp serve`) drains the back-channel logout outbox to
//! a local receiver.
//!
//! This process runs the receiver (axum on 127.0.0.1, one route per client, answering 200) and
//! registers 3 clients whose `backchannel_logout_uri` points at it (`upsert_client`), then
//! starts `oxidp serve` on the same database as a child process. The server's delivery worker
//! (`oxidp-server/src/backchannel.rs`) claims up to 100 due messages at a time, signs a fresh
//! logout token for each, POSTs it (`logout_token` form field) and records the attempt; when
//! the outbox is empty it polls once a second.
//!
//! First a warm-up batch is enqueued and waited for (it also proves the server is up). Then
//! `--messages` messages, built by the core's `BackchannelLogoutService::messages_for` (3 per
//! ended session, reason `terminated`), are enqueued in one transaction with
//! `OutboxStore::enqueue`, and the clock starts when that commit returns. The receiver checks
//! each POST (a JWT with `typ: logout+jwt`, the back-channel logout event, `aud` = the client
//! of the URL, a `jti` that is the id of one of the enqueued messages) and counts distinct
//! `jti`s; the run ends when every message has arrived and the database shows every message
//! `delivered` with one attempt recorded.
//!
//! Reported: the delay to the first delivery (the worker's idle poll), the rate from the first
//! to the last delivery (steady state) and from the commit to the last one (end to end), the
//! time until every attempt was recorded, and the server's CPU time per message.

use crate::db::Pool;
use crate::populate::ISSUER;
use crate::revoke::{bench_clients, client_list};
use anyhow::{Context as _, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{LogoutReason, OutboxMessage};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::{BACKCHANNEL_LOGOUT_EVENT, EndedSession, IdentityServer};
use oxidp_jose::{b64url_decode, b64url_encode, random_bytes};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Arguments of `outbox`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL, as given to `populate`.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// The server binary.
    #[arg(long, default_value = "target/release/oxidp")]
    oxidp: PathBuf,
    /// Messages enqueued and timed.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Messages enqueued and waited for first, untimed.
    #[arg(long, default_value_t = 300)]
    warmup: usize,
    /// Clients notified (3 messages per ended session with 3).
    #[arg(long, default_value_t = 3)]
    clients: usize,
    /// Give up after this many seconds of waiting for deliveries.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Where the server's output goes (and its configuration, next to it).
    #[arg(long, default_value = "outbox-server.log")]
    server_log: PathBuf,
    /// A label for the RESULT line (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
}

/// What the receiver has seen.
#[derive(Debug, Default)]
struct Received {
    /// The ids (`jti`) being waited for.
    expected: HashSet<String>,
    /// Those that arrived.
    arrived: HashSet<String>,
    /// POSTs of an id that had already arrived.
    duplicates: u64,
    /// POSTs whose token was not a valid logout token for the URL's client.
    invalid: u64,
    /// POSTs of ids not waited for (e.g. a late warm-up retry).
    other: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Debug, Default)]
struct Receiver {
    state: Mutex<Received>,
    done: Notify,
}

impl Receiver {
    /// Waits for `ids`, forgetting earlier arrivals.
    fn expect(&self, ids: impl IntoIterator<Item = String>) {
        if let Ok(mut state) = self.state.lock() {
            *state = Received {
                expected: ids.into_iter().collect(),
                ..Received::default()
            };
        }
    }

    fn complete(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.arrived.len() == s.expected.len())
            .unwrap_or(false)
    }
}

/// The `jti` of a valid logout token for `client`, or `None`.
fn check_token(token: &str, client: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || signature.is_empty() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&b64url_decode(header)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    let valid = header["typ"] == "logout+jwt"
        && claims["aud"] == client
        && claims["events"].get(BACKCHANNEL_LOGOUT_EVENT).is_some()
        && claims["sid"].is_string()
        && claims["sub"].is_string();
    valid
        .then(|| claims["jti"].as_str().map(str::to_owned))
        .flatten()
}

/// The back-channel logout endpoint of every client: `POST /bc/{client_id}`.
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Path(client): Path<String>,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let body = String::from_utf8_lossy(&body);
    let token = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("logout_token="));
    let jti = token.and_then(|t| check_token(t, &client));
    let Ok(mut state) = receiver.state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let Some(jti) = jti else {
        state.invalid += 1;
        return StatusCode::BAD_REQUEST;
    };
    if !state.expected.contains(&jti) {
        state.other += 1;
    } else if state.arrived.insert(jti) {
        state.first.get_or_insert(now);
        state.last = Some(now);
        if state.arrived.len() == state.expected.len() {
            receiver.done.notify_one();
        }
    } else {
        state.duplicates += 1;
    }
    StatusCode::OK
}

/// `count` messages as a removal would enqueue them: 3 per ended session (one per client).
async fn make_messages(
    idp: &IdentityServer,
    client_ids: &[String],
    count: usize,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let mut messages = Vec::with_capacity(count + client_ids.len());
    while messages.len() < count {
        let subject = format!("outbox-bench-{}", b64url_encode(random_bytes::<12>()));
        let sid = b64url_encode(random_bytes::<16>());
        let ended = EndedSession {
            subject_id: &subject,
            session_id: &sid,
            client_ids,
        };
        let made = idp
            .backchannel
            .messages_for(&ended, LogoutReason::Terminated, None)
            .await
            .map_err(|e| anyhow::anyhow!("messages_for: {e:?}"))?;
        ensure!(
            made.len() == client_ids.len(),
            "messages_for made {} messages for {} clients",
            made.len(),
            client_ids.len()
        );
        messages.extend(made);
    }
    messages.truncate(count);
    Ok(messages)
}

/// utime + stime of a process, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `rest` starts at field 3 (state): field n is rest[n - 3].
    (ticks(11) + ticks(12)) / 100.0
}

/// VmHWM of a process, in KiB.
fn hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until every expected message arrived, the server exits, or the timeout passes.
async fn wait_for(
    receiver: &Receiver,
    server: &mut tokio::process::Child,
    timeout: Duration,
    log: &std::path::Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !receiver.complete() {
        if let Some(status) = server.try_wait()? {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            bail!("the server exited ({status}):\n{tail}");
        }
        if Instant::now() > deadline {
            let (arrived, expected) = receiver
                .state
                .lock()
                .map(|s| (s.arrived.len(), s.expected.len()))
                .unwrap_or_default();
            bail!("only {arrived} of {expected} deliveries after {timeout:?}");
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), receiver.done.notified()).await;
    }
    Ok(())
}

/// Waits until the database shows `count` messages of the clients delivered, with one attempt
/// each; returns when.
async fn wait_recorded(
    pool: &Pool,
    list: &str,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + timeout;
    let delivered = format!(
        "SELECT COUNT(*) FROM backchannel_outbox WHERE client_id IN ({list}) AND \
         status = 'delivered'"
    );
    loop {
        let done = crate::db::scalar(pool, &delivered, &[]).await?;
        if usize::try_from(done)? >= count {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("{done} of {count} messages recorded as delivered after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.messages > 0, "--messages must be at least 1");
    ensure!(args.clients > 0, "--clients must be at least 1");
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

    let receiver = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .route("/bc/{client}", post(receive))
        .with_state(receiver.clone());
    let receiving = tokio::spawn(async move { axum::serve(listener, app).await });

    let clients = bench_clients(args.clients, &format!("http://{address}/bc"), "bench-ob-");
    let list = client_list(&clients);
    let clean = format!("DELETE FROM backchannel_outbox WHERE client_id IN ({list})");
    crate::db::execute(&pool, &clean, &[]).await?;
    for client in &clients {
        stores.clients.upsert_client(client).await?;
    }
    let client_ids: Vec<String> = clients.iter().map(|c| c.client_id.clone()).collect();
    let sessions = crate::db::scalar(&pool, "SELECT COUNT(*) FROM server_side_sessions", &[])
        .await
        .unwrap_or(0);

    // The server, on the same database.
    let config = args.server_log.with_extension("toml");
    std::fs::write(
        &config,
        "# oxidp-bench-sessions outbox: the server whose delivery worker drains the outbox.\n\
         [server_side_sessions]\nenabled = true\n\n[log]\nlevel = \"warn\"\n",
    )
    .with_context(|| format!("cannot write {}", config.display()))?;
    let log = std::fs::File::create(&args.server_log)
        .with_context(|| format!("cannot create {}", args.server_log.display()))?;
    let mut server = tokio::process::Command::new(&args.oxidp)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("OXIDP_STORE__URL", &args.url)
        .env("OXIDP_SERVER__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.oxidp.display()))?;
    let pid = server.id().context("the server has no pid")?;
    println!(
        "outbox on {shown} ({backend}, {sessions} sessions): server pid {pid}, receiver \
         http://{address}/bc/{{client}}, {} clients",
        args.clients
    );
    let timeout = Duration::from_secs(args.timeout);
    let outcome = async {
        // Warm-up: also waits for the server to be up and its worker running.
        let warmup = make_messages(&idp, &client_ids, args.warmup.max(1)).await?;
        receiver.expect(warmup.iter().map(|m| m.id.to_string()));
        let started = Instant::now();
        stores.outbox.enqueue(&warmup).await?;
        wait_for(&receiver, &mut server, timeout, &args.server_log).await?;
        wait_recorded(&pool, &list, warmup.len(), timeout).await?;
        println!(
            "  warm-up: {} messages delivered and recorded {:.1} s after enqueue (server start \
             included)",
            warmup.len(),
            started.elapsed().as_secs_f64()
        );

        let signing = Instant::now();
        let messages = make_messages(&idp, &client_ids, args.messages).await?;
        let signing = signing.elapsed();
        receiver.expect(messages.iter().map(|m| m.id.to_string()));
        let cpu_before = cpu_seconds(pid);
        let enqueue_started = Instant::now();
        stores.outbox.enqueue(&messages).await?;
        let t0 = Instant::now();
        let enqueue = t0 - enqueue_started;
        wait_for(&receiver, &mut server, timeout, &args.server_log).await?;
        let recorded = wait_recorded(&pool, &list, warmup.len() + messages.len(), timeout).await?;
        let cpu = cpu_seconds(pid) - cpu_before;
        let attempts = crate::db::scalar(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM backchannel_attempts a JOIN backchannel_outbox o ON \
                 a.message_id = o.id WHERE o.client_id IN ({list})"
            ),
            &[],
        )
        .await?;
        let hwm = hwm_kib(pid);
        anyhow::Ok((
            messages.len(),
            signing,
            enqueue,
            t0,
            recorded,
            cpu,
            attempts,
            hwm,
        ))
    }
    .await;
    let _ = server.start_kill();
    let _ = server.wait().await;
    receiving.abort();
    let (n, signing, enqueue, t0, recorded, cpu, attempts, hwm) = outcome?;

    let (arrived, duplicates, invalid, other, first, last) = {
        let state = receiver
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("receiver state poisoned"))?;
        (
            state.arrived.len(),
            state.duplicates,
            state.invalid,
            state.other,
            state.first,
            state.last,
        )
    };
    let (Some(first), Some(last)) = (first, last) else {
        bail!("nothing arrived");
    };
    let first_after = first.saturating_duration_since(t0).as_secs_f64();
    let drain = last.saturating_duration_since(first).as_secs_f64();
    let end_to_end = last.saturating_duration_since(t0).as_secs_f64();
    let recorded_after = recorded.saturating_duration_since(t0).as_secs_f64();
    let steady = (n.saturating_sub(1)) as f64 / drain.max(1e-9);
    let e2e = n as f64 / end_to_end.max(1e-9);
    let recorded_rate = n as f64 / recorded_after.max(1e-9);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load1 = load.split_whitespace().next().unwrap_or("?").to_owned();
    println!(
        "  {n} messages: built and signed in {:.2} s, enqueued in one transaction in {:.0} ms",
        signing.as_secs_f64(),
        enqueue.as_secs_f64() * 1000.0
    );
    println!(
        "  first delivery {:.0} ms after the commit (the worker's idle poll is 1 s); last after \
         {end_to_end:.2} s; all attempts recorded after {recorded_after:.2} s",
        first_after * 1000.0
    );
    println!(
        "  delivered: {} distinct of {n}; {} duplicates, {} invalid, {} unexpected POSTs; {} \
         attempts recorded for {} messages",
        arrived,
        duplicates,
        invalid,
        other,
        attempts,
        n + args.warmup.max(1)
    );
    println!(
        "  rate: {steady:.0} tokens/s first -> last delivery; {e2e:.0} tokens/s commit -> last \
         delivery; {recorded_rate:.0} messages/s commit -> all recorded"
    );
    println!(
        "  server CPU {:.0} us per message ({cpu:.1} s in all, user + system); server VmHWM {:.0} \
         MB; load average {load1}",
        cpu * 1e6 / n as f64,
        hwm as f64 / 1024.0
    );
    ensure!(
        arrived == n && invalid == 0,
        "{} of {n} delivered, {} invalid",
        arrived,
        invalid
    );
    println!(
        "RESULT outbox label={} messages={n} first_ms={:.0} drain_s={drain:.2} \
         end_to_end_s={end_to_end:.2} recorded_s={recorded_after:.2} steady_per_s={steady:.0} \
         end_to_end_per_s={e2e:.0} recorded_per_s={recorded_rate:.0} duplicates={} \
         attempts={attempts} server_cpu_us_per_msg={:.0} server_hwm_kb={hwm} load1={load1}",
        if args.label.is_empty() {
            "-"
        } else {
            &args.label
        },
        first_after * 1000.0,
        duplicates,
        cpu * 1e6 / n as f64
    );

    // Leaves the database as it was: the messages (their attempts cascade) and the clients.
    crate::db::execute(&pool, &clean, &[]).await?;
    crate::db::execute(
        &pool,
        &format!("DELETE FROM clients WHERE client_id IN ({list})"),
        &[],
    )
    .await?;
    store.close().await;
    Ok(())
}
