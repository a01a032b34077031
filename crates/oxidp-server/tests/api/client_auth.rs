//! Client authentication: secrets (basic, post), private_key_jwt, and every way to fail it.

use crate::helpers::*;
use serde_json::json;

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

#[tokio::test]
async fn a_wrong_secret_with_basic_is_401_with_a_basic_challenge() {
    let app = TestApp::spawn().await;
    let response = app.post_token(Some(("m2m", "wrong")), &CC).await;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_oauth_error(response, 401, "invalid_client").await;
    assert!(challenge.unwrap().starts_with("Basic realm="));
}

#[tokio::test]
async fn a_wrong_secret_with_post_is_401_without_a_challenge() {
    let app = TestApp::spawn().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "m2m"),
        ("client_secret", "wrong"),
    ];
    let response = app.post_token(None, &form).await;
    assert!(response.headers().get("www-authenticate").is_none());
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn an_unknown_client_looks_like_a_wrong_secret() {
    let app = TestApp::spawn().await;
    let unknown = assert_oauth_error(
        app.post_token(Some(("nobody", "x")), &CC).await,
        401,
        "invalid_client",
    )
    .await;
    let wrong = assert_oauth_error(
        app.post_token(Some(("m2m", "x")), &CC).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn a_disabled_client_cannot_authenticate() {
    let app = TestApp::spawn().await;
    assert_oauth_error(
        app.post_token(Some(("disabled", "disabled-secret")), &CC)
            .await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn an_expired_secret_is_refused_while_a_current_one_works() {
    let app = TestApp::spawn().await;
    assert_oauth_error(
        app.post_token(Some(("rotating", "old-secret")), &CC).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(
        app.post_token(Some(("rotating", "new-secret")), &CC)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn no_credentials_at_all_is_invalid_client() {
    let app = TestApp::spawn().await;
    assert_oauth_error(app.post_token(None, &CC).await, 401, "invalid_client").await;
    let only_id = [("grant_type", "client_credentials"), ("client_id", "m2m")];
    assert_oauth_error(app.post_token(None, &only_id).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_invalid_request() {
    let app = TestApp::spawn().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "m2m"),
        ("client_secret", "m2m-secret"),
    ];
    assert_oauth_error(
        app.post_token(Some(("m2m", "m2m-secret")), &form).await,
        400,
        "invalid_request",
    )
    .await;
}

/// RFC 6749 §5.2: a failed or unsupported client authentication is `invalid_client`, and
/// through the `Authorization` header it is 401 with a `WWW-Authenticate` challenge.
#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    for header in ["Basic !!!", "Basic", "Bearer abc", "Basic Og=="] {
        let response = app
            .http
            .post(app.url("/connect/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", header)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap().starts_with("Basic ")),
            "{header}: {:?}",
            response.headers()
        );
        let body = assert_oauth_error(response, 401, "invalid_client").await;
        assert!(body["error_description"].is_string(), "{header}: {body}");
    }
}

#[tokio::test]
async fn private_key_jwt_authenticates_the_client() {
    let app = TestApp::spawn().await;
    let assertion = app.client_assertion(app.assertion_claims("jti-1"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &assertion),
    ];
    let response = app.post_token(None, &form).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["client_id"],
        "signed-client"
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_rejected() {
    let app = TestApp::spawn().await;
    let assertion = app.client_assertion(app.assertion_claims("jti-replayed"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &assertion),
    ];
    assert_eq!(app.post_token(None, &form).await.status(), 200);
    assert_oauth_error(app.post_token(None, &form).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn assertions_with_bad_claims_are_rejected() {
    let app = TestApp::spawn().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut cases = Vec::new();
    for (name, claim, value) in [
        ("expired", "exp", json!(now - 3600)),
        ("wrong audience", "aud", json!("https://elsewhere.example")),
        ("wrong subject", "sub", json!("someone-else")),
        ("issued in the future", "iat", json!(now + 3600)),
    ] {
        let mut claims = app.assertion_claims(&format!("jti-{name}"));
        claims[claim] = value;
        cases.push((name, app.client_assertion(claims)));
    }
    let mut no_jti = app.assertion_claims("x");
    no_jti.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", app.client_assertion(no_jti)));
    let other_key = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    cases.push((
        "foreign key",
        other_key
            .sign_jwt("JWT", &app.assertion_claims("jti-foreign"))
            .unwrap(),
    ));
    for (name, assertion) in cases {
        let form = [
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let response = app.post_token(None, &form).await;
        assert_eq!(response.status(), 401, "{name}");
    }
}

#[tokio::test]
async fn an_assertion_with_an_unknown_type_is_invalid_request() {
    let app = TestApp::spawn().await;
    let assertion = app.client_assertion(app.assertion_claims("jti-type"));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:other"),
        ("client_assertion", &assertion),
    ];
    assert_oauth_error(app.post_token(None, &form).await, 400, "invalid_request").await;
}

/// RFC 6749 §2.3: one authentication method per request. Two `Authorization` headers are
/// ambiguous, whichever comes first.
#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let app = TestApp::spawn().await;
    for (first, second) in [
        (("m2m", "m2m-secret"), ("m2m", "wrong")),
        (("m2m", "wrong"), ("m2m", "m2m-secret")),
    ] {
        let response = app
            .http
            .post(app.url("/connect/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic_header(first.0, first.1))
            .header("authorization", basic_header(second.0, second.1))
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}
