//! A store that stops answering: every protocol endpoint answers `503` with `Retry-After` and
//! the protocol's error body (`temporarily_unavailable`), never a 500 or an empty body.

use crate::helpers::*;
use async_trait::async_trait;
use oxidp_core::model::User;
use oxidp_core::store::{StoreError, StoreResult, Stores, UserStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A user store that fails with `Unavailable` while `down` is set.
struct FlakyUsers {
    inner: Arc<dyn UserStore>,
    down: Arc<AtomicBool>,
}

impl FlakyUsers {
    fn check(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("injected outage".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl UserStore for FlakyUsers {
    async fn find_user_by_subject(&self, subject_id: &str) -> StoreResult<Option<User>> {
        self.check()?;
        self.inner.find_user_by_subject(subject_id).await
    }
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.check()?;
        self.inner.find_user_by_username(username).await
    }
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.check()?;
        self.inner.create_user(user).await
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        self.check()?;
        self.inner.update_user(user).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.check()?;
        self.inner.list_users().await
    }
}

async fn spawn() -> (TestApp, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    let mut stores = Stores::in_memory();
    stores.users = Arc::new(FlakyUsers {
        inner: stores.users.clone(),
        down: down.clone(),
    });
    let app = TestApp::spawn_on(Some(stores), None, |config| {
        config.store.user_cache_duration = std::time::Duration::ZERO;
    })
    .await;
    (app, down)
}

async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.headers()["retry-after"], "5");
    assert_oauth_error(response, 503, "temporarily_unavailable").await;
}

#[tokio::test]
async fn the_token_endpoint_answers_503_with_retry_after() {
    let (app, down) = spawn().await;
    let (_, tokens) = app.web_tokens("openid offline_access").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    down.store(true, Ordering::SeqCst);
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    assert_unavailable(response).await;
}

#[tokio::test]
async fn userinfo_answers_503_with_retry_after_and_a_body() {
    let (app, down) = spawn().await;
    let (_, tokens) = app.web_tokens("openid").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    down.store(true, Ordering::SeqCst);
    let response = app
        .http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_unavailable(response).await;
    down.store(false, Ordering::SeqCst);
    let response = app
        .http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "back once the store is");
}

#[tokio::test]
async fn readiness_fails_with_the_database_while_liveness_holds() {
    let (app, down) = spawn().await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
    down.store(true, Ordering::SeqCst);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["failing"], "database", "{body}");
    assert!(
        !body.to_string().contains("injected"),
        "no internals: {body}"
    );
    assert_eq!(app.get("/healthz").await.status(), 503, "the older name");
    assert_eq!(
        app.get("/health/live").await.status(),
        200,
        "a live process is not restarted for its database"
    );
    down.store(false, Ordering::SeqCst);
    assert_eq!(app.get("/health/ready").await.status(), 200);
}
