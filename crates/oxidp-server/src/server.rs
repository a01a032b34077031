//! The server as a function of (configuration, listener, shutdown): `Server::build` binds
//! (and loads the TLS certificate), connects the store, runs migrations, seeds configured
//! clients and resources, makes sure keys exist; `run_until_stopped` serves (the main listener
//! and, when configured, the mTLS listener) until the shutdown future completes and then lets
//! in-flight requests finish. SIGHUP re-reads the TLS certificate.

use crate::config::Config;
use crate::pages::Pages;
use crate::routes::{HttpLimits, router};
use crate::tls::{ServerCertificate, server_config};
use anyhow::Context as _;
use axum::Router;
use oxidp_core::clock::{Clock, SystemClock};
use oxidp_core::services::IdentityServer;
use oxidp_core::store::Stores;
use oxidp_store::SqlStore;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A bound, ready-to-run identity server.
pub struct Server {
    listener: TcpListener,
    address: SocketAddr,
    /// The main listener's TLS, when `server.tls` is set.
    tls: Option<TlsAcceptor>,
    /// The separate mTLS listener (`server.mtls.listen`), its address and TLS.
    mtls: Option<(TcpListener, SocketAddr, TlsAcceptor)>,
    certificate: Option<Arc<ServerCertificate>>,
    router: Router,
    idp: IdentityServer,
    shutdown_timeout: Duration,
    limits: crate::listener::ConnectionLimits,
    /// The database this server opened itself (not given stores), closed when it stops.
    database: Option<SqlStore>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Builds the server from its configuration, on the store `store.url` names.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let options = oxidp_store::StoreOptions {
            max_connections: config.store.max_connections,
            wait_for_database: config.store.wait_for_database,
            ..oxidp_store::StoreOptions::default()
        };
        let database = oxidp_store::connect(&config.store.url, &options)
            .await
            .with_context(|| {
                format!("cannot open the store at {}", redact_url(&config.store.url))
            })?;
        let mut server = Self::build_with(config, database.stores(), Arc::new(SystemClock)).await?;
        server.database = Some(database);
        Ok(server)
    }

    /// Builds the server on given stores and clock (tests, embedding).
    pub async fn build_with(
        config: Config,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        oxidp_jose::install_crypto_provider();
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let address = listener.local_addr()?;
        let certificate = match &config.server.tls {
            Some(tls) => Some(Arc::new(
                ServerCertificate::load(&tls.certificate_file, &tls.private_key_file)
                    .context("invalid value for key `server.tls`")?,
            )),
            None => None,
        };
        let mtls_listener = match config.server.mtls.listen {
            Some(listen) => Some(
                TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen} (server.mtls.listen)"))?,
            ),
            None => None,
        };
        let mtls_address = mtls_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let mut options = config.identity_server_options(address)?;
        options.mtls = config.mtls_options(&options.issuer, mtls_address)?;
        // With an mTLS host of its own, the main host never asks for a certificate.
        let tls = match &certificate {
            Some(certificate) => Some(TlsAcceptor::from(Arc::new(server_config(
                certificate.clone(),
                mtls_listener.is_none(),
            )?))),
            None => None,
        };
        let mtls = match (mtls_listener, mtls_address, &certificate) {
            (Some(listener), Some(address), Some(certificate)) => {
                let acceptor =
                    TlsAcceptor::from(Arc::new(server_config(certificate.clone(), true)?));
                Some((listener, address, acceptor))
            }
            _ => None,
        };
        seed(&config, &stores).await?;
        let idp = IdentityServer::new(options, stores, clock);
        for client in &config.clients {
            idp.clients
                .register(&client.to_client()?)
                .await
                .context("cannot seed clients")?;
        }
        check_key_retention(&idp, config.keys.retention_period).await?;
        idp.keys()
            .maintain()
            .await
            .context("cannot prepare the signing keys")?;
        let limits = HttpLimits {
            max_body_size: config.server.max_body_size,
            request_timeout: config.server.request_timeout,
        };
        let pages = Arc::new(Pages::new(config.server.templates_dir.as_deref())?);
        Ok(Self {
            listener,
            address,
            tls,
            mtls,
            certificate,
            router: router(idp.clone(), limits, pages),
            idp,
            shutdown_timeout: config.server.shutdown_timeout,
            limits: crate::listener::ConnectionLimits {
                header_read_timeout: config.server.header_read_timeout,
                idle_timeout: config.server.idle_timeout,
                max_connections: config.server.max_connections,
            },
            database: None,
        })
    }

    /// The bound address (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address of the separate mTLS listener, when configured.
    pub fn mtls_address(&self) -> Option<SocketAddr> {
        self.mtls.as_ref().map(|(_, address, _)| *address)
    }

    /// The TLS server certificate, when the server speaks HTTPS; its `reload` is what SIGHUP
    /// does.
    pub fn tls_certificate(&self) -> Option<Arc<ServerCertificate>> {
        self.certificate.clone()
    }

    /// The issuer this server signs as.
    pub fn issuer(&self) -> &str {
        &self.idp.options().issuer
    }

    /// The core services.
    pub fn identity_server(&self) -> &IdentityServer {
        &self.idp
    }

    /// Serves until `shutdown` completes, then waits (up to the shutdown timeout) for in-flight
    /// requests to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let maintenance = tokio::spawn(maintain(self.idp.clone()));
        let deliveries = tokio::spawn(crate::backchannel::deliver_forever(self.idp.clone()));
        let cleanup = tokio::spawn(crate::session_cleanup::remove_expired_sessions_forever(
            self.idp.clone(),
        ));
        let checkpoints = match &self.database {
            Some(SqlStore::Sqlite(sqlite)) => {
                Some(tokio::spawn(checkpoint_forever(sqlite.clone())))
            }
            _ => None,
        };
        let reload = self
            .certificate
            .clone()
            .map(|c| tokio::spawn(reload_on_hangup(c)));
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_mtls, mut mtls_stopping) = tokio::sync::watch::channel(false);
        let mtls = self.mtls.map(|(listener, _, acceptor)| {
            let serve = crate::listener::serve(
                listener,
                self.router.clone(),
                self.limits,
                Some(acceptor),
                async move {
                    let _ = mtls_stopping.wait_for(|stopping| *stopping).await;
                },
            );
            tokio::spawn(serve)
        });
        let serve = crate::listener::serve(
            self.listener,
            self.router,
            self.limits,
            self.tls,
            async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stop_mtls.send(true);
                let _ = stopping_tx.send(());
            },
        );
        let serve = async move {
            serve.await;
            if let Some(mtls) = mtls {
                let _ = mtls.await;
            }
        };
        let timeout = self.shutdown_timeout;
        let result = tokio::select! {
            () = serve => Ok(()),
            () = async move {
                let _ = stopping_rx.await;
                tokio::time::sleep(timeout).await;
            } => {
                tracing::warn!("shutdown timeout reached; abandoning unfinished requests");
                Ok(())
            }
        };
        maintenance.abort();
        deliveries.abort();
        cleanup.abort();
        if let Some(checkpoints) = checkpoints {
            checkpoints.abort();
        }
        if let Some(database) = self.database {
            database.close().await;
        }
        if let Some(reload) = reload {
            reload.abort();
        }
        result
    }
}

