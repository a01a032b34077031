//! [`RefreshTokenManager`]: a web app's tokens per user session, renewed with the refresh token
//! shortly before the access token expires, one refresh at a time per session.

use crate::client::OAuthClient;
use crate::client_credentials::DEFAULT_REFRESH_AHEAD;
use crate::error::{Error, ReauthenticationReason};
use crate::revocation::AccessTokenRevocation;
use crate::session_locks::SessionLocks;
use crate::store::{MemoryTokenStore, TokenStore};
use crate::token::{Token, TokenSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Keeps each user session's [`TokenSet`] and hands out valid access tokens.
///
/// [`access_token`](Self::access_token) returns the stored access token until it is within the
/// refresh-ahead margin of its expiry ([`DEFAULT_REFRESH_AHEAD`], at most half the token's
/// lifetime); then it redeems the refresh token and stores the new set, including the
/// **rotated** refresh token. For one session key, one refresh is in flight at a time: callers
/// that arrive meanwhile wait for it and use its result. A refresh, once sent, runs to its end
/// and is stored even if the caller that started it goes away.
///
/// When the server refuses the refresh token (`invalid_grant`), the session's tokens are
/// dropped and [`Error::ReauthenticationRequired`] is returned: send the user to sign in again.
///
/// The one-refresh-at-a-time guarantee holds within one manager (and its clones). Apps that run
/// several instances over a shared [`TokenStore`] should route a session to one instance.
///
/// ```
/// use oxidp_client::{Error, OAuthClient, RefreshTokenManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
/// # let issuer = server.issuer();
/// # let clock = oxidp_client::testing::ManualClock::new();
/// # let (code, verifier) = (oxidp_client::testing::AUTHORIZATION_CODE, "the-pkce-verifier");
/// let client = OAuthClient::builder("app", "app secret/+")
/// #   .clock(clock.clone())
///     .discover(issuer)
///     .await?;
/// let sessions = RefreshTokenManager::new(client);
///
/// // On the callback of the code flow, keyed by the app's own session id:
/// sessions
///     .exchange_code("session-42", code, "http://localhost:5002/callback", Some(verifier))
///     .await?;
///
/// // On each request that calls an API:
/// let mut calls = Vec::new();
/// for _ in 0..2 {
///     match sessions.access_token("session-42").await {
///         Ok(token) => calls.push(token.authorization_header().unwrap()), // call the API
///         Err(Error::ReauthenticationRequired { .. }) => { /* redirect to the login */ }
///         Err(other) => return Err(other),
///     }
/// #   clock.advance(300); // the access token's lifetime
/// }
/// // The second call came after the access token expired: it was refreshed first.
/// assert_eq!(calls, ["Bearer at-1", "Bearer at-2"]);
///
/// // On sign-out: the tokens are revoked and forgotten.
/// sessions.sign_out("session-42").await?;
/// assert!(matches!(
///     sessions.access_token("session-42").await,
///     Err(Error::ReauthenticationRequired { .. })
/// ));
/// # assert_eq!(server.revocations()[0]["token"], "rt-2");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RefreshTokenManager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: OAuthClient,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) refresh_ahead: Duration,
    pub(crate) access_token_revocation: AccessTokenRevocation,
    pub(crate) locks: SessionLocks,
}

impl fmt::Debug for RefreshTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenManager")
            .field("client", &self.inner.client)
            .field("refresh_ahead", &self.inner.refresh_ahead)
            .field(
                "access_token_revocation",
                &self.inner.access_token_revocation,
            )
            .finish_non_exhaustive()
    }
}

