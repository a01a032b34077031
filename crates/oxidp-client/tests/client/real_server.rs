//! Against the real oxidp server: client credentials, a code flow's refresh token rotating
//! under concurrency, `invalid_grant` after revocation, and sign-out.

use crate::fake::ManualClock;
use crate::oxidp::*;
use oxidp_client::{
    ClientAuthMethod, ClientCredentialsManager, Error, OAuthClient, ReauthenticationReason,
    RefreshTokenManager,
};
use std::sync::Arc;

async fn client(server: &Oxidp, id: &str, secret: &str, clock: Arc<ManualClock>) -> OAuthClient {
    OAuthClient::builder(id, secret)
        .clock(clock)
        .discover(&server.issuer)
        .await
        .unwrap()
}

#[tokio::test]
async fn client_credentials_tokens_from_oxidp_are_cached_and_active() {
    let server = Oxidp::start().await;
    let clock = ManualClock::new();
    let tokens = ClientCredentialsManager::builder(
        client(&server, "m2m", "m2m-secret", clock.clone()).await,
    )
    .scope("orders.read")
    .build();
    let first = tokens.get_token().await.unwrap();
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.scope.as_deref(), Some("orders.read"));
    let lifetime = first.expires_at - oxidp_client::Clock::now(&*clock);
    assert!(
        lifetime.whole_seconds() > 590 && lifetime.whole_seconds() <= 600,
        "{lifetime}"
    );
    assert_eq!(tokens.get_token().await.unwrap(), first, "cached");
    let introspection = server.introspect(first.access_token.secret()).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["client_id"], "m2m");

    clock.advance(545); // inside the 60 s margin
    let renewed = tokens.get_token().await.unwrap();
    assert_ne!(renewed.access_token, first.access_token);
}

#[tokio::test]
async fn client_secret_post_works_with_oxidp() {
    let server = Oxidp::start().await;
    let client = OAuthClient::builder("m2m", "m2m-secret")
        .auth_method(ClientAuthMethod::ClientSecretPost)
        .discover(&server.issuer)
        .await
        .unwrap();
    assert!(
        ClientCredentialsManager::new(client)
            .get_token()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_at_oxidp() {
    let server = Oxidp::start().await;
    let tokens = ClientCredentialsManager::new(
        client(&server, "m2m", "not-the-secret", ManualClock::new()).await,
    );
    let error = tokens.get_token().await.unwrap_err();
    let Error::OAuth(refused) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        (refused.status, refused.error.as_str()),
        (401, "invalid_client")
    );
}

#[tokio::test]
async fn an_unknown_scope_is_invalid_scope_at_oxidp() {
    let server = Oxidp::start().await;
    let tokens = ClientCredentialsManager::builder(
        client(&server, "m2m", "m2m-secret", ManualClock::new()).await,
    )
    .scope("billing.read")
    .build();
    assert_eq!(
        tokens.get_token().await.unwrap_err().oauth_error(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_with_one_refresh_under_concurrency() {
    let server = Oxidp::start().await;
    let clock = ManualClock::new();
    let sessions =
        RefreshTokenManager::new(client(&server, "web", "web-secret", clock.clone()).await);
    let (code, verifier) = server
        .sign_in("web", "openid orders.read offline_access")
        .await;
    let signed_in = sessions
        .exchange_code("s1", &code, CALLBACK, Some(&verifier))
        .await
        .unwrap();
    let first_refresh_token = signed_in.refresh_token.clone().unwrap();
    assert!(signed_in.id_token.is_some());

    // The access token lives 5 minutes; the client's clock moves past it. Many requests of
    // the same user session need a token at once: one refresh, and every caller gets its token.
    clock.advance(301);
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let sessions = sessions.clone();
            tokio::spawn(async move { sessions.access_token("s1").await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert!(tokens.iter().all(|token| *token == tokens[0]));
    assert_ne!(tokens[0].access_token, signed_in.access_token);
    let stored = sessions.tokens("s1").await.unwrap().unwrap();
    let second_refresh_token = stored.refresh_token.clone().unwrap();
    assert_ne!(second_refresh_token, first_refresh_token, "rotated");
    assert!(stored.id_token.is_some());

    // The stored (rotated) refresh token still works: had two refreshes raced, one would have
    // been refused, or would have replaced the other's successor; and a spent token reused
    // past oxidp's retry grace revokes the whole family.
    clock.advance(301);
    let again = sessions.access_token("s1").await.unwrap();
    assert_ne!(again.access_token, tokens[0].access_token);
    assert_eq!(
        server.introspect(again.access_token.secret()).await["active"],
        true
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_means_reauthentication() {
    let server = Oxidp::start().await;
    let clock = ManualClock::new();
    let client = client(&server, "web", "web-secret", clock.clone()).await;
    let sessions = RefreshTokenManager::new(client.clone());
    let (code, verifier) = server.sign_in("web", "openid offline_access").await;
    let tokens = sessions
        .exchange_code("s1", &code, CALLBACK, Some(&verifier))
        .await
        .unwrap();
    client
        .revoke_refresh_token(tokens.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    clock.advance(301);
    let error = sessions.access_token("s1").await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ReauthenticationRequired {
                reason: ReauthenticationReason::InvalidGrant(_)
            }
        ),
        "{error:?}"
    );
    assert!(sessions.tokens("s1").await.unwrap().is_none());
}

#[tokio::test]
async fn sign_out_revokes_the_session_at_oxidp() {
    let server = Oxidp::start().await;
    let sessions = RefreshTokenManager::new(
        client(
            &server,
            "web-reference",
            "web-reference-secret",
            ManualClock::new(),
        )
        .await,
    );
    let (code, verifier) = server
        .sign_in("web-reference", "openid orders.read offline_access")
        .await;
    let tokens = sessions
        .exchange_code("s1", &code, CALLBACK, Some(&verifier))
        .await
        .unwrap();
    let access_token = tokens.access_token.secret().to_owned();
    assert!(!tokens.access_token.looks_like_jwt());
    assert_eq!(server.introspect(&access_token).await["active"], true);

    sessions.sign_out("s1").await.unwrap();
    sessions.sign_out("s1").await.unwrap();

    assert!(sessions.tokens("s1").await.unwrap().is_none());
    let (status, body) = server
        .refresh(
            ("web-reference", "web-reference-secret"),
            tokens.refresh_token.as_ref().unwrap().secret(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        server.introspect(&access_token).await["active"],
        false,
        "the reference access token was revoked too"
    );
}
