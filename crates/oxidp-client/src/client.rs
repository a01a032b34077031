//! [`OAuthClient`]: who the client is (id, secret, how it authenticates) and where the
//! authorization server's endpoints are, either configured or read from the issuer's discovery
//! document. It is cheap to clone and shared by the token managers.

use crate::clock::{Clock, SystemClock};
use crate::dpop::{DpopKey, Nonces};
use crate::error::Error;
use crate::secret::ClientSecret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How the client authenticates at the token and revocation endpoints (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: `Authorization: Basic` with the form-encoded id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `none`: a public client (a native or browser app, RFC 6749 §2.1), which sends only its
    /// `client_id` in the form body. Made by [`OAuthClient::public`].
    None,
    /// `tls_client_auth` or `self_signed_tls_client_auth` (RFC 8705 §2): the client
    /// certificate in the TLS handshake, only `client_id` in the form body. Set by
    /// [`OAuthClient::builder_with_certificate`].
    TlsClientAuth,
}

/// A confidential client of one authorization server.
///
/// Build it with [`OAuthClient::builder`], then either name the endpoints
/// ([`OAuthClientBuilder::build`]) or let discovery find them
/// ([`OAuthClientBuilder::discover`]).
///
/// ```
/// use oxidp_client::{ClientAuthMethod, OAuthClient};
///
/// let client = OAuthClient::builder("m2m", "m2m-secret")
///     .token_endpoint("http://127.0.0.1:5000/connect/token")
///     .revocation_endpoint("http://127.0.0.1:5000/connect/revocation")
///     .auth_method(ClientAuthMethod::ClientSecretPost)
///     .build()?;
/// assert_eq!(client.client_id(), "m2m");
/// assert!(!format!("{client:?}").contains("m2m-secret"));
/// # Ok::<(), oxidp_client::Error>(())
/// ```
#[derive(Clone)]
pub struct OAuthClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client_id: String,
    pub(crate) secret: ClientSecret,
    pub(crate) auth_method: ClientAuthMethod,
    pub(crate) basic_header: HeaderValue,
    pub(crate) token_endpoint: Url,
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dpop: Option<DpopKey>,
    pub(crate) nonces: Nonces,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.inner.client_id)
            .field("secret", &self.inner.secret)
            .field("auth_method", &self.inner.auth_method)
            .field("token_endpoint", &self.inner.token_endpoint.as_str())
            .field(
                "revocation_endpoint",
                &self.inner.revocation_endpoint.as_ref().map(Url::as_str),
            )
            .field("dpop", &self.inner.dpop)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// Starts building a client with this id and secret.
    ///
    /// ```
    /// let builder = oxidp_client::OAuthClient::builder("web", "web-secret");
    /// assert!(!format!("{builder:?}").contains("web-secret"));
    /// ```
    pub fn builder(
        client_id: impl Into<String>,
        secret: impl Into<ClientSecret>,
    ) -> OAuthClientBuilder {
        OAuthClientBuilder {
            client_id: client_id.into(),
            secret: secret.into(),
            auth_method: ClientAuthMethod::default(),
            token_endpoint: None,
            revocation_endpoint: None,
            http: None,
            clock: None,
            dpop: None,
            identity: None,
        }
    }

    /// Starts building a client that authenticates with a TLS client certificate
    /// (`tls_client_auth` or `self_signed_tls_client_auth`, RFC 8705): `identity` is its
    /// certificate and private key, presented in every handshake with the server, which also
    /// binds the tokens to it when the client is registered for bound tokens. Discovery then
    /// prefers the server's `mtls_endpoint_aliases`.
    ///
    /// ```
    /// # let key = rcgen::KeyPair::generate().unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["m2m".to_owned()]).unwrap().self_signed(&key).unwrap();
    /// # let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    /// let identity = reqwest::Identity::from_pem(pem.as_bytes())?;
    /// let client = oxidp_client::OAuthClient::builder_with_certificate("m2m", identity)
    ///     .token_endpoint("https://mtls.idp.example/connect/token")
    ///     .build()?;
    /// assert_eq!(client.client_id(), "m2m");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_with_certificate(
        client_id: impl Into<String>,
        identity: reqwest::Identity,
    ) -> OAuthClientBuilder {
        OAuthClientBuilder {
            auth_method: ClientAuthMethod::TlsClientAuth,
            identity: Some(identity),
            ..Self::builder(client_id, "")
        }
    }

    /// Starts building a public client (no secret, [`ClientAuthMethod::None`]): a native app
    /// or a command-line tool. Public clients must use PKCE; with DPoP
    /// ([`OAuthClientBuilder::dpop`]) their refresh tokens are bound to the key, so a stolen
    /// refresh token is useless without it (RFC 9449 §5).
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::public("native-app")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .build()?;
    /// assert_eq!(client.client_id(), "native-app");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn public(client_id: impl Into<String>) -> OAuthClientBuilder {
        Self::builder(client_id, "").auth_method(ClientAuthMethod::None)
    }

    /// The key this client proves possession of with DPoP, if it uses DPoP.
    ///
    /// ```
    /// use oxidp_client::{DpopKey, OAuthClient};
    ///
    /// let key = DpopKey::generate()?;
    /// let client = OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .dpop(key.clone())
    ///     .build()?;
    /// assert_eq!(client.dpop_key().unwrap().thumbprint(), key.thumbprint());
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// The client id.
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .build()?;
    /// assert_eq!(client.client_id(), "m2m");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The token endpoint.
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .build()?;
    /// assert_eq!(client.token_endpoint().path(), "/connect/token");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn token_endpoint(&self) -> &Url {
        &self.inner.token_endpoint
    }

    /// The revocation endpoint, if configured or discovered.
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .build()?;
    /// assert!(client.revocation_endpoint().is_none());
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn revocation_endpoint(&self) -> Option<&Url> {
        self.inner.revocation_endpoint.as_ref()
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }
}

