//! What a [`Validator`](crate::Validator) is built from: the issuer it trusts, the audience it
//! is, and the cache and timing knobs, each with a documented default.

use std::fmt;
use std::time::Duration;

/// Configuration of a [`Validator`](crate::Validator), built with chained setters.
///
/// ```
/// use oxidp_api_auth::ValidatorOptions;
/// use std::time::Duration;
///
/// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
///     .require_scopes(["orders.read"])
///     .clock_skew(Duration::from_secs(30))
///     .introspection_secret("orders-api-secret");
/// assert_eq!(options.issuer(), "https://idp.example.com");
/// ```
#[derive(Clone)]
pub struct ValidatorOptions {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) discovery_url: Option<String>,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) clock_skew: Duration,
    pub(crate) jwks_refresh_interval: Duration,
    pub(crate) jwks_max_age: Duration,
    pub(crate) introspection: Option<IntrospectionCredentials>,
    pub(crate) introspection_cache_duration: Duration,
    pub(crate) introspection_cache_capacity: usize,
    pub(crate) introspect_jwts: bool,
    pub(crate) http_timeout: Duration,
    pub(crate) realm: Option<String>,
    pub(crate) extra_root_certificates: Vec<reqwest::Certificate>,
}

/// The API resource's own credentials at the introspection endpoint.
#[derive(Clone)]
pub(crate) struct IntrospectionCredentials {
    pub(crate) client_id: String,
    pub(crate) secret: String,
}

impl fmt::Debug for ValidatorOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorOptions")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("discovery_url", &self.discovery_url)
            .field("required_scopes", &self.required_scopes)
            .field("clock_skew", &self.clock_skew)
            .field("jwks_refresh_interval", &self.jwks_refresh_interval)
            .field("jwks_max_age", &self.jwks_max_age)
            .field(
                "introspection_client_id",
                &self.introspection.as_ref().map(|c| &c.client_id),
            )
            .field("introspection_secret", &"[redacted]")
            .field(
                "introspection_cache_duration",
                &self.introspection_cache_duration,
            )
            .field("introspect_jwts", &self.introspect_jwts)
            .field("http_timeout", &self.http_timeout)
            .field("realm", &self.realm)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .finish()
    }
}

/// A configuration the validator cannot work with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer (or the discovery URL) is not an absolute `http` or `https` URL.
    #[error("the issuer must be an absolute http(s) URL")]
    InvalidIssuer,
    /// The audience is empty.
    #[error("the audience must not be empty")]
    EmptyAudience,
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// JWTs are to be introspected ([`ValidatorOptions::introspect_jwts`]), but no
    /// introspection credentials were given.
    #[error("introspecting JWTs needs introspection credentials")]
    IntrospectionRequired,
    /// The external URL given to a [`DpopCheck`](crate::DpopCheck) is not an absolute `http`
    /// or `https` URL without query and fragment.
    #[error("the API's external URL must be an absolute http(s) URL without query")]
    InvalidApiUrl,
    /// The client-certificate header name is not a header name.
    #[error("the client certificate header is not a valid header name")]
    InvalidCertificateHeader,
    /// A trusted proxy is neither an IP address nor a CIDR block.
    #[error("a trusted proxy must be an IP address or a CIDR block")]
    InvalidTrustedProxy,
}

