//! Revocation on sign-out against the fake revocation endpoint.

use crate::fake::*;
use oxidp_client::{
    AccessToken, AccessTokenRevocation, Error, OAuthClient, RefreshToken, RefreshTokenManager,
    TokenSet,
};

async fn session_with(sessions: &RefreshTokenManager, access_token: &str) {
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let tokens = TokenSet::new(AccessToken::new(access_token), "Bearer", expires_at)
        .with_refresh_token(RefreshToken::new("rt-signed-in"));
    sessions.store_tokens("s1", tokens).await.unwrap();
}

fn revoked(fake: &Fake) -> Vec<(String, String)> {
    fake.revocations()
        .into_iter()
        .map(|form| (form["token"].clone(), form["token_type_hint"].clone()))
        .collect()
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_and_forgets_the_tokens() {
    let fake = Fake::start().await;
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    session_with(&sessions, JWT_SHAPED).await;
    sessions.sign_out("s1").await.unwrap();
    assert_eq!(
        revoked(&fake),
        [("rt-signed-in".to_owned(), "refresh_token".to_owned())],
        "a JWT access token is not revoked by default"
    );
    assert!(sessions.tokens("s1").await.unwrap().is_none());
    assert!(matches!(
        sessions.access_token("s1").await.unwrap_err(),
        Error::ReauthenticationRequired { .. }
    ));
}

#[tokio::test]
async fn sign_out_revokes_a_reference_access_token_too() {
    let fake = Fake::start().await;
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    session_with(&sessions, "opaque-handle").await;
    sessions.sign_out("s1").await.unwrap();
    assert_eq!(
        revoked(&fake),
        [
            ("rt-signed-in".to_owned(), "refresh_token".to_owned()),
            ("opaque-handle".to_owned(), "access_token".to_owned()),
        ]
    );
}

#[tokio::test]
async fn access_token_revocation_can_be_always_or_never() {
    for (setting, expected) in [
        (AccessTokenRevocation::Always, 2),
        (AccessTokenRevocation::Never, 1),
    ] {
        let fake = Fake::start().await;
        let sessions = RefreshTokenManager::builder(fake.client(ManualClock::new()))
            .access_token_revocation(setting)
            .build();
        session_with(&sessions, if expected == 2 { JWT_SHAPED } else { "opaque" }).await;
        sessions.sign_out("s1").await.unwrap();
        assert_eq!(fake.revocations().len(), expected, "{setting:?}");
    }
}

#[tokio::test]
async fn signing_out_twice_succeeds_without_a_second_request() {
    let fake = Fake::start().await;
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    session_with(&sessions, JWT_SHAPED).await;
    sessions.sign_out("s1").await.unwrap();
    sessions.sign_out("s1").await.unwrap();
    sessions.sign_out("never-signed-in").await.unwrap();
    assert_eq!(fake.revocations().len(), 1);
}

#[tokio::test]
async fn a_failed_revocation_is_reported_and_the_tokens_are_forgotten_anyway() {
    let fake = Fake::start().await;
    fake.set_revocation_status(503);
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    session_with(&sessions, JWT_SHAPED).await;
    let error = sessions.sign_out("s1").await.unwrap_err();
    assert_eq!(error.oauth_error(), Some("temporarily_unavailable"));
    assert!(sessions.tokens("s1").await.unwrap().is_none());
}

#[tokio::test]
async fn an_unreachable_revocation_endpoint_is_a_transport_error() {
    let client = OAuthClient::builder(CLIENT_ID, SECRET)
        .token_endpoint("http://127.0.0.1:9/token")
        .revocation_endpoint(format!("{}/revoke", unreachable_url().await))
        .build()
        .unwrap();
    let sessions = RefreshTokenManager::new(client);
    session_with(&sessions, JWT_SHAPED).await;
    let error = sessions.sign_out("s1").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(sessions.tokens("s1").await.unwrap().is_none());
}

#[tokio::test]
async fn without_a_revocation_endpoint_sign_out_only_forgets() {
    let fake = Fake::start().await;
    let client = OAuthClient::builder(CLIENT_ID, SECRET)
        .token_endpoint(format!("{}/token", fake.issuer()))
        .build()
        .unwrap();
    let sessions = RefreshTokenManager::new(client.clone());
    session_with(&sessions, JWT_SHAPED).await;
    sessions.sign_out("s1").await.unwrap();
    assert!(sessions.tokens("s1").await.unwrap().is_none());
    let error = client
        .revoke_refresh_token(&RefreshToken::new("rt"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Configuration(_)), "{error:?}");
}

#[tokio::test]
async fn revocation_with_wrong_credentials_is_invalid_client() {
    let fake = Fake::start().await;
    let client = fake.builder("wrong").build().unwrap();
    let error = client
        .revoke_refresh_token(&RefreshToken::new("rt"))
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error(), Some("invalid_client"));
}
