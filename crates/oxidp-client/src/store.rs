//! Where a web app's [`TokenSet`]s live between requests: the [`TokenStore`] trait, keyed by a
//! session key the app chooses, and [`MemoryTokenStore`], its in-memory implementation. An app
//! that runs several instances, or must keep sessions across restarts, implements the trait over
//! its own database or cache.

use crate::token::TokenSet;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// The error a [`TokenStore`] reports; it reaches the caller as [`Error::Store`](crate::Error::Store).
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Keeps the tokens of each user session.
///
/// Implementations must not log the tokens, and should keep them where only the app can read
/// them (they are bearer credentials).
///
/// ```
/// use async_trait::async_trait;
/// use oxidp_client::{RefreshTokenManager, StoreError, TokenSet, TokenStore};
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use tokio::sync::Mutex;
///
/// /// Keeps each set as JSON, as a database column would.
/// #[derive(Default)]
/// struct JsonStore(Mutex<HashMap<String, String>>);
///
/// #[async_trait]
/// impl TokenStore for JsonStore {
///     async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
///         match self.0.lock().await.get(key) {
///             Some(json) => Ok(Some(serde_json::from_str(json)?)),
///             None => Ok(None),
///         }
///     }
///     async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
///         self.0.lock().await.insert(key.to_owned(), serde_json::to_string(tokens)?);
///         Ok(())
///     }
///     async fn remove(&self, key: &str) -> Result<(), StoreError> {
///         self.0.lock().await.remove(key);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
/// # let client = server.client_builder().build()?;
/// # let code = oxidp_client::testing::AUTHORIZATION_CODE;
/// let store = Arc::new(JsonStore::default());
/// let sessions = RefreshTokenManager::builder(client).store(store.clone()).build();
/// let tokens = sessions.exchange_code("session-42", code, "https://app.test/cb", None).await?;
/// assert_eq!(store.load("session-42").await?, Some(tokens));
/// assert!(store.0.lock().await["session-42"].contains(r#""refresh_token":"rt-1""#));
///
/// sessions.sign_out("session-42").await?;
/// assert_eq!(store.load("session-42").await?, None);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The tokens stored under `key`, if any.
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError>;

    /// Stores `tokens` under `key`, replacing what was there.
    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError>;

    /// Forgets what is stored under `key`; succeeds if nothing was.
    async fn remove(&self, key: &str) -> Result<(), StoreError>;
}

/// A [`TokenStore`] in this process's memory; the default.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oxidp_client::StoreError> {
/// use oxidp_client::{AccessToken, MemoryTokenStore, TokenSet, TokenStore};
/// let store = MemoryTokenStore::default();
/// let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", time::OffsetDateTime::UNIX_EPOCH);
/// store.save("session-1", &tokens).await?;
/// assert_eq!(store.load("session-1").await?, Some(tokens));
/// store.remove("session-1").await?;
/// assert_eq!(store.load("session-1").await?, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    sessions: Mutex<HashMap<String, TokenSet>>,
}

impl MemoryTokenStore {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenSet>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        Ok(self.sessions().get(key).cloned())
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        self.sessions().insert(key.to_owned(), tokens.clone());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.sessions().remove(key);
        Ok(())
    }
}
