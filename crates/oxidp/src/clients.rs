//! `oxidp clients ...`: list, show, enable and disable the clients in the store (those seeded
//! from the configuration and any other), through the core's client registry.

use crate::{ConfigArgs, init_logging};
use anyhow::bail;
use clap::Subcommand;
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{AccessTokenType, Client};
use oxidp_core::services::IdentityServer;
use oxidp_server::open_stores;
use std::sync::Arc;

/// `oxidp clients <command>`
#[derive(Debug, Subcommand)]
pub(crate) enum ClientsCommand {
    /// List every client, ordered by client id.
    List(ConfigArgs),
    /// Show one client's registration as JSON (secrets appear only as their hashes).
    Show {
        #[command(flatten)]
        config: ConfigArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Stop a client from authenticating (no new tokens; tokens it holds run out or are
    /// revoked). A client declared in the configuration file is enabled again at the next
    /// start unless the file says `enabled = false`.
    Disable {
        #[command(flatten)]
        config: ConfigArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Let a disabled client authenticate again.
    Enable {
        #[command(flatten)]
        config: ConfigArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// Runs one `oxidp clients` command.
pub(crate) async fn run(command: ClientsCommand) -> anyhow::Result<()> {
    let (ClientsCommand::List(config)
    | ClientsCommand::Show { config, .. }
    | ClientsCommand::Disable { config, .. }
    | ClientsCommand::Enable { config, .. }) = &command;
    let config = config.load()?;
    init_logging(&config);
    let stores = open_stores(&config.store.url, 2).await?;
    let options = config.identity_server_options(config.server.listen)?;
    let idp = IdentityServer::new(options, stores, Arc::new(SystemClock));
    match command {
        ClientsCommand::List(_) => print_table(&idp.clients.list().await?),
        ClientsCommand::Show { client_id, .. } => match idp.clients.find(&client_id).await? {
            Some(client) => println!("{}", serde_json::to_string_pretty(&client)?),
            None => bail!("no client with the id `{client_id}`"),
        },
        ClientsCommand::Disable { client_id, .. } => set_enabled(&idp, &client_id, false).await?,
        ClientsCommand::Enable { client_id, .. } => set_enabled(&idp, &client_id, true).await?,
    }
    Ok(())
}

async fn set_enabled(idp: &IdentityServer, client_id: &str, enabled: bool) -> anyhow::Result<()> {
    match idp.clients.set_enabled(client_id, enabled).await? {
        Some(client) => {
            let status = if client.enabled {
                "enabled"
            } else {
                "disabled"
            };
            println!("client {} {status}", client.client_id);
            Ok(())
        }
        None => bail!("no client with the id `{client_id}`"),
    }
}

/// The columns of `oxidp clients list`.
const HEADER: [&str; 5] = ["CLIENT_ID", "ENABLED", "GRANT_TYPES", "TOKEN", "NAME"];

/// Prints clients as an aligned table.
fn print_table(clients: &[Client]) {
    let rows: Vec<[String; 5]> = clients
        .iter()
        .map(|client| {
            [
                client.client_id.clone(),
                if client.enabled { "yes" } else { "no" }.to_owned(),
                client
                    .allowed_grant_types
                    .iter()
                    .map(|grant| grant.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                match client.access_token_type {
                    AccessTokenType::Jwt => "jwt",
                    AccessTokenType::Reference => "reference",
                }
                .to_owned(),
                client.client_name.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    crate::table::print(HEADER, &rows);
}
