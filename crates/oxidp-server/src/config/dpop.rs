//! `[dpop]`: the DPoP proof window and server nonces (RFC 9449). Their bounds are checked with
//! every other duration in `durations.rs`.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[dpop]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopConfig {
    /// How old a proof's `iat` may be (also how long its `jti` is remembered).
    #[serde(with = "humantime_serde")]
    pub proof_max_age: Duration,
    /// How far in the future a proof's `iat` may be (client clocks running ahead).
    #[serde(with = "humantime_serde")]
    pub proof_max_future: Duration,
    /// Whether proofs must carry a server nonce, unless a client's `require_dpop_nonce` says
    /// otherwise.
    pub require_nonce: bool,
    /// How long a server nonce is accepted after it was issued.
    #[serde(with = "humantime_serde")]
    pub nonce_lifetime: Duration,
}

impl Default for DpopConfig {
    fn default() -> Self {
        let d = oxidp_core::options::DpopOptions::default();
        Self {
            proof_max_age: d.proof_max_age,
            proof_max_future: d.proof_max_future,
            require_nonce: d.require_nonce,
            nonce_lifetime: d.nonce_lifetime,
        }
    }
}
