//! Runs the JWT-secured function behind a local HTTP listener (`JWT_FUNCTION_LISTEN`, default
//! `127.0.0.1:7071`). See the README for the one command that tries it against the demo server.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listen = std::env::var("JWT_FUNCTION_LISTEN").unwrap_or_else(|_| "127.0.0.1:7071".into());
    let validator = jwt_function::validator_from_env()?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        issuer = validator.options().issuer(),
        audience = validator.options().audience(),
        "jwt-function listening"
    );
    axum::serve(listener, jwt_function::router(validator))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
