//! The README's walk-through, step by step: sign in at the web app, find the session on the
//! admin page, watch it slide while the web app refreshes, revoke it on the admin page, and
//! find the web app signed out by the back-channel logout.

use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;

/// The session the web app took part in, from the admin API; `None` once it is gone. (The
/// administrator's own session, in the other browser, has no client.)
async fn web_session(app: &TestSample) -> Option<Value> {
    let mut sessions: Vec<Value> = app
        .sessions()
        .await
        .into_iter()
        .filter(|session| session["client_ids"] == serde_json::json!(["web"]))
        .collect();
    assert!(sessions.len() <= 1, "{sessions:?}");
    sessions.pop()
}

async fn the_session(app: &TestSample) -> Value {
    web_session(app).await.expect("the web app's session")
}

/// The number in the home page's "Refreshes" row.
fn refreshes(home: &str) -> u32 {
    let at = home.find("id=\"refreshes\">").unwrap() + "id=\"refreshes\">".len();
    home[at..at + home[at..].find('<').unwrap()]
        .parse()
        .unwrap()
}

/// The revoke form of the admin page's row for `sid`, as the browser would post it: its CSRF
/// token and ids, and every box ticked as the page ticks them by default.
fn revoke_form(admin_page: &str, sid: &str) -> Vec<(&'static str, String)> {
    let form = admin_page
        .split("<form")
        .skip(1)
        .map(|form| &form[..form.find("</form>").unwrap()])
        .find(|form| {
            form.contains(r#"action="/admin/sessions/revoke""#)
                && form.contains(&format!("value=\"{sid}\""))
        })
        .unwrap_or_else(|| panic!("no revoke form for {sid}"));
    let mut fields: Vec<(&'static str, String)> = ["csrf_token", "subject_id", "session_id"]
        .into_iter()
        .map(|name| (name, field(form, name)))
        .collect();
    for name in [
        "remove_session",
        "revoke_tokens",
        "revoke_consents",
        "send_backchannel_logout",
    ] {
        let at = form.find(&format!("name=\"{name}\"")).unwrap();
        assert!(form[at..at + form[at..].find('>').unwrap()].contains("checked"));
        fields.push((name, "true".to_owned()));
    }
    fields
}

#[tokio::test]
async fn the_admin_sees_the_session_slide_and_revoking_it_signs_the_web_app_out() {
    let app = TestSample::spawn().await;

    // 1. Sign in at the web app as alice.
    let home = app.sign_in().await;
    let signed_in = the_session(&app).await;
    let sid = signed_in["session_id"].as_str().unwrap().to_owned();
    assert!(
        home.contains(&format!("<code id=\"sid\">{sid}</code>")),
        "{home}"
    );
    assert_eq!(signed_in["client_ids"], serde_json::json!(["web"]));

    // 2. In another browser, the admin page (alice is an administrator) lists it, with its
    //    expiry.
    let admin_page = app.admin_page().await;
    assert!(admin_page.contains(&sid), "the admin page lists {sid}");
    assert!(admin_page.contains("Alice Smith"));
    let window = instant(&signed_in["expires"]) - instant(&signed_in["renewed"]);
    assert_eq!(
        window,
        time::Duration::try_from(SESSION_WINDOW).unwrap(),
        "the configured cookie_lifetime"
    );

    // 3. The web app calls the API with its access token; the API answers with the claims.
    let (_, page) = app.act(&home, "/call-api").await;
    let home = page.text().await.unwrap();
    assert!(
        home.contains("HTTP <span id=\"api-status\">200</span>"),
        "{home}"
    );
    assert!(
        home.contains("&quot;client_id&quot;: &quot;web&quot;"),
        "{home}"
    );
    assert!(
        home.contains("&quot;aud&quot;: &quot;sample-api&quot;"),
        "{home}"
    );
    let before = refreshes(&home);

    // 4. Once the access token is due, calling the API refreshes it first, and — half of the
    //    session's window having passed — the refresh slides the session: renewed and
    //    expires move forward by the same amount.
    tokio::time::sleep(SESSION_WINDOW / 2 + Duration::from_millis(1100)).await;
    let (_, page) = app.act(&home, "/call-api").await;
    let home = page.text().await.unwrap();
    assert_eq!(refreshes(&home), before + 1, "the token manager refreshed");
    assert!(home.contains("HTTP <span id=\"api-status\">200</span>"));
    let slid = the_session(&app).await;
    assert!(
        instant(&slid["renewed"]) > instant(&signed_in["renewed"]),
        "{slid}"
    );
    assert!(
        instant(&slid["expires"]) > instant(&signed_in["expires"]),
        "{slid}"
    );
    assert_eq!(
        instant(&slid["expires"]) - instant(&slid["renewed"]),
        window
    );

    // 5. "Refresh the tokens now" refreshes, access token due or not; right after a slide it
    //    leaves the session as it is (one write per half window), and slides it again once
    //    half the window has passed.
    let (_, page) = app.act(&home, "/refresh").await;
    let home = page.text().await.unwrap();
    assert_eq!(refreshes(&home), before + 2);
    assert_eq!(the_session(&app).await["expires"], slid["expires"]);
    tokio::time::sleep(SESSION_WINDOW / 2 + Duration::from_millis(1100)).await;
    let (_, page) = app.act(&home, "/refresh").await;
    let last_signed_in_home = page.text().await.unwrap();
    assert_eq!(refreshes(&last_signed_in_home), before + 3);
    let slid_again = the_session(&app).await;
    assert!(instant(&slid_again["renewed"]) > instant(&slid["renewed"]));
    assert!(instant(&slid_again["expires"]) > instant(&slid["expires"]));

    // The refresh token the web app holds now, to try after the revocation.
    let key = app.session_cookie().unwrap();
    let tokens = app.sample.web_app().tokens().tokens(&key).await.unwrap();
    let refresh_token = tokens.unwrap().refresh_token.unwrap().secret().to_owned();

    // 6. Revoke the session on the admin page.
    let form = revoke_form(&app.admin_page().await, &sid);
    let (url, page) = app
        .admin
        .post(app.idp("/admin/sessions/revoke"), &form)
        .await;
    assert_eq!(url.path(), "/admin/sessions", "post-redirect-get");
    let admin_page = page.text().await.unwrap();
    assert!(
        admin_page.contains("Removed 1 session; 1 logout notification queued"),
        "{admin_page}"
    );
    assert!(web_session(&app).await.is_none(), "the session is gone");

    // 7. The server's back-channel logout reaches the web app, which ends its local session:
    //    on the next page view the browser is signed out, and told why.
    let home = app.home_until(|html| !html.contains("Signed in as")).await;
    assert!(home.contains("<h1>Signed out</h1>"), "{home}");
    assert!(
        home.contains("back-channel logout, reason: terminated"),
        "{home}"
    );
    assert!(
        home.contains(&format!("<code>{sid}</code>")),
        "the logout names the sid"
    );
    assert_eq!(app.sample.web_app().signed_in_count(), 0);
    assert!(
        app.sample
            .web_app()
            .tokens()
            .tokens(&key)
            .await
            .unwrap()
            .is_none()
    );

    // 8. Refreshing fails: the web app has nothing left to refresh with, and the server
    //    refuses the refresh token it had.
    let (url, page) = app.act(&last_signed_in_home, "/refresh").await;
    assert_eq!(url, app.web("/"));
    assert!(page.text().await.unwrap().contains("<h1>Signed out</h1>"));
    let (status, body) = app.refresh_directly(&refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
