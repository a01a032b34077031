//! The authorization code flow end to end, and its token-endpoint error paths.

use crate::browser::*;
use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn alice_signs_in_and_the_web_app_gets_id_access_and_refresh_tokens() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app
        .web_tokens("openid profile email orders.read offline_access")
        .await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens["scope"],
        "openid profile email orders.read offline_access"
    );
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() == 43)
    );
    let access = jwt_payload(tokens["access_token"].as_str().unwrap());
    let id = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], "web");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["sub"], access["sub"]);
    assert_eq!(id["sid"], access["sid"]);
    assert!(
        id["sid"].as_str().is_some_and(|s| s.len() == 22),
        "128-bit sid"
    );
    assert!(id["auth_time"].is_i64());
    assert_eq!(access["aud"], "orders-api");
    assert_eq!(access["client_id"], "web");
    // at_hash: left half of SHA-256 of the access token (ES256).
    let digest = oxidp_jose::sha256(tokens["access_token"].as_str().unwrap());
    assert_eq!(id["at_hash"], oxidp_jose::b64url_encode(&digest[..16]));
    insta::assert_json_snapshot!("id_token_claims", id, {
        ".iat" => "[iat]", ".exp" => "[exp]", ".auth_time" => "[auth_time]", ".sid" => "[sid]", ".sub" => "[sub]", ".at_hash" => "[at_hash]"
    });
}

async fn fresh_code(app: &TestApp) -> (String, String) {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let callback = browser
        .code_flow_callback(
            "web",
            "openid orders.read offline_access",
            &challenge,
            ("alice", "alice-password"),
        )
        .await;
    let params = query(&callback);
    assert_eq!(params["state"], "st-1");
    assert_eq!(params["iss"], ISSUER);
    (params["code"].clone(), verifier)
}

#[tokio::test]
async fn a_missing_or_wrong_code_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let (code, _) = fresh_code(&app).await;
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
            ],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
    let (code, _) = fresh_code(&app).await;
    let (other_verifier, _) = pkce();
    assert_oauth_error(
        app.redeem(("web", "web-secret"), &code, &other_verifier)
            .await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_different_redirect_uri_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let (code, verifier) = fresh_code(&app).await;
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.test/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_code_redeemed_twice_is_refused_and_its_tokens_are_revoked() {
    let app = TestApp::spawn().await;
    let (code, verifier) = fresh_code(&app).await;
    let first: Value = app
        .redeem(("web", "web-secret"), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        app.redeem(("web", "web-secret"), &code, &verifier).await,
        400,
        "invalid_grant",
    )
    .await;
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_yield_one_token() {
    let app = TestApp::spawn().await;
    let (code, verifier) = fresh_code(&app).await;
    let body = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", &verifier),
    ]);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .http
                .post(app.url("/connect/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", basic_header("web", "web-secret"))
                .body(body.clone());
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = TestApp::spawn_with_clock().await;
    let (code, verifier) = fresh_code(&app).await;
    app.clock().advance(time::Duration::seconds(61));
    assert_oauth_error(
        app.redeem(("web", "web-secret"), &code, &verifier).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn another_clients_code_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let (code, verifier) = fresh_code(&app).await;
    let response = app
        .redeem(("consenting", "consenting-secret"), &code, &verifier)
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_public_client_redeems_with_pkce_alone() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let callback = browser
        .code_flow_callback(
            "native",
            "openid offline_access",
            &challenge,
            ("bob", "bob-password"),
        )
        .await;
    let code = query(&callback)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "native"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let response = app.post_token(None, &form).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_wrong_password_re_renders_the_form_with_a_generic_message() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
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
    let login = location(&response);
    let wrong = browser.sign_in_at(&login, "alice", "nope").await;
    assert_eq!(wrong.status(), 200);
    let wrong_html = wrong.text().await.unwrap();
    let unknown = browser.sign_in_at(&login, "mallory", "nope").await;
    let unknown_html = unknown.text().await.unwrap();
    assert!(wrong_html.contains("Invalid username or password."));
    assert!(unknown_html.contains("Invalid username or password."));
    assert!(wrong_html.contains("role=\"alert\""));
}

#[tokio::test]
async fn repeated_failures_for_a_username_are_throttled() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let login = "/account/login?return_url=%2Fconnect%2Fauthorize%3Fclient_id%3Dweb";
    for _ in 0..5 {
        assert_eq!(
            browser.sign_in_at(login, "bob", "wrong").await.status(),
            200
        );
    }
    let throttled = browser.sign_in_at(login, "bob", "bob-password").await;
    assert_eq!(
        throttled.status(),
        429,
        "even the right password waits out the window"
    );
}

#[tokio::test]
async fn a_login_post_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    browser.get("/account/login").await;
    let response = browser
        .post(
            "/account/login",
            &[
                ("username", "alice"),
                ("password", "alice-password"),
                ("return_url", "/connect/authorize?client_id=web"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("oxidp.session="))
    );
    let forged = browser
        .post(
            "/account/login",
            &[
                ("username", "alice"),
                ("password", "alice-password"),
                ("csrf_token", "AAAA"),
                ("return_url", ""),
            ],
        )
        .await;
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_lax() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let login = "/account/login?return_url=%2Fconnect%2Fauthorize%3Fclient_id%3Dweb";
    let response = browser.sign_in_at(login, "alice", "alice-password").await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("oxidp.session="))
        .expect("session cookie set");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=36000"), "{cookie}");
}

#[tokio::test]
async fn a_sign_in_without_a_return_url_answers_with_the_security_headers() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let response = browser
        .sign_in_at("/account/login", "alice", "alice-password")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(response.text().await.unwrap().contains("You are signed in"));
}

fn jwt_alg(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&oxidp_jose::b64url_decode(header).unwrap()).unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

/// OpenID Connect Discovery: every provider supports RS256 ID tokens. By default ID tokens are
/// RS256 and access tokens ES256; a client may register `id_token_signed_response_alg`.
#[tokio::test]
async fn id_tokens_are_rs256_by_default_or_what_the_client_registered() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid").await;
    assert_eq!(jwt_alg(tokens["id_token"].as_str().unwrap()), "RS256");
    assert_eq!(jwt_alg(tokens["access_token"].as_str().unwrap()), "ES256");

    let app = TestApp::spawn_with(None, |config| {
        let web = &mut config
            .clients
            .iter_mut()
            .find(|c| c.client.client_id == "web")
            .unwrap()
            .client;
        web.id_token_signed_response_alg = Some(oxidp_jose::SigningAlgorithm::ES256);
    })
    .await;
    let (_, tokens) = app.web_tokens("openid").await;
    assert_eq!(jwt_alg(tokens["id_token"].as_str().unwrap()), "ES256");
}
