//! `measure`: times `SessionService::authenticate` over sampled session keys.

use crate::populate::ISSUER;
use crate::{memory_kib, sched_ns};
use anyhow::{Context as _, bail, ensure};
use oxidp_core::clock::SystemClock;
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::{IdentityServer, SessionService};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `measure`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Database URL, as given to `populate`.
    #[arg(long, env = "OXIDP_STORE__URL")]
    url: String,
    /// The keys file `populate` wrote: the first `--warmup` keys warm up, the next
    /// `--rounds` × `--samples` are timed.
    #[arg(long, default_value = "session-keys.txt")]
    keys: PathBuf,
    /// Calls timed (one per sampled key).
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// Untimed calls first, on other keys than the timed ones.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Timed passes, each over its own `--samples` keys (reported one by one and pooled).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Tasks calling at once: 1 measures latency, more measure throughput.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Pooled database connections (the server's default is 10).
    #[arg(long, default_value_t = 10)]
    max_connections: u32,
    /// A label for the RESULT line (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
}

/// What the timed calls found.
#[derive(Debug, Default)]
struct Outcome {
    latencies: Vec<Duration>,
    /// `authenticate` returned no session.
    missing: usize,
    /// `authenticate` failed.
    errors: usize,
    /// `authenticate` renewed the session (a write; none expected with the default options).
    renewed: usize,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.missing += other.missing;
        self.errors += other.errors;
        self.renewed += other.renewed;
    }
}

async fn call(sessions: &SessionService, key: &str, outcome: &mut Outcome) {
    let started = Instant::now();
    let result = sessions.authenticate(key).await;
    outcome.latencies.push(started.elapsed());
    match result {
        Ok(Some(authenticated)) => {
            if authenticated.renewed_cookie.is_some() {
                outcome.renewed += 1;
            }
        }
        Ok(None) => outcome.missing += 1,
        Err(error) => {
            if outcome.errors == 0 {
                eprintln!("authenticate failed: {error}");
            }
            outcome.errors += 1;
        }
    }
}

/// Percentiles (nearest rank) of latencies, in microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

impl Stats {
    pub(crate) fn of(latencies: &[Duration]) -> Self {
        let mut micros: Vec<u64> = latencies
            .iter()
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .collect();
        micros.sort_unstable();
        let percentile = |p: f64| {
            if micros.is_empty() {
                return 0;
            }
            let rank = (p / 100.0 * micros.len() as f64).ceil() as usize;
            micros[rank.clamp(1, micros.len()) - 1]
        };
        Self {
            p50: percentile(50.0),
            p90: percentile(90.0),
            p99: percentile(99.0),
            p999: percentile(99.9),
            max: micros.last().copied().unwrap_or(0),
            mean: micros.iter().sum::<u64>() as f64 / micros.len().max(1) as f64,
        }
    }
}

