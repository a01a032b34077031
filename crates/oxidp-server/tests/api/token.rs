//! `POST /connect/token` with client credentials.

use crate::helpers::*;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use serde_json::Value;

#[tokio::test]
async fn client_credentials_returns_an_rfc9068_jwt() {
    let app = TestApp::spawn().await;
    let body = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "orders.read");
    let token = body["access_token"].as_str().unwrap();
    let header = jwt_header(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = jwt_payload(token);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["client_id"], "m2m");
    assert_eq!(claims["sub"], "m2m");
    assert_eq!(claims["scope"], "orders.read");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    insta::assert_json_snapshot!("access_token_claims", claims, {
        ".iat" => "[iat]", ".exp" => "[exp]", ".nbf" => "[nbf]", ".jti" => "[jti]"
    });
}

#[tokio::test]
async fn the_token_verifies_against_the_published_jwks_with_an_independent_implementation() {
    for algorithm in ["ES256", "RS256", "PS256"] {
        let app = TestApp::spawn_with(None, |config| {
            config.keys.algorithms = vec![algorithm.parse().unwrap()];
        })
        .await;
        let body = app.token_for(("m2m", "m2m-secret"), None).await;
        let token = body["access_token"].as_str().unwrap();
        let jwks: CoreJsonWebKeySet = app
            .get("/.well-known/openid-configuration/jwks")
            .await
            .json()
            .await
            .unwrap();
        let header = jwt_header(token);
        let key = jwks
            .keys()
            .iter()
            .find(|k| k.key_id().map(|id| id.as_str()) == header["kid"].as_str())
            .expect("the token's kid is published");
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = oxidp_jose::b64url_decode(signature).unwrap();
        let alg: CoreJwsSigningAlgorithm = serde_json::from_value(header["alg"].clone()).unwrap();
        key.verify_signature(&alg, message.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{algorithm} token verifies with openidconnect: {e:?}"));
        let mut tampered = message.to_owned();
        tampered.push('A');
        assert!(
            key.verify_signature(&alg, tampered.as_bytes(), &signature)
                .is_err(),
            "{algorithm}"
        );
    }
}

#[tokio::test]
async fn without_a_scope_the_client_gets_every_allowed_api_scope() {
    let app = TestApp::spawn().await;
    let body = app.token_for(("m2m", "m2m-secret"), None).await;
    assert_eq!(body["scope"], "orders.read orders.write billing.read");
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        serde_json::json!(["billing-api", "orders-api"])
    );
}

#[tokio::test]
async fn a_reference_client_gets_an_opaque_handle() {
    let app = TestApp::spawn().await;
    let body = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await;
    let token = body["access_token"].as_str().unwrap();
    assert!(!token.contains('.'), "not a JWT");
    assert_eq!(token.len(), 43, "256-bit handle");
    assert_eq!(body["expires_in"], 300);
}

#[tokio::test]
async fn client_secret_post_works_like_basic() {
    let app = TestApp::spawn().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "m2m"),
        ("client_secret", "m2m-secret"),
    ];
    assert_eq!(app.post_token(None, &form).await.status(), 200);
}

#[tokio::test]
async fn the_response_is_not_cacheable() {
    let app = TestApp::spawn().await;
    let response = app
        .post_token(
            Some(("m2m", "m2m-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

#[tokio::test]
async fn an_unknown_grant_type_is_unsupported_grant_type() {
    let app = TestApp::spawn().await;
    let response = app
        .post_token(Some(("m2m", "m2m-secret")), &[("grant_type", "password")])
        .await;
    assert_oauth_error(response, 400, "unsupported_grant_type").await;
}

#[tokio::test]
async fn a_missing_grant_type_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .post_token(Some(("m2m", "m2m-secret")), &[("scope", "orders.read")])
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_client_without_the_grant_is_unauthorized_client() {
    let app = TestApp::spawn().await;
    let response = app
        .post_token(
            Some(("no-grants", "no-grants-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn a_scope_not_allowed_for_the_client_is_invalid_scope() {
    let app = TestApp::spawn().await;
    for scope in ["orders.write", "unknown.scope", "openid", "bad\"scope"] {
        let response = app
            .post_token(
                Some(("m2m-reference", "reference-secret")),
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_oauth_error(response, 400, "invalid_scope").await;
    }
}

#[tokio::test]
async fn a_repeated_parameter_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/connect/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_header("m2m", "m2m-secret"))
        .body("grant_type=client_credentials&scope=orders.read&scope=orders.write")
        .send()
        .await
        .unwrap();
    let body = assert_oauth_error(response, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("scope")
    );
}

#[tokio::test]
async fn a_wrong_content_type_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/connect/token"))
        .header("authorization", basic_header("m2m", "m2m-secret"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
    let response = app
        .http
        .post(app.url("/connect/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let padding = "x".repeat(8 * 1024);
    let response = app
        .post_token(
            Some(("m2m", "m2m-secret")),
            &[("grant_type", "client_credentials"), ("padding", &padding)],
        )
        .await;
    assert_oauth_error(response, 413, "invalid_request").await;
}

#[tokio::test]
async fn garbage_bodies_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let bodies: [&[u8]; 6] = [
        b"%%%",
        b"&&&==",
        b"grant_type=%FF%FE",
        b"\xff\xfe\xfd",
        b"=",
        b"grant_type",
    ];
    for body in bodies {
        let response = app
            .http
            .post(app.url("/connect/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic_header("m2m", "m2m-secret"))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{:?} gave {}",
            body,
            response.status()
        );
        let json: Value = response.json().await.unwrap();
        assert!(json["error"].is_string());
    }
}

#[tokio::test]
async fn get_is_not_allowed() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/connect/token").await.status(), 405);
}
