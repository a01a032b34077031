//! Options of the identity server that the domain logic depends on. The server crate builds
//! them from its configuration tree; library users build them directly.

use oxidp_jose::SigningAlgorithm;
use std::time::Duration;
use url::Url;

/// The paths of the protocol endpoints, relative to the issuer.
pub mod paths {
    /// OpenID Provider configuration (OIDC Discovery 1.0, RFC 8414).
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// The published signing keys.
    pub const JWKS: &str = "/.well-known/openid-configuration/jwks";
    /// Token endpoint.
    pub const TOKEN: &str = "/connect/token";
    /// Token introspection (RFC 7662).
    pub const INTROSPECTION: &str = "/connect/introspect";
    /// Token revocation (RFC 7009).
    pub const REVOCATION: &str = "/connect/revocation";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/connect/authorize";
    /// UserInfo endpoint.
    pub const USERINFO: &str = "/connect/userinfo";
    /// RP-initiated logout.
    pub const END_SESSION: &str = "/connect/endsession";
    /// The admin page for sessions.
    pub const ADMIN_SESSIONS: &str = "/admin/sessions";
    /// The admin JSON API for sessions.
    pub const ADMIN_API_SESSIONS: &str = "/api/admin/sessions";
    /// Login page.
    pub const LOGIN: &str = "/account/login";
    /// Consent page.
    pub const CONSENT: &str = "/account/consent";
    /// Logout confirmation page.
    pub const LOGOUT: &str = "/account/logout";
}

/// Everything the core services need to know about this deployment.
#[derive(Debug, Clone)]
pub struct IdentityServerOptions {
    /// The issuer identifier (`iss`), without a trailing slash.
    pub issuer: String,
    /// Signing-key management.
    pub keys: KeyManagementOptions,
    /// Clock skew tolerated when checking `exp`/`nbf`/`iat` of incoming JWTs.
    pub clock_skew: Duration,
    /// The authentication cookie.
    pub authentication: AuthenticationOptions,
    /// Password-hashing cost.
    pub password_hashing: crate::users::PasswordHashingOptions,
    /// Server-side sessions.
    pub server_side_sessions: ServerSideSessionOptions,
    /// Back-channel logout delivery.
    pub backchannel_logout: BackchannelLogoutOptions,
    /// Token issuance defaults that clients may override.
    pub tokens: TokenOptions,
    /// How long clients and API resources are cached in memory (zero: not cached).
    pub store_cache_duration: Duration,
    /// How long users looked up by subject id (refresh, userinfo, code redemption) are cached
    /// in memory (zero: not cached). Bounds how long a user disabled elsewhere (the CLI,
    /// another instance) can still refresh tokens.
    pub user_cache_duration: Duration,
    /// The progressive delay of failed sign-ins.
    pub sign_in_throttle: crate::services::ThrottleOptions,
    /// The reverse proxies whose `X-Forwarded-For` / `Forwarded` headers name the client
    /// (none by default: the TCP peer is the client).
    pub trusted_proxies: crate::request::TrustedProxies,
    /// DPoP proofs (RFC 9449): their time window and server nonces.
    pub dpop: DpopOptions,
    /// Mutual TLS (RFC 8705): the CAs of `tls_client_auth` and the mTLS endpoint aliases.
    pub mtls: MtlsOptions,
}

/// How DPoP proofs (RFC 9449) are checked.
#[derive(Debug, Clone)]
pub struct DpopOptions {
    /// How old a proof's `iat` may be. A proof's `jti` is remembered this long (plus the future
    /// skew), so a replay is refused for as long as the proof would otherwise be accepted.
    pub proof_max_age: Duration,
    /// How far in the future a proof's `iat` may be (the client's clock running ahead).
    pub proof_max_future: Duration,
    /// Whether proofs must carry a server nonce (RFC 9449 §8) unless a client says otherwise
    /// (`require_dpop_nonce`).
    pub require_nonce: bool,
    /// How long a server nonce is accepted after it was issued.
    pub nonce_lifetime: Duration,
}

impl Default for DpopOptions {
    fn default() -> Self {
        Self {
            proof_max_age: Duration::from_secs(60),
            proof_max_future: Duration::from_secs(5),
            require_nonce: false,
            nonce_lifetime: Duration::from_secs(5 * 60),
        }
    }
}

