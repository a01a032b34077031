//! Back-channel logout: who gets a logout token, what it says, and that it arrives.

use crate::browser::*;
use crate::helpers::*;
use axum::extract::State;
use axum::http::StatusCode;
use oxidp_core::services::RemoveSessionsContext;
use oxidp_server::config::{ClientConfig, SecretConfig};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client's back-channel logout endpoint that records what it receives and can fail the
/// first attempts.
#[derive(Clone, Default)]
pub struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    message_ids: Arc<Mutex<Vec<String>>>,
    failures_left: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    receiver.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(id) = headers.get(oxidp_core::services::MESSAGE_ID_HEADER) {
        let id = id.to_str().unwrap_or_default().to_owned();
        receiver.message_ids.lock().unwrap().push(id);
    }
    if receiver.failures_left.load(Ordering::SeqCst) > 0 {
        receiver.failures_left.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let token = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    match token {
        Some(token) => {
            receiver.tokens.lock().unwrap().push(token);
            StatusCode::OK
        }
        None => StatusCode::BAD_REQUEST,
    }
}

impl Receiver {
    /// Starts the receiver on 127.0.0.1:0 and returns its URL.
    pub async fn start(failures: usize) -> (Self, String) {
        let receiver = Receiver {
            failures_left: Arc::new(AtomicUsize::new(failures)),
            ..Default::default()
        };
        let app = axum::Router::new()
            .route("/bcl", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bcl", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    pub fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }

    /// Waits (bounded) until `count` tokens arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        while self.tokens().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.tokens()
    }
}

/// A confidential code-flow client with a back-channel logout URI.
pub fn bcl_client(client_id: &str, uri: Option<&str>) -> ClientConfig {
    let mut client = oxidp_core::model::Client::new(client_id);
    client.allowed_grant_types = vec![oxidp_core::model::GrantType::AuthorizationCode];
    client.allowed_scopes = vec!["openid".into()];
    client.allow_offline_access = true;
    client.redirect_uris = vec![WEB_REDIRECT.into()];
    client.backchannel_logout_uri = uri.map(str::to_owned);
    let secret = SecretConfig {
        value: Some(format!("{client_id}-secret")),
        ..Default::default()
    };
    ClientConfig::new(client, vec![secret])
}

/// Signs alice in with `web` and then silently with each of `clients` in the same browser.
pub async fn session_with(app: &TestApp, clients: &[&str]) -> (Browser, Value) {
    let (browser, tokens) = app.web_tokens("openid offline_access").await;
    for client in clients {
        let (_, challenge) = pkce();
        let response = browser
            .authorize(&[
                ("client_id", client),
                ("redirect_uri", WEB_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert!(query(&location(&response)).contains_key("code"), "{client}");
    }
    (browser, tokens)
}

pub async fn verify_logout_token(app: &TestApp, token: &str) -> serde_json::Map<String, Value> {
    let jwks: Value = app
        .get("/.well-known/openid-configuration/jwks")
        .await
        .json()
        .await
        .unwrap();
    let claims = oxidp_jose::verify::verify_signature(token, &jwks)
        .expect("the logout token verifies against the JWKS");
    assert_eq!(jwt_header(token)["typ"], "logout+jwt");
    claims
}

#[tokio::test]
async fn rp_initiated_logout_notifies_each_client_of_the_session_once() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.clients.push(bcl_client("bcl-a", Some(&url)));
        config.clients.push(bcl_client("bcl-b", Some(&url)));
        config.clients.push(bcl_client("no-bcl", None));
        config.clients.push(bcl_client("unused", Some(&url)));
    })
    .await;
    let (browser, tokens) = session_with(&app, &["bcl-a", "bcl-b", "no-bcl", "bcl-a"]).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint)])
        ))
        .await;
    assert_eq!(response.status(), 200);
    let delivered = receiver.wait_for(2, Duration::from_secs(10)).await;
    // Every message recorded as delivered and nothing left pending: no further send can come.
    app.wait_for_outbox_settled(2, Duration::from_secs(10))
        .await;
    assert_eq!(
        receiver.tokens().len(),
        2,
        "bcl-a and bcl-b, once each; not no-bcl, not unused"
    );
    let id_claims = jwt_payload(hint);
    let mut audiences = Vec::new();
    for token in &delivered {
        let claims = verify_logout_token(&app, token).await;
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], id_claims["sub"]);
        assert_eq!(claims["sid"], id_claims["sid"]);
        assert_eq!(claims["logout_reason"], "user_logout");
        assert!(
            claims["events"]
                .get("http://schemas.openid.net/event/backchannel-logout")
                .is_some()
        );
        assert!(
            claims.get("nonce").is_none(),
            "a logout token must not carry a nonce"
        );
        audiences.push(claims["aud"].as_str().unwrap().to_owned());
    }
    audiences.sort();
    assert_eq!(audiences, ["bcl-a", "bcl-b"]);
}

