//! `RefreshTokenManager` against the fake token endpoint, whose refresh tokens are one-time use
//! and rotate as oxidp's do.

use crate::fake::*;
use oxidp_client::{
    AccessToken, Error, MemoryTokenStore, ReauthenticationReason, RefreshToken,
    RefreshTokenManager, StoreError, TokenSet, TokenStore, async_trait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

const CALLBACK: &str = "https://app.test/callback";

/// A manager whose session `s1` is signed in (through the code exchange).
async fn signed_in(fake: &Fake, clock: Arc<ManualClock>) -> RefreshTokenManager {
    let sessions = RefreshTokenManager::new(fake.client(clock));
    sessions
        .exchange_code("s1", "good-code", CALLBACK, Some("verifier"))
        .await
        .unwrap();
    sessions
}

fn assert_reauthentication(error: &Error, expected: &ReauthenticationReason) {
    match error {
        Error::ReauthenticationRequired { reason } => assert_eq!(reason, expected),
        other => panic!("expected re-authentication, got {other:?}"),
    }
}

#[tokio::test]
async fn the_code_exchange_stores_the_tokens() {
    let fake = Fake::start().await;
    let sessions = signed_in(&fake, ManualClock::new()).await;
    let TokenRequest { form, .. } = fake.last_token_form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "good-code");
    assert_eq!(form["redirect_uri"], CALLBACK);
    assert_eq!(form["code_verifier"], "verifier");
    let tokens = sessions.tokens("s1").await.unwrap().unwrap();
    assert_eq!(tokens.access_token.secret(), "at-1");
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt-1");
    assert_eq!(tokens.id_token.unwrap().secret(), "id-1");
}

#[tokio::test]
async fn a_refused_code_is_an_oauth_error_and_stores_nothing() {
    let fake = Fake::start().await;
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    let error = sessions
        .exchange_code("s1", "bad-code", CALLBACK, None)
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error(), Some("invalid_grant"));
    assert!(sessions.tokens("s1").await.unwrap().is_none());
}

#[tokio::test]
async fn a_fresh_access_token_is_returned_without_a_request() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    clock.advance(200);
    assert_eq!(
        sessions
            .access_token("s1")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-1"
    );
    assert_eq!(fake.token_requests(), 1, "the code exchange only");
}

#[tokio::test]
async fn a_due_access_token_is_refreshed_and_the_rotated_refresh_token_kept() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    clock.advance(250); // 50 s left: inside the 60 s margin
    let token = sessions.access_token("s1").await.unwrap();
    assert_eq!(token.access_token.secret(), "at-2");
    let TokenRequest { form, .. } = fake.last_token_form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    let tokens = sessions.tokens("s1").await.unwrap().unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt-2", "rotated");
    assert_eq!(tokens.id_token.unwrap().secret(), "id-1", "kept");

    clock.advance(250);
    let token = sessions.access_token("s1").await.unwrap();
    assert_eq!(
        token.access_token.secret(),
        "at-3",
        "the rotated token works"
    );
    assert_eq!(fake.token_requests(), 3);
}

#[tokio::test]
async fn concurrent_callers_of_one_session_make_one_refresh() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    clock.advance(301);
    fake.set_delay(Duration::from_millis(200));
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let sessions = sessions.clone();
            tokio::spawn(async move { sessions.access_token("s1").await })
        })
        .collect();
    for caller in callers {
        // A second refresh with the spent rt-1 would get invalid_grant.
        assert_eq!(caller.await.unwrap().unwrap().access_token.secret(), "at-2");
    }
    assert_eq!(
        fake.token_requests(),
        2,
        "the code exchange and one refresh"
    );
}

#[tokio::test]
async fn sessions_refresh_independently() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = RefreshTokenManager::new(fake.client(clock.clone()));
    for (key, n) in [("a", 1), ("b", 2)] {
        let expires_at = oxidp_client::Clock::now(&*clock) + time::Duration::seconds(10);
        let tokens = TokenSet::new(AccessToken::new(format!("old-{n}")), "Bearer", expires_at)
            .with_refresh_token(RefreshToken::new(format!("rt-{key}")));
        sessions.store_tokens(key, tokens).await.unwrap();
    }
    clock.advance(11);
    fake.accept_refresh_token("rt-a");
    assert_eq!(
        sessions
            .access_token("a")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-1"
    );
    fake.accept_refresh_token("rt-b");
    assert_eq!(
        sessions
            .access_token("b")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-2"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_drops_the_tokens_and_asks_for_reauthentication() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    fake.accept_refresh_token("someone-else's");
    clock.advance(301);
    let error = sessions.access_token("s1").await.unwrap_err();
    let expected =
        ReauthenticationReason::InvalidGrant(oxidp_client::OAuthError::new(400, "invalid_grant"));
    assert_reauthentication(&error, &expected);
    assert_eq!(error.oauth_error(), Some("invalid_grant"));
    assert!(sessions.tokens("s1").await.unwrap().is_none(), "dropped");
    let again = sessions.access_token("s1").await.unwrap_err();
    assert_reauthentication(&again, &ReauthenticationReason::NoTokens);
    assert_eq!(fake.token_requests(), 2, "no second refresh");
}

