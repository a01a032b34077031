//! The identity server as the web app sees it: its discovery document, and its signing keys
//! for checking the signatures of ID tokens and logout tokens.
//!
//! The keys (JWKS) are fetched on first use and kept. A token signed with a key the cache does
//! not hold (after a key rotation) triggers one re-fetch, at most every 30 seconds, so a stream
//! of forged tokens cannot make the app hammer the server.

use oxidp_jose::verify::{VerifyError, verify_signature};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The least time between two JWKS fetches caused by an unknown key.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The parts of the discovery document the web app uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub jwks_uri: String,
}

/// Why a signed token could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignatureError {
    /// The signature (or the token's shape) is wrong.
    #[error("{0}")]
    Invalid(#[from] VerifyError),
    /// The server's keys could not be fetched; the token may be fine.
    #[error("the identity server's keys are unavailable")]
    KeysUnavailable,
}

/// The identity server.
#[derive(Debug)]
pub(crate) struct Issuer {
    metadata: Metadata,
    http: reqwest::Client,
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    jwks: Option<Value>,
    fetched: Option<Instant>,
}

impl Issuer {
    /// Reads `{issuer}/.well-known/openid-configuration`, which must name the same issuer
    /// (OpenID Connect Discovery §4.3).
    pub(crate) async fn discover(http: reqwest::Client, issuer: &str) -> anyhow::Result<Self> {
        let issuer = issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let metadata: Metadata = http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(
            metadata.issuer.trim_end_matches('/') == issuer,
            "{url} is the discovery document of {}, not of {issuer}",
            metadata.issuer
        );
        Ok(Self {
            metadata,
            http,
            keys: Mutex::default(),
        })
    }

    /// The discovery document.
    pub(crate) fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Checks `token`'s signature against the server's keys; returns its header and claims.
    /// The claims are not checked here (see `tokens`).
    pub(crate) async fn verify(
        &self,
        token: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), SignatureError> {
        let header = header(token).ok_or(VerifyError::Malformed)?;
        let jwks = self.jwks(false).await?;
        let claims = match verify_signature(token, &jwks) {
            Err(VerifyError::NoMatchingKey) => {
                let refreshed = self.jwks(true).await?;
                verify_signature(token, &refreshed)?
            }
            other => other?,
        };
        Ok((header, claims))
    }

    /// The cached keys, fetched when there are none, or when `unknown_key` and the last fetch
    /// is older than [`REFETCH_INTERVAL`].
    async fn jwks(&self, unknown_key: bool) -> Result<Value, SignatureError> {
        let mut keys = self.keys.lock().await;
        let stale = keys
            .fetched
            .is_none_or(|fetched| unknown_key && fetched.elapsed() >= REFETCH_INTERVAL);
        if stale || keys.jwks.is_none() {
            match self.fetch_jwks().await {
                Ok(jwks) => {
                    keys.jwks = Some(jwks);
                    keys.fetched = Some(Instant::now());
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot fetch the identity server's keys");
                    keys.fetched = Some(Instant::now());
                }
            }
        }
        keys.jwks.clone().ok_or(SignatureError::KeysUnavailable)
    }

    async fn fetch_jwks(&self) -> Result<Value, reqwest::Error> {
        self.http
            .get(&self.metadata.jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

/// The JOSE header of a compact JWS, decoded (not verified).
fn header(token: &str) -> Option<Map<String, Value>> {
    let encoded = token.split('.').next()?;
    serde_json::from_slice(&oxidp_jose::b64url_decode(encoded)?).ok()
}
