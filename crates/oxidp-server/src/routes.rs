//! The HTTP routes. Each handler extracts, authenticates, calls one core service and maps the
//! result; protocol rules live in `oxidp-core`.

mod account;
pub(crate) mod admin;
pub(crate) mod authorize;
mod discovery;
mod health;
mod introspect;
mod revocation;
mod token;
mod userinfo;

use crate::pages::Pages;
use crate::request::{BodyLimit, CertificateHeader, Forwarding};
use crate::telemetry;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use oxidp_core::options::paths;
use oxidp_core::services::IdentityServer;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The core services (behind one `Arc`: handlers clone the state on every request).
    pub idp: Arc<IdentityServer>,
    /// The metrics registry rendered on `/metrics`.
    pub metrics: PrometheusHandle,
    /// The HTML pages.
    pub pages: Arc<Pages>,
    /// Whether cookies are `Secure` (the issuer is https).
    pub secure_cookies: bool,
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
pub fn router(idp: IdentityServer, limits: HttpLimits, pages: Arc<Pages>) -> Router {
    let secure_cookies = idp.options().is_https();
    let forwarding = Forwarding(Arc::new(idp.options().trusted_proxies.clone()));
    // Validated by the configuration; an embedding application's bad name reads no header.
    let certificate_header = idp
        .options()
        .mtls
        .client_certificate_header
        .as_deref()
        .and_then(|name| axum::http::HeaderName::from_bytes(name.as_bytes()).ok())
        .map(CertificateHeader);
    let state = AppState {
        idp: Arc::new(idp),
        metrics: telemetry::prometheus(),
        pages,
        secure_cookies,
    };
    let router = Router::new()
        .route(
            paths::AUTHORIZE,
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(
            paths::USERINFO,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            paths::END_SESSION,
            get(account::logout::end_session).post(account::logout::end_session),
        )
        .route(
            paths::LOGIN,
            get(account::login::show).post(account::login::submit),
        )
        .route(
            paths::CONSENT,
            get(account::consent::show).post(account::consent::submit),
        )
        .route(paths::LOGOUT, post(account::logout::confirm))
        .route(paths::DISCOVERY, get(discovery::configuration))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECTION, post(introspect::introspect))
        .route(paths::REVOCATION, post(revocation::revoke))
        .route("/admin/sessions", get(admin::sessions))
        .route("/admin/sessions/revoke", post(admin::revoke))
        .merge(crate::admin_api::admin_api_router())
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/healthz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .fallback(crate::error::not_found)
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .layer(axum::middleware::from_fn(crate::error::reject_oversized))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::error::render_page_errors,
        ))
        .layer(axum::middleware::from_fn(telemetry::track_requests))
        .layer(axum::Extension(BodyLimit(limits.max_body_size)))
        .layer(axum::Extension(forwarding))
        .layer(DefaultBodyLimit::max(limits.max_body_size))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(health::panic_response))
        .with_state(state);
    match certificate_header {
        Some(header) => router.layer(axum::Extension(header)),
        None => router,
    }
}
