//! OAuth clients.

use oxidp_jose::{b64url_encode, constant_time_eq, sha256};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// A grant type a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §4.1, with PKCE (RFC 7636).
    AuthorizationCode,
    /// RFC 6749 §6. Allowed implicitly to clients with `allow_offline_access`.
    RefreshToken,
}

impl GrantType {
    /// Every grant type this server implements: the token endpoint's dispatch and the
    /// discovery document's `grant_types_supported` both come from this list.
    pub const ALL: [GrantType; 3] = [
        Self::AuthorizationCode,
        Self::ClientCredentials,
        Self::RefreshToken,
    ];

    /// The `grant_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Parses a `grant_type` parameter value this server implements.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|grant| grant.as_str() == value)
    }
}

/// The format of the access tokens a client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenType {
    /// A signed JWT (RFC 9068) that APIs validate locally.
    #[default]
    Jwt,
    /// An opaque handle that APIs validate through introspection; revocable.
    Reference,
}

/// What happens to a refresh token when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTokenUsage {
    /// Each use returns a new token and retires the old one; using a retired one again revokes
    /// the whole family (the safe default for public clients).
    #[default]
    OneTime,
    /// The same token is returned and stays valid until it expires.
    ReUse,
}

/// How a refresh token's lifetime is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTokenExpiration {
    /// Expires at a fixed time after the original authorization.
    #[default]
    Absolute,
    /// Each use extends it by the sliding lifetime, never past the absolute lifetime.
    Sliding,
}

/// A secret stored as its SHA-256 hash; the plaintext is never kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedSecret {
    /// base64url(SHA-256(secret)).
    pub sha256: String,
    /// What the secret is for, to tell secrets apart when rotating them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// After this instant the secret no longer authenticates.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires: Option<OffsetDateTime>,
}

impl fmt::Debug for HashedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedSecret")
            .field("sha256", &"[redacted]")
            .field("description", &self.description)
            .field("expires", &self.expires)
            .finish()
    }
}

impl HashedSecret {
    /// Hashes a plaintext secret.
    pub fn from_plaintext(secret: &str) -> Self {
        Self {
            sha256: hash_secret(secret),
            description: None,
            expires: None,
        }
    }

    /// Whether `presented` matches this secret and the secret is still valid at `now`.
    /// The comparison runs in constant time.
    pub fn matches(&self, presented: &str, now: OffsetDateTime) -> bool {
        let matches = constant_time_eq(hash_secret(presented).as_bytes(), self.sha256.as_bytes());
        matches && self.expires.is_none_or(|expires| now < expires)
    }
}

