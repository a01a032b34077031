//! DPoP (RFC 9449) for client apps: the key a client proves possession of ([`DpopKey`]), the
//! nonces servers hand out, remembered per origin, and the proof each request carries.
//!
//! Proofs are made with `oxidp_jose::dpop`, the same code the server verifies them with. Their
//! `iat` is the system time, not the client's injected [`Clock`](crate::Clock): that clock
//! decides when a token is renewed, while a proof is judged by the server's clock.

use crate::error::Error;
use oxidp_jose::dpop::DpopProofBuilder;
use oxidp_jose::{SigningAlgorithm, SigningKey};
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: &str = "dpop";
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

/// The private key a client signs its DPoP proofs with; the tokens it obtains are bound to it
/// (their `cnf.jkt` is its [`thumbprint`](Self::thumbprint)).
///
/// Cheap to clone. `Debug` never shows the private key. A bound refresh token is worth only as
/// much as the key is kept: an app that must use its refresh tokens after a restart keeps the
/// key ([`pkcs8`](Self::pkcs8), [`from_pkcs8`](Self::from_pkcs8)) as carefully as the tokens.
///
/// ```
/// use oxidp_client::DpopKey;
///
/// let key = DpopKey::generate()?; // ES256
/// assert_eq!(key.algorithm(), "ES256");
/// assert_eq!(key.thumbprint().len(), 43); // base64url of a SHA-256
/// assert!(!format!("{key:?}").contains(&format!("{:?}", key.pkcs8())));
/// # Ok::<(), oxidp_client::Error>(())
/// ```
#[derive(Clone)]
pub struct DpopKey {
    key: Arc<SigningKey>,
    thumbprint: Arc<str>,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("algorithm", &self.key.algorithm().as_str())
            .field("thumbprint", &self.thumbprint)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl DpopKey {
    /// A new ES256 (P-256) key, the algorithm every DPoP server supports.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_with(SigningAlgorithm::ES256)
    }

    /// A new key for `algorithm` (ES256, EdDSA, PS256 or RS256).
    ///
    /// ```
    /// use oxidp_client::DpopKey;
    /// use oxidp_jose::SigningAlgorithm;
    ///
    /// let key = DpopKey::generate_with(SigningAlgorithm::EdDSA)?;
    /// assert_eq!(key.algorithm(), "EdDSA");
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn generate_with(algorithm: SigningAlgorithm) -> Result<Self, Error> {
        SigningKey::generate(algorithm)
            .map(Self::from_signing_key)
            .map_err(|_| Error::Configuration("could not generate a DPoP key".into()))
    }

    /// A key the app already has (loaded from its own storage).
    pub fn from_signing_key(key: SigningKey) -> Self {
        let thumbprint = key.thumbprint().into();
        Self {
            key: Arc::new(key),
            thumbprint,
        }
    }

    /// A key stored as PKCS#8 DER (from [`pkcs8`](Self::pkcs8)).
    ///
    /// ```
    /// use oxidp_client::DpopKey;
    /// use oxidp_jose::SigningAlgorithm;
    ///
    /// let key = DpopKey::generate()?;
    /// let again = DpopKey::from_pkcs8(SigningAlgorithm::ES256, key.pkcs8())?;
    /// assert_eq!(again.thumbprint(), key.thumbprint());
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn from_pkcs8(algorithm: SigningAlgorithm, der: &[u8]) -> Result<Self, Error> {
        SigningKey::from_pkcs8(algorithm, der)
            .map(Self::from_signing_key)
            .map_err(|_| Error::Configuration("the DPoP key is not a valid PKCS#8 key".into()))
    }

    /// The private key as PKCS#8 DER, to keep it across restarts. Secret.
    pub fn pkcs8(&self) -> &[u8] {
        self.key.expose_pkcs8()
    }

