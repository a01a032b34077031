//! Shared helpers: request headers and error assertions.

use oxidp_api_auth::testing::TestIssuer;
pub use oxidp_api_auth::testing::bearer;
use oxidp_api_auth::{AuthError, ErrorKind, InvalidToken, ValidatedToken, Validator};

pub fn validator(issuer: &TestIssuer) -> Validator {
    Validator::new(issuer.validator_options()).unwrap()
}

pub async fn validate(validator: &Validator, token: &str) -> Result<ValidatedToken, AuthError> {
    validator.validate(&bearer(token)).await
}

/// Asserts a `401 invalid_token` for `reason`, with its challenge.
pub fn assert_invalid_token(result: Result<ValidatedToken, AuthError>, reason: InvalidToken) {
    let error = result.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::InvalidToken(reason));
    assert_eq!(error.status(), 401);
    let challenge = error.www_authenticate().unwrap();
    assert!(
        challenge
            .starts_with(r#"Bearer realm="test-api", error="invalid_token", error_description=""#),
        "{challenge}"
    );
}