/// base64url(SHA-256(secret)): the stored form of client and API secrets.
pub fn hash_secret(secret: &str) -> String {
    b64url_encode(sha256(secret.as_bytes()))
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// The `client_id`.
    pub client_id: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// A disabled client cannot authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Hashed secrets for `client_secret_basic` and `client_secret_post`.
    #[serde(default)]
    pub secrets: Vec<HashedSecret>,
    /// Public keys (a JWK set) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Grant types the client may use.
    #[serde(default)]
    pub allowed_grant_types: Vec<GrantType>,
    /// Scopes the client may request.
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// Format of the access tokens issued to the client.
    #[serde(default)]
    pub access_token_type: AccessTokenType,
    /// Lifetime of the access tokens issued to the client.
    #[serde(with = "humantime_serde", default = "default_access_token_lifetime")]
    pub access_token_lifetime: Duration,
    /// Whether the client must authenticate at the token endpoint; `false` makes a public client
    /// (a native or browser app), which must then use PKCE.
    #[serde(default = "yes")]
    pub require_client_secret: bool,
    /// Redirect URIs, matched exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where the client may send the browser after logout, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether PKCE (S256) is required; it always is for public clients.
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// Whether the client may ask for `offline_access` (refresh tokens).
    #[serde(default)]
    pub allow_offline_access: bool,
    /// Whether the user is asked for consent.
    #[serde(default)]
    pub require_consent: bool,
    /// Whether the consent page offers "remember my decision".
    #[serde(default = "yes")]
    pub allow_remember_consent: bool,
    /// Lifetime of authorization codes.
    #[serde(with = "humantime_serde", default = "default_code_lifetime")]
    pub authorization_code_lifetime: Duration,
    /// Lifetime of ID tokens.
    #[serde(with = "humantime_serde", default = "default_identity_token_lifetime")]
    pub identity_token_lifetime: Duration,
    /// One-time (rotating) or reusable refresh tokens.
    #[serde(default)]
    pub refresh_token_usage: RefreshTokenUsage,
    /// Absolute or sliding refresh-token expiration.
    #[serde(default)]
    pub refresh_token_expiration: RefreshTokenExpiration,
    /// Longest life of a refresh token family, from the original authorization.
    #[serde(
        with = "humantime_serde",
        default = "default_absolute_refresh_lifetime"
    )]
    pub absolute_refresh_token_lifetime: Duration,
    /// With sliding expiration, how far each use extends the token.
    #[serde(with = "humantime_serde", default = "default_sliding_refresh_lifetime")]
    pub sliding_refresh_token_lifetime: Duration,
    /// With one-time refresh tokens, how long after a rotation the rotated token may be
    /// presented again while its successor is still unused (the client never received the
    /// response, or retried after an error): the retry gets a fresh successor and the unused
    /// one is revoked, instead of the family being revoked. Zero disables the grace; `None`
    /// inherits `tokens.refresh_token_reuse_grace`. At most
    /// [`MAX_REFRESH_TOKEN_REUSE_GRACE`](super::MAX_REFRESH_TOKEN_REUSE_GRACE).
    #[serde(
        default,
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token_reuse_grace: Option<Duration>,
    /// Where the client receives back-channel logout tokens (OIDC Back-Channel Logout 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client needs `sid` in logout tokens (always sent here).
    #[serde(default = "yes")]
    pub backchannel_logout_session_required: bool,
    /// The algorithm of the client's ID tokens (OIDC Dynamic Client Registration
    /// `id_token_signed_response_alg`); unset: RS256 when configured, else the access-token
    /// algorithm. It must be one of `keys.algorithms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<oxidp_jose::SigningAlgorithm>,
    /// Whether the client's tokens live and die with the user session (refresh and
    /// introspection then slide the session, and fail once it is gone); `None` inherits
    /// `authentication.coordinate_client_lifetimes_with_user_session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinate_lifetime_with_user_session: Option<bool>,
    /// Whether every token request of the client must carry a DPoP proof (RFC 9449 §5), so
    /// that all its access tokens are DPoP-bound; a request without one is `invalid_request`.
    #[serde(default)]
    pub require_dpop: bool,
    /// Whether the client's DPoP proofs must carry a server nonce (RFC 9449 §8); `None`
    /// inherits `dpop.require_nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_dpop_nonce: Option<bool>,
    /// `tls_client_auth` (RFC 8705 §2.1): the subject DN, in RFC 4514 form, that the client's
    /// CA-issued certificate must carry. At most one `tls_client_auth_*` value is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`: a `dNSName` SAN the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth`: a `uniformResourceIdentifier` SAN the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth`: an `iPAddress` SAN (IPv4 or IPv6) the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth`: an `rfc822Name` SAN the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// Whether the client's access tokens (and a public client's refresh tokens) are bound to
    /// the TLS client certificate it presents (RFC 8705 §3).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
}

fn yes() -> bool {
    true
}

fn default_access_token_lifetime() -> Duration {
    Duration::from_secs(3600)
}

fn default_code_lifetime() -> Duration {
    Duration::from_secs(60)
}

fn default_identity_token_lifetime() -> Duration {
    Duration::from_secs(300)
}

fn default_absolute_refresh_lifetime() -> Duration {
    Duration::from_secs(30 * 86_400)
}

fn default_sliding_refresh_lifetime() -> Duration {
    Duration::from_secs(15 * 86_400)
}