/// Builds an [`OAuthClient`].
///
/// ```
/// use oxidp_client::{ClientAuthMethod, OAuthClient, SystemClock};
/// use std::{sync::Arc, time::Duration};
///
/// let http = reqwest::Client::builder()
///     .timeout(Duration::from_secs(5))
///     .build()
///     .expect("an HTTP client");
/// let client = OAuthClient::builder("m2m", "m2m-secret")
///     .token_endpoint("https://idp.example/connect/token")
///     .revocation_endpoint("https://idp.example/connect/revocation")
///     .auth_method(ClientAuthMethod::ClientSecretBasic)
///     .http_client(http)
///     .clock(Arc::new(SystemClock))
///     .build()?;
/// assert_eq!(client.revocation_endpoint().unwrap().path(), "/connect/revocation");
/// # Ok::<(), oxidp_client::Error>(())
/// ```
#[must_use]
pub struct OAuthClientBuilder {
    client_id: String,
    secret: ClientSecret,
    auth_method: ClientAuthMethod,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    http: Option<reqwest::Client>,
    clock: Option<Arc<dyn Clock>>,
    dpop: Option<DpopKey>,
    identity: Option<reqwest::Identity>,
}

impl fmt::Debug for OAuthClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientBuilder")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("auth_method", &self.auth_method)
            .field("token_endpoint", &self.token_endpoint)
            .field("revocation_endpoint", &self.revocation_endpoint)
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

