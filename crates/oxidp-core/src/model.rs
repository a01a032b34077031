//! The domain model: clients, API resources, persisted grants and key records.

mod audit;
mod client;
mod client_validation;
mod grant;
mod keys;
mod outbox;
mod resource;
mod revoked_token;
mod session;
mod sign_in;
mod ticket;
mod user;

pub use audit::AuditEntry;
pub use client::{
    AccessTokenType, Client, GrantType, HashedSecret, RefreshTokenExpiration, RefreshTokenUsage,
};
pub use client_validation::{ClientError, MAX_CLIENT_LIFETIME, MAX_REFRESH_TOKEN_REUSE_GRACE};
pub use grant::{
    PersistedGrant, PersistedGrantFilter, RefreshTokenRotation, RotationStep, grant_types,
};
pub use keys::{DataProtectionKeyRecord, SigningKeyRecord};
pub use outbox::{
    AttemptOutcome, BackchannelLogout, DeliveryAttempt, DeliveryStatus, LogoutReason, OutboxKind,
    OutboxMessage, OutboxPayload, SessionExpiration, SessionRemoval,
};
pub use resource::ApiResource;
pub use revoked_token::RevokedToken;
pub use session::{QueryResult, ServerSideSession, SessionFilter, SessionQuery, renewal_due};
pub use sign_in::SignInFailures;
pub use ticket::AuthenticationTicket;
pub use user::{User, UserProfile};
