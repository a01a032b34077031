//! The configuration tree, loaded once at start-up: defaults, then the TOML file(s), then
//! `OXIDP_` environment variables (`__` between levels, e.g. `OXIDP_SERVER__LISTEN`), then
//! `OXIDP_..._FILE` variables whose file content becomes the value of the key without `_FILE`
//! (for secrets kept in files, e.g. `OXIDP_STORE__URL_FILE=/run/secrets/db-url`).
//!
//! Unknown keys and invalid values stop start-up with an error that names the key and where it
//! came from. `docs/configuration.md` documents every key.

mod dpop;
mod durations;
mod seed;
mod tls;
mod users;

pub use dpop::DpopConfig;
pub use seed::{ApiResourceConfig, ClientConfig, SecretConfig};
pub use tls::{MtlsConfig, TlsConfig};
pub use users::{PasswordHashingConfig, UserConfig};

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use oxidp_core::model::MAX_REFRESH_TOKEN_REUSE_GRACE;
use oxidp_core::options::{
    AuthenticationOptions, IdentityServerOptions, KeyManagementOptions, MasterKey,
};
use oxidp_core::request::TrustedProxies;
use oxidp_jose::SigningAlgorithm;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The committed demo configuration (`config/demo.toml`), loaded by `oxidp serve --demo`.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");

/// Environment variables with this prefix belong to the test suite, not to the server.
const RESERVED_ENV_PREFIX: &str = "OXIDP_TEST_";

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listener and issuer.
    pub server: ServerConfig,
    /// Database.
    pub store: StoreConfig,
    /// Signing and data-protection keys.
    pub keys: KeysConfig,
    /// The browser session.
    pub authentication: AuthenticationConfig,
    /// Server-side sessions.
    pub server_side_sessions: ServerSideSessionsConfig,
    /// Back-channel logout delivery.
    pub backchannel_logout: BackchannelLogoutConfig,
    /// Token issuance defaults.
    pub tokens: TokensConfig,
    /// DPoP proofs (RFC 9449).
    pub dpop: DpopConfig,
    /// Logging.
    pub log: LogConfig,
    /// Clients seeded into the store at start-up.
    pub clients: Vec<ClientConfig>,
    /// API resources seeded into the store at start-up.
    pub api_resources: Vec<ApiResourceConfig>,
    /// Users created at start-up when their username does not exist yet.
    pub users: Vec<UserConfig>,
    /// Password-hashing cost.
    pub password_hashing: PasswordHashingConfig,
    /// 32 bytes (base64 or hex) sealing the data-protection key ring at rest; usually given as
    /// `OXIDP_MASTER_KEY_FILE=/run/secrets/oxidp-master-key`.
    pub master_key: Option<SecretString>,
    /// What loading noticed but did not refuse (see [`Config::warnings`]).
    #[serde(skip)]
    ignored_variables: Vec<String>,
}