impl OAuthClientBuilder {
    /// The token endpoint. Required by [`build`](Self::build); overrides the discovered one.
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .build()?;
    /// assert_eq!(client.token_endpoint().as_str(), "https://idp.example/connect/token");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// The RFC 7009 revocation endpoint, used on sign-out; overrides the discovered one.
    ///
    /// ```
    /// let client = oxidp_client::OAuthClient::builder("m2m", "s")
    ///     .token_endpoint("https://idp.example/connect/token")
    ///     .revocation_endpoint("https://idp.example/connect/revocation")
    ///     .build()?;
    /// assert_eq!(client.revocation_endpoint().unwrap().path(), "/connect/revocation");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.revocation_endpoint = Some(url.into());
        self
    }

    /// How the client authenticates; `client_secret_basic` by default.
    ///
    /// ```
    /// use oxidp_client::{ClientAuthMethod, ClientCredentialsManager, OAuthClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let token_endpoint = server.token_endpoint();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .auth_method(ClientAuthMethod::ClientSecretPost)
    ///     .build()?;
    /// ClientCredentialsManager::new(client).get_token().await?;
    ///
    /// // The credentials went in the form, not in an `Authorization` header.
    /// let request = server.last_token_request().unwrap();
    /// assert_eq!(request.authorization, None);
    /// assert_eq!(request.form["client_id"], "app");
    /// assert_eq!(request.form["client_secret"], "app secret/+");
    /// # Ok(()) }
    /// ```
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// The HTTP client to use. The default one follows no redirects and gives up after 30 s.
    ///
    /// ```
    /// use oxidp_client::{ClientCredentialsManager, Error, OAuthClient};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # server.set_delay(Duration::from_secs(5));
    /// # let token_endpoint = server.token_endpoint();
    /// // A token endpoint that takes seconds to answer, and a client that waits 200 ms.
    /// let http = reqwest::Client::builder()
    ///     .timeout(Duration::from_millis(200))
    ///     .build()
    ///     .expect("an HTTP client");
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .http_client(http)
    ///     .build()?;
    /// let error = ClientCredentialsManager::new(client).get_token().await.unwrap_err();
    /// assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    /// assert!(error.is_transient());
    /// # Ok(()) }
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for expiry decisions; the system clock by default.
    ///
    /// ```
    /// use oxidp_client::{Clock, ClientCredentialsManager, OAuthClient};
    /// use oxidp_client::testing::ManualClock;
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
    /// let tokens = ClientCredentialsManager::new(client);
    /// let token = tokens.get_token().await?;
    /// // The server said `expires_in: 300`, counted from when the request was sent.
    /// assert_eq!(token.expires_at, clock.now() + time::Duration::seconds(300));
    ///
    /// clock.advance(250); // within a minute of the expiry: renewed
    /// assert_eq!(tokens.get_token().await?.access_token.secret(), "at-2");
    /// # Ok(()) }
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sends a DPoP proof signed with `key` with every token request (client credentials,
    /// code redemption, refresh; RFC 9449), so the tokens are bound to the key, and answers a
    /// server's `use_dpop_nonce` with one retry carrying the nonce it gave. Nonces are
    /// remembered per origin, from every response that carries one, and used in the next proof.
    ///
    /// ```
    /// use oxidp_client::{ClientCredentialsManager, DpopKey, OAuthClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let token_endpoint = server.token_endpoint();
    /// let client = OAuthClient::builder("app", "app secret/+")
    ///     .token_endpoint(token_endpoint)
    ///     .dpop(DpopKey::generate()?)
    ///     .build()?;
    /// # server.require_dpop_nonce("nonce-1");
    /// // A server that wants a nonce in every proof: the first request gets `use_dpop_nonce`
    /// // with the nonce, and the retry carries it.
    /// let token = ClientCredentialsManager::new(client).get_token().await?;
    /// assert_eq!(token.token_type, "DPoP");
    /// assert_eq!(token.authorization_header()?, "DPoP at-1");
    /// assert_eq!(server.token_requests(), 2);
    /// # Ok(()) }
    /// ```
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Builds the client from the configured endpoints.
    ///
    /// ```
    /// let error = oxidp_client::OAuthClient::builder("m2m", "s").build().unwrap_err();
    /// assert!(matches!(error, oxidp_client::Error::Configuration(_)));
    /// ```
    pub fn build(self) -> Result<OAuthClient, Error> {
        let token_endpoint = self
            .token_endpoint
            .clone()
            .ok_or_else(|| Error::Configuration("no token endpoint configured".into()))?;
        let revocation_endpoint = self.revocation_endpoint.clone();
        self.finish(&token_endpoint, revocation_endpoint.as_deref())
    }

    /// Reads `{issuer}/.well-known/openid-configuration` and takes the token and revocation
    /// endpoints from it, unless they were set on the builder. The document must name the same
    /// issuer (OpenID Connect Discovery §4.3).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oxidp_client::Error> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let issuer = server.issuer();
    /// let client = oxidp_client::OAuthClient::builder("app", "app secret/+")
    ///     .discover(issuer)
    ///     .await?;
    /// assert_eq!(client.token_endpoint().as_str(), format!("{issuer}/token"));
    /// assert_eq!(client.revocation_endpoint().unwrap().as_str(), format!("{issuer}/revoke"));
    ///
    /// // Were the document to name another issuer, discovery would fail:
    /// # server.set_discovery_issuer("https://elsewhere.example");
    /// let error = oxidp_client::OAuthClient::builder("app", "app secret/+")
    ///     .discover(issuer)
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(error, oxidp_client::Error::Configuration(_)));
    /// # Ok(()) }
    /// ```
    pub async fn discover(self, issuer: &str) -> Result<OAuthClient, Error> {
        let http = match self.http.clone() {
            Some(http) => http,
            None => http_client(self.identity.clone())?,
        };
        let mut document = discovery_document(&http, issuer).await?;
        // RFC 8705 §5: a client presenting a certificate uses the mTLS host's endpoints.
        if self.auth_method == ClientAuthMethod::TlsClientAuth
            && let Some(aliases) = document.mtls_endpoint_aliases.take()
        {
            document.token_endpoint = aliases.token_endpoint.or(document.token_endpoint);
            document.revocation_endpoint =
                aliases.revocation_endpoint.or(document.revocation_endpoint);
        }
        let token_endpoint = self
            .token_endpoint
            .clone()
            .or(document.token_endpoint)
            .ok_or_else(|| {
                Error::Configuration("the discovery document has no token_endpoint".into())
            })?;
        let revocation_endpoint = self
            .revocation_endpoint
            .clone()
            .or(document.revocation_endpoint);
        Self {
            http: Some(http),
            ..self
        }
        .finish(&token_endpoint, revocation_endpoint.as_deref())
    }

    fn finish(
        self,
        token_endpoint: &str,
        revocation_endpoint: Option<&str>,
    ) -> Result<OAuthClient, Error> {
        let token_endpoint = parse_url("token endpoint", token_endpoint)?;
        let revocation_endpoint = revocation_endpoint
            .map(|url| parse_url("revocation endpoint", url))
            .transpose()?;
        let basic_header = basic_header(&self.client_id, &self.secret)?;
        let http = match self.http {
            Some(http) => http,
            None => http_client(self.identity)?,
        };
        Ok(OAuthClient {
            inner: Arc::new(Inner {
                client_id: self.client_id,
                secret: self.secret,
                auth_method: self.auth_method,
                basic_header,
                token_endpoint,
                revocation_endpoint,
                http,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                dpop: self.dpop,
                nonces: Nonces::default(),
            }),
        })
    }
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
}

