//! The consent page: approve, deny, remember.

use crate::browser::*;
use crate::helpers::*;

async fn to_consent_page(
    browser: &Browser,
    challenge: &str,
    prompt: Option<&str>,
) -> reqwest::Response {
    let mut params = vec![
        ("client_id", "consenting"),
        ("redirect_uri", WEB_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile orders.read"),
        ("state", "c-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(prompt) = prompt {
        params.push(("prompt", prompt));
    }
    let mut response = browser.authorize(&params).await;
    for _ in 0..5 {
        let next = location(&response);
        if next.starts_with("/account/login") {
            response = browser.sign_in_at(&next, "alice", "alice-password").await;
        } else if next.starts_with("/connect/authorize") {
            response = browser.get(&next).await;
        } else if next.starts_with("/account/consent") {
            return browser.get(&next).await;
        } else {
            return response;
        }
    }
    panic!("no consent page");
}

async fn submit(
    browser: &Browser,
    page: reqwest::Response,
    button: &str,
    scopes: &[&str],
    remember: bool,
) -> reqwest::Response {
    let html = page.text().await.unwrap();
    let csrf = field(&html, "csrf_token").unwrap();
    let return_url = field(&html, "return_url").unwrap();
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("return_url", return_url.as_str()),
        ("button", button),
    ];
    for scope in scopes {
        form.push(("scopes", scope));
    }
    if remember {
        form.push(("remember", "on"));
    }
    browser.post("/account/consent", &form).await
}

#[tokio::test]
async fn the_consent_page_lists_the_client_and_its_scopes() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page = to_consent_page(&browser, &challenge, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Consent App"));
    assert!(html.contains("orders.read"));
    assert!(html.contains("Remember my decision"));
}

#[tokio::test]
async fn approving_some_scopes_issues_a_code_for_those() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let page = to_consent_page(&browser, &challenge, None).await;
    let response = submit(&browser, page, "yes", &["orders.read"], false).await;
    let callback = location(&response);
    let code = query(&callback)["code"].clone();
    let tokens: serde_json::Value = app
        .redeem(("consenting", "consenting-secret"), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        tokens["scope"], "openid orders.read",
        "profile was not approved"
    );
}

#[tokio::test]
async fn denying_sends_access_denied_to_the_client() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page = to_consent_page(&browser, &challenge, None).await;
    let response = submit(&browser, page, "no", &[], false).await;
    let params = query(&location(&response));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "c-1");
}

#[tokio::test]
async fn a_remembered_decision_skips_the_page_until_prompt_consent() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page = to_consent_page(&browser, &challenge, None).await;
    submit(&browser, page, "yes", &["profile", "orders.read"], true).await;
    let again = to_consent_page(&browser, &challenge, None).await;
    assert!(
        location(&again).starts_with(WEB_REDIRECT),
        "no consent page the second time"
    );
    let forced = to_consent_page(&browser, &challenge, Some("consent")).await;
    assert_eq!(forced.status(), 200, "prompt=consent shows it again");
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    to_consent_page(&browser, &challenge, None).await; // signs in, leaves the page unanswered
    let response = to_consent_page(&browser, &challenge, Some("none")).await;
    assert_eq!(query(&location(&response))["error"], "consent_required");
}

#[tokio::test]
async fn a_consent_post_without_csrf_is_refused() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page = to_consent_page(&browser, &challenge, None).await;
    let html = page.text().await.unwrap();
    let return_url = field(&html, "return_url").unwrap();
    let response = browser
        .post(
            "/account/consent",
            &[("return_url", return_url.as_str()), ("button", "yes")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn prompt_consent_shows_the_page_even_when_the_client_does_not_require_it() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.web_tokens("openid").await;
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "consent"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert!(location(&response).starts_with("/account/consent"));
}
