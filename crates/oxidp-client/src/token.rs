//! What the managers hand out: a [`Token`] to put in an API call, and the [`TokenSet`] a web
//! app keeps per user session.

use crate::http::TokenResponse;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use reqwest::header::{HeaderValue, InvalidHeaderValue};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// An access token with its type and expiry, as the token endpoint gave them.
///
/// ```
/// use oxidp_client::{AccessToken, Token};
/// let token = Token::new(AccessToken::new("abc"), "Bearer", time::OffsetDateTime::UNIX_EPOCH);
/// let header = token.authorization_header()?;
/// assert_eq!(header.to_str().unwrap(), "Bearer abc");
/// assert!(header.is_sensitive());
/// assert!(!format!("{token:?}").contains("abc"));
/// # Ok::<(), reqwest::header::InvalidHeaderValue>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Token {
    /// The access token.
    pub access_token: AccessToken,
    /// The `token_type` of the response (`Bearer`).
    pub token_type: String,
    /// When it expires: the time the request was sent plus `expires_in` (or five minutes if
    /// the server gave no `expires_in`).
    pub expires_at: OffsetDateTime,
    /// The granted `scope`, when the server named it.
    pub scope: Option<String>,
}

impl Token {
    /// A token of this type expiring at `expires_at`, with no scope.
    pub fn new(
        access_token: AccessToken,
        token_type: impl Into<String>,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            access_token,
            token_type: token_type.into(),
            expires_at,
            scope: None,
        }
    }

    /// `Authorization: Bearer <token>`, marked sensitive so that HTTP clients and tracing
    /// layers do not print it. A `token_type` of `bearer` is sent as `Bearer`.
    pub fn authorization_header(&self) -> Result<HeaderValue, InvalidHeaderValue> {
        let scheme = if self.token_type.eq_ignore_ascii_case("bearer") {
            "Bearer"
        } else {
            &self.token_type
        };
        let mut value = HeaderValue::try_from(format!("{scheme} {}", self.access_token.secret()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The tokens of one signed-in user: what a web app keeps in its session.
///
/// It serializes (the tokens in clear, `expires_at` as RFC 3339), so that a
/// [`TokenStore`](crate::TokenStore) can persist it; keep it somewhere only the app reads.
///
/// ```
/// use oxidp_client::{AccessToken, RefreshToken, TokenSet};
/// let expires_at = time::OffsetDateTime::UNIX_EPOCH;
/// let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", expires_at)
///     .with_refresh_token(RefreshToken::new("rt"));
/// let json = serde_json::to_string(&tokens).unwrap();
/// assert_eq!(serde_json::from_str::<TokenSet>(&json).unwrap(), tokens);
/// assert!(!format!("{tokens:?}").contains("rt"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// Its `token_type`.
    pub token_type: String,
    /// When the access token expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When the access token was requested, if known: with `expires_at` it gives the token's
    /// lifetime, which caps how far ahead it is renewed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    /// The refresh token, if the client was given one (`offline_access`).
    pub refresh_token: Option<RefreshToken>,
    /// The ID token of the sign-in (kept across refreshes that do not return a new one).
    pub id_token: Option<IdToken>,
    /// The granted `scope`, when the server named it.
    pub scope: Option<String>,
}

impl TokenSet {
    /// A set holding only an access token.
    pub fn new(
        access_token: AccessToken,
        token_type: impl Into<String>,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            access_token,
            token_type: token_type.into(),
            expires_at,
            issued_at: None,
            refresh_token: None,
            id_token: None,
            scope: None,
        }
    }

    /// Adds a refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: RefreshToken) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }

    /// Adds an ID token.
    #[must_use]
    pub fn with_id_token(mut self, id_token: IdToken) -> Self {
        self.id_token = Some(id_token);
        self
    }

    /// The access token with its type and expiry.
    ///
    /// ```
    /// use oxidp_client::{AccessToken, TokenSet};
    /// let tokens = TokenSet::new(AccessToken::new("at"), "Bearer", time::OffsetDateTime::UNIX_EPOCH);
    /// assert_eq!(tokens.token().access_token.secret(), "at");
    /// ```
    pub fn token(&self) -> Token {
        Token {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            expires_at: self.expires_at,
            scope: self.scope.clone(),
        }
    }

    /// The set a token response gives, for a request sent at `sent_at`.
    pub(crate) fn from_response(response: TokenResponse, sent_at: OffsetDateTime) -> Self {
        Self {
            expires_at: expiry(sent_at, response.lifetime()),
            issued_at: Some(sent_at),
            access_token: response.access_token,
            token_type: response.token_type,
            refresh_token: response.refresh_token,
            id_token: response.id_token,
            scope: response.scope,
        }
    }

    /// The set after a refresh: the new tokens, keeping the refresh token, ID token and scope
    /// of this one where the response has none (a server that does not rotate).
    pub(crate) fn renewed(&self, response: TokenResponse, sent_at: OffsetDateTime) -> Self {
        let mut renewed = Self::from_response(response, sent_at);
        if renewed.refresh_token.is_none() {
            renewed.refresh_token = self.refresh_token.clone();
        }
        if renewed.id_token.is_none() {
            renewed.id_token = self.id_token.clone();
        }
        if renewed.scope.is_none() {
            renewed.scope = self.scope.clone();
        }
        renewed
    }

    /// Whether the access token is still good at `now`, renewing `margin` ahead.
    pub(crate) fn is_fresh(&self, now: OffsetDateTime, margin: Duration) -> bool {
        let lifetime = self.issued_at.map(|issued_at| self.expires_at - issued_at);
        is_fresh(now, self.expires_at, margin, lifetime)
    }
}

/// `sent_at + lifetime`, saturating.
pub(crate) fn expiry(sent_at: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
    time::Duration::try_from(lifetime)
        .ok()
        .and_then(|lifetime| sent_at.checked_add(lifetime))
        .unwrap_or(OffsetDateTime::new_utc(
            time::Date::MAX,
            time::Time::MIDNIGHT,
        ))
}

/// Whether a token expiring at `expires_at` and issued for about `lifetime` is still good at
/// `now`, renewing `margin` ahead — but never more than half its lifetime ahead, so that a
/// short-lived token is not renewed on every call.
pub(crate) fn is_fresh(
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    margin: Duration,
    lifetime: Option<time::Duration>,
) -> bool {
    let mut margin = time::Duration::try_from(margin).unwrap_or(time::Duration::MAX);
    if let Some(lifetime) = lifetime {
        margin = margin.min(lifetime / 2);
    }
    expires_at
        .checked_sub(margin)
        .is_some_and(|renew_at| now < renew_at)
}
