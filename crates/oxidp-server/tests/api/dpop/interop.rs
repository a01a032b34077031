//! Interoperability: a DPoP client written without oxidp code (see `independent.rs`: an
//! aws-lc-rs key, proofs signed by jsonwebtoken, thumbprint and `ath` computed from the RFCs)
//! obtains bound tokens and uses them. The `openidconnect` crate (4.1, and `oauth2` 5.0 under
//! it) has no DPoP support, so the proofs are built by hand, as RFC 9449 §4 describes.

use super::independent::{RawKey, ath, claims};
use super::*;

#[tokio::test]
async fn an_independent_client_gets_a_bound_token_by_client_credentials() {
    let app = spawn().await;
    let key = RawKey::generate();
    let proof = key.proof(&claims("POST", TOKEN_URL, now(&app)));
    let response = client_credentials(&app, ("dpop-m2m", "dpop-secret"), &[&proof]).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(token)["cnf"]["jkt"], key.thumbprint());
    let introspected = app
        .introspect(("orders-api", "orders-api-secret"), token)
        .await;
    assert_eq!(introspected["cnf"]["jkt"], key.thumbprint());
}

#[tokio::test]
async fn an_independent_client_redeems_a_bound_code_and_calls_userinfo() {
    let app = spawn().await;
    let key = RawKey::generate();
    let (code, verifier) = code_for(
        &app,
        "dpop-public",
        "openid profile offline_access",
        Some(&key.thumbprint()),
    )
    .await;
    let proof = key.proof(&claims("POST", TOKEN_URL, now(&app)));
    let response = redeem(&app, ("dpop-public", None), &code, &verifier, &[&proof]).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().unwrap();

    let mut userinfo_claims = claims("GET", USERINFO_URL, now(&app));
    userinfo_claims["ath"] = ath(token).into();
    let response = userinfo(
        &app,
        &format!("DPoP {token}"),
        &[&key.proof(&userinfo_claims)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["name"], "Alice Smith");

    // The bound refresh token, with a fresh independent proof.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let proof = key.proof(&claims("POST", TOKEN_URL, now(&app)));
    let response = refresh(&app, ("dpop-public", None), refresh_token, &[&proof]).await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    assert_eq!(
        jwt_payload(refreshed["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
}
