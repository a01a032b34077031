//! The admin JSON API: session management for operators' tools and scripts.
//!
//! - `GET /api/admin/sessions`: one page of server-side sessions (filters and keyset paging).
//! - `DELETE /api/admin/sessions`: remove sessions, revoke their tokens and consents, send
//!   back-channel logout; audited as `api:<client_id>`.
//! - `GET /api/admin/openapi.json`: the OpenAPI document of the two operations.
//!
//! Callers present one of this server's access tokens (JWT or reference) carrying the
//! `oxidp.admin` scope, typically from a client-credentials client allowed that scope of an API
//! resource: `Authorization: Bearer <token>`. Handlers take an [`AdminCaller`], which only that
//! check produces. Every error answers with one envelope, [`ErrorEnvelope`]:
//! `{"error": {"code": "...", "message": "..."}}` (codes in [`ErrorCode`]). Responses are
//! `Cache-Control: no-store`.

mod auth;
mod error;
mod sessions;

pub use auth::{ADMIN_SCOPE, AdminCaller};
pub use error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode, ErrorEnvelope};
pub use sessions::{
    RemovalSummaryView, RemoveSessionsRequest, SessionPage, SessionView, SessionsQuery,
};

use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxidp_core::options::paths;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/admin/openapi.json";

/// The admin API's routes, to merge into the server's router.
pub fn admin_api_router() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_API_SESSIONS,
            get(sessions::query_sessions)
                .delete(sessions::remove_sessions)
                .fallback(error::method_not_allowed),
        )
        .route(
            OPENAPI_PATH,
            get(openapi_json).fallback(error::method_not_allowed),
        )
        .layer(axum::middleware::map_response(no_store))
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The admin API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "oxidp admin API",
        description = "Session management for oxidp. Every operation needs an access token with \
            the `oxidp.admin` scope (`Authorization: Bearer <token>`), e.g. from a \
            client-credentials client. Every error answers with the `ErrorEnvelope`: \
            `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`."
    ),
    paths(sessions::query_sessions, sessions::remove_sessions),
    components(schemas(
        SessionPage,
        SessionView,
        RemoveSessionsRequest,
        RemovalSummaryView,
        ErrorEnvelope,
        ErrorBody,
        ErrorCode
    )),
    modifiers(&BearerScheme),
    tags((name = "sessions", description = "Server-side browser sessions"))
)]
pub struct AdminApiDoc;

/// Adds the `bearer` security scheme the operations require.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or reference token")
                    .description(Some(format!(
                        "An access token issued by this server with the `{ADMIN_SCOPE}` scope \
                         (token endpoint: {}). Without a valid token: 401 `unauthorized`; without \
                         the scope: 403 `forbidden`.",
                        paths::TOKEN
                    )))
                    .build(),
            ),
        );
    }
}

/// The document, rendered once.
static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    AdminApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
});

async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON.as_str(),
    )
        .into_response()
}
