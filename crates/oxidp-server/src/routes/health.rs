//! Health (`/health/live`, `/health/ready`, and `/healthz`, the readiness check under its
//! older name), `/metrics`, and the answer given when a handler panics.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Liveness: the process answers HTTP. Depends on nothing else, so an orchestrator does not
/// restart instances because their database is down (readiness says that).
pub async fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: 200 when the database answers and a signing key is at hand, 503 (with the
/// failing part, never its details) otherwise.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.idp.readiness_check().await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "readiness check failed");
            let part = reason.split(':').next().unwrap_or("unknown").to_owned();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "failing": part })),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::telemetry::record_process_metrics();
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// A bug must not leak internals: log it, answer a generic 500.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let body = json!({ "error": "server_error", "error_description": "the server could not process the request" });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}
