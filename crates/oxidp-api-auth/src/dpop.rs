//! DPoP (RFC 9449) at a resource server: [`DpopCheck`] is the [`ConfirmationCheck`] that
//! accepts the `DPoP` authorization scheme and proves that the caller holds the key its token
//! is bound to.
//!
//! DPoP is a confirmation check rather than a mode of the validator because that is what it is:
//! one more proof about a token that already validated, beside mTLS certificate binding. The
//! check seam gives it everything it needs (the request head, the token as presented, its
//! claims, a scheme of its own and a say in the challenges), so there is one way to add proof of
//! possession to a [`Validator`](crate::Validator), and an application's own check composes
//! with it.
//!
//! For every request the check decides:
//!
//! * `Bearer` scheme: a token bound to a key (`cnf.jkt`) is refused (`invalid_token`, RFC 9449
//!   §7.2), as is every Bearer token when [`DpopCheck::require_dpop`] is set;
//! * `DPoP` scheme: the token must be bound (`cnf.jkt`), exactly one `DPoP` header must hold a
//!   proof that verifies (`oxidp_jose::dpop`: `typ`, an allowed asymmetric `alg`, a public
//!   `jwk` that verifies the signature) and fits the request: `htm` its method, `htu` the API's
//!   external URL for its path (without query), `ath` the hash of the token, `iat` within the
//!   window; its key's thumbprint must be the token's `cnf.jkt`; its `jti` must not have been
//!   seen within the window ([`ReplayCache`]); in nonce mode, it must carry a nonce this API
//!   issued, recently.
//!
//! Errors are RFC 9449 §7.1 challenges: `WWW-Authenticate: DPoP error="invalid_dpop_proof",
//! algs="..."`, or `use_dpop_nonce` with a `DPoP-Nonce` header to retry with.

mod nonce;
mod replay;

pub use replay::{MemoryReplayCache, ReplayCache, ReplayCacheError};

use crate::bearer::{PresentedToken, RequestInfo};
use crate::checks::ConfirmationCheck;
use crate::claims::ValidatedToken;
use crate::error::{AuthError, ErrorKind, InvalidToken};
use crate::options::ConfigError;
use nonce::NonceIssuer;
use oxidp_jose::dpop::{DpopAlgorithm, DpopError, DpopProof, ProofExpectation};
use std::sync::Arc;
use std::time::Duration;

/// The `DPoP` header (RFC 9449 §4.1).
const DPOP_HEADER: &str = "dpop";

/// Validates DPoP-bound tokens and their proofs; add it to a validator with
/// [`Validator::with_check`](crate::Validator::with_check).
///
/// ```
/// use oxidp_api_auth::{DpopCheck, ErrorKind, InvalidToken, RequestInfo, Validator};
/// use oxidp_jose::dpop::DpopProofBuilder;
/// use oxidp_jose::{SigningAlgorithm, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// // The API is reached by its callers at https://api.example.com (behind a proxy, say).
/// let validator = Validator::new(test_issuer.validator_options())?
///     .with_check(DpopCheck::new("https://api.example.com")?);
///
/// // The caller's key, and a token bound to it (`cnf.jkt`), as oxidp issues for DPoP requests.
/// let key = SigningKey::generate(SigningAlgorithm::ES256)?;
/// # let token = test_issuer.mint_dpop_bound(&test_issuer.claims("orders.read"), &key.thumbprint());
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
/// let proof = DpopProofBuilder::new("GET", "https://api.example.com/orders", now)
///     .access_token(&token)
///     .sign(&key)?;
/// let request = http::Request::get("/orders?page=2")
///     .header("authorization", format!("DPoP {token}"))
///     .header("dpop", &proof)
///     .body(())?;
/// let (parts, ()) = request.into_parts();
/// let validated = validator.validate_request(RequestInfo::from_parts(&parts)).await?;
/// assert!(validated.claims().has_scope("orders.read"));
///
/// // The same proof again is a replay; the token as a Bearer token is refused.
/// let error = validator.validate_request(RequestInfo::from_parts(&parts)).await.unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::InvalidDpopProof("the DPoP proof was used before"));
/// assert!(error.www_authenticate().unwrap().starts_with(r#"DPoP realm="test-api", error="invalid_dpop_proof""#));
/// let error = validator.validate(&oxidp_api_auth::testing::bearer(&token)).await.unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::DpopBoundAsBearer));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct DpopCheck {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    base_url: String,
    algorithms: Vec<DpopAlgorithm>,
    algs: String,
    max_age: Duration,
    max_future: Duration,
    replay: Arc<dyn ReplayCache>,
    nonces: Option<NonceIssuer>,
    require_dpop: bool,
}

