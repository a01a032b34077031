//! `POST /connect/revocation` (RFC 7009).

use crate::helpers::*;

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
