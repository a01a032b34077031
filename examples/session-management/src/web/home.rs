//! `GET /`: the home page. Signed in, it shows the ID token's claims, the tokens' state (when
//! the access token expires, how often it was refreshed), the API's last answer and the action
//! buttons; signed out, a sign-in link and, once, why the session ended. Both list the
//! back-channel logouts the app has received.

use super::local_sessions::{LocalSession, ReceivedLogout};
use super::pages::{display_time, removal, render};
use super::{SESSION_COOKIE, WebApp};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_client::TokenSet;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct HomeView {
    admin_url: String,
    signed_in: Option<SignedInView>,
    ended: Option<EndedView>,
    logouts: Vec<LogoutView>,
}

#[derive(Serialize)]
struct SignedInView {
    name: String,
    sid: String,
    csrf_token: String,
    signed_in_at: String,
    access_token_expires: Option<String>,
    has_refresh_token: bool,
    refreshes: u32,
    last_refresh: Option<String>,
    claims: Vec<ClaimView>,
    api_answer: Option<ApiAnswerView>,
    notice: Option<String>,
}

#[derive(Serialize)]
struct ClaimView {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct ApiAnswerView {
    at: String,
    status: u16,
    body: String,
}

#[derive(Serialize)]
struct EndedView {
    at: String,
    why: String,
}

#[derive(Serialize)]
struct LogoutView {
    at: String,
    sid: Option<String>,
    subject: Option<String>,
    reason: Option<String>,
    sessions_ended: usize,
}

/// The home page.
pub(crate) async fn home(State(app): State<WebApp>, jar: CookieJar) -> Response {
    let admin_url = format!(
        "{}/admin/sessions",
        app.inner.issuer.metadata().issuer.trim_end_matches('/')
    );
    let logouts = app
        .inner
        .sessions
        .received_logouts()
        .into_iter()
        .map(logout_view)
        .collect();
    if let Some((key, session)) = app.current(&jar) {
        let tokens = app.inner.tokens.tokens(&key).await.ok().flatten();
        // The notice is for one page view.
        app.inner
            .sessions
            .update(&key, |session| session.notice = None);
        let view = HomeView {
            admin_url,
            signed_in: Some(signed_in_view(session, tokens.as_ref())),
            ended: None,
            logouts,
        };
        return render("home.html", view);
    }
    // Signed out: say why once, if the identity server ended the session, and drop the cookie
    // that no longer names a session.
    let ended = jar
        .get(SESSION_COOKIE)
        .and_then(|cookie| app.inner.sessions.take_ended(cookie.value()))
        .map(|ended| EndedView {
            at: display_time(ended.at),
            why: ended.why,
        });
    let jar = match jar.get(SESSION_COOKIE) {
        Some(_) => jar.remove(removal(SESSION_COOKIE)),
        None => jar,
    };
    let view = HomeView {
        admin_url,
        signed_in: None,
        ended,
        logouts,
    };
    (jar, render("home.html", view)).into_response()
}

fn signed_in_view(session: LocalSession, tokens: Option<&TokenSet>) -> SignedInView {
    let name = session
        .claims
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&session.subject)
        .to_owned();
    let claims = session
        .claims
        .iter()
        .map(|(name, value)| ClaimView {
            name: name.clone(),
            value: match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            },
        })
        .collect();
    SignedInView {
        name,
        sid: session.sid.unwrap_or_else(|| "(none)".into()),
        csrf_token: session.csrf_token,
        signed_in_at: display_time(session.signed_in_at),
        access_token_expires: tokens.map(|tokens| display_time(tokens.expires_at)),
        has_refresh_token: tokens.is_some_and(|tokens| tokens.refresh_token.is_some()),
        refreshes: session.refreshes,
        last_refresh: session.last_refresh.map(display_time),
        claims,
        api_answer: session.api_answer.map(|answer| ApiAnswerView {
            at: display_time(answer.at),
            status: answer.status,
            body: answer.body,
        }),
        notice: session.notice,
    }
}

fn logout_view(logout: ReceivedLogout) -> LogoutView {
    LogoutView {
        at: display_time(logout.at),
        sid: logout.sid,
        subject: logout.subject,
        reason: logout.reason,
        sessions_ended: logout.sessions_ended,
    }
}
