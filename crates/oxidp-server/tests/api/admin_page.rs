//! The session administration page, `/admin/sessions`: who may see it, what it lists, and the
//! revoke form with its post-redirect-get flash message.

use crate::browser::*;
use crate::helpers::*;
use oxidp_core::model::SessionFilter;
use serde_json::Value;

async fn spawn() -> TestApp {
    TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.server_side_sessions.user_display_name_claim_type = Some("name".into());
    })
    .await
}

fn sid_of(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sub_of(tokens: &Value) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The page as a signed-in browser sees it (asserting 200).
async fn admin_page(browser: &Browser, path: &str) -> String {
    let response = browser.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.unwrap()
}

/// The revoke form of the row for `sid`: its HTML from `<form` to `</form>`.
fn revoke_form<'a>(html: &'a str, sid: &str) -> &'a str {
    html.split("<form")
        .skip(1)
        .map(|form| &form[..form.find("</form>").expect("form closes")])
        .find(|form| {
            form.contains(r#"action="/admin/sessions/revoke""#)
                && field(form, "session_id").as_deref() == Some(sid)
        })
        .unwrap_or_else(|| panic!("no revoke form for {sid}"))
}

/// Posts the revoke form for `sid` with its defaults (every box checked).
async fn revoke(browser: &Browser, html: &str, sid: &str) -> reqwest::Response {
    let form = revoke_form(html, sid);
    let mut fields: Vec<(&str, String)> = ["csrf_token", "subject_id", "session_id"]
        .into_iter()
        .map(|name| (name, field(form, name).unwrap()))
        .collect();
    for name in [
        "remove_session",
        "revoke_tokens",
        "revoke_consents",
        "send_backchannel_logout",
    ] {
        let at = form.find(&format!("name=\"{name}\"")).unwrap();
        let tag = &form[at..at + form[at..].find('>').unwrap()];
        assert!(tag.contains("checked"), "{name} is checked by default");
        fields.push((name, "true".to_owned()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post("/admin/sessions/revoke", &fields).await
}

/// A link (`href`) on the page whose text is `label`, unescaped.
fn link(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!(">{label}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    let href = &html[start..end];
    Some(unescape(&href[..href.find('"')?]))
}

#[tokio::test]
async fn anonymous_users_are_sent_to_sign_in_and_come_back_after() {
    let app = spawn().await;
    let browser = Browser::new(&app);
    let response = browser.get("/admin/sessions?subject_id=x").await;
    assert_eq!(response.status(), 303);
    let login = location(&response);
    assert!(login.starts_with("/account/login?"), "{login}");
    assert_eq!(query(&login)["return_url"], "/admin/sessions?subject_id=x");

    let signed_in = browser.sign_in_at(&login, "alice", "alice-password").await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/admin/sessions?subject_id=x");
    let html = admin_page(&browser, "/admin/sessions?subject_id=x").await;
    assert!(html.contains("<h1>Sessions</h1>"));
}

#[tokio::test]
async fn anonymous_revoke_is_sent_to_sign_in() {
    let app = spawn().await;
    let response = Browser::new(&app)
        .post("/admin/sessions/revoke", &[("session_id", "x")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(query(&location(&response))["return_url"], "/admin/sessions");
}

#[tokio::test]
async fn a_user_without_the_admin_role_is_forbidden() {
    let app = spawn().await;
    let browser = Browser::new(&app);
    let login = location(&browser.get("/admin/sessions").await);
    let signed_in = browser.sign_in_at(&login, "bob", "bob-password").await;
    assert_eq!(location(&signed_in), "/admin/sessions");
    let response = browser.get("/admin/sessions").await;
    assert_eq!(response.status(), 403);
    assert!(!response.text().await.unwrap().contains("csrf_token"));
    let response = browser
        .post("/admin/sessions/revoke", &[("session_id", "x")])
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn the_admin_sees_her_session() {
    let app = spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let response = browser.get("/admin/sessions").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(&sid_of(&tokens)));
    assert!(html.contains(&sub_of(&tokens)));
    assert!(html.contains("Alice Smith"));
    assert!(html.contains("<code>web</code>"), "the session's client");
    assert!(html.contains("Page 1 of 1, 1 session"));
    assert!(html.contains("Audit log"));
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let app = spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let sid = sid_of(&tokens);
    let html = admin_page(&browser, &format!("/admin/sessions?session_id={sid}")).await;
    assert!(html.contains("Page 1 of 1, 1 session"));
    let html = admin_page(&browser, "/admin/sessions?display_name=Alice").await;
    assert!(html.contains(&sid));
    let html = admin_page(&browser, "/admin/sessions?display_name=Bob").await;
    assert!(!html.contains(&sid));
    assert!(html.contains("No sessions match."));
    let html = admin_page(&browser, "/admin/sessions?subject_id=nobody&count=x").await;
    assert!(html.contains("No sessions match."));
}

#[tokio::test]
async fn revoking_removes_the_session_and_shows_the_outcome_once() {
    let app = spawn().await;
    let (admin, _) = app.web_tokens("openid").await;
    let (_other, other_tokens) = app.web_tokens("openid").await;
    let sid = sid_of(&other_tokens);
    let html = admin_page(&admin, "/admin/sessions").await;
    assert!(html.contains(&sid));

    let response = revoke(&admin, &html, &sid).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/sessions");
    let flash_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("oxidp.admin.flash="))
        .expect("flash cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(flash_cookie.contains(attribute), "{flash_cookie}");
    }

    let remaining = app
        .stores
        .sessions
        .get_sessions(&SessionFilter {
            session_id: Some(sid.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(remaining.is_empty(), "the session is gone from the store");

    let html = admin_page(&admin, "/admin/sessions").await;
    assert!(html.contains("Removed 1 session; "), "flash shown");
    assert!(!html.contains(&format!("<code>{sid}</code>")), "row gone");
    assert!(html.contains(&format!("page:{}", sub_of(&other_tokens))));
    let html = admin_page(&admin, "/admin/sessions").await;
    assert!(!html.contains("Removed 1 session"), "flash shown only once");
}

#[tokio::test]
async fn revoke_without_csrf_is_refused() {
    let app = spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let sid = sid_of(&tokens);
    let response = browser
        .post(
            "/admin/sessions/revoke",
            &[("session_id", &sid), ("remove_session", "true")],
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = browser
        .post(
            "/admin/sessions/revoke",
            &[
                ("session_id", &sid),
                ("remove_session", "true"),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        app.stores
            .sessions
            .get_sessions(&SessionFilter {
                session_id: Some(sid),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1,
        "nothing removed"
    );
}

#[tokio::test]
async fn paging_links_walk_forward_and_back() {
    let app = spawn().await;
    let (browser, _) = app.web_tokens("openid").await;
    app.web_tokens("openid").await;
    app.web_tokens("openid").await;

    let first = admin_page(&browser, "/admin/sessions?count=1").await;
    assert!(first.contains("Page 1 of 3, 3 sessions"));
    assert_eq!(link(&first, "Previous page"), None);
    let next = link(&first, "Next page").expect("next link");
    assert!(next.starts_with("/admin/sessions?"), "{next}");
    assert_eq!(query(&next)["count"], "1");
    assert!(query(&next).contains_key("results_token"));

    let second = admin_page(&browser, &next).await;
    assert!(second.contains("Page 2 of 3, 3 sessions"));
    let prev = link(&second, "Previous page").expect("prev link");
    assert_eq!(query(&prev)["prior"], "true");
    assert!(link(&second, "Next page").is_some());

    let back = admin_page(&browser, &prev).await;
    assert!(back.contains("Page 1 of 3, 3 sessions"));
}

#[tokio::test]
async fn without_server_side_sessions_the_page_says_so() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.web_tokens("openid").await;
    let html = admin_page(&browser, "/admin/sessions").await;
    assert!(html.contains("Server-side sessions are not enabled"));
    assert!(!html.contains("/admin/sessions/revoke"));
}

#[tokio::test]
async fn deliveries_are_listed_with_their_attempts() {
    let (_receiver, url) = crate::backchannel::Receiver::start(usize::MAX).await;
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config
            .clients
            .push(crate::backchannel::bcl_client("bcl-a", Some(&url)));
    })
    .await;
    let (admin, _) = app.web_tokens("openid").await;
    let (other, other_tokens) = app.web_tokens("openid").await;
    let (_, challenge) = pkce();
    let response = other
        .authorize(&[
            ("client_id", "bcl-a"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert!(query(&location(&response)).contains_key("code"));
    let sid = sid_of(&other_tokens);
    let html = admin_page(&admin, "/admin/sessions").await;
    assert_eq!(revoke(&admin, &html, &sid).await.status(), 303);

    let html = admin_page(&admin, "/admin/sessions").await;
    assert!(html.contains("Removed 1 session; 1 logout notification queued"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let html = loop {
        let html = admin_page(&admin, "/admin/sessions").await;
        if html.contains("HTTP 500") || tokio::time::Instant::now() > deadline {
            break html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let pending = &html[html.find("Pending back-channel deliveries").unwrap()
        ..html.find("Failed back-channel deliveries").unwrap()];
    assert!(pending.contains("<code>bcl-a</code>"), "{pending}");
    assert!(pending.contains(&sid));
    assert!(pending.contains("terminated"));
    assert!(pending.contains("HTTP 500"), "the failed attempt is shown");
}
