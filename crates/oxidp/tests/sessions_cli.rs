//! `oxidp sessions ...` as an operator runs it, on a configuration in a temporary directory that
//! keeps sessions server-side.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use oxidp_core::clock::SystemClock;
use oxidp_core::model::AuthenticationTicket;
use oxidp_core::services::{IdentityServer, ServerSideTicketStore, TicketStore as _};
use oxidp_server::config::Config;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use time::OffsetDateTime;

/// Writes `oxidp.toml` in `dir`: a SQLite database beside it, server-side sessions as given.
fn write_config(dir: &Path, server_side_sessions: bool) -> PathBuf {
    let path = dir.join("oxidp.toml");
    let toml = format!(
        r#"
[store]
url = "sqlite://{db}"

[server_side_sessions]
enabled = {server_side_sessions}
user_display_name_claim_type = "name"
"#,
        db = dir.join("oxidp.db").display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn oxidp(dir: &Path, config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    // A developer's own OXIDP_ variables must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("USER", "operator")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {}: {}",
        output.status,
        stderr(output)
    );
}

/// The table rows of `oxidp sessions list` output (neither the header nor the paging lines).
fn rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|line| {
            !line.starts_with("SUBJECT")
                && !line.starts_with("page ")
                && !line.starts_with("next page")
                && !line.starts_with("previous page")
                && !line.starts_with("no sessions")
                && !line.trim().is_empty()
        })
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The token printed after `next page:` or `previous page:`.
fn token(output: &str, which: &str) -> Option<String> {
    output
        .lines()
        .find(|line| line.starts_with(which))
        .and_then(|line| line.split_whitespace().nth(3))
        .map(str::to_owned)
}

/// Stores `count` sessions of `subject` in the configured database, as the server would.
async fn seed_sessions(config: &Path, subject: &str, count: usize) -> Vec<String> {
    let config = Config::load(false, Some(config)).unwrap();
    let stores = oxidp_server::open_stores(&config.store.url, 1)
        .await
        .unwrap();
    let options = config
        .identity_server_options(config.server.listen)
        .unwrap();
    let idp = IdentityServer::new(options, stores.clone(), Arc::new(SystemClock));
    let tickets = ServerSideTicketStore::new(
        stores.sessions.clone(),
        idp.protector().clone(),
        Some("name".into()),
    );
    let now = OffsetDateTime::now_utc();
    let mut sids = Vec::new();
    for n in 0..count {
        let session_id = format!("sid-{subject}-{n}");
        let ticket = AuthenticationTicket {
            subject_id: subject.to_owned(),
            session_id: session_id.clone(),
            auth_time: now,
            idp: "local".into(),
            amr: vec!["pwd".into()],
            client_ids: vec!["web".into()],
            issued: now,
            expires: now + time::Duration::hours(1),
            claims: [("name".to_owned(), serde_json::json!("Alice Smith"))].into(),
            issuer: None,
        };
        tickets.store(&ticket).await.unwrap();
        sids.push(session_id);
    }
    sids
}

#[test]
fn list_on_an_empty_database_prints_no_rows() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), true);
    let output = oxidp(dir.path(), &config, &["sessions", "list"]);
    assert_success(&output);
    let out = stdout(&output);
    assert!(out.contains("no sessions found"), "{out}");
    assert!(out.contains("0 session(s) in all"), "{out}");
    assert!(rows(&out).is_empty(), "{out}");
}

