//! One error enum for the crate. What the authorization server refused ([`Error::OAuth`]) is
//! kept apart from what never reached it or came back unreadable ([`Error::Transport`],
//! [`Error::InvalidResponse`]), and "the user must sign in again" is its own variant
//! ([`Error::ReauthenticationRequired`]) so a web app can match on it and redirect.
//!
//! Errors are `Clone` because one failed fetch is shared by every caller that waited on it.

use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

/// What can go wrong when getting, refreshing or revoking tokens.
///
/// ```
/// use oxidp_client::{Error, OAuthError};
///
/// fn describe(error: &Error) -> &'static str {
///     match error {
///         Error::ReauthenticationRequired { .. } => "send the user to the login page",
///         Error::OAuth(e) if e.error == "invalid_client" => "fix the client's credentials",
///         error if error.is_transient() => "try again later",
///         _ => "report it",
///     }
/// }
/// let refused = Error::OAuth(OAuthError::new(401, "invalid_client"));
/// assert_eq!(describe(&refused), "fix the client's credentials");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an RFC 6749 §5.2 error (`invalid_client`,
    /// `invalid_scope`, `unauthorized_client`, ...).
    #[error("the authorization server refused the request: {0}")]
    OAuth(OAuthError),

    /// The session's tokens are gone or no longer accepted: the user must sign in again.
    /// The tokens have been forgotten, unless the reason says otherwise.
    #[error("re-authentication required: {reason}")]
    ReauthenticationRequired {
        /// Why.
        reason: ReauthenticationReason,
    },

    /// The request did not get an answer: connection refused, timeout, TLS or read failure.
    #[error("could not reach the authorization server at {endpoint}")]
    Transport {
        /// The endpoint that was called.
        endpoint: String,
        /// What the HTTP client reported.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// The server answered, but not with a valid response for this protocol step (a 5xx
    /// without an OAuth error body, a body that is not the expected JSON, a missing field).
    #[error("unexpected response from {endpoint} (HTTP {status}): {detail}")]
    InvalidResponse {
        /// The endpoint that was called.
        endpoint: String,
        /// The HTTP status it answered with.
        status: u16,
        /// What was wrong with it (never the body itself, which may hold a token).
        detail: String,
    },

    /// The client is not configured well enough for the call (no token endpoint, no
    /// revocation endpoint, a URL that does not parse, a discovery document for another issuer).
    #[error("configuration: {0}")]
    Configuration(String),

    /// The token store failed.
    #[error("the token store failed")]
    Store(#[source] Arc<dyn std::error::Error + Send + Sync>),

    /// The work was cut short because the async runtime is shutting down.
    #[error("interrupted: the runtime is shutting down")]
    Interrupted,
}

impl Error {
    /// Whether trying again later may succeed: transport failures, server errors (HTTP 5xx
    /// or an OAuth `temporarily_unavailable` / `server_error`), unreadable answers and store
    /// failures.
    ///
    /// ```
    /// use oxidp_client::{Error, OAuthError};
    /// assert!(Error::OAuth(OAuthError::new(503, "temporarily_unavailable")).is_transient());
    /// assert!(!Error::OAuth(OAuthError::new(400, "invalid_scope")).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. }
            | Self::InvalidResponse { .. }
            | Self::Store(_)
            | Self::Interrupted => true,
            Self::OAuth(e) => {
                e.status >= 500 || e.error == "temporarily_unavailable" || e.error == "server_error"
            }
            Self::ReauthenticationRequired { .. } | Self::Configuration(_) => false,
        }
    }

    /// The OAuth error code, when the server answered with one.
    ///
    /// ```
    /// use oxidp_client::{Error, OAuthError};
    /// assert_eq!(Error::OAuth(OAuthError::new(400, "invalid_grant")).oauth_error(), Some("invalid_grant"));
    /// assert_eq!(Error::Configuration("x".into()).oauth_error(), None);
    /// ```
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::OAuth(e) => Some(&e.error),
            Self::ReauthenticationRequired {
                reason: ReauthenticationReason::InvalidGrant(e),
            } => Some(&e.error),
            _ => None,
        }
    }

    pub(crate) fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Store(Arc::from(error.into()))
    }
}

/// An RFC 6749 §5.2 error response.
///
/// ```
/// use oxidp_client::OAuthError;
/// let error = OAuthError::new(400, "invalid_grant").with_description("token expired");
/// assert_eq!(error.to_string(), "invalid_grant (HTTP 400): token expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status of the answer.
    #[serde(skip)]
    pub status: u16,
    /// The `error` code.
    pub error: String,
    /// The `error_description`, if any.
    #[serde(rename = "error_description", default)]
    pub description: Option<String>,
    /// The `error_uri`, if any.
    #[serde(rename = "error_uri", default)]
    pub uri: Option<String>,
}

impl OAuthError {
    /// An error with this status and code and no description.
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            description: None,
            uri: None,
        }
    }

    /// Adds an `error_description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.error, self.status)?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        Ok(())
    }
}

/// Why a session needs the user to sign in again.
///
/// ```
/// use oxidp_client::{Error, ReauthenticationReason};
/// let error = Error::ReauthenticationRequired { reason: ReauthenticationReason::NoTokens };
/// assert_eq!(error.to_string(), "re-authentication required: no tokens for this session");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReauthenticationReason {
    /// No tokens are stored under this session key (never signed in, signed out, or dropped
    /// after an earlier `invalid_grant`).
    NoTokens,
    /// The access token has expired and there is no refresh token to renew it (the client did
    /// not ask for `offline_access`). The tokens are kept, so that the ID token can still serve
    /// as a logout hint.
    NoRefreshToken,
    /// The server refused the refresh token (`invalid_grant`: expired, revoked, reused, or its
    /// user session has ended). The session's tokens have been dropped.
    InvalidGrant(OAuthError),
}

impl fmt::Display for ReauthenticationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTokens => f.write_str("no tokens for this session"),
            Self::NoRefreshToken => {
                f.write_str("the access token expired and there is no refresh token")
            }
            Self::InvalidGrant(e) => write!(f, "the refresh token was refused: {e}"),
        }
    }
}
