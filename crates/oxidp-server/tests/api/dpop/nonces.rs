//! Server nonces (RFC 9449 §8): `use_dpop_nonce` with a `DPoP-Nonce`, a fresh nonce on every
//! success, per client or server-wide, valid for `dpop.nonce_lifetime`.

use super::*;

/// A client-credentials request of `client` with a proof carrying `nonce`.
async fn with_nonce(
    app: &TestApp,
    client: (&str, &str),
    holder: &Holder,
    nonce: Option<&str>,
) -> reqwest::Response {
    let proof = holder.proof(app, "POST", TOKEN_URL, nonce, None);
    client_credentials(app, client, &[&proof]).await
}

/// Expects `400 use_dpop_nonce` with a nonce to use, and returns it.
async fn nonce_demanded(response: reqwest::Response) -> String {
    let nonce = nonce_of(&response).expect("a DPoP-Nonce header");
    assert_oauth_error(response, 400, "use_dpop_nonce").await;
    nonce
}

#[tokio::test]
async fn a_client_requiring_nonces_gets_one_then_a_fresh_one_with_each_token() {
    let app = spawn().await;
    let holder = Holder::new();
    let client = ("dpop-nonce", "dpop-nonce-secret");
    let nonce = nonce_demanded(with_nonce(&app, client, &holder, None).await).await;
    let forged = with_nonce(&app, client, &holder, Some("forged-nonce")).await;
    let _ = nonce_demanded(forged).await;

    let response = with_nonce(&app, client, &holder, Some(&nonce)).await;
    assert_eq!(response.status(), 200);
    let fresh = nonce_of(&response).expect("a fresh nonce on success");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    // The fresh nonce works as well as the first.
    let response = with_nonce(&app, client, &holder, Some(&fresh)).await;
    assert_eq!(response.status(), 200);
    // Other clients need none (the server default is off), and get none.
    let response = with_nonce(&app, ("m2m", "m2m-secret"), &holder, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(nonce_of(&response), None);
}

#[tokio::test]
async fn the_server_default_requires_nonces_of_every_client() {
    let app = spawn_with(|config| config.dpop.require_nonce = true).await;
    let holder = Holder::new();
    let client = ("m2m", "m2m-secret");
    let nonce = nonce_demanded(with_nonce(&app, client, &holder, None).await).await;
    let response = with_nonce(&app, client, &holder, Some(&nonce)).await;
    assert_eq!(response.status(), 200);
    // A request without DPoP at all is not asked for a nonce.
    assert_eq!(app.token_for(client, None).await["token_type"], "Bearer");
}

#[tokio::test]
async fn a_nonce_expires_after_its_lifetime() {
    let clock = std::sync::Arc::new(oxidp_core::clock::ManualClock::starting_now());
    let app = TestApp::spawn_with(Some(clock.clone()), |config| {
        config.clients.extend(dpop_clients());
        config.dpop.nonce_lifetime = std::time::Duration::from_secs(120);
    })
    .await;
    let holder = Holder::new();
    let client = ("dpop-nonce", "dpop-nonce-secret");
    let nonce = nonce_demanded(with_nonce(&app, client, &holder, None).await).await;
    clock.advance(time::Duration::seconds(100));
    assert_eq!(
        with_nonce(&app, client, &holder, Some(&nonce))
            .await
            .status(),
        200
    );
    clock.advance(time::Duration::seconds(30));
    let stale = with_nonce(&app, client, &holder, Some(&nonce)).await;
    let _ = nonce_demanded(stale).await;
}

#[tokio::test]
async fn userinfo_demands_a_nonce_with_a_dpop_challenge_and_rotates_it() {
    let app = spawn_with(|config| config.dpop.require_nonce = true).await;
    let holder = Holder::new();
    let (code, verifier) = code_for(&app, "web", "openid profile", None).await;
    let client = ("web", Some("web-secret"));
    let first = redeem(&app, client, &code, &verifier, &[&holder.token_proof(&app)]).await;
    let nonce = nonce_demanded(first).await;
    let proof = holder.proof(&app, "POST", TOKEN_URL, Some(&nonce), None);
    let redeemed = redeem(&app, client, &code, &verifier, &[&proof]).await;
    assert_eq!(redeemed.status(), 200);
    let nonce = nonce_of(&redeemed).expect("a fresh nonce");
    let tokens: Value = redeemed.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let scheme = format!("DPoP {token}");

    let without = holder.proof(&app, "GET", USERINFO_URL, None, Some(token));
    let response = userinfo(&app, &scheme, &[&without]).await;
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let demanded = nonce_of(&response).expect("a DPoP-Nonce header");

    for nonce in [nonce, demanded] {
        let proof = holder.proof(&app, "GET", USERINFO_URL, Some(&nonce), Some(token));
        let response = userinfo(&app, &scheme, &[&proof]).await;
        assert_eq!(response.status(), 200);
        assert!(nonce_of(&response).is_some(), "a fresh nonce on success");
    }
}
