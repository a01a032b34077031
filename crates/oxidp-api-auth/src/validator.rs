//! The validator: one per API, shared by every request.

use crate::bearer::{RequestInfo, presented_token};
use crate::checks::ConfirmationCheck;
use crate::claims::{TokenKind, ValidatedToken};
use crate::error::{AuthError, ErrorKind, InvalidToken};
use crate::http_client::IssuerClient;
use crate::introspection::Introspector;
use crate::keys::KeyCache;
use crate::options::{ConfigError, ValidatorOptions};
use std::sync::Arc;

/// Validates access tokens for one API. Cheap to clone: clones share the key cache, the
/// introspection cache and the HTTP connection pool.
///
/// ```no_run
/// use oxidp_api_auth::{Validator, ValidatorOptions};
///
/// # async fn run(headers: http::HeaderMap) -> Result<(), Box<dyn std::error::Error>> {
/// let validator = Validator::new(ValidatorOptions::new("http://127.0.0.1:5000", "orders-api"))?;
/// match validator.validate(&headers).await {
///     Ok(token) => println!("scopes: {:?}", token.claims().scopes()),
///     Err(error) => println!("{} {:?}", error.status(), error.www_authenticate()),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
    checks: Arc<[Arc<dyn ConfirmationCheck>]>,
    extra_schemes: Arc<[&'static str]>,
}

#[derive(Debug)]
struct Inner {
    options: ValidatorOptions,
    realm: Arc<str>,
    client: IssuerClient,
    keys: KeyCache,
    introspector: Option<Introspector>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("options", &self.inner.options)
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for `options`. Nothing is fetched yet: the issuer's metadata and keys are
    /// read on first use, so an API can start while its issuer is down.
    ///
    /// ```
    /// use oxidp_api_auth::{Validator, ValidatorOptions};
    ///
    /// let validator = Validator::new(ValidatorOptions::new("https://idp.example.com", "orders-api"));
    /// assert!(validator.is_ok());
    /// assert!(Validator::new(ValidatorOptions::new("idp.example.com", "orders-api")).is_err());
    /// ```
    pub fn new(options: ValidatorOptions) -> Result<Self, ConfigError> {
        options.check()?;
        let realm: Arc<str> = options
            .realm
            .clone()
            .unwrap_or_else(|| options.audience.clone())
            .into();
        Ok(Self {
            inner: Arc::new(Inner {
                client: IssuerClient::new(&options)?,
                keys: KeyCache::new(options.jwks_refresh_interval, options.jwks_max_age),
                introspector: Introspector::new(&options),
                realm,
                options,
            }),
            checks: Arc::new([]),
            extra_schemes: Arc::new([]),
        })
    }

    /// The same validator with one more [`ConfirmationCheck`], run on every token after it
    /// validated. The result shares its caches with `self`.
    ///
    /// ```
    /// use oxidp_api_auth::{
    ///     AuthError, ConfirmationCheck, PresentedToken, RequestInfo, ValidatedToken, Validator,
    ///     ValidatorOptions,
    /// };
    ///
    /// struct AlwaysFine;
    ///
    /// #[async_trait::async_trait]
    /// impl ConfirmationCheck for AlwaysFine {
    ///     async fn check(&self, _: &RequestInfo<'_>, _: &PresentedToken<'_>, _: &ValidatedToken)
    ///         -> Result<(), AuthError> { Ok(()) }
    /// }
    ///
    /// let validator = Validator::new(ValidatorOptions::new("https://idp.example.com", "api"))
    ///     .unwrap()
    ///     .with_check(AlwaysFine);
    /// ```
    pub fn with_check(mut self, check: impl ConfirmationCheck) -> Self {
        let mut schemes = self.extra_schemes.to_vec();
        schemes.extend_from_slice(check.schemes());
        let mut checks = self.checks.to_vec();
        checks.push(Arc::new(check));
        self.checks = checks.into();
        self.extra_schemes = schemes.into();
        self
    }

    /// The options this validator was built with.
    ///
    /// ```
    /// # use oxidp_api_auth::{Validator, ValidatorOptions};
    /// let validator = Validator::new(ValidatorOptions::new("https://idp.example.com", "api")).unwrap();
    /// assert_eq!(validator.options().audience(), "api");
    /// ```
    pub fn options(&self) -> &ValidatorOptions {
        &self.inner.options
    }

    /// The realm of this validator's challenges.
    pub(crate) fn realm(&self) -> Arc<str> {
        self.inner.realm.clone()
    }

    /// Validates the token in `headers` (`Authorization: Bearer ...`): the entry point for
    /// serverless handlers and frameworks other than axum. Confirmation checks see the headers
    /// only; use [`validate_request`](Self::validate_request) when they need more.
    ///
    /// ```no_run
    /// # use oxidp_api_auth::{Validator, ValidatorOptions};
    /// # async fn run(validator: Validator) {
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("authorization", "Bearer eyJ...".parse().unwrap());
    /// let error = validator.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.status(), 401);
    /// # }
    /// ```
    pub async fn validate(&self, headers: &http::HeaderMap) -> Result<ValidatedToken, AuthError> {
        self.validate_request(RequestInfo::from_headers(headers))
            .await
    }

    /// Validates the token of a request known by its head (method, URI, headers, extensions).
    ///
    /// ```no_run
    /// # use oxidp_api_auth::{RequestInfo, Validator};
    /// # async fn run(validator: Validator, request: http::Request<()>) {
    /// let (parts, _body) = request.into_parts();
    /// let token = validator.validate_request(RequestInfo::from_parts(&parts)).await;
    /// # }
    /// ```
    pub async fn validate_request(
        &self,
        request: RequestInfo<'_>,
    ) -> Result<ValidatedToken, AuthError> {
        self.validate_inner(&request)
            .await
            .map_err(|error| error.with_realm(self.realm()))
    }

    async fn validate_inner(&self, request: &RequestInfo<'_>) -> Result<ValidatedToken, AuthError> {
        let inner = &*self.inner;
        let token = presented_token(request.headers(), &self.extra_schemes)?;
        let validated = if token.looks_like_jwt() {
            let claims =
                crate::jwt::validate(&inner.options, &inner.client, &inner.keys, token.value())
                    .await;
            ValidatedToken::new(TokenKind::Jwt, log_refusal(claims, TokenKind::Jwt)?)
        } else {
            let Some(introspector) = &inner.introspector else {
                return Err(InvalidToken::ReferenceTokenNotAccepted.into());
            };
            let claims = introspector
                .validate(&inner.options, &inner.client, token.value())
                .await;
            ValidatedToken::new(
                TokenKind::Reference,
                log_refusal(claims, TokenKind::Reference)?,
            )
        };
        for check in self.checks.iter() {
            check.check(request, &token, &validated).await?;
        }
        validated.require_scopes(&inner.options.required_scopes)?;
        Ok(validated)
    }
}

/// Logs why a token was refused (the reason only, never the token).
fn log_refusal<T>(result: Result<T, ErrorKind>, kind: TokenKind) -> Result<T, ErrorKind> {
    if let Err(ErrorKind::InvalidToken(reason)) = &result {
        tracing::debug!(?kind, %reason, "access token refused");
    }
    result
}
