//! Client registration: every write of a client goes through [`Client::validate`], whoever
//! makes it (configuration seeding, an embedding application, the admin API later).

use super::Context;
use crate::model::{Client, ClientError};
use crate::store::StoreError;
use std::sync::Arc;

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The registration is invalid.
    #[error("client `{client_id}`: {error}")]
    Invalid {
        /// The client.
        client_id: String,
        /// What is wrong.
        error: ClientError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers and reads clients.
#[derive(Debug)]
pub struct ClientRegistry {
    ctx: Arc<Context>,
}

impl ClientRegistry {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Validates `client` and stores it, replacing a client with the same id.
    pub async fn register(&self, client: &Client) -> Result<(), RegistrationError> {
        client
            .validate()
            .map_err(|error| RegistrationError::Invalid {
                client_id: client.client_id.clone(),
                error,
            })?;
        self.ctx.stores.clients.upsert_client(client).await?;
        tracing::info!(client_id = %client.client_id, "client registered");
        Ok(())
    }

    /// The client with this id, enabled or not.
    pub async fn find(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.ctx.stores.clients.find_client(client_id).await
    }

    /// Every client, enabled or not, ordered by client id.
    pub async fn list(&self) -> Result<Vec<Client>, StoreError> {
        self.ctx.stores.clients.list_clients().await
    }

    /// Enables or disables a client (a disabled client cannot authenticate, so it gets no
    /// new tokens; tokens it holds stay valid until they expire or are revoked). `None` when
    /// there is no such client.
    pub async fn set_enabled(
        &self,
        client_id: &str,
        enabled: bool,
    ) -> Result<Option<Client>, RegistrationError> {
        let Some(mut client) = self.find(client_id).await? else {
            return Ok(None);
        };
        client.enabled = enabled;
        self.register(&client).await?;
        tracing::info!(%client_id, enabled, "client status changed");
        Ok(Some(client))
    }
}
