//! Test support for the workspace's integration tests, in one place instead of a copy per
//! crate (`publish = false`: never a dependency of shipped code).
//!
//! [`TestServer`] is the real oxidp server, started in-process on `127.0.0.1:0` from a TOML
//! configuration, over a store of the test's choosing (SQLite in a temporary directory by
//! default, the in-memory store, or a PostgreSQL schema of its own) and with an injectable
//! [`ManualClock`]. Its typed helpers speak the protocol endpoints; the free functions check
//! wire formats ([`assert_oauth_error`], [`jwt_payload`]) and wait for a condition with a
//! deadline ([`wait_until`]) so that no test sleeps for a fixed time.

mod http;
mod wait;

pub use http::{assert_oauth_error, basic_header, form_body, jwt_header, jwt_payload};
pub use wait::wait_until;

use oxidp_core::clock::{Clock, ManualClock, SystemClock};
use oxidp_core::model::DeliveryStatus;
use oxidp_core::services::IdentityServer;
use oxidp_core::store::{MemoryStore, Stores};
use oxidp_server::Server;
use oxidp_server::config::Config;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Where a [`TestServer`] keeps its data.
enum Backend {
    /// A SQLite file in the server's temporary directory.
    Sqlite,
    /// The in-memory store.
    Memory,
    /// Stores the test built (a PostgreSQL schema, a store wrapped to observe it, ...).
    Given(Stores),
}

/// Configures a [`TestServer`] before it starts.
pub struct TestServerBuilder {
    config: Config,
    backend: Backend,
    clock: Option<Arc<ManualClock>>,
}

impl std::fmt::Debug for TestServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServerBuilder").finish_non_exhaustive()
    }
}

impl TestServerBuilder {
    /// Runs on the in-memory store instead of SQLite.
    pub fn memory_store(mut self) -> Self {
        self.backend = Backend::Memory;
        self
    }

    /// Runs on `stores` (e.g. `oxidp_store::testing::postgres_test_store()`).
    pub fn stores(mut self, stores: Stores) -> Self {
        self.backend = Backend::Given(stores);
        self
    }

    /// Tells time by `clock` (`None`: the system clock).
    pub fn clock(mut self, clock: Option<Arc<ManualClock>>) -> Self {
        self.clock = clock;
        self
    }

    /// Changes the parsed configuration (listener and store URL are set by the builder).
    pub fn adjust(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        adjust(&mut self.config);
        self
    }

    /// Builds the server and serves it in the background until the [`TestServer`] is dropped.
    pub async fn start(self) -> TestServer {
        let dir = Arc::new(TempDir::new().expect("temporary directory"));
        let mut config = self.config;
        prepare(&mut config, &dir);
        let stores = match self.backend {
            Backend::Given(stores) => stores,
            Backend::Memory => Stores::from_backend(Arc::new(MemoryStore::default())),
            Backend::Sqlite => oxidp_server::open_stores(&config.store.url, 5)
                .await
                .expect("the SQLite store opens"),
        };
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let server = Server::build_with(config, stores.clone(), clock)
            .await
            .expect("the server builds");
        let address = format!("http://{}", server.address());
        let issuer = server.issuer().to_owned();
        let idp = server.identity_server().clone();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            issuer,
            http: reqwest::Client::new(),
            clock: self.clock,
            stores,
            idp,
            _shutdown: shutdown,
            _dir: dir,
        }
    }
}

/// What every test server needs whatever its TOML says: a listener on port 0 and, unless the
/// test brings its own stores, a SQLite database in `dir`. Also for tests that start the
/// server through something else (a sample that embeds it).
pub fn prepare(config: &mut Config, dir: &TempDir) {
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.store.url = format!("sqlite://{}", dir.path().join("oxidp.db").display());
}

/// The real server, running in the background; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, where the server listens.
    pub address: String,
    /// The issuer (the address unless the configuration names one).
    pub issuer: String,
    /// A plain HTTP client (no cookies, redirects followed).
    pub http: reqwest::Client,
    /// The manual clock, when the server was started with one.
    pub clock: Option<Arc<ManualClock>>,
    /// The stores the server runs on.
    pub stores: Stores,
    idp: IdentityServer,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _dir: Arc<TempDir>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// A builder over `toml` (a configuration as an operator writes it).
    pub fn builder(toml: &str) -> TestServerBuilder {
        TestServerBuilder {
            config: Config::from_toml(toml).expect("the test configuration is valid"),
            backend: Backend::Sqlite,
            clock: None,
        }
    }

    /// Starts a server over `toml` on SQLite and the system clock.
    pub async fn start(toml: &str) -> Self {
        Self::builder(toml).start().await
    }

    /// Starts a server on a PostgreSQL schema of its own; hand the store to
    /// `oxidp_store::testing::drop_test_schema` when done.
    pub async fn start_on_postgres(
        builder: TestServerBuilder,
    ) -> (Self, oxidp_store::PostgresStore) {
        let store = oxidp_store::testing::postgres_test_store().await;
        let server = builder
            .stores(Stores::from_backend(Arc::new(store.clone())))
            .start()
            .await;
        (server, store)
    }

    /// The server's core services (for operations that have no HTTP surface in a test).
    pub fn identity_server(&self) -> &IdentityServer {
        &self.idp
    }

    /// An absolute URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The manual clock; panics when the server was started without one.
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_deref().expect("started with a manual clock")
    }

    /// GETs `path`.
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
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form));
        if let Some((id, secret)) = basic {
            request = request.header("authorization", basic_header(id, secret));
        }
        request.send().await.expect("request sent")
    }

    /// POSTs to the token endpoint.
    pub async fn post_token(
        &self,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_form(oxidp_core::options::paths::TOKEN, basic, form)
            .await
    }

    /// A client-credentials token response for `client` (id, secret), asserting success.
    pub async fn token_for(&self, client: (&str, &str), scope: Option<&str>) -> Value {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.post_token(Some(client), &form).await;
        assert_eq!(response.status(), 200, "token request for {}", client.0);
        response.json().await.expect("json")
    }

    /// Just the access token of [`TestServer::token_for`].
    pub async fn access_token_for(&self, client: (&str, &str), scope: Option<&str>) -> String {
        self.token_for(client, scope).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Introspects `token` as `caller` (an API resource), asserting a 200.
    pub async fn introspect(&self, caller: (&str, &str), token: &str) -> Value {
        let response = self
            .post_form(
                oxidp_core::options::paths::INTROSPECTION,
                Some(caller),
                &[("token", token)],
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    /// Revokes `token` as `client`, asserting success.
    pub async fn revoke(&self, client: (&str, &str), token: &str) {
        let response = self
            .post_form(
                oxidp_core::options::paths::REVOCATION,
                Some(client),
                &[("token", token)],
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Waits until the outbox holds no pending message and at least `delivered` delivered
    /// ones: from then on no worker sends any of them again.
    pub async fn wait_for_outbox_settled(&self, delivered: usize, limit: Duration) {
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
