//! `TestApp`: one server per test (the shared `oxidp_testing::TestServer` over this suite's
//! configuration), with the suite's own clients and a `signed-client` key for
//! private_key_jwt. The shared helpers are re-exported so test files import one module.

pub use oxidp_testing::{
    TestServer, assert_oauth_error, basic_header, form_body, jwt_header, jwt_payload, wait_until,
};

use oxidp_core::clock::ManualClock;
use oxidp_core::store::Stores;
use oxidp_jose::{SigningAlgorithm, SigningKey};
use oxidp_server::config::Config;
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;

pub const ISSUER: &str = "http://idp.test";

/// The shared test server plus what this suite's configuration needs.
pub struct TestApp {
    server: TestServer,
    /// The key the `signed-client` uses for private_key_jwt.
    pub client_key: SigningKey,
}

/// The suite's configuration with its SQLite database in `dir`, for tests that build a
/// `Server` themselves.
pub fn test_config(dir: &TempDir, client_key: &SigningKey) -> String {
    format!(
        "{}\n[store]\nurl = \"sqlite://{}\"\n",
        test_toml(client_key),
        dir.path().join("oxidp.db").display()
    )
}

/// The suite's configuration: issuer, resources, users and clients (no store: the test
/// server chooses it).
pub fn test_toml(client_key: &SigningKey) -> String {
    let jwks = json!({ "keys": [client_key.public_jwk()] }).to_string();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
issuer = "{ISSUER}"
max_body_size = 4096

[[api_resources]]
name = "orders-api"
scopes = ["orders.read", "orders.write"]
secrets = [{{ value = "orders-api-secret" }}]

[[api_resources]]
name = "billing-api"
scopes = ["billing.read"]
secrets = [{{ value = "billing-api-secret" }}]

[server_side_sessions]
# Tests run the cleanup explicitly, or turn the job on themselves.
remove_expired_sessions = false

[password_hashing]
memory_kib = 1024
iterations = 1

[[users]]
username = "alice"
password = "alice-password"
roles = ["admin"]
claims = {{ name = "Alice Smith", email = "alice@example.com", email_verified = true }}

[[users]]
username = "bob"
password = "bob-password"
claims = {{ name = "Bob Jones" }}

[[clients]]
client_id = "web"
client_name = "Web App"
secrets = [{{ value = "web-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile", "email", "orders.read"]
allow_offline_access = true
redirect_uris = ["https://app.test/callback"]
post_logout_redirect_uris = ["https://app.test/signed-out"]
access_token_lifetime = "10m"

[[clients]]
client_id = "native"
require_client_secret = false
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile"]
allow_offline_access = true
redirect_uris = ["https://app.test/callback"]

[[clients]]
client_id = "consenting"
client_name = "Consent App"
secrets = [{{ value = "consenting-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile", "orders.read"]
require_consent = true
redirect_uris = ["https://app.test/callback"]

[[clients]]
client_id = "reusing"
secrets = [{{ value = "reusing-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "orders.read"]
allow_offline_access = true
refresh_token_usage = "re_use"
refresh_token_expiration = "sliding"
sliding_refresh_token_lifetime = "1h"
redirect_uris = ["https://app.test/callback"]

[[clients]]
client_id = "m2m"
secrets = [{{ value = "m2m-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read", "orders.write", "billing.read"]
access_token_lifetime = "10m"

[[clients]]
client_id = "m2m-reference"
secrets = [{{ value = "reference-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"
access_token_lifetime = "5m"

[[clients]]
client_id = "signed-client"
jwks = '{jwks}'
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "disabled"
enabled = false
secrets = [{{ value = "disabled-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "no-grants"
secrets = [{{ value = "no-grants-secret" }}]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "rotating"
secrets = [
  {{ value = "old-secret", expires = "2001-01-01T00:00:00Z" }},
  {{ value = "new-secret" }},
]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
"#
    )
}

impl TestApp {
    /// A server on the system clock.
    pub async fn spawn() -> Self {
        Self::spawn_with(None, |_| {}).await
    }

    /// A server on a manual clock.
    pub async fn spawn_with_clock() -> Self {
        Self::spawn_with(Some(Arc::new(ManualClock::starting_now())), |_| {}).await
    }

    pub async fn spawn_with(
        clock: Option<Arc<ManualClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_on(None, clock, adjust).await
    }

    /// A server on a PostgreSQL schema of its own; hand the store to
    /// `oxidp_store::testing::drop_test_schema` when done.
    pub async fn spawn_on_postgres() -> (Self, oxidp_store::PostgresStore) {
        let store = oxidp_store::testing::postgres_test_store().await;
        let app = Self::spawn_on(
            Some(Stores::from_backend(Arc::new(store.clone()))),
            None,
            |_| {},
        )
        .await;
        (app, store)
    }

    /// A server over `stores` (default: SQLite in a temporary directory) and `clock`
    /// (default: the system clock), with the configuration changed by `adjust`.
    pub async fn spawn_on(
        stores: Option<Stores>,
        clock: Option<Arc<ManualClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let client_key = SigningKey::generate(SigningAlgorithm::ES256).expect("client key");
        let mut builder = TestServer::builder(&test_toml(&client_key))
            .clock(clock)
            .adjust(adjust);
        if let Some(stores) = stores {
            builder = builder.stores(stores);
        }
        Self {
            server: builder.start().await,
            client_key,
        }
    }

    /// A private_key_jwt assertion signed by the `signed-client` key.
    pub fn client_assertion(&self, claims: Value) -> String {
        self.client_key
            .sign_jwt("JWT", &claims)
            .expect("assertion signs")
    }

    pub fn assertion_claims(&self, jti: &str) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({
            "iss": "signed-client",
            "sub": "signed-client",
            "aud": format!("{ISSUER}/connect/token"),
            "iat": now,
            "exp": now + 60,
            "jti": jti,
        })
    }
}

impl std::ops::Deref for TestApp {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}
