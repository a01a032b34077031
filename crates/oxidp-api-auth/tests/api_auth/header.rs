//! The Authorization header: absent, another scheme, malformed.

use crate::helpers::validator;
use oxidp_api_auth::ErrorKind;
use oxidp_api_auth::testing::TestIssuer;

#[tokio::test]
async fn a_request_without_a_token_gets_a_challenge_without_error_code() {
    let issuer = TestIssuer::start().await;
    let error = validator(&issuer)
        .validate(&http::HeaderMap::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::MissingToken);
    assert_eq!(error.status(), 401);
    assert_eq!(
        error.www_authenticate().unwrap(),
        r#"Bearer realm="test-api""#
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn basic_credentials_are_not_a_bearer_token() {
    let issuer = TestIssuer::start().await;
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    let error = validator(&issuer).validate(&headers).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::MissingToken);
}

#[tokio::test]
async fn a_header_with_two_tokens_is_an_invalid_request() {
    let issuer = TestIssuer::start().await;
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", "Bearer one two".parse().unwrap());
    let error = validator(&issuer).validate(&headers).await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::InvalidRequest(_)));
    assert_eq!(error.status(), 400);
    assert!(
        error
            .www_authenticate()
            .unwrap()
            .contains(r#"error="invalid_request""#)
    );
}

#[tokio::test]
async fn two_authorization_headers_are_an_invalid_request() {
    let issuer = TestIssuer::start().await;
    let token = issuer.mint(&issuer.claims("orders.read"));
    let mut headers = http::HeaderMap::new();
    headers.append("authorization", format!("Bearer {token}").parse().unwrap());
    headers.append("authorization", "Bearer other".parse().unwrap());
    let error = validator(&issuer).validate(&headers).await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::InvalidRequest(_)));
}
