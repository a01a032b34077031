//! DPoP proofs (RFC 9449): verification of a proof JWT against what the request says, and
//! creation of proofs for clients.
//!
//! This is the JOSE half only: no HTTP types, no clock, no replay memory. The caller (the
//! server's core, `oxidp-api-auth`, `oxidp-client`) passes the request's method and URL, the
//! current time as unix seconds and, at a resource, the access token; it keeps the `jti`s it has
//! seen and decides what a nonce must be.
//!
//! ```
//! use oxidp_jose::dpop::{DpopProof, DpopProofBuilder, ProofExpectation};
//! use oxidp_jose::{SigningAlgorithm, SigningKey};
//!
//! let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
//! let proof = DpopProofBuilder::new("POST", "https://id.example/connect/token", 1_700_000_000)
//!     .sign(&key)
//!     .unwrap();
//! let verified = DpopProof::verify(
//!     &proof,
//!     &ProofExpectation::new("POST", "https://id.example/connect/token", 1_700_000_010),
//! )
//! .unwrap();
//! assert_eq!(verified.jkt, key.thumbprint());
//! ```

use crate::encoding::{b64url_decode, b64url_encode, constant_time_eq, random_token, sha256};
use crate::{JoseError, Jwk, SigningAlgorithm, SigningKey};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// The `typ` header every DPoP proof carries (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";

/// The longest `jti` accepted: enough for any sensible random id, short enough that a replay
/// store key cannot be abused to store large values.
pub const MAX_JTI_LENGTH: usize = 256;

/// The largest proof accepted, in bytes; a 4096-bit RSA key and generous claims fit well within.
pub const MAX_PROOF_LENGTH: usize = 8 * 1024;

/// The asymmetric algorithms a DPoP proof may be signed with (`dpop_signing_alg_values_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpopAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-384 and SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl DpopAlgorithm {
    /// Every supported algorithm, in the order discovery lists them.
    pub const ALL: [DpopAlgorithm; 5] = [
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::PS256,
        Self::RS256,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::PS256 => "PS256",
            Self::RS256 => "RS256",
        }
    }

    /// The algorithm named `alg`, if it is one of [`DpopAlgorithm::ALL`] (so never `none` nor
    /// an HMAC).
    pub fn parse(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == alg)
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
            Self::PS256 => Algorithm::PS256,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

impl fmt::Display for DpopAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a DPoP proof was refused. Messages describe the rule broken and never echo the proof,
/// the key or the access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// Not a compact JWS, an unreadable header or payload, or larger than [`MAX_PROOF_LENGTH`].
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    /// The header carries `crit`, which is not processed.
    #[error("the DPoP proof carries critical header parameters")]
    CriticalHeader,
    /// `alg` is missing, `none`, symmetric, or not among the allowed algorithms.
    #[error("the DPoP proof's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// The header has no `jwk` object.
    #[error("the DPoP proof has no jwk header")]
    MissingJwk,
    /// The `jwk` header carries private key members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`).
    #[error("the DPoP proof's jwk header contains a private key")]
    PrivateKey,
    /// The `jwk` header is a symmetric (`oct`) key.
    #[error("the DPoP proof's jwk header is a symmetric key")]
    SymmetricKey,
    /// The `jwk` header is not a usable public key.
    #[error("the DPoP proof's jwk header is not a valid public key")]
    InvalidJwk,
    /// The signature does not verify with the `jwk` header's key and the `alg`.
    #[error("the DPoP proof's signature is invalid")]
    InvalidSignature,
    /// A required claim is missing or has the wrong type.
    #[error("the DPoP proof has no valid {0} claim")]
    MissingClaim(&'static str),
    /// `jti` is longer than [`MAX_JTI_LENGTH`].
    #[error("the DPoP proof's jti is too long")]
    JtiTooLong,
    /// `htm` is not the request's method.
    #[error("the DPoP proof's htm does not match the request method")]
    HtmMismatch,
    /// `htu` is not the request's URL (compared without query and fragment).
    #[error("the DPoP proof's htu does not match the request URL")]
    HtuMismatch,
    /// `iat` is older than the allowed window.
    #[error("the DPoP proof is too old")]
    TooOld,
    /// `iat` is further in the future than the allowed clock skew.
    #[error("the DPoP proof is issued in the future")]
    IssuedInFuture,
    /// An access token is presented and the proof has no `ath`.
    #[error("the DPoP proof has no ath claim")]
    MissingAth,
    /// `ath` is not the hash of the access token presented.
    #[error("the DPoP proof's ath does not match the access token")]
    AthMismatch,
    /// A nonce is expected and the proof has none.
    #[error("the DPoP proof has no nonce")]
    MissingNonce,
    /// The proof's nonce is not the expected one.
    #[error("the DPoP proof's nonce is not the expected one")]
    NonceMismatch,
}

