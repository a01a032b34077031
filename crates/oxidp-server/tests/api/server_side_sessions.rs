//! Server-side sessions over HTTP: the cookie holds a key, the session lives in the store.

use crate::browser::*;
use crate::helpers::*;
use async_trait::async_trait;
use oxidp_core::clock::ManualClock;
use oxidp_core::model::{QueryResult, ServerSideSession, SessionFilter, SessionQuery};
use oxidp_core::store::{SessionStore, StoreResult, Stores};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;

async fn spawn(clock: Option<Arc<ManualClock>>, sliding: bool) -> TestApp {
    TestApp::spawn_with(clock, |config| {
        config.server_side_sessions.enabled = true;
        config.server_side_sessions.user_display_name_claim_type = Some("name".into());
        config.authentication.cookie_sliding_expiration = sliding;
    })
    .await
}

async fn sessions_of(app: &TestApp, filter: SessionFilter) -> Vec<ServerSideSession> {
    app.stores.sessions.get_sessions(&filter).await.unwrap()
}

fn sid_of(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sub_of(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn silent_authorize(
    browser: &Browser,
    client_id: &str,
) -> std::collections::HashMap<String, String> {
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", client_id),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    query(&location(&response))
}

#[tokio::test]
async fn login_creates_a_record_and_the_cookie_holds_only_its_key() {
    let app = spawn(None, false).await;
    let (_browser, tokens) = app.web_tokens("openid").await;
    let sessions = sessions_of(
        &app,
        SessionFilter {
            session_id: Some(sid_of(&tokens)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.subject_id, sub_of(&tokens));
    assert_eq!(session.display_name.as_deref(), Some("Alice Smith"));
    assert_eq!(session.key.len(), 43, "256-bit key");
    assert!(session.expires.is_some());
    // The browser's cookie is the key: the record is found by it.
    assert!(
        app.stores
            .sessions
            .get_session(&session.key)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn deleting_the_record_signs_the_browser_out() {
    let app = spawn(None, false).await;
    let (browser, tokens) = app.web_tokens("openid").await;
    assert!(silent_authorize(&browser, "web").await.contains_key("code"));
    let filter = SessionFilter {
        session_id: Some(sid_of(&tokens)),
        ..Default::default()
    };
    let records = app.stores.sessions.get_sessions(&filter).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(
        app.stores
            .sessions
            .delete_session(&records[0].key)
            .await
            .unwrap()
    );
    assert_eq!(
        silent_authorize(&browser, "web").await["error"],
        "login_required"
    );
}

#[tokio::test]
async fn a_corrupted_ticket_signs_out_and_deletes_the_record() {
    let app = spawn(None, false).await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let filter = SessionFilter {
        session_id: Some(sid_of(&tokens)),
        ..Default::default()
    };
    let mut session = sessions_of(&app, filter.clone()).await.remove(0);
    let last = session.ticket.len() - 1;
    session.ticket[last] ^= 0x55;
    app.stores.sessions.update_session(&session).await.unwrap();
    assert_eq!(
        silent_authorize(&browser, "web").await["error"],
        "login_required"
    );
    assert!(
        sessions_of(&app, filter).await.is_empty(),
        "the unreadable record is deleted"
    );
}

#[tokio::test]
async fn two_browsers_make_two_records_and_logout_removes_one() {
    let app = spawn(None, false).await;
    let (first, first_tokens) = app.web_tokens("openid").await;
    let (_second, second_tokens) = app.web_tokens("openid").await;
    let subject = sub_of(&first_tokens);
    assert_eq!(
        sessions_of(
            &app,
            SessionFilter {
                subject_id: Some(subject.clone()),
                ..Default::default()
            }
        )
        .await
        .len(),
        2
    );
    assert_ne!(sid_of(&first_tokens), sid_of(&second_tokens));
    let hint = first_tokens["id_token"].as_str().unwrap();
    let response = first
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint)])
        ))
        .await;
    assert_eq!(response.status(), 200);
    let left = sessions_of(
        &app,
        SessionFilter {
            subject_id: Some(subject),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].session_id, sid_of(&second_tokens));
}

async fn sign_in_again(browser: &Browser, user: (&str, &str)) {
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "login"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    let posted = browser
        .sign_in_at(&location(&response), user.0, user.1)
        .await;
    browser.follow_to_client(posted).await;
}

#[tokio::test]
async fn signing_in_again_as_the_same_user_rotates_the_key_and_keeps_the_sid() {
    let app = spawn(None, false).await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let subject = SessionFilter {
        subject_id: Some(sub_of(&tokens)),
        ..Default::default()
    };
    let before = sessions_of(&app, subject.clone()).await;
    sign_in_again(&browser, ("alice", "alice-password")).await;
    let after = sessions_of(&app, subject).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].key, before[0].key, "a new key at every sign-in");
    assert_eq!(after[0].session_id, before[0].session_id);
    assert!(
        app.stores
            .sessions
            .get_session(&before[0].key)
            .await
            .unwrap()
            .is_none(),
        "a copy of the old cookie opens nothing"
    );
}

