//! The same server on PostgreSQL: the store every scaled-out deployment runs on.

use crate::helpers::*;
use oxidp_store::testing::drop_test_schema;

#[tokio::test]
async fn tokens_are_issued_introspected_and_revoked_on_postgres() {
    let (app, store) = TestApp::spawn_on_postgres().await;
    let jwt = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let active = app
        .introspect(
            ("orders-api", "orders-api-secret"),
            jwt["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(active["active"], true);

    let reference = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let handle = reference["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), handle)
            .await["active"],
        true
    );
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("m2m-reference", "reference-secret")),
            &[("token", handle)],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), handle)
            .await["active"],
        false
    );
    drop(app);
    drop_test_schema(store).await;
}

#[tokio::test]
async fn a_replayed_assertion_is_rejected_on_postgres() {
    let (app, store) = TestApp::spawn_on_postgres().await;
    let assertion = app.client_assertion(app.assertion_claims("pg-jti"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    assert_eq!(app.post_token(None, &form).await.status(), 200);
    assert_oauth_error(app.post_token(None, &form).await, 401, "invalid_client").await;
    drop(app);
    drop_test_schema(store).await;
}
