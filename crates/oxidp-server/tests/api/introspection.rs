//! `POST /connect/introspect` (RFC 7662).

use crate::helpers::*;

#[tokio::test]
async fn an_api_sees_a_jwt_for_its_audience_as_active() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read billing.read"))
        .await;
    let result = app
        .introspect(
            ("orders-api", "orders-api-secret"),
            token["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(result["active"], true);
    assert_eq!(result["client_id"], "m2m");
    assert_eq!(
        result["scope"], "orders.read",
        "scopes narrowed to the caller's"
    );
    assert_eq!(result["iss"], ISSUER);
}

#[tokio::test]
async fn an_api_outside_the_audience_sees_the_token_as_inactive() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let result = app
        .introspect(
            ("billing-api", "billing-api-secret"),
            token["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(result, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn a_reference_token_is_active_until_it_expires() {
    let app = TestApp::spawn_with_clock().await;
    let token = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let handle = token["access_token"].as_str().unwrap();
    let result = app
        .introspect(("orders-api", "orders-api-secret"), handle)
        .await;
    assert_eq!(result["active"], true);
    assert_eq!(result["scope"], "orders.read");
    app.clock().advance(time::Duration::minutes(5));
    let result = app
        .introspect(("orders-api", "orders-api-secret"), handle)
        .await;
    assert_eq!(result, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn an_expired_jwt_is_inactive() {
    let app = TestApp::spawn_with_clock().await;
    let token = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    app.clock().advance(time::Duration::minutes(11));
    let result = app
        .introspect(
            ("orders-api", "orders-api-secret"),
            token["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(result["active"], false);
}

#[tokio::test]
async fn a_client_can_introspect_its_own_tokens_only() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let handle = token["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(("m2m-reference", "reference-secret"), handle)
            .await["active"],
        true
    );
    assert_eq!(
        app.introspect(("m2m", "m2m-secret"), handle).await["active"],
        false
    );
}

#[tokio::test]
async fn unknown_and_tampered_tokens_are_inactive() {
    let app = TestApp::spawn().await;
    let token = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let jwt = token["access_token"].as_str().unwrap();
    let tampered = format!("{}x", jwt);
    for candidate in ["unknown-handle", "a.b.c", tampered.as_str()] {
        let result = app
            .introspect(("orders-api", "orders-api-secret"), candidate)
            .await;
        assert_eq!(result, serde_json::json!({"active": false}), "{candidate}");
    }
}

#[tokio::test]
async fn a_wrong_api_secret_is_invalid_client() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            "/connect/introspect",
            Some(("orders-api", "wrong")),
            &[("token", "x")],
        )
        .await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn a_missing_token_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            "/connect/introspect",
            Some(("orders-api", "orders-api-secret")),
            &[],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}