impl ValidatorOptions {
    /// Options for tokens issued by `issuer` (compared exactly with the `iss` claim) for
    /// `audience` (which the `aud` claim must contain; with oxidp, the API resource name).
    ///
    /// Defaults: clock skew 60 s (as oxidp itself allows), JWKS refresh on an unknown key at most
    /// every 30 s, keys re-fetched when older than 1 h, introspection disabled (opaque tokens
    /// are refused) and cached 10 s once enabled, HTTP timeout 5 s, `realm` = the audience.
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api");
    /// assert_eq!((options.issuer(), options.audience()), ("https://idp.example.com", "orders-api"));
    ///
    /// // The audience is the realm of the challenges (here for a request without a token).
    /// let error = Validator::new(options)?.validate(&http::HeaderMap::new()).await.unwrap_err();
    /// assert_eq!(error.www_authenticate().as_deref(), Some(r#"Bearer realm="orders-api""#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            discovery_url: None,
            required_scopes: Vec::new(),
            clock_skew: Duration::from_secs(60),
            jwks_refresh_interval: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(3600),
            introspection: None,
            introspection_cache_duration: Duration::from_secs(10),
            introspection_cache_capacity: 10_000,
            introspect_jwts: false,
            http_timeout: Duration::from_secs(5),
            realm: None,
            extra_root_certificates: Vec::new(),
        }
    }

    /// Trusts `certificate` (a CA) for the issuer's HTTPS, besides the system's roots: for an
    /// issuer whose certificate comes from a private CA.
    ///
    /// ```
    /// # let key = rcgen::KeyPair::generate().unwrap();
    /// # let pem = rcgen::CertificateParams::new(vec!["ca".to_owned()]).unwrap().self_signed(&key).unwrap().pem();
    /// let ca = reqwest::Certificate::from_pem(pem.as_bytes())?;
    /// let options = oxidp_api_auth::ValidatorOptions::new("https://idp.internal", "orders-api")
    ///     .trust_root_certificate(ca);
    /// assert!(oxidp_api_auth::Validator::new(options).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.extra_root_certificates.push(certificate);
        self
    }

    /// The issuer the tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience the tokens must be for.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Where to read the issuer's metadata, when the API reaches the issuer by another address
    /// than its public one (a container network, say). Default:
    /// `{issuer}/.well-known/openid-configuration`. The document's `issuer` must still equal
    /// the configured issuer.
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let discovery = format!("{issuer}/.well-known/openid-configuration");
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("a")));
    /// // `discovery` is where the API reads the metadata of `issuer`.
    /// let options = ValidatorOptions::new(issuer, "test-api").discovery_url(discovery.clone());
    /// assert!(Validator::new(options)?.validate(&headers).await.is_ok());
    ///
    /// // A document naming another issuer than the configured one is not trusted: `503`.
    /// let options = ValidatorOptions::new("https://idp.example.com", "test-api")
    ///     .discovery_url(discovery);
    /// let error = Validator::new(options)?.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.status(), 503);
    /// # Ok(())
    /// # }
    /// ```
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Scopes every token must carry (all of them); a token without one gets `403
    /// insufficient_scope`. Per-route scopes go on [`RequireAccessToken`](crate::RequireAccessToken)
    /// or [`ValidatedToken::require_scopes`](crate::ValidatedToken::require_scopes).
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let mint = |scope: &str| oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims(scope)));
    /// let validator = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").require_scopes(["orders.read"]),
    /// )?;
    /// // `mint(scope)`: a request with a valid token granting `scope`.
    /// assert!(validator.validate(&mint("orders.read orders.write")).await.is_ok());
    /// let error = validator.validate(&mint("orders.write")).await.unwrap_err();
    /// assert_eq!(error.status(), 403);
    /// assert_eq!(error.kind(), &ErrorKind::InsufficientScope(vec!["orders.read".into()]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// How far `exp` and `nbf` may be off the local clock (default 60 s).
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, InvalidToken, Validator, ValidatorOptions};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let mut claims = test_issuer.claims("a");
    /// # claims["exp"] = (claims["iat"].as_i64().unwrap() - 10).into();
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&claims));
    /// // `headers` carry a token that expired 10 seconds ago.
    /// let lenient = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
    /// assert!(lenient.validate(&headers).await.is_ok());
    ///
    /// let strict = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").clock_skew(Duration::from_secs(5)),
    /// )?;
    /// let error = strict.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::Expired));
    /// # Ok(())
    /// # }
    /// ```
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The least time between two JWKS requests caused by unknown key ids (default 30 s). Within
    /// the interval a token with an unknown `kid` is refused without asking the issuer.
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, InvalidToken, Validator, ValidatorOptions};
    /// use oxidp_jose::{SigningAlgorithm, SigningKey};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("a")));
    /// let patient = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").jwks_refresh_interval(Duration::from_secs(300)),
    /// )?;
    /// let eager = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").jwks_refresh_interval(Duration::ZERO),
    /// )?;
    /// // Both fetch the keys on first use.
    /// assert!(patient.validate(&headers).await.is_ok());
    /// assert!(eager.validate(&headers).await.is_ok());
    /// assert_eq!(test_issuer.jwks_fetches(), 2);
    ///
    /// // Then the issuer publishes a new key and signs with it.
    /// let next = SigningKey::generate(SigningAlgorithm::ES256)?;
    /// test_issuer.publish(&next);
    /// let headers = oxidp_api_auth::testing::bearer(&next.sign_jwt("at+jwt", &test_issuer.claims("a"))?);
    ///
    /// // Within its interval, `patient` refuses the unknown key without asking the issuer...
    /// let error = patient.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::UnknownKey));
    /// assert_eq!(test_issuer.jwks_fetches(), 2);
    /// // ...while `eager` fetches the keys again and finds it.
    /// assert!(eager.validate(&headers).await.is_ok());
    /// assert_eq!(test_issuer.jwks_fetches(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = interval;
        self
    }

    /// How long fetched keys are used before they are fetched again on the next validation
    /// (default 1 h), so that keys the issuer retired stop being trusted. If that fetch fails
    /// the old keys stay in use.
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, InvalidToken, Validator, ValidatorOptions};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("a")));
    /// let validator = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api")
    ///         .jwks_max_age(Duration::from_millis(500))
    ///         .jwks_refresh_interval(Duration::ZERO),
    /// )?;
    /// assert!(validator.validate(&headers).await.is_ok());
    ///
    /// // The issuer retires its key. Until the cached keys are too old, the key is still trusted:
    /// test_issuer.set_jwks(Vec::new());
    /// assert!(validator.validate(&headers).await.is_ok());
    /// // after that they are fetched again, and the retired key is gone.
    /// tokio::time::sleep(Duration::from_millis(600)).await;
    /// let error = validator.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::UnknownKey));
    /// assert_eq!(test_issuer.jwks_fetches(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Accepts reference tokens: they are introspected with HTTP Basic authentication as the
    /// API resource, whose name is the audience. Without this, opaque tokens are refused as
    /// `invalid_token`.
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, InvalidToken, TokenKind, Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let reference = test_issuer.issue_reference_token(test_issuer.claims("a"));
    /// # let headers = oxidp_api_auth::testing::bearer(&reference);
    /// // `headers` carry an opaque reference token.
    /// let jwt_only = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
    /// let error = jwt_only.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ReferenceTokenNotAccepted));
    ///
    /// let both = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").introspection_secret("test-api-secret"),
    /// )?;
    /// assert_eq!(both.validate(&headers).await?.kind(), TokenKind::Reference);
    /// assert_eq!(test_issuer.introspections(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn introspection_secret(mut self, secret: impl Into<String>) -> Self {
        self.introspection = Some(IntrospectionCredentials {
            client_id: self.audience.clone(),
            secret: secret.into(),
        });
        self
    }

    /// Like [`introspection_secret`](Self::introspection_secret), for an API resource whose
    /// name at the issuer differs from the audience.
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let mut claims = test_issuer.claims("a");
    /// # claims["aud"] = "orders-api".into();
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.issue_reference_token(claims));
    /// // The API resource is called `test-api` at the issuer, but its tokens are for `orders-api`.
    /// let validator = Validator::new(
    ///     ValidatorOptions::new(issuer, "orders-api")
    ///         .introspection_credentials("test-api", "test-api-secret"),
    /// )?;
    /// assert!(validator.validate(&headers).await.is_ok());
    ///
    /// // Authenticating as `orders-api` fails at the issuer: the API cannot validate, `503`.
    /// let misconfigured = Validator::new(
    ///     ValidatorOptions::new(issuer, "orders-api").introspection_secret("test-api-secret"),
    /// )?;
    /// assert_eq!(misconfigured.validate(&headers).await.unwrap_err().status(), 503);
    /// # Ok(())
    /// # }
    /// ```
    pub fn introspection_credentials(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some(IntrospectionCredentials {
            client_id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// How long an introspection answer is reused (default 10 s; never past the token's `exp`).
    /// A revoked reference token is accepted at most this long after its revocation.
    /// `Duration::ZERO` turns the cache off.
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.issue_reference_token(test_issuer.claims("a")));
    /// let options = ValidatorOptions::new(issuer, "test-api").introspection_secret("test-api-secret");
    /// let cached = Validator::new(options.clone().introspection_cache_duration(Duration::from_secs(30)))?;
    /// let uncached = Validator::new(options.introspection_cache_duration(Duration::ZERO))?;
    /// // `headers` carry a reference token; each validator sees it twice.
    /// for _ in 0..2 {
    ///     assert!(cached.validate(&headers).await.is_ok());
    ///     assert!(uncached.validate(&headers).await.is_ok());
    /// }
    /// // One introspection request for `cached`, two for `uncached`.
    /// assert_eq!(test_issuer.introspections(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn introspection_cache_duration(mut self, duration: Duration) -> Self {
        self.introspection_cache_duration = duration;
        self
    }

    /// Also asks the issuer about JWT access tokens, after they passed the local checks, so
    /// that a JWT revoked at the issuer (RFC 7009) is refused here too: within
    /// [`introspection_cache_duration`](Self::introspection_cache_duration) of its revocation,
    /// since answers are cached. Needs introspection credentials; each distinct token then
    /// costs one request to the issuer per cache period.
    ///
    /// Without it (the default) a JWT is checked only locally, and a local validator cannot
    /// see anything the issuer learns after issuing the token: a revoked JWT, a user signed
    /// out or disabled, a client removed. Such a token stays valid here until its `exp`, so
    /// keep JWT lifetimes short, or turn this on where that matters.
    ///
    /// ```
    /// use oxidp_api_auth::{ConfigError, Validator, ValidatorOptions};
    ///
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api");
    /// let checked = options.clone().introspection_secret("secret").introspect_jwts();
    /// assert!(Validator::new(checked).is_ok());
    /// // The issuer can only be asked with the API's credentials.
    /// assert!(matches!(
    ///     Validator::new(options.introspect_jwts()),
    ///     Err(ConfigError::IntrospectionRequired)
    /// ));
    /// ```
    pub fn introspect_jwts(mut self) -> Self {
        self.introspect_jwts = true;
        self
    }

    /// Timeout of each request to the issuer (default 5 s).
    ///
    /// ```
    /// use oxidp_api_auth::{ErrorKind, Validator, ValidatorOptions};
    /// use std::time::{Duration, Instant};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let silent_issuer = format!("http://{}", listener.local_addr()?);
    /// # let headers = oxidp_api_auth::testing::bearer("an-opaque-token");
    /// // `silent_issuer` accepts connections and never answers.
    /// let validator = Validator::new(
    ///     ValidatorOptions::new(silent_issuer, "test-api")
    ///         .introspection_secret("test-api-secret")
    ///         .http_timeout(Duration::from_millis(200)),
    /// )?;
    /// let started = Instant::now();
    /// let error = validator.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::IssuerUnavailable);
    /// assert!(started.elapsed() < Duration::from_secs(3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenges (default: the audience).
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let validator = Validator::new(
    ///     ValidatorOptions::new("https://idp.example.com", "orders-api").realm("orders"),
    /// )?;
    /// // A request without a token:
    /// let error = validator.validate(&http::HeaderMap::new()).await.unwrap_err();
    /// assert_eq!(error.www_authenticate().as_deref(), Some(r#"Bearer realm="orders""#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    pub(crate) fn metadata_url(&self) -> String {
        match &self.discovery_url {
            Some(url) => url.clone(),
            None => format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            ),
        }
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let is_http_url = |url: &str| {
            url.strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .is_some_and(|rest| !rest.is_empty())
        };
        if !is_http_url(&self.issuer) || !is_http_url(&self.metadata_url()) {
            return Err(ConfigError::InvalidIssuer);
        }
        if self.audience.is_empty() {
            return Err(ConfigError::EmptyAudience);
        }
        if self.introspect_jwts && self.introspection.is_none() {
            return Err(ConfigError::IntrospectionRequired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_derives_from_the_issuer() {
        let options = ValidatorOptions::new("https://idp.test/", "api");
        assert_eq!(
            options.metadata_url(),
            "https://idp.test/.well-known/openid-configuration"
        );
    }

    #[test]
    fn debug_never_shows_the_introspection_secret() {
        let options =
            ValidatorOptions::new("https://idp.test", "api").introspection_secret("s3cr3t-value");
        assert!(!format!("{options:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn invalid_issuers_and_empty_audiences_are_refused() {
        assert!(matches!(
            ValidatorOptions::new("idp.test", "api").check(),
            Err(ConfigError::InvalidIssuer)
        ));
        assert!(matches!(
            ValidatorOptions::new("https://idp.test", "").check(),
            Err(ConfigError::EmptyAudience)
        ));
        assert!(
            ValidatorOptions::new("https://idp.test", "api")
                .check()
                .is_ok()
        );
    }
}