impl DpopError {
    /// Whether the failure is about the nonce, which RFC 9449 §8 answers with `use_dpop_nonce`
    /// (and a fresh nonce) rather than `invalid_dpop_proof`.
    pub fn is_nonce_error(&self) -> bool {
        matches!(self, Self::MissingNonce | Self::NonceMismatch)
    }
}

/// What a proof must match: the request and the verifier's policy.
///
/// Build it with [`ProofExpectation::new`] (default window: 60 s in the past, 5 s in the future;
/// every algorithm of [`DpopAlgorithm::ALL`]) and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct ProofExpectation<'a> {
    /// The request method (`htm`), compared exactly (`GET`, `POST`).
    pub htm: &'a str,
    /// The request URL (`htu`). Query and fragment are ignored on both sides; scheme and host
    /// case and a default port are normalised.
    pub htu: &'a str,
    /// The current time, unix seconds.
    pub now: i64,
    /// How old (seconds before `now`) `iat` may be.
    pub max_age: u64,
    /// How far (seconds after `now`) `iat` may be in the future.
    pub max_future: u64,
    /// The algorithms accepted.
    pub algorithms: &'a [DpopAlgorithm],
    /// The access token presented with the proof (at a resource): `ath` must then be present
    /// and equal to [`access_token_hash`] of it.
    pub access_token: Option<&'a str>,
    /// The nonce the proof must carry, when the verifier holds one value to compare with.
    /// Verifiers with stateless nonces leave it `None` and check [`VerifiedProof::nonce`]
    /// themselves.
    pub nonce: Option<&'a str>,
}

impl<'a> ProofExpectation<'a> {
    /// An expectation for a request with method `htm` to `htu` at time `now` (unix seconds),
    /// with the default window and every supported algorithm, no access token and no nonce.
    pub fn new(htm: &'a str, htu: &'a str, now: i64) -> Self {
        Self {
            htm,
            htu,
            now,
            max_age: 60,
            max_future: 5,
            algorithms: &DpopAlgorithm::ALL,
            access_token: None,
            nonce: None,
        }
    }

    /// The same expectation with another `iat` window (seconds into the past and the future).
    #[must_use]
    pub fn with_window(mut self, max_age: u64, max_future: u64) -> Self {
        self.max_age = max_age;
        self.max_future = max_future;
        self
    }

    /// The same expectation accepting only `algorithms`.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &'a [DpopAlgorithm]) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// The same expectation for a request presenting `access_token` (`ath` required).
    #[must_use]
    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// The same expectation requiring the proof's nonce to be `nonce`.
    #[must_use]
    pub fn with_nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

/// A proof that passed [`DpopProof::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint (SHA-256, base64url) of the proof's public key: the `cnf.jkt`
    /// a bound token carries.
    pub jkt: String,
    /// The proof's id; the caller refuses one seen before (with the same `jkt`) within the window.
    pub jti: String,
    /// The proof's issue time, unix seconds.
    pub iat: i64,
    /// The proof's nonce, if it carries one.
    pub nonce: Option<String>,
    /// The method the proof names.
    pub htm: String,
    /// The URL the proof names, as written in the proof.
    pub htu: String,
    /// The algorithm the proof is signed with.
    pub algorithm: DpopAlgorithm,
}

/// DPoP proof verification.
#[derive(Debug)]
pub struct DpopProof;

