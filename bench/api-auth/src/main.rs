//! `oxidp-bench-api-auth`: the figures of `bench/api-auth/README.md`.
//!
//! 1. Latency: validates one ES256 JWT access token whose key is cached, 100,000 times in a
//!    row (after 10,000 warm-up validations), timing each call, and prints p50/p90/p99/p99.9/max
//!    and the CPU time per call; then the same for the bare ECDSA P-256 verification of that
//!    token (the floor no validator can go below).
//! 2. Flood: 10,000 tokens, each naming a different unknown `kid`, validated concurrently on a
//!    multi-threaded runtime against a local issuer that counts its JWKS requests, first on a
//!    cold cache and then on a warm one; prints the number of JWKS fetches each made.
//!
//! Run it in release mode: `cargo run --release -p oxidp-bench-api-auth`.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use cpu_time::ThreadTime;
use oxidp_api_auth::testing::{TestIssuer, bearer};
use oxidp_api_auth::{ErrorKind, InvalidToken, Validator};
use std::time::{Duration, Instant};

const WARM_UP: usize = 10_000;
const SAMPLES: usize = 100_000;
const FLOOD: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `SAMPLES` calls of `call` (after `WARM_UP` untimed ones) and prints the percentiles,
/// the throughput and the thread CPU time per call (wall time includes waiting for a core).
async fn measure<F: Future<Output = ()>>(label: &str, mut call: impl FnMut() -> F) {
    for _ in 0..WARM_UP {
        call().await;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    let started = Instant::now();
    let cpu = ThreadTime::now();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        call().await;
        samples.push(t.elapsed());
    }
    let cpu = cpu.elapsed();
    let total = started.elapsed();
    samples.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label}: {SAMPLES} calls, one at a time: {:.0}/s, CPU {:.1} µs/call",
        SAMPLES as f64 / total.as_secs_f64(),
        micros(cpu) / SAMPLES as f64
    );
    let mut line = String::new();
    for (name, p) in [
        ("p50", 0.50),
        ("p90", 0.90),
        ("p99", 0.99),
        ("p99.9", 0.999),
    ] {
        line.push_str(&format!(
            "{name} {:.1} µs, ",
            micros(percentile(&samples, p))
        ));
    }
    let max = samples.last().copied().unwrap_or_default();
    println!("  {line}max {:.1} µs", micros(max));
}

async fn latency() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(issuer.validator_options()).expect("valid options");
    let token = issuer.mint(&issuer.claims("orders.read"));
    let headers = bearer(&token);
    measure("validate (ES256 JWT, cached key)", || async {
        validator
            .validate(std::hint::black_box(&headers))
            .await
            .expect("the token is valid");
    })
    .await;
    println!(
        "  JWKS fetches: {} (one, on the first validation)",
        issuer.jwks_fetches()
    );

    // The floor: the ECDSA P-256 verification alone, on the same token and key.
    let jwk = issuer.signing_key().public_jwk();
    let coordinate = |c: Option<String>| {
        oxidp_jose::b64url_decode(&c.unwrap_or_default()).expect("a JWK coordinate")
    };
    let point = [vec![4u8], coordinate(jwk.x), coordinate(jwk.y)].concat();
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let (signing_input, signature) = token.rsplit_once('.').expect("a JWS");
    let signature = oxidp_jose::b64url_decode(signature).expect("a signature");
    measure("floor (ES256 signature verification only)", || async {
        key.verify(
            std::hint::black_box(signing_input.as_bytes()),
            std::hint::black_box(&signature),
        )
        .expect("the signature verifies");
    })
    .await;
}

/// Validates `FLOOD` tokens with distinct unknown kids concurrently; returns the elapsed time.
async fn flood(issuer: &TestIssuer, validator: &Validator) -> Duration {
    let claims = issuer.claims("orders.read").to_string();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..FLOOD {
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"forged-{i}"}}"#);
        let token = format!(
            "{}.{}.{}",
            oxidp_jose::b64url_encode(&header),
            oxidp_jose::b64url_encode(&claims),
            oxidp_jose::b64url_encode("not a signature")
        );
        let validator = validator.clone();
        tasks.spawn(async move { validator.validate(&bearer(&token)).await });
    }
    while let Some(result) = tasks.join_next().await {
        let error = result
            .expect("the task ran")
            .expect_err("a forged token is refused");
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidToken(InvalidToken::UnknownKey)
        );
    }
    started.elapsed()
}

async fn floods() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(issuer.validator_options()).expect("valid options");
    let cold = flood(&issuer, &validator).await;
    let after_cold = issuer.jwks_fetches();
    println!(
        "flood, cold cache: {FLOOD} concurrent tokens with unknown kids -> {after_cold} JWKS fetch(es), all refused as unknown_key, in {:.1} ms",
        cold.as_secs_f64() * 1e3
    );
    let warm = flood(&issuer, &validator).await;
    println!(
        "flood, warm cache: {FLOOD} more -> {} more JWKS fetch(es), in {:.1} ms (refresh interval 30 s)",
        issuer.jwks_fetches() - after_cold,
        warm.as_secs_f64() * 1e3
    );
}

fn main() {
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    current.block_on(latency());
    drop(current);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    multi.block_on(floods());
}
