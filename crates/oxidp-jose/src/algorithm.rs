//! The JWS algorithms oxidp signs with.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A JWS signing algorithm supported for the server's own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256 (the default: small keys, fast signatures).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
    /// RSASSA-PSS with SHA-256, 2048-bit keys.
    PS256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    /// Every supported algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlgorithm; 4] = [Self::ES256, Self::RS256, Self::PS256, Self::EdDSA];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unsupported signing algorithm `{s}` (expected ES256, RS256, PS256 or EdDSA)"
                )
            })
    }
}
