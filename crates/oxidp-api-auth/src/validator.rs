//! The validator: one per API, shared by every request.

use crate::bearer::{PresentedToken, RequestInfo, presented_token};
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
/// ```
/// use oxidp_api_auth::{Validator, ValidatorOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// # let issuer = test_issuer.issuer();
/// // `issuer` is the issuer's URL (here a local test issuer).
/// let validator = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
///
/// // A request carrying a token minted for "test-api" with the scope `orders.read`:
/// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("orders.read")));
/// match validator.validate(&headers).await {
///     Ok(token) => assert_eq!(token.claims().scopes(), ["orders.read"]),
///     Err(error) => panic!("{} {:?}", error.status(), error.www_authenticate()),
/// }
///
/// // Clones share the caches: the keys were fetched once.
/// let clone = validator.clone();
/// assert!(clone.validate(&headers).await.is_ok());
/// # assert_eq!(test_issuer.jwks_fetches(), 1);
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
    ///     AuthError, ConfirmationCheck, ErrorKind, InvalidToken, PresentedToken, RequestInfo,
    ///     ValidatedToken, Validator, ValidatorOptions,
    /// };
    ///
    /// /// Accepts only tokens issued to the client `trusted-client`.
    /// struct OnlyTrustedClient;
    ///
    /// #[async_trait::async_trait]
    /// impl ConfirmationCheck for OnlyTrustedClient {
    ///     async fn check(&self, _: &RequestInfo<'_>, _: &PresentedToken<'_>, token: &ValidatedToken)
    ///         -> Result<(), AuthError> {
    ///         match token.claims().client_id() {
    ///             Some("trusted-client") => Ok(()),
    ///             _ => Err(InvalidToken::ConfirmationFailed.into()),
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// let plain = Validator::new(ValidatorOptions::new(issuer, "test-api"))?;
    /// let checked = plain.clone().with_check(OnlyTrustedClient);
    ///
    /// // A valid token of the client `test-client`:
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("a")));
    /// assert!(plain.validate(&headers).await.is_ok());
    /// let error = checked.validate(&headers).await.unwrap_err();
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed));
    /// # Ok(())
    /// # }
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
    /// ```
    /// use oxidp_api_auth::{ErrorKind, InvalidToken, TokenKind, Validator, ValidatorOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let issuer = test_issuer.issuer();
    /// # let jwt = test_issuer.mint(&test_issuer.claims("orders.read"));
    /// # let reference_token = test_issuer.issue_reference_token(test_issuer.claims("orders.read"));
    /// let validator = Validator::new(
    ///     ValidatorOptions::new(issuer, "test-api").introspection_secret("test-api-secret"),
    /// )?;
    /// let bearer = |token: &str| {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    ///     headers
    /// };
    ///
    /// // A JWT access token is checked locally against the issuer's keys...
    /// let token = validator.validate(&bearer(&jwt)).await?;
    /// assert_eq!(token.kind(), TokenKind::Jwt);
    /// assert_eq!(token.claims().client_id(), Some("test-client"));
    ///
    /// // ...a reference token is introspected at the issuer.
    /// let token = validator.validate(&bearer(&reference_token)).await?;
    /// assert_eq!(token.kind(), TokenKind::Reference);
    /// assert!(token.claims().has_scope("orders.read"));
    ///
    /// // A token that is neither gets a `401` with its RFC 6750 challenge.
    /// let error = validator.validate(&bearer("eyJ.garbage.x")).await.unwrap_err();
    /// assert_eq!(error.status(), 401);
    /// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::Malformed));
    /// assert!(error.www_authenticate().unwrap().contains(r#"error="invalid_token""#));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn validate(&self, headers: &http::HeaderMap) -> Result<ValidatedToken, AuthError> {
        self.validate_request(RequestInfo::from_headers(headers))
            .await
    }

    /// Validates the token of a request known by its head (method, URI, headers, extensions).
    ///
    /// ```
    /// use oxidp_api_auth::{RequestInfo, Validator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let validator = Validator::new(test_issuer.validator_options())?;
    /// # let token = test_issuer.mint(&test_issuer.claims("orders.write"));
    /// let request = http::Request::post("/orders")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .body(())?;
    /// let (parts, _body) = request.into_parts();
    /// let token = validator.validate_request(RequestInfo::from_parts(&parts)).await?;
    /// assert!(token.claims().has_scope("orders.write"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn validate_request(
        &self,
        request: RequestInfo<'_>,
    ) -> Result<ValidatedToken, AuthError> {
        let token = match presented_token(request.headers(), &self.extra_schemes) {
            Ok(token) => token,
            Err(kind) => return Err(self.refusal(kind.into(), None)),
        };
        self.validate_inner(&request, &token)
            .await
            .map_err(|error| self.refusal(error, Some(token.scheme())))
    }

    /// `error` as the caller sees it: the realm, the scheme the token came with, and what each
    /// check adds to the challenge.
    pub(crate) fn refusal(&self, error: AuthError, scheme: Option<&str>) -> AuthError {
        let mut error = error.with_realm(self.realm());
        if scheme.is_some_and(|scheme| scheme.eq_ignore_ascii_case("dpop")) {
            error = error.presented_with_dpop();
        }
        for check in self.checks.iter() {
            error = check.challenge(error);
        }
        error
    }

    async fn validate_inner(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
    ) -> Result<ValidatedToken, AuthError> {
        let inner = &*self.inner;
        let validated = if token.looks_like_jwt() {
            let claims =
                crate::jwt::validate(&inner.options, &inner.client, &inner.keys, token.value())
                    .await;
            let validated =
                ValidatedToken::new(TokenKind::Jwt, log_refusal(claims, TokenKind::Jwt)?);
            // Only the issuer knows whether a JWT that verifies was revoked since.
            if inner.options.introspect_jwts
                && let Some(introspector) = &inner.introspector
            {
                let answer = introspector
                    .validate(&inner.options, &inner.client, token.value())
                    .await;
                log_refusal(answer, TokenKind::Jwt)?;
            }
            validated
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
        self.require_confirmable(&validated)?;
        for check in self.checks.iter() {
            check.check(request, token, &validated).await?;
        }
        validated.require_scopes(&inner.options.required_scopes)?;
        Ok(validated)
    }

    /// Refuses a token bound (`cnf`) in a way no check of this validator confirms: accepting it
    /// would make a sender-constrained token a bearer token again.
    fn require_confirmable(&self, validated: &ValidatedToken) -> Result<(), AuthError> {
        let Some(cnf) = validated.claims().get("cnf") else {
            return Ok(());
        };
        let Some(members) = cnf.as_object() else {
            return Err(InvalidToken::Malformed.into());
        };
        let unconfirmed = members.keys().find(|member| {
            !self
                .checks
                .iter()
                .any(|check| check.confirmations().contains(&member.as_str()))
        });
        match unconfirmed {
            Some(member) => {
                tracing::debug!(%member, "token bound in a way no check confirms");
                Err(InvalidToken::ConfirmationFailed.into())
            }
            None => Ok(()),
        }
    }
}

/// Logs why a token was refused (the reason only, never the token).
fn log_refusal<T>(result: Result<T, ErrorKind>, kind: TokenKind) -> Result<T, ErrorKind> {
    if let Err(ErrorKind::InvalidToken(reason)) = &result {
        tracing::debug!(?kind, %reason, "access token refused");
    }
    result
}
