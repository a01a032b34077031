//! The flash message of post-redirect-get: the outcome of a revocation, carried from the POST
//! to the next GET in a short-lived cookie (never in the URL), and deleted when shown.
//!
//! The cookie holds only the two counts (`removed.notified`), not text: the message is written
//! when it is shown, so a planted cookie can at most misstate two numbers. It is `HttpOnly`,
//! `SameSite=Strict`, scoped to `/admin`, `Secure` (with the `__Secure-` prefix) over https, and
//! lives a minute.

use crate::routes::AppState;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use oxidp_core::services::RemovalSummary;

const SECURE_COOKIE: &str = "__Secure-oxidp.admin.flash";
const PLAIN_COOKIE: &str = "oxidp.admin.flash";
const COOKIE_PATH: &str = "/admin";
const LIFETIME: time::Duration = time::Duration::minutes(1);

fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

fn cookie(state: &AppState, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build((cookie_name(state), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .path(COOKIE_PATH)
        .max_age(max_age)
        .build()
}

/// Adds the flash for `summary` to `jar`.
pub(super) fn set(state: &AppState, jar: CookieJar, summary: &RemovalSummary) -> CookieJar {
    let value = format!(
        "{}.{}",
        summary.sessions_removed, summary.notifications_enqueued
    );
    jar.add(cookie(state, value, LIFETIME))
}

/// The flash message, if the browser carries one, and the jar with the cookie deleted.
pub(super) fn take(state: &AppState, jar: CookieJar) -> (Option<String>, CookieJar) {
    let Some(value) = jar.get(cookie_name(state)).map(|c| c.value().to_owned()) else {
        return (None, jar);
    };
    let jar = jar.add(cookie(state, String::new(), time::Duration::ZERO));
    (message(&value), jar)
}

/// `"removed.notified"` as a sentence; `None` for anything else.
fn message(value: &str) -> Option<String> {
    let (removed, notified) = value.split_once('.')?;
    let removed: u64 = removed.parse().ok()?;
    let notified: u64 = notified.parse().ok()?;
    Some(format!(
        "Removed {removed} session{}; {notified} logout notification{} queued",
        plural(removed),
        plural(notified)
    ))
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn counts_become_a_sentence() {
        assert_eq!(
            message("1.2").as_deref(),
            Some("Removed 1 session; 2 logout notifications queued")
        );
        assert_eq!(
            message("0.1").as_deref(),
            Some("Removed 0 sessions; 1 logout notification queued")
        );
    }

    #[test]
    fn anything_else_shows_nothing() {
        for value in ["", "1", "a.b", "1.2.3", "<b>.1", "-1.0"] {
            assert_eq!(message(value), None, "{value}");
        }
    }
}
