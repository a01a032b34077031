//! The key cache: what makes the validator fetch the JWKS, and what never does.

use crate::helpers::{assert_invalid_token, validate, validator};
use oxidp_api_auth::testing::TestIssuer;
use oxidp_api_auth::{ErrorKind, InvalidToken, Validator};
use oxidp_jose::{SigningAlgorithm, SigningKey};
use std::time::Duration;

#[tokio::test]
async fn keys_are_fetched_once_and_then_served_from_the_cache() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    for _ in 0..20 {
        let token = issuer.mint(&issuer.claims("orders.read"));
        assert!(validate(&validator, &token).await.is_ok());
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_once_then_is_refused_from_the_cache() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    assert!(
        validate(&validator, &issuer.mint(&issuer.claims("a")))
            .await
            .is_ok()
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    // Within the refresh interval, unknown kids are refused without another request.
    let stranger = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let forged = stranger.sign_jwt("at+jwt", &issuer.claims("a")).unwrap();
    assert_invalid_token(
        validate(&validator, &forged).await,
        InvalidToken::UnknownKey,
    );
    assert_invalid_token(
        validate(&validator, &forged).await,
        InvalidToken::UnknownKey,
    );
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn on_a_cold_cache_an_unknown_kid_costs_one_fetch() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let stranger = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let forged = stranger.sign_jwt("at+jwt", &issuer.claims("a")).unwrap();
    for _ in 0..3 {
        assert_invalid_token(
            validate(&validator, &forged).await,
            InvalidToken::UnknownKey,
        );
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_rotated_in_key_is_found_by_refreshing_on_its_kid() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .jwks_refresh_interval(Duration::ZERO),
    )
    .unwrap();
    assert!(
        validate(&validator, &issuer.mint(&issuer.claims("a")))
            .await
            .is_ok()
    );
    let next = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    issuer.publish(&next);
    let token = next.sign_jwt("at+jwt", &issuer.claims("a")).unwrap();
    assert!(validate(&validator, &token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
    // Now cached: no further fetch for either key.
    assert!(validate(&validator, &token).await.is_ok());
    assert!(
        validate(&validator, &issuer.mint(&issuer.claims("a")))
            .await
            .is_ok()
    );
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_thousand_concurrent_unknown_kids_make_at_most_two_fetches() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let validator = validator.clone();
        // Random-looking kids, as a forger would send.
        let header =
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("kid-{i}")});
        let token = format!(
            "{}.{}.c2ln",
            oxidp_jose::b64url_encode(header.to_string()),
            oxidp_jose::b64url_encode(issuer.claims("a").to_string())
        );
        tasks.spawn(async move { validate(&validator, &token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_invalid_token(result.unwrap(), InvalidToken::UnknownKey);
    }
    assert!(
        issuer.jwks_fetches() <= 2,
        "{} fetches",
        issuer.jwks_fetches()
    );
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_not_an_invalid_token() {
    let issuer = TestIssuer::start().await;
    issuer.set_available(false);
    let validator = validator(&issuer);
    let token = issuer.mint(&issuer.claims("a"));
    let error = validate(&validator, &token).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::IssuerUnavailable);
    assert_eq!(error.status(), 503);
    assert_eq!(error.www_authenticate(), None);
}

#[tokio::test]
async fn stale_keys_are_refetched_and_kept_if_the_issuer_is_down() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(
        issuer
            .validator_options()
            .jwks_max_age(Duration::ZERO)
            .jwks_refresh_interval(Duration::ZERO),
    )
    .unwrap();
    let token = issuer.mint(&issuer.claims("a"));
    assert!(validate(&validator, &token).await.is_ok());
    assert!(validate(&validator, &token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2, "stale keys are fetched again");
    issuer.set_available(false);
    assert!(
        validate(&validator, &token).await.is_ok(),
        "the stale keys still verify while the issuer is down"
    );
}
