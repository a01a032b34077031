//! Data protection: authenticated encryption of secrets at rest (private signing keys, tickets)
//! under a ring of AES-256-GCM keys.
//!
//! Envelope (version 1): `0x01 || key id (16 bytes) || nonce (12 bytes) || ciphertext || tag`.
//! The purpose string and the envelope prefix are the AEAD's associated data, so a value
//! protected for one purpose cannot be replayed as another, and the key id cannot be swapped.
//! Which key protects is decided by the caller (oxidp-core's key-ring policy); this module only
//! needs the current key and every key that may still have to decrypt.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use std::fmt;
use uuid::Uuid;

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + NONCE_LEN;

/// Errors of protect/unprotect.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DataProtectionError {
    /// The key ring holds no key to encrypt with.
    #[error("the data-protection key ring is empty")]
    NoKey,
    /// The data names a key the ring does not hold (retired or foreign).
    #[error("unknown data-protection key {0}")]
    UnknownKey(Uuid),
    /// The data is truncated, of an unknown version, tampered with, or bound to another purpose.
    #[error("protected data is malformed or was tampered with")]
    Invalid,
}

/// One AES-256-GCM key of the ring.
pub struct DataProtectionKey {
    id: Uuid,
    key: RandomizedNonceKey,
    derivation: aws_lc_rs::hmac::Key,
}

impl fmt::Debug for DataProtectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataProtectionKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl DataProtectionKey {
    /// Builds a key from 32 bytes of key material.
    pub fn new(id: Uuid, material: &[u8; 32]) -> Self {
        let key = RandomizedNonceKey::new(&AES_256_GCM, material)
            .expect("32 bytes is a valid AES-256 key");
        let derivation = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, material);
        Self {
            id,
            key,
            derivation,
        }
    }

    /// The key id written into every envelope it seals.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

/// The keys that can decrypt, and the one that encrypts.
#[derive(Debug, Default)]
pub struct KeyRing {
    current: Option<Uuid>,
    keys: Vec<DataProtectionKey>,
}

impl KeyRing {
    /// A ring whose `current` key encrypts and whose every key decrypts.
    pub fn new(current: Uuid, keys: Vec<DataProtectionKey>) -> Self {
        Self {
            current: Some(current),
            keys,
        }
    }

    /// The id of the key that encrypts.
    pub fn current_key_id(&self) -> Option<Uuid> {
        self.current
    }

    /// Encrypts `plaintext` for `purpose`.
    pub fn protect(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, DataProtectionError> {
        let id = self.current.ok_or(DataProtectionError::NoKey)?;
        let key = self.key(id)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.push(VERSION);
        out.extend_from_slice(id.as_bytes());
        let mut sealed = plaintext.to_vec();
        let aad = associated_data(purpose, &out);
        let nonce = key
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut sealed)
            .map_err(|_| DataProtectionError::Invalid)?;
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// A 256-bit secret for `purpose`, derived (HMAC-SHA256) from the ring's oldest key, so that
    /// every instance sharing the ring derives the same value without storing it, and rotations
    /// do not change it.
    pub fn derive_secret(&self, purpose: &str) -> Result<[u8; 32], DataProtectionError> {
        // The ring's oldest key: unlike the current one it does not change when the ring
        // rotates, so secrets derived from it (CSRF keys) survive rotations, and every instance
        // sharing the ring agrees on it.
        let id = self
            .keys
            .iter()
            .map(|k| k.id)
            .min()
            .ok_or(DataProtectionError::NoKey)?;
        let tag = aws_lc_rs::hmac::sign(
            &self.key(id)?.derivation,
            format!("oxidp.derive:{purpose}").as_bytes(),
        );
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts data produced by [`KeyRing::protect`] with the same purpose.
    pub fn unprotect(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, DataProtectionError> {
        if data.len() < HEADER_LEN + AES_256_GCM.tag_len() || data[0] != VERSION {
            return Err(DataProtectionError::Invalid);
        }
        let id = Uuid::from_slice(&data[1..17]).map_err(|_| DataProtectionError::Invalid)?;
        let key = self.key(id)?;
        let nonce = Nonce::try_assume_unique_for_key(&data[17..HEADER_LEN])
            .map_err(|_| DataProtectionError::Invalid)?;
        let aad = associated_data(purpose, &data[..17]);
        let mut sealed = data[HEADER_LEN..].to_vec();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(aad), &mut sealed)
            .map_err(|_| DataProtectionError::Invalid)?;
        Ok(plaintext.to_vec())
    }

    fn key(&self, id: Uuid) -> Result<&DataProtectionKey, DataProtectionError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(DataProtectionError::UnknownKey(id))
    }
}

fn associated_data(purpose: &str, prefix: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(purpose.len() + prefix.len() + 1);
    aad.extend_from_slice(purpose.as_bytes());
    aad.push(0);
    aad.extend_from_slice(prefix);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with(ids: &[Uuid], current: Uuid) -> KeyRing {
        KeyRing::new(
            current,
            ids.iter()
                .map(|id| DataProtectionKey::new(*id, &[id.as_bytes()[0]; 32]))
                .collect(),
        )
    }

    #[test]
    fn protect_then_unprotect_round_trips() {
        let id = Uuid::new_v4();
        let ring = ring_with(&[id], id);
        let sealed = ring.protect("signing-key", b"secret").unwrap();
        assert_ne!(&sealed[HEADER_LEN..HEADER_LEN + 6], b"secret");
        assert_eq!(ring.unprotect("signing-key", &sealed).unwrap(), b"secret");
    }

    #[test]
    fn another_purpose_cannot_decrypt() {
        let id = Uuid::new_v4();
        let ring = ring_with(&[id], id);
        let sealed = ring.protect("signing-key", b"secret").unwrap();
        assert_eq!(
            ring.unprotect("ticket", &sealed),
            Err(DataProtectionError::Invalid)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let id = Uuid::new_v4();
        let ring = ring_with(&[id], id);
        let mut sealed = ring.protect("p", b"secret").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            ring.unprotect("p", &sealed),
            Err(DataProtectionError::Invalid)
        );
        assert_eq!(
            ring.unprotect("p", &sealed[..10]),
            Err(DataProtectionError::Invalid)
        );
    }

    #[test]
    fn older_keys_keep_decrypting_after_the_current_key_changes() {
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = ring_with(&[old], old).protect("p", b"secret").unwrap();
        let ring = ring_with(&[old, new], new);
        assert_eq!(ring.unprotect("p", &sealed).unwrap(), b"secret");
        assert_eq!(
            ring_with(&[new], new).unprotect("p", &sealed),
            Err(DataProtectionError::UnknownKey(old))
        );
    }

    #[test]
    fn derived_secrets_depend_on_key_and_purpose() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ring = ring_with(&[a], a);
        assert_eq!(
            ring.derive_secret("csrf").unwrap(),
            ring_with(&[a], a).derive_secret("csrf").unwrap()
        );
        assert_ne!(
            ring.derive_secret("csrf").unwrap(),
            ring.derive_secret("other").unwrap()
        );
        let mut other = [0u8; 32];
        other[0] = b.as_bytes()[0].wrapping_add(1);
        let ring_b = KeyRing::new(b, vec![DataProtectionKey::new(b, &other)]);
        assert_ne!(
            ring.derive_secret("csrf").unwrap(),
            ring_b.derive_secret("csrf").unwrap()
        );
    }

