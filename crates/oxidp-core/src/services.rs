//! The services the endpoints call. Each takes already-parsed input and returns a typed result
//! or an [`OAuthError`](crate::error::OAuthError); none of them knows about HTTP.

mod access_token;
mod authorize;
mod client_auth;
mod consent;
mod discovery;
mod end_session;
pub mod identity;
mod introspection;
mod login;
mod revocation;
mod scopes;
mod session;
mod token;
mod userinfo;

pub use authorize::{
    AuthorizeError, AuthorizeRequest, AuthorizeResponse, AuthorizeService, Interaction,
    ResponseMode,
};
pub use client_auth::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientAuthenticator, ClientCredentials, Introspector,
};
pub use consent::ConsentService;
pub use discovery::discovery_document;
pub use end_session::{EndSessionRequest, EndSessionService};
pub use introspection::IntrospectionService;
pub use login::{LoginError, LoginService, ThrottleOptions};
pub use revocation::RevocationService;
pub use scopes::GrantedScopes;
pub use session::{
    Authenticated, SelfContainedTicketStore, SessionError, SessionService, TicketStore,
};
pub use token::{AccessTokenClaims, RefreshTokenData, SessionInfo, TokenResponse, TokenService};
pub use userinfo::{UserInfoError, UserInfoService};

use crate::clock::Clock;
use crate::keys::{DataProtector, KeyManager};
use crate::options::IdentityServerOptions;
use crate::store::Stores;
use crate::users::{PasswordHasher, UserService};
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
    /// The authorization endpoint.
    pub authorize: Arc<AuthorizeService>,
    /// Remembered consent.
    pub consent: Arc<ConsentService>,
    /// UserInfo.
    pub userinfo: Arc<UserInfoService>,
    /// RP-initiated logout.
    pub end_session: Arc<EndSessionService>,
    /// Browser sessions.
    pub sessions: Arc<SessionService>,
    /// Users.
    pub users: Arc<UserService>,
    /// Password sign-in.
    pub login: Arc<LoginService>,
}

impl IdentityServer {
    /// Builds the services over `stores`, with self-contained authentication cookies.
    pub fn new(options: IdentityServerOptions, stores: Stores, clock: Arc<dyn Clock>) -> Self {
        let protector = Arc::new(DataProtector::new(
            stores.keys.clone(),
            clock.clone(),
            options.keys.data_protection_key_lifetime,
            options.keys.cache_duration,
        ));
        let tickets: Arc<dyn TicketStore> =
            Arc::new(SelfContainedTicketStore::new(protector.clone()));
        Self::with_ticket_store(options, stores, clock, protector, tickets)
    }

    /// Builds the services with a given ticket store (server-side sessions, custom stores).
    pub fn with_ticket_store(
        options: IdentityServerOptions,
        stores: Stores,
        clock: Arc<dyn Clock>,
        protector: Arc<DataProtector>,
        tickets: Arc<dyn TicketStore>,
    ) -> Self {
        let keys = Arc::new(KeyManager::new(
            stores.keys.clone(),
            protector.clone(),
            clock.clone(),
            options.keys.clone(),
        ));
        let hasher = PasswordHasher::new(options.password_hashing).unwrap_or_else(|_| {
            tracing::error!("invalid password-hashing parameters; using the defaults");
            PasswordHasher::new(Default::default())
                .expect("the default password-hashing parameters are valid")
        });
        let users = Arc::new(UserService::new(
            stores.users.clone(),
            hasher,
            clock.clone(),
        ));
        let sessions = Arc::new(SessionService::new(
            tickets,
            clock.clone(),
            options.authentication.clone(),
        ));
        let login = Arc::new(LoginService::new(
            users.clone(),
            sessions.clone(),
            clock.clone(),
            ThrottleOptions::default(),
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
            authorize: Arc::new(AuthorizeService::new(context.clone())),
            consent: Arc::new(ConsentService::new(context.clone())),
            userinfo: Arc::new(UserInfoService::new(context.clone())),
            end_session: Arc::new(EndSessionService::new(context.clone())),
            sessions,
            users,
            login,
            context,
        }
    }
}