#[tokio::test]
async fn another_user_in_the_same_browser_gets_a_new_sid_and_the_previous_refresh_token_is_revoked()
{
    let app = spawn(None, false).await;
    let (browser, tokens) = app.web_tokens("openid offline_access").await;
    let alice_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let alice_session = sessions_of(
        &app,
        SessionFilter {
            session_id: Some(sid_of(&tokens)),
            ..Default::default()
        },
    )
    .await
    .remove(0);
    sign_in_again(&browser, ("bob", "bob-password")).await;
    assert!(
        sessions_of(
            &app,
            SessionFilter {
                session_id: Some(sid_of(&tokens)),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    assert!(
        app.stores
            .sessions
            .get_session(&alice_session.key)
            .await
            .unwrap()
            .is_none(),
        "a copy of alice's cookie opens nothing: bob's session has a key of its own"
    );
    let bob = app
        .stores
        .users
        .find_user_by_username("bob")
        .await
        .unwrap()
        .unwrap();
    let bob_sessions = sessions_of(
        &app,
        SessionFilter {
            subject_id: Some(bob.subject_id),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(bob_sessions.len(), 1);
    assert_ne!(bob_sessions[0].session_id, alice_session.session_id);
    assert_ne!(bob_sessions[0].key, alice_session.key);
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &alice_refresh),
            ],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_expired_record_met_on_a_request_signs_out_and_is_removed() {
    let app = spawn(Some(Arc::new(ManualClock::starting_now())), false).await;
    let (browser, tokens) = app.web_tokens("openid").await;
    app.clock().advance(time::Duration::hours(11));
    assert_eq!(
        silent_authorize(&browser, "web").await["error"],
        "login_required"
    );
    assert!(
        sessions_of(
            &app,
            SessionFilter {
                session_id: Some(sid_of(&tokens)),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn each_client_used_is_added_to_the_session_once() {
    let app = spawn(None, false).await;
    let (browser, tokens) = app.web_tokens("openid").await;
    assert!(silent_authorize(&browser, "web").await.contains_key("code"));
    let session = sessions_of(
        &app,
        SessionFilter {
            session_id: Some(sid_of(&tokens)),
            ..Default::default()
        },
    )
    .await
    .remove(0);
    let before = session.ticket.clone();
    assert!(silent_authorize(&browser, "web").await.contains_key("code"));
    let again = sessions_of(
        &app,
        SessionFilter {
            session_id: Some(sid_of(&tokens)),
            ..Default::default()
        },
    )
    .await
    .remove(0);
    assert_eq!(
        again.ticket, before,
        "an already listed client changes nothing"
    );
}

#[tokio::test]
async fn userinfo_answers_from_the_stored_session() {
    let app = spawn(None, false).await;
    let (_, tokens) = app.web_tokens("openid profile").await;
    // Change the user in the store: the session keeps what the user signed in with.
    let mut alice = app
        .stores
        .users
        .find_user_by_subject(&sub_of(&tokens))
        .await
        .unwrap()
        .unwrap();
    alice
        .claims
        .insert("name".into(), Value::String("Renamed".into()));
    app.stores.users.update_user(&alice).await.unwrap();
    let claims: Value = app
        .http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(claims["name"], "Alice Smith");
}

/// Counts the writes that renew a session.
struct CountingSessions {
    inner: Arc<dyn SessionStore>,
    renewals: AtomicUsize,
}

#[async_trait]
impl SessionStore for CountingSessions {
    async fn create_session(&self, session: &ServerSideSession) -> StoreResult<()> {
        self.inner.create_session(session).await
    }
    async fn get_session(&self, key: &str) -> StoreResult<Option<ServerSideSession>> {
        self.inner.get_session(key).await
    }
    async fn update_session(&self, session: &ServerSideSession) -> StoreResult<bool> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.inner.update_session(session).await
    }
    async fn touch_session(
        &self,
        key: &str,
        renewed: OffsetDateTime,
        expires: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.inner.touch_session(key, renewed, expires).await
    }
    async fn delete_session(&self, key: &str) -> StoreResult<bool> {
        self.inner.delete_session(key).await
    }
    async fn get_sessions(&self, filter: &SessionFilter) -> StoreResult<Vec<ServerSideSession>> {
        self.inner.get_sessions(filter).await
    }
    async fn count_active_sessions(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.inner.count_active_sessions(now).await
    }
    async fn query_sessions(
        &self,
        query: &SessionQuery,
    ) -> StoreResult<QueryResult<ServerSideSession>> {
        self.inner.query_sessions(query).await
    }
}

#[tokio::test]
async fn sliding_renewal_writes_at_most_once_per_window() {
    let clock = Arc::new(ManualClock::starting_now());
    let dir = tempfile::TempDir::new().unwrap();
    let stores: Stores = oxidp_server::open_stores(
        &format!("sqlite://{}", dir.path().join("s.db").display()),
        5,
    )
    .await
    .unwrap();
    let counting = Arc::new(CountingSessions {
        inner: stores.sessions.clone(),
        renewals: AtomicUsize::new(0),
    });
    let stores = Stores {
        sessions: counting.clone(),
        ..stores
    };
    let app = TestApp::spawn_on(Some(stores), Some(clock), |config| {
        config.server_side_sessions.enabled = true;
        config.authentication.cookie_lifetime = std::time::Duration::from_secs(3600);
        config.authentication.cookie_sliding_expiration = true;
    })
    .await;
    let (browser, _) = app.web_tokens("openid").await;
    let after_login = counting.renewals.load(Ordering::SeqCst);
    for _ in 0..10 {
        app.clock().advance(time::Duration::minutes(2));
        assert!(silent_authorize(&browser, "web").await.contains_key("code"));
    }
    assert_eq!(
        counting.renewals.load(Ordering::SeqCst),
        after_login,
        "20 minutes in: no renewal yet"
    );
    for _ in 0..10 {
        app.clock().advance(time::Duration::minutes(2));
        assert!(silent_authorize(&browser, "web").await.contains_key("code"));
    }
    assert_eq!(
        counting.renewals.load(Ordering::SeqCst),
        after_login + 1,
        "one renewal in the second half hour"
    );
}
