//! `TestApp`: one server per test, with typed helpers for the protocol calls.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oxidp_core::clock::{Clock, ManualClock, SystemClock};
use oxidp_core::store::Stores;
use oxidp_jose::{SigningAlgorithm, SigningKey};
use oxidp_server::Server;
use oxidp_server::config::Config;
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;

pub const ISSUER: &str = "http://idp.test";

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// The key the `signed-client` uses for private_key_jwt.
    pub client_key: SigningKey,
    pub clock: Option<Arc<ManualClock>>,
    /// The stores the server runs on.
    pub stores: Stores,
    idp: oxidp_core::services::IdentityServer,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _dir: Arc<TempDir>,
}

pub fn test_config(dir: &TempDir, client_key: &SigningKey) -> String {
    let jwks = json!({ "keys": [client_key.public_jwk()] }).to_string();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
issuer = "{ISSUER}"
max_body_size = 4096

[store]
url = "sqlite://{db}"

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
"#,
        db = dir.path().join("oxidp.db").display()
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

    pub async fn spawn_on(
        stores: Option<Stores>,
        clock: Option<Arc<ManualClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = Arc::new(TempDir::new().expect("temp dir"));
        let client_key = SigningKey::generate(SigningAlgorithm::ES256).expect("client key");
        let mut config =
            Config::from_toml(&test_config(&dir, &client_key)).expect("test config is valid");
        adjust(&mut config);
        let stores = match stores {
            Some(stores) => stores,
            None => oxidp_server::open_stores(&config.store.url, 5)
                .await
                .expect("store"),
        };
        let server_clock: Arc<dyn Clock> = match &clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let server = Server::build_with(config.clone(), stores.clone(), server_clock)
            .await
            .expect("server builds");
        let address = format!("http://{}", server.address());
        let idp = server.identity_server().clone();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            http: reqwest::Client::new(),
            client_key,
            clock,
            stores,
            idp,
            _shutdown: shutdown,
            _dir: dir,
        }
    }

    /// The server's core services (for operations that have no HTTP surface in a test).
    pub fn identity_server(&self) -> &oxidp_core::services::IdentityServer {
        &self.idp
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn clock(&self) -> &ManualClock {
        self.clock.as_deref().expect("spawned with a manual clock")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a form with optional Basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = form_body(form);
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            request = request.header("authorization", basic_header(id, secret));
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_token(
        &self,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_form("/connect/token", basic, form).await
    }

    /// A client-credentials token for `client`, asserting success.
    pub async fn token_for(&self, client: (&str, &str), scope: Option<&str>) -> Value {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.post_token(Some(client), &form).await;
        assert_eq!(response.status(), 200, "token request for {}", client.0);
        response.json().await.expect("json")
    }

    pub async fn introspect(&self, caller: (&str, &str), token: &str) -> Value {
        let response = self
            .post_form("/connect/introspect", Some(caller), &[("token", token)])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
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

pub fn basic_header(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Asserts an RFC 6749 error response and returns it.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], error, "body: {body}");
    body
}

/// The decoded payload of a JWT, without verification.
pub fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&oxidp_jose::b64url_decode(payload).expect("base64url")).expect("json")
}

pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("three parts");
    serde_json::from_slice(&oxidp_jose::b64url_decode(header).expect("base64url")).expect("json")
}

/// Polls `check` until it yields a value, failing the test with `what` after `limit`: a test
/// waits for the thing it expects, never for a fixed time.
pub async fn wait_until<T, F, Fut>(what: &str, limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Waits until the outbox holds no pending message and at least `delivered` delivered
    /// ones: from then on no worker will send any of them again.
    pub async fn wait_for_outbox_settled(&self, delivered: usize, limit: std::time::Duration) {
        use oxidp_core::model::DeliveryStatus;
        let outbox = self.stores.outbox.clone();
        let cap = u32::try_from(delivered + 1).unwrap_or(u32::MAX);
        wait_until("the outbox to settle", limit, || {
            let outbox = outbox.clone();
            async move {
                let pending = outbox
                    .list_messages(DeliveryStatus::Pending, 1)
                    .await
                    .ok()?;
                let done = outbox
                    .list_messages(DeliveryStatus::Delivered, cap)
                    .await
                    .ok()?;
                (pending.is_empty() && done.len() >= delivered).then_some(())
            }
        })
        .await;
    }
}
