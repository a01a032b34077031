//! Client credentials over HTTPS with `tls_client_auth` and certificate-bound tokens, against
//! client credentials over plain HTTP with a secret, in the same run; and the TLS handshake
//! rate (a new connection, with a client certificate, per request).
//!
//! Both servers run in this process on a runtime of their own (`SERVER_THREADS` workers); the
//! load comes from another runtime (`LOAD_THREADS` workers) over loopback. Not a test: it
//! prints figures (and PASS/MISS against the 70 % target), it asserts nothing about time.
//! Every response must be a 200 with an access token (bound, for the mTLS runs), or the run is
//! INVALID and the exit status 1.

use anyhow::{Context as _, bail};
use oxidp_core::clock::SystemClock;
use oxidp_core::store::{MemoryStore, Stores};
use oxidp_server::Server;
use oxidp_server::config::Config;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SECRET_CLIENT: &str = r#"
[[clients]]
client_id = "bench"
secrets = [{ value = "bench-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
"#;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One run's figures.
struct Figures {
    name: &'static str,
    requests: u64,
    failures: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// How a run authenticates.
#[derive(Clone, Copy)]
enum Mode {
    Secret,
    Certificate,
}

async fn start(config: Config) -> anyhow::Result<Server> {
    Server::build_with(
        config,
        Stores::from_backend(Arc::new(MemoryStore::default())),
        Arc::new(SystemClock),
    )
    .await
}

fn main() -> anyhow::Result<()> {
    let duration = Duration::from_secs(env("DURATION", 10));
    let warmup = Duration::from_secs(env("WARMUP", 2));
    let connections = env("CONNECTIONS", 32) as usize;
    let dir = std::env::temp_dir().join(format!("oxidp-bench-mtls-{}", std::process::id()));
    let pki = mtls_sample::Pki::generate(&dir)?;

    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("SERVER_THREADS", 2) as usize)
        .enable_all()
        .build()?;
    let (plain, mtls) = server_runtime.block_on(async {
        let mut plain = Config::from_toml(&format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[[api_resources]]\nname = \"orders-api\"\nscopes = [\"orders.read\"]\n{SECRET_CLIENT}"
        ))?;
        plain.server.max_connections = 4096;
        let plain = start(plain).await?;
        let mut tls = Config::from_toml(&mtls_sample::oxidp_config(
            &pki,
            "127.0.0.1:0",
            "127.0.0.1:0",
        ))?;
        tls.server.max_connections = 4096;
        let tls = start(tls).await?;
        let plain_url = format!("http://{}/connect/token", plain.address());
        let mtls_url = format!(
            "https://{}/connect/token",
            tls.mtls_address().context("the mTLS listener")?
        );
        tokio::spawn(plain.run_until_stopped(std::future::pending()));
        tokio::spawn(tls.run_until_stopped(std::future::pending()));
        anyhow::Ok((plain_url, mtls_url))
    })?;

    let load_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("LOAD_THREADS", 2) as usize)
        .enable_all()
        .build()?;
    let figures = load_runtime.block_on(async {
        let tls_client = |keep_alive: bool| -> anyhow::Result<reqwest::Client> {
            let mut builder = reqwest::Client::builder()
                .tls_certs_only([pki.ca()?])
                .identity(pki.identity("orders-client")?)
                .http1_only();
            if !keep_alive {
                builder = builder.pool_max_idle_per_host(0);
            }
            Ok(builder.build()?)
        };
        let plain_client = reqwest::Client::builder().http1_only().build()?;
        let runs = [
            (
                "plain HTTP, client_secret_basic",
                plain_client,
                plain.clone(),
                Mode::Secret,
                connections,
            ),
            (
                "HTTPS, tls_client_auth, bound, keep-alive",
                tls_client(true)?,
                mtls.clone(),
                Mode::Certificate,
                connections,
            ),
            (
                "HTTPS, tls_client_auth, new TLS connection per request",
                tls_client(false)?,
                mtls.clone(),
                Mode::Certificate,
                connections,
            ),
        ];
        let mut figures = Vec::new();
        for (name, client, url, mode, connections) in runs {
            load(&client, &url, mode, connections, warmup).await?;
            let mut run = load(&client, &url, mode, connections, duration).await?;
            run.name = name;
            figures.push(run);
        }
        anyhow::Ok(figures)
    })?;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{:<56} {:>10} {:>9} {:>9} {:>9}",
        "run", "req/s", "p50 ms", "p99 ms", "failures"
    );
    for run in &figures {
        println!(
            "{:<56} {:>10.0} {:>9.2} {:>9.2} {:>9}",
            run.name,
            run.rate(),
            run.p50.as_secs_f64() * 1000.0,
            run.p99.as_secs_f64() * 1000.0,
            run.failures
        );
    }
    let ratio = figures[1].rate() / figures[0].rate() * 100.0;
    println!(
        "HTTPS+mTLS keep-alive / plain HTTP: {ratio:.0} % (target >= 70 %): {}",
        if ratio >= 70.0 { "PASS" } else { "MISS" }
    );
    println!(
        "handshake rate (new TLS 1.3 connection with a client certificate per token request): {:.0}/s",
        figures[2].rate()
    );
    if figures.iter().any(|run| run.failures > 0) {
        bail!("INVALID: some requests did not get a 200 with a (bound) access token");
    }
    Ok(())
}

/// `connections` tasks send token requests back to back for `duration`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    mode: Mode,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, stop) = (client.clone(), url.to_owned(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let request = client.post(&url);
                let request = match mode {
                    Mode::Secret => request
                        .basic_auth("bench", Some("bench-secret"))
                        .form(&[("grant_type", "client_credentials")]),
                    Mode::Certificate => request.form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", "orders-client"),
                    ]),
                };
                let ok = match request.send().await {
                    Ok(response) if response.status() == 200 => response
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|body| body["access_token"].as_str().map(str::to_owned))
                        .is_some_and(|token| match mode {
                            Mode::Secret => true,
                            // A bound token: its payload names the certificate.
                            Mode::Certificate => is_bound(&token),
                        }),
                    _ => false,
                };
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (mut l, f) = task.await?;
        latencies.append(&mut l);
        failures += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Figures {
        name: "",
        requests: latencies.len() as u64,
        failures,
        seconds,
        p50: at(0.5),
        p99: at(0.99),
    })
}

/// Whether a JWT access token carries `cnf["x5t#S256"]`.
fn is_bound(token: &str) -> bool {
    use base64::Engine as _;
    token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|claims| claims["cnf"]["x5t#S256"].is_string())
}
