//! The orders API: one route, `GET /orders`, behind `oxidp-api-auth`'s layer with a
//! [`DpopCheck`] that requires DPoP (Bearer tokens are refused) and runs in nonce mode.

use axum::routing::get;
use axum::{Extension, Json, Router};
use oxidp_api_auth::{DpopCheck, RequireAccessToken, ValidatedToken, Validator, ValidatorOptions};
use serde_json::{Value, json};
use std::time::Duration;

/// The validator of the API: tokens of `issuer` for [`API_AUDIENCE`](crate::API_AUDIENCE), with
/// DPoP proofs for `external_url` (the URL callers use, which a proxy may make different from
/// the address the API listens on), required on every call, with nonces the API issues itself
/// (valid 5 minutes).
///
/// ```
/// let validator = dpop_sample::api::validator("http://127.0.0.1:5000", "http://127.0.0.1:7073")?;
/// assert_eq!(validator.options().audience(), "orders-api");
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn validator(issuer: &str, external_url: &str) -> anyhow::Result<Validator> {
    let dpop = DpopCheck::new(external_url)?
        .require_dpop()
        .require_nonce(Duration::from_secs(300), None);
    Ok(Validator::new(ValidatorOptions::new(issuer, crate::API_AUDIENCE))?.with_check(dpop))
}

/// The API's routes.
///
/// ```
/// let validator = dpop_sample::api::validator("http://127.0.0.1:5000", "http://127.0.0.1:7073")?;
/// let router = dpop_sample::api::router(validator);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn router(validator: Validator) -> Router {
    Router::new()
        .route("/orders", get(orders))
        .route_layer(RequireAccessToken::new(validator).require_scopes([crate::API_SCOPE]))
}

/// Who called, and with which key: the thumbprint the token is bound to, which the proof of
/// this very request was checked against.
async fn orders(Extension(token): Extension<ValidatedToken>) -> Json<Value> {
    let claims = token.claims();
    tracing::info!(
        client_id = claims.client_id().unwrap_or("-"),
        "orders listed"
    );
    Json(json!({
        "client_id": claims.client_id(),
        "sub": claims.subject(),
        "jkt": claims.get("cnf").and_then(|cnf| cnf.get("jkt")),
        "orders": [{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}],
    }))
}
