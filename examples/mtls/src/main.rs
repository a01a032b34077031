//! `cargo run -p mtls-sample -- demo [DIR]`: generates a throwaway PKI into DIR (default
//! `target/mtls-sample`), starts oxidp over HTTPS with its mTLS host and an API that checks
//! certificate binding, and runs the machine client against both.
//!
//! `cargo run -p mtls-sample -- generate DIR`: only writes the PKI and `oxidp.toml` (for
//! `oxidp serve --config DIR/oxidp.toml`).

use std::path::PathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "demo".to_owned());
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/mtls-sample".to_owned()),
    );
    match command.as_str() {
        "generate" => {
            let pki = mtls_sample::Pki::generate(&dir)?;
            let config = mtls_sample::oxidp_config(&pki, "127.0.0.1:5443", "127.0.0.1:5444");
            std::fs::write(dir.join("oxidp.toml"), config)?;
            println!(
                "wrote the CA, server and client certificates and oxidp.toml to {}",
                dir.display()
            );
        }
        "demo" => {
            let outcome = mtls_sample::demo(&dir).await?;
            println!("token endpoint (mTLS alias): {}", outcome.token_endpoint);
            println!(
                "token bound to x5t#S256:     {}",
                outcome.bound_to.as_deref().unwrap_or("(none)")
            );
            println!(
                "API with its own certificate:  {}",
                outcome.with_own_certificate
            );
            println!(
                "API with another certificate:  {}",
                outcome.with_other_certificate
            );
            println!(
                "  WWW-Authenticate: {}",
                outcome.refusal.as_deref().unwrap_or("-")
            );
        }
        other => anyhow::bail!("unknown command `{other}`: use `demo [DIR]` or `generate DIR`"),
    }
    Ok(())
}
