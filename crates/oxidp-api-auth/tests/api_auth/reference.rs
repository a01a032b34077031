//! Reference tokens through introspection.

use crate::helpers::{assert_invalid_token, validate, validator};
use oxidp_api_auth::testing::TestIssuer;
use oxidp_api_auth::{ErrorKind, InvalidToken, TokenKind, Validator, ValidatorOptions};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_active_reference_token_yields_its_claims_and_is_cached() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer.issue_reference_token(issuer.claims("orders.read"));
    let validated = validate(&validator, &token).await.unwrap();
    assert_eq!(validated.kind(), TokenKind::Reference);
    assert!(validated.claims().has_scope("orders.read"));
    assert!(validate(&validator, &token).await.is_ok());
    assert_eq!(
        issuer.introspections(),
        1,
        "the second answer came from the cache"
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn with_the_cache_off_every_request_is_introspected() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .introspection_cache_duration(Duration::ZERO),
    )
    .unwrap();
    let token = issuer.issue_reference_token(issuer.claims("orders.read"));
    assert!(validate(&validator, &token).await.is_ok());
    assert!(validate(&validator, &token).await.is_ok());
    assert_eq!(issuer.introspections(), 2);
}

#[tokio::test]
async fn an_inactive_reference_token_is_refused() {
    let issuer = TestIssuer::start().await;
    let result = validate(&validator(&issuer), "unknown-or-revoked-handle").await;
    assert_invalid_token(result, InvalidToken::Inactive);
}

#[tokio::test]
async fn an_active_token_for_another_api_is_refused() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.claims("orders.read");
    claims["aud"] = json!("billing-api");
    let token = issuer.issue_reference_token(claims);
    let result = validate(&validator(&issuer), &token).await;
    assert_invalid_token(result, InvalidToken::WrongAudience);
}

#[tokio::test]
async fn an_unreachable_introspection_endpoint_is_a_503() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer.issue_reference_token(issuer.claims("orders.read"));
    issuer.set_available(false);
    let error = validate(&validator, &token).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::IssuerUnavailable);
    assert_eq!(error.status(), 503);
    // Not cached: once the issuer is back, the token works.
    issuer.set_available(true);
    assert!(validate(&validator, &token).await.is_ok());
}

#[tokio::test]
async fn refused_introspection_credentials_are_a_503_not_the_callers_fault() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        ValidatorOptions::new(issuer.issuer(), "test-api").introspection_secret("wrong"),
    )
    .unwrap();
    let token = issuer.issue_reference_token(issuer.claims("orders.read"));
    let error = validate(&validator, &token).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::IssuerUnavailable);
}

#[tokio::test]
async fn without_introspection_credentials_reference_tokens_are_refused() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(ValidatorOptions::new(issuer.issuer(), "test-api")).unwrap();
    let token = issuer.issue_reference_token(issuer.claims("orders.read"));
    let result = validate(&validator, &token).await;
    assert_invalid_token(result, InvalidToken::ReferenceTokenNotAccepted);
    assert_eq!(issuer.introspections(), 0);
}
