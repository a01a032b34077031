//! The server's signing keys: generation, PKCS#8 import/export, public JWK and compact JWS.

use crate::encoding::b64url_encode;
use crate::{Jwk, SigningAlgorithm};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};
use serde::Serialize;
use std::fmt;

/// Errors from key handling and signing.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    /// The key material could not be generated or parsed.
    #[error("invalid key material: {0}")]
    InvalidKey(&'static str),
    /// The signing operation failed.
    #[error("signing failed")]
    Signing,
    /// The claims could not be serialized.
    #[error("claims could not be serialized: {0}")]
    Serialization(#[from] serde_json::Error),
}

enum KeyPairKind {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its algorithm and key id.
///
/// The key pair stays parsed for the key's lifetime, so signing costs only the signature.
/// `Debug` never shows private material.
pub struct SigningKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pair: KeyPairKind,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

impl SigningKey {
    /// Generates a new key for `algorithm` (RSA keys are 2048 bits). The key id is the RFC 7638
    /// thumbprint of the public key.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, JoseError> {
        let pkcs8 = match algorithm {
            SigningAlgorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .and_then(|pair| pair.as_der())
                    .map(|der| der.as_ref().to_vec())
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
        }
        .map_err(|_| JoseError::InvalidKey("key generation failed"))?;
        Self::from_pkcs8(algorithm, &pkcs8)
    }

    /// Loads a key from its PKCS#8 (v1) DER encoding.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: &[u8]) -> Result<Self, JoseError> {
        let pair = match algorithm {
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map(KeyPairKind::Ec)
                    .map_err(|_| JoseError::InvalidKey("not a P-256 PKCS#8 key"))?
            }
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => RsaKeyPair::from_pkcs8(pkcs8)
                .map(KeyPairKind::Rsa)
                .map_err(|_| JoseError::InvalidKey("not an RSA PKCS#8 key"))?,
            SigningAlgorithm::EdDSA => Ed25519KeyPair::from_pkcs8(pkcs8)
                .map(KeyPairKind::Ed)
                .map_err(|_| JoseError::InvalidKey("not an Ed25519 PKCS#8 key"))?,
        };
        let mut key = Self {
            kid: String::new(),
            algorithm,
            pair,
            pkcs8: pkcs8.to_vec(),
        };
        key.kid = key.thumbprint();
        Ok(key)
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The private key as PKCS#8 DER. Callers must encrypt it before it leaves the process.
    pub fn expose_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = self.bare_public_jwk();
        jwk.kid = Some(self.kid.clone());
        jwk.alg = Some(self.algorithm.as_str().to_owned());
        jwk.key_use = Some("sig".to_owned());
        jwk
    }

    /// The public key as a JWK with only the members of the key itself (no `kid`, `alg` or
    /// `use`), as a DPoP proof's `jwk` header carries it.
    pub fn bare_public_jwk(&self) -> Jwk {
        let empty = Jwk {
            kty: String::new(),
            key_use: None,
            kid: None,
            alg: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &self.pair {
            KeyPairKind::Ec(pair) => {
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64url_encode(&point[1..33])),
                    y: Some(b64url_encode(&point[33..65])),
                    ..empty
                }
            }
            KeyPairKind::Rsa(pair) => Jwk {
                kty: "RSA".into(),
                n: Some(b64url_encode(
                    pair.public_key()
                        .modulus()
                        .big_endian_without_leading_zero(),
                )),
                e: Some(b64url_encode(
                    pair.public_key()
                        .exponent()
                        .big_endian_without_leading_zero(),
                )),
                ..empty
            },
            KeyPairKind::Ed(pair) => Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64url_encode(pair.public_key().as_ref())),
                ..empty
            },
        }
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
    pub fn thumbprint(&self) -> String {
        self.bare_public_jwk()
            .thumbprint()
            .expect("a key this type holds always has the members its thumbprint needs")
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let header = JwsHeader {
            alg: self.algorithm.as_str(),
            kid: &self.kid,
            typ,
        };
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` as a compact JWS under the given protected `header` (which must name this
    /// key's algorithm in `alg`; see [`SigningKey::algorithm`]).
    pub(crate) fn sign_with_header<H: Serialize, T: Serialize>(
        &self,
        header: &H,
        claims: &T,
    ) -> Result<String, JoseError> {
        let header = serde_json::to_vec(header)?;
        let payload = serde_json::to_vec(claims)?;
        let mut jws = String::with_capacity(header.len() * 2 + payload.len() * 2 + 400);
        jws.push_str(&b64url_encode(header));
        jws.push('.');
        jws.push_str(&b64url_encode(payload));
        let signature = self.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&b64url_encode(signature));
        Ok(jws)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match &self.pair {
            KeyPairKind::Ec(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| JoseError::Signing),
            KeyPairKind::Rsa(pair) => {
                let padding = if self.algorithm == SigningAlgorithm::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut signature)
                    .map_err(|_| JoseError::Signing)?;
                Ok(signature)
            }
            KeyPairKind::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    fn verify_with_jsonwebtoken(key: &SigningKey, token: &str) -> serde_json::Value {
        crate::install_crypto_provider();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let alg = match key.algorithm() {
            SigningAlgorithm::ES256 => Algorithm::ES256,
            SigningAlgorithm::RS256 => Algorithm::RS256,
            SigningAlgorithm::PS256 => Algorithm::PS256,
            SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        };
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        decode::<serde_json::Value>(token, &decoding, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn every_algorithm_signs_tokens_that_verify_against_its_public_jwk() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = key
                .sign_jwt("at+jwt", &serde_json::json!({"sub": "x"}))
                .unwrap();
            assert_eq!(verify_with_jsonwebtoken(&key, &token)["sub"], "x", "{alg}");
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        }
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key_id() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(alg, key.expose_pkcs8()).unwrap();
            assert_eq!(key.kid(), again.kid());
            assert_eq!(key.public_jwk(), again.public_jwk());
        }
    }

    #[test]
    fn key_id_is_the_rfc7638_thumbprint() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
        crate::install_crypto_provider();
        assert_eq!(
            key.kid(),
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap()
        );
    }

    #[test]
    fn debug_output_redacts_the_private_key() {
        let key = SigningKey::generate(SigningAlgorithm::EdDSA).unwrap();
        assert!(format!("{key:?}").contains("[redacted]"));
    }

    #[test]
    fn garbage_pkcs8_is_rejected() {
        assert!(SigningKey::from_pkcs8(SigningAlgorithm::ES256, b"nope").is_err());
    }
}
