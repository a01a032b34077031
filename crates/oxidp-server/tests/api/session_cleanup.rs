//! The end of expired sessions: the cleanup job (also two workers on one PostgreSQL database)
//! and a browser meeting an expired session first.

use crate::backchannel::{Receiver, bcl_client, session_with, verify_logout_token};
use crate::browser::*;
use crate::helpers::*;
use oxidp_core::clock::ManualClock;
use oxidp_core::model::{PersistedGrantFilter, SessionFilter, grant_types};
use oxidp_core::services::ExpiredSessionCleanup;
use oxidp_core::store::Stores;
use oxidp_server::config::Config;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// One-hour sessions; `web` coordinated with them and notified at `logout_uri`.
fn coordinated_web(config: &mut Config, logout_uri: &str) {
    config.server_side_sessions.enabled = true;
    config.authentication.cookie_lifetime = Duration::from_secs(3600);
    config.store.cache_duration = Duration::ZERO;
    let web = &mut config
        .clients
        .iter_mut()
        .find(|c| c.client.client_id == "web")
        .unwrap()
        .client;
    web.coordinate_lifetime_with_user_session = Some(true);
    web.access_token_lifetime = Duration::from_secs(4 * 3600);
    web.backchannel_logout_uri = Some(logout_uri.to_owned());
}

fn cleanup(app: &TestApp) -> Arc<ExpiredSessionCleanup> {
    app.identity_server()
        .session_expiration
        .clone()
        .expect("server-side sessions are on")
}

