//! The axum layer and extractor, driven over HTTP.

use axum::routing::get;
use axum::{Extension, Json, Router};
use oxidp_api_auth::testing::TestIssuer;
use oxidp_api_auth::{AccessToken, Claims, RequireAccessToken, ValidatedToken, Validator};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn app(issuer: &TestIssuer) -> String {
    let validator = Validator::new(issuer.validator_options()).unwrap();
    let protected =
        Router::new()
            .route(
                "/orders",
                get(|Extension(token): Extension<ValidatedToken>| async move {
                    Json(token.into_claims())
                }),
            )
            .route_layer(
                RequireAccessToken::new(validator.clone()).require_scopes(["orders.read"]),
            );
    let extracted = Router::new()
        .route(
            "/whoami",
            get(|AccessToken(token): AccessToken| async move { Json(token.into_claims()) }),
        )
        .with_state(validator);
    serve(protected.merge(extracted)).await
}

async fn get_with(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_layer_passes_the_claims_to_the_handler() {
    let issuer = TestIssuer::start().await;
    let base = app(&issuer).await;
    let token = issuer.mint(&issuer.claims("orders.read"));
    let response = get_with(&format!("{base}/orders"), Some(&token)).await;
    assert_eq!(response.status(), 200);
    let claims: Claims = Claims::from_json(response.json().await.unwrap()).unwrap();
    assert_eq!(claims.client_id(), Some("test-client"));
}

#[tokio::test]
async fn the_layer_answers_401_with_a_challenge_and_never_calls_the_handler() {
    let issuer = TestIssuer::start().await;
    let base = app(&issuer).await;
    let response = get_with(&format!("{base}/orders"), None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="test-api""#
    );

    let response = get_with(&format!("{base}/orders"), Some("a.b.c")).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn the_layer_enforces_its_route_scopes_with_403() {
    let issuer = TestIssuer::start().await;
    let base = app(&issuer).await;
    let token = issuer.mint(&issuer.claims("orders.write"));
    let response = get_with(&format!("{base}/orders"), Some(&token)).await;
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"scope="orders.read""#)
    );
}

#[tokio::test]
async fn the_extractor_validates_with_the_state_validator() {
    let issuer = TestIssuer::start().await;
    let base = app(&issuer).await;
    let token = issuer.mint(&issuer.claims("anything"));
    let response = get_with(&format!("{base}/whoami"), Some(&token)).await;
    assert_eq!(response.status(), 200);
    let response = get_with(&format!("{base}/whoami"), None).await;
    assert_eq!(response.status(), 401);
}
