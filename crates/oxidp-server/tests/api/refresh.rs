//! The refresh_token grant: rotation, reuse detection and the retry grace, scope narrowing,
//! lifetimes.

use crate::browser::*;
use crate::helpers::*;
use failing_rotation::FailingRotation;
use serde_json::Value;

async fn refresh(
    app: &TestApp,
    client: (&str, &str),
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    app.post_token(Some(client), &form).await
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_session() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let response = refresh(&app, ("web", "web-secret"), first, None).await;
    assert_eq!(response.status(), 200);
    let renewed: Value = response.json().await.unwrap();
    let second = renewed["refresh_token"].as_str().unwrap();
    assert_ne!(first, second, "one-time tokens rotate");
    let old_access = jwt_payload(tokens["access_token"].as_str().unwrap());
    let new_access = jwt_payload(renewed["access_token"].as_str().unwrap());
    assert_eq!(old_access["sid"], new_access["sid"]);
    assert_eq!(
        jwt_payload(renewed["id_token"].as_str().unwrap())["sid"],
        old_access["sid"]
    );
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_whole_family() {
    let app = TestApp::spawn_with_clock().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let renewed: Value = refresh(&app, ("web", "web-secret"), first, None)
        .await
        .json()
        .await
        .unwrap();
    let second = renewed["refresh_token"].as_str().unwrap();
    // Past the retry grace (`tokens.refresh_token_reuse_grace`, 10 s by default).
    app.clock().advance(time::Duration::seconds(11));
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), first, None).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), second, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_narrower_scope_is_honoured_and_a_wider_one_refused() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let narrowed: Value = refresh(&app, ("web", "web-secret"), token, Some("orders.read"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "orders.read");
    assert!(narrowed.get("id_token").is_none());
    let next = narrowed["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        refresh(
            &app,
            ("web", "web-secret"),
            next,
            Some("orders.read profile"),
        )
        .await,
        400,
        "invalid_scope",
    )
    .await;
    let after: Value = refresh(&app, ("web", "web-secret"), next, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        after["access_token"].is_string(),
        "a refused scope does not burn the token: {after}"
    );
}

