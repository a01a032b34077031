//! Resident memory of password hashing after a burst of failed sign-ins.
//!
//! `cargo run --release -p oxidp-bench-password-memory -- [pooled|per-run] [BURST] [ROUNDS]`
//!
//! Runs `ROUNDS` bursts of `BURST` concurrent argon2id verifications with the default cost
//! (19 MiB, t=2, p=1) and prints the process's resident set size (VmRSS) before, after each
//! burst and after an idle second. `pooled` is oxidp's `PasswordHasher` (one reused working
//! buffer per core); `per-run` is what it replaced: argon2's own verification, which allocates
//! its working memory for every run, on tokio's blocking pool behind the same per-core limit.
//! Run each mode in a process of its own: the figures are the process's.

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use oxidp_core::users::{PasswordHasher, PasswordHashingOptions};
use std::sync::Arc;
use std::time::Duration;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "pooled".to_owned());
    let burst: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(24);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let hasher =
        PasswordHasher::new(PasswordHashingOptions::default()).expect("default parameters");
    let hash: Arc<str> = hasher
        .hash("the real password".to_owned())
        .await
        .expect("hash")
        .into();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let permits = Arc::new(tokio::sync::Semaphore::new(cores));
    let idle = rss_kib();
    println!("mode {mode}, burst {burst}, {cores} cores");
    println!("idle (after one hash): {} MiB", idle / 1024);
    for round in 1..=rounds {
        let mut runs = Vec::with_capacity(burst);
        for i in 0..burst {
            let (hasher, hash, permits, mode) =
                (hasher.clone(), hash.clone(), permits.clone(), mode.clone());
            runs.push(tokio::spawn(async move {
                let guess = format!("wrong guess {i}");
                match mode.as_str() {
                    "per-run" => {
                        let _permit = permits.acquire().await.expect("open");
                        tokio::task::spawn_blocking(move || {
                            let parsed = PasswordHash::new(&hash).expect("PHC");
                            argon2::Argon2::default()
                                .verify_password(guess.as_bytes(), &parsed)
                                .is_ok()
                        })
                        .await
                        .expect("task")
                    }
                    _ => hasher.verify(&hash, guess).await,
                }
            }));
        }
        for run in runs {
            assert!(!run.await.expect("task"), "a wrong guess never matches");
        }
        println!("after burst {round}: {} MiB", rss_kib() / 1024);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let end = rss_kib();
    println!("after an idle second: {} MiB", end / 1024);
    let block = u64::from(PasswordHashingOptions::default().memory_kib);
    let bound = idle * 3 / 2 + block * cores as u64;
    println!(
        "bound (1.5 x idle + one argon2 block per core): {} MiB -> {}",
        bound / 1024,
        if end <= bound { "PASS" } else { "MISS" }
    );
}