impl std::fmt::Debug for dyn ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayCache")
    }
}

impl DpopCheck {
    /// A check for an API whose callers reach it at `external_url` (scheme, host, port and any
    /// path prefix a proxy adds, e.g. `https://api.example.com` or
    /// `https://example.com/orders-api`). A proof's `htu` must be this URL followed by the
    /// request's path: the API's own view of the URL (`http://10.0.0.5:8080/...` behind a proxy)
    /// is not what the caller signed.
    ///
    /// Defaults: every algorithm of `dpop_signing_alg_values_supported` (ES256, ES384, EdDSA,
    /// PS256, RS256), proofs up to 60 s old and 5 s in the future (as oxidp accepts them), a
    /// [`MemoryReplayCache`], Bearer tokens still accepted when they are not bound, no nonces.
    ///
    /// ```
    /// use oxidp_api_auth::DpopCheck;
    ///
    /// assert!(DpopCheck::new("https://api.example.com/").is_ok());
    /// assert!(DpopCheck::new("api.example.com").is_err());
    /// assert!(DpopCheck::new("https://api.example.com/?x=1").is_err());
    /// ```
    pub fn new(external_url: &str) -> Result<Self, ConfigError> {
        let base_url = external_url.trim_end_matches('/');
        let parsed: http::Uri = base_url.parse().map_err(|_| ConfigError::InvalidApiUrl)?;
        if !matches!(parsed.scheme_str(), Some("http" | "https"))
            || parsed.authority().is_none()
            || parsed.query().is_some()
            || base_url.contains('#')
        {
            return Err(ConfigError::InvalidApiUrl);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                base_url: base_url.to_owned(),
                algorithms: DpopAlgorithm::ALL.to_vec(),
                algs: algs(&DpopAlgorithm::ALL),
                max_age: Duration::from_secs(60),
                max_future: Duration::from_secs(5),
                replay: Arc::new(MemoryReplayCache::default()),
                nonces: None,
                require_dpop: false,
            }),
        })
    }

    fn change(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        // Settings are made before the check is shared; a clone being configured gets its own
        // copy (the replay cache itself stays shared).
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Accepts only proofs signed with `algorithms` (announced in the challenges' `algs`).
    ///
    /// ```
    /// use oxidp_api_auth::DpopCheck;
    /// use oxidp_jose::dpop::DpopAlgorithm;
    ///
    /// let check = DpopCheck::new("https://api.example.com")?
    ///     .algorithms([DpopAlgorithm::ES256, DpopAlgorithm::EdDSA]);
    /// assert_eq!(check.algs(), "ES256 EdDSA");
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn algorithms(self, algorithms: impl IntoIterator<Item = DpopAlgorithm>) -> Self {
        let algorithms: Vec<DpopAlgorithm> = algorithms.into_iter().collect();
        self.change(|inner| {
            inner.algs = algs(&algorithms);
            inner.algorithms = algorithms;
        })
    }

    /// The accepted algorithms as the challenges name them (`algs`, space-separated).
    pub fn algs(&self) -> &str {
        &self.inner.algs
    }

    /// How old (`max_age`) and how far in the future (`max_future`, for the caller's clock
    /// running ahead) a proof's `iat` may be. Defaults: 60 s and 5 s. Replays are remembered
    /// for `max_age`.
    ///
    /// ```
    /// # use oxidp_api_auth::DpopCheck;
    /// # use std::time::Duration;
    /// let check = DpopCheck::new("https://api.example.com")?
    ///     .proof_window(Duration::from_secs(30), Duration::from_secs(2));
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn proof_window(self, max_age: Duration, max_future: Duration) -> Self {
        self.change(|inner| {
            inner.max_age = max_age;
            inner.max_future = max_future;
        })
    }

    /// Remembers accepted proofs in `cache` instead of this process's memory (for an API with
    /// several instances).
    ///
    /// ```
    /// # use oxidp_api_auth::{DpopCheck, MemoryReplayCache};
    /// # use std::sync::Arc;
    /// let shared = Arc::new(MemoryReplayCache::new(1_000_000));
    /// let check = DpopCheck::new("https://api.example.com")?.replay_cache(shared);
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn replay_cache(self, cache: Arc<dyn ReplayCache>) -> Self {
        self.change(|inner| inner.replay = cache)
    }

    /// Nonce mode (RFC 9449 §9): every proof must carry a nonce this API issued within
    /// `lifetime`. A proof without one, or with an old or foreign one, gets `401
    /// use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`, and every other `401` of the
    /// validator carries a fresh nonce too. Nonces are stateless: the issue time under an
    /// HMAC with `secret`, so instances that share the secret accept each other's nonces;
    /// `None` draws a random secret for this process.
    ///
    /// ```
    /// # use oxidp_api_auth::DpopCheck;
    /// # use std::time::Duration;
    /// let check = DpopCheck::new("https://api.example.com")?
    ///     .require_nonce(Duration::from_secs(300), None);
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn require_nonce(self, lifetime: Duration, secret: Option<[u8; 32]>) -> Self {
        let secret = secret.unwrap_or_else(oxidp_jose::random_bytes::<32>);
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self.change(|inner| inner.nonces = Some(NonceIssuer::new(&secret, lifetime)))
    }

    /// Refuses every token presented with the `Bearer` scheme (`invalid_token`): the API takes
    /// DPoP-bound tokens only.
    ///
    /// ```
    /// # use oxidp_api_auth::DpopCheck;
    /// let check = DpopCheck::new("https://api.example.com")?.require_dpop();
    /// # Ok::<(), oxidp_api_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn require_dpop(self) -> Self {
        self.change(|inner| inner.require_dpop = true)
    }

    fn fresh_nonce(&self) -> Option<String> {
        let nonces = self.inner.nonces.as_ref()?;
        Some(nonces.issue(crate::jwt::now()))
    }

    /// The proof's `htu` for this request: the external URL and the path the client called
    /// (axum's `OriginalUri` when a router was nested, else the request's own).
    fn htu(&self, request: &RequestInfo<'_>) -> Option<String> {
        let original = request
            .extensions()
            .and_then(|ext| ext.get::<axum::extract::OriginalUri>())
            .map(|original| &original.0);
        let path = original.or(request.uri())?.path();
        Some(format!("{}{path}", self.inner.base_url))
    }

    async fn check_proof(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
        jkt: &str,
    ) -> Result<(), AuthError> {
        let inner = &*self.inner;
        let mut proofs = request.headers().get_all(DPOP_HEADER).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(invalid_proof(
                "the request must carry exactly one DPoP header",
            ));
        };
        let proof = proof
            .to_str()
            .map_err(|_| invalid_proof("the DPoP proof is not a well-formed JWT"))?;
        let (Some(method), Some(htu)) = (request.method(), self.htu(request)) else {
            // `Validator::validate` knows the headers only; DPoP needs the request head.
            return Err(invalid_proof(
                "the API cannot check the proof without the request's method and URL",
            ));
        };
        let now = crate::jwt::now();
        let expectation = ProofExpectation::new(method.as_str(), &htu, now)
            .with_window(inner.max_age.as_secs(), inner.max_future.as_secs())
            .with_algorithms(&inner.algorithms)
            .with_access_token(token.value());
        let verified = DpopProof::verify(proof, &expectation).map_err(|error| {
            tracing::debug!(%error, "DPoP proof refused");
            invalid_proof(describe(&error))
        })?;
        if !oxidp_jose::constant_time_eq(verified.jkt.as_bytes(), jkt.as_bytes()) {
            tracing::debug!("DPoP proof key is not the token's key");
            return Err(AuthError::from(InvalidToken::ConfirmationFailed).presented_with_dpop());
        }
        if let Some(nonces) = &inner.nonces {
            let fresh = verified
                .nonce
                .as_deref()
                .is_some_and(|nonce| nonces.is_valid(nonce, now));
            if !fresh {
                return Err(AuthError::new(ErrorKind::UseDpopNonce)
                    .with_dpop_challenge(&inner.algs, Some(nonces.issue(now))));
            }
        }
        let max_age = i64::try_from(inner.max_age.as_secs()).unwrap_or(i64::MAX);
        let expires_at = verified.iat.saturating_add(max_age).saturating_add(1);
        let id = replay::proof_id(&verified.jkt, &verified.jti);
        match inner.replay.record_once(id, expires_at).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::info!(jti = %verified.jti, "DPoP proof replayed");
                Err(invalid_proof("the DPoP proof was used before"))
            }
            Err(error) => {
                tracing::error!(%error, "DPoP replay cache failed");
                Err(ErrorKind::ReplayCheckUnavailable.into())
            }
        }
    }
}