/// A retired signing key stays published for `retention`: an access token living longer would
/// outlive the key that verifies it. The configuration file's clients are checked when it is
/// loaded; this covers every client in the store, however it got there.
async fn check_key_retention(idp: &IdentityServer, retention: Duration) -> anyhow::Result<()> {
    let clients = idp
        .clients
        .list()
        .await
        .context("cannot list the clients")?;
    if let Some(client) = clients
        .iter()
        .find(|client| client.enabled && client.access_token_lifetime > retention)
    {
        anyhow::bail!(
            "invalid value for key `keys.retention_period`: shorter than the access-token lifetime of client `{}` in the store; \
             tokens would outlive the key that verifies them (raise keys.retention_period, or shorten or disable that client)",
            client.client_id
        );
    }
    Ok(())
}

/// How often the SQLite WAL is checkpointed in full and truncated.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// Keeps the SQLite WAL from growing without bound under continuous load (see
/// [`oxidp_store::SqliteStore::checkpoint`]).
async fn checkpoint_forever(store: oxidp_store::SqliteStore) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.tick().await;
    loop {
        interval.tick().await;
        match store.checkpoint().await {
            Ok(0) => {}
            Ok(left) => tracing::info!(
                frames_left = left,
                "SQLite checkpoint incomplete; retrying next time"
            ),
            Err(error) => tracing::warn!(%error, "SQLite checkpoint failed"),
        }
    }
}