/// Calls `authenticate` once for every key, from `concurrency` tasks.
async fn timed_pass(
    sessions: &Arc<SessionService>,
    keys: Arc<Vec<String>>,
    concurrency: usize,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    if concurrency == 1 {
        for key in keys.iter() {
            call(sessions, key, &mut outcome).await;
        }
        return Ok(outcome);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (sessions, keys, next) = (sessions.clone(), keys.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            while let Some(key) = keys.get(next.fetch_add(1, Ordering::Relaxed)) {
                call(&sessions, key, &mut outcome).await;
            }
            outcome
        }));
    }
    for task in tasks {
        outcome.merge(task.await?);
    }
    Ok(outcome)
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.samples > 0, "--samples must be at least 1");
    ensure!(args.rounds > 0, "--rounds must be at least 1");
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let shown = oxidp_server::redact_url(&args.url);
    let text = std::fs::read_to_string(&args.keys)
        .with_context(|| format!("cannot read {}", args.keys.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.len() < args.warmup + args.rounds * args.samples {
        bail!(
            "{} holds {} keys; --warmup {} + --rounds {} x --samples {} need more",
            args.keys.display(),
            keys.len(),
            args.warmup,
            args.rounds,
            args.samples
        );
    }
    let (warmup, rest) = keys.split_at(args.warmup);

    // The stores as the server opens them, and the services as it builds them.
    let (rss_before, _) = memory_kib();
    let stores = oxidp_server::open_stores(&args.url, args.max_connections)
        .await
        .with_context(|| format!("cannot open {shown}"))?;
    let options = IdentityServerOptions::new(ISSUER).map_err(anyhow::Error::msg)?;
    let idp = IdentityServer::builder(options, stores, Arc::new(SystemClock))
        .server_side_sessions(None)
        .build();
    let sessions = idp.sessions.clone();

    let mut warm = Outcome::default();
    for key in warmup {
        call(&sessions, key, &mut warm).await;
    }
    ensure!(
        warm.missing + warm.errors == 0,
        "{} of {} warm-up keys did not authenticate ({} errors)",
        warm.missing + warm.errors,
        warmup.len(),
        warm.errors
    );

    println!(
        "authenticate (cookie -> record -> decrypt) on {shown}: {} round(s) of {} calls, \
         concurrency {}, pool {} connections",
        args.rounds, args.samples, args.concurrency, args.max_connections
    );
    let (cpu_before, wait_before) = sched_ns();
    let started = Instant::now();
    let mut outcome = Outcome::default();
    for (round, timed) in rest
        .chunks_exact(args.samples)
        .take(args.rounds)
        .enumerate()
    {
        let round_started = Instant::now();
        let pass = timed_pass(&sessions, Arc::new(timed.to_vec()), args.concurrency).await?;
        let seconds = round_started.elapsed().as_secs_f64();
        let stats = Stats::of(&pass.latencies);
        println!(
            "  round {}: p50 {}  p90 {}  p99 {}  max {} us; {:.0} calls/s",
            round + 1,
            stats.p50,
            stats.p90,
            stats.p99,
            stats.max,
            pass.latencies.len() as f64 / seconds.max(1e-9)
        );
        outcome.merge(pass);
    }
    let wall = started.elapsed().as_secs_f64();
    let (cpu_after, wait_after) = sched_ns();
    let (rss, hwm) = memory_kib();

    let Stats {
        p50,
        p90,
        p99,
        p999,
        max,
        mean,
    } = Stats::of(&outcome.latencies);
    let calls = outcome.latencies.len();
    let throughput = calls as f64 / wall.max(1e-9);
    let cpu_per_call = cpu_after.saturating_sub(cpu_before) as f64 / 1e3 / calls.max(1) as f64;
    let waited_ms = wait_after.saturating_sub(wait_before) as f64 / 1e6;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();

    println!(
        "  all {calls} calls, latency us: p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}  mean {mean:.0}"
    );
    println!("  throughput: {throughput:.0} calls/s over {wall:.2} s");
    println!(
        "  CPU of this process: {cpu_per_call:.0} us per call (all threads); its runnable \
         threads waited {waited_ms:.0} ms in all for a core (load average {})",
        load.join(" ")
    );
    println!(
        "  failures: {} missing, {} errors; {} renewals",
        outcome.missing, outcome.errors, outcome.renewed
    );
    println!(
        "  this process: VmRSS {:.1} MB, VmHWM {:.1} MB (VmRSS {:.1} MB before opening the store)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    let label = if args.label.is_empty() {
        "-"
    } else {
        &args.label
    };
    println!(
        "RESULT measure label={label} concurrency={} samples={calls} missing={} errors={} \
         p50_us={p50} p90_us={p90} p99_us={p99} p999_us={p999} max_us={max} \
         throughput={throughput:.0} cpu_us_per_call={cpu_per_call:.0} \
         runqueue_wait_ms={waited_ms:.0} load1={} rss_kb={rss} hwm_kb={hwm}",
        args.concurrency,
        outcome.missing,
        outcome.errors,
        load.first().copied().unwrap_or("?")
    );
    if outcome.missing + outcome.errors > 0 {
        bail!(
            "{} of {calls} sampled sessions did not authenticate ({} missing, {} errors)",
            outcome.missing + outcome.errors,
            outcome.missing,
            outcome.errors
        );
    }
    Ok(())
}