impl RefreshTokenManager {
    /// A manager keeping tokens in memory ([`MemoryTokenStore`]), with the default margin.
    ///
    /// ```
    /// use oxidp_client::{OAuthClient, RefreshTokenManager};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// let client = OAuthClient::builder("web", "web-secret")
    ///     .token_endpoint("http://127.0.0.1:5000/connect/token")
    ///     .build()?;
    /// let sessions = RefreshTokenManager::new(client);
    /// // Nobody signed in yet, so nothing is stored.
    /// assert!(sessions.tokens("session-42").await?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn new(client: OAuthClient) -> Self {
        Self::builder(client).build()
    }

    /// Starts configuring a manager.
    ///
    /// ```
    /// use oxidp_client::{AccessTokenRevocation, MemoryTokenStore, OAuthClient, RefreshTokenManager};
    /// use oxidp_client::TokenStore as _;
    /// use std::{sync::Arc, time::Duration};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let (token_endpoint, code) = (server.token_endpoint(), oxidp_client::testing::AUTHORIZATION_CODE);
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .build()?;
    /// let store = Arc::new(MemoryTokenStore::default());
    /// let sessions = RefreshTokenManager::builder(client)
    ///     .store(store.clone())
    ///     .refresh_ahead(Duration::from_secs(30))
    ///     .access_token_revocation(AccessTokenRevocation::Always)
    ///     .build();
    /// sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
    /// // The tokens went to the given store.
    /// assert!(store.load("session-42").await?.is_some());
    /// # Ok(()) }
    /// ```
    pub fn builder(client: OAuthClient) -> RefreshTokenManagerBuilder {
        RefreshTokenManagerBuilder {
            client,
            store: None,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            access_token_revocation: AccessTokenRevocation::default(),
        }
    }

    /// Redeems an authorization code (RFC 6749 §4.1.3, with the PKCE `code_verifier` if one was
    /// used) and stores the tokens under `session_key`, replacing any there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let sessions = oxidp_client::RefreshTokenManager::new(server.client_builder().build()?);
    /// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
    /// let tokens = sessions
    ///     .exchange_code("session-42", code, "http://localhost:5002/callback", Some("the-verifier"))
    ///     .await?;
    /// assert!(tokens.refresh_token.is_some(), "asked for offline_access");
    /// assert!(tokens.id_token.is_some());
    /// assert_eq!(sessions.tokens("session-42").await?, Some(tokens));
    /// # let form = server.last_token_request().unwrap().form;
    /// # assert_eq!(form["grant_type"], "authorization_code");
    /// # assert_eq!(form["code_verifier"], "the-verifier");
    ///
    /// // A code the server does not (or no longer) know is refused.
    /// let error = sessions
    ///     .exchange_code("session-43", "used-code", "http://localhost:5002/callback", None)
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(error.oauth_error(), Some("invalid_grant"));
    /// assert!(sessions.tokens("session-43").await?.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn exchange_code(
        &self,
        session_key: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<TokenSet, Error> {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = code_verifier {
            params.push(("code_verifier", verifier));
        }
        let sent_at = self.inner.client.now();
        let response = self.inner.client.post_grant(&params).await?;
        let tokens = TokenSet::from_response(response, sent_at);
        self.store_tokens(session_key, tokens.clone()).await?;
        Ok(tokens)
    }

    /// Stores tokens the app obtained itself under `session_key`, replacing any there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// use oxidp_client::{AccessToken, OAuthClient, RefreshToken, RefreshTokenManager, TokenSet};
    /// let client = OAuthClient::builder("web", "web-secret")
    ///     .token_endpoint("http://127.0.0.1:5000/connect/token")
    ///     .build()?;
    /// let sessions = RefreshTokenManager::new(client);
    /// let expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    /// let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", expires_at)
    ///     .with_refresh_token(RefreshToken::new("rt"));
    /// sessions.store_tokens("session-42", tokens).await?;
    /// let token = sessions.access_token("session-42").await?;
    /// assert_eq!(token.access_token.secret(), "at");
    /// # Ok(()) }
    /// ```
    pub async fn store_tokens(&self, session_key: &str, tokens: TokenSet) -> Result<(), Error> {
        let _guard = self.inner.locks.lock(session_key).await;
        self.inner
            .store
            .save(session_key, &tokens)
            .await
            .map_err(Error::store)
    }

    /// The tokens stored under `session_key`, as they are (for instance the ID token, as the
    /// `id_token_hint` of an RP-initiated logout).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let client = oxidp_client::OAuthClient::builder("web", "s").token_endpoint("http://127.0.0.1:5000/connect/token").build()?;
    /// let sessions = oxidp_client::RefreshTokenManager::new(client);
    /// assert!(sessions.tokens("never-signed-in").await?.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn tokens(&self, session_key: &str) -> Result<Option<TokenSet>, Error> {
        self.inner
            .store
            .load(session_key)
            .await
            .map_err(Error::store)
    }

    /// A valid access token for the session, refreshed first if it is due.
    ///
    /// Errors: [`Error::ReauthenticationRequired`] when the session has no tokens, when its
    /// access token has expired and it has no refresh token, or when the server refused the
    /// refresh token (the tokens are then dropped); [`Error::OAuth`], [`Error::Transport`] or
    /// [`Error::InvalidResponse`] when a refresh failed otherwise (the tokens are kept, and the
    /// next call tries again). A transient failure while the access token has not actually
    /// expired yet returns that access token.
    ///
    /// ```
    /// use oxidp_client::{Error, ReauthenticationReason};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let clock = oxidp_client::testing::ManualClock::new();
    /// # let sessions = oxidp_client::RefreshTokenManager::new(server.client_builder().clock(clock.clone()).build()?);
    /// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
    /// # sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
    /// let token = sessions.access_token("session-42").await?;
    /// assert_eq!(token.access_token.secret(), "at-1");
    ///
    /// // Once the access token is due, it is refreshed and the rotated refresh token kept.
    /// # clock.advance(300);
    /// let token = sessions.access_token("session-42").await?;
    /// assert_eq!(token.access_token.secret(), "at-2");
    /// let stored = sessions.tokens("session-42").await?.unwrap();
    /// assert_eq!(stored.refresh_token.unwrap().secret(), "rt-2");
    ///
    /// // When the server refuses the refresh token, the user must sign in again.
    /// # clock.advance(300);
    /// # server.accept_refresh_token("only-another-one");
    /// let error = sessions.access_token("session-42").await.unwrap_err();
    /// assert!(matches!(
    ///     error,
    ///     Error::ReauthenticationRequired { reason: ReauthenticationReason::InvalidGrant(_) }
    /// ));
    /// assert!(sessions.tokens("session-42").await?.is_none(), "the tokens were dropped");
    /// # Ok(()) }
    /// ```
    pub async fn access_token(&self, session_key: &str) -> Result<Token, Error> {
        let tokens = self.load_or_reauthenticate(session_key).await?;
        if tokens.is_fresh(self.inner.client.now(), self.inner.refresh_ahead) {
            return Ok(tokens.token());
        }
        let manager = self.clone();
        let key = session_key.to_owned();
        detached(async move { manager.refresh_locked(&key, false).await }).await
    }

    /// Forgets the session's tokens without revoking them (see
    /// [`sign_out`](Self::sign_out) to revoke them too).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let sessions = oxidp_client::RefreshTokenManager::new(server.client_builder().build()?);
    /// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
    /// # sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
    /// sessions.forget("session-42").await?;
    /// assert!(sessions.tokens("session-42").await?.is_none());
    /// // Nothing was revoked.
    /// assert!(server.revocations().is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn forget(&self, session_key: &str) -> Result<(), Error> {
        let _guard = self.inner.locks.lock(session_key).await;
        self.inner
            .store
            .remove(session_key)
            .await
            .map_err(Error::store)
    }

    async fn load_or_reauthenticate(&self, session_key: &str) -> Result<TokenSet, Error> {
        self.tokens(session_key)
            .await?
            .ok_or(Error::ReauthenticationRequired {
                reason: ReauthenticationReason::NoTokens,
            })
    }

    /// Under the session's lock: looks again (a refresh may have finished while this caller
    /// waited), then refreshes if still due.
    /// Renews the session's access token with its refresh token now, however fresh the
    /// current one is: after an API refused it as expired or revoked, or when the app needs
    /// claims granted since. Same rules as [`access_token`](Self::access_token) otherwise (one
    /// refresh at a time per session, rotation, `invalid_grant` means re-authentication).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let client = server.client_builder().build()?;
    /// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
    /// let sessions = oxidp_client::RefreshTokenManager::new(client);
    /// sessions.exchange_code("s1", code, "https://app.example/callback", None).await?;
    /// assert_eq!(sessions.access_token("s1").await?.access_token.secret(), "at-1");
    /// assert_eq!(sessions.refresh_now("s1").await?.access_token.secret(), "at-2");
    /// # Ok(()) }
    /// ```
    pub async fn refresh_now(&self, session_key: &str) -> Result<Token, Error> {
        let manager = self.clone();
        let key = session_key.to_owned();
        detached(async move { manager.refresh_locked(&key, true).await }).await
    }

    async fn refresh_locked(&self, session_key: &str, force: bool) -> Result<Token, Error> {
        let inner = &self.inner;
        let _guard = inner.locks.lock(session_key).await;
        let tokens = self.load_or_reauthenticate(session_key).await?;
        let now = inner.client.now();
        if !force && tokens.is_fresh(now, inner.refresh_ahead) {
            return Ok(tokens.token());
        }
        let Some(refresh_token) = &tokens.refresh_token else {
            if now < tokens.expires_at {
                return Ok(tokens.token());
            }
            return Err(Error::ReauthenticationRequired {
                reason: ReauthenticationReason::NoRefreshToken,
            });
        };
        let params = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
        ];
        match inner.client.post_grant(&params).await {
            Ok(response) => {
                let renewed = tokens.renewed(response, now);
                inner
                    .store
                    .save(session_key, &renewed)
                    .await
                    .map_err(Error::store)?;
                tracing::debug!(client_id = %inner.client.client_id(), expires_at = %renewed.expires_at, "session tokens refreshed");
                Ok(renewed.token())
            }
            Err(Error::OAuth(refused)) if refused.error == "invalid_grant" => {
                inner
                    .store
                    .remove(session_key)
                    .await
                    .map_err(Error::store)?;
                tracing::info!(client_id = %inner.client.client_id(), error = %refused, "refresh token refused; session tokens dropped");
                Err(Error::ReauthenticationRequired {
                    reason: ReauthenticationReason::InvalidGrant(refused),
                })
            }
            Err(error) if error.is_transient() && inner.client.now() < tokens.expires_at => {
                tracing::warn!(client_id = %inner.client.client_id(), %error, "refresh failed; the access token is still valid");
                Ok(tokens.token())
            }
            Err(error) => Err(error),
        }
    }
}

