//! `/connect/authorize`: validation, and where each error goes.

use crate::browser::*;
use crate::helpers::*;

fn base(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", "web"),
        ("redirect_uri", WEB_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value));
    }
    params
}

#[tokio::test]
async fn an_anonymous_browser_is_sent_to_the_login_page() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let response = browser.authorize(&base(&challenge)).await;
    assert_eq!(response.status(), 303);
    let next = location(&response);
    assert!(
        next.starts_with("/account/login?return_url=%2Fconnect%2Fauthorize%3F"),
        "{next}"
    );
}

#[tokio::test]
async fn a_wrong_redirect_uri_shows_the_error_page_and_never_redirects() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    for uri in [
        "https://evil.test/callback",
        "https://app.test/callback/",
        "https://app.test/callback?x=1",
    ] {
        let response = browser
            .authorize(&with(base(&challenge), "redirect_uri", Some(uri)))
            .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect_uri is not registered"), "{html}");
        assert!(html.contains("Error id"), "an error id for support");
    }
}

#[tokio::test]
async fn an_unknown_client_shows_the_error_page() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&with(base(&challenge), "client_id", Some("nobody")))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let response = browser
        .authorize(&with(base(&challenge), "client_id", None))
        .await;
    assert_eq!(response.status(), 400);
}

async fn client_error(
    app: &TestApp,
    params: Vec<(&str, &str)>,
) -> std::collections::HashMap<String, String> {
    let browser = Browser::new(app);
    let response = browser.authorize(&params).await;
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with(WEB_REDIRECT), "{target}");
    let params = query(&target);
    assert_eq!(params["iss"], ISSUER, "RFC 9207 iss on errors too");
    params
}

#[tokio::test]
async fn request_errors_after_the_redirect_uri_is_trusted_go_back_to_the_client() {
    let app = TestApp::spawn().await;
    let (_, challenge) = pkce();
    let cases = [
        (
            with(base(&challenge), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (
            with(base(&challenge), "response_type", None),
            "invalid_request",
        ),
        (
            with(base(&challenge), "scope", Some("openid admin.everything")),
            "invalid_scope",
        ),
        (
            with(base(&challenge), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(
                with(base(&challenge), "code_challenge", None),
                "code_challenge_method",
                None,
            ),
            "invalid_request",
        ),
        (
            with(base(&challenge), "prompt", Some("none login")),
            "invalid_request",
        ),
        (
            with(base(&challenge), "max_age", Some("-1")),
            "invalid_request",
        ),
    ];
    for (params, error) in cases {
        let result = client_error(&app, params.clone()).await;
        assert_eq!(result["error"], error, "{params:?}");
        assert_eq!(result["state"], "xyz");
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let app = TestApp::spawn().await;
    let (_, challenge) = pkce();
    let result = client_error(&app, with(base(&challenge), "prompt", Some("none"))).await;
    assert_eq!(result["error"], "login_required");
}

#[tokio::test]
async fn a_signed_in_user_gets_a_code_without_seeing_the_login_page_again() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    browser
        .code_flow_callback("web", "openid", &challenge, ("alice", "alice-password"))
        .await;
    let response = browser
        .authorize(&with(base(&challenge), "prompt", Some("none")))
        .await;
    let target = location(&response);
    let params = query(&target);
    assert!(params.contains_key("code"), "{target}");
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
}

#[tokio::test]
async fn prompt_login_and_an_exceeded_max_age_force_a_new_sign_in() {
    let app = TestApp::spawn_with_clock().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    browser
        .code_flow_callback("web", "openid", &challenge, ("alice", "alice-password"))
        .await;
    for (name, value) in [("prompt", "login"), ("max_age", "0"), ("max_age", "60")] {
        app.clock().advance(time::Duration::seconds(61));
        let response = browser
            .authorize(&with(base(&challenge), name, Some(value)))
            .await;
        let next = location(&response);
        assert!(next.starts_with("/account/login"), "{name}={value}: {next}");
        assert!(
            !next.contains("prompt%3Dlogin"),
            "the resumed request must not loop: {next}"
        );
    }
}

#[tokio::test]
async fn max_age_zero_is_satisfied_right_after_signing_in() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&with(base(&challenge), "max_age", Some("0")))
        .await;
    let posted = browser
        .sign_in_at(&location(&response), "alice", "alice-password")
        .await;
    let callback = browser.follow_to_client(posted).await;
    assert!(
        query(&callback).contains_key("code"),
        "no second trip to the login page: {callback}"
    );
}

#[tokio::test]
async fn response_mode_form_post_renders_a_form_to_the_redirect_uri() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    browser
        .code_flow_callback("web", "openid", &challenge, ("alice", "alice-password"))
        .await;
    let response = browser
        .authorize(&with(base(&challenge), "response_mode", Some("form_post")))
        .await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action https://app.test"), "{csp}");
    let html = unescape(&response.text().await.unwrap());
    assert!(
        html.contains("action=\"https://app.test/callback\""),
        "{html}"
    );
    assert!(field(&html, "code").is_some());
    assert_eq!(field(&html, "state").as_deref(), Some("xyz"));
    assert_eq!(field(&html, "iss").as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn a_public_client_must_use_pkce() {
    let app = TestApp::spawn().await;
    let params = vec![
        ("client_id", "native"),
        ("redirect_uri", WEB_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "xyz"),
    ];
    assert_eq!(client_error(&app, params).await["error"], "invalid_request");
}

#[tokio::test]
async fn a_post_authorization_request_is_answered_with_the_same_request_as_a_get() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let response = browser.post("/connect/authorize", &base(&challenge)).await;
    assert_eq!(response.status(), 303);
    let next = location(&response);
    assert!(next.starts_with("/connect/authorize?"), "{next}");
    assert_eq!(query(&next)["state"], "xyz");
}

#[tokio::test]
async fn request_objects_get_their_specific_errors() {
    let app = TestApp::spawn().await;
    let (_, challenge) = pkce();
    let result = client_error(&app, with(base(&challenge), "request", Some("eyJ.x.y"))).await;
    assert_eq!(result["error"], "request_not_supported");
    let result = client_error(
        &app,
        with(base(&challenge), "request_uri", Some("https://app.test/r")),
    )
    .await;
    assert_eq!(result["error"], "request_uri_not_supported");
}

/// RFC 8252 §7.3: a native app's loopback redirect URI is registered without a port and used
/// with whatever port the app got; nothing else about it may differ.
#[tokio::test]
async fn a_loopback_redirect_uri_matches_on_any_port() {
    let app = TestApp::spawn_with(None, |config| {
        let native = &mut config
            .clients
            .iter_mut()
            .find(|c| c.client.client_id == "native")
            .unwrap()
            .client;
        native
            .redirect_uris
            .push("http://127.0.0.1/callback".into());
    })
    .await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let request = |redirect_uri: &'static str| {
        vec![
            ("client_id", "native"),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
    };
    let response = browser
        .authorize(&request("http://127.0.0.1:53124/callback"))
        .await;
    assert!(location(&response).starts_with("/account/login"));
    for refused in [
        "http://127.0.0.1:53124/other",
        "http://localhost:53124/callback",
    ] {
        let response = browser.authorize(&request(refused)).await;
        assert_eq!(response.status(), 400, "{refused}");
    }
}