#[tokio::test]
async fn another_client_cannot_use_the_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        refresh(&app, ("reusing", "reusing-secret"), token, None).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), "unknown", None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid orders.read").await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn a_refresh_token_expires_at_its_absolute_lifetime() {
    let app = TestApp::spawn_with_clock().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    app.clock()
        .advance(time::Duration::days(30) + time::Duration::seconds(1));
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), token, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_reusable_sliding_token_stays_the_same_and_slides() {
    let app = TestApp::spawn_with_clock().await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let callback = browser
        .code_flow_callback(
            "reusing",
            "openid offline_access",
            &challenge,
            ("alice", "alice-password"),
        )
        .await;
    let code = query(&callback)["code"].clone();
    let tokens: Value = app
        .redeem(("reusing", "reusing-secret"), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["refresh_token"].as_str().unwrap();
    for _ in 0..3 {
        app.clock().advance(time::Duration::minutes(50));
        let renewed: Value = refresh(&app, ("reusing", "reusing-secret"), token, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(renewed["refresh_token"], token);
    }
    app.clock().advance(time::Duration::minutes(61));
    assert_oauth_error(
        refresh(&app, ("reusing", "reusing-secret"), token, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_revoked_refresh_token_and_its_family_stop_working() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let renewed: Value = refresh(&app, ("web", "web-secret"), first, None)
        .await
        .json()
        .await
        .unwrap();
    let current = renewed["refresh_token"].as_str().unwrap();
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("web", "web-secret")),
            &[("token", current), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), current, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn another_client_cannot_revoke_a_refresh_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let response = app
        .post_form(
            "/connect/revocation",
            Some(("consenting", "consenting-secret")),
            &[("token", token)],
        )
        .await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
    assert_eq!(
        refresh(&app, ("web", "web-secret"), token, None)
            .await
            .status(),
        200
    );
}

/// Refreshes `token` as `web`, which must succeed (and puts the user in the instance's user
/// cache); returns the new refresh token.
async fn refreshed(app: &TestApp, token: &str) -> String {
    let response = refresh(app, ("web", "web-secret"), token, None).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Disables the signed-in user (`alice`) through `users`.
async fn disable_alice(users: &dyn oxidp_core::store::UserStore) {
    let mut alice = users
        .find_user_by_username("alice")
        .await
        .unwrap()
        .expect("alice");
    alice.enabled = false;
    assert!(users.update_user(&alice).await.unwrap());
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let token = refreshed(&app, token).await;
    // Disabled through the instance (as its own pages and API would): refused at once.
    app.identity_server()
        .users
        .set_enabled("alice", false)
        .await
        .expect("alice is disabled");
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), &token, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_user_disabled_behind_the_cache_cannot_refresh_once_it_lapses() {
    let clock = std::sync::Arc::new(oxidp_core::clock::ManualClock::starting_now());
    let app = TestApp::spawn_with(Some(clock.clone()), |config| {
        config.store.user_cache_duration = std::time::Duration::from_secs(5);
    })
    .await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let token = refreshed(&app, token).await;
    // Disabled in the database directly (as the CLI or another instance would).
    disable_alice(app.stores.users.as_ref()).await;
    // Within the cache duration the cached (enabled) user still refreshes...
    clock.advance(time::Duration::seconds(4));
    let token = refreshed(&app, &token).await;
    // ...and once it lapses, the change behind the cache is seen.
    clock.advance(time::Duration::seconds(1));
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), &token, None).await,
        400,
        "invalid_grant",
    )
    .await;
}

/// RFC 7662 §2.1: a client introspecting its own refresh token sees it active with its
/// metadata; once rotated or revoked it is inactive, and no other caller sees it.
#[tokio::test]
async fn a_client_introspects_its_own_refresh_tokens() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let seen = app.introspect(("web", "web-secret"), first).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["token_type"], "refresh_token");
    assert_eq!(seen["client_id"], "web");
    assert_eq!(
        seen["sub"],
        jwt_payload(tokens["id_token"].as_str().unwrap())["sub"]
    );
    assert_eq!(seen["scope"], "openid orders.read offline_access");
    assert!(seen["exp"].as_i64().unwrap() > seen["iat"].as_i64().unwrap());
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), first)
            .await["active"],
        false,
        "an API resource sees no refresh token"
    );
    assert_eq!(
        app.introspect(("m2m", "m2m-secret"), first).await["active"],
        false,
        "another client sees nothing"
    );

    let second = refreshed(&app, first).await;
    assert_eq!(
        app.introspect(("web", "web-secret"), first).await["active"],
        false,
        "a rotated token is inactive"
    );
    assert_eq!(
        app.introspect(("web", "web-secret"), &second).await["active"],
        true
    );
    let revoked = app
        .post_form(
            "/connect/revocation",
            Some(("web", "web-secret")),
            &[("token", &second), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        app.introspect(("web", "web-secret"), &second).await["active"],
        false,
        "a revoked token is inactive"
    );
}

mod failing_rotation {
    use async_trait::async_trait;
    use oxidp_core::model::{PersistedGrant, PersistedGrantFilter, RefreshTokenRotation};
    use oxidp_core::store::{GrantStore, StoreError, StoreResult};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use time::OffsetDateTime;

    /// A grant store that, once armed, makes the next rotation fail inside its transaction:
    /// the rotation also issues a grant under the presented token's own key, so the real
    /// store consumes the token, then hits a conflict on the insert and must roll back. (A
    /// separate write of a new refresh token, as a rotation in two steps makes, fails too.)
    pub(super) struct FailingRotation {
        pub(super) inner: Arc<dyn GrantStore>,
        pub(super) armed: AtomicBool,
    }

