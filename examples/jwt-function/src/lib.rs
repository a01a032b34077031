//! A JWT-secured function: the shape of a serverless HTTP handler (AWS Lambda, Azure Functions,
//! Cloud Run...), a plain `async fn(Request) -> Response`, protected by `oxidp-api-auth`.
//!
//! The function validates the caller's access token (an RFC 9068 JWT from oxidp, checked
//! locally against the issuer's cached keys) and answers with the token's claims as JSON, or
//! with `401` and an RFC 6750 `WWW-Authenticate` challenge. The [`Validator`] is built once per
//! process (a cold start) by [`validator_from_env`] and shared by every invocation: it holds
//! the key cache, so warm invocations cost no request to the issuer.
//!
//! [`router`] is the thin local HTTP wrapper the `jwt-function` binary serves, standing in for
//! the serverless runtime.

use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use oxidp_api_auth::{Validator, ValidatorOptions};

/// The issuer trusted when `JWT_FUNCTION_ISSUER` is not set: the demo server.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:5000";
/// The audience required when `JWT_FUNCTION_AUDIENCE` is not set: the demo API resource.
pub const DEFAULT_AUDIENCE: &str = "orders-api";

/// The function: validates the caller's JWT and returns its claims, or `401`.
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// let validator = jwt_function::validator_from_env()?;
/// let request = http::Request::get("/")
///     .header("authorization", "Bearer eyJ...")
///     .body(axum::body::Body::empty())?;
/// let response = jwt_function::handle(&validator, request).await;
/// println!("{}", response.status());
/// # Ok(())
/// # }
/// ```
pub async fn handle(validator: &Validator, request: Request<Body>) -> Response<Body> {
    match validator.validate(request.headers()).await {
        Ok(token) => {
            tracing::info!(
                client_id = token.claims().client_id().unwrap_or("-"),
                "authorized call"
            );
            let body = serde_json::to_vec(token.claims()).unwrap_or_default();
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => {
            if error.status() != StatusCode::UNAUTHORIZED {
                tracing::warn!(%error, "call refused");
            }
            error.to_http_response()
        }
    }
}

/// The validator the function runs with: issuer from `JWT_FUNCTION_ISSUER` (default
/// [`DEFAULT_ISSUER`]), audience from `JWT_FUNCTION_AUDIENCE` (default [`DEFAULT_AUDIENCE`]).
/// JWTs only: reference tokens are refused, since no introspection secret is configured.
///
/// ```
/// let validator = jwt_function::validator_from_env().unwrap();
/// assert_eq!(validator.options().audience(), "orders-api");
/// ```
pub fn validator_from_env() -> anyhow::Result<Validator> {
    let issuer = std::env::var("JWT_FUNCTION_ISSUER").unwrap_or_else(|_| DEFAULT_ISSUER.into());
    let audience =
        std::env::var("JWT_FUNCTION_AUDIENCE").unwrap_or_else(|_| DEFAULT_AUDIENCE.into());
    Ok(Validator::new(ValidatorOptions::new(issuer, audience))?)
}

/// The local HTTP wrapper: every request, whatever its path and method, goes to [`handle`].
///
/// ```
/// let router = jwt_function::router(jwt_function::validator_from_env().unwrap());
/// ```
pub fn router(validator: Validator) -> axum::Router {
    axum::Router::new().fallback(move |request: Request<Body>| {
        let validator = validator.clone();
        async move { handle(&validator, request).await }
    })
}