#[tokio::test]
async fn an_unknown_session_asks_for_reauthentication() {
    let fake = Fake::start().await;
    let sessions = RefreshTokenManager::new(fake.client(ManualClock::new()));
    let error = sessions.access_token("nobody").await.unwrap_err();
    assert_reauthentication(&error, &ReauthenticationReason::NoTokens);
    assert_eq!(fake.token_requests(), 0);
}

#[tokio::test]
async fn an_expired_token_without_refresh_token_asks_for_reauthentication() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = RefreshTokenManager::new(fake.client(clock.clone()));
    let expires_at = oxidp_client::Clock::now(&*clock) + time::Duration::seconds(30);
    let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", expires_at);
    sessions.store_tokens("s1", tokens).await.unwrap();
    assert!(sessions.access_token("s1").await.is_ok(), "not expired yet");
    clock.advance(31);
    let error = sessions.access_token("s1").await.unwrap_err();
    assert_reauthentication(&error, &ReauthenticationReason::NoRefreshToken);
    assert!(
        sessions.tokens("s1").await.unwrap().is_some(),
        "kept for the logout hint"
    );
    assert_eq!(fake.token_requests(), 0);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_tokens_and_the_next_call_retries() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    clock.advance(301);
    fake.answer_token_requests(502, "<html>bad gateway</html>");
    let error = sessions.access_token("s1").await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidResponse { status: 502, .. }),
        "{error:?}"
    );
    fake.answer_token_requests(500, r#"{"error":"server_error"}"#);
    let error = sessions.access_token("s1").await.unwrap_err();
    assert_eq!(error.oauth_error(), Some("server_error"));
    fake.set_behaviour(Behaviour::Issue {
        expires_in: Some(300),
        rotate: true,
    });
    assert_eq!(
        sessions
            .access_token("s1")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-2"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error_and_keeps_the_tokens() {
    let clock = ManualClock::new();
    let client = oxidp_client::OAuthClient::builder(CLIENT_ID, SECRET)
        .token_endpoint(format!("{}/token", unreachable_url().await))
        .clock(clock.clone())
        .build()
        .unwrap();
    let sessions = RefreshTokenManager::new(client);
    let expires_at = oxidp_client::Clock::now(&*clock) + time::Duration::seconds(120);
    let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", expires_at)
        .with_refresh_token(RefreshToken::new("rt"));
    sessions.store_tokens("s1", tokens).await.unwrap();
    clock.advance(100); // due, not expired: the current token is still handed out
    assert_eq!(
        sessions
            .access_token("s1")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at"
    );
    clock.advance(21); // expired
    let error = sessions.access_token("s1").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(sessions.tokens("s1").await.unwrap().is_some());
}

#[tokio::test]
async fn a_server_that_does_not_rotate_leaves_the_refresh_token_in_place() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    fake.set_behaviour(Behaviour::Issue {
        expires_in: Some(300),
        rotate: false,
    });
    clock.advance(301);
    assert_eq!(
        sessions
            .access_token("s1")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-2"
    );
    let tokens = sessions.tokens("s1").await.unwrap().unwrap();
    assert_eq!(tokens.refresh_token.unwrap().secret(), "rt-1");
}

#[tokio::test]
async fn a_refresh_is_finished_and_stored_when_its_caller_goes_away() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let sessions = signed_in(&fake, clock.clone()).await;
    clock.advance(301);
    fake.set_delay(Duration::from_millis(200));
    let caller = {
        let sessions = sessions.clone();
        tokio::spawn(async move { sessions.access_token("s1").await })
    };
    while fake.token_requests() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    caller.abort(); // while the refresh is at the server
    let stored = async {
        loop {
            let tokens = sessions.tokens("s1").await.unwrap().unwrap();
            if tokens.access_token.secret() != "at-1" {
                return tokens;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let tokens = tokio::time::timeout(Duration::from_secs(10), stored)
        .await
        .expect("the refresh was stored");
    assert_eq!(
        tokens.refresh_token.unwrap().secret(),
        "rt-2",
        "the rotated token was kept"
    );
    assert_eq!(
        sessions
            .access_token("s1")
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-2"
    );
}

/// A store that counts its writes, and can be made to fail.
#[derive(Default)]
struct CountingStore {
    memory: MemoryTokenStore,
    saves: AtomicUsize,
    broken: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl TokenStore for CountingStore {
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err("the database is down".into());
        }
        self.memory.load(key).await
    }
    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.memory.save(key, tokens).await
    }
    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.memory.remove(key).await
    }
}

#[tokio::test]
async fn the_tokens_live_in_the_configured_store() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let store = Arc::new(CountingStore::default());
    let sessions = RefreshTokenManager::builder(fake.client(clock.clone()))
        .store(store.clone())
        .build();
    sessions
        .exchange_code("s1", "good-code", CALLBACK, None)
        .await
        .unwrap();
    clock.advance(301);
    sessions.access_token("s1").await.unwrap();
    assert_eq!(store.saves.load(Ordering::SeqCst), 2, "sign-in and refresh");
    let stored = store.memory.load("s1").await.unwrap().unwrap();
    assert_eq!(stored.access_token.secret(), "at-2");
    assert!(stored.expires_at > OffsetDateTime::UNIX_EPOCH);

    store.broken.store(true, Ordering::SeqCst);
    let error = sessions.access_token("s1").await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
}