    #[test]
    fn an_empty_ring_cannot_protect() {
        assert_eq!(
            KeyRing::default().protect("p", b"x"),
            Err(DataProtectionError::NoKey)
        );
    }
}

/// Sealing of the key ring's own material under an operator-held master key, so that a copy
/// of the database alone does not reveal the keys that protect everything else.
pub mod master {
    use super::DataProtectionError;
    use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
    use uuid::Uuid;

    const SEALED_VERSION: u8 = 2;
    const SEALED_LEN: usize = 1 + NONCE_LEN + 32 + 16;

    fn aad(id: Uuid) -> Vec<u8> {
        [b"oxidp.master-key.v1\0".as_slice(), id.as_bytes()].concat()
    }

    /// Encrypts a ring key's 32-byte material under `master`, bound to the key's id.
    pub fn seal(master: &[u8; 32], id: Uuid, material: &[u8; 32]) -> Vec<u8> {
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, master).expect("32 bytes is a valid AES-256 key");
        let mut sealed = material.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad(id)), &mut sealed)
            .expect("AES-GCM sealing of 32 bytes cannot fail");
        let mut out = Vec::with_capacity(SEALED_LEN);
        out.push(SEALED_VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        out
    }

    /// Whether stored material is sealed (rather than the raw 32 bytes).
    pub fn is_sealed(stored: &[u8]) -> bool {
        stored.len() == SEALED_LEN && stored[0] == SEALED_VERSION
    }

    /// Opens what [`seal`] produced.
    pub fn open(
        master: &[u8; 32],
        id: Uuid,
        stored: &[u8],
    ) -> Result<[u8; 32], DataProtectionError> {
        if !is_sealed(stored) {
            return Err(DataProtectionError::Invalid);
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, master)
            .map_err(|_| DataProtectionError::Invalid)?;
        let nonce = Nonce::try_assume_unique_for_key(&stored[1..1 + NONCE_LEN])
            .map_err(|_| DataProtectionError::Invalid)?;
        let mut sealed = stored[1 + NONCE_LEN..].to_vec();
        let material = key
            .open_in_place(nonce, Aad::from(aad(id)), &mut sealed)
            .map_err(|_| DataProtectionError::Invalid)?;
        <[u8; 32]>::try_from(&material[..]).map_err(|_| DataProtectionError::Invalid)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sealed_material_opens_only_with_the_master_key_and_id() {
            let (master, other) = ([7u8; 32], [8u8; 32]);
            let id = Uuid::new_v4();
            let sealed = seal(&master, id, &[1u8; 32]);
            assert!(is_sealed(&sealed));
            assert!(!is_sealed(&[1u8; 32]));
            assert_eq!(open(&master, id, &sealed).unwrap(), [1u8; 32]);
            assert!(open(&other, id, &sealed).is_err());
            assert!(open(&master, Uuid::new_v4(), &sealed).is_err());
        }
    }
}
