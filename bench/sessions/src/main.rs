//! Server-side session benchmark (`bench/sessions`): with a million session records in SQLite
//! or PostgreSQL, how much does the authenticated-request path cost, and how much memory does
//! it take?
//!
//! The path measured is [`SessionService::authenticate`](oxidp_core::services::SessionService::authenticate)
//! with server-side sessions on: cookie value (the session key) → one row by primary key →
//! data-protection decrypt of the ticket → expiry check. It is what every browser request of
//! the server does first.
//!
//! Two subcommands:
//!
//! * `populate` fills a database with users and sessions whose tickets are real: the first
//!   sessions go through `SessionService::sign_in` (the server's own path, one `INSERT` each);
//!   the rest are sealed one by one by the same [`ServerSideTicketStore`](oxidp_core::services::ServerSideTicketStore)
//!   (same data-protection key ring, same purpose; each ticket is encrypted on its own) into a
//!   throwaway in-memory session store, then copied into the database with multi-row `INSERT`s.
//!   A random sample of keys is written to a file.
//! * `measure` opens the database like the server does, warms up, then times `authenticate`
//!   for every sampled key, sequentially (latency) or from N tasks (throughput), and prints
//!   percentiles and this process's resident memory.
//!
//! Session management (issue 5, "Performance"), on the same populated database:
//!
//! * `query` times `SessionManagementService::query_sessions` for a page of 25 at page 1 and
//!   at a deep page (10,000), unfiltered and with each filter.
//! * `revoke` times `remove_sessions` for users with 100 sessions x 3 back-channel clients, and
//!   the one commit (sessions, grants, 300 outbox messages) inside it.
//! * `outbox` starts the real server on the database and measures how fast its delivery worker
//!   drains the outbox to a receiver in this process.
//!
//! `bench/sessions/run.sh` runs them all against both backends and then checks the real server.

mod cleanup;
mod db;
mod measure;
mod outbox;
mod populate;
mod query;
mod revoke;

use clap::{Parser, Subcommand};

/// Server-side session benchmark.
#[derive(Debug, Parser)]
#[command(name = "oxidp-bench-sessions", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates users and server-side sessions with real encrypted tickets.
    Populate(populate::Args),
    /// Times the authenticated-request path over sampled session keys.
    Measure(measure::Args),
    /// Times session-management queries (a page of 25) at page 1 and deep pages, per filter.
    Query(query::Args),
    /// Times the removal of users with 100 sessions x 3 back-channel clients each.
    Revoke(revoke::Args),
    /// Measures how fast the real server drains the back-channel outbox to a local receiver.
    Outbox(outbox::Args),
    /// Makes every session expired and times the real server's cleanup job draining them
    /// while token requests run.
    Cleanup(cleanup::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    oxidp_jose::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Populate(args) => populate::run(args).await,
            Command::Measure(args) => measure::run(args).await,
            Command::Query(args) => query::run(args).await,
            Command::Revoke(args) => revoke::run(args).await,
            Command::Outbox(args) => outbox::run(args).await,
            Command::Cleanup(args) => cleanup::run(args).await,
        }
    })
}

/// Resident memory of this process from `/proc/self/status`: (`VmRSS`, `VmHWM`) in KiB.
pub(crate) fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time and run-queue wait of every thread of this process, in nanoseconds, from
/// `/proc/self/task/*/schedstat`: how much CPU the calls cost, and how long runnable threads
/// waited for a core (the machine's other load).
pub(crate) fn sched_ns() -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let mut totals = (0, 0);
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        totals.0 += fields.next().unwrap_or(0);
        totals.1 += fields.next().unwrap_or(0);
    }
    totals
}

/// A small, fast pseudo-random generator (SplitMix64) for choosing users and instants; keys and
/// session ids come from the system generator, as in the server.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    /// Seeded from the system generator.
    pub(crate) fn from_entropy() -> Self {
        Self(u64::from_le_bytes(oxidp_jose::random_bytes::<8>()))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the modulo bias is negligible here).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
