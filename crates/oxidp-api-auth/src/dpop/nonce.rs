//! Stateless DPoP nonces (RFC 9449 §9) that an API issues itself: the issue time and an
//! HMAC-SHA256 tag over it. Any instance that shares the secret accepts any other's nonces,
//! nothing is stored, and a nonce is valid for a fixed period from its issue time.
//!
//! A nonce is not secret (the caller reads it from a header); it only has to be unforgeable, so
//! that proofs cannot be made ahead of time for later use, which is what a MAC gives.

use aws_lc_rs::hmac;
use oxidp_jose::{b64url_decode, b64url_encode};

/// Tag bytes kept: 128 bits are plenty against forgery of a value valid for minutes.
const TAG_LENGTH: usize = 16;

/// Issues and checks the nonces of one API.
#[derive(Clone)]
pub(crate) struct NonceIssuer {
    key: hmac::Key,
    lifetime: i64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime", &self.lifetime)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl NonceIssuer {
    pub(crate) fn new(secret: &[u8; 32], lifetime_seconds: i64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            lifetime: lifetime_seconds,
        }
    }

    /// A nonce issued at `now` (unix seconds).
    pub(crate) fn issue(&self, now: i64) -> String {
        let time = now.to_be_bytes();
        let tag = hmac::sign(&self.key, &time);
        let mut value = Vec::with_capacity(time.len() + TAG_LENGTH);
        value.extend_from_slice(&time);
        value.extend_from_slice(&tag.as_ref()[..TAG_LENGTH]);
        b64url_encode(value)
    }

    /// Whether `nonce` is one of ours and still valid at `now`. A nonce "issued" more than a
    /// few seconds in the future (another instance's clock) is refused like an expired one.
    pub(crate) fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let Some(bytes) = b64url_decode(nonce) else {
            return false;
        };
        if bytes.len() != 8 + TAG_LENGTH {
            return false;
        }
        let (time, tag) = bytes.split_at(8);
        let expected = hmac::sign(&self.key, time);
        if !oxidp_jose::constant_time_eq(tag, &expected.as_ref()[..TAG_LENGTH]) {
            return false;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(time);
        let issued = i64::from_be_bytes(issued);
        issued <= now.saturating_add(5) && now.saturating_sub(issued) <= self.lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_valid_for_its_lifetime_only() {
        let issuer = NonceIssuer::new(&[1; 32], 300);
        let nonce = issuer.issue(1_000);
        assert!(issuer.is_valid(&nonce, 1_000));
        assert!(issuer.is_valid(&nonce, 1_300));
        assert!(!issuer.is_valid(&nonce, 1_301));
        assert!(issuer.is_valid(&nonce, 996), "a little clock skew");
        assert!(!issuer.is_valid(&nonce, 990), "issued in the future");
    }

    #[test]
    fn instances_sharing_the_secret_accept_each_others_nonces_and_no_one_else_does() {
        let one = NonceIssuer::new(&[1; 32], 300);
        let two = NonceIssuer::new(&[1; 32], 300);
        let stranger = NonceIssuer::new(&[2; 32], 300);
        let nonce = one.issue(1_000);
        assert!(two.is_valid(&nonce, 1_001));
        assert!(!stranger.is_valid(&nonce, 1_001));
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused() {
        let issuer = NonceIssuer::new(&[1; 32], 300);
        let nonce = issuer.issue(1_000);
        let mut bytes = b64url_decode(&nonce).unwrap_or_default();
        bytes[7] ^= 1; // another issue time, same tag
        assert!(!issuer.is_valid(&b64url_encode(&bytes), 1_000));
        for bad in ["", "not base64!", "AAAA", &nonce[..nonce.len() - 2]] {
            assert!(!issuer.is_valid(bad, 1_000), "{bad}");
        }
    }
}
