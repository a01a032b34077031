//! axum and tower integration: a layer that refuses requests without a valid token and hands
//! the [`ValidatedToken`] to handlers through the request extensions, and an extractor.

use crate::bearer::RequestInfo;
use crate::claims::ValidatedToken;
use crate::error::AuthError;
use crate::validator::Validator;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A tower layer that validates every request's access token: on success the
/// [`ValidatedToken`] goes into the request extensions (read it with
/// `Extension<ValidatedToken>` or [`AccessToken`]); on failure the request never reaches the
/// inner service and gets the [`AuthError`] response.
///
/// ```
/// use axum::{Extension, Router, body::Body, routing::get};
/// use oxidp_api_auth::{RequireAccessToken, ValidatedToken, Validator, ValidatorOptions};
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// # let issuer = test_issuer.issuer();
/// # let token = test_issuer.mint(&test_issuer.claims("orders.read"));
/// let validator = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
/// let app: Router = Router::new()
///     .route("/orders", get(|Extension(token): Extension<ValidatedToken>| async move {
///         format!("hello {}", token.claims().client_id().unwrap_or("stranger"))
///     }))
///     .route_layer(RequireAccessToken::new(validator).require_scopes(["orders.read"]))
///     .route("/health", get(|| async { "ok" }));
///
/// // `token` grants `orders.read` to the client `test-client`.
/// let request = http::Request::get("/orders")
///     .header("authorization", format!("Bearer {token}"))
///     .body(Body::empty())?;
/// let response = app.clone().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(body, "hello test-client");
///
/// // Without a token, `/orders` is refused; `/health`, added after the layer, is open.
/// let request = http::Request::get("/orders").body(Body::empty())?;
/// assert_eq!(app.clone().oneshot(request).await?.status(), 401);
/// let request = http::Request::get("/health").body(Body::empty())?;
/// assert_eq!(app.oneshot(request).await?.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RequireAccessToken {
    validator: Validator,
    scopes: Arc<[String]>,
}

impl RequireAccessToken {
    /// A layer validating with `validator`.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::get};
    /// use oxidp_api_auth::{RequireAccessToken, Validator, ValidatorOptions};
    /// use tower::ServiceExt as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let validator = Validator::new(ValidatorOptions::new("https://idp.example.com", "api"))?;
    /// let layer = RequireAccessToken::new(validator);
    /// let app: Router = Router::new().route("/", get(|| async { "secret" })).layer(layer);
    ///
    /// // A malformed `Authorization` header: `400 invalid_request`, and the handler never runs.
    /// let request = http::Request::get("/")
    ///     .header("authorization", "Bearer two tokens")
    ///     .body(Body::empty())?;
    /// let response = app.oneshot(request).await?;
    /// assert_eq!(response.status(), 400);
    /// let challenge = response.headers()["www-authenticate"].to_str()?;
    /// assert!(challenge.starts_with(r#"Bearer realm="api", error="invalid_request""#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(validator: Validator) -> Self {
        Self {
            validator,
            scopes: Arc::new([]),
        }
    }

    /// Also requires these scopes (all of them) on the routes this layer wraps, on top of the
    /// validator's own.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::{get, post}};
    /// use oxidp_api_auth::{RequireAccessToken, Validator, ValidatorOptions};
    /// use tower::ServiceExt as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let reader = test_issuer.mint(&test_issuer.claims("orders.read"));
    /// let validator = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
    /// let readers: Router = Router::new()
    ///     .route("/orders/{id}", get(|| async { "an order" }))
    ///     .route_layer(RequireAccessToken::new(validator.clone()).require_scopes(["orders.read"]));
    /// let writers: Router = Router::new()
    ///     .route("/orders", post(|| async { "created" }))
    ///     .route_layer(RequireAccessToken::new(validator).require_scopes(["orders.write"]));
    /// let app = readers.merge(writers);
    ///
    /// // `reader` grants `orders.read` only.
    /// let call = |method: &str, uri: &str| {
    ///     http::Request::builder()
    ///         .method(method)
    ///         .uri(uri)
    ///         .header("authorization", format!("Bearer {reader}"))
    ///         .body(Body::empty())
    /// };
    /// assert_eq!(app.clone().oneshot(call("GET", "/orders/7")?).await?.status(), 200);
    /// let response = app.oneshot(call("POST", "/orders")?).await?;
    /// assert_eq!(response.status(), 403);
    /// assert!(response.headers()["www-authenticate"].to_str()?.ends_with(r#"scope="orders.write""#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all = self.scopes.to_vec();
        all.extend(scopes.into_iter().map(Into::into));
        self.scopes = all.into();
        self
    }
}

impl<S> tower::Layer<S> for RequireAccessToken {
    type Service = RequireAccessTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAccessTokenService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequireAccessToken`] wraps around routes.
#[derive(Clone, Debug)]
pub struct RequireAccessTokenService<S> {
    inner: S,
    layer: RequireAccessToken,
}

impl<S> tower::Service<Request> for RequireAccessTokenService<S>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; keep a fresh one for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let validated = layer
                .validator
                .validate_request(RequestInfo::from_parts(&parts))
                .await
                .and_then(|token| {
                    token.require_scopes(layer.scopes.iter()).map_err(|e| {
                        let scheme = crate::bearer::presented_scheme(&parts.headers);
                        layer.validator.refusal(e, scheme)
                    })?;
                    Ok(token)
                });
            match validated {
                Ok(token) => {
                    parts.extensions.insert(token);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

/// An extractor for the caller's validated token.
///
/// Behind [`RequireAccessToken`] it takes the token the layer validated; elsewhere it validates
/// the request itself with the [`Validator`] in the router's state (`Validator: FromRef<S>`).
/// Rejections are [`AuthError`] responses.
///
/// ```
/// use axum::{Json, Router, body::Body, routing::get};
/// use oxidp_api_auth::{AccessToken, Claims, Validator, ValidatorOptions};
/// use tower::ServiceExt as _;
///
/// async fn whoami(AccessToken(token): AccessToken) -> Json<Claims> {
///     Json(token.into_claims())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// # let issuer = test_issuer.issuer();
/// # let token = test_issuer.mint(&test_issuer.claims("orders.read"));
/// let validator = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
/// // No layer: the extractor validates with the validator in the state.
/// let app: Router = Router::new().route("/whoami", get(whoami)).with_state(validator);
///
/// let request = http::Request::get("/whoami")
///     .header("authorization", format!("Bearer {token}"))
///     .body(Body::empty())?;
/// let response = app.clone().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
/// let claims: serde_json::Value = serde_json::from_slice(&body)?;
/// assert_eq!(claims["sub"], "test-client");
///
/// // The rejection is the `AuthError` response.
/// let request = http::Request::get("/whoami")
///     .header("authorization", "Bearer not-a-jwt")
///     .body(Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), 401);
/// assert!(response.headers()["www-authenticate"].to_str()?.contains("reference tokens are not accepted"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AccessToken(pub ValidatedToken);

impl<S> FromRequestParts<S> for AccessToken
where
    Validator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = parts.extensions.get::<ValidatedToken>() {
            return Ok(Self(token.clone()));
        }
        let validator = Validator::from_ref(state);
        let token = validator
            .validate_request(RequestInfo::from_parts(parts))
            .await?;
        parts.extensions.insert(token.clone());
        Ok(Self(token))
    }
}
