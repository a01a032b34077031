//! Session migration as an operator does it (`examples/session-migration/README.md`): the real
//! `oxidp` binary started twice over one SQLite file, first with server-side sessions off, then,
//! after the operator switches them on in the configuration file, with them on.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use oxidp_core::clock::SystemClock;
use oxidp_core::model::AuthenticationTicket;
use oxidp_core::services::{IdentityServer, SelfContainedTicketStore, TicketStore as _};
use oxidp_server::config::Config;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use time::OffsetDateTime;

/// The example's configuration, as committed.
const EXAMPLE_CONFIG: &str = include_str!("../../../examples/session-migration/oxidp.toml");

/// A copy of the example configuration in `dir`, as the operator's step 1 runs it.
fn example_config(dir: &Path) -> PathBuf {
    let path = dir.join("oxidp.toml");
    std::fs::write(&path, EXAMPLE_CONFIG).unwrap();
    path
}

/// The operator's step 2: `enabled = false` becomes `enabled = true` under
/// `[server_side_sessions]`, and nothing else changes.
fn switch_server_side_sessions_on(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    assert_eq!(text.matches("\nenabled = false\n").count(), 1, "{text}");
    std::fs::write(
        config,
        text.replace("\nenabled = false\n", "\nenabled = true\n"),
    )
    .unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Sends SIGTERM and waits for a graceful exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "graceful exit: {exit}");
    }
}

/// The `oxidp` binary, run in `dir`.
fn oxidp(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    // A developer's own OXIDP_ variables must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command.current_dir(dir);
    command
}

/// `oxidp serve --config CONFIG` in `dir` on `port`; returns once it logs that it listens.
fn serve(dir: &Path, config: &Path, port: u16) -> Running {
    let mut child = oxidp(dir)
        .args(["serve", "--config"])
        .arg(config)
        .env("OXIDP_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every log line goes through this thread (so the pipe never fills); the first one that
    // says the server listens releases the test.
    let stderr = child.stderr.take().unwrap();
    let (ready, listening) = mpsc::channel();
    std::thread::spawn(move || {
        let mut ready = Some(ready);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("oxidp is listening")
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
        }
    });
    let running = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    listening
        .recv_timeout(Duration::from_secs(60))
        .expect("the server did not start");
    running
}

/// A browser: a cookie jar it keeps by hand (so the test can read and copy cookie values), no
/// automatic redirects.
#[derive(Clone, Default)]
struct Browser {
    cookies: HashMap<String, String>,
}

const SESSION_COOKIE: &str = "oxidp.session";

impl Browser {
    fn with_session(cookie: &str) -> Self {
        let mut browser = Self::default();
        browser
            .cookies
            .insert(SESSION_COOKIE.to_owned(), cookie.to_owned());
        browser
    }

