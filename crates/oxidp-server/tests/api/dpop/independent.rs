//! A DPoP client written without oxidp code: a P-256 key from aws-lc-rs, proofs signed with
//! jsonwebtoken (or, for headers jsonwebtoken will not write, signed by hand), thumbprints and
//! `ath` computed here from the RFCs.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 key pair.
pub struct RawKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl RawKey {
    pub fn generate() -> Self {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let document = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        let pkcs8 = document.as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
        Self { pair, pkcs8 }
    }

    /// The public key as a JWK (RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        b64(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }

    /// A proof signed by jsonwebtoken with the header RFC 9449 §4.2 asks for.
    pub fn proof(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(serde_json::from_value(self.jwk()).unwrap());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    /// A compact JWS with any header, signed with this key (ES256).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// The header a well-formed proof of this key has, to be spoiled by a test.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }
}

/// A proof's claims for `htm` `htu` at `iat`, with a random `jti`.
pub fn claims(htm: &str, htu: &str, iat: i64) -> Value {
    json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": htm, "htu": htu, "iat": iat})
}

/// `ath`: base64url(SHA-256(access token)), RFC 9449 §4.2.
pub fn ath(access_token: &str) -> String {
    b64(digest::digest(&digest::SHA256, access_token.as_bytes()))
}
