//! The domain model: clients, API resources, persisted grants and key records.

mod client;
mod grant;
mod keys;
mod resource;

pub use client::{AccessTokenType, Client, GrantType, HashedSecret};
pub use grant::{PersistedGrant, PersistedGrantFilter, grant_types};
pub use keys::{DataProtectionKeyRecord, SigningKeyRecord};
pub use resource::ApiResource;
