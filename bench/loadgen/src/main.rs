//! `oxidp-loadgen`: the load generator of `bench/interactive/run.sh`.
//!
//! A benchmark tool, not a test: it prints throughput and latency as JSON and never asserts on
//! time.
//!
//! - `login`: N tasks, each repeating a whole browser sign-in (authorize → login page → login
//!   post → authorize → code → token) with a fresh cookie jar per round trip. With
//!   `--emit-refresh-tokens FILE` it instead does exactly `--logins K` sign-ins and writes the K
//!   refresh tokens to FILE, one a line.
//! - `refresh`: N tasks, task i owning line i of a token file and repeatedly redeeming it with
//!   the `refresh_token` grant, always continuing with the rotated token from the response.
//! - `dpop-proofs`: signs N DPoP proofs for one request URL with one fresh key, each with its
//!   own `jti`, one a line, for `bench/dpop/run.sh` to send before they age out.

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use clap::{Args, Parser, Subcommand};
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderValue, LOCATION};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use url::Url;

#[derive(Parser)]
#[command(name = "oxidp-loadgen", about = "Load generator for oxidp benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Full browser sign-in round trips (authorize → login → code → token).
    Login(LoginArgs),
    /// Refresh-token grants, each task rotating its own token.
    Refresh(RefreshArgs),
    /// Sign DPoP proofs ahead of a load, so the measured server never shares the CPU with it.
    DpopProofs(DpopProofArgs),
}

#[derive(Args)]
struct DpopProofArgs {
    /// The `htu`: the URL the proofs are for.
    #[arg(long)]
    htu: String,
    /// The `htm`: the request method.
    #[arg(long, default_value = "POST")]
    htm: String,
    /// How many proofs.
    #[arg(long)]
    count: usize,
    /// Where to write them, one a line.
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(Args, Clone)]
struct ClientArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    base: Url,
    /// Client id (authenticated with HTTP Basic).
    #[arg(long, default_value = "web")]
    client: String,
    /// Client secret.
    #[arg(long)]
    secret: String,
}

#[derive(Args)]
struct LoginArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seconds of load (ignored with --emit-refresh-tokens).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Usernames are PREFIX-0 .. PREFIX-(count-1), used in rotation.
    #[arg(long, default_value = "bench")]
    users: String,
    /// Number of users.
    #[arg(long, default_value_t = 32)]
    count: usize,
    /// Every user's password.
    #[arg(long)]
    password: String,
    /// The client's registered redirect URI.
    #[arg(long)]
    redirect: String,
    /// Requested scopes.
    #[arg(long, default_value = "openid offline_access api.read")]
    scope: String,
    /// Do exactly --logins sign-ins and write their refresh tokens to this file, one a line.
    #[arg(long, value_name = "FILE")]
    emit_refresh_tokens: Option<std::path::PathBuf>,
    /// Number of sign-ins for --emit-refresh-tokens.
    #[arg(long, default_value_t = 32)]
    logins: usize,
}

#[derive(Args)]
struct RefreshArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Concurrent tasks, each with its own connection and its own token.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// File of refresh tokens, one a line (at least --connections of them).
    #[arg(long)]
    tokens: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Login(args) => match args.emit_refresh_tokens.clone() {
            Some(file) => emit_tokens(args, &file).await,
            None => login_load(args).await,
        },
        Command::Refresh(args) => refresh_load(args).await,
        Command::DpopProofs(args) => sign_dpop_proofs(&args),
    }
}