    /// The RFC 7638 thumbprint of the public key: what a bound token's `cnf.jkt` holds, and the
    /// `dpop_jkt` parameter that binds an authorization code to this key (RFC 9449 §10).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The proofs' `alg`.
    pub fn algorithm(&self) -> &'static str {
        self.key.algorithm().as_str()
    }

    /// A proof for a `method` request to `url` (its query and fragment are left out), with
    /// the server's `nonce` if it asked for one and, at a resource, `ath` for `access_token`.
    ///
    /// ```
    /// use oxidp_client::DpopKey;
    /// use oxidp_jose::dpop::{DpopProof, ProofExpectation};
    ///
    /// let key = DpopKey::generate()?;
    /// let proof = key.proof("GET", "https://api.example.com/orders?page=2", None, Some("token"))?;
    /// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let expected = ProofExpectation::new("GET", "https://api.example.com/orders", now)
    ///     .with_access_token("token");
    /// assert_eq!(DpopProof::verify(&proof, &expected).unwrap().jkt, key.thumbprint());
    /// # Ok::<(), oxidp_client::Error>(())
    /// ```
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let mut builder = DpopProofBuilder::new(method, url, unix_now());
        if let Some(nonce) = nonce {
            builder = builder.nonce(nonce);
        }
        if let Some(token) = access_token {
            builder = builder.access_token(token);
        }
        builder
            .sign(&self.key)
            .map_err(|_| Error::Configuration("could not sign a DPoP proof".into()))
    }

    /// The proof as a header value.
    pub(crate) fn proof_header(
        &self,
        method: &str,
        url: &Url,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<HeaderValue, Error> {
        let proof = self.proof(method, url.as_str(), nonce, access_token)?;
        HeaderValue::try_from(proof)
            .map_err(|_| Error::Configuration("a DPoP proof does not fit a header".into()))
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The latest nonce each server (origin) gave, shared by the token endpoint and API calls.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    by_origin: Mutex<HashMap<String, String>>,
}

impl Nonces {
    pub(crate) fn get(&self, url: &Url) -> Option<String> {
        self.lock().get(&origin(url)).cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `url`, if it has one; returns whether it
    /// had one that differs from the nonce remembered.
    pub(crate) fn remember(&self, url: &Url, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE)
            .and_then(|value| value.to_str().ok())
            .filter(|nonce| is_nonce(nonce))
        else {
            return false;
        };
        let previous = self.lock().insert(origin(url), nonce.to_owned());
        previous.as_deref() != Some(nonce)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.by_origin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// RFC 9449 §8.1: `nonce = 1*NQCHAR` (printable ASCII but `"` and `\`).
fn is_nonce(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 1024
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether a resource's `401` asks for a nonce: a `DPoP` challenge with
/// `error="use_dpop_nonce"` (RFC 9449 §9).
pub(crate) fn resource_wants_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            let lower = value.to_ascii_lowercase();
            lower.contains("dpop") && lower.contains("error=\"use_dpop_nonce\"")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|_| unreachable!("test URLs parse"))
    }

    fn nonce_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(DPOP_NONCE, value);
        }
        headers
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let nonces = Nonces::default();
        let token = url("https://idp.example/connect/token");
        assert!(nonces.remember(&token, &nonce_header("n-1")));
        assert!(!nonces.remember(&token, &nonce_header("n-1")), "unchanged");
        assert_eq!(
            nonces.get(&url("https://idp.example/connect/userinfo")),
            Some("n-1".into())
        );
        assert_eq!(nonces.get(&url("https://api.example/orders")), None);
        assert_eq!(nonces.get(&url("https://idp.example:8443/x")), None);
        assert!(nonces.remember(&token, &nonce_header("n-2")));
        assert_eq!(nonces.get(&token), Some("n-2".into()));
    }

    #[test]
    fn a_response_without_a_valid_nonce_changes_nothing() {
        let nonces = Nonces::default();
        let token = url("https://idp.example/connect/token");
        assert!(!nonces.remember(&token, &HeaderMap::new()));
        assert!(!nonces.remember(&token, &nonce_header("with space")));
        assert!(!nonces.remember(&token, &nonce_header("quote\"d")));
        assert_eq!(nonces.get(&token), None);
    }

    #[test]
    fn only_a_dpop_use_dpop_nonce_challenge_asks_for_a_nonce() {
        let challenge = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(WWW_AUTHENTICATE, value);
            }
            headers
        };
        assert!(resource_wants_nonce(&challenge(
            r#"DPoP error="use_dpop_nonce", error_description="x""#
        )));
        assert!(!resource_wants_nonce(&challenge(
            r#"DPoP error="invalid_dpop_proof""#
        )));
        assert!(!resource_wants_nonce(&challenge(r#"Bearer realm="api""#)));
        assert!(!resource_wants_nonce(&HeaderMap::new()));
    }
}
