//! The authentication cookie's lifetime: fixed, or sliding.

use crate::browser::*;
use crate::helpers::*;
use oxidp_core::clock::ManualClock;
use std::sync::Arc;

async fn silent_authorize(browser: &Browser) -> reqwest::Response {
    let (_, challenge) = pkce();
    browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await
}

fn session_cookie_set(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("oxidp.session="))
}

#[tokio::test]
async fn a_session_ends_after_the_cookie_lifetime() {
    let app = TestApp::spawn_with_clock().await;
    let (browser, _) = app.web_tokens("openid").await;
    app.clock().advance(time::Duration::hours(9));
    assert!(query(&location(&silent_authorize(&browser).await)).contains_key("code"));
    app.clock().advance(time::Duration::hours(1));
    assert_eq!(
        query(&location(&silent_authorize(&browser).await))["error"],
        "login_required"
    );
}

#[tokio::test]
async fn a_sliding_session_is_renewed_once_per_half_lifetime_not_on_every_request() {
    let clock = Arc::new(ManualClock::starting_now());
    let app = TestApp::spawn_with(Some(clock), |config| {
        config.authentication.cookie_lifetime = std::time::Duration::from_secs(3600);
        config.authentication.cookie_sliding_expiration = true;
    })
    .await;
    let (browser, _) = app.web_tokens("openid").await;
    app.clock().advance(time::Duration::minutes(10));
    let early = silent_authorize(&browser).await;
    assert!(query(&location(&early)).contains_key("code"));
    assert!(
        !session_cookie_set(&early),
        "no renewal before half the lifetime"
    );
    app.clock().advance(time::Duration::minutes(25));
    let renewed = silent_authorize(&browser).await;
    assert!(
        session_cookie_set(&renewed),
        "renewed after half the lifetime"
    );
    app.clock().advance(time::Duration::minutes(50));
    assert!(
        query(&location(&silent_authorize(&browser).await)).contains_key("code"),
        "still signed in 85 minutes after sign-in"
    );
}

#[tokio::test]
async fn a_tampered_cookie_means_signed_out() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let without_jar = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, challenge) = pkce();
    let response = without_jar
        .get(browser.url(&format!(
            "/connect/authorize?{}",
            form_body(&[
                ("client_id", "web"),
                ("redirect_uri", WEB_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256")
            ])
        )))
        .header(
            "cookie",
            "oxidp.session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(query(&location(&response))["error"], "login_required");
}
