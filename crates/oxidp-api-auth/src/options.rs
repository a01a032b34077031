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
    pub(crate) http_timeout: Duration,
    pub(crate) realm: Option<String>,
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
            .field("http_timeout", &self.http_timeout)
            .field("realm", &self.realm)
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
}

impl ValidatorOptions {
    /// Options for tokens issued by `issuer` (compared exactly with the `iss` claim) for
    /// `audience` (which the `aud` claim must contain; with oxidp, the API resource name).
    ///
    /// Defaults: clock skew 60 s (as oxidp itself allows), JWKS refresh on an unknown key at most
    /// every 30 s, keys re-fetched when older than 1 h, introspection disabled (opaque tokens
    /// are refused) and cached 10 s once enabled, HTTP timeout 5 s, `realm` = the audience.
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
            http_timeout: Duration::from_secs(5),
            realm: None,
        }
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .discovery_url("http://idp.internal:5000/.well-known/openid-configuration");
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .require_scopes(["orders.read"]);
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// # use std::time::Duration;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .clock_skew(Duration::from_secs(5));
    /// ```
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The least time between two JWKS requests caused by unknown key ids (default 30 s). Within
    /// the interval a token with an unknown `kid` is refused without asking the issuer.
    ///
    /// ```
    /// # use oxidp_api_auth::ValidatorOptions;
    /// # use std::time::Duration;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .jwks_refresh_interval(Duration::from_secs(300));
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// # use std::time::Duration;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .jwks_max_age(Duration::from_secs(600));
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .introspection_secret("orders-api-secret");
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .introspection_credentials("orders-gateway", "gateway-secret");
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
    /// # use oxidp_api_auth::ValidatorOptions;
    /// # use std::time::Duration;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .introspection_cache_duration(Duration::from_secs(30));
    /// ```
    pub fn introspection_cache_duration(mut self, duration: Duration) -> Self {
        self.introspection_cache_duration = duration;
        self
    }

    /// Timeout of each request to the issuer (default 5 s).
    ///
    /// ```
    /// # use oxidp_api_auth::ValidatorOptions;
    /// # use std::time::Duration;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .http_timeout(Duration::from_secs(2));
    /// ```
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenges (default: the audience).
    ///
    /// ```
    /// # use oxidp_api_auth::ValidatorOptions;
    /// let options = ValidatorOptions::new("https://idp.example.com", "orders-api")
    ///     .realm("orders");
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
