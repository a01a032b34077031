//! How the binary treats its configuration, as an operator meets it: `oxidp check-config`, the
//! `OXIDP_CONFIG` variable, environment variables that are not settings, keys named as written,
//! issuer warnings, and a database that refuses connections.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use std::path::Path;
use std::process::{Command, Output};

/// The binary in `dir`, without the developer's own `OXIDP_` variables.
fn oxidp(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command.current_dir(dir);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = oxidp(dir);
    command.arg("check-config").args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn check_config_accepts_a_valid_file_and_names_what_it_runs_with() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "oxidp.toml",
        "[server]\nlisten = \"127.0.0.1:7000\"\nissuer = \"https://id.example.com\"\n",
    );
    let output = check(dir.path(), &["--config", file.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = text(&output.stdout);
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(stdout.contains("https://id.example.com"), "{stdout}");
    assert_eq!(text(&output.stderr), "", "no warnings for this file");
    assert!(
        !dir.path().join("data").exists(),
        "checking opens no database"
    );
}

#[test]
fn oxidp_config_names_the_file_as_documented() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "custom.toml",
        "[server]\nlisten = \"127.0.0.1:7001\"\n",
    );
    let output = check(dir.path(), &[], &[("OXIDP_CONFIG", file.to_str().unwrap())]);
    assert!(output.status.success(), "{output:?}");
    assert!(text(&output.stdout).contains("listen 127.0.0.1:7001"));
}

#[test]
fn an_unrelated_oxidp_variable_is_a_warning_that_names_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = check(
        dir.path(),
        &["--demo"],
        &[("OXIDP_DEPLOYMENT_COLOUR", "blue")],
    );
    assert!(output.status.success(), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "warning: environment variable OXIDP_DEPLOYMENT_COLOUR is not an oxidp setting"
        ),
        "{stderr}"
    );
}

#[test]
fn a_mistyped_key_is_named_as_the_operator_wrote_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "oxidp.toml",
        "[server]\nlsiten = \"127.0.0.1:1\"\n",
    );
    let output = check(dir.path(), &["--config", file.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("for key `server.lsiten`"), "{stderr}");
    assert!(stderr.contains("oxidp.toml"), "names the file: {stderr}");
    assert!(!stderr.contains("default."), "{stderr}");

    let output = check(dir.path(), &["--demo"], &[("OXIDP_SERVER__LSITEN", "x")]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("`OXIDP_SERVER__LSITEN`"), "{stderr}");
}

#[test]
fn a_default_issuer_that_cannot_be_right_is_a_loud_warning() {
    let dir = tempfile::TempDir::new().unwrap();
    let everywhere = check(
        dir.path(),
        &["--demo"],
        &[("OXIDP_SERVER__LISTEN", "0.0.0.0:8080")],
    );
    assert!(everywhere.status.success(), "{everywhere:?}");
    let stderr = text(&everywhere.stderr);
    assert!(
        stderr.contains("`server.issuer` is not set while listening on 0.0.0.0:8080"),
        "{stderr}"
    );

    let postgres = check(
        dir.path(),
        &["--demo"],
        &[("OXIDP_STORE__URL", "postgres://oxidp@db.internal/oxidp")],
    );
    assert!(postgres.status.success(), "{postgres:?}");
    assert!(
        text(&postgres.stderr).contains("`server.issuer` is not set while the store is PostgreSQL"),
        "{postgres:?}"
    );

    let set = check(
        dir.path(),
        &["--demo"],
        &[
            ("OXIDP_SERVER__LISTEN", "0.0.0.0:8080"),
            ("OXIDP_SERVER__ISSUER", "https://id.example.com"),
        ],
    );
    assert_eq!(text(&set.stderr), "");
}

#[test]
fn a_database_that_refuses_connections_stops_start_up_with_the_cause() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = oxidp(dir.path())
        .args(["serve", "--demo"])
        .env("OXIDP_SERVER__LISTEN", "127.0.0.1:0")
        .env("OXIDP_STORE__URL", "postgres://postgres@127.0.0.1:1/oxidp")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
}
