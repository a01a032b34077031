//! The web app's own state, in memory: signed-in sessions by cookie key, sign-ins in progress
//! by `state`, a one-time notice for browsers whose session the identity server ended, and the
//! last back-channel logouts received (shown on the home page).
//!
//! In memory is enough for a sample; an app with several instances would keep this in a shared
//! store, as the tokens would be (`oxidp_client::TokenStore`). Every map is bounded by age, so
//! abandoned sign-ins and notices never pile up.

use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How long a sign-in may take from `/login` to `/callback`.
pub(crate) const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the "your session was ended" notice waits for the browser to come back.
const ENDED_NOTICE_LIFETIME: Duration = Duration::from_secs(3600);
/// How many received back-channel logouts the home page lists.
const LOGOUT_LOG_LENGTH: usize = 10;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct LocalSession {
    /// The user (`sub`).
    pub subject: String,
    /// The identity server's session id (`sid`), which logout tokens name.
    pub sid: Option<String>,
    /// The verified ID token's claims.
    pub claims: Map<String, Value>,
    /// The token every form of this session carries.
    pub csrf_token: String,
    /// When the user signed in here.
    pub signed_in_at: OffsetDateTime,
    /// How many times the tokens were refreshed.
    pub refreshes: u32,
    /// When they were last refreshed.
    pub last_refresh: Option<OffsetDateTime>,
    /// The API's last answer.
    pub api_answer: Option<ApiAnswer>,
    /// A message for the next page view (an error of the last action).
    pub notice: Option<String>,
}

/// What the API answered.
#[derive(Debug, Clone)]
pub(crate) struct ApiAnswer {
    /// When.
    pub at: OffsetDateTime,
    /// The HTTP status.
    pub status: u16,
    /// The body, pretty-printed when it is JSON.
    pub body: String,
}

/// A sign-in in progress.
#[derive(Debug)]
pub(crate) struct PendingLogin {
    pub nonce: String,
    pub code_verifier: String,
    started: Instant,
}

impl PendingLogin {
    pub(crate) fn new(nonce: String, code_verifier: String) -> Self {
        Self {
            nonce,
            code_verifier,
            started: Instant::now(),
        }
    }
}

/// Why a browser's session is gone, for the one-time notice.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub at: OffsetDateTime,
    pub why: String,
    noted: Instant,
}

/// A back-channel logout the app received.
#[derive(Debug, Clone)]
pub(crate) struct ReceivedLogout {
    pub at: OffsetDateTime,
    pub sid: Option<String>,
    pub subject: Option<String>,
    pub reason: Option<String>,
    pub sessions_ended: usize,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, LocalSession>,
    pending: HashMap<String, PendingLogin>,
    ended: HashMap<String, Ended>,
    received: VecDeque<ReceivedLogout>,
}

/// The store; every method takes the lock briefly and never across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct LocalSessions {
    inner: Mutex<Inner>,
}

impl LocalSessions {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub(crate) fn get(&self, key: &str) -> Option<LocalSession> {
        self.lock().sessions.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: String, session: LocalSession) {
        let mut inner = self.lock();
        inner.ended.remove(&key);
        inner.sessions.insert(key, session);
    }

    /// Changes the session under `key`, if it is still there.
    pub(crate) fn update(&self, key: &str, change: impl FnOnce(&mut LocalSession)) {
        if let Some(session) = self.lock().sessions.get_mut(key) {
            change(session);
        }
    }

    /// Signs the browser out here, without a notice (the user asked for it).
    pub(crate) fn remove(&self, key: &str) -> Option<LocalSession> {
        self.lock().sessions.remove(key)
    }

    /// Signs the browser out here and leaves a notice saying `why` for its next visit.
    pub(crate) fn end(&self, key: &str, why: &str) {
        let mut inner = self.lock();
        if inner.sessions.remove(key).is_some() {
            inner.note_ended(key.to_owned(), why);
        }
    }

    /// Ends every session of `subject` and/or `sid` (both must match when both are given), as
    /// a back-channel logout says; returns their keys.
    pub(crate) fn end_matching(
        &self,
        subject: Option<&str>,
        sid: Option<&str>,
        reason: Option<&str>,
    ) -> Vec<String> {
        let mut inner = self.lock();
        let keys: Vec<String> = inner
            .sessions
            .iter()
            .filter(|(_, session)| {
                subject.is_none_or(|subject| session.subject == subject)
                    && sid.is_none_or(|sid| session.sid.as_deref() == Some(sid))
            })
            .map(|(key, _)| key.clone())
            .collect();
        let why = format!(
            "the identity server ended your session (back-channel logout, reason: {})",
            reason.unwrap_or("not given")
        );
        for key in &keys {
            inner.sessions.remove(key);
            inner.note_ended(key.clone(), &why);
        }
        inner.received.push_front(ReceivedLogout {
            at: OffsetDateTime::now_utc(),
            sid: sid.map(str::to_owned),
            subject: subject.map(str::to_owned),
            reason: reason.map(str::to_owned),
            sessions_ended: keys.len(),
        });
        inner.received.truncate(LOGOUT_LOG_LENGTH);
        keys
    }

    /// The notice left for `key`, once.
    pub(crate) fn take_ended(&self, key: &str) -> Option<Ended> {
        self.lock().ended.remove(key)
    }

    /// The back-channel logouts received, newest first.
    pub(crate) fn received_logouts(&self) -> Vec<ReceivedLogout> {
        self.lock().received.iter().cloned().collect()
    }

    pub(crate) fn start_login(&self, state: String, login: PendingLogin) {
        let mut inner = self.lock();
        inner
            .pending
            .retain(|_, pending| pending.started.elapsed() < LOGIN_TIMEOUT);
        inner.pending.insert(state, login);
    }

    /// The sign-in started with `state`, once, if it has not timed out.
    pub(crate) fn finish_login(&self, state: &str) -> Option<PendingLogin> {
        self.lock()
            .pending
            .remove(state)
            .filter(|pending| pending.started.elapsed() < LOGIN_TIMEOUT)
    }
}

impl Inner {
    /// Leaves the notice for `key`, dropping notices no browser came back for.
    fn note_ended(&mut self, key: String, why: &str) {
        self.ended
            .retain(|_, ended| ended.noted.elapsed() < ENDED_NOTICE_LIFETIME);
        self.ended.insert(
            key,
            Ended {
                at: OffsetDateTime::now_utc(),
                why: why.to_owned(),
                noted: Instant::now(),
            },
        );
    }
}
