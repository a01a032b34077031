//! `oxidp users ...` as an operator runs it, on the demo configuration in a temporary directory.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn oxidp(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxidp"));
    // A developer's own OXIDP_ variables must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OXIDP_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .arg("--demo")
        .current_dir(dir)
        .env("RUST_LOG", "warn");
    command
}

/// Runs `oxidp <args> --demo` in `dir` with `stdin` as standard input.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = oxidp(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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

/// The row of `username` in `oxidp users list`, split on white space.
fn listed(dir: &Path, username: &str) -> Option<Vec<String>> {
    let output = run(dir, &["users", "list"], "");
    assert_success(&output);
    stdout(&output)
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.get(1).map(String::as_str) == Some(username))
}

#[test]
fn add_list_set_password_disable_and_enable_a_user() {
    let dir = tempfile::TempDir::new().unwrap();
    let add = run(
        dir.path(),
        &[
            "users",
            "add",
            "carol",
            "--password-stdin",
            "--name",
            "Carol",
            "--email",
            "carol@example.com",
            "--email-verified",
            "--role",
            "admin",
            "--role",
            "auditor",
            "--subject-id",
            "carol-sub",
        ],
        "first password\n",
    );
    assert_success(&add);
    assert!(stdout(&add).contains("carol"), "{}", stdout(&add));
    assert!(
        !stdout(&add).contains("first password") && !stderr(&add).contains("first password"),
        "the password must never be printed"
    );

    let list = run(dir.path(), &["users", "list"], "");
    assert_success(&list);
    let text = stdout(&list);
    let header = text.lines().next().unwrap();
    for column in ["SUBJECT", "USERNAME", "ENABLED", "ROLES", "NAME", "EMAIL"] {
        assert!(header.contains(column), "{text}");
    }
    assert_eq!(
        listed(dir.path(), "carol").unwrap(),
        [
            "carol-sub",
            "carol",
            "yes",
            "admin,auditor",
            "Carol",
            "carol@example.com"
        ],
        "{text}"
    );
    assert!(
        !text.contains("argon2"),
        "hashes must not be listed: {text}"
    );

    let set = run(
        dir.path(),
        &["users", "set-password", "carol", "--password-stdin"],
        "second password\n",
    );
    assert_success(&set);
    assert!(stdout(&set).contains("carol"), "{}", stdout(&set));

    let disable = run(dir.path(), &["users", "disable", "carol"], "");
    assert_success(&disable);
    assert_eq!(listed(dir.path(), "carol").unwrap()[2], "no");

    let enable = run(dir.path(), &["users", "enable", "carol"], "");
    assert_success(&enable);
    assert_eq!(listed(dir.path(), "carol").unwrap()[2], "yes");
}

#[test]
fn password_is_read_from_piped_stdin_or_the_option() {
    let dir = tempfile::TempDir::new().unwrap();
    // No password option: standard input is not a terminal, so it is read.
    let piped = run(dir.path(), &["users", "add", "dave"], "piped\n");
    assert_success(&piped);
    let option = run(
        dir.path(),
        &["users", "add", "erin", "--password", "from-option"],
        "",
    );
    assert_success(&option);
    assert_eq!(listed(dir.path(), "dave").unwrap()[3], "-");
    assert!(listed(dir.path(), "erin").is_some());
}

#[test]
fn an_empty_password_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = run(
        dir.path(),
        &["users", "add", "frank", "--password-stdin"],
        "\n",
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
    assert!(listed(dir.path(), "frank").is_none());
}

#[test]
fn a_duplicate_username_is_a_clear_error() {
    let dir = tempfile::TempDir::new().unwrap();
    assert_success(&run(
        dir.path(),
        &["users", "add", "grace", "--password-stdin"],
        "pw\n",
    ));
    let again = run(
        dir.path(),
        &["users", "add", "grace", "--password-stdin"],
        "other\n",
    );
    assert!(!again.status.success());
    let message = stderr(&again);
    assert!(
        message.contains("grace") && message.contains("exists"),
        "{message}"
    );
}

#[test]
fn a_taken_subject_id_is_a_clear_error() {
    let dir = tempfile::TempDir::new().unwrap();
    let args = [
        "users",
        "add",
        "heidi",
        "--subject-id",
        "shared",
        "--password-stdin",
    ];
    assert_success(&run(dir.path(), &args, "pw\n"));
    let args = [
        "users",
        "add",
        "ivan",
        "--subject-id",
        "shared",
        "--password-stdin",
    ];
    let again = run(dir.path(), &args, "pw\n");
    assert!(!again.status.success());
    assert!(stderr(&again).contains("subject id"), "{}", stderr(&again));
}

#[test]
fn changing_an_unknown_user_names_it() {
    let dir = tempfile::TempDir::new().unwrap();
    for args in [
        &["users", "disable", "nobody"][..],
        &["users", "enable", "nobody"],
        &["users", "set-password", "nobody", "--password", "pw"],
    ] {
        let output = run(dir.path(), args, "");
        assert!(!output.status.success(), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.contains("no user") && message.contains("nobody"),
            "{args:?}: {message}"
        );
    }
}

#[test]
fn password_options_conflict() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = run(
        dir.path(),
        &[
            "users",
            "add",
            "judy",
            "--password",
            "x",
            "--password-stdin",
        ],
        "",
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn roles_and_claims_are_changed_in_place() {
    let dir = tempfile::TempDir::new().unwrap();
    assert_success(&run(
        dir.path(),
        &[
            "users",
            "add",
            "erin",
            "--password",
            "pw",
            "--name",
            "Erin",
            "--role",
            "auditor",
        ],
        "",
    ));

    let roles = run(
        dir.path(),
        &[
            "users",
            "set-roles",
            "erin",
            "--role",
            "admin",
            "--role",
            "support",
        ],
        "",
    );
    assert_success(&roles);
    assert_eq!(stdout(&roles).trim(), "roles of erin: admin, support");
    assert_eq!(listed(dir.path(), "erin").unwrap()[3], "admin,support");

    let none = run(dir.path(), &["users", "set-roles", "erin"], "");
    assert_success(&none);
    assert_eq!(listed(dir.path(), "erin").unwrap()[3], "-");

    let claims = run(
        dir.path(),
        &[
            "users",
            "set-claims",
            "erin",
            "--set",
            "email=erin@example.com",
            "--set",
            "email_verified=true",
            "--unset",
            "name",
        ],
        "",
    );
    assert_success(&claims);
    let text = stdout(&claims);
    assert!(text.contains(r#""email":"erin@example.com""#), "{text}");
    assert!(
        text.contains(r#""email_verified":true"#),
        "JSON values: {text}"
    );
    assert!(!text.contains("Erin"), "name removed: {text}");

    let reserved = run(
        dir.path(),
        &["users", "set-claims", "erin", "--set", "sub=x"],
        "",
    );
    assert!(!reserved.status.success());
    assert!(stderr(&reserved).contains("`sub`"), "{}", stderr(&reserved));
    let nothing = run(dir.path(), &["users", "set-claims", "erin"], "");
    assert!(!nothing.status.success());
    assert!(stderr(&nothing).contains("nothing to change"));
    let malformed = run(
        dir.path(),
        &["users", "set-claims", "erin", "--set", "email"],
        "",
    );
    assert!(stderr(&malformed).contains("expected NAME=VALUE"));
    let unknown = run(
        dir.path(),
        &["users", "set-roles", "nobody", "--role", "x"],
        "",
    );
    assert!(stderr(&unknown).contains("no user with the username `nobody`"));
}
