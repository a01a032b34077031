//! Password sign-in with throttling of failures per username and per client IP.
//!
//! The throttle lives in each instance's memory: with several instances the effective limit is
//! the per-instance limit times the instance count, which still stops online guessing.

use super::session::{SessionError, SessionService};
use crate::clock::Clock;
use crate::model::AuthenticationTicket;
use crate::store::StoreError;
use crate::users::UserService;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// Why a sign-in failed. Both answers render the same generic message.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong username or password (or unknown, or disabled).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many recent failures for this username or address.
    #[error("too many failed attempts")]
    Throttled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session could not be created.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Limits on failed sign-ins.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleOptions {
    /// The window failures are counted in.
    pub window: Duration,
    /// Failures allowed per username in the window.
    pub per_username: usize,
    /// Failures allowed per client IP in the window.
    pub per_ip: usize,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            window: Duration::minutes(15),
            per_username: 5,
            per_ip: 20,
        }
    }
}

/// Counts recent failures by key.
#[derive(Debug)]
struct Throttle {
    options: ThrottleOptions,
    failures: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

/// Keys kept before old entries are swept, so a flood of usernames cannot exhaust memory.
const MAX_TRACKED_KEYS: usize = 100_000;

impl Throttle {
    fn is_blocked(&self, key: &str, limit: usize, now: OffsetDateTime) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(key) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| *t + self.options.window <= now)
        {
            times.pop_front();
        }
        times.len() >= limit
    }

    fn record(&self, key: String, now: OffsetDateTime) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED_KEYS {
            let window = self.options.window;
            failures.retain(|_, times| times.back().is_some_and(|t| *t + window > now));
        }
        failures.entry(key).or_default().push_back(now);
    }

    fn forget_one(&self, key: &str) {
        if let Some(times) = self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(key)
        {
            times.pop_back();
        }
    }

    fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Signs users in with a password.
#[derive(Debug)]
pub struct LoginService {
    users: Arc<UserService>,
    sessions: Arc<SessionService>,
    clock: Arc<dyn Clock>,
    throttle: Throttle,
}

impl LoginService {
    /// A login service.
    pub fn new(
        users: Arc<UserService>,
        sessions: Arc<SessionService>,
        clock: Arc<dyn Clock>,
        throttle: ThrottleOptions,
    ) -> Self {
        Self {
            users,
            sessions,
            clock,
            throttle: Throttle {
                options: throttle,
                failures: Mutex::new(HashMap::new()),
            },
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
        let user_key = format!("user:{username}");
        let ip_key = client_ip.map(|ip| format!("ip:{ip}"));
        let options = self.throttle.options;
        if self
            .throttle
            .is_blocked(&user_key, options.per_username, now)
            || ip_key
                .as_deref()
                .is_some_and(|k| self.throttle.is_blocked(k, options.per_ip, now))
        {
            tracing::warn!(client_ip = ?client_ip, "sign-in throttled");
            return Err(LoginError::Throttled);
        }
        // The attempt counts before the password is checked, so parallel guesses cannot all
        // slip under the limit; a success takes it back.
        self.throttle.record(user_key.clone(), now);
        if let Some(ip_key) = &ip_key {
            self.throttle.record(ip_key.clone(), now);
        }
        let Some(user) = self.users.validate_credentials(username, password).await? else {
            return Err(LoginError::InvalidCredentials);
        };
        self.throttle.clear(&user_key);
        if let Some(ip_key) = &ip_key {
            self.throttle.forget_one(ip_key);
        }
        Ok(self
            .sessions
            .sign_in(&user, &["pwd"], "local", previous)
            .await?)
    }
}