/// Runs `work` on its own task, so that it finishes (and stores what the server answered) even
/// if the caller's future is dropped half-way — as a web framework does when a browser goes away.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(Error::Interrupted),
    }
}

/// Configures a [`RefreshTokenManager`].
///
/// ```
/// use oxidp_client::{AccessTokenRevocation, MemoryTokenStore, OAuthClient, RefreshTokenManager};
/// use std::{sync::Arc, time::Duration};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oxidp_client::Error> {
/// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
/// # let issuer = server.issuer();
/// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
/// let client = OAuthClient::builder("app", "app secret/+")
///     .discover(issuer)
///     .await?;
/// let sessions = RefreshTokenManager::builder(client)
///     .store(Arc::new(MemoryTokenStore::default())) // or the app's own TokenStore
///     .refresh_ahead(Duration::from_secs(45))
///     .access_token_revocation(AccessTokenRevocation::Never)
///     .build();
/// sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
///
/// // On sign-out only the refresh token is revoked.
/// sessions.sign_out("session-42").await?;
/// let revoked = server.revocations();
/// assert_eq!(revoked.len(), 1);
/// assert_eq!(revoked[0]["token_type_hint"], "refresh_token");
/// # Ok(()) }
/// ```
#[must_use]
pub struct RefreshTokenManagerBuilder {
    client: OAuthClient,
    store: Option<Arc<dyn TokenStore>>,
    refresh_ahead: Duration,
    access_token_revocation: AccessTokenRevocation,
}

