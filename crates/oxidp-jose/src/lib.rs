//! JOSE building blocks for oxidp: signing keys, compact JWS/JWT, JWK and JWK sets, DPoP proofs
//! ([`dpop`]), and the data-protection key ring that encrypts secrets at rest.
//!
//! Signing uses `aws-lc-rs` key pairs that stay parsed in memory, so the token endpoint pays only
//! for the signature itself; verification of foreign JWTs (client assertions) goes through
//! `jsonwebtoken` with the hardening rules of `shared/DEPENDENCIES.md` applied in [`verify`].

mod algorithm;
pub mod data_protection;
pub mod dpop;
mod encoding;
mod jwk;
mod signing_key;
pub mod verify;

pub use algorithm::SigningAlgorithm;
pub use data_protection::{DataProtectionError, DataProtectionKey, KeyRing};
pub use encoding::{
    b64url_decode, b64url_encode, constant_time_eq, random_bytes, random_token, sha256, sha512,
};
pub use jwk::{Jwk, JwkSet, jwk_thumbprint};
pub use signing_key::{JoseError, SigningKey};

/// Installs `aws-lc-rs` as `jsonwebtoken`'s crypto provider for this process.
///
/// `jsonwebtoken` panics at first use when it cannot tell which backend to use; calling this at
/// start-up (it is idempotent) makes the choice explicit.
pub fn install_crypto_provider() {
    let _already_installed = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}
