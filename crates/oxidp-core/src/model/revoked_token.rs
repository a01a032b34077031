//! A revoked JWT access token, remembered by its id until it expires.

use time::OffsetDateTime;

/// A JWT access token revoked before its expiry (RFC 7009). A JWT cannot be recalled from the
/// APIs that validate it locally; this server refuses it from then on (introspection,
/// userinfo, the admin API), and so do APIs that ask the server through introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    /// The token's `jti`.
    pub jti: String,
    /// The client the token was issued to (the one that revoked it).
    pub client_id: String,
    /// The token's `exp`: after it the token is refused anyway, and the entry can go.
    pub expires: OffsetDateTime,
}
