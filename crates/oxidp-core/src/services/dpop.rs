//! DPoP (RFC 9449) at the server: the one home of the proof rules for every endpoint that
//! takes proofs (the token endpoint, userinfo).
//!
//! A request carries at most one `DPoP` header. Its proof is verified by `oxidp-jose` against
//! the request's method and its issuer-derived URL (so a proxy or a path prefix in front does
//! not change what the proof must name), within the `dpop.proof_max_age` /
//! `dpop.proof_max_future` window; at a resource it must also carry `ath` for the access token.
//! When the client requires nonces (`require_dpop_nonce`, else `dpop.require_nonce`), the proof
//! must carry a nonce this server issued within `dpop.nonce_lifetime`: a stateless value (the
//! issue time sealed under its own data-protection purpose), so every instance accepts every
//! other's. Last, the proof is recorded in the [`DpopProofStore`](crate::store::DpopProofStore)
//! (keyed by a hash of `jti` and the key thumbprint, kept for the window): a second use,
//! whichever instance it reaches, is refused.
//!
//! Failures answer `400 invalid_dpop_proof` at the token endpoint and `401` with a `DPoP`
//! challenge (`error`, `algs`) at a resource; a missing or stale nonce answers
//! `use_dpop_nonce` with a fresh `DPoP-Nonce`.

use super::Context;
use crate::error::{Challenge, ChallengeScheme, ErrorCode, OAuthError};
use crate::keys::{ProtectError, purposes};
use crate::model::Client;
use crate::request::ProtocolRequest;
use crate::store::StoreResult;
use oxidp_jose::dpop::{DpopAlgorithm, DpopProof, ProofExpectation, VerifiedProof};
use oxidp_jose::{b64url_decode, b64url_encode, sha256};
use std::borrow::Cow;
use std::sync::Arc;
use time::OffsetDateTime;

/// Where a proof is presented; decides the shape of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// The token endpoint (RFC 9449 §5): errors are `400` JSON.
    TokenEndpoint,
    /// A protected resource (userinfo, RFC 9449 §7): errors are `401` with a `DPoP` challenge.
    Resource,
}

/// What a request's DPoP header established.
#[derive(Debug, Clone, Default)]
pub(crate) struct DpopOutcome {
    /// The verified, first-seen proof; `None` when the request carries no `DPoP` header.
    pub proof: Option<VerifiedProof>,
    /// A fresh nonce to send with the successful response (nonce mode only).
    pub nonce: Option<String>,
}

impl DpopOutcome {
    /// The proof key's thumbprint, if a proof was presented.
    pub fn jkt(&self) -> Option<&str> {
        self.proof.as_ref().map(|proof| proof.jkt.as_str())
    }
}

/// The algorithms proofs may be signed with, space-separated (the `algs` of a challenge).
fn algs() -> String {
    DpopAlgorithm::ALL.map(DpopAlgorithm::as_str).join(" ")
}

/// The DPoP error of `code` as `site` answers it.
pub(crate) fn dpop_error(
    site: Site,
    code: ErrorCode,
    description: impl Into<Cow<'static, str>>,
) -> OAuthError {
    let error = OAuthError::new(code, description);
    match site {
        Site::TokenEndpoint => error.with_status(400),
        Site::Resource => error.with_status(401).with_challenge(dpop_challenge()),
    }
}

/// The `DPoP` challenge of a resource (RFC 9449 §7.1), naming the accepted algorithms.
pub(crate) fn dpop_challenge() -> Challenge {
    Challenge {
        algs: Some(algs()),
        ..Challenge::new(ChallengeScheme::Dpop)
    }
}

fn invalid_proof(site: Site, description: impl Into<Cow<'static, str>>) -> OAuthError {
    dpop_error(site, ErrorCode::InvalidDpopProof, description)
}

/// Checks DPoP proofs and issues nonces.
#[derive(Debug)]
pub struct DpopService {
    ctx: Arc<Context>,
}