/// A configuration value that must never be printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretString {
    /// The secret's value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public issuer URL; defaults to `http://<listen address>`.
    pub issuer: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_size: usize,
    /// Time limit for one request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Time a client has to send a request's headers (also the longest wait for the next
    /// request on a kept-alive HTTP/1.1 connection).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection without any traffic for this long is closed; longer than
    /// `request_timeout`, so no request in progress is cut off.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// A directory whose `NAME.html` files replace the built-in page templates.
    pub templates_dir: Option<PathBuf>,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` / `Forwarded`
    /// headers name the client; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// HTTPS (absent: plain HTTP).
    pub tls: Option<TlsConfig>,
    /// Client certificates: CA bundle, separate mTLS listener.
    pub mtls: MtlsConfig,
    /// The header in which a trusted proxy forwards the client certificate it verified
    /// (e.g. `X-SSL-Client-Cert`); believed only from `trusted_proxies`.
    pub client_certificate_header: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            issuer: None,
            max_body_size: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
            templates_dir: None,
            trusted_proxies: Vec::new(),
            tls: None,
            mtls: MtlsConfig::default(),
            client_certificate_header: None,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Largest number of pooled database connections.
    pub max_connections: u32,
    /// How long clients and API resources are cached in memory; zero turns the cache off.
    #[serde(with = "humantime_serde")]
    pub cache_duration: Duration,
    /// How long users looked up by subject id are cached in memory; zero turns the cache off.
    #[serde(with = "humantime_serde")]
    pub user_cache_duration: Duration,
    /// How long start-up keeps retrying a PostgreSQL server that cannot be reached; zero fails
    /// at once with the cause.
    #[serde(with = "humantime_serde")]
    pub wait_for_database: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/oxidp.db".into(),
            max_connections: 10,
            cache_duration: Duration::from_secs(60),
            user_cache_duration: Duration::from_secs(5),
            wait_for_database: Duration::ZERO,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Algorithms to keep signing keys for; the first signs access tokens.
    pub algorithms: Vec<SigningAlgorithm>,
    /// How long a signing key signs before its successor takes over.
    #[serde(with = "humantime_serde")]
    pub rotation_interval: Duration,
    /// How long a new key is published before it signs.
    #[serde(with = "humantime_serde")]
    pub announcement_period: Duration,
    /// How long a retired key stays published; at least the longest access-token lifetime.
    #[serde(with = "humantime_serde")]
    pub retention_period: Duration,
    /// How long an instance caches the keys before re-reading the database.
    #[serde(with = "humantime_serde")]
    pub cache_duration: Duration,
    /// How long a data-protection key encrypts before the next one takes over.
    #[serde(with = "humantime_serde")]
    pub data_protection_key_lifetime: Duration,
}

impl Default for KeysConfig {
    fn default() -> Self {
        let defaults = KeyManagementOptions::default();
        Self {
            algorithms: defaults.algorithms,
            rotation_interval: defaults.rotation_interval,
            announcement_period: defaults.announcement_period,
            retention_period: defaults.retention_period,
            cache_duration: defaults.cache_duration,
            data_protection_key_lifetime: defaults.data_protection_key_lifetime,
        }
    }
}

/// `[authentication]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthenticationConfig {
    /// How long a sign-in lasts.
    #[serde(with = "humantime_serde")]
    pub cookie_lifetime: Duration,
    /// Whether activity extends the session.
    pub cookie_sliding_expiration: bool,
    /// Whether clients' token lifetimes follow the user session unless a client says otherwise.
    pub coordinate_client_lifetimes_with_user_session: bool,
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        let defaults = AuthenticationOptions::default();
        Self {
            cookie_lifetime: defaults.cookie_lifetime,
            cookie_sliding_expiration: defaults.cookie_sliding_expiration,
            coordinate_client_lifetimes_with_user_session: defaults
                .coordinate_client_lifetimes_with_user_session,
        }
    }
}

/// `[server_side_sessions]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSideSessionsConfig {
    /// Keep sessions in the store; the cookie carries only a random key.
    pub enabled: bool,
    /// The claim indexed as a session's display name (unset by default, for privacy).
    pub user_display_name_claim_type: Option<String>,
    /// Run the expired-session cleanup job.
    pub remove_expired_sessions: bool,
    /// How often the cleanup job runs.
    #[serde(with = "humantime_serde")]
    pub remove_expired_sessions_frequency: Duration,
    /// Expired sessions processed per cleanup transaction.
    pub remove_expired_sessions_batch_size: u32,
    /// Send back-channel logout to every client of an expired session (otherwise only to
    /// coordinated clients).
    pub expired_sessions_trigger_backchannel_logout: bool,
    /// Start the first cleanup run after a random part of the frequency.
    pub fuzz_expired_session_removal_start: bool,
    /// Convert cookies issued under the other setting of `enabled` on their next request, so
    /// switching server-side sessions on (or off) signs no one out.
    pub migrate_cookie_sessions: bool,
}

impl Default for ServerSideSessionsConfig {
    fn default() -> Self {
        let d = oxidp_core::options::ServerSideSessionOptions::default();
        Self {
            enabled: d.enabled,
            user_display_name_claim_type: d.user_display_name_claim_type,
            remove_expired_sessions: d.remove_expired_sessions,
            remove_expired_sessions_frequency: d.remove_expired_sessions_frequency,
            remove_expired_sessions_batch_size: d.remove_expired_sessions_batch_size,
            expired_sessions_trigger_backchannel_logout: d
                .expired_sessions_trigger_backchannel_logout,
            fuzz_expired_session_removal_start: d.fuzz_expired_session_removal_start,
            migrate_cookie_sessions: d.migrate_cookie_sessions,
        }
    }
}

