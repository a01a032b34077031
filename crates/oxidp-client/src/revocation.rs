//! Revocation (RFC 7009): single tokens through [`OAuthClient`], and a whole user session on
//! sign-out through [`RefreshTokenManager::sign_out`].

use crate::client::OAuthClient;
use crate::error::Error;
use crate::http::TokenTypeHint;
use crate::refresh::{RefreshTokenManager, detached};
use crate::secret::{AccessToken, RefreshToken};

/// Whether signing out revokes the access token as well as the refresh token.
///
/// A reference token is checked by introspection on every use, so revoking it ends it at once.
/// Revoking a JWT access token puts its id on oxidp's revocation list: oxidp's own endpoints
/// (userinfo, introspection) and APIs that introspect JWTs refuse it from then on, but APIs that
/// validate it locally cannot see that and accept it until it expires; choose
/// [`Always`](Self::Always) when the APIs ask the issuer.
///
/// ```
/// assert_eq!(
///     oxidp_client::AccessTokenRevocation::default(),
///     oxidp_client::AccessTokenRevocation::IfReference,
/// );
/// ```
///
/// It is set with
/// [`RefreshTokenManagerBuilder::access_token_revocation`](crate::RefreshTokenManagerBuilder::access_token_revocation);
/// the example of [`RefreshTokenManagerBuilder`](crate::RefreshTokenManagerBuilder) shows
/// the requests a sign-out then makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessTokenRevocation {
    /// Only when it is a reference (opaque) token, that is, not shaped like a JWT.
    #[default]
    IfReference,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl AccessTokenRevocation {
    fn applies_to(self, token: &AccessToken) -> bool {
        match self {
            Self::IfReference => !token.looks_like_jwt(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

impl OAuthClient {
    /// Revokes a refresh token (`token_type_hint=refresh_token`). Revoking a token the server
    /// does not know, or no longer knows, succeeds, so this is safe to repeat.
    ///
    /// ```
    /// use oxidp_client::RefreshToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let client = server.client_builder().build()?;
    /// client.revoke_refresh_token(&RefreshToken::new("the-refresh-token")).await?;
    /// client.revoke_refresh_token(&RefreshToken::new("the-refresh-token")).await?; // again: Ok
    /// let asked = server.revocations();
    /// assert_eq!(asked[0]["token"], "the-refresh-token");
    /// assert_eq!(asked[0]["token_type_hint"], "refresh_token");
    ///
    /// // Without a revocation endpoint there is nothing to call.
    /// let client = oxidp_client::OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(server.token_endpoint())
    ///     .build()?;
    /// let error = client.revoke_refresh_token(&RefreshToken::new("rt")).await.unwrap_err();
    /// assert!(matches!(error, oxidp_client::Error::Configuration(_)));
    /// # Ok(()) }
    /// ```
    pub async fn revoke_refresh_token(&self, token: &RefreshToken) -> Result<(), Error> {
        self.post_revocation(token.secret(), TokenTypeHint::RefreshToken)
            .await
    }

    /// Revokes an access token (`token_type_hint=access_token`); useful for reference tokens.
    ///
    /// ```
    /// use oxidp_client::AccessToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let client = server.client_builder().build()?;
    /// client.revoke_access_token(&AccessToken::new("the-reference-token")).await?;
    /// # let asked = server.revocations();
    /// # assert_eq!(asked[0]["token"], "the-reference-token");
    /// # assert_eq!(asked[0]["token_type_hint"], "access_token");
    ///
    /// // A server that cannot revoke now says so; it is worth trying again later.
    /// # server.set_revocation_status(503);
    /// let error = client.revoke_access_token(&AccessToken::new("the-reference-token")).await.unwrap_err();
    /// assert_eq!(error.oauth_error(), Some("temporarily_unavailable"));
    /// assert!(error.is_transient());
    /// # Ok(()) }
    /// ```
    pub async fn revoke_access_token(&self, token: &AccessToken) -> Result<(), Error> {
        self.post_revocation(token.secret(), TokenTypeHint::AccessToken)
            .await
    }
}

impl RefreshTokenManager {
    /// Signs the session out: revokes its refresh token (and its access token, as
    /// [`AccessTokenRevocation`] says) at the revocation endpoint, and forgets its tokens.
    ///
    /// The tokens are forgotten whatever the server answers; a failed revocation is still
    /// returned as an error, for the app to log. Signing out a session that has no tokens (or
    /// signing out twice) succeeds without a request. If the client has no revocation endpoint,
    /// the tokens are only forgotten. Like a refresh, a started sign-out runs to its end even if
    /// the caller goes away, and never overlaps a refresh of the same session.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let sessions = oxidp_client::RefreshTokenManager::new(server.client_builder().build()?);
    /// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
    /// # sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
    /// sessions.sign_out("session-42").await?;
    /// sessions.sign_out("session-42").await?; // nothing left to do: Ok
    /// assert!(sessions.tokens("session-42").await?.is_none());
    ///
    /// // The refresh token was revoked, and the access token too, as it is a reference token.
    /// let revoked: Vec<_> = server.revocations().iter().map(|form| form["token"].clone()).collect();
    /// assert_eq!(revoked, ["rt-1", "at-1"]);
    /// # Ok(()) }
    /// ```
    pub async fn sign_out(&self, session_key: &str) -> Result<(), Error> {
        let manager = self.clone();
        let key = session_key.to_owned();
        detached(async move { manager.sign_out_locked(&key).await }).await
    }

    async fn sign_out_locked(&self, session_key: &str) -> Result<(), Error> {
        let inner = &self.inner;
        let _guard = inner.locks.lock(session_key).await;
        let Some(tokens) = inner.store.load(session_key).await.map_err(Error::store)? else {
            return Ok(());
        };
        inner
            .store
            .remove(session_key)
            .await
            .map_err(Error::store)?;
        let client = &inner.client;
        if client.revocation_endpoint().is_none() {
            tracing::debug!(client_id = %client.client_id(), "no revocation endpoint: session tokens forgotten only");
            return Ok(());
        }
        let mut outcome = Ok(());
        if let Some(refresh_token) = &tokens.refresh_token {
            outcome = client.revoke_refresh_token(refresh_token).await;
        }
        if inner
            .access_token_revocation
            .applies_to(&tokens.access_token)
        {
            let revoked = client.revoke_access_token(&tokens.access_token).await;
            outcome = outcome.and(revoked);
        }
        if let Err(error) = &outcome {
            tracing::warn!(client_id = %client.client_id(), %error, "revocation on sign-out failed; tokens forgotten");
        }
        outcome
    }
}
