//! A validated token and its claims: the registered claims parsed once, the rest kept as JSON.

use crate::error::{AuthError, ErrorKind, InvalidToken};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// How the token was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A self-contained JWT, verified locally against the issuer's keys.
    Jwt,
    /// A reference token, introspected at the issuer.
    Reference,
}

/// The claims of an access token: from the JWT payload or the introspection response.
///
/// Serializes as the claims object it came from (an introspection response keeps its
/// `active`, `token_type` members).
///
/// ```
/// use oxidp_api_auth::Claims;
///
/// let claims = Claims::from_json(serde_json::json!({
///     "iss": "https://idp.example.com", "aud": ["orders-api", "billing-api"],
///     "exp": 2_000_000_000, "scope": "orders.read orders.write", "sub": "m2m", "client_id": "m2m",
/// })).unwrap();
/// assert!(claims.has_scope("orders.write"));
/// assert_eq!(claims.audiences(), ["orders-api", "billing-api"]);
/// assert_eq!(claims.get("client_id").and_then(|v| v.as_str()), Some("m2m"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    issuer: Option<String>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    raw: Map<String, Value>,
}

impl Claims {
    /// Parses a claims object. `aud` may be a string or an array; `scope` a space-separated
    /// string (RFC 9068 §2.2.3) or an array of strings; `exp`/`nbf` numbers. Any other shape
    /// of these claims is [`InvalidToken::Malformed`].
    ///
    /// ```
    /// # use oxidp_api_auth::{Claims, InvalidToken};
    /// assert_eq!(Claims::from_json(serde_json::json!({"exp": "soon"})), Err(InvalidToken::Malformed));
    /// ```
    pub fn from_json(value: Value) -> Result<Self, InvalidToken> {
        match value {
            Value::Object(map) => Self::from_map(map),
            _ => Err(InvalidToken::Malformed),
        }
    }

    pub(crate) fn from_map(raw: Map<String, Value>) -> Result<Self, InvalidToken> {
        let issuer = match raw.get("iss") {
            None => None,
            Some(Value::String(iss)) => Some(iss.clone()),
            Some(_) => return Err(InvalidToken::Malformed),
        };
        let audiences = match raw.get("aud") {
            None => Vec::new(),
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(values)) => strings(values)?,
            Some(_) => return Err(InvalidToken::Malformed),
        };
        let scopes = match raw.get("scope") {
            None => Vec::new(),
            Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(values)) => strings(values)?,
            Some(_) => return Err(InvalidToken::Malformed),
        };
        Ok(Self {
            issuer,
            audiences,
            scopes,
            expires_at: numeric_date(raw.get("exp"))?,
            not_before: numeric_date(raw.get("nbf"))?,
            raw,
        })
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// `sub`.
    ///
    /// ```
    /// # use oxidp_api_auth::Claims;
    /// let claims = Claims::from_json(serde_json::json!({"sub": "alice"})).unwrap();
    /// assert_eq!(claims.subject(), Some("alice"));
    /// ```
    pub fn subject(&self) -> Option<&str> {
        self.raw.get("sub").and_then(Value::as_str)
    }

    /// `client_id`.
    pub fn client_id(&self) -> Option<&str> {
        self.raw.get("client_id").and_then(Value::as_str)
    }

    /// `aud`, always as a list.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// `nbf`, in seconds since the Unix epoch.
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }

    /// Any claim by name (`cnf`, `sid`, custom claims).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// All claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.raw
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

fn strings(values: &[Value]) -> Result<Vec<String>, InvalidToken> {
    values
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or(InvalidToken::Malformed))
        .collect()
}

fn numeric_date(value: Option<&Value>) -> Result<Option<i64>, InvalidToken> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(InvalidToken::Malformed),
        Some(_) => Err(InvalidToken::Malformed),
    }
}

/// A token that passed validation: how it was validated and its claims.
///
/// It does not hold the token itself.
///
/// ```
/// use oxidp_api_auth::TokenKind;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// # let validator = oxidp_api_auth::Validator::new(test_issuer.validator_options())?;
/// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("orders.read orders.write")));
/// let token = validator.validate(&headers).await?;
/// token.require_scopes(["orders.write"])?;
/// assert_eq!(token.kind(), TokenKind::Jwt);
/// assert_eq!(token.claims().client_id(), Some("test-client"));
/// assert!(!format!("{token:?}").contains(headers["authorization"].to_str()?));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedToken {
    kind: TokenKind,
    claims: Claims,
}

impl ValidatedToken {
    pub(crate) fn new(kind: TokenKind, claims: Claims) -> Self {
        Self { kind, claims }
    }

    /// JWT or reference token.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The claims, owned.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// `Ok` if every scope in `scopes` was granted, else `403 insufficient_scope` naming them
    /// (the per-route counterpart of
    /// [`ValidatorOptions::require_scopes`](crate::ValidatorOptions::require_scopes)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let validator = oxidp_api_auth::Validator::new(test_issuer.validator_options())?;
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&test_issuer.claims("orders.read")));
    /// // A token granting `orders.read`:
    /// let token = validator.validate(&headers).await?;
    /// assert!(token.require_scopes(["orders.read"]).is_ok());
    /// let error = token.require_scopes(["orders.read", "orders.write"]).unwrap_err();
    /// assert_eq!(error.status(), 403);
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="orders.read orders.write""#)
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_scopes<I, S>(&self, scopes: I) -> Result<(), AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let required: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        if required.iter().all(|s| self.claims.has_scope(s)) {
            Ok(())
        } else {
            Err(ErrorKind::InsufficientScope(required).into())
        }
    }

    /// `Ok` if `aud` also names `audience` (for a route that serves a second API), else
    /// `401 invalid_token`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
    /// # let validator = oxidp_api_auth::Validator::new(test_issuer.validator_options())?;
    /// # let mut claims = test_issuer.claims("a");
    /// # claims["aud"] = serde_json::json!(["test-api", "billing-api"]);
    /// # let headers = oxidp_api_auth::testing::bearer(&test_issuer.mint(&claims));
    /// // A token for `test-api` (this validator's audience) and `billing-api`:
    /// let token = validator.validate(&headers).await?;
    /// token.require_audience("billing-api")?;
    /// assert_eq!(token.require_audience("shipping-api").unwrap_err().status(), 401);
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_audience(&self, audience: &str) -> Result<(), AuthError> {
        if self.claims.audiences().iter().any(|a| a == audience) {
            Ok(())
        } else {
            Err(InvalidToken::WrongAudience.into())
        }
    }
}
