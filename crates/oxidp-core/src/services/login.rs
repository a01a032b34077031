//! Password sign-in, throttled without locking the real user out (OWASP ASVS 2.2.1).
//!
//! Failures are counted per (username, client address) and per client address alone, in the
//! store ([`SignInFailureStore`]), so every instance on one database sees the same counts.
//! After a few failures for one username from one address, *that address* waits before its
//! next attempt for that username, twice as long after each further failure (progressive
//! delay); the same username from any other address is not slowed down, so an attacker cannot
//! lock the real user out. A looser per-address counter across usernames slows down password
//! spraying from one address. A successful sign-in clears its (username, address) counter.
//!
//! An attempt is counted *before* the password is checked, by a compare-and-set on the
//! counter as read: of parallel guesses that read the same counter, one proceeds and the
//! others are refused, so they cannot all slip through one check. A correct password then
//! clears the counter.
//!
//! The address is the one [`PeerInfo`](crate::request::PeerInfo) reports: behind a reverse
//! proxy, the forwarded client address when the proxy is trusted
//! ([`TrustedProxies`](crate::request::TrustedProxies)). IPv6 addresses are grouped by their
//! /64 prefix, which one client usually holds whole. Counter keys are hashes: the store holds
//! neither usernames nor addresses.

use super::session::{SessionError, SessionService};
use crate::clock::Clock;
use crate::model::{AuthenticationTicket, SignInFailures};
use crate::store::{SignInFailureStore, StoreError};
use crate::users::UserService;
use oxidp_jose::{b64url_encode, sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Why a sign-in failed. Both answers render the same generic message.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong username or password (or unknown, or disabled).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// This address must wait before its next attempt for this username (or at all).
    #[error("too many failed attempts")]
    Throttled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session could not be created.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The progressive delay of failed sign-ins.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleOptions {
    /// Failures for one username from one address before that address has to wait.
    pub free_failures_per_user: u32,
    /// Failures from one address, across usernames, before that address has to wait.
    pub free_failures_per_address: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// How long a counter is kept after its latest failure (it starts from zero afterwards).
    pub forget_after: Duration,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            free_failures_per_user: 5,
            free_failures_per_address: 50,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(3600),
        }
    }
}

impl ThrottleOptions {
    /// The wait after `failures` failures when `free` of them cost nothing: none below `free`,
    /// then `first_delay`, doubling with each further failure up to `max_delay`.
    pub fn delay(&self, failures: u32, free: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(free)?;
        let factor = 2u32.saturating_pow(beyond.min(30));
        Some(self.first_delay.saturating_mul(factor).min(self.max_delay))
    }

    /// Whether a counter (live at `now`) makes its key wait at `now`.
    fn waits(&self, counter: Option<&SignInFailures>, free: u32, now: OffsetDateTime) -> bool {
        counter
            .and_then(|c| Some(now < c.last_failure + self.delay(c.failures, free)?))
            .unwrap_or(false)
    }
}

/// How many times an attempt re-reads a counter that changed under it before giving up.
const RESERVATION_TRIES: usize = 3;

/// The counter keys of one attempt.
struct ThrottleKeys {
    /// (username, address).
    pair: String,
    /// The address alone; `None` when the address is unknown (no shared counter for all
    /// unknown peers, which would let one of them slow down every other).
    address: Option<String>,
}

impl ThrottleKeys {
    fn new(username: &str, client_ip: Option<IpAddr>) -> Self {
        let group = client_ip.map(address_group);
        let hash = |text: String| b64url_encode(sha256(text));
        Self {
            pair: format!(
                "u:{}",
                hash(format!(
                    "{}\0{username}\0{}",
                    username.len(),
                    group.as_deref().unwrap_or("unknown")
                ))
            ),
            address: group.map(|group| format!("a:{}", hash(group))),
        }
    }
}