#[tokio::test]
async fn a_receiver_that_fails_the_first_attempts_still_gets_the_token() {
    let (receiver, url) = Receiver::start(2).await;
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.backchannel_logout.initial_backoff = Duration::from_secs(1);
        config.clients.push(bcl_client("flaky", Some(&url)));
    })
    .await;
    let (browser, tokens) = session_with(&app, &["flaky"]).await;
    let hint = tokens["id_token"].as_str().unwrap();
    browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint)])
        ))
        .await;
    let delivered = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        receiver.hits.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );
    let claims = verify_logout_token(&app, &delivered[0]).await;
    // Every attempt named the same message, the one the token's `jti` names.
    let ids = receiver.message_ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| claims["jti"] == id.as_str()), "{ids:?}");
}

#[tokio::test]
async fn a_receiver_answering_500_without_a_body_is_retried_and_never_marked_delivered() {
    use oxidp_core::model::DeliveryStatus;

    // Every answer is a bare 500: no body, nothing that looks like an acknowledgement.
    let (receiver, url) = Receiver::start(usize::MAX).await;
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.backchannel_logout.initial_backoff = Duration::from_secs(1);
        config.backchannel_logout.max_backoff = Duration::from_secs(1);
        config.clients.push(bcl_client("broken", Some(&url)));
    })
    .await;
    let (browser, tokens) = session_with(&app, &["broken"]).await;
    let hint = tokens["id_token"].as_str().unwrap();
    browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint)])
        ))
        .await;

    // Wait (bounded) for the worker to have recorded a second failed attempt.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let message = loop {
        let pending = app
            .stores
            .outbox
            .list_messages(DeliveryStatus::Pending, 10)
            .await
            .unwrap();
        if let Some(message) = pending.iter().find(|m| m.attempts >= 2) {
            break message.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second attempt was recorded: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivered = app
        .stores
        .outbox
        .list_messages(DeliveryStatus::Delivered, 10)
        .await
        .unwrap();
    assert!(
        delivered.is_empty(),
        "a 500 is not a delivery: {delivered:?}"
    );
    let attempts = app.stores.outbox.list_attempts(message.id).await.unwrap();
    assert!(attempts.len() >= 2, "{attempts:?}");
    for attempt in &attempts {
        assert_eq!(attempt.http_status, Some(500));
        assert!(attempt.error.is_some(), "a 500 is recorded as a failure");
    }
    assert!(receiver.hits.load(Ordering::SeqCst) >= 2);
    assert!(receiver.tokens().is_empty());
}