#[async_trait::async_trait]
impl ConfirmationCheck for DpopCheck {
    fn schemes(&self) -> &[&'static str] {
        &["DPoP"]
    }

    fn confirmations(&self) -> &[&'static str] {
        &["jkt"]
    }

    async fn check(
        &self,
        request: &RequestInfo<'_>,
        token: &PresentedToken<'_>,
        validated: &ValidatedToken,
    ) -> Result<(), AuthError> {
        let jkt = validated
            .claims()
            .get("cnf")
            .and_then(|cnf| cnf.get("jkt"))
            .and_then(serde_json::Value::as_str);
        if !token.scheme().eq_ignore_ascii_case("dpop") {
            return match jkt {
                Some(_) => Err(InvalidToken::DpopBoundAsBearer.into()),
                None if self.inner.require_dpop => Err(InvalidToken::DpopRequired.into()),
                None => Ok(()),
            };
        }
        let Some(jkt) = jkt else {
            return Err(InvalidToken::NotDpopBound.into());
        };
        self.check_proof(request, token, jkt).await
    }

    fn challenge(&self, error: AuthError) -> AuthError {
        let nonce = error
            .dpop_nonce()
            .map(str::to_owned)
            .or_else(|| self.fresh_nonce());
        error.with_dpop_challenge(&self.inner.algs, nonce)
    }
}

