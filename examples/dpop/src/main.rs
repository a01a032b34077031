//! `dpop-sample api | worker | app`: the three parts of the DPoP sample, each in its own
//! terminal, against an oxidp server started with `examples/dpop/oxidp.toml` (see README.md).

use anyhow::Context as _;
use dpop_sample::app::InteractiveApp;
use dpop_sample::worker::Worker;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let issuer = env("DPOP_SAMPLE_ISSUER", dpop_sample::DEFAULT_ISSUER);
    let listen = env("DPOP_SAMPLE_API_LISTEN", dpop_sample::DEFAULT_API_LISTEN);
    let api_url = env("DPOP_SAMPLE_API_URL", &format!("http://{listen}"));
    match std::env::args().nth(1).as_deref() {
        Some("api") => serve_api(&issuer, &listen, &api_url).await,
        Some("worker") => run_worker(&issuer, &api_url).await,
        Some("app") => run_app(&issuer, &api_url).await,
        _ => {
            eprintln!("usage: dpop-sample api | worker | app   (see examples/dpop/README.md)");
            std::process::exit(2);
        }
    }
}

async fn serve_api(issuer: &str, listen: &str, api_url: &str) -> anyhow::Result<()> {
    let validator = dpop_sample::api::validator(issuer, api_url)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%api_url, %issuer, "orders API listening");
    axum::serve(listener, dpop_sample::api::router(validator))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn run_worker(issuer: &str, api_url: &str) -> anyhow::Result<()> {
    let worker = Worker::connect(issuer, api_url).await?;
    println!("worker key thumbprint: {}", worker.thumbprint());
    let token = worker.token().await?;
    println!(
        "token type: {} (expires {})",
        token.token_type, token.expires_at
    );
    for round in 1..=3 {
        let orders = worker.list_orders().await?;
        println!("call {round}: {orders}");
    }
    Ok(())
}

async fn run_app(issuer: &str, api_url: &str) -> anyhow::Result<()> {
    let redirect = url::Url::parse(dpop_sample::APP_REDIRECT_URI)?;
    let listen = format!(
        "{}:{}",
        redirect.host_str().unwrap_or("127.0.0.1"),
        redirect.port().unwrap_or(7074)
    );
    let app = InteractiveApp::connect(issuer, api_url, dpop_sample::APP_REDIRECT_URI).await?;
    let authorization = app.authorization();
    let callback = wait_for_callback(&listen, &authorization.url).await?;
    let tokens = app.complete(&authorization, &callback).await?;
    println!(
        "signed in; token type {}, refresh token bound to key {}",
        tokens.token_type,
        app.key().thumbprint()
    );
    println!("orders: {}", app.list_orders().await?);
    app.refresh().await?;
    println!(
        "refreshed with the bound refresh token; orders: {}",
        app.list_orders().await?
    );
    Ok(())
}

/// Prints the sign-in URL and waits for the browser to come back to the redirect URI.
async fn wait_for_callback(listen: &str, sign_in: &url::Url) -> anyhow::Result<url::Url> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the callback"))?;
    let base = format!("http://{listen}");
    println!("open this URL in a browser and sign in as alice/alice:\n\n  {sign_in}\n");
    let (sender, receiver) = tokio::sync::oneshot::channel::<url::Url>();
    let sender = std::sync::Arc::new(std::sync::Mutex::new(Some(sender)));
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |uri: axum::http::Uri| {
            let sender = sender.clone();
            let url = url::Url::parse(&format!("{base}{uri}"));
            async move {
                let sender = sender.lock().ok().and_then(|mut sender| sender.take());
                if let (Ok(url), Some(sender)) = (url, sender) {
                    let _ = sender.send(url);
                }
                "Signed in. You can close this window and go back to the terminal."
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let callback = receiver.await.context("the callback listener stopped")?;
    server.abort();
    Ok(callback)
}
