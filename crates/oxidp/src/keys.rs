//! `oxidp keys`: list and rotate the signing keys and the data-protection key ring.

use crate::{ConfigArgs, init_logging, rfc3339};
use clap::{Subcommand, ValueEnum};
use oxidp_core::clock::SystemClock;
use oxidp_core::services::IdentityServer;
use oxidp_jose::SigningAlgorithm;
use oxidp_server::open_stores;
use std::sync::Arc;

/// Which key set a command acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Purpose {
    /// The keys that sign tokens (published in JWKS).
    #[default]
    Signing,
    /// The AES keys that encrypt secrets at rest (signing keys' private parts, sessions).
    DataProtection,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys and their schedule.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Which keys.
        #[arg(long, value_enum, default_value_t)]
        purpose: Purpose,
    },
    /// Create a new key. A signing key is published at once and signs after the announcement
    /// period (unless --now); a data-protection key encrypts at once, older ones keep decrypting.
    Rotate {
        #[command(flatten)]
        config: ConfigArgs,
        /// Which keys.
        #[arg(long, value_enum, default_value_t)]
        purpose: Purpose,
        /// Algorithm of the new signing key (default: the first configured algorithm).
        #[arg(long)]
        algorithm: Option<SigningAlgorithm>,
        /// Sign with the new key at once (for a compromised key; APIs that cached the old JWKS
        /// fail to verify new tokens until they refresh).
        #[arg(long)]
        now: bool,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let (KeysCommand::List {
        config: args,
        purpose,
    }
    | KeysCommand::Rotate {
        config: args,
        purpose,
        ..
    }) = &command;
    let purpose = *purpose;
    let config = args.load()?;
    init_logging(&config);
    let stores = open_stores(&config.store.url, 2).await?;
    let options = config.identity_server_options(config.server.listen)?;
    let idp = IdentityServer::new(options, stores, Arc::new(SystemClock));
    match (command, purpose) {
        (KeysCommand::Rotate { algorithm, now, .. }, Purpose::Signing) => {
            let algorithm = algorithm.unwrap_or(config.keys.algorithms[0]);
            let key = idp.keys().rotate(algorithm, now).await?;
            println!(
                "created {} key {} (published now, signs from {})",
                key.algorithm,
                key.kid,
                rfc3339(key.activates)
            );
        }
        (KeysCommand::Rotate { .. }, Purpose::DataProtection) => {
            let id = idp.protector().rotate().await?;
            println!(
                "created data-protection key {id}; it encrypts from now on, older keys keep decrypting"
            );
        }
        (KeysCommand::List { .. }, Purpose::Signing) => list_signing(&idp).await?,
        (KeysCommand::List { .. }, Purpose::DataProtection) => {
            let current = idp.protector().maintain().await?;
            println!(
                "{:<36} {:<8} {:<21} {:<21} SEALED",
                "ID", "STATUS", "ACTIVATES", "EXPIRES"
            );
            for key in idp.protector().list().await? {
                let status = if key.id == current { "current" } else { "-" };
                let sealed = oxidp_jose::data_protection::master::is_sealed(&key.material);
                println!(
                    "{:<36} {:<8} {:<21} {:<21} {}",
                    key.id,
                    status,
                    rfc3339(key.activates),
                    rfc3339(key.expires),
                    if sealed { "yes" } else { "no" }
                );
            }
        }
    }
    Ok(())
}

async fn list_signing(idp: &IdentityServer) -> anyhow::Result<()> {
    let keys = idp.keys();
    keys.maintain().await?;
    println!(
        "{:<44} {:<6} {:<10} {:<21} {:<21} REMOVED",
        "KID", "ALG", "STATUS", "SIGNS FROM", "RETIRES"
    );
    for key in keys.list().await? {
        let show = |t: Option<time::OffsetDateTime>| t.map_or_else(|| "-".to_owned(), rfc3339);
        println!(
            "{:<44} {:<6} {:<10} {:<21} {:<21} {}",
            key.kid,
            key.algorithm,
            format!("{:?}", key.status).to_lowercase(),
            rfc3339(key.activates),
            show(key.retires),
            show(key.removed)
        );
    }
    Ok(())
}
