//! Starting the three parts of the sample in the right order, and stopping them together.
//!
//! The listeners are bound first, so that the `web` client's URIs can name the web app's real
//! address (port 0 in tests) before the identity server seeds its clients; the server is
//! spawned before the web app reads its discovery document; the API discovers the server's
//! keys lazily, on its first call.

use crate::web::{self, WebApp, WebSettings};
use crate::{API_AUDIENCE, WEB_CLIENT_ID, WEB_CLIENT_SECRET};
use anyhow::Context as _;
use oxidp_api_auth::{Validator, ValidatorOptions};
use oxidp_server::Server;
use oxidp_server::config::Config;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use url::Url;

/// What [`Sample::start`] needs.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// The identity server's configuration, normally `oxidp.toml` of this folder.
    pub config: Config,
    /// Where the web app listens (`127.0.0.1:0` picks a free port).
    pub web_listen: SocketAddr,
    /// Where the API listens.
    pub api_listen: SocketAddr,
}

impl SampleOptions {
    /// The options the binary runs with: [`CONFIG_FILE`](crate::CONFIG_FILE) (or the file
    /// `SESSION_SAMPLE_CONFIG` names) with the `OXIDP_*` environment over it, and the web app and
    /// API on `SESSION_SAMPLE_WEB_LISTEN` and `SESSION_SAMPLE_API_LISTEN` (defaults
    /// [`DEFAULT_WEB_LISTEN`](crate::DEFAULT_WEB_LISTEN) and
    /// [`DEFAULT_API_LISTEN`](crate::DEFAULT_API_LISTEN)).
    pub fn from_env() -> anyhow::Result<Self> {
        let file =
            std::env::var("SESSION_SAMPLE_CONFIG").unwrap_or_else(|_| crate::CONFIG_FILE.into());
        let config = Config::load(false, Some(file.as_ref()))?;
        let address = |variable: &str, default: &str| -> anyhow::Result<SocketAddr> {
            let value = std::env::var(variable).unwrap_or_else(|_| default.into());
            value
                .parse()
                .with_context(|| format!("{variable}={value} is not an address and port"))
        };
        Ok(Self {
            config,
            web_listen: address("SESSION_SAMPLE_WEB_LISTEN", crate::DEFAULT_WEB_LISTEN)?,
            api_listen: address("SESSION_SAMPLE_API_LISTEN", crate::DEFAULT_API_LISTEN)?,
        })
    }
}

/// The running sample. Dropping it stops every part at once; [`Sample::run_until_stopped`]
/// stops them gracefully.
#[derive(Debug)]
pub struct Sample {
    issuer: String,
    web_url: Url,
    api_url: Url,
    web: WebApp,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Sample {
    /// Binds the listeners, starts the identity server, then the web app and the API.
    pub async fn start(options: SampleOptions) -> anyhow::Result<Self> {
        let web_listener = bind(options.web_listen, "the web app").await?;
        let api_listener = bind(options.api_listen, "the API").await?;
        let web_url = base_url(web_listener.local_addr()?)?;
        let api_url = base_url(api_listener.local_addr()?)?;

        let mut config = options.config;
        point_web_client_at(&mut config, &web_url)?;
        let server = Server::build(config).await?;
        let issuer = server.issuer().to_owned();

        let (stop, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(server.run_until_stopped(stopped(&stop)));

        let web = WebApp::connect(WebSettings {
            issuer: issuer.clone(),
            base_url: web_url.clone(),
            api_url: api_url.join(crate::api::CLAIMS_PATH)?,
            client_id: WEB_CLIENT_ID.into(),
            client_secret: WEB_CLIENT_SECRET.into(),
        })
        .await
        .context("the web app cannot use the identity server")?;
        tasks.spawn(serve(web_listener, web.router(), stopped(&stop)));

        let validator = Validator::new(ValidatorOptions::new(issuer.clone(), API_AUDIENCE))?;
        tasks.spawn(serve(
            api_listener,
            crate::api::router(validator),
            stopped(&stop),
        ));
        Ok(Self {
            issuer,
            web_url,
            api_url,
            web,
            stop,
            tasks,
        })
    }

    /// The identity server's issuer URL (its address, unless `server.issuer` is configured).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The web app's base URL, such as `http://127.0.0.1:5002/`.
    pub fn web_url(&self) -> &Url {
        &self.web_url
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The web app (its token manager and local sessions can be inspected).
    pub fn web_app(&self) -> &WebApp {
        &self.web
    }

    /// Runs until `shutdown` completes (or a part fails), then stops every part, letting
    /// in-flight requests finish.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let outcome = tokio::select! {
            () = shutdown => Ok(()),
            Some(ended) = self.tasks.join_next() => match ended {
                Ok(Err(error)) => Err(error),
                _ => Err(anyhow::anyhow!("a part of the sample stopped unexpectedly")),
            },
        };
        self.stop.send_replace(true);
        while let Some(ended) = self.tasks.join_next().await {
            if let Ok(Err(error)) = ended {
                tracing::error!(
                    error = format!("{error:#}"),
                    "a part of the sample failed while stopping"
                );
            }
        }
        outcome
    }
}

/// Registers the web app's real addresses for the `web` client: the committed configuration
/// names `127.0.0.1:5002`, and the app may listen elsewhere (another port, or port 0 in tests).
fn point_web_client_at(config: &mut Config, web_url: &Url) -> anyhow::Result<()> {
    let client = &mut config
        .clients
        .iter_mut()
        .find(|configured| configured.client.client_id == WEB_CLIENT_ID)
        .with_context(|| format!("the configuration registers no `{WEB_CLIENT_ID}` client"))?
        .client;
    let redirect_uris = vec![web_url.join(web::CALLBACK_PATH)?.to_string()];
    let post_logout_redirect_uris = vec![web_url.join(web::SIGNED_OUT_PATH)?.to_string()];
    let backchannel_logout_uri = Some(web_url.join(web::BACKCHANNEL_LOGOUT_PATH)?.to_string());
    if client.redirect_uris != redirect_uris
        || client.post_logout_redirect_uris != post_logout_redirect_uris
        || client.backchannel_logout_uri != backchannel_logout_uri
    {
        tracing::info!(web_app = %web_url, "the `web` client's URIs now point at the web app");
    }
    client.redirect_uris = redirect_uris;
    client.post_logout_redirect_uris = post_logout_redirect_uris;
    client.backchannel_logout_uri = backchannel_logout_uri;
    Ok(())
}

async fn bind(address: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for {what}"))
}

fn base_url(address: SocketAddr) -> anyhow::Result<Url> {
    Ok(Url::parse(&format!("http://{address}/"))?)
}

/// Completes when the sample is told to stop, or when the [`Sample`] is dropped.
fn stopped(stop: &watch::Sender<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut receiver = stop.subscribe();
    async move {
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("an HTTP listener failed")
}
