//! [`ClientCredentialsManager`]: a machine-to-machine access token (RFC 6749 §4.4), cached
//! until shortly before it expires, with one request in flight however many callers want it.

use crate::client::OAuthClient;
use crate::error::Error;
use crate::single_flight::SingleFlight;
use crate::token::{Token, TokenSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long before expiry a cached token is renewed, unless configured: 60 seconds, or half
/// the token's lifetime if that is shorter.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Gets client-credentials access tokens and caches them.
///
/// [`get_token`](Self::get_token) returns the cached token until it is within the
/// refresh-ahead margin of its expiry ([`DEFAULT_REFRESH_AHEAD`], or half the token's lifetime
/// if that is shorter); then the next call fetches a new one. Concurrent callers share one
/// request: they all await the same fetch and get its token, or its error. A failed fetch is
/// not cached: the next call tries again — except that while the cached token has not yet
/// actually expired, a [transient](Error::is_transient) failure hands out the cached token.
///
/// Cloning is cheap and clones share the cache.
///
/// ```
/// use oxidp_client::{ClientCredentialsManager, OAuthClient};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
/// # let issuer = server.issuer();
/// let client = OAuthClient::builder("app", "app secret/+")
///     .discover(issuer)
///     .await?;
/// let tokens = ClientCredentialsManager::builder(client)
///     .scope("orders.read orders.write")
///     .resource("https://orders.example/")
///     .build();
///
/// // Ten tasks want a token at once: one request is made, and all get its token.
/// let tasks: Vec<_> = (0..10)
///     .map(|_| {
///         let tokens = tokens.clone();
///         tokio::spawn(async move { tokens.get_token().await })
///     })
///     .collect();
/// for task in tasks {
///     let token = task.await??;
///     // What an API call sends: `.header(AUTHORIZATION, token.authorization_header()?)`.
///     assert_eq!(token.authorization_header()?, "Bearer at-1");
/// }
/// # assert_eq!(server.token_requests(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentialsManager {
    inner: Arc<Inner>,
}

struct Inner {
    client: OAuthClient,
    scope: Option<String>,
    resources: Vec<String>,
    refresh_ahead: Duration,
    cached: Mutex<Option<TokenSet>>,
    flight: SingleFlight<Result<Token, Error>>,
}

