//! Confirmation checks: run after the token validated, able to refuse, and able to accept
//! another authorization scheme.

use crate::helpers::{bearer, validator};
use oxidp_api_auth::testing::TestIssuer;
use oxidp_api_auth::{
    AuthError, ConfirmationCheck, ErrorKind, InvalidToken, PresentedToken, RequestInfo,
    ValidatedToken,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Refuses tokens with a `cnf` claim unless the request carries an `x-proof` header; counts
/// its calls; accepts the `DPoP` scheme.
struct ProofHeader {
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl ConfirmationCheck for ProofHeader {
    fn schemes(&self) -> &[&'static str] {
        &["DPoP"]
    }

    fn confirmations(&self) -> &[&'static str] {
        &["jkt"]
    }

    async fn check(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
        validated: &ValidatedToken,
    ) -> Result<(), AuthError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(!token.value().is_empty());
        if validated.claims().get("cnf").is_some() && !request.headers().contains_key("x-proof") {
            return Err(InvalidToken::ConfirmationFailed.into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_check_sees_every_valid_token_and_can_refuse_it() {
    let issuer = TestIssuer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let validator = validator(&issuer).with_check(ProofHeader {
        calls: calls.clone(),
    });
    let plain = issuer.mint(&issuer.claims("a"));
    assert!(validator.validate(&bearer(&plain)).await.is_ok());

    let mut bound = issuer.claims("a");
    bound["cnf"] = serde_json::json!({"jkt": "thumbprint"});
    let bound = issuer.mint(&bound);
    let error = validator.validate(&bearer(&bound)).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
    );
    assert_eq!(error.status(), 401);

    let mut with_proof = bearer(&bound);
    with_proof.insert("x-proof", "yes".parse().unwrap());
    assert!(validator.validate(&with_proof).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_check_can_accept_another_scheme_and_an_invalid_token_never_reaches_it() {
    let issuer = TestIssuer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let plain_validator = validator(&issuer);
    let validator = plain_validator.clone().with_check(ProofHeader {
        calls: calls.clone(),
    });
    let token = issuer.mint(&issuer.claims("a"));
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
    assert!(validator.validate(&headers).await.is_ok());
    assert_eq!(
        plain_validator.validate(&headers).await.unwrap_err().kind(),
        &ErrorKind::MissingToken,
        "without the check, the scheme is not ours"
    );

    let stranger = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    let forged = stranger.sign_jwt("at+jwt", &issuer.claims("a")).unwrap();
    assert!(validator.validate(&bearer(&forged)).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_bound_token_is_refused_unless_a_check_confirms_its_binding() {
    let issuer = TestIssuer::start().await;
    let plain = validator(&issuer);
    for cnf in [
        serde_json::json!({"jkt": "thumbprint"}),
        serde_json::json!({"x5t#S256": "certificate"}),
        serde_json::json!("not an object"),
    ] {
        let mut claims = issuer.claims("a");
        claims["cnf"] = cnf.clone();
        let error = plain
            .validate(&bearer(&issuer.mint(&claims)))
            .await
            .unwrap_err();
        assert_eq!(error.status(), 401, "{cnf}");
        assert!(matches!(error.kind(), ErrorKind::InvalidToken(_)), "{cnf}");
    }

    // A check that confirms `jkt` does not vouch for an mTLS binding.
    let calls = Arc::new(AtomicUsize::new(0));
    let with_check = plain.with_check(ProofHeader { calls });
    let mut claims = issuer.claims("a");
    claims["cnf"] = serde_json::json!({"jkt": "thumbprint", "x5t#S256": "certificate"});
    let mut headers = bearer(&issuer.mint(&claims));
    headers.insert("x-proof", "yes".parse().unwrap());
    assert_eq!(
        with_check.validate(&headers).await.unwrap_err().kind(),
        &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
    );
}
