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
//!   endpoint, authenticating as the API resource, and caches the answer briefly; with
//!   [`ValidatorOptions::introspect_jwts`], a JWT that passed the local checks is introspected
//!   too;
//! * runs its [`ConfirmationCheck`]s (proof of possession: [`DpopCheck`] for DPoP, RFC 9449;
//!   [`CertificateBinding`] for RFC 8705 certificate-bound tokens, with the certificate from the
//!   API's own TLS listener, [`ClientCertificate`], or from a trusted proxy's header), and
//!   refuses a token bound (`cnf`) in a way no check confirms, so a sender-constrained token
//!   never passes as a bearer token;
//! * checks the required scopes.
//!
//! # DPoP
//!
//! With a [`DpopCheck`] the validator also reads `Authorization: DPoP <token>` and checks the
//! `DPoP` proof header against the request: the method, the URL as the caller sees it (the
//! API's configured external URL and the request path, so a proxy in front does not break it),
//! the hash of the token (`ath`), the age of the proof, the key (its thumbprint must be the
//! token's `cnf.jkt`, for JWTs and introspected reference tokens alike), and that the proof was
//! not used before (a [`ReplayCache`], in memory by default). A DPoP-bound token presented as
//! `Bearer` is refused. In nonce mode ([`DpopCheck::require_nonce`]) the API issues its own
//! stateless nonces and asks for them with `use_dpop_nonce`. Refusals are RFC 9449 §7.1
//! challenges (`WWW-Authenticate: DPoP error="invalid_dpop_proof", algs="..."`, and a
//! `DPoP-Nonce` header in nonce mode). `oxidp-client`'s `OAuthClient::send_with_token` is the
//! matching caller.
//!
//! Failures are [`AuthError`]s that render as RFC 6750 (and RFC 9449) responses (`401` with
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
//! # What local validation cannot see
//!
//! A JWT checked locally is valid until its `exp`, whatever happens at the issuer after it was
//! issued: a token revoked there (RFC 7009), a user signed out or disabled, a client removed.
//! oxidp keeps a revocation list of JWT ids and refuses revoked JWTs at its own endpoints
//! (introspection, userinfo, admin API), but a local validator never asks it. Keep JWT
//! lifetimes short (minutes), use reference tokens, or turn on
//! [`ValidatorOptions::introspect_jwts`]: the validator then asks the issuer about every JWT
//! too, and refuses a revoked one within the introspection cache duration (10 s by default).
//!
//! # Example
//!
//! ```
//! use axum::{Extension, Json, Router, body::Body, routing::get};
//! use oxidp_api_auth::{RequireAccessToken, ValidatedToken, Validator, ValidatorOptions};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
//! # let issuer = test_issuer.issuer();
//! // `issuer` is the issuer's URL (here a local test issuer), "test-api" the API resource.
//! let validator = Validator::new(
//!     ValidatorOptions::new(issuer, "test-api").introspection_secret("test-api-secret"),
//! )?;
//! let app: Router = Router::new()
//!     .route(
//!         "/orders",
//!         get(|Extension(token): Extension<ValidatedToken>| async move {
//!             Json(token.claims().clone())
//!         }),
//!     )
//!     .layer(RequireAccessToken::new(validator).require_scopes(["orders.read"]));
//! // A server runs it with `axum::serve(listener, app)`; here requests go to it directly.
//! let get_orders = |token: &str| {
//!     http::Request::get("/orders")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Body::empty())
//! };
//!
//! // A token granting `orders.read` (minted by the test issuer here):
//! # let token = test_issuer.mint(&test_issuer.claims("orders.read"));
//! let response = app.clone().oneshot(get_orders(&token)?).await?;
//! assert_eq!(response.status(), 200);
//! let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
//! let claims: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(claims["scope"], "orders.read");
//!
//! // A token granting only `orders.write`, and no token at all:
//! # let token = test_issuer.mint(&test_issuer.claims("orders.write"));
//! let response = app.clone().oneshot(get_orders(&token)?).await?;
//! assert_eq!(response.status(), 403);
//! let response = app.oneshot(http::Request::get("/orders").body(Body::empty())?).await?;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="test-api""#);
//! # Ok(())
//! # }
//! ```
//!
//! With the `testing` feature, the `testing` module offers a local issuer that mints tokens,
//! for the tests of APIs built on this crate (and for the examples here).

mod axum_support;
mod bearer;
mod checks;
mod claims;
mod dpop;
mod error;
mod http_client;
mod introspection;
mod jwt;
mod keys;
mod mtls;
mod options;
#[cfg(feature = "testing")]
pub mod testing;
mod validator;

pub use axum_support::{AccessToken, RequireAccessToken, RequireAccessTokenService};
pub use bearer::{PresentedToken, RequestInfo};
pub use checks::ConfirmationCheck;
pub use claims::{Claims, TokenKind, ValidatedToken};
pub use dpop::{DpopCheck, MemoryReplayCache, ReplayCache, ReplayCacheError};
pub use error::{AuthError, ErrorKind, InvalidToken};
pub use mtls::{CertificateBinding, ClientCertificate, certificate_thumbprint};
pub use options::{ConfigError, ValidatorOptions};
pub use validator::Validator;
