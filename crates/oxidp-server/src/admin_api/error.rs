//! The admin API's one error envelope, `{"error": {"code": "...", "message": "..."}}`, and the
//! body and query extractors whose rejections use it instead of axum's plain text.
//!
//! | code              | status        | when                                                    |
//! |-------------------|---------------|---------------------------------------------------------|
//! | `unauthorized`    | 401           | no Bearer token, or not a valid access token of ours    |
//! | `forbidden`       | 403           | a valid token without the `oxidp.admin` scope           |
//! | `invalid_request` | 400, 405, 413, 415 | a malformed query or body, a missing filter, a wrong method, a too large body |
//! | `not_enabled`     | 409           | server-side sessions are off: there is nothing to manage |
//! | `unavailable`     | 503           | the store or the keys failed (details only in the log)   |
//!
//! Messages describe the caller's request only; internal errors never reach a body.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxidp_core::services::SessionManagementError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use utoipa::ToSchema;

/// The machine-readable error codes of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no access token, or one that is not valid (expired, revoked, not ours).
    Unauthorized,
    /// 403: the token lacks the `oxidp.admin` scope.
    Forbidden,
    /// 400 (405, 413, 415): the request is malformed or incomplete.
    InvalidRequest,
    /// 409: server-side sessions are not enabled on this server.
    NotEnabled,
    /// 503: a dependency (the database, the keys) is unavailable; retry later.
    Unavailable,
}

/// The error envelope every admin API error answers with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The body of an [`ErrorEnvelope`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code.
    pub code: ErrorCode,
    /// A human-readable explanation about the request (never server internals).
    pub message: String,
}

/// An admin API error on its way to the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    challenge: Option<String>,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    /// 503 `unavailable`, with a generic message.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the service is temporarily unavailable; retry later",
        )
    }

    /// Adds a `WWW-Authenticate` challenge (RFC 6750 §3).
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The envelope's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: self.message.into_owned(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.challenge
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<SessionManagementError> for ApiError {
    fn from(error: SessionManagementError) -> Self {
        match error {
            SessionManagementError::EmptyFilter => {
                Self::invalid_request("a subject_id or a session_id is required")
            }
            SessionManagementError::Disabled => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::NotEnabled,
                "server-side sessions are not enabled on this server",
            ),
            SessionManagementError::Store(error) => {
                tracing::error!(%error, "admin API: the store failed");
                Self::unavailable()
            }
            SessionManagementError::Signing => {
                tracing::error!("admin API: a logout token could not be signed");
                Self::unavailable()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message): (StatusCode, Cow<'static, str>) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the content type must be application/json".into(),
            ),
            JsonRejection::JsonSyntaxError(_) => {
                (StatusCode::BAD_REQUEST, "the body is not valid JSON".into())
            }
            // serde's message names the offending field of the caller's body.
            JsonRejection::JsonDataError(_) => {
                (StatusCode::BAD_REQUEST, rejection.body_text().into())
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large".into(),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "the request body could not be read".into(),
            ),
        };
        Self::new(status, ErrorCode::InvalidRequest, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // The message names the offending query parameter.
        Self::invalid_request(rejection.body_text())
    }
}

/// `Json<T>` whose rejections answer with the admin API's envelope.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// `Query<T>` whose rejections answer with the admin API's envelope.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// 405 in the envelope, for a method the resource does not support.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        "this method is not supported on this resource",
    )
}
