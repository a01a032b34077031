//! Encodings and primitives shared by every JOSE structure: base64url, SHA-256, randomness and
//! constant-time comparison.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Base64url without padding, as JOSE uses it.
pub fn b64url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; `None` on malformed input.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// SHA-256 digest.
pub fn sha256(bytes: impl AsRef<[u8]>) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, bytes.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-512 digest.
pub fn sha512(bytes: impl AsRef<[u8]>) -> [u8; 64] {
    let digest = digest::digest(&digest::SHA512, bytes.as_ref());
    let mut out = [0u8; 64];
    out.copy_from_slice(digest.as_ref());
    out
}

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// Only if the operating system's random source fails, which leaves nothing safe to do.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random source failed");
    out
}

/// A 256-bit random value, base64url-encoded: handles, session keys, ids that must not be guessed.
pub fn random_token() -> String {
    b64url_encode(random_bytes::<32>())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_without_padding() {
        let encoded = b64url_encode([0xfb, 0xff]);
        assert_eq!(encoded, "-_8");
        assert_eq!(b64url_decode(&encoded), Some(vec![0xfb, 0xff]));
        assert_eq!(b64url_decode("not base64!"), None);
    }

    #[test]
    fn constant_time_eq_distinguishes_values_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }
}