    impl FailingRotation {
        fn armed(&self) -> bool {
            self.armed.swap(false, Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl GrantStore for FailingRotation {
        async fn store_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
            if grant.grant_type == "refresh_token" && grant.consumed.is_none() && self.armed() {
                return Err(StoreError::Unavailable("injected failure".into()));
            }
            self.inner.store_grant(grant).await
        }
        async fn create_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
            self.inner.create_grant(grant).await
        }
        async fn consume_grant(
            &self,
            key: &str,
            at: OffsetDateTime,
        ) -> StoreResult<Option<PersistedGrant>> {
            self.inner.consume_grant(key, at).await
        }
        async fn rotate_refresh_token(
            &self,
            rotation: &RefreshTokenRotation,
        ) -> StoreResult<Option<PersistedGrant>> {
            if !self.armed() {
                return self.inner.rotate_refresh_token(rotation).await;
            }
            let mut clashing = rotation.clone();
            let mut clash = rotation.issue[0].clone();
            clash.key.clone_from(&rotation.key);
            clashing.issue.push(clash);
            let result = self.inner.rotate_refresh_token(&clashing).await;
            assert_eq!(result, Err(StoreError::Conflict), "the injected failure");
            result
        }
        async fn get_grant(&self, key: &str) -> StoreResult<Option<PersistedGrant>> {
            self.inner.get_grant(key).await
        }
        async fn get_grants(
            &self,
            filter: &PersistedGrantFilter,
        ) -> StoreResult<Vec<PersistedGrant>> {
            self.inner.get_grants(filter).await
        }
        async fn remove_grant(&self, key: &str) -> StoreResult<bool> {
            self.inner.remove_grant(key).await
        }
        async fn remove_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<u64> {
            self.inner.remove_grants(filter).await
        }
        async fn remove_expired_grants(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64> {
            self.inner.remove_expired_grants(now, batch).await
        }
    }
}

/// The refresh token of a response, asserting a 200.
async fn refresh_token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A refresh that fails in the database while issuing (on SQLite, inside the rotation's
/// transaction) leaves the presented token usable: the client's retry works, even after the
/// grace, and the chain goes on.
#[tokio::test]
async fn a_refresh_that_failed_in_the_store_can_be_retried_with_the_same_token() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("oxidp.db").display());
    let mut stores = oxidp_server::open_stores(&url, 5).await.unwrap();
    let failing = std::sync::Arc::new(FailingRotation {
        inner: stores.grants.clone(),
        armed: false.into(),
    });
    stores.grants = failing.clone();
    let clock = std::sync::Arc::new(oxidp_core::clock::ManualClock::starting_now());
    let app = TestApp::spawn_on(Some(stores), Some(clock.clone()), |_| {}).await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();

    failing
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = refresh(&app, ("web", "web-secret"), first, None).await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    assert!(!failing.armed.load(std::sync::atomic::Ordering::SeqCst));

    clock.advance(time::Duration::minutes(5));
    let second = refresh_token_of(refresh(&app, ("web", "web-secret"), first, None).await).await;
    assert_ne!(second, first);
    refresh_token_of(refresh(&app, ("web", "web-secret"), &second, None).await).await;
}

/// A response lost on its way back: the client retries with the token it still holds within
/// the grace and gets a fresh one; the successor it never saw is revoked, the family lives.
#[tokio::test]
async fn a_refresh_whose_response_was_lost_is_retried_within_the_grace() {
    let app = TestApp::spawn_with_clock().await;
    let (_, tokens) = app.web_tokens("openid orders.read offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let unseen = refresh_token_of(refresh(&app, ("web", "web-secret"), first, None).await).await;

    app.clock().advance(time::Duration::seconds(5));
    let fresh = refresh_token_of(refresh(&app, ("web", "web-secret"), first, None).await).await;
    assert_ne!(fresh, unseen);
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), &unseen, None).await,
        400,
        "invalid_grant",
    )
    .await;
    let next = refresh_token_of(refresh(&app, ("web", "web-secret"), &fresh, None).await).await;

    // Once the successor has been used, the old token is no retry any more: theft.
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), first, None).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&app, ("web", "web-secret"), &next, None).await,
        400,
        "invalid_grant",
    )
    .await;
}
