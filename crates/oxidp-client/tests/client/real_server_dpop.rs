//! DPoP against the real oxidp server: bound client-credentials tokens, the server's nonce
//! challenge answered, a public client's key-bound refresh token, and an API call with the
//! bound token to an API in nonce mode.
//!
//! oxidp requires nonces from `m2m-dpop-nonce` and `native`, and a fresh client has none: that
//! their first token request succeeds at all shows the `use_dpop_nonce` retry happened (that it
//! is exactly one retry is shown against the fake server, which counts requests).

use crate::oxidp::*;
use oxidp_api_auth::{DpopCheck, RequestInfo, Validator, ValidatorOptions};
use oxidp_client::{ClientCredentialsManager, DpopKey, Error, OAuthClient, RefreshTokenManager};
use std::time::Duration;

async fn dpop_client(server: &Oxidp, id: &str, secret: &str, key: &DpopKey) -> OAuthClient {
    OAuthClient::builder(id, secret)
        .dpop(key.clone())
        .discover(&server.issuer)
        .await
        .unwrap()
}

#[tokio::test]
async fn client_credentials_with_dpop_get_a_token_bound_to_the_key() {
    let server = Oxidp::start().await;
    let key = DpopKey::generate().unwrap();
    let tokens =
        ClientCredentialsManager::builder(dpop_client(&server, "m2m", "m2m-secret", &key).await)
            .scope("orders.read")
            .build();
    let token = tokens.get_token().await.unwrap();
    assert_eq!(token.token_type, "DPoP");
    let introspection = server.introspect(token.access_token.secret()).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["cnf"]["jkt"], key.thumbprint());
}

#[tokio::test]
async fn a_server_requiring_nonces_is_answered_with_its_nonce() {
    let server = Oxidp::start().await;
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&server, "m2m-dpop-nonce", "m2m-dpop-nonce-secret", &key).await;
    let tokens = ClientCredentialsManager::new(client);
    let first = tokens.get_token().await.unwrap();
    assert_eq!(first.token_type, "DPoP");
    tokens.invalidate();
    let second = tokens.get_token().await.unwrap();
    assert_ne!(first.access_token, second.access_token);
}

#[tokio::test]
async fn a_client_without_a_key_is_refused_where_dpop_is_required() {
    let server = Oxidp::start().await;
    let client = OAuthClient::builder("m2m-dpop-nonce", "m2m-dpop-nonce-secret")
        .discover(&server.issuer)
        .await
        .unwrap();
    let error = ClientCredentialsManager::new(client)
        .get_token()
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error(), Some("invalid_request"));
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let server = Oxidp::start().await;
    let key = DpopKey::generate().unwrap();
    let client = OAuthClient::public("native")
        .dpop(key.clone())
        .discover(&server.issuer)
        .await
        .unwrap();
    let sessions = RefreshTokenManager::new(client);
    let (code, verifier) = server
        .sign_in_with(
            "native",
            "openid orders.read offline_access",
            &[("dpop_jkt", key.thumbprint())],
        )
        .await;
    let signed_in = sessions
        .exchange_code("s1", &code, CALLBACK, Some(&verifier))
        .await
        .unwrap();
    assert_eq!(signed_in.token_type, "DPoP");
    let refreshed = sessions.refresh_now("s1").await.unwrap();
    assert_ne!(refreshed.access_token, signed_in.access_token);
    assert_eq!(
        server.introspect(refreshed.access_token.secret()).await["cnf"]["jkt"],
        key.thumbprint()
    );

    // The current refresh token, with another key: refused (oxidp says the proof is not of the
    // token's key), and the owner's session is untouched.
    let stolen = sessions.tokens("s1").await.unwrap().unwrap();
    let thief = RefreshTokenManager::new(
        OAuthClient::public("native")
            .dpop(DpopKey::generate().unwrap())
            .discover(&server.issuer)
            .await
            .unwrap(),
    );
    thief.store_tokens("s1", stolen).await.unwrap();
    let error = thief.refresh_now("s1").await.unwrap_err();
    assert!(matches!(error, Error::OAuth(_)), "{error:?}");
    assert_eq!(error.oauth_error(), Some("invalid_dpop_proof"));
    assert!(sessions.refresh_now("s1").await.is_ok());

    // Sign-out revokes the bound refresh token (revocation carries no proof).
    let refresh_token = sessions
        .tokens("s1")
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap();
    sessions.sign_out("s1").await.unwrap();
    assert_eq!(
        server.introspect(refresh_token.secret()).await["active"],
        false
    );
}

#[tokio::test]
async fn a_bound_token_calls_an_api_in_nonce_mode_with_one_retry() {
    let server = Oxidp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let validator = Validator::new(ValidatorOptions::new(server.issuer.clone(), "orders-api"))
        .unwrap()
        .with_check(
            DpopCheck::new(&api)
                .unwrap()
                .require_nonce(Duration::from_secs(60), None),
        );
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let validator = validator.clone();
        async move {
            use axum::response::IntoResponse as _;
            let (parts, _) = request.into_parts();
            match validator
                .validate_request(RequestInfo::from_parts(&parts))
                .await
            {
                Ok(token) => axum::Json(token.into_claims()).into_response(),
                Err(error) => error.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&server, "m2m", "m2m-secret", &key).await;
    let token = ClientCredentialsManager::builder(client.clone())
        .scope("orders.read")
        .build()
        .get_token()
        .await
        .unwrap();
    let response = client
        .send_with_token(reqwest::Client::new().get(format!("{api}/orders")), &token)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let claims: serde_json::Value = response.json().await.unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    assert_eq!(claims["client_id"], "m2m");
}