#[derive(Deserialize)]
struct MtlsEndpointAliases {
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

async fn discovery_document(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<DiscoveryDocument, Error> {
    let issuer = issuer.trim_end_matches('/');
    let endpoint = format!("{issuer}/.well-known/openid-configuration");
    let response = http
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| crate::http::transport(&endpoint, e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| crate::http::transport(&endpoint, e))?;
    let invalid = |detail: String| Error::InvalidResponse {
        endpoint: endpoint.clone(),
        status,
        detail,
    };
    if status != 200 {
        return Err(invalid("the discovery document was not served".into()));
    }
    let document: DiscoveryDocument = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("not a discovery document: {e}")))?;
    if document.issuer.trim_end_matches('/') != issuer {
        return Err(Error::Configuration(format!(
            "the discovery document at {endpoint} is for issuer {}, not {issuer}",
            document.issuer
        )));
    }
    Ok(document)
}

fn parse_url(what: &str, url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url)
        .map_err(|e| Error::Configuration(format!("invalid {what} {url:?}: {e}")))?;
    match parsed.scheme() {
        "https" | "http" => Ok(parsed),
        scheme => Err(Error::Configuration(format!(
            "invalid {what} {url:?}: scheme {scheme} is not http(s)"
        ))),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
fn basic_header(client_id: &str, secret: &ClientSecret) -> Result<HeaderValue, Error> {
    let encode =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(secret.secret()));
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
        .map_err(|_| Error::Configuration("the client credentials do not fit a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The HTTP client used unless the application gives its own: no redirects, bounded waits,
/// and the client certificate when there is one.
fn http_client(identity: Option<reqwest::Identity>) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))
}