/// Mutual-TLS settings of the core (the TLS listener itself is the server's).
#[derive(Debug, Clone, Default)]
pub struct MtlsOptions {
    /// The certificate authorities whose client certificates `tls_client_auth` accepts; empty:
    /// `tls_client_auth` authenticates nobody (`self_signed_tls_client_auth` still works).
    pub client_certificate_authorities: crate::certificates::CertificateAuthorities,
    /// The base URL (`https://mtls.id.example`) of a separate host that asks for client
    /// certificates; discovery then advertises the token, introspection, revocation and
    /// userinfo endpoints there as `mtls_endpoint_aliases` (RFC 8705 §5).
    pub endpoint_alias_base: Option<String>,
    /// The request header in which a trusted reverse proxy forwards the client certificate
    /// it verified (read by the web edge, only from `trusted_proxies`).
    pub client_certificate_header: Option<String>,
}

/// Server-wide defaults of token issuance; a client's own setting, when it has one, wins.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// How long a rotated one-time refresh token may be presented again while its successor
    /// is unused, getting a fresh successor instead of revoking the family (a lost response, a
    /// retry after an error). Zero disables the grace. Clients override it with their
    /// `refresh_token_reuse_grace`; at most
    /// [`MAX_REFRESH_TOKEN_REUSE_GRACE`](crate::model::MAX_REFRESH_TOKEN_REUSE_GRACE).
    pub refresh_token_reuse_grace: Duration,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            refresh_token_reuse_grace: Duration::from_secs(10),
        }
    }
}

/// How back-channel logout notifications are delivered.
#[derive(Debug, Clone)]
pub struct BackchannelLogoutOptions {
    /// Time limit of one delivery attempt.
    pub timeout: Duration,
    /// How long a notification is retried before it is marked failed.
    pub retry_period: Duration,
    /// Delay before the first retry; each further retry doubles it.
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
}

impl Default for BackchannelLogoutOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_period: Duration::from_secs(24 * 3600),
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

impl BackchannelLogoutOptions {
    /// The delay before attempt number `attempts + 1`, given `attempts` failed ones.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Server-side sessions: the cookie carries a key, the session lives in the store.
#[derive(Debug, Clone)]
pub struct ServerSideSessionOptions {
    /// Whether sessions are kept server-side.
    pub enabled: bool,
    /// The claim indexed as the session's display name; unset by default, for privacy.
    pub user_display_name_claim_type: Option<String>,
    /// Whether the background job removes expired sessions (and ends what depended on them).
    pub remove_expired_sessions: bool,
    /// How often the cleanup job runs; each run drains every expired session.
    pub remove_expired_sessions_frequency: Duration,
    /// How many expired sessions one cleanup transaction processes.
    pub remove_expired_sessions_batch_size: u32,
    /// Whether an expired session sends back-channel logout to every client of the session
    /// (true), or only to clients coordinated with the session (false).
    pub expired_sessions_trigger_backchannel_logout: bool,
    /// Whether an instance waits a random part of the frequency before its first cleanup run,
    /// so instances started together do not run in step.
    pub fuzz_expired_session_removal_start: bool,
    /// Whether a cookie of the other kind is converted on its next request (on by default):
    /// with server-side sessions on, a valid self-contained cookie becomes a session record
    /// and a reference cookie; with them off, a reference cookie whose record exists becomes
    /// a self-contained cookie again. Off, such cookies are not recognized (signed out).
    pub migrate_cookie_sessions: bool,
}

impl Default for ServerSideSessionOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            user_display_name_claim_type: None,
            remove_expired_sessions: true,
            remove_expired_sessions_frequency: Duration::from_secs(10 * 60),
            remove_expired_sessions_batch_size: 100,
            expired_sessions_trigger_backchannel_logout: true,
            fuzz_expired_session_removal_start: true,
            migrate_cookie_sessions: true,
        }
    }
}

/// The browser session (authentication cookie).
#[derive(Debug, Clone)]
pub struct AuthenticationOptions {
    /// How long a sign-in lasts.
    pub cookie_lifetime: Duration,
    /// Whether activity extends the session (renewed at most once per half lifetime).
    pub cookie_sliding_expiration: bool,
    /// Whether clients' token lifetimes follow the user session unless a client says otherwise.
    pub coordinate_client_lifetimes_with_user_session: bool,
}

