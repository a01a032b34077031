//! The two calls this crate makes to the authorization server: a grant at the token endpoint
//! (RFC 6749 §4/§6) and a revocation (RFC 7009), each with the client's authentication, and the
//! mapping of their answers to tokens or typed errors. No token or secret is ever put in an
//! error message or a log line.

use crate::client::{ClientAuthMethod, OAuthClient};
use crate::dpop::DPOP;
use crate::error::{Error, OAuthError};
use crate::secret::{AccessToken, IdToken, RefreshToken};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// The lifetime assumed for an access token whose response has no `expires_in`.
pub(crate) const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: AccessToken,
    pub(crate) token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) refresh_token: Option<RefreshToken>,
    #[serde(default)]
    pub(crate) id_token: Option<IdToken>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl TokenResponse {
    /// `expires_in`, accepting a number or a numeric string; [`ASSUMED_LIFETIME`] if absent.
    pub(crate) fn lifetime(&self) -> Duration {
        let seconds = match &self.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() => Duration::from_secs_f64(s.clamp(0.0, 1e9)),
            _ => ASSUMED_LIFETIME,
        }
    }
}

/// The hint sent with a revocation (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenTypeHint {
    RefreshToken,
    AccessToken,
}

impl TokenTypeHint {
    fn as_str(self) -> &'static str {
        match self {
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
        }
    }
}

pub(crate) fn transport(endpoint: &str, error: reqwest::Error) -> Error {
    Error::Transport {
        endpoint: endpoint.to_owned(),
        source: std::sync::Arc::new(error.without_url()),
    }
}

impl OAuthClient {
    /// POSTs a grant to the token endpoint and parses the answer.
    pub(crate) async fn post_grant(&self, params: &[(&str, &str)]) -> Result<TokenResponse, Error> {
        let endpoint = &self.inner.token_endpoint;
        let (status, body) = self.post_authenticated(endpoint, params, true).await?;
        if status == 200 {
            return serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
                endpoint: endpoint.to_string(),
                status,
                detail: describe_json_error(&e),
            });
        }
        Err(error_answer(endpoint, status, &body))
    }

    /// POSTs a revocation. `unsupported_token_type` counts as done: the server does not keep
    /// that kind of token, so there is nothing to revoke.
    pub(crate) async fn post_revocation(
        &self,
        token: &str,
        hint: TokenTypeHint,
    ) -> Result<(), Error> {
        let Some(endpoint) = &self.inner.revocation_endpoint else {
            return Err(Error::Configuration(
                "no revocation endpoint configured or discovered".into(),
            ));
        };
        let params = [("token", token), ("token_type_hint", hint.as_str())];
        // RFC 9449 defines no proof for revocation: the token endpoint alone gets one.
        let (status, body) = self.post_authenticated(endpoint, &params, false).await?;
        if status == 200 {
            return Ok(());
        }
        match error_answer(endpoint, status, &body) {
            Error::OAuth(e) if e.error == "unsupported_token_type" => Ok(()),
            error => Err(error),
        }
    }

    /// POSTs `params` with the client's authentication and, with DPoP and `proof`, a proof. A
    /// server that answers `use_dpop_nonce` with a nonce gets exactly one retry with it
    /// (RFC 9449 §8).
    async fn post_authenticated(
        &self,
        endpoint: &Url,
        params: &[(&str, &str)],
        proof: bool,
    ) -> Result<(u16, Vec<u8>), Error> {
        let proof = proof && self.inner.dpop.is_some();
        let (status, body, new_nonce) = self.post_once(endpoint, params, proof).await?;
        if status == 400 && new_nonce && proof && asks_for_nonce(&body) {
            tracing::debug!(client_id = %self.inner.client_id, "retrying with the server's DPoP nonce");
            let (status, body, _) = self.post_once(endpoint, params, proof).await?;
            return Ok((status, body));
        }
        Ok((status, body))
    }

    /// One POST; also says whether the answer brought a new DPoP nonce.
    async fn post_once(
        &self,
        endpoint: &Url,
        params: &[(&str, &str)],
        proof: bool,
    ) -> Result<(u16, Vec<u8>, bool), Error> {
        let inner = &self.inner;
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = inner
            .http
            .post(endpoint.clone())
            .header(ACCEPT, "application/json");
        match inner.auth_method {
            ClientAuthMethod::ClientSecretBasic => {
                request = request.header(AUTHORIZATION, inner.basic_header.clone());
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &inner.client_id));
                form.push(("client_secret", inner.secret.secret()));
            }
            ClientAuthMethod::None => form.push(("client_id", &inner.client_id)),
            // The certificate goes in the TLS handshake; the form names the client.
            ClientAuthMethod::TlsClientAuth => form.push(("client_id", &inner.client_id)),
        }
        if let Some(key) = inner.dpop.as_ref().filter(|_| proof) {
            let nonce = inner.nonces.get(endpoint);
            let proof = key.proof_header("POST", endpoint, nonce.as_deref(), None)?;
            request = request.header(DPOP, proof);
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| transport(endpoint.as_str(), e))?;
        let status = response.status().as_u16();
        let new_nonce = inner.nonces.remember(endpoint, response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| transport(endpoint.as_str(), e))?;
        Ok((status, body.to_vec(), new_nonce))
    }
}

/// Whether a token endpoint's `400` is RFC 9449 §8's `use_dpop_nonce`.
fn asks_for_nonce(body: &[u8]) -> bool {
    serde_json::from_slice::<OAuthError>(body).is_ok_and(|error| error.error == "use_dpop_nonce")
}

/// An answer other than 200: an RFC 6749 §5.2 error if the body is one, otherwise an
/// unexpected response.
fn error_answer(endpoint: &Url, status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(mut error) if !error.error.is_empty() => {
            error.status = status;
            Error::OAuth(error)
        }
        _ => Error::InvalidResponse {
            endpoint: endpoint.to_string(),
            status,
            detail: "the answer is not an OAuth error response".into(),
        },
    }
}

/// A JSON error's kind and position, and the name of a missing field, but never a value
/// (which could be a token).
fn describe_json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") {
        return format!("not a token response: {message}");
    }
    format!(
        "not a token response: JSON {:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}
