//! Clients whose token lifetimes are coordinated with the user session.

use crate::helpers::*;
use oxidp_core::clock::{Clock, ManualClock};
use oxidp_core::model::SessionFilter;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

async fn spawn() -> TestApp {
    TestApp::spawn_with(Some(Arc::new(ManualClock::starting_now())), |config| {
        config.server_side_sessions.enabled = true;
        config.authentication.cookie_lifetime = Duration::from_secs(3600);
        let web = &mut config
            .clients
            .iter_mut()
            .find(|c| c.client.client_id == "web")
            .unwrap()
            .client;
        web.coordinate_lifetime_with_user_session = Some(true);
        web.access_token_lifetime = Duration::from_secs(4 * 3600);
    })
    .await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_token(
        Some(("web", "web-secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

fn sid(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn refreshing_slides_the_session() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let mut token = tokens["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.clock().advance(time::Duration::minutes(50));
        let response = refresh(&app, &token).await;
        assert_eq!(
            response.status(),
            200,
            "150 minutes after a one-hour sign-in, still alive"
        );
        token = response.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let session = app
        .stores
        .sessions
        .get_sessions(&SessionFilter {
            session_id: Some(sid(&tokens)),
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(session.renewed, app.clock().now());
    assert_eq!(
        session.expires,
        Some(app.clock().now() + time::Duration::hours(1))
    );
}

#[tokio::test]
async fn after_the_session_expires_refresh_userinfo_and_introspection_fail() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    app.clock().advance(time::Duration::minutes(61));
    assert_oauth_error(
        refresh(&app, tokens["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = app
        .http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert_eq!(
        app.introspect(("web", "web-secret"), access).await["active"],
        false
    );
}

#[tokio::test]
async fn introspection_and_userinfo_slide_a_live_session() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    for _ in 0..3 {
        app.clock().advance(time::Duration::minutes(35));
        assert_eq!(
            app.introspect(("web", "web-secret"), access).await["active"],
            true
        );
        app.clock().advance(time::Duration::minutes(35));
        let userinfo = app
            .http
            .get(app.url("/connect/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 200);
    }
}

#[tokio::test]
async fn a_session_without_expiry_is_always_valid() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let filter = SessionFilter {
        session_id: Some(sid(&tokens)),
        ..Default::default()
    };
    let mut session = app
        .stores
        .sessions
        .get_sessions(&filter)
        .await
        .unwrap()
        .remove(0);
    session.expires = None;
    app.stores.sessions.update_session(&session).await.unwrap();
    app.clock().advance(time::Duration::days(3));
    assert_eq!(
        refresh(&app, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    let after = app
        .stores
        .sessions
        .get_sessions(&filter)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(after.expires, None, "still without expiry");
}

#[tokio::test]
async fn an_uncoordinated_client_ignores_the_session() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let filter = SessionFilter {
        session_id: Some(sid(&tokens)),
        ..Default::default()
    };
    for session in app.stores.sessions.get_sessions(&filter).await.unwrap() {
        app.stores
            .sessions
            .delete_session(&session.key)
            .await
            .unwrap();
    }
    // `native` is not coordinated: sign in with it and drop the session.
    let browser = crate::browser::Browser::new(&app);
    let (verifier, challenge) = crate::browser::pkce();
    let callback = browser
        .code_flow_callback(
            "native",
            "openid offline_access",
            &challenge,
            ("bob", "bob-password"),
        )
        .await;
    let code = crate::browser::query(&callback)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "native"),
        ("code", code.as_str()),
        ("redirect_uri", crate::browser::WEB_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let native: Value = app.post_token(None, &form).await.json().await.unwrap();
    let filter = SessionFilter {
        session_id: Some(sid(&native)),
        ..Default::default()
    };
    for session in app.stores.sessions.get_sessions(&filter).await.unwrap() {
        app.stores
            .sessions
            .delete_session(&session.key)
            .await
            .unwrap();
    }
    let response = app
        .post_token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "native"),
                ("refresh_token", native["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_coordinated_clients_refresh_token() {
    let app = spawn().await;
    let (browser, tokens) = app.web_tokens("openid offline_access").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint)])
        ))
        .await;
    assert_eq!(response.status(), 200);
    let filter = oxidp_core::model::PersistedGrantFilter {
        session_id: Some(sid(&tokens)),
        ..Default::default()
    };
    assert!(
        app.stores
            .grants
            .get_grants(&filter)
            .await
            .unwrap()
            .iter()
            .all(|g| g.grant_type != "refresh_token")
    );
}
