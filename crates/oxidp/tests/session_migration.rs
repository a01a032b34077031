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
use std::path::Path;
use time::OffsetDateTime;

mod example_server;

use example_server::*;

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
