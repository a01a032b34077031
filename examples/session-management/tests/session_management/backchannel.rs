//! The web app's back-channel logout endpoint refuses anything but a logout token signed by
//! the identity server, and the API refuses calls without a valid token.

use crate::helpers::*;
use oxidp_jose::{SigningAlgorithm, SigningKey};
use serde_json::{Value, json};

async fn post_logout_token(app: &TestSample, body: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.web("/backchannel-logout"))
        .form(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forged_or_malformed_logout_tokens_are_refused_and_sign_no_one_out() {
    let app = TestSample::spawn().await;
    app.sign_in().await;
    let session = &app.sessions().await[0];
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Everything right but the key: the identity server never signed this.
    let forged = SigningKey::generate(SigningAlgorithm::ES256)
        .unwrap()
        .sign_jwt(
            "logout+jwt",
            &json!({
                "iss": app.sample.issuer(), "aud": "web", "iat": now, "exp": now + 120,
                "jti": "forged-1", "sub": session["subject_id"], "sid": session["session_id"],
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            }),
        )
        .unwrap();
    for body in [
        vec![],
        vec![("logout_token", "not-a-jwt")],
        vec![("logout_token", forged.as_str())],
    ] {
        let response = post_logout_token(&app, &body).await;
        assert_eq!(response.status(), 400, "{body:?}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request");
    }
    assert_eq!(app.sample.web_app().signed_in_count(), 1);
    assert!(app.home().await.contains("Signed in as Alice Smith"));
}

#[tokio::test]
async fn the_api_refuses_calls_without_a_valid_token() {
    let app = TestSample::spawn().await;
    let claims = app.sample.api_url().join("/claims").unwrap();
    let http = reqwest::Client::new();
    let response = http.get(claims.clone()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = http.get(claims).bearer_auth("a.b.c").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}
