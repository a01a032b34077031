//! Stored key material: signing keys (private part encrypted) and data-protection keys.

use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// A signing key as stored: the private key is PKCS#8 encrypted by the data-protection key ring.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id (`kid`), the RFC 7638 thumbprint.
    pub id: String,
    /// JWS algorithm (`ES256`, `RS256`, `PS256`, `EdDSA`).
    pub algorithm: String,
    /// When the key was created (and first published in JWKS).
    pub created: OffsetDateTime,
    /// When the key starts signing.
    pub activates: OffsetDateTime,
    /// Data-protection envelope of the PKCS#8 private key.
    pub protected_private_key: Vec<u8>,
    /// The public JWK, as JSON.
    pub public_jwk: String,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field("created", &self.created)
            .field("activates", &self.activates)
            .finish_non_exhaustive()
    }
}

/// A data-protection (AES-256-GCM) key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DataProtectionKeyRecord {
    /// Key id, written into every envelope the key seals.
    pub id: Uuid,
    /// When the key was created.
    pub created: OffsetDateTime,
    /// From when the key may encrypt.
    pub activates: OffsetDateTime,
    /// After this the key no longer encrypts (it still decrypts).
    pub expires: OffsetDateTime,
    /// The 32-byte key material.
    pub material: Vec<u8>,
}

impl fmt::Debug for DataProtectionKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataProtectionKeyRecord")
            .field("id", &self.id)
            .field("created", &self.created)
            .field("activates", &self.activates)
            .field("expires", &self.expires)
            .field("material", &"[redacted]")
            .finish()
    }
}
