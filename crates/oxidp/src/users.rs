//! `oxidp users ...`: add, list, enable and disable local users, set their passwords, roles
//! and claims.
//!
//! Each command opens the configured store, does one thing through the core's
//! [`UserService`] and exits. Passwords come from standard input (`--password-stdin`, or
//! implicitly when standard input is not a terminal) or from `--password`; they are held as a
//! [`Password`], which never prints, and are hashed with the configured argon2id parameters.

use crate::ConfigArgs;
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use oxidp_core::clock::SystemClock;
use oxidp_core::model::User;
use oxidp_core::users::{Password, UserError, UserService};
use oxidp_server::open_stores;
use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _};
use std::sync::Arc;

/// `oxidp users <command>`
#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user. The password is read from standard input unless --password is given.
    Add {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// The `name` claim (display name).
        #[arg(long)]
        name: Option<String>,
        /// The `email` claim.
        #[arg(long)]
        email: Option<String>,
        /// Set the `email_verified` claim to true.
        #[arg(long, requires = "email")]
        email_verified: bool,
        /// A role (repeat for several); `admin` opens the admin pages.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// The subject id (`sub`); a random 128-bit one by default.
        #[arg(long)]
        subject_id: Option<String>,
    },
    /// List users, ordered by username.
    List(ConfigArgs),
    /// Replace a user's password.
    SetPassword {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Stop a user from signing in.
    Disable {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
    },
    /// Replace a user's roles (none given: no roles). Takes effect at the user's next token or
    /// page, within the user cache duration on other instances.
    SetRoles {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
        /// A role (repeat for several); `admin` opens the admin pages.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// Set or remove claims of a user; the other claims stay.
    SetClaims {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        username: String,
        /// NAME=VALUE; VALUE is taken as JSON when it parses (true, 42, ["a"]), as text otherwise.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// A claim to remove (repeat for several).
        #[arg(long = "unset", value_name = "NAME")]
        unset: Vec<String>,
    },
}

/// Where the password comes from.
#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// The password. It shows in the process list and shell history: prefer --password-stdin.
    #[arg(long, value_name = "PASSWORD")]
    password: Option<Password>,
}

impl PasswordArgs {
    /// The password: `--password`, else standard input if asked for or not a terminal.
    fn read(self) -> anyhow::Result<Password> {
        if let Some(password) = self.password {
            return Ok(password);
        }
        let stdin = std::io::stdin();
        if !self.password_stdin && stdin.is_terminal() {
            bail!(
                "no password given: pipe it in with --password-stdin (for example \
                 `printf '%s' \"$PASSWORD\" | oxidp users ... --password-stdin`) or use --password"
            );
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            bail!("the password read from standard input is empty");
        }
        Ok(Password::new(password))
    }
}

