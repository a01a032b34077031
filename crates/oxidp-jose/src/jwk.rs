//! Public JSON Web Keys (RFC 7517) as the JWKS endpoint publishes them.

use serde::{Deserialize, Serialize};

/// A public JWK. Only public members exist on this type, so a private key cannot be published
/// by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `RSA` or `OKP`.
    pub kty: String,
    /// Intended use; always `sig` for oxidp's keys.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Key id, matching the `kid` header of the tokens it signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm the key is used with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Curve (`P-256`, `Ed25519`) for EC and OKP keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (EC) or public key (OKP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (EC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK set (`{"keys": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The RFC 7638 thumbprint (SHA-256, base64url) of the key's required public members, or
    /// `None` when a member the key type needs is missing or the key type is not `EC`, `RSA`
    /// or `OKP`.
    pub fn thumbprint(&self) -> Option<String> {
        // Members in lexicographic order, no whitespace, as RFC 7638 §3 requires; serde_json
        // escapes the strings exactly as JSON needs.
        let canonical = match self.kty.as_str() {
            "EC" => serde_json::json!({
                "crv": self.crv.as_ref()?, "kty": "EC", "x": self.x.as_ref()?, "y": self.y.as_ref()?
            }),
            "RSA" => {
                serde_json::json!({"e": self.e.as_ref()?, "kty": "RSA", "n": self.n.as_ref()?})
            }
            "OKP" => {
                serde_json::json!({"crv": self.crv.as_ref()?, "kty": "OKP", "x": self.x.as_ref()?})
            }
            _ => return None,
        };
        Some(crate::b64url_encode(crate::sha256(canonical.to_string())))
    }
}

/// The RFC 7638 thumbprint of `jwk` (see [`Jwk::thumbprint`]).
pub fn jwk_thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_the_rfc7638_example() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint().as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn thumbprint_needs_the_members_of_the_key_type() {
        let jwk: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA"}))
                .unwrap();
        assert_eq!(jwk.thumbprint(), None);
        let oct: Jwk = serde_json::from_value(serde_json::json!({"kty": "oct"})).unwrap();
        assert_eq!(oct.thumbprint(), None);
    }
}