impl DpopService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// The algorithms DPoP proofs may be signed with (`dpop_signing_alg_values_supported`).
    pub fn algorithms(&self) -> &'static [DpopAlgorithm] {
        &DpopAlgorithm::ALL
    }

    /// Whether `client`'s proofs must carry a server nonce.
    pub fn requires_nonce(&self, client: Option<&Client>) -> bool {
        client
            .and_then(|client| client.require_dpop_nonce)
            .unwrap_or(self.ctx.options.dpop.require_nonce)
    }

    /// Checks the request's `DPoP` header (none is fine: the caller decides whether a proof
    /// was needed) for `client` at `site`; at a resource, `access_token` is the token the
    /// proof must name in `ath`.
    pub(crate) async fn check(
        &self,
        request: &ProtocolRequest,
        site: Site,
        client: Option<&Client>,
        access_token: Option<&str>,
    ) -> Result<DpopOutcome, OAuthError> {
        if request.dpop.is_empty() {
            return Ok(DpopOutcome::default());
        }
        // Wall time of the whole check (signature, claims, nonce, replay store), so an operator
        // (and bench/dpop) sees what a proof costs and which share the store takes.
        let started = std::time::Instant::now();
        let outcome = self.check_proof(request, site, client, access_token).await;
        metrics::histogram!("oxidp_dpop_proof_validation_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn check_proof(
        &self,
        request: &ProtocolRequest,
        site: Site,
        client: Option<&Client>,
        access_token: Option<&str>,
    ) -> Result<DpopOutcome, OAuthError> {
        let header = match request.dpop.as_slice() {
            [] => return Ok(DpopOutcome::default()),
            [one] => one,
            _ => return Err(invalid_proof(site, "more than one DPoP header")),
        };
        let options = &self.ctx.options.dpop;
        let htu = request.url(&self.ctx.options.issuer);
        let now = self.ctx.clock.now().unix_timestamp();
        let mut expectation = ProofExpectation::new(request.method.as_str(), &htu, now)
            .with_window(
                options.proof_max_age.as_secs(),
                options.proof_max_future.as_secs(),
            );
        if let Some(token) = access_token {
            expectation = expectation.with_access_token(token);
        }
        let proof = DpopProof::verify(header, &expectation).map_err(|error| {
            tracing::debug!(%error, "DPoP proof refused");
            invalid_proof(site, error.to_string())
        })?;
        let nonce_mode = self.requires_nonce(client);
        if nonce_mode && !self.nonce_is_current(proof.nonce.as_deref()).await? {
            let nonce = self.issue_nonce().await?;
            return Err(dpop_error(
                site,
                ErrorCode::UseDpopNonce,
                "a DPoP nonce from this server is required",
            )
            .with_dpop_nonce(nonce));
        }
        if !self.first_use(&proof).await? {
            tracing::info!(
                client_id = client.map_or("", |c| c.client_id.as_str()),
                "DPoP proof replayed"
            );
            return Err(invalid_proof(site, "the DPoP proof was used before"));
        }
        let nonce = match nonce_mode {
            true => Some(self.issue_nonce().await?),
            false => None,
        };
        Ok(DpopOutcome {
            proof: Some(proof),
            nonce,
        })
    }

    /// Records `proof` as seen; `false` if it was seen before (on any instance).
    async fn first_use(&self, proof: &VerifiedProof) -> Result<bool, OAuthError> {
        let key = b64url_encode(sha256(format!("{}:{}", proof.jkt, proof.jti)));
        // A proof is accepted while `now <= iat + max_age`; one second more covers the
        // rounding of instants to seconds in the stores.
        let max_age = self.ctx.options.dpop.proof_max_age.as_secs() as i64;
        let expires = OffsetDateTime::from_unix_timestamp(
            proof.iat.saturating_add(max_age).saturating_add(1),
        )
        .map_err(|_| OAuthError::new(ErrorCode::InvalidDpopProof, "iat is out of range"))?;
        let started = std::time::Instant::now();
        let first = self
            .ctx
            .stores
            .dpop_proofs
            .record_dpop_proof(&key, expires)
            .await;
        metrics::histogram!("oxidp_dpop_replay_check_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(first?)
    }

    /// A fresh server nonce: the current time sealed under the DPoP nonce purpose.
    pub async fn issue_nonce(&self) -> Result<String, OAuthError> {
        let now = self.ctx.clock.now().unix_timestamp();
        let sealed = self
            .ctx
            .protector
            .protect(purposes::DPOP_NONCE, &now.to_be_bytes())
            .await
            .map_err(protect_failure)?;
        Ok(b64url_encode(sealed))
    }

    /// Whether `nonce` is one this server (any instance) issued within `dpop.nonce_lifetime`.
    async fn nonce_is_current(&self, nonce: Option<&str>) -> Result<bool, OAuthError> {
        let Some(sealed) = nonce.and_then(b64url_decode) else {
            return Ok(false);
        };
        let issued = match self
            .ctx
            .protector
            .unprotect(purposes::DPOP_NONCE, &sealed)
            .await
        {
            Ok(plain) => match <[u8; 8]>::try_from(plain.as_slice()) {
                Ok(bytes) => i64::from_be_bytes(bytes),
                Err(_) => return Ok(false),
            },
            Err(ProtectError::Data(_)) => return Ok(false),
            Err(error) => return Err(protect_failure(error)),
        };
        let options = &self.ctx.options.dpop;
        let now = self.ctx.clock.now().unix_timestamp();
        let lifetime = options.nonce_lifetime.as_secs() as i64;
        let skew = options.proof_max_future.as_secs() as i64;
        Ok(issued <= now.saturating_add(skew) && now <= issued.saturating_add(lifetime))
    }

    /// Removes up to `batch` seen proofs whose window has passed (the background upkeep calls
    /// this); returns how many went.
    pub async fn remove_expired(&self, batch: u32) -> StoreResult<u64> {
        self.ctx
            .stores
            .dpop_proofs
            .remove_expired_dpop_proofs(self.ctx.clock.now(), batch)
            .await
    }
}

fn protect_failure(error: ProtectError) -> OAuthError {
    match error {
        ProtectError::Store(store) => OAuthError::from(store),
        ProtectError::Data(error) => {
            tracing::error!(%error, "DPoP nonce sealing failed");
            OAuthError::server_error()
        }
    }
}

#[cfg(test)]
#[path = "dpop/tests.rs"]
mod tests;