fn invalid_proof(reason: &'static str) -> AuthError {
    ErrorKind::InvalidDpopProof(reason).into()
}

/// The reason given to the caller: the rule its proof broke, in our words.
fn describe(error: &DpopError) -> &'static str {
    match error {
        DpopError::Malformed => "the DPoP proof is not a well-formed JWT",
        DpopError::WrongType => "the DPoP proof's typ must be dpop+jwt",
        DpopError::CriticalHeader => "the DPoP proof carries critical header parameters",
        DpopError::AlgorithmNotAllowed => "the DPoP proof's signing algorithm is not allowed",
        DpopError::MissingJwk => "the DPoP proof has no jwk header",
        DpopError::PrivateKey => "the DPoP proof's jwk header contains a private key",
        DpopError::SymmetricKey => "the DPoP proof's jwk header is a symmetric key",
        DpopError::InvalidJwk => "the DPoP proof's jwk header is not a valid public key",
        DpopError::InvalidSignature => "the DPoP proof's signature is invalid",
        DpopError::MissingClaim(_) => "the DPoP proof lacks a required claim",
        DpopError::JtiTooLong => "the DPoP proof's jti is too long",
        DpopError::HtmMismatch => "the DPoP proof is for another method",
        DpopError::HtuMismatch => "the DPoP proof is for another URL",
        DpopError::TooOld => "the DPoP proof is too old",
        DpopError::IssuedInFuture => "the DPoP proof is issued in the future",
        DpopError::MissingAth => "the DPoP proof has no ath claim",
        DpopError::AthMismatch => "the DPoP proof is for another access token",
        DpopError::MissingNonce | DpopError::NonceMismatch => "the DPoP proof's nonce is wrong",
    }
}

fn algs(algorithms: &[DpopAlgorithm]) -> String {
    algorithms
        .iter()
        .map(|alg| alg.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