/// The address as counted: an IPv4 address (also when mapped into IPv6) itself, an IPv6
/// address by its /64 prefix.
fn address_group(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Signs users in with a password.
pub struct LoginService {
    users: Arc<UserService>,
    sessions: Arc<SessionService>,
    failures: Arc<dyn SignInFailureStore>,
    clock: Arc<dyn Clock>,
    options: ThrottleOptions,
}

impl std::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginService")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LoginService {
    /// A login service counting failures in `failures`.
    pub fn new(
        users: Arc<UserService>,
        sessions: Arc<SessionService>,
        failures: Arc<dyn SignInFailureStore>,
        clock: Arc<dyn Clock>,
        options: ThrottleOptions,
    ) -> Self {
        Self {
            users,
            sessions,
            failures,
            clock,
            options,
        }
    }

    /// Validates the credentials and signs the user in; returns the ticket and cookie value.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client_ip: Option<IpAddr>,
        previous: Option<(&str, &AuthenticationTicket)>,
    ) -> Result<(AuthenticationTicket, String), LoginError> {
        let now = self.clock.now();
        let keys = ThrottleKeys::new(username, client_ip);
        if let Some(address) = &keys.address {
            let counter = self.failures.get_sign_in_failures(address).await?;
            let live = counter.and_then(|c| c.live_at(now));
            if self
                .options
                .waits(live.as_ref(), self.options.free_failures_per_address, now)
            {
                tracing::warn!(
                    client_ip = client_ip.map(tracing::field::display),
                    "sign-in throttled for the address"
                );
                metrics::counter!("oxidp_sign_in_failures_total", "reason" => "throttled")
                    .increment(1);
                return Err(LoginError::Throttled);
            }
        }
        if !self.reserve_attempt(&keys.pair, now).await? {
            tracing::warn!(
                client_ip = client_ip.map(tracing::field::display),
                "sign-in throttled for the user and address"
            );
            metrics::counter!("oxidp_sign_in_failures_total", "reason" => "throttled").increment(1);
            return Err(LoginError::Throttled);
        }
        let Some(user) = self.users.validate_credentials(username, password).await? else {
            if let Some(address) = &keys.address {
                self.failures
                    .add_sign_in_failure(address, now, now + self.options.forget_after)
                    .await?;
            }
            metrics::counter!("oxidp_sign_in_failures_total", "reason" => "invalid_credentials")
                .increment(1);
            return Err(LoginError::InvalidCredentials);
        };
        self.failures.clear_sign_in_failures(&keys.pair).await?;
        Ok(self
            .sessions
            .sign_in(&user, &["pwd"], "local", previous)
            .await?)
    }

    /// Counts this attempt as a failure of `key` unless the key must wait; `false` when it
    /// must (or when the counter kept changing under us: parallel attempts for one user from
    /// one address, which a person does not make).
    async fn reserve_attempt(&self, key: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let free = self.options.free_failures_per_user;
        for _ in 0..RESERVATION_TRIES {
            let current = self.failures.get_sign_in_failures(key).await?;
            let live = current.clone().and_then(|c| c.live_at(now));
            if self.options.waits(live.as_ref(), free, now) {
                return Ok(false);
            }
            let next = SignInFailures {
                failures: live.map_or(1, |c| c.failures.saturating_add(1)),
                last_failure: now,
                expires: now + self.options.forget_after,
            };
            if self
                .failures
                .replace_sign_in_failures(key, current.as_ref(), &next)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes up to `batch` expired failure counters (the background upkeep calls this);
    /// returns how many went.
    pub async fn remove_expired_failures(&self, batch: u32) -> Result<u64, StoreError> {
        self.failures
            .remove_expired_sign_in_failures(self.clock.now(), batch)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_after_the_free_failures_and_doubles_up_to_the_cap() {
        let options = ThrottleOptions::default();
        assert_eq!(options.delay(4, 5), None);
        assert_eq!(options.delay(5, 5), Some(Duration::from_secs(30)));
        assert_eq!(options.delay(6, 5), Some(Duration::from_secs(60)));
        assert_eq!(options.delay(8, 5), Some(Duration::from_secs(240)));
        assert_eq!(options.delay(9, 5), Some(Duration::from_secs(480)));
        assert_eq!(options.delay(10, 5), Some(Duration::from_secs(900)));
        assert_eq!(options.delay(u32::MAX, 5), Some(Duration::from_secs(900)));
    }

    #[test]
    fn keys_separate_users_and_addresses_and_group_ipv6_by_prefix() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().expect("an address"));
        let alice_a = ThrottleKeys::new("alice", ip("192.0.2.1"));
        let alice_b = ThrottleKeys::new("alice", ip("192.0.2.2"));
        let bob_a = ThrottleKeys::new("bob", ip("192.0.2.1"));
        assert_ne!(alice_a.pair, alice_b.pair);
        assert_ne!(alice_a.pair, bob_a.pair);
        assert_eq!(alice_a.address, bob_a.address);
        assert_ne!(alice_a.address, alice_b.address);
        let v6_one = ThrottleKeys::new("alice", ip("2001:db8:1:2::1"));
        let v6_two = ThrottleKeys::new("alice", ip("2001:db8:1:2:ffff::9"));
        let v6_other = ThrottleKeys::new("alice", ip("2001:db8:1:3::1"));
        assert_eq!(v6_one.pair, v6_two.pair, "one /64 is one client");
        assert_ne!(v6_one.pair, v6_other.pair);
        let mapped = ThrottleKeys::new("alice", ip("::ffff:192.0.2.1"));
        assert_eq!(mapped.pair, alice_a.pair);
        let unknown = ThrottleKeys::new("alice", None);
        assert!(unknown.address.is_none());
        assert!(!alice_a.pair.contains("alice") && !alice_a.pair.contains("192.0.2.1"));
    }
}
