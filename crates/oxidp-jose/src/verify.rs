//! Signature verification of JWTs signed by others (client assertions), hardened as
//! `shared/DEPENDENCIES.md` requires: asymmetric algorithms only, no `oct` keys, no JWK that
//! carries private members, no `crit` header. Claim checks that depend on time or on the
//! protocol (exp, aud, jti replay) belong to the caller, which owns the clock.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Why a JWT was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The token is not a compact JWS or its header is unreadable.
    #[error("malformed JWT")]
    Malformed,
    /// The header names a symmetric, unknown or `none` algorithm.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header carries `crit`, which this verifier does not process.
    #[error("critical header parameters are not supported")]
    CriticalHeader,
    /// No usable public key matches the header.
    #[error("no matching key")]
    NoMatchingKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
}

const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// The asymmetric algorithm names accepted for client assertions (for discovery).
pub fn accepted_algorithms() -> Vec<String> {
    ASYMMETRIC.iter().map(|alg| format!("{alg:?}")).collect()
}

/// Verifies `token`'s signature with a key from `jwks` (a JWK set as JSON) and returns its claims.
/// A caller that verifies many tokens against one set should build [`VerifierKeys`] once.
pub fn verify_signature(
    token: &str,
    jwks: &serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, VerifyError> {
    VerifierKeys::from_jwks(jwks).verify(token)
}

/// The usable public keys of a JWK set, hardened and turned into decoding keys once (private
/// and symmetric keys dropped, keys that do not parse skipped), for verifying many tokens.
#[derive(Clone)]
pub struct VerifierKeys {
    keys: Vec<(Option<String>, DecodingKey)>,
}

impl std::fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|(kid, _)| kid).collect();
        f.debug_struct("VerifierKeys").field("kids", &kids).finish()
    }
}

impl VerifierKeys {
    /// The usable keys of `jwks` (a JWK set as JSON); an unreadable set has none.
    pub fn from_jwks(jwks: &serde_json::Value) -> Self {
        let set: JwkSet =
            serde_json::from_value(strip_private_keys(jwks)).unwrap_or(JwkSet { keys: Vec::new() });
        let keys = set
            .keys
            .iter()
            .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
            .filter_map(|jwk| {
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((jwk.common.key_id.clone(), key))
            })
            .collect();
        Self { keys }
    }

    /// Verifies `token`'s signature with the key its `kid` names (any key when it names none)
    /// and returns its claims.
    pub fn verify(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, VerifyError> {
        crate::install_crypto_provider();
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        if header.crit.is_some() {
            return Err(VerifyError::CriticalHeader);
        }
        let mut candidates = self
            .keys
            .iter()
            .filter(|(kid, _)| match (&header.kid, kid) {
                (Some(wanted), Some(kid)) => wanted == kid,
                _ => true,
            })
            .peekable();
        if candidates.peek().is_none() {
            return Err(VerifyError::NoMatchingKey);
        }
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        for (_, key) in candidates {
            if let Ok(data) = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                token,
                key,
                &validation,
            ) {
                return Ok(data.claims);
            }
        }
        Err(VerifyError::InvalidSignature)
    }
}

/// Drops every key that carries a private member, so a misconfigured client whose JWKS leaks its
/// private key (or a symmetric secret) can never be used to verify.
fn strip_private_keys(jwks: &serde_json::Value) -> serde_json::Value {
    const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .map(|keys| {
            keys.iter()
                .filter(|key| {
                    PRIVATE_MEMBERS
                        .iter()
                        .all(|member| key.get(member).is_none())
                })
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    serde_json::json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningAlgorithm, SigningKey, b64url_encode};

    fn jwks_of(key: &SigningKey) -> serde_json::Value {
        serde_json::json!({ "keys": [key.public_jwk()] })
    }

    #[test]
    fn a_token_signed_by_a_listed_key_verifies() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let token = key
            .sign_jwt("JWT", &serde_json::json!({"iss": "c"}))
            .unwrap();
        assert_eq!(
            verify_signature(&token, &jwks_of(&key)).unwrap()["iss"],
            "c"
        );
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let token = other.sign_jwt("JWT", &serde_json::json!({})).unwrap();
        let mut jwks = jwks_of(&key);
        jwks["keys"][0]["kid"] = serde_json::json!(other.kid());
        assert_eq!(
            verify_signature(&token, &jwks),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify_signature(&token, &jwks_of(&key)),
            Err(VerifyError::NoMatchingKey)
        );
    }

    #[test]
    fn hmac_and_none_algorithms_are_refused() {
        for alg in ["HS256", "none"] {
            let header = b64url_encode(format!(r#"{{"alg":"{alg}"}}"#));
            let token = format!("{header}.{}.sig", b64url_encode("{}"));
            assert!(
                verify_signature(&token, &serde_json::json!({"keys": []})).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn crit_headers_are_refused() {
        let header = b64url_encode(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#);
        let token = format!("{header}.{}.sig", b64url_encode("{}"));
        assert_eq!(
            verify_signature(&token, &serde_json::json!({"keys": []})),
            Err(VerifyError::CriticalHeader)
        );
    }

    #[test]
    fn keys_with_private_members_are_ignored() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let token = key.sign_jwt("JWT", &serde_json::json!({})).unwrap();
        let mut jwks = jwks_of(&key);
        jwks["keys"][0]["d"] = serde_json::json!("private");
        assert_eq!(
            verify_signature(&token, &jwks),
            Err(VerifyError::NoMatchingKey)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            verify_signature("garbage", &serde_json::json!({"keys": []})),
            Err(VerifyError::Malformed)
        );
    }
}
