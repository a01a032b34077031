//! The services the endpoints call. Each takes already-parsed input and returns a typed result
//! or an [`OAuthError`](crate::error::OAuthError); none of them knows about HTTP.

mod client_auth;
mod discovery;
mod introspection;
mod revocation;
mod scopes;
mod token;

pub use client_auth::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientAuthenticator, ClientCredentials, Introspector,
};
pub use discovery::discovery_document;
pub use introspection::IntrospectionService;
pub use revocation::RevocationService;
pub use token::{TokenResponse, TokenService};

use crate::clock::Clock;
use crate::keys::{DataProtector, KeyManager};
use crate::options::IdentityServerOptions;
use crate::store::Stores;
use std::sync::Arc;

/// What every service shares: options, stores, clock and keys.
#[derive(Debug)]
pub struct Context {
    /// Deployment options.
    pub options: IdentityServerOptions,
    /// Stores.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Signing keys.
    pub keys: Arc<KeyManager>,
    /// Data protection.
    pub protector: Arc<DataProtector>,
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The identity server's services, built once over one [`Context`].
#[derive(Debug, Clone)]
pub struct IdentityServer {
    /// The shared context.
    pub context: Arc<Context>,
    /// Client (and API resource) authentication.
    pub client_auth: Arc<ClientAuthenticator>,
    /// Token issuance.
    pub tokens: Arc<TokenService>,
    /// Token introspection.
    pub introspection: Arc<IntrospectionService>,
    /// Token revocation.
    pub revocation: Arc<RevocationService>,
}

impl IdentityServer {
    /// Builds the services over `stores`.
    pub fn new(options: IdentityServerOptions, stores: Stores, clock: Arc<dyn Clock>) -> Self {
        let protector = Arc::new(DataProtector::new(
            stores.keys.clone(),
            clock.clone(),
            options.keys.data_protection_key_lifetime,
            options.keys.cache_duration,
        ));
        let keys = Arc::new(KeyManager::new(
            stores.keys.clone(),
            protector.clone(),
            clock.clone(),
            options.keys.clone(),
        ));
        let context = Arc::new(Context {
            options,
            stores,
            clock,
            keys,
            protector,
        });
        Self {
            client_auth: Arc::new(ClientAuthenticator::new(context.clone())),
            tokens: Arc::new(TokenService::new(context.clone())),
            introspection: Arc::new(IntrospectionService::new(context.clone())),
            revocation: Arc::new(RevocationService::new(context.clone())),
            context,
        }
    }
}