fn sid(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sessions_with_sid(app: &TestApp, sid: &str) -> usize {
    app.stores
        .sessions
        .get_sessions(&SessionFilter {
            session_id: Some(sid.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

async fn refresh_tokens_of(app: &TestApp, sid: &str) -> usize {
    app.stores
        .grants
        .get_grants(&PersistedGrantFilter {
            session_id: Some(sid.to_owned()),
            grant_type: Some(grant_types::REFRESH_TOKEN.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

async fn refresh(app: &TestApp, tokens: &Value) -> reqwest::Response {
    app.post_token(
        Some(("web", "web-secret")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await
}

/// The claims of a delivered logout token, checked against the JWKS.
async fn expiration_logout(
    app: &TestApp,
    token: &str,
    tokens: &Value,
) -> serde_json::Map<String, Value> {
    let claims = verify_logout_token(app, token).await;
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], id_token["sub"]);
    assert_eq!(claims["sid"], id_token["sid"]);
    assert_eq!(claims["logout_reason"], "session_expiration");
    assert!(
        claims["events"]
            .as_object()
            .unwrap()
            .contains_key(oxidp_core::services::BACKCHANNEL_LOGOUT_EVENT)
    );
    claims
}

#[tokio::test]
async fn cleanup_sends_a_verifiable_logout_token_and_revokes_the_coordinated_refresh_token() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        coordinated_web(config, &url)
    })
    .await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let sid = sid(&tokens);
    assert_eq!(refresh_tokens_of(&app, &sid).await, 1);

    app.clock().advance(time::Duration::minutes(59));
    let early = cleanup(&app).remove_expired_sessions().await.unwrap();
    assert_eq!(early.sessions_removed, 0, "a live session was removed");

    app.clock().advance(time::Duration::minutes(2));
    let summary = cleanup(&app).remove_expired_sessions().await.unwrap();
    assert_eq!(summary.sessions_removed, 1);
    assert_eq!(summary.notifications_enqueued, 1);
    assert_eq!(sessions_with_sid(&app, &sid).await, 0);
    assert_eq!(refresh_tokens_of(&app, &sid).await, 0);
    assert_oauth_error(refresh(&app, &tokens).await, 400, "invalid_grant").await;

    let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    let claims = expiration_logout(&app, &delivered[0], &tokens).await;
    assert_eq!(claims["aud"], "web");

    let again = cleanup(&app).remove_expired_sessions().await.unwrap();
    assert_eq!(again.sessions_removed, 0);
    assert_eq!(again.notifications_enqueued, 0);
    app.wait_for_outbox_settled(1, Duration::from_secs(10))
        .await;
    assert_eq!(receiver.tokens().len(), 1, "a session was notified twice");
}

/// A session used by `web` (coordinated), `bcl-a` (not coordinated) and `gone` (deleted before
/// the session expires); returns what the cleanup enqueued and to whom it was delivered.
async fn expire_a_session_of_three_clients(trigger_all: bool) -> (u64, Vec<String>) {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        coordinated_web(config, &url);
        config
            .server_side_sessions
            .expired_sessions_trigger_backchannel_logout = trigger_all;
        config.clients.push(bcl_client("bcl-a", Some(&url)));
        config.clients.push(bcl_client("gone", Some(&url)));
    })
    .await;
    let (_, tokens) = session_with(&app, &["bcl-a", "gone"]).await;
    assert!(app.stores.clients.delete_client("gone").await.unwrap());
    app.clock().advance(time::Duration::minutes(61));
    let summary = cleanup(&app).remove_expired_sessions().await.unwrap();
    assert_eq!(
        summary.sessions_removed, 1,
        "an unknown client is not fatal"
    );
    let expected = summary.notifications_enqueued as usize;
    let delivered = receiver.wait_for(expected, Duration::from_secs(10)).await;
    let mut audiences = Vec::new();
    for token in &delivered {
        let claims = expiration_logout(&app, token, &tokens).await;
        audiences.push(claims["aud"].as_str().unwrap().to_owned());
    }
    audiences.sort();
    (summary.notifications_enqueued, audiences)
}

#[tokio::test]
async fn an_expired_session_notifies_every_client_of_the_session_by_default() {
    let (enqueued, audiences) = expire_a_session_of_three_clients(true).await;
    assert_eq!(enqueued, 2);
    assert_eq!(audiences, ["bcl-a", "web"]);
}

#[tokio::test]
async fn without_the_trigger_an_expired_session_notifies_only_coordinated_clients() {
    let (enqueued, audiences) = expire_a_session_of_three_clients(false).await;
    assert_eq!(enqueued, 1);
    assert_eq!(audiences, ["web"]);
}

#[tokio::test]
async fn a_browser_meeting_an_expired_session_is_signed_out_and_the_session_ended() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        coordinated_web(config, &url)
    })
    .await;
    let (browser, tokens) = app.web_tokens("openid offline_access").await;
    let sid = sid(&tokens);
    app.clock().advance(time::Duration::minutes(61));
    // The record is still there: no cleanup has run.
    assert_eq!(sessions_with_sid(&app, &sid).await, 1);

    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(query(&location(&response))["error"], "login_required");
    assert_eq!(sessions_with_sid(&app, &sid).await, 0);
    assert_eq!(refresh_tokens_of(&app, &sid).await, 0);
    let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    expiration_logout(&app, &delivered[0], &tokens).await;
}

#[tokio::test]
async fn the_cleanup_job_runs_in_the_background_on_its_schedule() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        coordinated_web(config, &url);
        config.server_side_sessions.remove_expired_sessions = true;
        config
            .server_side_sessions
            .remove_expired_sessions_frequency = Duration::from_secs(1);
        config
            .server_side_sessions
            .fuzz_expired_session_removal_start = false;
    })
    .await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    app.clock().advance(time::Duration::minutes(61));
    let delivered = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(
        delivered.len(),
        1,
        "the job did not end the expired session"
    );
    assert_eq!(sessions_with_sid(&app, &sid(&tokens)).await, 0);
}

