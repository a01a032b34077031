//! Userinfo with DPoP-bound tokens (RFC 9449 §7): the DPoP scheme and a proof with `ath`, or
//! a `401` with a `DPoP` challenge.

use super::*;

/// A code-flow access token of alice for the `web` client, bound to `holder`'s key.
async fn bound_user_token(app: &TestApp, holder: &Holder) -> String {
    let (code, verifier) = code_for(app, "web", "openid profile", None).await;
    let response = redeem(
        app,
        ("web", Some("web-secret")),
        &code,
        &verifier,
        &[&holder.token_proof(app)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    tokens["access_token"].as_str().unwrap().to_owned()
}

fn userinfo_proof(app: &TestApp, holder: &Holder, token: Option<&str>) -> String {
    holder.proof(app, "GET", USERINFO_URL, None, token)
}

/// Asserts a 401 with a DPoP challenge carrying `error` and the algorithms.
async fn dpop_refusal(response: reqwest::Response, error: &str) {
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{error}\"")),
        "{challenge}"
    );
    assert!(
        challenge.contains("algs=\"ES256 ES384 EdDSA PS256 RS256\""),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error);
}

#[tokio::test]
async fn a_bound_token_with_the_dpop_scheme_and_a_proof_gets_the_claims() {
    let app = spawn().await;
    let holder = Holder::new();
    let token = bound_user_token(&app, &holder).await;
    let proof = userinfo_proof(&app, &holder, Some(&token));
    let response = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(nonce_of(&response), None, "no nonce outside nonce mode");
    let claims: Value = response.json().await.unwrap();
    assert_eq!(claims["name"], "Alice Smith");
    // The same proof again is a replay.
    let replay = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    dpop_refusal(replay, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_invalid_token() {
    let app = spawn().await;
    let holder = Holder::new();
    let token = bound_user_token(&app, &holder).await;
    let response = userinfo(&app, &format!("Bearer {token}"), &[]).await;
    dpop_refusal(response, "invalid_token").await;
    // Not even with a valid proof beside it.
    let proof = userinfo_proof(&app, &holder, Some(&token));
    let response = userinfo(&app, &format!("Bearer {token}"), &[&proof]).await;
    dpop_refusal(response, "invalid_token").await;
}

#[tokio::test]
async fn a_bound_token_without_a_valid_proof_is_invalid_dpop_proof() {
    let app = spawn().await;
    let holder = Holder::new();
    let token = bound_user_token(&app, &holder).await;
    let scheme = format!("DPoP {token}");
    dpop_refusal(userinfo(&app, &scheme, &[]).await, "invalid_dpop_proof").await;
    let without_ath = userinfo_proof(&app, &holder, None);
    dpop_refusal(
        userinfo(&app, &scheme, &[&without_ath]).await,
        "invalid_dpop_proof",
    )
    .await;
    let other_token = userinfo_proof(&app, &holder, Some("another-token"));
    dpop_refusal(
        userinfo(&app, &scheme, &[&other_token]).await,
        "invalid_dpop_proof",
    )
    .await;
    let other_key = userinfo_proof(&app, &Holder::new(), Some(&token));
    dpop_refusal(
        userinfo(&app, &scheme, &[&other_key]).await,
        "invalid_dpop_proof",
    )
    .await;
    let token_endpoint = holder.proof(&app, "POST", TOKEN_URL, None, Some(&token));
    dpop_refusal(
        userinfo(&app, &scheme, &[&token_endpoint]).await,
        "invalid_dpop_proof",
    )
    .await;
    let (a, b) = (
        userinfo_proof(&app, &holder, Some(&token)),
        userinfo_proof(&app, &holder, Some(&token)),
    );
    dpop_refusal(
        userinfo(&app, &scheme, &[&a, &b]).await,
        "invalid_dpop_proof",
    )
    .await;
    dpop_refusal(
        userinfo(&app, &scheme, &["garbage"]).await,
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn an_unbound_token_with_the_dpop_scheme_is_invalid_token() {
    let app = spawn().await;
    let (_, tokens) = app.web_tokens("openid profile").await;
    let token = tokens["access_token"].as_str().unwrap();
    let holder = Holder::new();
    let proof = userinfo_proof(&app, &holder, Some(token));
    let response = userinfo(&app, &format!("DPoP {token}"), &[&proof]).await;
    dpop_refusal(response, "invalid_token").await;
    // As a Bearer token it still works, a stray DPoP header notwithstanding.
    let response = userinfo(&app, &format!("Bearer {token}"), &[&proof]).await;
    assert_eq!(response.status(), 200);
}