/// `[backchannel_logout]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackchannelLogoutConfig {
    /// Time limit of one delivery attempt.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long a notification is retried.
    #[serde(with = "humantime_serde")]
    pub retry_period: Duration,
    /// Delay before the first retry (doubling afterwards).
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest delay between attempts.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for BackchannelLogoutConfig {
    fn default() -> Self {
        let d = oxidp_core::options::BackchannelLogoutOptions::default();
        Self {
            timeout: d.timeout,
            retry_period: d.retry_period,
            initial_backoff: d.initial_backoff,
            max_backoff: d.max_backoff,
        }
    }
}

/// `[tokens]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    /// How long a rotated refresh token may be presented again while its successor is unused
    /// (zero: never); a client's `refresh_token_reuse_grace` overrides it.
    #[serde(with = "humantime_serde")]
    pub refresh_token_reuse_grace: Duration,
}

impl Default for TokensConfig {
    fn default() -> Self {
        let d = oxidp_core::options::TokenOptions::default();
        Self {
            refresh_token_reuse_grace: d.refresh_token_reuse_grace,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `oxidp=debug,sqlx=warn`, ...); `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Loads the configuration: defaults, the demo file when `demo`, then `file`, then the
    /// environment. Fails with a message naming the offending key.
    pub fn load(demo: bool, file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if demo {
            figment = figment.merge(Toml::string(DEMO_CONFIG));
        }
        if let Some(file) = file {
            if !file.is_file() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let sections = sections();
        let mut ignored_variables = Vec::new();
        for (name, _) in std::env::vars() {
            if let Some(key) = name.strip_prefix("OXIDP_")
                && !is_reserved_variable(&name)
                && !sections.contains(&section_of(key))
            {
                ignored_variables.push(name);
            }
        }
        let env_sections = sections.clone();
        figment = figment.merge(Env::prefixed("OXIDP_").split("__").filter(move |key| {
            let key = key.as_str().to_ascii_lowercase();
            !key.ends_with("_file") && env_sections.contains(&section_of(&key))
        }));
        for (key, value) in file_variables(&sections)? {
            figment = figment.merge(Serialized::global(&key, value));
        }
        let mut config: Config = figment
            .extract()
            .map_err(|error| anyhow::anyhow!(describe(error)))?;
        if demo && file.is_some() {
            config.keep_demo_entries()?;
        }
        config.validate()?;
        ignored_variables.sort();
        config.ignored_variables = ignored_variables;
        Ok(config)
    }

    /// With `--demo --config FILE`, the file's lists replaced the demo's: put back the demo's
    /// clients, API resources and users that the file does not redefine (by client id, name,
    /// username), so the file adds to the demo rather than replacing it.
    fn keep_demo_entries(&mut self) -> anyhow::Result<()> {
        let demo: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(DEMO_CONFIG))
            .extract()
            .map_err(|error| anyhow::anyhow!(describe(error)))?;
        self.clients = demo_first(demo.clients, std::mem::take(&mut self.clients), |c| {
            c.client.client_id.clone()
        });
        self.api_resources = demo_first(
            demo.api_resources,
            std::mem::take(&mut self.api_resources),
            |r| r.name.clone(),
        );
        self.users = demo_first(demo.users, std::mem::take(&mut self.users), |u| {
            u.username.clone()
        });
        Ok(())
    }

    /// What an operator should know about this configuration although the server can run
    /// with it: environment variables that name no configuration key (ignored), and an issuer
    /// left to default where it cannot be right.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .ignored_variables
            .iter()
            .map(|name| {
                format!("environment variable {name} is not an oxidp setting and is ignored")
            })
            .collect();
        if self.server.issuer.is_none() {
            if self.server.listen.ip().is_unspecified() {
                warnings.push(format!(
                    "`server.issuer` is not set while listening on {}: the issuer would be http://{}, \
                     which no client can reach; set it to the public URL",
                    self.server.listen, self.server.listen
                ));
            } else if !self.store.url.starts_with("sqlite:") {
                warnings.push(
                    "`server.issuer` is not set while the store is PostgreSQL: each instance would \
                     name itself after its own listen address and refuse the others' tokens; set it \
                     to the one public URL"
                        .to_owned(),
                );
            }
        }
        warnings
    }

    /// Loads from a TOML string only (tests and embedding).
    pub fn from_toml(toml: &str) -> anyhow::Result<Self> {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
        let config: Config = figment
            .extract()
            .map_err(|error| anyhow::anyhow!(describe(error)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        durations::validate(self)?;
        if self.server.idle_timeout <= self.server.request_timeout {
            bail!(
                "invalid value for key `server.idle_timeout`: must be longer than `server.request_timeout`, or a request in progress could lose its connection"
            );
        }
        if self.server.max_connections == 0 {
            bail!(
                "invalid value for key `server.max_connections`: at least one connection is needed"
            );
        }
        if self.keys.algorithms.is_empty() {
            bail!("invalid value for key `keys.algorithms`: at least one algorithm is required");
        }
        if !(self.store.url.starts_with("sqlite:")
            || self.store.url.starts_with("postgres://")
            || self.store.url.starts_with("postgresql://"))
        {
            bail!("invalid value for key `store.url`: expected sqlite://PATH or postgres://...");
        }
        if self.store.max_connections == 0 {
            bail!("invalid value for key `store.max_connections`: must be at least 1");
        }
        // A PostgreSQL cleanup batch holds its connection while it looks clients up on another.
        let postgres = !self.store.url.starts_with("sqlite:");
        if postgres
            && self.store.max_connections < 2
            && self.server_side_sessions.enabled
            && self.server_side_sessions.remove_expired_sessions
        {
            bail!(
                "invalid value for key `store.max_connections`: must be at least 2 on PostgreSQL while the expired-session cleanup runs (`server_side_sessions.remove_expired_sessions`)"
            );
        }
        if self.server_side_sessions.remove_expired_sessions_batch_size == 0 {
            bail!(
                "invalid value for key `server_side_sessions.remove_expired_sessions_batch_size`: must be at least 1"
            );
        }
        if self.server_side_sessions.remove_expired_sessions_frequency < Duration::from_secs(1) {
            bail!(
                "invalid value for key `server_side_sessions.remove_expired_sessions_frequency`: must be at least 1s"
            );
        }
        if self.tokens.refresh_token_reuse_grace > MAX_REFRESH_TOKEN_REUSE_GRACE {
            bail!(
                "invalid value for key `tokens.refresh_token_reuse_grace`: must be at most 5m (a retry takes seconds)"
            );
        }
        if self.keys.announcement_period >= self.keys.rotation_interval {
            bail!(
                "invalid value for key `keys.announcement_period`: must be shorter than `keys.rotation_interval`"
            );
        }
        TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("invalid value for key `server.trusted_proxies`: {e}"))?;
        self.validate_tls()?;
        if let Some(issuer) = &self.server.issuer {
            IdentityServerOptions::new(issuer)
                .map_err(|e| anyhow::anyhow!("invalid value for key `server.issuer`: {e}"))?;
        }
        for (index, config) in self.clients.iter().enumerate() {
            let client = &config.client;
            durations::validate_client(index, client)?;
            if let Some(algorithm) = client.id_token_signed_response_alg
                && !self.keys.algorithms.contains(&algorithm)
            {
                bail!(
                    "invalid value for key `clients[{index}].id_token_signed_response_alg`: {} is not in `keys.algorithms`",
                    algorithm.as_str()
                );
            }
            config.validate().with_context(|| {
                format!(
                    "invalid value for key `clients[{index}]` ({})",
                    client.client_id
                )
            })?;
            if client.access_token_lifetime > self.keys.retention_period {
                bail!(
                    "invalid value for key `keys.retention_period`: shorter than the access-token lifetime of client `{}`; \
                     tokens would outlive the key that verifies them",
                    client.client_id
                );
            }
        }
        users::validate(&self.users, &self.password_hashing)?;
        if let Some(master_key) = &self.master_key {
            MasterKey::parse(master_key.expose())
                .map_err(|e| anyhow::anyhow!("invalid value for key `master_key`: {e}"))?;
        }
        for (index, resource) in self.api_resources.iter().enumerate() {
            resource.validate().with_context(|| {
                format!(
                    "invalid value for key `api_resources[{index}]` ({})",
                    resource.name
                )
            })?;
        }
        Ok(())
    }

    /// The core options for a server whose listener is bound to `bound`.
    pub fn identity_server_options(
        &self,
        bound: SocketAddr,
    ) -> anyhow::Result<IdentityServerOptions> {
        let issuer = self.server.issuer.clone().unwrap_or_else(|| {
            let scheme = if self.server.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{bound}")
        });
        let mut options = IdentityServerOptions::new(&issuer).map_err(|e| anyhow::anyhow!(e))?;
        options.keys = KeyManagementOptions {
            algorithms: self.keys.algorithms.clone(),
            rotation_interval: self.keys.rotation_interval,
            announcement_period: self.keys.announcement_period,
            retention_period: self.keys.retention_period,
            cache_duration: self.keys.cache_duration,
            data_protection_key_lifetime: self.keys.data_protection_key_lifetime,
            master_key: match &self.master_key {
                Some(key) => Some(
                    MasterKey::parse(key.expose())
                        .map_err(|e| anyhow::anyhow!("invalid value for key `master_key`: {e}"))?,
                ),
                None => None,
            },
        };
        options.authentication = AuthenticationOptions {
            cookie_lifetime: self.authentication.cookie_lifetime,
            cookie_sliding_expiration: self.authentication.cookie_sliding_expiration,
            coordinate_client_lifetimes_with_user_session: self
                .authentication
                .coordinate_client_lifetimes_with_user_session,
        };
        options.server_side_sessions = oxidp_core::options::ServerSideSessionOptions {
            enabled: self.server_side_sessions.enabled,
            user_display_name_claim_type: self
                .server_side_sessions
                .user_display_name_claim_type
                .clone()
                .filter(|claim| !claim.trim().is_empty()),
            remove_expired_sessions: self.server_side_sessions.remove_expired_sessions,
            remove_expired_sessions_frequency: self
                .server_side_sessions
                .remove_expired_sessions_frequency,
            remove_expired_sessions_batch_size: self
                .server_side_sessions
                .remove_expired_sessions_batch_size,
            expired_sessions_trigger_backchannel_logout: self
                .server_side_sessions
                .expired_sessions_trigger_backchannel_logout,
            fuzz_expired_session_removal_start: self
                .server_side_sessions
                .fuzz_expired_session_removal_start,
            migrate_cookie_sessions: self.server_side_sessions.migrate_cookie_sessions,
        };
        options.tokens = oxidp_core::options::TokenOptions {
            refresh_token_reuse_grace: self.tokens.refresh_token_reuse_grace,
        };
        options.dpop = oxidp_core::options::DpopOptions {
            proof_max_age: self.dpop.proof_max_age,
            proof_max_future: self.dpop.proof_max_future,
            require_nonce: self.dpop.require_nonce,
            nonce_lifetime: self.dpop.nonce_lifetime,
        };
        options.trusted_proxies = TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("invalid value for key `server.trusted_proxies`: {e}"))?;
        options.store_cache_duration = self.store.cache_duration;
        options.user_cache_duration = self.store.user_cache_duration;
        options.backchannel_logout = oxidp_core::options::BackchannelLogoutOptions {
            timeout: self.backchannel_logout.timeout,
            retry_period: self.backchannel_logout.retry_period,
            initial_backoff: self.backchannel_logout.initial_backoff,
            max_backoff: self.backchannel_logout.max_backoff,
        };
        options.password_hashing = oxidp_core::users::PasswordHashingOptions {
            memory_kib: self.password_hashing.memory_kib,
            iterations: self.password_hashing.iterations,
            parallelism: self.password_hashing.parallelism,
        };
        Ok(options)
    }
}

/// `OXIDP_A__B_FILE=/path` becomes key `a.b` with the file's content (one trailing newline
/// dropped, as editors add one).
fn file_variables(sections: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut values = Vec::new();
    for (name, path) in std::env::vars() {
        let Some(key) = name
            .strip_prefix("OXIDP_")
            .and_then(|k| k.strip_suffix("_FILE"))
        else {
            continue;
        };
        if is_reserved_variable(&name) || !sections.contains(&section_of(key)) {
            continue;
        }
        let key = key.to_lowercase().replace("__", ".");
        let content = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {path} named by {name}"))?;
        let content = content
            .strip_suffix('\n')
            .map(|c| c.strip_suffix('\r').unwrap_or(c))
            .unwrap_or(&content);
        values.push((key, content.to_owned()));
    }
    Ok(values)
}

/// The demo's entries that `configured` does not redefine (same `id`), then `configured`. When
/// the file set no list, `configured` is the demo's own list and comes back unchanged.
fn demo_first<T>(demo: Vec<T>, configured: Vec<T>, id: impl Fn(&T) -> String) -> Vec<T> {
    let redefined: std::collections::HashSet<String> = configured.iter().map(&id).collect();
    demo.into_iter()
        .filter(|entry| !redefined.contains(&id(entry)))
        .chain(configured)
        .collect()
}

/// The top-level keys of the configuration (`server`, `store`, ...).
fn sections() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The top-level key an environment key (`SERVER__LISTEN`, `server.listen`) belongs to.
fn section_of(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    let key = key.strip_suffix("_file").unwrap_or(&key);
    let end = [key.find('.'), key.find("__")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(key.len());
    key[..end].to_owned()
}

/// Variables that share the prefix but are not settings: the CLI's own (`OXIDP_CONFIG`) and
/// the test suite's.
fn is_reserved_variable(name: &str) -> bool {
    name == "OXIDP_CONFIG" || name.starts_with(RESERVED_ENV_PREFIX)
}

/// Figment's errors, with each key named as the operator wrote it: `server.listen` for a file,
/// `OXIDP_SERVER__LISTEN` for the environment (figment's own text says `default.server.listen`).
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let from_environment = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            let key = if from_environment {
                format!("OXIDP_{}", e.path.join("__").to_ascii_uppercase())
            } else {
                e.path.join(".")
            };
            let origin = match &e.metadata {
                Some(metadata) => match &metadata.source {
                    Some(source) => format!(" in {source}"),
                    None if from_environment => " in the environment".to_owned(),
                    None => format!(" in {}", metadata.name),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("configuration error: {}{origin}", e.kind)
            } else {
                format!("configuration error: {} for key `{key}`{origin}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn demo_with_a_file_adds_the_files_entries_and_replaces_those_with_the_same_id() {
        let dir = std::env::temp_dir().join(format!("oxidp-demo-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("extra.toml");
        std::fs::write(
            &file,
            "[[clients]]\nclient_id = \"extra\"\nsecrets = [{ value = \"extra-secret\" }]\n\
             allowed_grant_types = [\"client_credentials\"]\nallowed_scopes = [\"orders.read\"]\n\
             [[clients]]\nclient_id = \"m2m\"\nclient_name = \"Mine\"\nsecrets = [{ value = \"mine\" }]\n\
             allowed_grant_types = [\"client_credentials\"]\nallowed_scopes = [\"orders.read\"]\n\
             [[users]]\nusername = \"carol\"\npassword = \"carol\"\n",
        )
        .unwrap();
        let config = Config::load(true, Some(&file)).unwrap();
        let ids: Vec<&str> = config
            .clients
            .iter()
            .map(|c| c.client.client_id.as_str())
            .collect();
        for id in [
            "admin-cli",
            "m2m-reference",
            "web",
            "native",
            "extra",
            "m2m",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        assert_eq!(ids.iter().filter(|id| **id == "m2m").count(), 1, "{ids:?}");
        let m2m = config
            .clients
            .iter()
            .find(|c| c.client.client_id == "m2m")
            .unwrap();
        assert_eq!(
            m2m.client.client_name.as_deref(),
            Some("Mine"),
            "the file wins"
        );
        let users: Vec<&str> = config.users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(users, ["alice", "bob", "carol"]);
        assert!(
            config.api_resources.iter().any(|r| r.name == "orders-api"),
            "the demo's API stays"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn with_store(store: &str, sessions: &str) -> anyhow::Result<Config> {
        Config::from_toml(&format!(
            "[store]\n{store}\n[server_side_sessions]\n{sessions}\n"
        ))
    }

    #[test]
    fn a_postgres_pool_of_one_is_refused_while_the_cleanup_runs() {
        let one = "url = \"postgres://postgres@127.0.0.1/oxidp\"\nmax_connections = 1";
        let error = with_store(one, "enabled = true").unwrap_err().to_string();
        assert!(
            error.contains("`store.max_connections`: must be at least 2 on PostgreSQL"),
            "{error}"
        );
        assert!(with_store(one, "enabled = true\nremove_expired_sessions = false").is_ok());
        assert!(with_store(one, "enabled = false").is_ok());
        let two = "url = \"postgres://postgres@127.0.0.1/oxidp\"\nmax_connections = 2";
        assert!(with_store(two, "enabled = true").is_ok());
        let sqlite = "url = \"sqlite://data/oxidp.db\"\nmax_connections = 1";
        assert!(with_store(sqlite, "enabled = true").is_ok());
    }
}
