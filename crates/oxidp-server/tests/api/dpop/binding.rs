//! What a DPoP token request issues, and what binds refresh tokens and codes to a key.

use super::*;

#[tokio::test]
async fn a_client_credentials_request_with_a_proof_gets_a_dpop_bound_jwt() {
    let app = spawn().await;
    let holder = Holder::new();
    let tokens = bound_token(&app, ("m2m", "m2m-secret"), &holder).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jkt_of(access), Some(holder.jkt()));
    // Without a proof the same client still gets an unbound Bearer token.
    let plain = app.token_for(("m2m", "m2m-secret"), None).await;
    assert_eq!(plain["token_type"], "Bearer");
    assert_eq!(jkt_of(plain["access_token"].as_str().unwrap()), None);
}

#[tokio::test]
async fn a_client_that_requires_dpop_is_refused_a_bearer_token() {
    let app = spawn().await;
    let response = client_credentials(&app, ("dpop-m2m", "dpop-secret"), &[]).await;
    let body = assert_oauth_error(response, 400, "invalid_request").await;
    assert!(
        body["error_description"].as_str().unwrap().contains("DPoP"),
        "{body}"
    );
    let holder = Holder::new();
    let tokens = bound_token(&app, ("dpop-m2m", "dpop-secret"), &holder).await;
    assert_eq!(tokens["token_type"], "DPoP");
}

#[tokio::test]
async fn a_bound_reference_token_is_introspected_with_its_jkt() {
    let app = spawn().await;
    let holder = Holder::new();
    let tokens = bound_token(&app, ("dpop-reference", "dpop-reference-secret"), &holder).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let handle = tokens["access_token"].as_str().unwrap();
    assert_eq!(handle.matches('.').count(), 0, "a reference token");
    let introspected = app
        .introspect(("orders-api", "orders-api-secret"), handle)
        .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], holder.jkt());
    // A bound JWT introspects the same way.
    let jwt = bound_token(&app, ("m2m", "m2m-secret"), &holder).await;
    let introspected = app
        .introspect(
            ("orders-api", "orders-api-secret"),
            jwt["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], holder.jkt());
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_redeemed_only_with_a_proof_of_that_key() {
    let app = spawn().await;
    let holder = Holder::new();
    let (code, verifier) =
        code_for(&app, "dpop-public", "openid profile", Some(&holder.jkt())).await;
    let client = ("dpop-public", None);
    let without = redeem(&app, client, &code, &verifier, &[]).await;
    assert_oauth_error(without, 400, "invalid_dpop_proof").await;
    let other = Holder::new();
    let wrong_key = redeem(&app, client, &code, &verifier, &[&other.token_proof(&app)]).await;
    assert_oauth_error(wrong_key, 400, "invalid_dpop_proof").await;
    // The refusals did not burn the code: its holder still redeems it.
    let right = redeem(&app, client, &code, &verifier, &[&holder.token_proof(&app)]).await;
    assert_eq!(right.status(), 200);
    let tokens: Value = right.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        jkt_of(tokens["access_token"].as_str().unwrap()),
        Some(holder.jkt())
    );
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_refused_at_the_authorization_endpoint() {
    let app = spawn().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "dpop-public"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", "not-a-thumbprint"),
        ])
        .await;
    let target = location(&response);
    assert!(target.starts_with(WEB_REDIRECT), "{target}");
    assert_eq!(query(&target)["error"], "invalid_request");
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let app = spawn().await;
    let holder = Holder::new();
    let (code, verifier) = code_for(&app, "dpop-public", "openid offline_access", None).await;
    let client = ("dpop-public", None);
    let response = redeem(&app, client, &code, &verifier, &[&holder.token_proof(&app)]).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let without = refresh(&app, client, refresh_token, &[]).await;
    assert_oauth_error(without, 400, "invalid_dpop_proof").await;
    let other = Holder::new();
    let wrong_key = refresh(&app, client, refresh_token, &[&other.token_proof(&app)]).await;
    assert_oauth_error(wrong_key, 400, "invalid_dpop_proof").await;

    let right = refresh(&app, client, refresh_token, &[&holder.token_proof(&app)]).await;
    assert_eq!(right.status(), 200);
    let refreshed: Value = right.json().await.unwrap();
    assert_eq!(refreshed["token_type"], "DPoP");
    assert_eq!(
        jkt_of(refreshed["access_token"].as_str().unwrap()),
        Some(holder.jkt())
    );
    // The successor is bound too.
    let next = refreshed["refresh_token"].as_str().unwrap();
    let without = refresh(&app, client, next, &[]).await;
    assert_oauth_error(without, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_unbound_but_its_new_access_token_is() {
    let app = spawn().await;
    let holder = Holder::new();
    let (code, verifier) = code_for(&app, "web", "openid orders.read offline_access", None).await;
    let client = ("web", Some("web-secret"));
    let response = redeem(&app, client, &code, &verifier, &[&holder.token_proof(&app)]).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // RFC 9449 §5: without a proof the refresh works and issues a Bearer token.
    let plain = refresh(&app, client, &refresh_token, &[]).await;
    assert_eq!(plain.status(), 200);
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(plain["token_type"], "Bearer");
    assert_eq!(jkt_of(plain["access_token"].as_str().unwrap()), None);

    // With another key, the new access token is bound to that key.
    let other = Holder::new();
    let next = plain["refresh_token"].as_str().unwrap();
    let rebound = refresh(&app, client, next, &[&other.token_proof(&app)]).await;
    assert_eq!(rebound.status(), 200);
    let rebound: Value = rebound.json().await.unwrap();
    assert_eq!(rebound["token_type"], "DPoP");
    assert_eq!(
        jkt_of(rebound["access_token"].as_str().unwrap()),
        Some(other.jkt())
    );
}

#[tokio::test]
async fn discovery_advertises_the_dpop_algorithms() {
    let app = spawn().await;
    let document: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
    );
}
