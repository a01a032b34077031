//! The extension point for proof-of-possession (sender-constrained) tokens.
//!
//! A token's signature, issuer, audience and lifetime say that the issuer minted it for this
//! API; they do not say that the caller is the party it was minted for. RFC 9449 (DPoP) and
//! RFC 8705 (mTLS) bind a token to a key through its `cnf` claim, and a resource server proves
//! the binding from the request: a DPoP proof header, or the TLS client certificate. Each such
//! proof is a [`ConfirmationCheck`], added with
//! [`Validator::with_check`](crate::Validator::with_check); the validator runs every check after
//! the token itself validated and before the scope checks, so adding DPoP or mTLS later changes
//! no signature of this crate.

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
/// /// without a client certificate.
/// struct CertificateBound;
///
/// #[async_trait::async_trait]
/// impl ConfirmationCheck for CertificateBound {
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
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait ConfirmationCheck: Send + Sync + 'static {
    /// Authorization schemes besides `Bearer` under which this check accepts tokens (for
    /// example `["DPoP"]`). Default: none.
    ///
    /// ```
    /// use oxidp_api_auth::{
    ///     AuthError, ConfirmationCheck, ErrorKind, InvalidToken, PresentedToken, RequestInfo,
    ///     ValidatedToken, Validator,
    /// };
    ///
    /// /// Takes `DPoP` tokens when a `DPoP` proof header comes with them. (A real DPoP check
    /// /// verifies the proof and its binding to the token, RFC 9449 §7.)
    /// struct DpopScheme;
    ///
    /// #[async_trait::async_trait]
    /// impl ConfirmationCheck for DpopScheme {
    ///     fn schemes(&self) -> &[&'static str] {
    ///         &["DPoP"]
    ///     }
    ///
    ///     async fn check(&self, request: &RequestInfo<'_>, token: &PresentedToken<'_>, _: &ValidatedToken)
    ///         -> Result<(), AuthError> {
    ///         if token.scheme().eq_ignore_ascii_case("dpop") && !request.headers().contains_key("dpop") {
    ///             return Err(InvalidToken::ConfirmationFailed.into());
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let token = test_issuer.mint(&test_issuer.claims("a"));
    /// let plain = Validator::new(test_issuer.validator_options())?;
    /// let with_dpop = plain.clone().with_check(DpopScheme);
    ///
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("authorization", format!("DPoP {token}").parse()?);
    /// // Without the check, `DPoP` is not a scheme the validator reads: no token was presented.
    /// assert_eq!(plain.validate(&headers).await.unwrap_err().kind(), &ErrorKind::MissingToken);
    /// // With it, the token is read, and the check decides.
    /// let error = with_dpop.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed));
    /// headers.insert("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig".parse()?);
    /// assert!(with_dpop.validate(&headers).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    fn schemes(&self) -> &[&'static str] {
        &[]
    }

    /// Checks the token against the request; `Err` refuses the request.
    async fn check(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
        validated: &ValidatedToken,
    ) -> Result<(), AuthError>;
}
