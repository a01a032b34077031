//! `oxidp`: the identity server's command line — run the server, migrate the database, manage
//! signing keys.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use oxidp_server::config::{Config, LogFormat};
use oxidp_server::{Server, redact_url, shutdown_signal};
use std::path::PathBuf;
use std::process::ExitCode;

mod clients;
mod keys;
mod sessions;
mod table;
mod users;

/// oxidp — an OpenID Connect and OAuth 2.0 identity provider.
#[derive(Debug, Parser)]
#[command(name = "oxidp", version, about, long_about = None)]
struct Cli {
    /// Log to standard error (commands other than `serve` print only their results unless
    /// asked).
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// Whether `-v` was given: the commands other than `serve` log only then.
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
    /// Load and validate the configuration (file, demo, environment), print what would be
    /// warned about at start-up, and exit: 0 when the server would start with it.
    CheckConfig(ConfigArgs),
    /// Write a consistent copy of the SQLite database while the server runs (PostgreSQL: use
    /// pg_dump). Restore by stopping the server and putting the copy in the database's place.
    Backup {
        #[command(flatten)]
        config: ConfigArgs,
        /// Where to write the copy; must not exist yet.
        #[arg(value_name = "FILE")]
        target: PathBuf,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// List, show, enable and disable clients.
    Clients {
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Manage local users.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// List and revoke server-side sessions (back-channel logout is delivered by a running server).
    Sessions {
        #[command(subcommand)]
        command: sessions::SessionsCommand,
    },
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(self.demo, self.config.as_deref())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
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
        Command::CheckConfig(args) => {
            let config = args.load()?;
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            println!(
                "configuration is valid: listen {}, issuer {}, store {}",
                config.server.listen,
                config
                    .server
                    .issuer
                    .clone()
                    .unwrap_or_else(|| format!("http://{} (default)", config.server.listen)),
                redact_url(&config.store.url)
            );
            Ok(())
        }
        Command::Serve(args) => {
            let stop = shutdown_signal();
            let config = args.load()?;
            VERBOSE.store(true, std::sync::atomic::Ordering::Relaxed);
            init_logging(&config);
            let server = Server::build(config).await?;
            tracing::info!(address = %server.address(), issuer = %server.issuer(), "oxidp is listening");
            server.run_until_stopped(stop).await?;
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
        Command::Backup { config, target } => {
            let config = config.load()?;
            init_logging(&config);
            if oxidp_store::Backend::from_url(&config.store.url)? == oxidp_store::Backend::Postgres
            {
                return Err(oxidp_store::BackupError::Unsupported.into());
            }
            let database = oxidp_server::open_database(&config.store.url, 1).await?;
            let result = database.backup_to(&target).await;
            database.close().await;
            result.with_context(|| format!("backing up {}", redact_url(&config.store.url)))?;
            let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
            println!("backup written to {} ({size} bytes)", target.display());
            Ok(())
        }
        Command::Keys { command } => keys::run(command).await,
        Command::Users { command } => users::run(command).await,
        Command::Clients { command } => clients::run(command).await,
        Command::Sessions { command } => sessions::run(command).await,
    }
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Logging for a command other than `serve`: its results go to standard output, and logs only
/// with `-v`, so a script reading the output gets just the results.
pub(crate) fn init_logging(config: &Config) {
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        init_server_logging(config);
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
    }
}

/// The server's logs on standard error: RFC 3339 UTC timestamps, colours only on a terminal.
fn init_server_logging(config: &Config) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
