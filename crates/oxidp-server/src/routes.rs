//! The HTTP routes. Each handler extracts, authenticates, calls one core service and maps the
//! result; protocol rules live in `oxidp-core`.

mod discovery;
mod health;
mod introspect;
mod revocation;
mod token;

use crate::form::BodyLimit;
use crate::telemetry;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use oxidp_core::options::paths;
use oxidp_core::services::IdentityServer;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The core services.
    pub idp: IdentityServer,
    /// The metrics registry rendered on `/metrics`.
    pub metrics: PrometheusHandle,
}

/// HTTP-level limits.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body, in bytes.
    pub max_body_size: usize,
    /// Time limit for one request.
    pub request_timeout: Duration,
}

/// The identity server's routes, ready to serve or to nest into another axum app.
pub fn router(idp: IdentityServer, limits: HttpLimits) -> Router {
    let state = AppState {
        idp,
        metrics: telemetry::prometheus(),
    };
    Router::new()
        .route(paths::DISCOVERY, get(discovery::configuration))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECTION, post(introspect::introspect))
        .route(paths::REVOCATION, post(revocation::revoke))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::from_fn(telemetry::track_requests))
        .layer(axum::Extension(BodyLimit(limits.max_body_size)))
        .layer(DefaultBodyLimit::max(limits.max_body_size))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(health::panic_response))
        .with_state(state)
}