/// One ES256 key (as a client keeps one), `count` proofs issued now with random `jti`s, signed
/// on every core.
fn sign_dpop_proofs(args: &DpopProofArgs) -> Result<()> {
    use oxidp_jose::dpop::DpopProofBuilder;
    use oxidp_jose::{SigningAlgorithm, SigningKey};
    oxidp_jose::install_crypto_provider();
    let key = SigningKey::generate(SigningAlgorithm::ES256).context("generating the key")?;
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .try_into()?;
    let builder = DpopProofBuilder::new(&args.htm, &args.htu, iat);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let per_worker = args.count.div_ceil(workers);
    let started = Instant::now();
    let chunks: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let count = per_worker.min(args.count.saturating_sub(worker * per_worker));
                let (key, builder) = (&key, &builder);
                scope.spawn(move || -> Result<String> {
                    let mut lines = String::with_capacity(count * 600);
                    for _ in 0..count {
                        lines.push_str(&builder.sign(key).context("signing a proof")?);
                        lines.push('\n');
                    }
                    Ok(lines)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| anyhow!("a signing thread panicked"))?
            })
            .collect::<Result<_>>()
    })?;
    std::fs::write(&args.out, chunks.concat())
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "oxidp-loadgen: {} DPoP proofs for {} {} in {:.1}s -> {}",
        args.count,
        args.htm,
        args.htu,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// Outcome counters shared by the tasks of one run.
#[derive(Default)]
struct Tally {
    latencies_us: Mutex<Vec<u64>>,
    errors: AtomicUsize,
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, error: &anyhow::Error) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        if n < 5 {
            eprintln!("oxidp-loadgen: ERROR: {error:#}");
            if let Ok(mut first) = self.first_errors.lock() {
                first.push(format!("{error:#}"));
            }
        }
    }

    fn report(&self, label: &str, seconds: f64) -> serde_json::Value {
        let mut latencies = self
            .latencies_us
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        latencies.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies[rank - 1] as f64 / 1000.0
        };
        let done = latencies.len();
        let errors = self.errors.load(Ordering::Relaxed);
        let first_errors = self
            .first_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let round = |x: f64| (x * 100.0).round() / 100.0;
        serde_json::json!({
            label: done,
            "errors": errors,
            "seconds": round(seconds),
            "per_second": round(done as f64 / seconds.max(1e-9)),
            "p50_ms": round(percentile(0.50)),
            "p99_ms": round(percentile(0.99)),
            "first_errors": first_errors,
        })
    }
}

/// A cookie jar that can be emptied, so that one HTTP client (and its keep-alive connection)
/// serves many round trips that each start like a new browser.
#[derive(Default)]
struct ResettableJar(RwLock<Jar>);

impl ResettableJar {
    fn reset(&self) {
        if let Ok(mut jar) = self.0.write() {
            *jar = Jar::default();
        }
    }
}

impl CookieStore for ResettableJar {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        if let Ok(jar) = self.0.read() {
            jar.set_cookies(cookie_headers, url);
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.0.read().ok().and_then(|jar| jar.cookies(url))
    }
}

fn http_client(jar: Option<Arc<ResettableJar>>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30));
    if let Some(jar) = jar {
        builder = builder.cookie_provider(jar);
    }
    builder.build().context("building the HTTP client")
}

/// One task's state for sign-in round trips.
struct Browser {
    http: reqwest::Client,
    jar: Arc<ResettableJar>,
}

impl Browser {
    fn new() -> Result<Self> {
        let jar = Arc::new(ResettableJar::default());
        Ok(Self {
            http: http_client(Some(jar.clone()))?,
            jar,
        })
    }

