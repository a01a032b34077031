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
///     AuthError, ConfirmationCheck, InvalidToken, PresentedToken, RequestInfo, ValidatedToken,
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
/// # #[derive(Clone)]
/// # struct ClientCertificate;
/// ```
#[async_trait::async_trait]
pub trait ConfirmationCheck: Send + Sync + 'static {
    /// Authorization schemes besides `Bearer` under which this check accepts tokens (for
    /// example `["DPoP"]`). Default: none.
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
