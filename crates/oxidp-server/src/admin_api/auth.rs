//! Authorization by construction: [`AdminCaller`] can only be obtained by presenting one of this
//! server's access tokens carrying the `oxidp.admin` scope, and every admin API handler takes
//! one, so no unauthenticated path reaches an admin operation.

use super::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

/// The scope an access token needs to call the admin API.
pub const ADMIN_SCOPE: &str = "oxidp.admin";

/// An authenticated caller of the admin API: the client an `oxidp.admin` access token was
/// issued to. Only the extractor creates one.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    client_id: String,
    subject: String,
}

impl AdminCaller {
    /// The client the token was issued to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token's subject (the client itself for client credentials, else the user).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// How the audit trail names this caller: `api:<client_id>`.
    pub fn actor(&self) -> String {
        format!("api:{}", self.client_id)
    }
}

fn unauthorized(message: &'static str, token_error: bool) -> ApiError {
    let challenge = if token_error {
        format!(
            "Bearer realm=\"oxidp\", error=\"invalid_token\", error_description=\"{message}\", scope=\"{ADMIN_SCOPE}\""
        )
    } else {
        format!("Bearer realm=\"oxidp\", scope=\"{ADMIN_SCOPE}\"")
    };
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
        .with_challenge(challenge)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || unauthorized("a Bearer access token is required", false);
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let claims = match state.idp.validate_access_token(token).await {
            Ok(Some(claims)) => claims,
            Ok(None) => {
                return Err(unauthorized("the access token is invalid or expired", true));
            }
            Err(error) => {
                tracing::error!(error = %error.code.as_str(), "admin API: access token validation failed");
                return Err(ApiError::unavailable());
            }
        };
        if !claims.scopes().any(|scope| scope == ADMIN_SCOPE) {
            tracing::warn!(client_id = %claims.client_id, "admin API: token without the admin scope");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "the access token lacks the oxidp.admin scope",
            )
            .with_challenge(format!(
                "Bearer realm=\"oxidp\", error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\""
            )));
        }
        Ok(Self {
            client_id: claims.client_id,
            subject: claims.sub,
        })
    }
}