    /// One whole sign-in; returns the token response.
    async fn round_trip(&self, args: &LoginArgs, username: &str) -> Result<serde_json::Value> {
        self.jar.reset();
        let base = &args.client.base;
        let verifier = oxidp_jose::b64url_encode(oxidp_jose::random_bytes::<32>());
        let challenge = oxidp_jose::b64url_encode(oxidp_jose::sha256(verifier.as_bytes()));
        let state = oxidp_jose::b64url_encode(oxidp_jose::random_bytes::<16>());
        let nonce = oxidp_jose::b64url_encode(oxidp_jose::random_bytes::<16>());

        let mut authorize = base.join("/connect/authorize")?;
        authorize
            .query_pairs_mut()
            .append_pair("client_id", &args.client.client)
            .append_pair("redirect_uri", &args.redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", &args.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");

        // 1. authorize → login page.
        let login_page = self
            .redirect(base, authorize, "GET /connect/authorize")
            .await?;
        ensure!(
            login_page.path() == "/account/login",
            "authorize redirected to {login_page}, not to the login page"
        );

        // 2. the login page: CSRF token and return URL from the form.
        let response = self.http.get(login_page).send().await?;
        let status = response.status();
        let html = response.text().await?;
        ensure!(status == StatusCode::OK, "GET /account/login: {status}");
        let csrf_token = hidden_input(&html, "csrf_token")?;
        let return_url = hidden_input(&html, "return_url")?;

        // 3. post the credentials → back to authorize.
        let response = self
            .http
            .post(base.join("/account/login")?)
            .form(&[
                ("username", username),
                ("password", args.password.as_str()),
                ("return_url", return_url.as_str()),
                ("csrf_token", csrf_token.as_str()),
            ])
            .send()
            .await?;
        let back = location(base, response, "POST /account/login").await?;

        // 4. authorize again, now signed in → redirect URI with the code.
        let callback = self
            .redirect(base, back, "GET /connect/authorize (signed in)")
            .await?;
        let params: std::collections::HashMap<String, String> =
            callback.query_pairs().into_owned().collect();
        if let Some(error) = params.get("error") {
            bail!(
                "authorize answered error={error} {:?}",
                params.get("error_description")
            );
        }
        ensure!(
            params.get("state") == Some(&state),
            "the callback's state does not match"
        );
        let code = params
            .get("code")
            .ok_or_else(|| anyhow!("no code in {callback}"))?;

        // 5. redeem the code.
        let response = self
            .http
            .post(base.join("/connect/token")?)
            .basic_auth(&args.client.client, Some(&args.client.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", args.redirect.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?;
        token_response(response, "POST /connect/token (authorization_code)").await
    }

    async fn redirect(&self, base: &Url, url: Url, what: &str) -> Result<Url> {
        let response = self.http.get(url).send().await?;
        location(base, response, what).await
    }
}

/// The target of a redirect response (303 or 302), resolved against `base`.
async fn location(base: &Url, response: reqwest::Response, what: &str) -> Result<Url> {
    let status = response.status();
    if !status.is_redirection() {
        let body = response.text().await.unwrap_or_default();
        bail!(
            "{what}: expected a redirect, got {status}: {}",
            snippet(&body)
        );
    }
    let target = response
        .headers()
        .get(LOCATION)
        .ok_or_else(|| anyhow!("{what}: {status} without Location"))?
        .to_str()
        .context("non-ASCII Location")?
        .to_owned();
    base.join(&target)
        .with_context(|| format!("{what}: bad Location {target}"))
}

async fn token_response(response: reqwest::Response, what: &str) -> Result<serde_json::Value> {
    let status = response.status();
    let body = response.text().await?;
    ensure!(
        status == StatusCode::OK,
        "{what}: {status}: {}",
        snippet(&body)
    );
    serde_json::from_str(&body).with_context(|| format!("{what}: the body is not JSON"))
}

fn snippet(body: &str) -> &str {
    let end = body.char_indices().nth(300).map_or(body.len(), |(i, _)| i);
    &body[..end]
}

/// The value of `<input type="hidden" name="NAME" value="...">`, HTML entities decoded.
fn hidden_input(html: &str, name: &str) -> Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .ok_or_else(|| anyhow!("the login page has no {name} field"))?;
    let len = html[start..]
        .find('"')
        .ok_or_else(|| anyhow!("unterminated {name} value"))?;
    Ok(unescape_html(&html[start..start + len]))
}

/// Decodes the entities minijinja's HTML escaping produces (`&amp;` last).
fn unescape_html(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn login_load(args: LoginArgs) -> Result<()> {
    ensure!(
        args.concurrency > 0 && args.count > 0,
        "concurrency and count must be positive"
    );
    let args = Arc::new(args);
    let tally = Arc::new(Tally::default());
    let next_user = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (args, tally, next_user) = (args.clone(), tally.clone(), next_user.clone());
        tasks.push(tokio::spawn(async move {
            let browser = match Browser::new() {
                Ok(b) => b,
                Err(e) => return tally.error(&e),
            };
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = next_user.fetch_add(1, Ordering::Relaxed) % args.count;
                let username = format!("{}-{n}", args.users);
                let began = Instant::now();
                match browser.round_trip(&args, &username).await {
                    Ok(_) => latencies.push(began.elapsed().as_micros() as u64),
                    Err(e) => tally.error(&e.context(format!("login round trip as {username}"))),
                }
            }
            if let Ok(mut all) = tally.latencies_us.lock() {
                all.extend(latencies);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{}", tally.report("round_trips", seconds));
    Ok(())
}

async fn emit_tokens(args: LoginArgs, file: &std::path::Path) -> Result<()> {
    ensure!(
        args.concurrency > 0 && args.count > 0,
        "concurrency and count must be positive"
    );
    let wanted = args.logins;
    let args = Arc::new(args);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.min(wanted.max(1)) {
        let (args, next) = (args.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let browser = Browser::new()?;
            let mut tokens = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= wanted {
                    break;
                }
                let username = format!("{}-{}", args.users, i % args.count);
                let response = browser
                    .round_trip(&args, &username)
                    .await
                    .with_context(|| format!("login round trip as {username}"))?;
                let token = response
                    .get("refresh_token")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| anyhow!("the token response has no refresh_token"))?;
                tokens.push((i, token.to_owned()));
            }
            anyhow::Ok(tokens)
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.extend(task.await??);
    }
    tokens.sort();
    let text: String = tokens.iter().map(|(_, t)| format!("{t}\n")).collect();
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "{}",
        serde_json::json!({ "refresh_tokens": tokens.len(), "file": file.display().to_string() })
    );
    Ok(())
}

async fn refresh_load(args: RefreshArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.tokens)
        .with_context(|| format!("reading {}", args.tokens.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    ensure!(
        tokens.len() >= args.connections,
        "{} holds {} tokens, fewer than --connections {}",
        args.tokens.display(),
        tokens.len(),
        args.connections
    );
    let client = Arc::new(args.client.clone());
    let token_url = args.client.base.join("/connect/token")?;
    let tally = Arc::new(Tally::default());
    let stopped = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for (i, mut token) in tokens.into_iter().take(args.connections).enumerate() {
        let (client, tally, stopped, token_url) = (
            client.clone(),
            tally.clone(),
            stopped.clone(),
            token_url.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // One client (one keep-alive connection) per task.
            let http = match http_client(None) {
                Ok(h) => h,
                Err(e) => return tally.error(&e),
            };
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let began = Instant::now();
                let result = async {
                    let response = http
                        .post(token_url.clone())
                        .basic_auth(&client.client, Some(&client.secret))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", token.as_str()),
                        ])
                        .send()
                        .await?;
                    let body =
                        token_response(response, "POST /connect/token (refresh_token)").await?;
                    body.get("refresh_token")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("the response has no refresh_token"))
                }
                .await;
                match result {
                    Ok(rotated) => {
                        latencies.push(began.elapsed().as_micros() as u64);
                        token = rotated;
                    }
                    Err(e) => {
                        // Whether the token was consumed is unknown: reusing it could revoke
                        // the family, so this task stops.
                        tally.error(&e.context(format!("connection {i} stops")));
                        stopped.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if let Ok(mut all) = tally.latencies_us.lock() {
                all.extend(latencies);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut report = tally.report("requests", seconds);
    report["connections_stopped"] = stopped.load(Ordering::Relaxed).into();
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_inputs_are_unescaped() -> Result<()> {
        let html = r#"<input type="hidden" name="return_url" value="&#x2f;connect&#x2f;authorize?a=1&amp;b=2">"#;
        assert_eq!(
            hidden_input(html, "return_url")?,
            "/connect/authorize?a=1&b=2"
        );
        assert!(hidden_input(html, "csrf_token").is_err());
        Ok(())
    }
}
