//! Token management for the client apps of an OAuth 2.0 / OpenID Connect server such as oxidp.
//!
//! - [`ClientCredentialsManager`] — for services calling APIs on their own behalf: a
//!   client-credentials access token, cached until shortly before it expires, with one request
//!   in flight however many tasks ask for it at once.
//! - [`RefreshTokenManager`] — for web apps that sign users in: each user session's tokens
//!   (kept in a [`TokenStore`] under a key the app chooses), renewed with the refresh token
//!   before the access token expires, one refresh at a time per session, rotation handled; a
//!   refused refresh token turns into [`Error::ReauthenticationRequired`]. On sign-out,
//!   [`RefreshTokenManager::sign_out`] revokes the tokens (RFC 7009) and forgets them.
//!
//! Both are built on an [`OAuthClient`]: the client's id, secret and authentication method
//! (`client_secret_basic` or `client_secret_post`, or a public client with
//! [`OAuthClient::public`]) and the server's endpoints, configured or discovered from the
//! issuer.
//!
//! # DPoP
//!
//! With a [`DpopKey`] ([`OAuthClientBuilder::dpop`]; generated, ES256 by default, or the app's
//! own) every token request (client credentials, code redemption, refresh) carries a DPoP proof
//! (RFC 9449), so the tokens are bound to the key: `token_type` `DPoP`, and for a public client
//! a refresh token that is useless without the key. [`OAuthClient::send_with_token`] calls an
//! API with `Authorization: DPoP` and a proof carrying the token's hash. A server or API that
//! answers `use_dpop_nonce` gets exactly one retry with the nonce it gave, and nonces are kept
//! per origin (also from successful responses) for the next proof. Bind an authorization code
//! to the key by sending [`DpopKey::thumbprint`] as `dpop_jkt` in the authorization request.
//!
//! ```
//! use oxidp_client::{ClientCredentialsManager, DpopKey, OAuthClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
//! # let issuer = server.issuer();
//! # let api = server.echo_url();
//! let client = OAuthClient::builder("app", "app secret/+")
//!     .dpop(DpopKey::generate()?)
//!     .discover(issuer)
//!     .await?;
//! let tokens = ClientCredentialsManager::new(client.clone());
//! let token = tokens.get_token().await?;
//! assert_eq!(token.token_type, "DPoP");
//!
//! // `api` is an API URL; the call carries `Authorization: DPoP ...` and a fresh proof.
//! let response = client.send_with_token(reqwest::Client::new().get(api), &token).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```
//!
//! Tokens and secrets are types ([`AccessToken`], [`RefreshToken`], [`IdToken`],
//! [`ClientSecret`]) that print `[redacted]` in `Debug`; this crate never logs one.
//!
//! ```
//! use oxidp_client::{ClientCredentialsManager, OAuthClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
//! # let issuer = server.issuer();
//! // `issuer` is the authorization server's URL (here a local test double).
//! let client = OAuthClient::builder("app", "app secret/+")
//!     .discover(issuer)
//!     .await?;
//! let tokens = ClientCredentialsManager::builder(client)
//!     .scope("orders.read")
//!     .build();
//! // Cheap to clone; share it between tasks.
//! let token = tokens.get_token().await?;
//! assert_eq!(token.scope.as_deref(), Some("orders.read"));
//! assert_eq!(token.authorization_header()?, "Bearer at-1");
//!
//! // Asked again, the cached token is handed out without a request.
//! assert_eq!(tokens.get_token().await?, token);
//! # assert_eq!(server.token_requests(), 1);
//! # Ok(()) }
//! ```
//!
//! With the `testing` feature, the `testing` module offers a fake authorization server and a
//! manual clock for the tests of apps built on this crate (and for the examples here).

mod client;
mod client_credentials;
mod clock;
mod dpop;
mod error;
mod http;
mod refresh;
mod resource;
mod revocation;
mod secret;
mod session_locks;
mod single_flight;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod token;

pub use async_trait::async_trait;
pub use client::{ClientAuthMethod, OAuthClient, OAuthClientBuilder};
pub use client_credentials::{
    ClientCredentialsManager, ClientCredentialsManagerBuilder, DEFAULT_REFRESH_AHEAD,
};
pub use clock::{Clock, SystemClock};
pub use dpop::DpopKey;
pub use error::{Error, OAuthError, ReauthenticationReason};
pub use refresh::{RefreshTokenManager, RefreshTokenManagerBuilder};
pub use revocation::AccessTokenRevocation;
pub use secret::{AccessToken, ClientSecret, IdToken, RefreshToken};
pub use store::{MemoryTokenStore, StoreError, TokenStore};
pub use token::{Token, TokenSet};
