//! Authorization by construction: [`AdminCaller`] can only be obtained by presenting one of this
//! server's access tokens carrying the `oxidp.admin` scope, and every admin API handler takes
//! one, so no unauthenticated path reaches an admin operation.

use super::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use oxidp_core::services::{AdminContext, AdminTokenError};

pub use oxidp_core::services::ADMIN_SCOPE;

/// An authenticated caller of the admin API: holds the [`AdminContext`] that only the core's
/// scope check makes. Only the extractor creates one.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    admin: AdminContext,
}

impl AdminCaller {
    /// The administrator, for audited operations.
    pub fn admin(&self) -> &AdminContext {
        &self.admin
    }

    /// How the audit trail names this caller: `api:<client_id>`.
    pub fn actor(&self) -> &str {
        self.admin.actor()
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

/// The token of an `Authorization: Bearer <token>` header (exactly one such header).
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || unauthorized("a Bearer access token is required", false);
    let mut headers = parts.headers.get_all(header::AUTHORIZATION).iter();
    let value = headers.next().ok_or_else(missing)?;
    if headers.next().is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "the Authorization header is repeated",
        ));
    }
    let value = value.to_str().map_err(|_| missing())?;
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
        let peer = crate::request::peer_info(parts);
        match state.idp.admin.for_access_token_over(token, &peer).await {
            Ok(admin) => Ok(Self { admin }),
            Err(AdminTokenError::InvalidToken) => {
                Err(unauthorized("the access token is invalid or expired", true))
            }
            Err(AdminTokenError::InsufficientScope) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "the access token lacks the oxidp.admin scope (or its user the admin role)",
            )
            .with_challenge(format!(
                "Bearer realm=\"oxidp\", error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\""
            ))),
            Err(AdminTokenError::Unavailable) => Err(ApiError::unavailable()),
        }
    }
}
