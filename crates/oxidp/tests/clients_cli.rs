//! `oxidp clients ...` and the start-up check of every stored client against the key
//! retention, on the database a demo server seeded.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn oxidp(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command.current_dir(dir);
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    oxidp(dir).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts `oxidp serve --demo` in `dir` until it listens, then stops it: the demo's clients
/// are then in `dir`'s database.
fn seed_demo(dir: &Path) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = oxidp(dir)
        .args(["serve", "--demo"])
        .env("OXIDP_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the demo server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn clients_are_listed_shown_disabled_and_enabled() {
    let dir = tempfile::TempDir::new().unwrap();
    seed_demo(dir.path());

    let list = run(dir.path(), &["clients", "list", "--demo"]);
    assert!(list.status.success(), "{list:?}");
    let rows = text(&list.stdout);
    assert!(rows.starts_with("CLIENT_ID"), "{rows}");
    let m2m = rows.lines().find(|l| l.starts_with("m2m ")).unwrap();
    assert!(
        m2m.contains("yes") && m2m.contains("client_credentials") && m2m.contains("jwt"),
        "{m2m}"
    );

    let show = run(dir.path(), &["clients", "show", "--demo", "web"]);
    assert!(show.status.success(), "{show:?}");
    let web: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(web["client_id"], "web");
    assert!(
        !text(&show.stdout).contains("web-secret"),
        "secrets only as hashes"
    );

    let disable = run(dir.path(), &["clients", "disable", "--demo", "m2m"]);
    assert_eq!(text(&disable.stdout).trim(), "client m2m disabled");
    let rows = text(&run(dir.path(), &["clients", "list", "--demo"]).stdout);
    assert!(
        rows.lines()
            .any(|l| l.starts_with("m2m ") && l.contains(" no ")),
        "{rows}"
    );
    let enable = run(dir.path(), &["clients", "enable", "--demo", "m2m"]);
    assert_eq!(text(&enable.stdout).trim(), "client m2m enabled");

    for args in [
        &["clients", "show", "--demo", "nobody"][..],
        &["clients", "disable", "--demo", "nobody"],
    ] {
        let output = run(dir.path(), args);
        assert!(!output.status.success());
        assert!(
            text(&output.stderr).contains("no client with the id `nobody`"),
            "{output:?}"
        );
    }
}

#[test]
fn a_stored_client_whose_tokens_outlive_the_key_retention_stops_start_up() {
    let dir = tempfile::TempDir::new().unwrap();
    // The demo seeds m2m with one-hour access tokens.
    seed_demo(dir.path());
    // A file of its own, with no clients of its own, on the same database: the file passes the
    // configuration check, the stored m2m does not.
    std::fs::write(
        dir.path().join("short.toml"),
        "[keys]\nretention_period = \"30m\"\n",
    )
    .unwrap();
    let output = oxidp(dir.path())
        .args(["serve", "--config", "short.toml"])
        .env("OXIDP_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("keys.retention_period"), "{stderr}");
    assert!(
        stderr.contains("`admin-cli`") || stderr.contains("`m2m`"),
        "{stderr}"
    );
}
