//! `POST /connect/revocation` (RFC 7009).

use crate::helpers::*;
use oxidp_core::clock::Clock as _;

#[tokio::test]
async fn a_revoked_reference_token_is_no_longer_active() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let handle = token["access_token"].as_str().unwrap();
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m-reference", "reference-secret")),
            &[("token", handle), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), handle)
            .await["active"],
        false
    );
}

#[tokio::test]
async fn revoking_an_unknown_token_succeeds() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m", "m2m-secret")),
            &[("token", "never-issued")],
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unknown_hint_is_ignored() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m", "m2m-secret")),
            &[("token", "x"), ("token_type_hint", "strange")],
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn another_clients_token_is_not_revoked() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let handle = token["access_token"].as_str().unwrap();
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m", "m2m-secret")),
            &[("token", handle)],
        )
        .await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), handle)
            .await["active"],
        true
    );
}

#[tokio::test]
async fn revocation_requires_client_authentication() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m", "wrong")),
            &[("token", "x")],
        )
        .await;
    assert_oauth_error(response, 401, "invalid_client").await;
    let response = app
        .post_form("/connect/revocation", Some(("m2m", "m2m-secret")), &[])
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

/// A JWT access token cannot be recalled from APIs that check it locally, but the server keeps
/// its id on a revocation list until it expires and refuses it from then on.
#[tokio::test]
async fn a_revoked_jwt_is_inactive_at_introspection_and_refused_by_userinfo() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid").await;
    let jwt = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3, "the web client gets JWTs");
    let userinfo = || async {
        app.http
            .get(app.url("/connect/userinfo"))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(userinfo().await.status(), 200);
    assert_eq!(
        app.introspect(("web", "web-secret"), jwt).await["active"],
        true
    );

    app.revoke(("web", "web-secret"), jwt).await;
    assert_eq!(
        app.introspect(("web", "web-secret"), jwt).await["active"],
        false
    );
    let refused = userinfo().await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // Revoking it again is still a success (RFC 7009 §2.2).
    app.revoke(("web", "web-secret"), jwt).await;
}

#[tokio::test]
async fn another_client_cannot_revoke_a_jwt() {
    let app = TestApp::spawn().await;
    let jwt = app
        .access_token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m-reference", "reference-secret")),
            &[("token", jwt.as_str()), ("token_type_hint", "access_token")],
        )
        .await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
    let api = ("orders-api", "orders-api-secret");
    assert_eq!(
        app.introspect(api, &jwt).await["active"],
        true,
        "the refused attempt changed nothing"
    );
    app.revoke(("m2m", "m2m-secret"), &jwt).await;
    assert_eq!(app.introspect(api, &jwt).await["active"], false);
}

#[tokio::test]
async fn revoked_jwt_ids_are_removed_once_the_token_expired() {
    let app = TestApp::spawn_with_clock().await;
    let jwt = app
        .access_token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let jti = jwt_payload(&jwt)["jti"].as_str().unwrap().to_owned();
    let exp = jwt_payload(&jwt)["exp"].as_i64().unwrap();
    app.revoke(("m2m", "m2m-secret"), &jwt).await;
    let revocation = &app.identity_server().revocation;
    assert_eq!(
        revocation.remove_expired(100).await.unwrap(),
        0,
        "kept while the token is valid"
    );
    let found = app.stores.revoked_tokens.find_revoked_token_id(&jti).await;
    assert_eq!(found.unwrap().map(|r| r.client_id).as_deref(), Some("m2m"));

    let now = app.clock().now().unix_timestamp();
    app.clock().advance(time::Duration::seconds(exp - now));
    assert_eq!(revocation.remove_expired(100).await.unwrap(), 1);
    let found = app.stores.revoked_tokens.find_revoked_token_id(&jti).await;
    assert_eq!(found.unwrap(), None);
}
