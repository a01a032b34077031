//! `oxidp sessions ...`: list and revoke server-side sessions in the configured database.
//!
//! Both commands build the core services over the configured store, as the server does, and call
//! [`SessionManagementService`](oxidp_core::services::SessionManagementService). A revocation is
//! one commit (sessions, grants and the back-channel logout notifications in the outbox) and is
//! recorded in the audit trail as `cli:<$USER>`. The notifications are delivered by a running
//! `oxidp serve` on the same database, not by this command.

use crate::{ConfigArgs, init_logging, rfc3339};
use anyhow::{Context as _, bail};
use clap::{ArgGroup, Subcommand};
use oxidp_core::clock::SystemClock;
use oxidp_core::model::{QueryResult, SessionQuery};
use oxidp_core::services::{AdminContext, IdentityServer, RemoveSessionsContext, UserSession};
use oxidp_server::config::Config;
use oxidp_server::open_stores;
use std::sync::Arc;

/// `oxidp sessions <command>`
#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// List server-side sessions, one page at a time (oldest first; with --display-name, by
    /// display name, then oldest first).
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Only this subject id (exact).
        #[arg(long, value_name = "SUBJECT", allow_hyphen_values = true)]
        subject: Option<String>,
        /// Only this session id (exact).
        #[arg(long, value_name = "SID", allow_hyphen_values = true)]
        sid: Option<String>,
        /// Only display names starting with this (case-sensitive); the sessions are then
        /// listed by display name, then oldest first.
        #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
        display_name: Option<String>,
        /// Sessions per page (at most 1000).
        #[arg(long, value_name = "N", default_value_t = 25)]
        page_size: u32,
        /// The token of the page you are on, as printed by a previous run: shows the next page
        /// (or, with --prior, the previous one).
        #[arg(long, value_name = "TOKEN", allow_hyphen_values = true)]
        page_token: Option<String>,
        /// Go back from --page-token instead of forward.
        #[arg(long, requires = "page_token")]
        prior: bool,
    },
    /// Remove a user's or one session's server-side sessions (signing the browsers out), revoke
    /// their tokens and consents, and enqueue back-channel logout notifications.
    ///
    /// The notifications are written to the outbox in the database and delivered (with
    /// retries) by a running `oxidp serve` on the same database, not by this command. The
    /// revocation is recorded in the audit trail as `cli:<$USER>`.
    #[command(group(ArgGroup::new("target").required(true).multiple(true).args(["subject", "sid"])))]
    Revoke {
        #[command(flatten)]
        config: ConfigArgs,
        /// Every session of this subject id.
        #[arg(long, value_name = "SUBJECT", allow_hyphen_values = true)]
        subject: Option<String>,
        /// The session with this id.
        #[arg(long, value_name = "SID", allow_hyphen_values = true)]
        sid: Option<String>,
        /// Only this client's tokens, consents and notifications (repeat for several); the
        /// sessions are removed all the same unless --keep-session.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        clients: Vec<String>,
        /// Keep the session records (the browsers stay signed in).
        #[arg(long)]
        keep_session: bool,
        /// Keep refresh tokens, reference tokens, authorization codes and CIBA requests.
        #[arg(long)]
        keep_tokens: bool,
        /// Keep consents. (Consents are per user and client: with --sid, those of the clients
        /// the session used are revoked.)
        #[arg(long)]
        keep_consents: bool,
        /// Send no back-channel logout notifications.
        #[arg(long)]
        no_backchannel: bool,
    },
}