#[tokio::test]
async fn two_cleanup_workers_on_one_postgres_database_deliver_each_logout_exactly_once() {
    const SESSIONS: usize = 10_000;
    let (receiver, url) = Receiver::start(0).await;
    let store = oxidp_store::testing::postgres_test_store().await;
    // A second instance: its own connection pool on the same schema.
    let second = oxidp_store::testing::another_instance(&store).await;
    let clock = Arc::new(ManualClock::starting_now());
    let adjust = |config: &mut Config| {
        coordinated_web(config, &url);
        config.clients.push(bcl_client("bcl-a", Some(&url)));
    };
    let first = TestApp::spawn_on(
        Some(Stores::from_backend(Arc::new(store.clone()))),
        Some(clock.clone()),
        adjust,
    )
    .await;
    let other = TestApp::spawn_on(
        Some(Stores::from_backend(Arc::new(second.clone()))),
        Some(clock.clone()),
        adjust,
    )
    .await;

    // One real session of `web` and `bcl-a`, copied under 10,000 keys and session ids.
    let (_, tokens) = session_with(&first, &["bcl-a"]).await;
    let filter = SessionFilter {
        session_id: Some(sid(&tokens)),
        ..Default::default()
    };
    let template = first.stores.sessions.get_sessions(&filter).await.unwrap();
    let template = template.into_iter().next().unwrap();
    assert!(
        first
            .stores
            .sessions
            .delete_session(&template.key)
            .await
            .unwrap()
    );
    let mut inserts = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let sessions = first.stores.sessions.clone();
        let template = template.clone();
        inserts.spawn(async move {
            for n in (worker..SESSIONS).step_by(8) {
                let mut copy = template.clone();
                copy.key = format!("copy-{n}");
                copy.session_id = format!("sid-{n}");
                sessions.create_session(&copy).await.unwrap();
            }
        });
    }
    while let Some(done) = inserts.join_next().await {
        done.unwrap();
    }

    clock.advance(time::Duration::minutes(61));
    let (worker_a, worker_b) = (cleanup(&first), cleanup(&other));
    let (a, b) = tokio::join!(
        worker_a.remove_expired_sessions(),
        worker_b.remove_expired_sessions()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sessions_removed + b.sessions_removed, SESSIONS as u64);
    assert_eq!(
        a.notifications_enqueued + b.notifications_enqueued,
        2 * SESSIONS as u64
    );

    let delivered = receiver
        .wait_for(2 * SESSIONS, Duration::from_secs(180))
        .await;
    assert_eq!(delivered.len(), 2 * SESSIONS, "not every logout arrived");
    // Both instances' delivery workers keep running: once every message is recorded as
    // delivered, none is sent again, so what arrived by then is final.
    first
        .wait_for_outbox_settled(2 * SESSIONS, Duration::from_secs(60))
        .await;
    let delivered = receiver.tokens();
    let pairs: HashSet<(String, String)> = delivered
        .iter()
        .map(|token| {
            let claims = jwt_payload(token);
            (
                claims["aud"].as_str().unwrap().to_owned(),
                claims["sid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        delivered.len(),
        2 * SESSIONS,
        "a logout token arrived twice"
    );
    assert_eq!(
        pairs.len(),
        2 * SESSIONS,
        "a (client, session) pair repeats"
    );
    drop((first, other));
    second.close().await;
    oxidp_store::testing::drop_test_schema(store).await;
}

/// The value of an unlabelled counter (or a histogram's `_count`) in the Prometheus text, 0
/// when it is not there yet.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .filter(|(series, _)| *series == name || series.starts_with(&format!("{name}{{")))
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_cleanup_run_shows_in_the_metrics() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        coordinated_web(config, &url)
    })
    .await;
    app.web_tokens("openid offline_access").await;
    // Other tests of this binary share the process's recorder: compare before and after.
    let before = app.get("/metrics").await.text().await.unwrap();
    app.clock().advance(time::Duration::minutes(61));
    let summary = cleanup(&app).remove_expired_sessions().await.unwrap();
    assert_eq!(summary.sessions_removed, 1);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // The delivery is counted right after the receiver answers: wait for the count.
    let delivered_before = metric(&before, "oxidp_backchannel_logout_delivered_total");
    let after = wait_until(
        "the delivery to be counted",
        Duration::from_secs(10),
        || async {
            let text = app.get("/metrics").await.text().await.unwrap();
            (metric(&text, "oxidp_backchannel_logout_delivered_total") > delivered_before)
                .then_some(text)
        },
    )
    .await;

    for (name, at_least) in [
        ("oxidp_sessions_removed_by_cleanup_total", 1.0),
        ("oxidp_backchannel_logout_enqueued_total", 1.0),
        ("oxidp_backchannel_logout_delivered_total", 1.0),
        ("oxidp_session_cleanup_duration_seconds_count", 1.0),
    ] {
        let grown = metric(&after, name) - metric(&before, name);
        assert!(grown >= at_least, "{name} grew by {grown}:\n{after}");
    }
    for name in [
        "oxidp_sessions_active",
        "oxidp_sessions_created_total",
        "oxidp_backchannel_logout_failed_total",
    ] {
        assert!(after.contains(name), "{name} is not exposed:\n{after}");
    }
}