impl DpopProof {
    /// Verifies the `DPoP` header value `header_value` against `expected`: `typ`, `alg`, the
    /// `jwk` header (public, asymmetric) and the signature, then `jti`, `htm`, `htu`, `iat`,
    /// `ath` (when an access token is expected) and the nonce (when one is expected).
    ///
    /// Replay (the `jti` seen before) is the caller's to decide with [`VerifiedProof::jti`] and
    /// [`VerifiedProof::jkt`].
    pub fn verify(
        header_value: &str,
        expected: &ProofExpectation<'_>,
    ) -> Result<VerifiedProof, DpopError> {
        if header_value.len() > MAX_PROOF_LENGTH {
            return Err(DpopError::Malformed);
        }
        let header = decode_header(header_value)?;
        if header.get("typ").and_then(Value::as_str) != Some(DPOP_JWT_TYPE) {
            return Err(DpopError::WrongType);
        }
        if header.contains_key("crit") {
            return Err(DpopError::CriticalHeader);
        }
        let algorithm = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(DpopAlgorithm::parse)
            .filter(|alg| expected.algorithms.contains(alg))
            .ok_or(DpopError::AlgorithmNotAllowed)?;
        let jwk_value = header.get("jwk").ok_or(DpopError::MissingJwk)?;
        let (decoding_key, jkt) = public_key(jwk_value)?;

        crate::install_crypto_provider();
        let mut validation = Validation::new(algorithm.jsonwebtoken());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(header_value, &decoding_key, &validation)
                .map_err(|error| match error.kind() {
                    jsonwebtoken::errors::ErrorKind::Json(_)
                    | jsonwebtoken::errors::ErrorKind::Base64(_)
                    | jsonwebtoken::errors::ErrorKind::Utf8(_) => DpopError::Malformed,
                    _ => DpopError::InvalidSignature,
                })?
                .claims;

        let jti = string_claim(&claims, "jti")?;
        if jti.is_empty() {
            return Err(DpopError::MissingClaim("jti"));
        }
        if jti.chars().count() > MAX_JTI_LENGTH {
            return Err(DpopError::JtiTooLong);
        }
        let htm = string_claim(&claims, "htm")?;
        if htm != expected.htm {
            return Err(DpopError::HtmMismatch);
        }
        let htu = string_claim(&claims, "htu")?;
        if !same_htu(htu, expected.htu) {
            return Err(DpopError::HtuMismatch);
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(DpopError::MissingClaim("iat"))?;
        if iat < expected.now.saturating_sub_unsigned(expected.max_age) {
            return Err(DpopError::TooOld);
        }
        if iat > expected.now.saturating_add_unsigned(expected.max_future) {
            return Err(DpopError::IssuedInFuture);
        }
        if let Some(token) = expected.access_token {
            let ath = claims
                .get("ath")
                .and_then(Value::as_str)
                .ok_or(DpopError::MissingAth)?;
            if !constant_time_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
                return Err(DpopError::AthMismatch);
            }
        }
        let nonce = match claims.get("nonce") {
            None => None,
            Some(Value::String(nonce)) => Some(nonce.clone()),
            Some(_) => return Err(DpopError::MissingClaim("nonce")),
        };
        if let Some(wanted) = expected.nonce {
            let nonce = nonce.as_deref().ok_or(DpopError::MissingNonce)?;
            if !constant_time_eq(nonce.as_bytes(), wanted.as_bytes()) {
                return Err(DpopError::NonceMismatch);
            }
        }
        Ok(VerifiedProof {
            jkt,
            jti: jti.to_owned(),
            iat,
            nonce,
            htm: htm.to_owned(),
            htu: htu.to_owned(),
            algorithm,
        })
    }
}

fn decode_header(token: &str) -> Result<Map<String, Value>, DpopError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::Malformed);
    };
    let bytes = b64url_decode(header).ok_or(DpopError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| DpopError::Malformed)
}

/// The decoding key and thumbprint of a `jwk` header, refusing private and symmetric keys.
fn public_key(jwk: &Value) -> Result<(DecodingKey, String), DpopError> {
    const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    let object = jwk.as_object().ok_or(DpopError::MissingJwk)?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(DpopError::PrivateKey);
    }
    match object.get("kty").and_then(Value::as_str) {
        Some("oct") => return Err(DpopError::SymmetricKey),
        Some("EC" | "RSA" | "OKP") => {}
        _ => return Err(DpopError::InvalidJwk),
    }
    let ours: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| DpopError::InvalidJwk)?;
    let jkt = ours.thumbprint().ok_or(DpopError::InvalidJwk)?;
    let theirs: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| DpopError::InvalidJwk)?;
    let key = DecodingKey::from_jwk(&theirs).map_err(|_| DpopError::InvalidJwk)?;
    Ok((key, jkt))
}