#[test]
fn list_fails_when_server_side_sessions_are_off() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), false);
    let output = oxidp(dir.path(), &config, &["sessions", "list"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("server-side sessions are not enabled"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn revoke_without_subject_or_sid_fails_with_a_clear_message() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), true);
    let output = oxidp(dir.path(), &config, &["sessions", "revoke"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("--subject") && err.contains("--sid"), "{err}");
    let output = oxidp(
        dir.path(),
        &config,
        &["sessions", "revoke", "--subject", ""],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--subject or --sid"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn revoke_help_says_a_running_server_delivers_notifications() {
    let output = Command::new(env!("CARGO_BIN_EXE_oxidp"))
        .args(["sessions", "revoke", "--help"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("running `oxidp serve`"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn list_pages_through_sessions_and_revoke_removes_them() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), true);
    let sids = seed_sessions(&config, "alice-sub", 3).await;
    seed_sessions(&config, "bob-sub", 1).await;

    let first = oxidp(
        dir.path(),
        &config,
        &[
            "sessions",
            "list",
            "--subject",
            "alice-sub",
            "--page-size",
            "2",
        ],
    );
    assert_success(&first);
    let first_out = stdout(&first);
    let first_rows = rows(&first_out);
    assert_eq!(first_rows.len(), 2, "{first_out}");
    assert_eq!(first_rows[0][0], "alice-sub");
    assert!(first_out.contains("Alice Smith"), "{first_out}");
    assert!(
        first_out.contains("page 1 of 2, 3 session(s) in all"),
        "{first_out}"
    );
    let next = token(&first_out, "next page").expect("a next-page token");

    let second = oxidp(
        dir.path(),
        &config,
        &[
            "sessions",
            "list",
            "--subject",
            "alice-sub",
            "--page-size",
            "2",
            "--page-token",
            &next,
        ],
    );
    assert_success(&second);
    let second_out = stdout(&second);
    assert_eq!(rows(&second_out).len(), 1, "{second_out}");
    assert!(second_out.contains("page 2 of 2"), "{second_out}");
    let back = token(&second_out, "previous page").expect("a previous-page token");
    let again = oxidp(
        dir.path(),
        &config,
        &[
            "sessions",
            "list",
            "--subject",
            "alice-sub",
            "--page-size",
            "2",
            "--page-token",
            &back,
            "--prior",
        ],
    );
    assert_success(&again);
    assert_eq!(
        rows(&stdout(&again)),
        first_rows,
        "backward returns the same page"
    );

    let revoke = oxidp(
        dir.path(),
        &config,
        &["sessions", "revoke", "--sid", &sids[0]],
    );
    assert_success(&revoke);
    assert!(
        stdout(&revoke).contains("1 session(s) matched, 1 removed"),
        "{}",
        stdout(&revoke)
    );
    let revoke = oxidp(
        dir.path(),
        &config,
        &[
            "sessions",
            "revoke",
            "--subject",
            "alice-sub",
            "--keep-consents",
        ],
    );
    assert_success(&revoke);
    assert!(
        stdout(&revoke).contains("2 session(s) matched, 2 removed"),
        "{}",
        stdout(&revoke)
    );

    let config_value = Config::load(false, Some(&config)).unwrap();
    let stores = oxidp_server::open_stores(&config_value.store.url, 1)
        .await
        .unwrap();
    let audit = stores.audit.list_audit(10).await.unwrap();
    assert_eq!(audit.len(), 2, "each revocation is audited");
    assert!(audit.iter().all(|entry| entry.actor == "cli:operator"));

    let all = oxidp(dir.path(), &config, &["sessions", "list"]);
    assert_success(&all);
    let all_rows = rows(&stdout(&all));
    assert_eq!(all_rows.len(), 1, "{}", stdout(&all));
    assert_eq!(all_rows[0][0], "bob-sub");
}

/// Session ids and subject ids are base64url and may start with `-`: taken as values, not
/// flags.
#[test]
fn ids_starting_with_a_hyphen_are_values() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), true);
    let list = oxidp(
        dir.path(),
        &config,
        &["sessions", "list", "--sid", "-poN4x", "--subject", "-sub"],
    );
    assert_success(&list);
    assert!(
        stdout(&list).contains("no sessions found"),
        "{}",
        stdout(&list)
    );
    let revoke = oxidp(
        dir.path(),
        &config,
        &["sessions", "revoke", "--sid", "-poN4x"],
    );
    assert_success(&revoke);
    assert!(
        stdout(&revoke).contains("0 session(s) matched"),
        "{}",
        stdout(&revoke)
    );
}
