//! Rendering of errors at the web edge, one shape per surface.
//!
//! - Protocol endpoints answer RFC 6749 §5.2 JSON (`error`, `error_description`) with the
//!   status and headers (`WWW-Authenticate`, `DPoP-Nonce`, `Retry-After`) that the core put on
//!   the [`OAuthError`]; internals never reach a body.
//! - Browser pages answer with the error page: a handler returns [`PageError`], which the
//!   [`render_page_errors`] layer turns into the rendered template (the template needs the
//!   server's state, which `IntoResponse` does not have).

use crate::routes::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxidp_core::error::OAuthError;
use oxidp_core::services::PageFailure;
use serde_json::json;
use std::borrow::Cow;

/// A protocol error on its way to the client.
#[derive(Debug)]
pub struct ProtocolError(pub OAuthError);

impl From<OAuthError> for ProtocolError {
    fn from(error: OAuthError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        // A server-side cause was logged once where it happened (a store error, a signing
        // failure); logging it here again would double every line of an outage.
        let mut body = json!({ "error": error.code.as_str() });
        if let Some(description) = &error.description {
            body["error_description"] = json!(description);
        }
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(value) = error
            .www_authenticate()
            .and_then(|v| HeaderValue::try_from(v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(value) = error
            .dpop_nonce
            .as_deref()
            .and_then(|v| HeaderValue::try_from(v).ok())
        {
            headers.insert("dpop-nonce", value);
        }
        if let Some(seconds) = error.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Wraps a JSON body with the headers every token-bearing response needs (RFC 6749 §5.1).
pub fn no_store_json(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `response` with a `DPoP-Nonce` header when the core issued a fresh nonce (RFC 9449 §8: the
/// server may rotate nonces on any response).
pub fn with_dpop_nonce(mut response: Response, nonce: Option<String>) -> Response {
    if let Some(value) = nonce.and_then(|nonce| HeaderValue::try_from(nonce).ok()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

/// The error page for a browser request. Its `message` is shown to the user, so it never
/// carries internals.
#[derive(Debug, Clone)]
pub struct PageError {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl PageError {
    /// An error page with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 503: a dependency is down.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
        )
    }

    /// 500: a page could not be rendered.
    pub fn not_shown() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be shown.",
        )
    }
}

impl From<PageFailure> for PageError {
    fn from(failure: PageFailure) -> Self {
        Self::new(
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST),
            failure.message,
        )
    }
}

impl From<crate::pages::RenderError> for PageError {
    fn from(error: crate::pages::RenderError) -> Self {
        tracing::error!(%error, "a page template failed");
        Self::not_shown()
    }
}

/// What [`PageError::into_response`] leaves for [`render_page_errors`] to render.
#[derive(Debug, Clone)]
struct PendingErrorPage(Cow<'static, str>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response
            .extensions_mut()
            .insert(PendingErrorPage(self.message));
        response
    }
}

/// Renders the error page of every [`PageError`] response, keeping its status and the
/// headers set beside it (a removed session cookie, for instance).
pub async fn render_page_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let Some(PendingErrorPage(message)) = response.extensions_mut().remove() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let page = state.error_page(parts.status, &message);
    let (page_parts, body) = page.into_parts();
    for (name, value) in &page_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

/// An error decided at the edge (no route, wrong method, body too large), in the format of the
/// endpoint it was meant for: the admin API's envelope under `/api/`, a protocol error under
/// `/connect/` and `/.well-known/`, the error page anywhere else.
pub fn edge_error(
    path: &str,
    status: StatusCode,
    message: impl Into<Cow<'static, str>>,
) -> Response {
    let message = message.into();
    if path.starts_with("/api/") {
        crate::admin_api::ApiError::new(
            status,
            crate::admin_api::ErrorCode::InvalidRequest,
            message,
        )
        .into_response()
    } else if path.starts_with("/connect/") || path.starts_with("/.well-known/") {
        ProtocolError(OAuthError::invalid_request(message).with_status(status.as_u16()))
            .into_response()
    } else {
        PageError::new(status, message).into_response()
    }
}

/// 405 with a body in the endpoint's format (axum's own has none).
pub async fn method_not_allowed(uri: axum::http::Uri) -> Response {
    edge_error(
        uri.path(),
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not supported here",
    )
}

/// 404 with a body in the format of the area the path is in.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    edge_error(uri.path(), StatusCode::NOT_FOUND, "there is nothing here")
}

/// A declared `Content-Length` above the body limit is refused at once with 413, before any of
/// the body is read: waiting for a body that will be refused anyway only ties the connection
/// up (a client that declares a large body and sends it slowly would otherwise hold a
/// connection until the request timeout).
pub async fn reject_oversized(request: Request, next: Next) -> Response {
    let limit = request
        .extensions()
        .get::<crate::request::BodyLimit>()
        .map_or(64 * 1024, |limit| limit.0);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return edge_error(
            request.uri().path(),
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds {limit} bytes"),
        );
    }
    next.run(request).await
}
