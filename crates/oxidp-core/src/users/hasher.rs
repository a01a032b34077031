//! argon2id hashing and verification with bounded, reused working memory.
//!
//! Each argon2 run needs `m_cost` KiB of working memory (19 MiB by default). Allocating it per
//! run on tokio's blocking pool made the process keep hundreds of MiB after a burst of
//! sign-ins: the allocator serves blocks this large from per-thread arenas once the first one
//! is freed, and every blocking thread ends up holding its own. Here at most one run per core
//! happens at a time (a semaphore), and each takes its working memory from a small pool of
//! buffers allocated once and handed back after the run, so the memory the hasher holds is at
//! most one buffer per core, whatever the burst.

use super::{PasswordError, PasswordHashingOptions};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Arc, Mutex};

/// Hashes and verifies passwords with argon2id on the blocking thread pool.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    /// At most one hash per core runs at a time: each costs ~19 MiB and a core, so a flood of
    /// logins queues here instead of exhausting memory on the blocking pool.
    permits: Arc<tokio::sync::Semaphore>,
    /// Working memory, reused across runs: at most one buffer per permit.
    memory: Arc<MemoryPool>,
    /// How many argon2 verifications ran (tests check that failed logins always run one).
    #[cfg(test)]
    pub(super) verifications: Arc<std::sync::atomic::AtomicUsize>,
}

/// Buffers of argon2 blocks, each as large as the largest run it served.
#[derive(Debug, Default)]
struct MemoryPool {
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl MemoryPool {
    fn take(&self, blocks: usize) -> Vec<Block> {
        let mut buffer = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::new());
        }
        buffer
    }

    fn give_back(&self, buffer: Vec<Block>) {
        self.buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buffer);
    }

    /// Runs `f` with at least `blocks` blocks of working memory.
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut buffer = self.take(blocks);
        let result = f(&mut buffer[..blocks]);
        self.give_back(buffer);
        result
    }
}

impl PasswordHasher {
    /// A hasher with these cost parameters; an error if argon2 does not accept them.
    pub fn new(options: PasswordHashingOptions) -> Result<Self, PasswordError> {
        let params = Params::new(
            options.memory_kib,
            options.iterations,
            options.parallelism,
            None,
        )
        .map_err(|e| PasswordError::InvalidParameters(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Ok(Self {
            params,
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            memory: Arc::default(),
            #[cfg(test)]
            verifications: Arc::default(),
        })
    }

    /// The cost parameters new hashes are made with.
    pub fn options(&self) -> PasswordHashingOptions {
        PasswordHashingOptions {
            memory_kib: self.params.m_cost(),
            iterations: self.params.t_cost(),
            parallelism: self.params.p_cost(),
        }
    }

    /// The argon2id hash of `password` in PHC format (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`)
    /// with a random 128-bit salt.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let params = self.params.clone();
        let memory = self.memory.clone();
        let salt = oxidp_jose::random_bytes::<16>();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Hashing("the hasher is shut down".to_owned()))?;
        tokio::task::spawn_blocking(move || {
            let started = cpu_time::ThreadTime::now();
            let hashed = memory.with(params.block_count(), |blocks| {
                hash_with(&params, password.as_bytes(), &salt, blocks)
            });
            record_hash_time("hash", started);
            hashed
        })
        .await
        .map_err(|_| PasswordError::Hashing("the hashing task did not complete".to_owned()))?
    }

    /// Whether `password` matches `hash` (with the parameters written in the hash). A hash
    /// that cannot be parsed matches nothing.
    pub async fn verify(&self, hash: &str, password: String) -> bool {
        let hash = hash.to_owned();
        let memory = self.memory.clone();
        #[cfg(test)]
        let verifications = self.verifications.clone();
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let verified = tokio::task::spawn_blocking(move || {
            let Some(run) = VerifyRun::parse(&hash) else {
                return false;
            };
            #[cfg(test)]
            verifications.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let started = cpu_time::ThreadTime::now();
            let verified = memory.with(run.params.block_count(), |blocks| {
                run.matches(password.as_bytes(), blocks)
            });
            record_hash_time("verify", started);
            verified
        })
        .await;
        verified.unwrap_or(false)
    }

