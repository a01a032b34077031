//! Access-token validation for resource servers (APIs) and serverless functions that trust an
//! OpenID Connect issuer such as oxidp.
//!
//! A [`Validator`] is built once from [`ValidatorOptions`] (issuer, audience, optional
//! introspection credentials) and shared; it is cheap to clone. For each request it reads the
//! `Authorization: Bearer` header and:
//!
//! * validates a **JWT access token** (three dot-separated parts) locally, per RFC 9068: header
//!   `typ` `at+jwt`, an asymmetric algorithm (never `none` or HMAC), the signature against the
//!   issuer's JWKS (discovered from `{issuer}/.well-known/openid-configuration`), `iss`, `aud`,
//!   `exp` and `nbf` with a clock skew;
//! * sends any other token (a **reference token**) to the issuer's RFC 7662 introspection
//!   endpoint, authenticating as the API resource, and caches the answer briefly;
//! * checks the required scopes, then any [`ConfirmationCheck`]s (the place for DPoP or mTLS
//!   certificate binding).
//!
//! Failures are [`AuthError`]s that render as RFC 6750 responses (`401` with
//! `WWW-Authenticate: Bearer ... error="invalid_token"`, `403 insufficient_scope`, `400
//! invalid_request`), or `503` when the issuer cannot be reached: an unreachable issuer is not
//! the caller's fault and must not look like a bad token.
//!
//! # Keys and the issuer's load
//!
//! Signing keys are cached. A token naming an unknown `kid` triggers a JWKS refresh at most
//! once per [`ValidatorOptions::jwks_refresh_interval`] (30 s by default), and concurrent
//! refreshes are coalesced into one request, so a flood of forged tokens with random key ids
//! costs the issuer at most one JWKS request per interval. Keys older than
//! [`ValidatorOptions::jwks_max_age`] (1 h) are refreshed on use so retired keys stop being
//! trusted. Introspection results are cached under the SHA-256 of the token (never the token
//! itself) for [`ValidatorOptions::introspection_cache_duration`] (10 s), and never past the
//! token's `exp`.
//!
//! # Where to plug it in
//!
//! * axum: the [`RequireAccessToken`] layer puts a [`ValidatedToken`] in the request extensions;
//!   the [`AccessToken`] extractor reads it (or validates on its own with the state's
//!   validator).
//! * anything else (serverless handlers, hyper, other frameworks): [`Validator::validate`] on the
//!   request's [`http::HeaderMap`], and [`AuthError::www_authenticate`] for the challenge.
//!
//! Tokens are never logged; log lines carry only the reason a token was refused.
//!
//! # Example
//!
//! ```no_run
//! use axum::{Extension, Json, Router, routing::get};
//! use oxidp_api_auth::{RequireAccessToken, ValidatedToken, Validator, ValidatorOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = Validator::new(
//!     ValidatorOptions::new("http://127.0.0.1:5000", "orders-api")
//!         .introspection_secret("orders-api-secret"),
//! )?;
//! let app: Router = Router::new()
//!     .route(
//!         "/orders",
//!         get(|Extension(token): Extension<ValidatedToken>| async move {
//!             Json(token.claims().clone())
//!         }),
//!     )
//!     .layer(RequireAccessToken::new(validator).require_scopes(["orders.read"]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

mod axum_support;
mod bearer;
mod checks;
mod claims;
mod error;
mod http_client;
mod introspection;
mod jwt;
mod keys;
mod options;
#[cfg(feature = "testing")]
pub mod testing;
mod validator;

pub use axum_support::{AccessToken, RequireAccessToken, RequireAccessTokenService};
pub use bearer::{PresentedToken, RequestInfo};
pub use checks::ConfirmationCheck;
pub use claims::{Claims, TokenKind, ValidatedToken};
pub use error::{AuthError, ErrorKind, InvalidToken};
pub use options::{ConfigError, ValidatorOptions};
pub use validator::Validator;