    fn session(&self) -> Option<&str> {
        self.cookies.get(SESSION_COOKIE).map(String::as_str)
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Takes the cookies a response sets (a cookie set to the empty value is deleted).
    fn absorb(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all("set-cookie") {
            let pair = header.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.absorb(&response);
        response
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        self.send(client().get(url)).await
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of a hidden form field.
fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..];
    let value = &tag[tag.find("value=\"").unwrap() + 7..];
    value[..value.find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The authorization request of the example's web app; with `prompt=none` it never shows a page.
fn authorize_url(base: &str, prompt_none: bool) -> String {
    let mut url = format!(
        "{base}/connect/authorize?client_id=web&redirect_uri=http%3A%2F%2Flocalhost%3A5002%2Fcallback\
         &response_type=code&scope=openid%20profile&state=s\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    if prompt_none {
        url.push_str("&prompt=none");
    }
    url
}

/// Signs alice in through the web app, as the README's step 1 does in a real browser; returns
/// the callback URL the app receives.
async fn sign_in_through_the_web_app(browser: &mut Browser, base: &str) -> String {
    let login = location(&browser.get(&authorize_url(base, false)).await);
    assert!(login.starts_with("/account/login"), "{login}");
    let page = browser.get(&format!("{base}{login}")).await;
    let html = page.text().await.unwrap();
    let form = [
        ("username", "alice".to_owned()),
        ("password", "alice".to_owned()),
        ("return_url", field(&html, "return_url")),
        ("csrf_token", field(&html, "csrf_token")),
    ];
    let mut response = browser
        .send(client().post(format!("{base}/account/login")).form(&form))
        .await;
    for _ in 0..5 {
        let next = location(&response);
        if next.starts_with("http://localhost:5002/callback") {
            return next;
        }
        response = browser.get(&format!("{base}{next}")).await;
    }
    panic!("the sign-in did not come back to the web app");
}

/// Whether `prompt=none` gives the web app a code (signed in) rather than `login_required`.
async fn silently_signed_in(browser: &mut Browser, base: &str) -> bool {
    let callback = location(&browser.get(&authorize_url(base, true)).await);
    assert!(callback.starts_with("http://localhost:5002/callback"));
    if callback.contains("code=") {
        true
    } else {
        assert!(callback.contains("error=login_required"), "{callback}");
        false
    }
}

/// A self-contained cookie for alice that expired an hour ago, sealed with the key ring in the
/// configured database, as a cookie issued before the switch and kept too long would be.
async fn expired_old_cookie(config: &Path, dir: &Path) -> String {
    let url = format!(
        "sqlite://{}",
        dir.join("data/session-migration.db").display()
    );
    let config = Config::load(false, Some(config)).unwrap();
    let stores = oxidp_server::open_stores(&url, 1).await.unwrap();
    let options = config
        .identity_server_options(config.server.listen)
        .unwrap();
    let idp = IdentityServer::new(options, stores, std::sync::Arc::new(SystemClock));
    let tickets = SelfContainedTicketStore::new(idp.protector().clone());
    let now = OffsetDateTime::now_utc();
    let ticket = AuthenticationTicket {
        subject_id: "alice-expired".into(),
        session_id: "sid-expired".into(),
        auth_time: now - time::Duration::hours(11),
        idp: "local".into(),
        amr: vec!["pwd".into()],
        client_ids: vec!["web".into()],
        issued: now - time::Duration::hours(11),
        expires: now - time::Duration::hours(1),
        claims: Default::default(),
        issuer: None,
    };
    tickets.store(&ticket).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_walk_keeps_alice_signed_in_when_server_side_sessions_are_switched_on() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = example_config(dir.path());
    let port = free_port();

    // Step 1: server-side sessions off. Alice signs in; the admin page has nothing to list.
    let server = serve(dir.path(), &config, port);
    let mut alice = Browser::default();
    let callback = sign_in_through_the_web_app(&mut alice, &server.base).await;
    assert!(callback.contains("code="), "{callback}");
    let old_cookie = alice.session().unwrap().to_owned();
    assert!(old_cookie.len() > 43, "a self-contained cookie");
    let page = alice.get(&format!("{}/admin/sessions", server.base)).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Server-side sessions are not enabled")
    );
    server.stop();

    // Step 2: the operator switches them on and restarts over the same database.
    switch_server_side_sessions_on(&config);
    let server = serve(dir.path(), &config, port);

    // Step 3: alice is still signed in; her browser now holds a reference cookie; the admin
    // page lists her session with the client she used before the switch.
    let page = alice.get(&format!("{}/admin/sessions", server.base)).await;
    assert_eq!(page.status(), 200, "still signed in, still an admin");
    let reference = alice.session().unwrap().to_owned();
    assert_ne!(
        reference, old_cookie,
        "the cookie was replaced in that response"
    );
    assert_eq!(reference.len(), 43, "a reference cookie: a 256-bit key");
    let html = page.text().await.unwrap();
    assert!(html.contains("Page 1 of 1, 1 session"), "{html}");
    assert!(html.contains("Alice Smith"));
    assert!(
        html.contains("<code>web</code>"),
        "the session's client list"
    );
    assert!(silently_signed_in(&mut alice, &server.base).await);
    assert_eq!(
        alice.session(),
        Some(reference.as_str()),
        "no further change"
    );

    // Step 4 (operator's check from the command line): the session is in the database.
    let output = oxidp(dir.path())
        .args(["sessions", "list", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success());
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(listed.contains("1 session(s) in all"), "{listed}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_server_migrates_one_old_cookie_once_under_parallel_requests_and_refuses_bad_ones()
{
    let dir = tempfile::TempDir::new().unwrap();
    let config = example_config(dir.path());
    let port = free_port();
    let server = serve(dir.path(), &config, port);
    let mut alice = Browser::default();
    sign_in_through_the_web_app(&mut alice, &server.base).await;
    let old_cookie = alice.session().unwrap().to_owned();
    server.stop();
    let expired = expired_old_cookie(&config, dir.path()).await;
    switch_server_side_sessions_on(&config);
    let server = serve(dir.path(), &config, port);

    // Parallel requests carrying the same old cookie: all signed in, one reference cookie.
    let requests: Vec<_> = (0..12)
        .map(|_| {
            let base = server.base.clone();
            let mut browser = Browser::with_session(&old_cookie);
            tokio::spawn(async move {
                let signed_in = silently_signed_in(&mut browser, &base).await;
                (signed_in, browser.session().map(str::to_owned))
            })
        })
        .collect();
    let mut references = Vec::new();
    for request in requests {
        let (signed_in, cookie) = request.await.unwrap();
        assert!(signed_in, "every parallel request proceeds as alice");
        references.push(cookie.unwrap());
    }
    references.sort();
    references.dedup();
    assert_eq!(references.len(), 1, "{references:?}");
    assert_ne!(references[0], old_cookie);

    // An expired and a tampered old cookie: signed out, cookie cleared, nothing stored.
    let mut tampered = old_cookie.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    for bad in [expired, String::from_utf8(tampered).unwrap()] {
        let mut browser = Browser::with_session(&bad);
        assert!(!silently_signed_in(&mut browser, &server.base).await);
        assert_eq!(browser.session(), None, "the cookie is cleared");
    }

    // Exactly one record: the admin page (opened with the reference cookie) counts them all.
    let mut admin = Browser::with_session(&references[0]);
    let page = admin.get(&format!("{}/admin/sessions", server.base)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Page 1 of 1, 1 session"), "{html}");
    server.stop();
}