impl fmt::Debug for ClientCredentialsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsManager")
            .field("client", &self.inner.client)
            .field("scope", &self.inner.scope)
            .field("resources", &self.inner.resources)
            .field("refresh_ahead", &self.inner.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsManager {
    /// A manager asking for the client's default scopes, with the default margin.
    ///
    /// ```
    /// use oxidp_client::{ClientCredentialsManager, OAuthClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let token_endpoint = server.token_endpoint();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .build()?;
    /// let tokens = ClientCredentialsManager::new(client);
    /// let token = tokens.get_token().await?;
    /// assert_eq!(token.token_type, "Bearer");
    /// assert_eq!(token.scope, None, "no scope asked for, none named");
    /// # let form = server.last_token_request().unwrap().form;
    /// # assert_eq!(form["grant_type"], "client_credentials");
    /// # assert!(!form.contains_key("scope"));
    /// # Ok(()) }
    /// ```
    pub fn new(client: OAuthClient) -> Self {
        Self::builder(client).build()
    }

    /// Starts configuring a manager.
    ///
    /// ```
    /// use oxidp_client::{ClientCredentialsManager, OAuthClient};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let token_endpoint = server.token_endpoint();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .build()?;
    /// let tokens = ClientCredentialsManager::builder(client)
    ///     .scope("orders.read")
    ///     .refresh_ahead(Duration::from_secs(30))
    ///     .build();
    /// assert_eq!(tokens.get_token().await?.scope.as_deref(), Some("orders.read"));
    /// # Ok(()) }
    /// ```
    pub fn builder(client: OAuthClient) -> ClientCredentialsManagerBuilder {
        ClientCredentialsManagerBuilder {
            client,
            scopes: Vec::new(),
            resources: Vec::new(),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
        }
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    ///
    /// Errors: [`Error::OAuth`] when the server refuses (`invalid_client`, `invalid_scope`,
    /// `unauthorized_client`, ...), [`Error::Transport`] when it cannot be reached,
    /// [`Error::InvalidResponse`] when its answer is not a token response.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let tokens = oxidp_client::ClientCredentialsManager::new(server.client_builder().build()?);
    /// let token = tokens.get_token().await?;
    /// assert!(token.expires_at > time::OffsetDateTime::now_utc());
    /// // Until shortly before that, the same token comes from the cache.
    /// assert_eq!(tokens.get_token().await?, token);
    /// # assert_eq!(server.token_requests(), 1);
    ///
    /// // When the server refuses, the error carries its error code:
    /// # server.answer_token_requests(400, r#"{"error":"invalid_scope"}"#);
    /// # tokens.invalidate();
    /// let error = tokens.get_token().await.unwrap_err();
    /// assert_eq!(error.oauth_error(), Some("invalid_scope"));
    /// assert!(!error.is_transient());
    /// # Ok(()) }
    /// ```
    pub async fn get_token(&self) -> Result<Token, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        self.inner.flight.run(|| self.fetch()).await
    }

    /// Forgets the cached token, so that the next [`get_token`](Self::get_token) fetches a new
    /// one (for instance after an API rejected the token).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let tokens = oxidp_client::ClientCredentialsManager::new(server.client_builder().build()?);
    /// let rejected = tokens.get_token().await?;
    /// tokens.invalidate();
    /// let fresh = tokens.get_token().await?;
    /// assert_ne!(fresh.access_token, rejected.access_token);
    /// # assert_eq!(server.token_requests(), 2);
    /// # Ok(()) }
    /// ```
    pub fn invalidate(&self) {
        *self.lock_cache() = None;
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<TokenSet>> {
        self.inner
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh(&self) -> Option<Token> {
        let now = self.inner.client.now();
        self.lock_cache()
            .as_ref()
            .filter(|tokens| tokens.is_fresh(now, self.inner.refresh_ahead))
            .map(TokenSet::token)
    }

    /// One run of the single flight: checks the cache again (a run that finished just before
    /// this one started has filled it), then asks the token endpoint.
    async fn fetch(&self) -> Result<Token, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let inner = &self.inner;
        let mut params = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &inner.scope {
            params.push(("scope", scope));
        }
        for resource in &inner.resources {
            params.push(("resource", resource));
        }
        let sent_at = inner.client.now();
        match inner.client.post_grant(&params).await {
            Ok(response) => {
                let tokens = TokenSet::from_response(response, sent_at);
                let token = tokens.token();
                *self.lock_cache() = Some(tokens);
                tracing::debug!(client_id = %inner.client.client_id(), expires_at = %token.expires_at, "client-credentials token fetched");
                Ok(token)
            }
            Err(error) => {
                let now = inner.client.now();
                let still_valid = self
                    .lock_cache()
                    .as_ref()
                    .filter(|tokens| error.is_transient() && now < tokens.expires_at)
                    .map(TokenSet::token);
                match still_valid {
                    Some(token) => {
                        tracing::warn!(client_id = %inner.client.client_id(), %error, "client-credentials token request failed; the cached token is still valid");
                        Ok(token)
                    }
                    None => {
                        tracing::debug!(client_id = %inner.client.client_id(), %error, "client-credentials token request failed");
                        Err(error)
                    }
                }
            }
        }
    }
}

/// Configures a [`ClientCredentialsManager`].
///
/// ```
/// use oxidp_client::{ClientCredentialsManager, OAuthClient};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oxidp_client::Error> {
/// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
/// # let token_endpoint = server.token_endpoint();
/// let client = OAuthClient::builder("app", "app secret/+")
///     .token_endpoint(token_endpoint)
///     .build()?;
/// let tokens = ClientCredentialsManager::builder(client)
///     .scope("orders.read")                 // space-separated, or one call per scope
///     .scope("orders.write")
///     .resource("https://orders.example/")  // RFC 8707, repeatable
///     .refresh_ahead(Duration::from_secs(30))
///     .build();
/// tokens.get_token().await?;
///
/// // What the token endpoint was asked:
/// let form = server.last_token_request().unwrap().form;
/// assert_eq!(form["grant_type"], "client_credentials");
/// assert_eq!(form["scope"], "orders.read orders.write");
/// assert_eq!(form["resource"], "https://orders.example/");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientCredentialsManagerBuilder {
    client: OAuthClient,
    scopes: Vec<String>,
    resources: Vec<String>,
    refresh_ahead: Duration,
}

impl ClientCredentialsManagerBuilder {
    /// Asks for these scopes (space-separated; may be called more than once). Without it the
    /// server grants the client's default scopes. See the
    /// [builder's example](ClientCredentialsManagerBuilder).
    pub fn scope(mut self, scope: impl AsRef<str>) -> Self {
        self.scopes
            .extend(scope.as_ref().split_whitespace().map(str::to_owned));
        self
    }

    /// Asks for a token for this resource (RFC 8707 `resource`; may be called more than once).
    /// See the [builder's example](ClientCredentialsManagerBuilder).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// How long before expiry the cached token is renewed ([`DEFAULT_REFRESH_AHEAD`] unless
    /// set). It is capped at half the token's lifetime.
    ///
    /// ```
    /// use oxidp_client::{ClientCredentialsManager, OAuthClient};
    /// use oxidp_client::testing::ManualClock;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let token_endpoint = server.token_endpoint();
    /// let clock = ManualClock::new();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .clock(clock.clone())
    ///     .build()?;
    /// // The server's tokens live 300 s.
    /// let tokens = ClientCredentialsManager::builder(client)
    ///     .refresh_ahead(Duration::from_secs(30))
    ///     .build();
    /// let first = tokens.get_token().await?;
    /// clock.advance(269); // 31 s before expiry: still cached
    /// assert_eq!(tokens.get_token().await?, first);
    /// clock.advance(2); // 29 s before expiry: renewed
    /// assert_ne!(tokens.get_token().await?, first);
    /// # assert_eq!(server.token_requests(), 2);
    /// # Ok(()) }
    /// ```
    pub fn refresh_ahead(mut self, margin: Duration) -> Self {
        self.refresh_ahead = margin;
        self
    }

    /// The manager.
    pub fn build(self) -> ClientCredentialsManager {
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        ClientCredentialsManager {
            inner: Arc::new(Inner {
                client: self.client,
                scope,
                resources: self.resources,
                refresh_ahead: self.refresh_ahead,
                cached: Mutex::new(None),
                flight: SingleFlight::new(),
            }),
        }
    }
}