impl fmt::Debug for RefreshTokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenManagerBuilder")
            .field("client", &self.client)
            .field("refresh_ahead", &self.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl RefreshTokenManagerBuilder {
    /// Where the tokens are kept; [`MemoryTokenStore`] unless set. See
    /// [`RefreshTokenManager::builder`] for an example, and [`TokenStore`] for an implementation.
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How long before expiry the access token is refreshed ([`DEFAULT_REFRESH_AHEAD`] unless
    /// set). It is capped at half the token's lifetime.
    ///
    /// ```
    /// use oxidp_client::{OAuthClient, RefreshTokenManager};
    /// use oxidp_client::testing::ManualClock;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let (token_endpoint, code) = (server.token_endpoint(), oxidp_client::testing::AUTHORIZATION_CODE);
    /// let clock = ManualClock::new();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let sessions = RefreshTokenManager::builder(client)
    ///     .refresh_ahead(Duration::from_secs(120))
    ///     .build();
    /// // The server's access tokens live 300 s.
    /// sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
    /// clock.advance(179); // 121 s before expiry: still good
    /// assert_eq!(sessions.access_token("session-42").await?.access_token.secret(), "at-1");
    /// clock.advance(2); // 119 s before expiry: refreshed
    /// assert_eq!(sessions.access_token("session-42").await?.access_token.secret(), "at-2");
    /// # Ok(()) }
    /// ```
    pub fn refresh_ahead(mut self, margin: Duration) -> Self {
        self.refresh_ahead = margin;
        self
    }

    /// Whether [`sign_out`](RefreshTokenManager::sign_out) revokes the access token too
    /// ([`AccessTokenRevocation::IfReference`] unless set). See the
    /// [builder's example](RefreshTokenManagerBuilder).
    pub fn access_token_revocation(mut self, revocation: AccessTokenRevocation) -> Self {
        self.access_token_revocation = revocation;
        self
    }

    /// The manager.
    pub fn build(self) -> RefreshTokenManager {
        RefreshTokenManager {
            inner: Arc::new(Inner {
                client: self.client,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryTokenStore::default())),
                refresh_ahead: self.refresh_ahead,
                access_token_revocation: self.access_token_revocation,
                locks: SessionLocks::new(),
            }),
        }
    }
}
