//! Backups as an operator takes them (`docs/operations.md`): a cleanly stopped server leaves one
//! self-sufficient SQLite file, and `oxidp backup` copies the database while the server runs;
//! either copy, put in the database's place, brings back the sessions it held.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use std::path::Path;

mod example_server;

use example_server::*;

/// The example's database file, relative to the directory the server runs in.
const DATABASE: &str = "data/session-migration.db";

/// Removes the database and the WAL files beside it.
fn wipe(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dir.join(DATABASE).display()));
    }
}

/// Puts `copy` in the database's place, as a restore does.
fn restore(dir: &Path, copy: &Path) {
    wipe(dir);
    std::fs::copy(copy, dir.join(DATABASE)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_online_backup_restores_the_sessions_it_held() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = example_config(dir.path());
    switch_server_side_sessions_on(&config);
    let port = free_port();
    let server = serve(dir.path(), &config, port);
    let mut alice = Browser::default();
    let callback = sign_in_through_the_web_app(&mut alice, &server.base).await;
    assert!(callback.contains("code="), "{callback}");
    let cookie = alice.session().unwrap().to_owned();

    let backup = dir.path().join("backup.db");
    let output = oxidp(dir.path())
        .args(["backup", "--config"])
        .arg(&config)
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("backup written to "), "{stdout}");

    // A second backup to the same file is refused: a backup never overwrites.
    let again = oxidp(dir.path())
        .args(["backup", "--config"])
        .arg(&config)
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already"),
        "{again:?}"
    );

    // The database is lost: a server on a fresh one knows no session.
    server.stop();
    wipe(dir.path());
    let server = serve(dir.path(), &config, port);
    assert!(
        !silently_signed_in(&mut Browser::with_session(&cookie), &server.base).await,
        "a fresh database knows no session"
    );
    server.stop();

    restore(dir.path(), &backup);
    let server = serve(dir.path(), &config, port);
    assert!(
        silently_signed_in(&mut Browser::with_session(&cookie), &server.base).await,
        "the restored backup holds alice's session"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cleanly_stopped_server_leaves_everything_in_the_database_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = example_config(dir.path());
    switch_server_side_sessions_on(&config);
    let port = free_port();
    let server = serve(dir.path(), &config, port);
    let mut alice = Browser::default();
    sign_in_through_the_web_app(&mut alice, &server.base).await;
    server.stop();

    let wal = dir.path().join(format!("{DATABASE}-wal"));
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL was checkpointed into the database file"
    );
    // Only the database file, copied alone (a cold backup), still holds the session.
    let cold = dir.path().join("cold.db");
    std::fs::copy(dir.path().join(DATABASE), &cold).unwrap();
    restore(dir.path(), &cold);
    let server = serve(dir.path(), &config, port);
    assert!(silently_signed_in(&mut alice, &server.base).await);
    server.stop();
}

#[test]
fn backup_of_a_postgresql_store_points_to_pg_dump() {
    let dir = tempfile::TempDir::new().unwrap();
    let output = oxidp(dir.path())
        .args(["backup", "--demo"])
        .arg(dir.path().join("copy.db"))
        // Refused before connecting: no server answers on this port.
        .env("OXIDP_STORE__URL", "postgres://postgres@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
}
