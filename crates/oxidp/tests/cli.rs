//! The `oxidp` binary as an operator runs it.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn oxidp() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    // A developer's own OXIDP_ variables must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "info");
    command
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
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `oxidp serve --demo` in `dir` on a free port and waits until it answers.
fn serve_demo(dir: &std::path::Path) -> Running {
    let port = free_port();
    let child = oxidp()
        .args(["serve", "--demo"])
        .current_dir(dir)
        .env("OXIDP_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = Running { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn version_and_help_describe_the_tool() {
    let output = oxidp().arg("--version").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("oxidp "));
    let output = oxidp().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "keys"] {
        assert!(help.contains(command), "{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_creates_its_database_issues_tokens_and_stops_on_sigterm() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut server = serve_demo(dir.path());
    assert!(
        dir.path().join("data/oxidp.db").is_file(),
        "SQLite database created on first start"
    );
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/connect/token", server.port))
        .basic_auth("m2m", Some("m2m-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Requests in flight when the signal arrives still get their answer. Each request is
    // held half-sent until the server has provably started on it: it asks `Expect:
    // 100-continue`, and the server only answers `100 Continue` once the handler reads the
    // body. Then the signal goes out, then the bodies, and every request must succeed.
    let mut in_flight = Vec::new();
    for _ in 0..5 {
        in_flight.push(HeldRequest::start(server.port).await);
    }
    sigterm(&server.child);
    for request in in_flight {
        let answer = request.finish().await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "a request in flight at shutdown is answered in full: {answer}"
        );
        assert!(answer.contains("access_token"), "{answer}");
    }
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status}");
    let log: Vec<String> = BufReader::new(server.child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:?}");
    // One access line per request, in the request's span: its id and the client it named.
    let access = log
        .iter()
        .find(|l| l.contains("route=\"/connect/token\"") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("an access line for the token request: {log:?}"));
    assert!(access.contains("request_id="), "{access}");
    assert!(
        access.contains("client_id") && access.contains("m2m"),
        "{access}"
    );
    assert!(
        log.iter().all(|l| !l.contains('\u{1b}')),
        "no colour codes when standard error is not a terminal: {log:?}"
    );
    let timestamp = log[0].split_whitespace().next().unwrap();
    assert!(
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "RFC 3339 timestamps: {timestamp}"
    );
}

#[test]
fn commands_print_results_only_and_log_with_verbose() {
    let dir = tempfile::TempDir::new().unwrap();
    let quiet = oxidp()
        .args(["migrate", "--demo"])
        .current_dir(dir.path())
        .env("OXIDP_UNRELATED_SETTING", "1")
        .output()
        .unwrap();
    assert!(quiet.status.success(), "{quiet:?}");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "no logs");
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("is up to date"));
    let verbose = oxidp()
        .args(["migrate", "--demo", "-v"])
        .current_dir(dir.path())
        .env("OXIDP_UNRELATED_SETTING", "1")
        .output()
        .unwrap();
    assert!(verbose.status.success(), "{verbose:?}");
    assert!(
        String::from_utf8_lossy(&verbose.stderr).contains("OXIDP_UNRELATED_SETTING"),
        "-v logs, warnings included: {verbose:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_server_side_sessions_and_its_admin_client_uses_the_admin_api() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = serve_demo(dir.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    // The admin client's secret is the one the README prints.
    let token: serde_json::Value = http
        .post(format!("{base}/connect/token"))
        .basic_auth("admin-cli", Some("admin-cli-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "oxidp.admin"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().expect("an admin token");
    let sessions = http
        .get(format!("{base}/api/admin/sessions"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sessions.status(),
        200,
        "server-side sessions are on in the demo, so the admin API lists them"
    );
    let page: serde_json::Value = sessions.json().await.unwrap();
    assert_eq!(page["total_count"], 0, "{page}");
}

/// A token request whose headers the server has read and whose body it is waiting for.
struct HeldRequest {
    stream: tokio::net::TcpStream,
}

const TOKEN_BODY: &str = "grant_type=client_credentials";

impl HeldRequest {
    /// Sends the headers with `Expect: 100-continue` and waits for the server's `100 Continue`.
    async fn start(port: u16) -> Self {
        use tokio::io::AsyncWriteExt as _;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // base64("m2m:m2m-secret"), the demo configuration's machine client.
        let credentials = "bTJtOm0ybS1zZWNyZXQ=";
        let head = format!(
            "POST /connect/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {credentials}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n",
            TOKEN_BODY.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = read_head(&mut stream).await;
        assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
        Self { stream }
    }

    /// Sends the body and returns the whole answer.
    async fn finish(mut self) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        self.stream.write_all(TOKEN_BODY.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let deadline = Duration::from_secs(30);
        tokio::time::timeout(deadline, self.stream.read_to_end(&mut answer))
            .await
            .expect("the server answers before the deadline")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }
}

/// Reads one response head (up to the blank line).
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "connection closed"
            );
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the server answers before the deadline");
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn migrate_creates_the_schema_and_keys_commands_manage_keys() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = oxidp()
        .args(["migrate", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("data/oxidp.db").is_file());

    let list = oxidp()
        .args(["keys", "list", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    // The demo keeps an ES256 key (access tokens) and an RS256 key (ID tokens).
    for algorithm in ["ES256", "RS256"] {
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("signing") && l.contains(algorithm))
                .count(),
            1,
            "{text}"
        );
    }

    let rotate = oxidp()
        .args(["keys", "rotate", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let list = oxidp()
        .args(["keys", "list", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.contains("ES256") && l.contains("announced")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("ES256") && l.contains("signing")),
        "{text}"
    );

    let dp_list = oxidp()
        .args(["keys", "list", "--demo", "--purpose", "data-protection"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        dp_list.status.success(),
        "{}",
        String::from_utf8_lossy(&dp_list.stderr)
    );
    let before = String::from_utf8_lossy(&dp_list.stdout).lines().count();
    let dp_rotate = oxidp()
        .args(["keys", "rotate", "--demo", "--purpose", "data-protection"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        dp_rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&dp_rotate.stderr)
    );
    let dp_list = oxidp()
        .args(["keys", "list", "--demo", "--purpose", "data-protection"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dp_list.stdout).into_owned();
    assert_eq!(text.lines().count(), before + 1, "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("current")).count(),
        1,
        "{text}"
    );

    let unconfigured = oxidp()
        .args(["keys", "rotate", "--demo", "--algorithm", "PS256"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!unconfigured.status.success());
    assert!(String::from_utf8_lossy(&unconfigured.stderr).contains("not configured"));
}

#[test]
fn an_unknown_configuration_key_stops_start_up_and_names_the_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = oxidp()
        .args(["serve", "--demo"])
        .current_dir(dir.path())
        .env("OXIDP_SERVER__LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listn"), "{stderr}");
}

#[test]
fn a_master_key_file_seals_the_key_ring() {
    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n").unwrap();
    let output = oxidp()
        .args(["keys", "list", "--demo", "--purpose", "data-protection"])
        .current_dir(dir.path())
        .env("OXIDP_MASTER_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.lines().skip(1).all(|l| l.ends_with("yes")), "{text}");

    std::fs::write(&key_file, "too-short").unwrap();
    let output = oxidp()
        .args(["migrate", "--demo"])
        .current_dir(dir.path())
        .env("OXIDP_MASTER_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("master_key"));
}

#[test]
fn file_variants_supply_secrets_from_files() {
    let dir = tempfile::TempDir::new().unwrap();
    let url_file = dir.path().join("store-url");
    std::fs::write(
        &url_file,
        format!("sqlite://{}/from-file.db\n", dir.path().display()),
    )
    .unwrap();
    let output = oxidp()
        .args(["migrate", "--demo"])
        .current_dir(dir.path())
        .env("OXIDP_STORE__URL_FILE", &url_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("from-file.db").is_file());
}
