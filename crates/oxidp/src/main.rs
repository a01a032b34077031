//! `oxidp`: the identity server's command line — run the server, migrate the database, manage
//! signing keys.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use oxidp_core::clock::SystemClock;
use oxidp_core::services::IdentityServer;
use oxidp_jose::SigningAlgorithm;
use oxidp_server::config::{Config, LogFormat};
use oxidp_server::{Server, open_stores, redact_url, shutdown_signal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod users;

/// oxidp — an OpenID Connect and OAuth 2.0 identity provider.
#[derive(Debug, Parser)]
#[command(name = "oxidp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, short, env = "OXIDP_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Load the committed demo configuration (demo clients and API) first; --config layers on top.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the identity server until SIGINT or SIGTERM.
    Serve(ConfigArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(ConfigArgs),
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage local users.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys and their schedule.
    List(ConfigArgs),
    /// Create a new signing key. It is published at once and signs after the announcement
    /// period, unless --now is given.
    Rotate {
        #[command(flatten)]
        config: ConfigArgs,
        /// Algorithm of the new key (default: the first configured algorithm).
        #[arg(long)]
        algorithm: Option<SigningAlgorithm>,
        /// Sign with the new key at once (for a compromised key; APIs that cached the old JWKS
        /// fail to verify new tokens until they refresh).
        #[arg(long)]
        now: bool,
    },
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(self.demo, self.config.as_deref())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The chain of causes, without a backtrace: operators need the message, not frames.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.load()?;
            init_logging(&config);
            let server = Server::build(config).await?;
            tracing::info!(address = %server.address(), issuer = %server.issuer(), "oxidp is listening");
            server.run_until_stopped(shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate(args) => {
            let config = args.load()?;
            init_logging(&config);
            oxidp_store::migrate(&config.store.url)
                .await
                .with_context(|| format!("migrating {}", redact_url(&config.store.url)))?;
            println!(
                "database at {} is up to date",
                redact_url(&config.store.url)
            );
            Ok(())
        }
        Command::Keys { command } => keys(command).await,
        Command::Users { command } => users::run(command).await,
    }
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let args = match &command {
        KeysCommand::List(args) | KeysCommand::Rotate { config: args, .. } => args,
    };
    let config = args.load()?;
    init_logging(&config);
    let stores = open_stores(&config.store.url, 2).await?;
    let options = config.identity_server_options(config.server.listen)?;
    let idp = IdentityServer::new(options, stores, Arc::new(SystemClock));
    let keys = &idp.context.keys;
    if let KeysCommand::Rotate { algorithm, now, .. } = command {
        let algorithm = algorithm.unwrap_or(config.keys.algorithms[0]);
        let key = keys.rotate(algorithm, now).await?;
        println!(
            "created {} key {} (published now, signs from {})",
            key.algorithm,
            key.kid,
            rfc3339(key.activates)
        );
        return Ok(());
    }
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

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
