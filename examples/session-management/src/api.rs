//! The API: one route, `GET /claims`, that answers with the claims of the caller's access token.
//!
//! `oxidp-api-auth`'s [`RequireAccessToken`] layer validates the token before the handler runs:
//! an RFC 9068 JWT of the sample's issuer, for the audience [`API_AUDIENCE`](crate::API_AUDIENCE),
//! carrying [`API_SCOPE`](crate::API_SCOPE). Anything else gets the RFC 6750 `401`/`403`
//! response. The JWT is checked locally against the issuer's cached keys, so calling the API
//! does not slide the user session: only the web app's refreshes do.

use axum::routing::get;
use axum::{Extension, Json, Router};
use oxidp_api_auth::{Claims, RequireAccessToken, ValidatedToken, Validator};

/// The path of the claims route.
pub const CLAIMS_PATH: &str = "/claims";

/// The API's router, protected by `validator` and the [`API_SCOPE`](crate::API_SCOPE) scope.
pub fn router(validator: Validator) -> Router {
    Router::new()
        .route(CLAIMS_PATH, get(claims))
        .route_layer(RequireAccessToken::new(validator).require_scopes([crate::API_SCOPE]))
}

/// The caller's claims, as the layer validated them.
async fn claims(Extension(token): Extension<ValidatedToken>) -> Json<Claims> {
    tracing::info!(
        client_id = token.claims().client_id().unwrap_or("-"),
        sub = token.claims().subject().unwrap_or("-"),
        "API called"
    );
    Json(token.into_claims())
}