impl Default for AuthenticationOptions {
    fn default() -> Self {
        Self {
            cookie_lifetime: Duration::from_secs(10 * 3600),
            cookie_sliding_expiration: false,
            coordinate_client_lifetimes_with_user_session: false,
        }
    }
}

impl IdentityServerOptions {
    /// Options with defaults for the given issuer. The issuer must be an absolute http(s) URL
    /// without query or fragment; a trailing slash is dropped.
    pub fn new(issuer: &str) -> Result<Self, String> {
        let url = Url::parse(issuer).map_err(|e| format!("issuer `{issuer}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "issuer `{issuer}` must be an http(s) URL without query or fragment"
            ));
        }
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            keys: KeyManagementOptions::default(),
            clock_skew: Duration::from_secs(60),
            authentication: AuthenticationOptions::default(),
            password_hashing: crate::users::PasswordHashingOptions::default(),
            server_side_sessions: ServerSideSessionOptions::default(),
            backchannel_logout: BackchannelLogoutOptions::default(),
            tokens: TokenOptions::default(),
            store_cache_duration: Duration::from_secs(60),
            user_cache_duration: Duration::from_secs(5),
            sign_in_throttle: crate::services::ThrottleOptions::default(),
            trusted_proxies: crate::request::TrustedProxies::default(),
            dpop: DpopOptions::default(),
            mtls: MtlsOptions::default(),
        })
    }

    /// The absolute URL of an endpoint path.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether the issuer is https (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// How signing and data-protection keys are created, announced, rotated and retired.
#[derive(Debug, Clone)]
pub struct KeyManagementOptions {
    /// Algorithms to keep a signing key for; the first signs access tokens. ID tokens are
    /// signed with RS256 when it is listed (OpenID Connect Discovery requires RS256 support),
    /// unless a client registers `id_token_signed_response_alg`.
    pub algorithms: Vec<SigningAlgorithm>,
    /// How long a key signs before its successor takes over.
    pub rotation_interval: Duration,
    /// How long a new key is published in JWKS before it signs, so that caches pick it up.
    pub announcement_period: Duration,
    /// How long a retired key stays published; must cover the longest token lifetime.
    pub retention_period: Duration,
    /// How long an instance trusts its in-memory view of the keys before re-reading the store.
    pub cache_duration: Duration,
    /// How long a data-protection key encrypts before a new one takes over.
    pub data_protection_key_lifetime: Duration,
    /// Seals the data-protection keys at rest when set.
    pub master_key: Option<MasterKey>,
}

/// A 256-bit key held by the operator (outside the database) that seals the data-protection
/// key ring at rest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey(pub [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Parses 32 bytes written as base64 (standard or URL-safe, padded or not) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        use base64::Engine;
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect()
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or("the master key is neither base64 nor hex")?
        };
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| format!("the master key must be 32 bytes, not {}", bytes.len()))
    }
}

impl Default for KeyManagementOptions {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            algorithms: vec![SigningAlgorithm::ES256, SigningAlgorithm::RS256],
            rotation_interval: Duration::from_secs(90 * DAY),
            announcement_period: Duration::from_secs(14 * DAY),
            retention_period: Duration::from_secs(14 * DAY),
            cache_duration: Duration::from_secs(300),
            data_protection_key_lifetime: Duration::from_secs(90 * DAY),
            master_key: None,
        }
    }
}

impl KeyManagementOptions {
    /// The algorithm that signs a client's ID tokens: the one it registered, else RS256 when
    /// configured (the algorithm every OpenID Connect relying party supports), else the
    /// access-token algorithm.
    pub fn id_token_algorithm(&self, registered: Option<SigningAlgorithm>) -> SigningAlgorithm {
        registered
            .or_else(|| {
                self.algorithms
                    .contains(&SigningAlgorithm::RS256)
                    .then_some(SigningAlgorithm::RS256)
            })
            .unwrap_or_else(|| self.default_algorithm())
    }

    /// The algorithm that signs access tokens.
    pub fn default_algorithm(&self) -> SigningAlgorithm {
        self.algorithms
            .first()
            .copied()
            .unwrap_or(SigningAlgorithm::ES256)
    }
}