/// Runs one `oxidp users` command.
pub(crate) async fn run(command: UsersCommand) -> anyhow::Result<()> {
    let config = match &command {
        UsersCommand::Add { config, .. }
        | UsersCommand::List(config)
        | UsersCommand::SetPassword { config, .. }
        | UsersCommand::Disable { config, .. }
        | UsersCommand::Enable { config, .. }
        | UsersCommand::SetRoles { config, .. }
        | UsersCommand::SetClaims { config, .. } => config.load()?,
    };
    crate::init_logging(&config);
    let stores = open_stores(&config.store.url, 2).await?;
    let service = UserService::new(
        stores.users,
        config.password_hashing.hasher()?,
        Arc::new(SystemClock),
    );
    match command {
        UsersCommand::Add {
            username,
            password,
            name,
            email,
            email_verified,
            roles,
            subject_id,
            ..
        } => {
            let password = password.read()?;
            let mut claims = BTreeMap::new();
            if let Some(name) = name {
                claims.insert("name".to_owned(), name.into());
            }
            if let Some(email) = email {
                claims.insert("email".to_owned(), email.into());
                claims.insert("email_verified".to_owned(), email_verified.into());
            }
            let user = service
                .create_user(&username, Some(password), claims, roles, subject_id)
                .await;
            let user = match user {
                Ok(user) => user,
                Err(UserError::Conflict) => {
                    if service.find_user(&username).await?.is_some() {
                        bail!("cannot add user `{username}`: a user with this username exists");
                    }
                    bail!("cannot add user `{username}`: the subject id belongs to another user");
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("cannot add user `{username}`"));
                }
            };
            println!("added user {} (subject {})", user.username, user.subject_id);
        }
        UsersCommand::List(_) => print_table(&service.list_users().await?),
        UsersCommand::SetPassword {
            username, password, ..
        } => {
            let password = password.read()?;
            let user = service
                .set_password(&username, password)
                .await
                .map_err(|e| not_found(e, &username))?;
            println!("password of {} changed", user.username);
        }
        UsersCommand::Disable { username, .. } => set_enabled(&service, &username, false).await?,
        UsersCommand::Enable { username, .. } => set_enabled(&service, &username, true).await?,
        UsersCommand::SetRoles {
            username, roles, ..
        } => {
            let user = service
                .set_roles(&username, roles)
                .await
                .map_err(|e| not_found(e, &username))?;
            let roles = if user.roles.is_empty() {
                "none".to_owned()
            } else {
                user.roles.join(", ")
            };
            println!("roles of {}: {roles}", user.username);
        }
        UsersCommand::SetClaims {
            username,
            set,
            unset,
            ..
        } => {
            let changes = claim_changes(&set, &unset)?;
            let user = service
                .set_claims(&username, changes)
                .await
                .map_err(|e| not_found(e, &username))?;
            println!(
                "claims of {}: {}",
                user.username,
                serde_json::to_string(&user.claims)?
            );
        }
    }
    Ok(())
}

/// `--set NAME=VALUE` and `--unset NAME` as changes; a VALUE that is valid JSON is taken as
/// JSON, anything else as text.
fn claim_changes(
    set: &[String],
    unset: &[String],
) -> anyhow::Result<BTreeMap<String, Option<serde_json::Value>>> {
    if set.is_empty() && unset.is_empty() {
        bail!("nothing to change: give --set NAME=VALUE or --unset NAME");
    }
    let mut changes = BTreeMap::new();
    for entry in set {
        let Some((name, value)) = entry.split_once('=') else {
            bail!("--set {entry}: expected NAME=VALUE");
        };
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        changes.insert(name.to_owned(), Some(value));
    }
    for name in unset {
        changes.insert(name.clone(), None);
    }
    Ok(changes)
}

async fn set_enabled(service: &UserService, username: &str, enabled: bool) -> anyhow::Result<()> {
    let user = service
        .set_enabled(username, enabled)
        .await
        .map_err(|e| not_found(e, username))?;
    let status = if user.enabled { "enabled" } else { "disabled" };
    println!("user {} {status}", user.username);
    Ok(())
}

/// A [`UserError::NotFound`] that names the username.
fn not_found(error: UserError, username: &str) -> anyhow::Error {
    match error {
        UserError::NotFound => anyhow::anyhow!("no user with the username `{username}`"),
        other => anyhow::Error::new(other).context(format!("cannot change user `{username}`")),
    }
}

/// The columns of `oxidp users list`.
const HEADER: [&str; 6] = ["SUBJECT", "USERNAME", "ENABLED", "ROLES", "NAME", "EMAIL"];

/// Prints users as an aligned table.
fn print_table(users: &[User]) {
    let claim = |user: &User, name: &str| {
        user.claims
            .get(name)
            .and_then(|value| value.as_str())
            .unwrap_or("-")
            .to_owned()
    };
    let rows: Vec<[String; 6]> = users
        .iter()
        .map(|user| {
            [
                user.subject_id.clone(),
                user.username.clone(),
                if user.enabled { "yes" } else { "no" }.to_owned(),
                if user.roles.is_empty() {
                    "-".to_owned()
                } else {
                    user.roles.join(",")
                },
                claim(user, "name"),
                claim(user, "email"),
            ]
        })
        .collect();
    crate::table::print(HEADER, &rows);
}