impl Client {
    /// A new enabled client with defaults for everything but its id.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_name: None,
            enabled: true,
            secrets: Vec::new(),
            jwks: None,
            allowed_grant_types: Vec::new(),
            allowed_scopes: Vec::new(),
            access_token_type: AccessTokenType::Jwt,
            access_token_lifetime: default_access_token_lifetime(),
            require_client_secret: true,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            require_pkce: true,
            allow_offline_access: false,
            require_consent: false,
            allow_remember_consent: true,
            authorization_code_lifetime: default_code_lifetime(),
            identity_token_lifetime: default_identity_token_lifetime(),
            refresh_token_usage: RefreshTokenUsage::OneTime,
            refresh_token_expiration: RefreshTokenExpiration::Absolute,
            absolute_refresh_token_lifetime: default_absolute_refresh_lifetime(),
            sliding_refresh_token_lifetime: default_sliding_refresh_lifetime(),
            refresh_token_reuse_grace: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: true,
            coordinate_lifetime_with_user_session: None,
            id_token_signed_response_alg: None,
            require_dpop: false,
            require_dpop_nonce: None,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            tls_client_certificate_bound_access_tokens: false,
        }
    }

    /// The name users see: `client_name`, or the client id when it has none.
    pub fn display_name(&self) -> String {
        self.client_name
            .clone()
            .unwrap_or_else(|| self.client_id.clone())
    }

    /// Whether `presented` is one of the client's redirect URIs: an exact match, or — for a
    /// native app's loopback redirect (`http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`)
    /// — a match on everything but the port, which the app picks at run time (RFC 8252 §7.3).
    /// `localhost` gets no such leeway (RFC 8252 §8.3: it may resolve elsewhere).
    pub fn accepts_redirect_uri(&self, presented: &str) -> bool {
        self.redirect_uris.iter().any(|registered| {
            registered == presented || same_loopback_but_port(registered, presented)
        })
    }

    /// Whether the client is public (cannot keep a secret).
    pub fn is_public(&self) -> bool {
        !self.require_client_secret
    }

    /// Whether the client may use `grant_type`; refresh tokens come with offline access.
    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.allowed_grant_types.contains(&grant_type)
            || (grant_type == GrantType::RefreshToken && self.allow_offline_access)
    }

    /// Whether the client is registered for `tls_client_auth` (a subject DN or a SAN that its
    /// CA-issued certificate must carry).
    pub fn uses_tls_client_auth(&self) -> bool {
        self.tls_client_auth_attributes().next().is_some()
    }

    /// The registered `tls_client_auth_*` values, by metadata name.
    pub fn tls_client_auth_attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (
                "tls_client_auth_subject_dn",
                &self.tls_client_auth_subject_dn,
            ),
            ("tls_client_auth_san_dns", &self.tls_client_auth_san_dns),
            ("tls_client_auth_san_uri", &self.tls_client_auth_san_uri),
            ("tls_client_auth_san_ip", &self.tls_client_auth_san_ip),
            ("tls_client_auth_san_email", &self.tls_client_auth_san_email),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
    }

    /// Whether the client is registered with a key set for `private_key_jwt`.
    pub fn has_jwks(&self) -> bool {
        self.jwks.is_some()
    }
}

/// Both URIs are `http` loopback IP literals that differ at most in the port.
fn same_loopback_but_port(registered: &str, presented: &str) -> bool {
    let (Ok(mut registered), Ok(mut presented)) =
        (url::Url::parse(registered), url::Url::parse(presented))
    else {
        return false;
    };
    let loopback = |url: &url::Url| {
        url.scheme() == "http"
            && match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    };
    if !loopback(&registered) || !loopback(&presented) {
        return false;
    }
    // Neither may smuggle anything a port change would not explain.
    if registered.set_port(None).is_err() || presented.set_port(None).is_err() {
        return false;
    }
    registered == presented && presented.fragment().is_none()
}

#[cfg(test)]
mod redirect_tests {
    use super::*;

    fn native(uri: &str) -> Client {
        let mut client = Client::new("native");
        client.redirect_uris = vec![uri.to_owned()];
        client
    }

    #[test]
    fn loopback_ip_redirects_match_on_any_port() {
        let client = native("http://127.0.0.1/callback");
        assert!(client.accepts_redirect_uri("http://127.0.0.1/callback"));
        assert!(client.accepts_redirect_uri("http://127.0.0.1:51004/callback"));
        let v6 = native("http://[::1]:8080/cb");
        assert!(v6.accepts_redirect_uri("http://[::1]:1234/cb"));
    }

    #[test]
    fn anything_but_the_port_must_still_match() {
        let client = native("http://127.0.0.1/callback");
        for uri in [
            "http://127.0.0.1:51004/other",
            "http://127.0.0.1:51004/callback?x=1",
            "http://127.0.0.2:51004/callback",
            "https://127.0.0.1:51004/callback",
            "http://localhost:51004/callback",
            "http://127.0.0.1:51004/callback#f",
            "http://user@127.0.0.1:51004/callback",
        ] {
            assert!(!client.accepts_redirect_uri(uri), "{uri}");
        }
        let web = native("https://app.example/cb");
        assert!(!web.accepts_redirect_uri("https://app.example:8443/cb"));
        let localhost = native("http://localhost/cb");
        assert!(!localhost.accepts_redirect_uri("http://localhost:9000/cb"));
    }
}
