//! `/connect/userinfo`.

use crate::helpers::*;
use serde_json::Value;

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn userinfo_releases_claims_by_scope() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid email").await;
    let response = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let claims: Value = response.json().await.unwrap();
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(claims.get("name").is_none(), "profile was not granted");
    assert_eq!(
        claims["sub"],
        jwt_payload(tokens["id_token"].as_str().unwrap())["sub"]
    );

    let (_, tokens) = app.web_tokens("openid profile").await;
    let claims: Value = userinfo(&app, tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims["name"], "Alice Smith");
    assert_eq!(claims["preferred_username"], "alice");
    assert!(claims.get("email").is_none());
}

#[tokio::test]
async fn userinfo_accepts_post_with_the_token_in_the_body() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid").await;
    let response = app
        .post_form(
            "/connect/userinfo",
            None,
            &[("access_token", tokens["access_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_missing_or_bad_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = app.get("/connect/userinfo").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"oxidp\""
    );
    let response = userinfo(&app, "not-a-token").await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn a_machine_token_is_403_insufficient_scope() {
    let app = TestApp::spawn().await;
    let token = app.token_for(("m2m", "m2m-secret"), None).await;
    let response = userinfo(&app, token["access_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = TestApp::spawn_with_clock().await;
    let (_, tokens) = app.web_tokens("openid").await;
    app.clock().advance(time::Duration::minutes(11));
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}