    /// A PHC hash with this hasher's parameters that no password matches: verifying against
    /// it costs what verifying against a real hash costs.
    pub(super) fn dummy_hash(&self) -> String {
        // Base64 (PHC alphabet, no padding) of 16 and 32 fixed bytes.
        const SALT: &str = "b3hpZHAtZHVtbXktc2FsdA";
        const OUTPUT: &str = "b3hpZHAtZHVtbXktaGFzaC1uZXZlci1tYXRjaGluZyE";
        let p = &self.params;
        format!(
            "$argon2id$v=19$m={},t={},p={}${SALT}${OUTPUT}",
            p.m_cost(),
            p.t_cost(),
            p.p_cost()
        )
    }
}

/// One argon2id hash into `blocks`, as a PHC string.
fn hash_with(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    blocks: &mut [Block],
) -> Result<String, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Hashing(e.to_string());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt, &mut out, blocks)
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// A stored hash, parsed: what recomputing it takes.
struct VerifyRun {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl VerifyRun {
    fn parse(hash: &str) -> Option<Self> {
        let parsed = PasswordHash::new(hash).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = match parsed.version {
            Some(version) => Version::try_from(version).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        Some(Self {
            algorithm,
            version,
            params,
            salt: parsed.salt?.as_ref().to_vec(),
            expected: parsed.hash?.as_bytes().to_vec(),
        })
    }

    /// Recomputes the hash of `password` into `blocks` and compares in constant time.
    fn matches(&self, password: &[u8], blocks: &mut [Block]) -> bool {
        let mut out = vec![0u8; self.expected.len()];
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password_into_with_memory(password, &self.salt, &mut out, blocks)
            .is_ok()
            && oxidp_jose::constant_time_eq(&out, &self.expected)
    }
}

/// `oxidp_password_hash_duration_seconds{operation}`: the CPU time (of the blocking thread that
/// ran it) of each argon2 run; the login benchmark divides its sum by the server's CPU time to
/// show what share of a login the hash is.
fn record_hash_time(operation: &'static str, started: cpu_time::ThreadTime) {
    metrics::histogram!("oxidp_password_hash_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(PasswordHashingOptions {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .expect("parameters")
    }

    #[tokio::test]
    async fn hashes_verify_here_and_with_the_reference_implementation() {
        let hasher = cheap();
        let hash = hasher.hash("correct horse".to_owned()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(hasher.verify(&hash, "correct horse".to_owned()).await);
        assert!(!hasher.verify(&hash, "wrong horse".to_owned()).await);
        let parsed = PasswordHash::new(&hash).expect("PHC");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok(),
            "the reference verifier accepts our hash"
        );
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_verify_whatever_their_parameters() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = cheap();
        for (algorithm, m, t, p) in [
            (Algorithm::Argon2id, 2048, 2, 1),
            (Algorithm::Argon2i, 1024, 3, 2),
            (Algorithm::Argon2d, 512, 1, 1),
        ] {
            let params = Params::new(m, t, p, None).expect("params");
            let reference = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password_with_salt(b"pw", b"somesaltsomesalt")
                .expect("reference hash")
                .to_string();
            assert!(
                hasher.verify(&reference, "pw".to_owned()).await,
                "{reference}"
            );
            assert!(!hasher.verify(&reference, "px".to_owned()).await);
        }
    }

    #[tokio::test]
    async fn working_memory_is_reused_not_grown_per_run() {
        let hasher = cheap();
        let hashes: Vec<_> = (0..16)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(format!("pw{i}")).await })
            })
            .collect();
        for hash in hashes {
            hash.await.expect("task").expect("hash");
        }
        let buffers = hasher.memory.buffers.lock().expect("pool").len();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        assert!(
            (1..=cores).contains(&buffers),
            "{buffers} buffers for {cores} permits"
        );
    }

    #[tokio::test]
    async fn an_unparsable_hash_matches_nothing() {
        let hasher = cheap();
        assert!(!hasher.verify("not a hash", "pw".to_owned()).await);
        assert!(
            !hasher
                .verify("$argon2id$v=19$m=1024,t=1,p=1$", "pw".to_owned())
                .await
        );
    }
}
