//! The `oxidp` binary run over the session-migration example's configuration
//! (`examples/session-migration/oxidp.toml`), and a browser for its pages: shared by the tests
//! that start and stop the real server as an operator does.

#![allow(
    dead_code,
    reason = "each test file uses the helpers it needs; the others would warn there"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The example's configuration, as committed.
pub const EXAMPLE_CONFIG: &str = include_str!("../../../../examples/session-migration/oxidp.toml");

/// A copy of the example configuration in `dir`, as the operator's step 1 runs it.
pub fn example_config(dir: &Path) -> PathBuf {
    let path = dir.join("oxidp.toml");
    std::fs::write(&path, EXAMPLE_CONFIG).unwrap();
    path
}

/// The operator's step 2: `enabled = false` becomes `enabled = true` under
/// `[server_side_sessions]`, and nothing else changes.
pub fn switch_server_side_sessions_on(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    assert_eq!(text.matches("\nenabled = false\n").count(), 1, "{text}");
    std::fs::write(
        config,
        text.replace("\nenabled = false\n", "\nenabled = true\n"),
    )
    .unwrap();
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Running {
    pub child: Child,
    pub base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Sends SIGTERM and waits for a graceful exit.
    pub fn stop(mut self) {
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
pub fn oxidp(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    // A developer's own OXIDP_ variables must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command.current_dir(dir);
    command
}

/// `oxidp serve --config CONFIG` in `dir` on `port`; returns once it logs that it listens.
pub fn serve(dir: &Path, config: &Path, port: u16) -> Running {
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
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

pub const SESSION_COOKIE: &str = "oxidp.session";

impl Browser {
    pub fn with_session(cookie: &str) -> Self {
        let mut browser = Self::default();
        browser
            .cookies
            .insert(SESSION_COOKIE.to_owned(), cookie.to_owned());
        browser
    }

    pub fn session(&self) -> Option<&str> {
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

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.absorb(&response);
        response
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        self.send(client().get(url)).await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of a hidden form field.
pub fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..];
    let value = &tag[tag.find("value=\"").unwrap() + 7..];
    value[..value.find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The authorization request of the example's web app; with `prompt=none` it never shows a page.
pub fn authorize_url(base: &str, prompt_none: bool) -> String {
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
pub async fn sign_in_through_the_web_app(browser: &mut Browser, base: &str) -> String {
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
pub async fn silently_signed_in(browser: &mut Browser, base: &str) -> bool {
    let callback = location(&browser.get(&authorize_url(base, true)).await);
    assert!(callback.starts_with("http://localhost:5002/callback"));
    if callback.contains("code=") {
        true
    } else {
        assert!(callback.contains("error=login_required"), "{callback}");
        false
    }
}
