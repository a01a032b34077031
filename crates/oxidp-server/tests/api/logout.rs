//! RP-initiated logout.

use crate::browser::*;
use crate::helpers::*;

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_session_and_redirects_back() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://app.test/signed-out"),
                ("state", "bye")
            ])
        ))
        .await;
    assert_eq!(response.status(), 303);
    let cleared = response.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("oxidp.session=") && c.contains("Max-Age=0")
    });
    assert!(cleared, "the session cookie is deleted");
    assert_eq!(location(&response), "https://app.test/signed-out?state=bye");

    // Signed out: the next authorize request asks for a login again.
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert!(location(&response).starts_with("/account/login"));
}

#[tokio::test]
async fn logout_without_a_hint_asks_for_confirmation_with_csrf() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.web_tokens("openid").await;
    let page = browser.get("/connect/endsession").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let logout_id = field(&html, "logout_id").unwrap();
    let csrf = field(&html, "csrf_token").unwrap();
    let forged = browser
        .post("/account/logout", &[("logout_id", logout_id.as_str())])
        .await;
    assert_eq!(forged.status(), 400, "no CSRF token, no logout");
    let confirmed = browser
        .post(
            "/account/logout",
            &[
                ("logout_id", logout_id.as_str()),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("signed out"));
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_refused() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://evil.test/")
            ])
        ))
        .await;
    assert_eq!(response.status(), 400);
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("post_logout_redirect_uri", "https://app.test/signed-out")])
        ))
        .await;
    assert_eq!(response.status(), 400, "no client to check the URI against");
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", "forged.token.here")])
        ))
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_logout_hint_naming_someone_else_asks_for_confirmation() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint), ("logout_hint", "bob")])
        ))
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        field(&html, "logout_id").is_some(),
        "confirmation page, not a silent logout"
    );
    let same = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", hint), ("logout_hint", "alice")])
        ))
        .await;
    assert!(
        field(&same.text().await.unwrap(), "logout_id").is_none(),
        "the right user: no prompt"
    );
}

#[tokio::test]
async fn an_access_token_is_no_id_token_hint() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.web_tokens("openid").await;
    let response = browser
        .get(&format!(
            "/connect/endsession?{}",
            form_body(&[("id_token_hint", tokens["access_token"].as_str().unwrap())])
        ))
        .await;
    assert_eq!(response.status(), 400);
}
