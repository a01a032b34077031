//! Runs the session-management sample: the identity server, the web app and the API, until
//! Ctrl-C. See the README for the walk-through; `SampleOptions::from_env` lists the settings.

use session_management_sample::{Sample, SampleOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let sample = Sample::start(SampleOptions::from_env()?).await?;
    tracing::info!(
        identity_server = sample.issuer(),
        admin_page = format!("{}/admin/sessions", sample.issuer()),
        web_app = %sample.web_url(),
        api = %sample.api_url(),
        "session-management sample running; open the web app and sign in as alice/alice"
    );
    sample
        .run_until_stopped(oxidp_server::shutdown_signal())
        .await
}