/// Runs one `oxidp sessions` command.
pub(crate) async fn run(command: SessionsCommand) -> anyhow::Result<()> {
    let (SessionsCommand::List { config: args, .. } | SessionsCommand::Revoke { config: args, .. }) =
        &command;
    let config = args.load()?;
    init_logging(&config);
    if !config.server_side_sessions.enabled {
        bail!(
            "server-side sessions are not enabled in this configuration \
             (set `[server_side_sessions] enabled = true`): there are no sessions to manage"
        );
    }
    let idp = identity_server(&config).await?;
    let sessions = &idp.session_management;
    match command {
        SessionsCommand::List {
            subject,
            sid,
            display_name,
            page_size,
            page_token,
            prior,
            ..
        } => {
            let query = SessionQuery {
                results_token: page_token,
                request_prior_results: prior,
                count_requested: page_size,
                subject_id: subject,
                session_id: sid,
                display_name,
            };
            let page = sessions
                .query_sessions(&query)
                .await
                .context("cannot list the sessions")?;
            print_page(&page);
        }
        SessionsCommand::Revoke {
            subject,
            sid,
            clients,
            keep_session,
            keep_tokens,
            keep_consents,
            no_backchannel,
            ..
        } => {
            let non_empty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
            let context = RemoveSessionsContext {
                subject_id: non_empty(subject),
                session_id: non_empty(sid),
                client_ids: (!clients.is_empty()).then_some(clients),
                remove_server_side_session: !keep_session,
                revoke_tokens: !keep_tokens,
                revoke_consents: !keep_consents,
                send_backchannel_logout_notification: !no_backchannel,
            };
            if context.subject_id.is_none() && context.session_id.is_none() {
                bail!("give --subject or --sid (or both): which sessions to revoke");
            }
            let summary = sessions
                .remove_sessions_audited(&context, &operator())
                .await
                .context("cannot revoke the sessions")?;
            println!(
                "{} session(s) matched, {} removed, {} back-channel logout notification(s) enqueued",
                summary.sessions_matched, summary.sessions_removed, summary.notifications_enqueued
            );
            if summary.notifications_enqueued > 0 {
                println!("a running oxidp server on this database delivers the notifications");
            }
        }
    }
    Ok(())
}

/// The core services over the configured store, as `oxidp serve` builds them.
async fn identity_server(config: &Config) -> anyhow::Result<IdentityServer> {
    let stores = open_stores(&config.store.url, 2).await?;
    let options = config.identity_server_options(config.server.listen)?;
    Ok(IdentityServer::new(options, stores, Arc::new(SystemClock)))
}

/// The operator at the command line, named `cli:<$USER>` in the audit trail.
fn operator() -> AdminContext {
    AdminContext::for_local_operator(&std::env::var("USER").unwrap_or_default())
}

/// Prints a page as an aligned table, then where it is and how to move on.
fn print_page(page: &QueryResult<UserSession>) {
    if page.results.is_empty() {
        println!("no sessions found");
    } else {
        let header = [
            "SUBJECT",
            "SID",
            "DISPLAY NAME",
            "CLIENTS",
            "CREATED",
            "RENEWED",
            "EXPIRES",
        ];
        let rows: Vec<[String; 7]> = page
            .results
            .iter()
            .map(|s| {
                [
                    s.subject_id.clone(),
                    s.session_id.clone(),
                    s.display_name.clone().unwrap_or_else(|| "-".to_owned()),
                    if s.client_ids.is_empty() {
                        "-".to_owned()
                    } else {
                        s.client_ids.join(",")
                    },
                    rfc3339(s.created),
                    rfc3339(s.renewed),
                    s.expires.map_or_else(|| "never".to_owned(), rfc3339),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        print_row(&header.map(str::to_owned), &widths);
        for row in &rows {
            print_row(row, &widths);
        }
    }
    println!(
        "page {} of {}, {} session(s) in all",
        page.current_page, page.total_pages, page.total_count
    );
    if let Some(token) = &page.results_token {
        if page.has_next_results {
            println!("next page:     --page-token {token}");
        }
        if page.has_prev_results {
            println!("previous page: --page-token {token} --prior");
        }
    }
}

fn print_row(cells: &[String; 7], widths: &[usize; 7]) {
    let line = cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell:<width$}"))
        .collect::<Vec<_>>()
        .join("  ");
    println!("{}", line.trim_end());
}
