//! The extension point for proof-of-possession (sender-constrained) tokens.
//!
//! A token's signature, issuer, audience and lifetime say that the issuer minted it for this
//! API; they do not say that the caller is the party it was minted for. RFC 9449 (DPoP) and
//! RFC 8705 (mTLS) bind a token to a key through its `cnf` claim, and a resource server proves
//! the binding from the request: a DPoP proof header, or the TLS client certificate. Each such
//! proof is a [`ConfirmationCheck`], added with
//! [`Validator::with_check`](crate::Validator::with_check); the validator runs every check after
//! the token itself validated and before the scope checks. DPoP is one of them
//! ([`DpopCheck`](crate::DpopCheck)); an mTLS check or an application's own rule is another.
//!
//! A bound token is refused unless a check confirms its binding: every member of a token's
//! `cnf` claim must be named by the [`confirmations`](ConfirmationCheck::confirmations) of a
//! check of the validator. A validator without a DPoP check therefore refuses DPoP-bound tokens
//! instead of accepting them as bearer tokens, whoever presents them.

use crate::bearer::{PresentedToken, RequestInfo};
use crate::claims::ValidatedToken;
use crate::error::AuthError;

/// A further check of a validated token against the request that carried it.
///
/// Return `Err(InvalidToken::ConfirmationFailed.into())` (or any [`AuthError`]) to refuse the
/// request. A check that handles an authorization scheme other than `Bearer` (DPoP's `DPoP`)
/// names it in [`schemes`](Self::schemes), and must then itself refuse tokens presented with
/// the wrong scheme.
///
/// ```
/// use oxidp_api_auth::{
///     AuthError, ConfirmationCheck, ErrorKind, InvalidToken, PresentedToken, RequestInfo,
///     ValidatedToken,
/// };
///
/// /// Refuses certificate-bound tokens (RFC 8705 `cnf.x5t#S256`) when the request came
/// /// without a client certificate. (A real check compares the certificate's thumbprint.)
/// struct CertificateBound;
///
/// #[async_trait::async_trait]
/// impl ConfirmationCheck for CertificateBound {
///     fn confirmations(&self) -> &[&'static str] {
///         &["x5t#S256"]
///     }
///
///     async fn check(
///         &self,
///         request: &RequestInfo<'_>,
///         _token: &PresentedToken<'_>,
///         validated: &ValidatedToken,
///     ) -> Result<(), AuthError> {
///         let bound = validated.claims().get("cnf").and_then(|cnf| cnf.get("x5t#S256"));
///         let has_certificate = request
///             .extensions()
///             .is_some_and(|ext| ext.get::<ClientCertificate>().is_some());
///         if bound.is_some() && !has_certificate {
///             return Err(InvalidToken::ConfirmationFailed.into());
///         }
///         Ok(())
///     }
/// }
///
/// /// What the TLS layer puts in the request extensions (a stand-in here).
/// #[derive(Clone)]
/// struct ClientCertificate;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// # let mut claims = test_issuer.claims("a");
/// # claims["cnf"] = serde_json::json!({ "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" });
/// # let token = test_issuer.mint(&claims);
/// let validator = oxidp_api_auth::Validator::new(test_issuer.validator_options())?
///     .with_check(CertificateBound);
///
/// // `token` is bound to a certificate (it has `cnf.x5t#S256`).
/// let request = http::Request::get("/orders")
///     .header("authorization", format!("Bearer {token}"))
///     .body(())?;
/// let (mut parts, ()) = request.into_parts();
/// let error = validator.validate_request(RequestInfo::from_parts(&parts)).await.unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed));
///
/// parts.extensions.insert(ClientCertificate);
/// assert!(validator.validate_request(RequestInfo::from_parts(&parts)).await.is_ok());
///
/// // A validator without the check cannot confirm the binding, so it refuses the token.
/// let plain = oxidp_api_auth::Validator::new(test_issuer.validator_options())?;
/// let error = plain.validate_request(RequestInfo::from_parts(&parts)).await.unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed));
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait ConfirmationCheck: Send + Sync + 'static {
    /// Authorization schemes besides `Bearer` under which this check accepts tokens
    /// ([`DpopCheck`](crate::DpopCheck) names `DPoP`). Default: none.
    ///
    /// ```
    /// use oxidp_api_auth::{ConfirmationCheck, DpopCheck, ErrorKind, InvalidToken, Validator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let token = test_issuer.mint(&test_issuer.claims("a"));
    /// let dpop = DpopCheck::new("https://api.example.com")?;
    /// assert_eq!(dpop.schemes(), ["DPoP"]);
    /// let plain = Validator::new(test_issuer.validator_options())?;
    /// let with_dpop = plain.clone().with_check(dpop);
    ///
    /// // `token` is not bound to a key.
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("authorization", format!("DPoP {token}").parse()?);
    /// // Without the check, `DPoP` is not a scheme the validator reads: no token was presented.
    /// assert_eq!(plain.validate(&headers).await.unwrap_err().kind(), &ErrorKind::MissingToken);
    /// // With it, the token is read, and the check decides.
    /// let error = with_dpop.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::NotDpopBound));
    /// # Ok(())
    /// # }
    /// ```
    fn schemes(&self) -> &[&'static str] {
        &[]
    }

    /// The members of the `cnf` claim whose binding this check confirms (`jkt` for DPoP,
    /// `x5t#S256` for mTLS). A token bound by a member that no check of the validator names is
    /// refused (`invalid_token`). Default: none.
    fn confirmations(&self) -> &[&'static str] {
        &[]
    }

    /// Adds what this check's scheme says to every refusal of the validator, whatever refused
    /// the request (DPoP's `algs` and nonce, RFC 9449 §7.1). Default: the error unchanged.
    ///
    /// ```
    /// use oxidp_api_auth::{AuthError, ConfirmationCheck, DpopCheck, ErrorKind};
    ///
    /// let check = DpopCheck::new("https://api.example.com")?;
    /// let error = check.challenge(AuthError::new(ErrorKind::MissingToken));
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"Bearer, DPoP algs="ES256 ES384 EdDSA PS256 RS256""#)
    /// );
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    fn challenge(&self, error: AuthError) -> AuthError {
        error
    }

    /// Checks the token against the request; `Err` refuses the request.
    async fn check(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
        validated: &ValidatedToken,
    ) -> Result<(), AuthError>;
}