fn string_claim<'c>(
    claims: &'c Map<String, Value>,
    name: &'static str,
) -> Result<&'c str, DpopError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or(DpopError::MissingClaim(name))
}

/// `url` without query and fragment, with scheme and host lower-cased and a default port
/// dropped (RFC 9449 §4.3 with RFC 3986 §6.2.2–6.2.3 normalisation); `None` if it is not an
/// absolute URL.
pub fn normalize_htu(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    if parsed.cannot_be_a_base() {
        return None;
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.into())
}

fn same_htu(proof: &str, expected: &str) -> bool {
    match (normalize_htu(proof), normalize_htu(expected)) {
        (Some(proof), Some(expected)) => proof == expected,
        _ => false,
    }
}

/// The `ath` of an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64url_encode(sha256(access_token.as_bytes()))
}

#[derive(Serialize)]
struct ProofHeader<'a> {
    typ: &'a str,
    alg: &'a str,
    jwk: Jwk,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

/// Builds DPoP proofs for a client.
///
/// `htu` is stripped of its query and fragment; the `jti` is a fresh 256-bit random value unless
/// [`DpopProofBuilder::jti`] sets one. The header carries the key's bare public JWK.
#[derive(Debug, Clone)]
pub struct DpopProofBuilder<'a> {
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    jti: Option<&'a str>,
    nonce: Option<&'a str>,
    access_token: Option<&'a str>,
}

impl<'a> DpopProofBuilder<'a> {
    /// A proof for a request with method `htm` to `htu`, issued at `iat` (unix seconds).
    pub fn new(htm: &'a str, htu: &'a str, iat: i64) -> Self {
        Self {
            htm,
            htu,
            iat,
            jti: None,
            nonce: None,
            access_token: None,
        }
    }

    /// Uses `jti` instead of a random id.
    #[must_use]
    pub fn jti(mut self, jti: &'a str) -> Self {
        self.jti = Some(jti);
        self
    }

    /// Includes the server's nonce.
    #[must_use]
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Includes `ath` for `access_token` (for calls to a resource).
    #[must_use]
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Signs the proof with `key` (its algorithm becomes `alg`).
    pub fn sign(&self, key: &SigningKey) -> Result<String, JoseError> {
        let random_jti;
        let jti = match self.jti {
            Some(jti) => jti,
            None => {
                random_jti = random_token();
                &random_jti
            }
        };
        let htu = normalize_htu(self.htu).unwrap_or_else(|| self.htu.to_owned());
        let header = ProofHeader {
            typ: DPOP_JWT_TYPE,
            alg: key.algorithm().as_str(),
            jwk: key.bare_public_jwk(),
        };
        let claims = ProofClaims {
            jti,
            htm: self.htm,
            htu: &htu,
            iat: self.iat,
            nonce: self.nonce,
            ath: self.access_token.map(access_token_hash),
        };
        key.sign_with_header(&header, &claims)
    }
}

/// Signs a proof in one call; see [`DpopProofBuilder`] (a `jti` of `None` is random).
pub fn create_proof(
    key: &SigningKey,
    htm: &str,
    htu: &str,
    iat: i64,
    jti: Option<&str>,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<String, JoseError> {
    let mut builder = DpopProofBuilder::new(htm, htu, iat);
    builder.jti = jti;
    builder.nonce = nonce;
    builder.access_token = access_token;
    builder.sign(key)
}

/// The DPoP algorithm a [`SigningKey`] of `algorithm` signs proofs with (every signing
/// algorithm oxidp supports is a DPoP algorithm).
pub fn signing_algorithm(algorithm: SigningAlgorithm) -> DpopAlgorithm {
    match algorithm {
        SigningAlgorithm::ES256 => DpopAlgorithm::ES256,
        SigningAlgorithm::RS256 => DpopAlgorithm::RS256,
        SigningAlgorithm::PS256 => DpopAlgorithm::PS256,
        SigningAlgorithm::EdDSA => DpopAlgorithm::EdDSA,
    }
}

#[cfg(test)]
#[path = "dpop/tests.rs"]
mod tests;