/// Re-reads the TLS certificate on every SIGHUP; a bad new file keeps the current one.
async fn reload_on_hangup(certificate: Arc<ServerCertificate>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the TLS certificate will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            if let Err(error) = certificate.reload() {
                tracing::error!(error = %format!("{error:#}"), "TLS certificate reload failed; the current certificate stays");
            }
        }
    }
    #[cfg(not(unix))]
    drop(certificate);
}

/// Opens the database at `url` (running its migrations) and returns the stores on it.
pub async fn open_stores(url: &str, max_connections: u32) -> anyhow::Result<Stores> {
    Ok(open_database(url, max_connections).await?.stores())
}

/// Opens the database at `url` and runs its migrations.
pub async fn open_database(url: &str, max_connections: u32) -> anyhow::Result<SqlStore> {
    let options = oxidp_store::StoreOptions {
        max_connections,
        ..oxidp_store::StoreOptions::default()
    };
    oxidp_store::connect(url, &options)
        .await
        .with_context(|| format!("cannot open the store at {}", redact_url(url)))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled: call
/// it before start-up, so that a signal arriving while the server starts (an orchestrator
/// stopping a fresh instance) is a graceful shutdown rather than the default kill. Must be
/// called within a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate) => {},
                () = wait(interrupt) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes the configured resources and users into the store (clients go through the core's
/// registration, which validates them, once the identity server is built). Entries from the file replace
/// stored entries with the same id; others in the database are left alone. Configured users
/// are created only when their username is new: a stored user, and its password, is never
/// overwritten from the file.
async fn seed(config: &Config, stores: &Stores) -> anyhow::Result<()> {
    for resource in &config.api_resources {
        stores
            .resources
            .upsert_api_resource(&resource.to_resource()?)
            .await
            .context("cannot seed API resources")?;
    }
    if !config.users.is_empty() {
        let clock = SystemClock;
        let users = oxidp_core::users::UserService::new(
            stores.users.clone(),
            config.password_hashing.hasher()?,
            Arc::new(clock),
        );
        for (index, user) in config.users.iter().enumerate() {
            user.seed(&users, &clock)
                .await
                .with_context(|| format!("cannot seed `users[{index}]` ({})", user.username))?;
        }
    }
    Ok(())
}

/// Background upkeep, once a minute: key rotation (so that no request ever waits for key
/// generation) and removal of what expired: grants (used codes and refresh tokens are kept
/// until they expire, for replay detection, and must not pile up after that), failed sign-in
/// counters, the revocation list's ids of expired JWTs and the DPoP proofs seen whose window
/// has passed.
async fn maintain(idp: IdentityServer) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = idp.keys().maintain().await {
            tracing::error!(%error, "key maintenance failed");
        }
        remove_expired("grants", |batch| idp.remove_expired_grants(batch)).await;
        remove_expired("sign-in failure counters", |batch| {
            idp.login.remove_expired_failures(batch)
        })
        .await;
        remove_expired("revoked JWT ids", |batch| {
            idp.revocation.remove_expired(batch)
        })
        .await;
        remove_expired("seen DPoP proofs", |batch| idp.dpop.remove_expired(batch)).await;
    }
}

/// Calls `remove` with batches of a thousand until one comes back short (or fails).
async fn remove_expired<F, R>(what: &str, remove: F)
where
    F: Fn(u32) -> R,
    R: Future<Output = Result<u64, oxidp_core::store::StoreError>>,
{
    const BATCH: u32 = 1_000;
    loop {
        match remove(BATCH).await {
            Ok(removed) if removed == u64::from(BATCH) => continue,
            Ok(removed) => {
                if removed > 0 {
                    tracing::debug!(removed, "removed expired {what}");
                }
                break;
            }
            Err(error) => {
                tracing::error!(%error, "removing expired {what} failed");
                break;
            }
        }
    }
}

/// The store URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
