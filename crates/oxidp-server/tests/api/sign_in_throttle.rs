//! Failed sign-ins slow down the address they come from, never the real user elsewhere
//! (OWASP ASVS 2.2.1): counted per (user, client address) in the database, shared by every
//! instance, with the client address taken from forwarding headers only behind a trusted proxy.

use crate::browser::*;
use crate::helpers::*;
use oxidp_core::clock::ManualClock;
use oxidp_core::store::Stores;
use std::net::IpAddr;
use std::sync::Arc;

const LOGIN: &str = "/account/login?return_url=%2Fconnect%2Fauthorize%3Fclient_id%3Dweb";

/// A browser that connects from `local` (a loopback address) and, when given, sends
/// `X-Forwarded-For: forwarded_for` as a proxy in front would.
fn browser_at(app: &TestApp, local: &str, forwarded_for: Option<&str>) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(address) = forwarded_for {
        headers.insert("x-forwarded-for", address.parse().unwrap());
    }
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local.parse::<IpAddr>().unwrap())
        .default_headers(headers)
        .build()
        .unwrap();
    Browser {
        http,
        base: app.address.clone(),
    }
}

async fn fail_five_times(browser: &Browser) {
    for _ in 0..5 {
        let response = browser.sign_in_at(LOGIN, "bob", "wrong").await;
        assert_eq!(
            response.status(),
            200,
            "a wrong password re-renders the form"
        );
    }
}

async fn signs_in(browser: &Browser) -> bool {
    let response = browser.sign_in_at(LOGIN, "bob", "bob-password").await;
    match response.status().as_u16() {
        429 => false,
        status => {
            assert!(response.status().is_redirection(), "status {status}");
            true
        }
    }
}

#[tokio::test]
async fn the_right_password_from_another_address_works_while_one_address_waits() {
    let clock = Arc::new(ManualClock::starting_now());
    let app = TestApp::spawn_with(Some(clock), |config| {
        config.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let attacker = browser_at(&app, "127.0.0.1", Some("203.0.113.5"));
    fail_five_times(&attacker).await;
    assert!(
        !signs_in(&attacker).await,
        "the guessing address waits, even with the right password"
    );
    let user = browser_at(&app, "127.0.0.1", Some("198.51.100.7"));
    assert!(
        signs_in(&user).await,
        "the real user from another address signs in"
    );
    // A delay, not a lockout: the guessing address may try again after it.
    app.clock().advance(time::Duration::seconds(30));
    assert!(signs_in(&attacker).await);
}

#[tokio::test]
async fn forwarding_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() {
    let app = TestApp::spawn_with(None, |config| {
        config.server.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await;
    // Both claim different addresses, but connect from the same untrusted peer.
    let attacker = browser_at(&app, "127.0.0.1", Some("203.0.113.5"));
    fail_five_times(&attacker).await;
    let claims_elsewhere = browser_at(&app, "127.0.0.1", Some("198.51.100.7"));
    assert!(
        !signs_in(&claims_elsewhere).await,
        "a forged X-Forwarded-For does not escape the peer's counter"
    );
    // A really different peer address is another client.
    let elsewhere = browser_at(&app, "127.0.0.2", None);
    assert!(signs_in(&elsewhere).await);
}

#[tokio::test]
async fn the_counter_holds_across_two_servers_on_one_postgres_database() {
    let store = oxidp_store::testing::postgres_test_store().await;
    let second = oxidp_store::testing::another_instance(&store).await;
    let behind_proxy = |config: &mut oxidp_server::config::Config| {
        config.server.trusted_proxies = vec!["127.0.0.1".into()];
    };
    let first = TestApp::spawn_on(
        Some(Stores::from_backend(Arc::new(store.clone()))),
        None,
        behind_proxy,
    )
    .await;
    let other = TestApp::spawn_on(
        Some(Stores::from_backend(Arc::new(second.clone()))),
        None,
        behind_proxy,
    )
    .await;
    let on_first = browser_at(&first, "127.0.0.1", Some("203.0.113.5"));
    let on_other = browser_at(&other, "127.0.0.1", Some("203.0.113.5"));
    for browser in [&on_first, &on_other, &on_first, &on_other, &on_first] {
        let response = browser.sign_in_at(LOGIN, "bob", "wrong").await;
        assert_eq!(response.status(), 200);
    }
    assert!(
        !signs_in(&on_other).await,
        "failures on one instance count on the other"
    );
    let user = browser_at(&other, "127.0.0.1", Some("198.51.100.7"));
    assert!(signs_in(&user).await);
    drop((first, other));
    oxidp_store::testing::drop_test_schema(store).await;
}
