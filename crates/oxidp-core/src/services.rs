//! The services the endpoints call. Each takes already-parsed input and returns a typed result
//! or an [`OAuthError`](crate::error::OAuthError); none of them knows about HTTP.

mod access_token;
mod admin;
mod authorize;
mod backchannel;
mod client_auth;
mod clients;
mod consent;
mod coordination;
mod discovery;
mod dpop;
mod end_session;
pub mod identity;
mod interaction;
mod introspection;
mod login;
mod outbox;
mod pkce;
mod revocation;
mod scopes;
mod server_side_sessions;
mod session;
mod session_expiration;
mod session_management;
mod session_migration;
mod token;
mod userinfo;

pub use admin::{
    ADMIN_ROLE, ADMIN_SCOPE, AdminContext, AdminService, AdminTokenError, DeliveryRecord,
};
pub use authorize::{
    AuthorizeError, AuthorizeRequest, AuthorizeResponse, AuthorizeService, Interaction,
    ResponseMode, resume_after_login,
};
pub use backchannel::{BACKCHANNEL_LOGOUT_EVENT, BackchannelLogoutService, EndedSession};
pub use client_auth::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, CLIENT_AUTH_METHODS, ClientAuthenticator, ClientCredentials,
    Introspector,
};
pub use clients::{ClientRegistry, RegistrationError};
pub use consent::ConsentService;
pub use coordination::SessionCoordinationService;
pub use discovery::DiscoveryService;
pub use dpop::DpopService;
pub use end_session::{EndSessionRequest, EndSessionService};
pub use interaction::{
    AuthorizeOutcome, BrowserSession, ConsentDecision, ConsentPage, ConsentPageOutcome,
    InteractionService, LoggedOut, LoginOutcome, LoginPage, LogoutOutcome, PageFailure,
    ScopeDescription, followable,
};
pub use introspection::IntrospectionService;
pub use login::{LoginError, LoginService, ThrottleOptions};
pub use outbox::{DeliveryRequest, MESSAGE_ID_HEADER, OutboxDeliveryService};
pub use revocation::RevocationService;
pub use scopes::GrantedScopes;
pub use server_side_sessions::ServerSideTicketStore;
pub use session::{
    Authenticated, SelfContainedTicketStore, SessionError, SessionService, TicketStore,
};
pub use session_expiration::{CleanupSummary, ExpiredSessionCleanup};
pub use session_management::{
    RemovalSummary, RemoveSessionsContext, SessionManagementError, SessionManagementService,
    UserSession,
};
pub use session_migration::{
    Migration, MigrationStores, SESSION_MIGRATION, SessionMigrationService,
};
pub use token::{
    AccessTokenClaims, Confirmation, RefreshTokenData, SessionInfo, TokenResponse, TokenService,
    TokenType,
};
pub use userinfo::{UserInfoResponse, UserInfoService};

use crate::clock::Clock;
use crate::keys::{DataProtector, KeyManager};
use crate::options::IdentityServerOptions;
use crate::store::Stores;
use crate::users::{PasswordHasher, UserService};
use std::sync::Arc;

/// What every service shares: options, stores, clock and keys. Private to the core: the
/// web edge and embedding applications reach it only through the services.
#[derive(Debug)]
pub(crate) struct Context {
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

/// The identity server's services, built once over one shared context (private to the core).
#[derive(Debug, Clone)]
pub struct IdentityServer {
    context: Arc<Context>,
    /// Client (and API resource) authentication.
    pub client_auth: Arc<ClientAuthenticator>,
    /// Token issuance.
    pub tokens: Arc<TokenService>,
    /// DPoP proofs (RFC 9449): nonces and the upkeep of the seen proofs.
    pub dpop: Arc<DpopService>,
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
    /// Conversion of cookies issued before server-side sessions were switched on (or off).
    pub session_migration: Arc<SessionMigrationService>,
    /// Users.
    pub users: Arc<UserService>,
    /// Password sign-in.
    pub login: Arc<LoginService>,
    /// Back-channel logout tokens and messages.
    pub backchannel: Arc<BackchannelLogoutService>,
    /// Delivery of outbox messages (claim, prepare, outcome, record) for the delivery worker.
    pub outbox: Arc<OutboxDeliveryService>,
    /// Session management (query, remove, logout notifications).
    pub session_management: Arc<SessionManagementService>,
    /// Coordination of client token lifetimes with user sessions.
    pub coordination: Arc<SessionCoordinationService>,
    /// The end of expired server-side sessions (`None` without server-side sessions).
    pub session_expiration: Option<Arc<ExpiredSessionCleanup>>,
    /// The decisions of the interactive pages (authorize, login, consent, logout).
    pub interaction: Arc<InteractionService>,
    /// Administrator rights and the administrators' views.
    pub admin: Arc<AdminService>,
    /// Discovery document and JWKS.
    pub discovery: Arc<DiscoveryService>,
    /// Client registration (validated writes).
    pub clients: Arc<ClientRegistry>,
}

impl IdentityServer {
    /// Builds the services over `stores`, with self-contained or server-side sessions as
    /// `options.server_side_sessions` says.
    pub fn new(options: IdentityServerOptions, stores: Stores, clock: Arc<dyn Clock>) -> Self {
        Self::builder(options, stores, clock).build()
    }

