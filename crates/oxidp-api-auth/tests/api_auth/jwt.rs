//! JWT access tokens: each way a token is refused, and the one way it is accepted.

use crate::helpers::{assert_invalid_token, validate, validator};
use oxidp_api_auth::testing::{AUDIENCE, TestIssuer};
use oxidp_api_auth::{ErrorKind, InvalidToken, TokenKind, Validator};
use oxidp_jose::{SigningAlgorithm, SigningKey, b64url_encode};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_valid_token_yields_its_claims() {
    let issuer = TestIssuer::start().await;
    let token = issuer.mint(&issuer.claims("orders.read orders.write"));
    let validated = validate(&validator(&issuer), &token).await.unwrap();
    assert_eq!(validated.kind(), TokenKind::Jwt);
    let claims = validated.claims();
    assert_eq!(claims.issuer(), Some(issuer.issuer()));
    assert_eq!(claims.audiences(), [AUDIENCE]);
    assert_eq!(claims.scopes(), ["orders.read", "orders.write"]);
    assert_eq!(claims.client_id(), Some("test-client"));
}

#[tokio::test]
async fn the_full_media_type_is_accepted_as_typ() {
    let issuer = TestIssuer::start().await;
    let token = issuer
        .signing_key()
        .sign_jwt("application/at+JWT", &issuer.claims("orders.read"))
        .unwrap();
    assert!(validate(&validator(&issuer), &token).await.is_ok());
}

#[tokio::test]
async fn a_token_whose_payload_was_changed_has_a_bad_signature() {
    let issuer = TestIssuer::start().await;
    let token = issuer.mint(&issuer.claims("orders.read"));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged = issuer.claims("orders.read orders.admin");
    forged["sub"] = json!("someone-else");
    parts[1] = b64url_encode(forged.to_string());
    let result = validate(&validator(&issuer), &parts.join(".")).await;
    assert_invalid_token(result, InvalidToken::BadSignature);
}

#[tokio::test]
async fn a_token_that_is_not_an_access_token_is_refused() {
    let issuer = TestIssuer::start().await;
    // An ID token, say: same key, typ JWT.
    let token = issuer
        .signing_key()
        .sign_jwt("JWT", &issuer.claims("orders.read"))
        .unwrap();
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::WrongType);
    assert_eq!(issuer.jwks_fetches(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("orders.read");
    claims["iss"] = json!("https://evil.example");
    let result = validate(&validator(&issuer), &issuer.mint(&claims)).await;
    assert_invalid_token(result, InvalidToken::WrongIssuer);
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("orders.read");
    claims["aud"] = json!(["billing-api", "test-api-2"]);
    let result = validate(&validator(&issuer), &issuer.mint(&claims)).await;
    assert_invalid_token(result, InvalidToken::WrongAudience);
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_clock_skew() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .clock_skew(Duration::from_secs(5)),
    )
    .unwrap();
    let mut claims = issuer.claims("orders.read");
    claims["exp"] = json!(now() - 2);
    assert!(validate(&validator, &issuer.mint(&claims)).await.is_ok());
    claims["exp"] = json!(now() - 10);
    let result = validate(&validator, &issuer.mint(&claims)).await;
    assert_invalid_token(result, InvalidToken::Expired);
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused_beyond_the_clock_skew() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .clock_skew(Duration::from_secs(5)),
    )
    .unwrap();
    let mut claims = issuer.claims("orders.read");
    claims["nbf"] = json!(now() + 2);
    assert!(validate(&validator, &issuer.mint(&claims)).await.is_ok());
    claims["nbf"] = json!(now() + 60);
    let result = validate(&validator, &issuer.mint(&claims)).await;
    assert_invalid_token(result, InvalidToken::NotYetValid);
}

#[tokio::test]
async fn a_token_without_expiry_is_refused() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("orders.read");
    claims.as_object_mut().unwrap().remove("exp");
    let result = validate(&validator(&issuer), &issuer.mint(&claims)).await;
    assert_invalid_token(result, InvalidToken::Malformed);
}

fn unsigned_token(alg: &str, kid: &str, claims: &serde_json::Value) -> String {
    let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    format!(
        "{}.{}.",
        b64url_encode(header.to_string()),
        b64url_encode(claims.to_string())
    )
}

#[tokio::test]
async fn alg_none_is_refused_without_asking_the_issuer() {
    let issuer = TestIssuer::start().await;
    let token = unsigned_token("none", issuer.signing_key().kid(), &issuer.claims("a"));
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::AlgorithmNotAllowed);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn an_hmac_token_is_refused_even_when_the_jwks_holds_a_symmetric_key() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks(vec![
        json!({"kty": "oct", "kid": "shared", "k": b64url_encode("a shared secret")}),
    ]);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("shared".into());
    oxidp_jose::install_crypto_provider();
    let token = jsonwebtoken::encode(
        &header,
        &issuer.claims("orders.read"),
        &jsonwebtoken::EncodingKey::from_secret(b"a shared secret"),
    )
    .unwrap();
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::AlgorithmNotAllowed);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn a_key_of_the_wrong_type_under_the_right_kid_does_not_verify() {
    let issuer = TestIssuer::start().await;
    let rsa = SigningKey::generate(SigningAlgorithm::RS256).unwrap();
    let mut impostor = serde_json::to_value(rsa.public_jwk()).unwrap();
    impostor["kid"] = json!(issuer.signing_key().kid());
    issuer.set_jwks(vec![impostor]);
    let token = issuer.mint(&issuer.claims("orders.read"));
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::BadSignature);
}

#[tokio::test]
async fn a_published_key_with_private_members_is_never_used() {
    let issuer = TestIssuer::start().await;
    let mut leaked = serde_json::to_value(issuer.signing_key().public_jwk()).unwrap();
    leaked["d"] = json!("private-part");
    issuer.set_jwks(vec![leaked]);
    let token = issuer.mint(&issuer.claims("orders.read"));
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::UnknownKey);
}

#[tokio::test]
async fn a_token_without_the_required_scopes_is_forbidden() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .require_scopes(["orders.read", "orders.write"]),
    )
    .unwrap();
    let token = issuer.mint(&issuer.claims("orders.read"));
    let error = validate(&validator, &token).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InsufficientScope(vec!["orders.read".into(), "orders.write".into()])
    );
    assert_eq!(error.status(), 403);
    assert!(
        error
            .www_authenticate()
            .unwrap()
            .ends_with(r#"error="insufficient_scope", error_description="the token lacks a required scope", scope="orders.read orders.write""#)
    );
    let token = issuer.mint(&issuer.claims("orders.write orders.read"));
    assert!(validate(&validator, &token).await.is_ok());
}

#[tokio::test]
async fn a_route_can_require_an_additional_audience() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("orders.read");
    claims["aud"] = json!([AUDIENCE, "billing-api"]);
    let validated = validate(&validator(&issuer), &issuer.mint(&claims))
        .await
        .unwrap();
    assert!(validated.require_audience("billing-api").is_ok());
    let error = validated.require_audience("shipping-api").unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::WrongAudience)
    );
}
