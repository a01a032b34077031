//! The claim checks of the two signed tokens the web app receives, once their signature has
//! been verified ([`Issuer::verify`](super::issuer::Issuer::verify)):
//!
//! - the **ID token** of a sign-in (OpenID Connect Core §3.1.3.7): `iss`, `aud`, `exp`, `iat`,
//!   and the `nonce` this browser's sign-in sent;
//! - a **logout token** (OpenID Connect Back-Channel Logout 1.0 §2.6): `typ` `logout+jwt`,
//!   `iss`, `aud`, `iat`, `exp`, `jti`, the back-channel logout event, a `sub` or a `sid`, and
//!   no `nonce` (so that an ID token can never pass for a logout token). A replayed logout
//!   token is accepted: ending a session that is already gone changes nothing.

use oxidp_jose::constant_time_eq;
use serde_json::{Map, Value};

/// The event a logout token must carry.
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The clock difference tolerated between the app and the server, in seconds.
const CLOCK_SKEW: i64 = 60;
/// How old a logout token may be, in seconds: the server signs a fresh one for each attempt.
const LOGOUT_TOKEN_MAX_AGE: i64 = 600;

/// Why a token was refused. The messages name the failed check, never a token's content.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ClaimsError {
    #[error("wrong token type")]
    WrongType,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("expired")]
    Expired,
    #[error("issued in the future or too long ago")]
    BadIssuedAt,
    #[error("the nonce does not match this sign-in")]
    WrongNonce,
    #[error("no back-channel logout event")]
    NoLogoutEvent,
    #[error("neither sub nor sid")]
    NoSubjectOrSession,
    #[error("a logout token must not carry a nonce")]
    NonceInLogoutToken,
    #[error("no sub")]
    NoSubject,
    #[error("no jti")]
    NoTokenId,
}

/// Who signed in, from a valid ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedIn {
    pub subject: String,
    pub sid: Option<String>,
}

/// Whom a valid logout token signs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logout {
    pub subject: Option<String>,
    pub sid: Option<String>,
    pub reason: Option<String>,
}

/// Checks an ID token's claims for `client_id` and the sign-in that sent `nonce`.
pub(crate) fn check_id_token(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<SignedIn, ClaimsError> {
    check_common(claims, issuer, client_id, now)?;
    let sent = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !constant_time_eq(sent.as_bytes(), nonce.as_bytes()) {
        return Err(ClaimsError::WrongNonce);
    }
    let subject = string(claims, "sub").ok_or(ClaimsError::NoSubject)?;
    Ok(SignedIn {
        subject,
        sid: string(claims, "sid"),
    })
}

/// Checks a logout token's header and claims for `client_id`.
pub(crate) fn check_logout_token(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<Logout, ClaimsError> {
    if header.get("typ").and_then(Value::as_str) != Some("logout+jwt") {
        return Err(ClaimsError::WrongType);
    }
    check_common(claims, issuer, client_id, now)?;
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    if iat < now - LOGOUT_TOKEN_MAX_AGE {
        return Err(ClaimsError::BadIssuedAt);
    }
    let has_event = claims
        .get("events")
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(ClaimsError::NoLogoutEvent);
    }
    if claims.contains_key("nonce") {
        return Err(ClaimsError::NonceInLogoutToken);
    }
    if string(claims, "jti").is_none() {
        return Err(ClaimsError::NoTokenId);
    }
    let (subject, sid) = (string(claims, "sub"), string(claims, "sid"));
    if subject.is_none() && sid.is_none() {
        return Err(ClaimsError::NoSubjectOrSession);
    }
    Ok(Logout {
        subject,
        sid,
        reason: string(claims, "logout_reason"),
    })
}

/// `iss`, `aud`, `exp` and `iat` (both required in either token), with the clock skew.
fn check_common(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<(), ClaimsError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(ClaimsError::WrongIssuer);
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(ClaimsError::WrongAudience);
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if now < exp + CLOCK_SKEW => {}
        _ => return Err(ClaimsError::Expired),
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now + CLOCK_SKEW => Ok(()),
        _ => Err(ClaimsError::BadIssuedAt),
    }
}

fn string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