    /// The deployment options (read-only).
    pub fn options(&self) -> &IdentityServerOptions {
        &self.context.options
    }

    /// The signing keys: rotation, the JWKS, the current key.
    pub fn keys(&self) -> &Arc<KeyManager> {
        &self.context.keys
    }

    /// The data-protection key ring (ticket and cookie encryption, derived secrets).
    pub fn protector(&self) -> &Arc<DataProtector> {
        &self.context.protector
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.context.clock
    }

    /// Whether the store answers: one uncached read (users by username are never cached).
    pub async fn health_check(&self) -> Result<(), crate::store::StoreError> {
        self.context
            .stores
            .users
            .find_user_by_username("")
            .await
            .map(|_| ())
    }

    /// Whether this instance can serve: the database answers and a signing key is at hand
    /// (from the cache or the database), so tokens can be issued. The reason when not.
    pub async fn readiness_check(&self) -> Result<(), String> {
        self.health_check()
            .await
            .map_err(|error| format!("database: {error}"))?;
        self.context
            .keys
            .default_signing_key()
            .await
            .map(|_| ())
            .map_err(|error| format!("signing keys: {error}"))
    }

    /// Removes up to `batch` expired grants (used codes and refresh tokens are kept until
    /// they expire, for replay detection); returns how many went.
    pub async fn remove_expired_grants(&self, batch: u32) -> Result<u64, crate::store::StoreError> {
        let now = self.context.clock.now();
        self.context
            .stores
            .grants
            .remove_expired_grants(now, batch)
            .await
    }

    /// The claims of one of this server's access tokens (JWT or reference) if it is valid now.
    pub async fn validate_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenClaims>, crate::error::OAuthError> {
        access_token::validate_access_token(&self.context, token).await
    }

    /// A builder, to plug in a custom ticket store or switch server-side sessions on.
    pub fn builder(
        options: IdentityServerOptions,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> IdentityServerBuilder {
        IdentityServerBuilder {
            options,
            stores,
            clock,
            tickets: None,
        }
    }
}

/// Builds an [`IdentityServer`].
pub struct IdentityServerBuilder {
    options: IdentityServerOptions,
    stores: Stores,
    clock: Arc<dyn Clock>,
    tickets: Option<Arc<dyn TicketStore>>,
}

impl std::fmt::Debug for IdentityServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityServerBuilder")
            .finish_non_exhaustive()
    }
}

impl IdentityServerBuilder {
    /// Keeps sessions server-side (in `stores.sessions`, or in `store` when given): the cookie
    /// then carries only a random key.
    pub fn server_side_sessions(
        mut self,
        store: Option<Arc<dyn crate::store::SessionStore>>,
    ) -> Self {
        self.options.server_side_sessions.enabled = true;
        if let Some(store) = store {
            self.stores.sessions = store;
        }
        self
    }

    /// Uses a custom ticket store behind the authentication cookie.
    pub fn ticket_store(mut self, tickets: Arc<dyn TicketStore>) -> Self {
        self.tickets = Some(tickets);
        self
    }