#[tokio::test]
async fn admin_removal_revokes_tokens_and_notifies_only_the_selected_clients() {
    let (receiver, url) = Receiver::start(0).await;
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.clients.push(bcl_client("bcl-a", Some(&url)));
        config.clients.push(bcl_client("bcl-b", Some(&url)));
    })
    .await;
    let (browser, tokens) = session_with(&app, &["bcl-a", "bcl-b"]).await;
    let sid = jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = app.identity_server();
    // A filter that excludes the session's `web` client leaves its grants and tells it nothing.
    let summary = server
        .session_management
        .remove_sessions(&RemoveSessionsContext {
            session_id: Some(sid.clone()),
            client_ids: Some(vec!["bcl-b".into()]),
            remove_server_side_session: false,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(summary.notifications_enqueued, 1);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "web's refresh token survives a removal aimed at bcl-b"
    );
    let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        verify_logout_token(&app, &delivered[0]).await["aud"],
        "bcl-b"
    );
    assert_eq!(
        verify_logout_token(&app, &delivered[0]).await["logout_reason"],
        "terminated"
    );

    // Everything: the session goes, the browser is signed out, the tokens are revoked.
    let renewed: Value = response.json().await.unwrap();
    let summary = server
        .session_management
        .remove_sessions(&RemoveSessionsContext {
            session_id: Some(sid),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(summary.sessions_removed, 1);
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", renewed["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
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
}

#[tokio::test]
async fn the_discovery_document_advertises_back_channel_logout() {
    let app = TestApp::spawn().await;
    let document: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(document["backchannel_logout_supported"], true);
    assert_eq!(document["backchannel_logout_session_supported"], true);
}

#[tokio::test]
async fn a_restart_with_a_backlog_of_pending_deliveries_loses_none() {
    use oxidp_core::clock::SystemClock;
    use oxidp_core::model::{
        BackchannelLogout, DeliveryStatus, LogoutReason, OutboxMessage, OutboxPayload,
    };
    use oxidp_server::Server;
    use oxidp_server::config::Config;

    // A port nobody listens on yet: the first server's attempts are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/bcl");
    let dir = tempfile::TempDir::new().unwrap();
    let key = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    let mut config = Config::from_toml(&test_config(&dir, &key)).unwrap();
    config.backchannel_logout.initial_backoff = Duration::from_secs(1);
    config.backchannel_logout.max_backoff = Duration::from_secs(1);
    config.clients.push(bcl_client("bcl-a", Some(&url)));

    let run = |config: Config| async move {
        let stores = oxidp_server::open_stores(&config.store.url, 4)
            .await
            .unwrap();
        let server = Server::build_with(config, stores.clone(), Arc::new(SystemClock))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        (stores, stop, running)
    };

    let (stores, stop, running) = run(config.clone()).await;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let messages: Vec<OutboxMessage> = (0..20)
        .map(|i| OutboxMessage {
            id: uuid::Uuid::now_v7(),
            client_id: "bcl-a".into(),
            endpoint: url.clone(),
            payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
                subject_id: format!("user-{i}"),
                session_id: format!("sid-{i}"),
                reason: LogoutReason::Terminated,
            }),
            created: now,
            next_attempt: now,
            attempts: 0,
            give_up_after: now + time::Duration::hours(1),
            status: DeliveryStatus::Pending,
        })
        .collect();
    stores.outbox.enqueue(&messages).await.unwrap();
    // Let the first server try (and fail) at least once, then stop it.
    let tried = stores.outbox.clone();
    oxidp_testing::wait_until("a failed attempt", Duration::from_secs(10), || {
        let tried = tried.clone();
        async move {
            let pending = tried
                .list_messages(DeliveryStatus::Pending, 100)
                .await
                .ok()?;
            pending.iter().any(|m| m.attempts > 0).then_some(())
        }
    })
    .await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    let pending = stores
        .outbox
        .list_messages(DeliveryStatus::Pending, 100)
        .await
        .unwrap();
    assert_eq!(
        pending.len(),
        20,
        "nothing delivered while the receiver was down"
    );
    assert!(
        pending.iter().all(|m| m.attempts >= 1),
        "each was attempted before the restart"
    );

    // The receiver comes up on the same port; a new server on the same database delivers all.
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/bcl", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (stores, stop, running) = run(config).await;
    let delivered = receiver.wait_for(20, Duration::from_secs(20)).await;
    assert_eq!(delivered.len(), 20);
    let subjects: std::collections::HashSet<String> = delivered
        .iter()
        .map(|token| jwt_payload(token)["sub"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects.len(), 20, "each message once");
    // The receiver has a token a moment before the server records the delivery: wait for the
    // records (bounded) before checking that none is left pending.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut pending = stores
        .outbox
        .list_messages(DeliveryStatus::Pending, 100)
        .await
        .unwrap();
    while !pending.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        pending = stores
            .outbox
            .list_messages(DeliveryStatus::Pending, 100)
            .await
            .unwrap();
    }
    assert!(pending.is_empty());
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