    /// Builds the services.
    pub fn build(self) -> IdentityServer {
        let Self {
            options,
            mut stores,
            clock,
            tickets,
        } = self;
        if !options.user_cache_duration.is_zero() {
            stores.users = Arc::new(crate::store::CachedUserStore::new(
                stores.users,
                options.user_cache_duration,
                clock.clone(),
            ));
        }
        if !options.store_cache_duration.is_zero() {
            let ttl = options.store_cache_duration;
            stores.clients = Arc::new(crate::store::CachedClientStore::new(
                stores.clients,
                ttl,
                clock.clone(),
            ));
            stores.resources = Arc::new(crate::store::CachedResourceStore::new(
                stores.resources,
                ttl,
                clock.clone(),
            ));
        }
        let protector = Arc::new(
            DataProtector::new(
                stores.keys.clone(),
                clock.clone(),
                options.keys.data_protection_key_lifetime,
                options.keys.cache_duration,
            )
            .with_master_key(options.keys.master_key.map(|key| key.0)),
        );
        let server_side = options.server_side_sessions.enabled.then(|| {
            ServerSideTicketStore::new(
                stores.sessions.clone(),
                protector.clone(),
                options
                    .server_side_sessions
                    .user_display_name_claim_type
                    .clone(),
            )
        });
        // Expired-on-sight processing maps a cookie to its record, which holds only for the
        // built-in server-side ticket store.
        let expire_on_sight = tickets.is_none() && server_side.is_some();
        // A custom ticket store decides its own cookies: nothing is converted for it.
        let session_migration = Arc::new(SessionMigrationService::new(
            MigrationStores {
                sessions: stores.sessions.clone(),
                grants: stores.grants.clone(),
                protector: protector.clone(),
                clock: clock.clone(),
            },
            options.server_side_sessions.enabled,
            options.server_side_sessions.migrate_cookie_sessions && tickets.is_none(),
            options
                .server_side_sessions
                .user_display_name_claim_type
                .clone(),
            options.issuer.clone(),
        ));
        let tickets: Arc<dyn TicketStore> = match (tickets, &server_side) {
            (Some(custom), _) => custom,
            (None, Some(server_side)) => Arc::new(server_side.clone()),
            (None, None) => Arc::new(SelfContainedTicketStore::new(protector.clone())),
        };
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
        let authentication = options.authentication.clone();
        let issuer = options.issuer.clone();
        let context = Arc::new(Context {
            options,
            stores,
            clock,
            keys,
            protector,
        });
        let backchannel = Arc::new(BackchannelLogoutService::new(context.clone()));
        let outbox = Arc::new(OutboxDeliveryService::new(
            context.clone(),
            backchannel.clone(),
        ));
        let session_expiration = server_side.clone().map(|tickets| {
            Arc::new(ExpiredSessionCleanup::new(
                context.clone(),
                tickets,
                backchannel.clone(),
            ))
        });
        let mut session_service = SessionService::new(
            tickets,
            context.stores.grants.clone(),
            context.clock.clone(),
            authentication,
            issuer,
        );
        if expire_on_sight && let Some(expiration) = &session_expiration {
            session_service = session_service.with_expiration(expiration.clone());
        }
        if session_migration.is_enabled() {
            session_service = session_service.with_migration(session_migration.clone());
        }
        let sessions = Arc::new(session_service);
        let login = Arc::new(LoginService::new(
            users.clone(),
            sessions.clone(),
            context.stores.sign_in_failures.clone(),
            context.clock.clone(),
            context.options.sign_in_throttle,
        ));
        let client_auth = Arc::new(ClientAuthenticator::new(context.clone()));
        let authorize = Arc::new(AuthorizeService::new(context.clone()));
        let consent = Arc::new(ConsentService::new(context.clone()));
        let end_session = Arc::new(EndSessionService::new(context.clone()));
        let session_management = Arc::new(SessionManagementService::new(
            context.clone(),
            server_side.clone(),
            backchannel.clone(),
        ));
        let interaction = Arc::new(InteractionService::new(
            context.clone(),
            interaction::InteractionParts {
                authorize: authorize.clone(),
                consent: consent.clone(),
                sessions: sessions.clone(),
                login: login.clone(),
                end_session: end_session.clone(),
                session_management: session_management.clone(),
            },
        ));
        let dpop = Arc::new(DpopService::new(context.clone()));
        IdentityServer {
            interaction,
            admin: Arc::new(AdminService::new(context.clone())),
            discovery: Arc::new(DiscoveryService::new(context.clone())),
            clients: Arc::new(ClientRegistry::new(context.clone())),
            tokens: Arc::new(TokenService::new(
                context.clone(),
                client_auth.clone(),
                dpop.clone(),
            )),
            introspection: Arc::new(IntrospectionService::new(
                context.clone(),
                client_auth.clone(),
            )),
            revocation: Arc::new(RevocationService::new(context.clone(), client_auth.clone())),
            client_auth,
            authorize,
            consent,
            userinfo: Arc::new(UserInfoService::new(
                context.clone(),
                server_side.clone(),
                dpop.clone(),
            )),
            dpop,
            session_management,
            coordination: Arc::new(SessionCoordinationService::new(context.clone())),
            session_expiration,
            backchannel,
            outbox,
            end_session,
            sessions,
            session_migration,
            users,
            login,
            context,
        }
    }
}
